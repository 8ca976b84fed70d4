// Names for uploaded files: a client's filename made safe, or a random one.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace vstream::files {

/// Longest name safe_upload_name() returns, in bytes.
inline constexpr std::size_t kMaxUploadName = 128;
/// Number of hex digits in a random name.
inline constexpr std::size_t kRandomNameDigits = 32;

/// A client's filename reduced to a safe basename: the part after the last '/' or '\\', only
/// ASCII letters, digits, '.', '_', '-' kept (every other byte or run of bytes becomes one
/// '_'), no leading '.' or '-' (no dotfiles, no "." or "..", nothing a shell tool could read
/// as an option), at most kMaxUploadName bytes (keeping the extension if it is short). Returns
/// "" when nothing usable is left, that is no ASCII letter or digit (the caller then uses
/// generated_upload_name()). Never a name starting with '.', so never one of UploadSink's
/// temporary names. Throws std::bad_alloc only.
std::string safe_upload_name(std::string_view client_name);

/// kRandomNameDigits random lowercase hex digits (OpenSSL RAND_bytes), optionally followed by
/// `extension` (".mp4", already safe). Any thread. Throws std::bad_alloc, or std::system_error
/// when no random source works (never seen in practice).
std::string generated_upload_name(std::string_view extension = {});

/// Writes kRandomNameDigits random lowercase hex digits to `out` (no NUL), from
/// crypto::random_bytes. 0 or -errno (from getrandom). Any thread; never
/// allocates.
int random_name_digits(std::span<char, kRandomNameDigits> out) noexcept;

}  // namespace vstream::files
