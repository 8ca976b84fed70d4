// Base64 (RFC 4648 §4) and base64url (§5): encoding, and decoding that is strict by default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vstream::crypto {

/// Which 64 characters encode: standard ends with '+' '/', url with '-' '_' (for JWT).
enum class Base64Alphabet { standard, url };

/// How base64_decode_to reads what RFC 4648 lets decoders choose.
enum class Base64Strictness {
    /// Padding required for standard (optional for url, but then complete or absent) and
    /// trailing bits zero (RFC 4648 §3.5), so each byte string has exactly one encoding.
    strict,
    /// RFC 8941 §4.2.7, for Byte Sequences in structured fields: missing '=' padding is
    /// synthesised and non-zero trailing bits are ignored. Padding, when present, must still
    /// be at the end and not too long.
    lenient,
};

/// `bytes` encoded with alphabet `a`; '=' padding to a multiple of 4 characters when `pad`.
std::string base64_encode(std::span<const std::uint8_t> bytes,
                          Base64Alphabet a = Base64Alphabet::standard, bool pad = true);

/// Strict decode: only the alphabet's characters, padding required for standard (optional for
/// url), no whitespace; nullopt on anything else (including non-zero trailing bits). An empty
/// text decodes to no bytes. Throws std::bad_alloc only.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text,
                                                       Base64Alphabet a = Base64Alphabet::standard);

/// Decodes `text` without allocating: the number of bytes it decodes to, or nullopt when it is
/// not valid base64 under `a` and `s`. The bytes are written to `out` only when they all fit
/// (result <= out.size()); an empty `out` just validates.
std::optional<std::size_t> base64_decode_to(std::string_view text, std::span<std::uint8_t> out,
                                            Base64Alphabet a = Base64Alphabet::standard,
                                            Base64Strictness s = Base64Strictness::strict) noexcept;

}  // namespace vstream::crypto
