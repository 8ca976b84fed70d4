#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace vstream::http {

/// The chunked transfer coding, sending side (RFC 9112 §7.1): a chunk is its size line, the
/// data (sent as it is, never copied here) and CRLF; the body ends with the last chunk, the
/// trailer fields and an empty line.

/// Longest chunk-size line chunk_size_line() writes ("ffffffffffffffff\r\n").
inline constexpr std::size_t kMaxChunkSizeLine = 18;
/// What follows a chunk's data.
inline constexpr std::string_view kChunkEnd = "\r\n";

/// Writes "<size in hex>\r\n" into `out` (at least kMaxChunkSizeLine bytes); returns its length.
/// `size` must not be 0 (that is the last chunk).
std::size_t chunk_size_line(std::uint64_t size, char* out) noexcept;

/// "0\r\n", then each trailer "Name: value\r\n", then "\r\n". Throws Error(invalid_argument)
/// when a name is not a token or a value holds CR, LF or NUL (the fields a handler gives).
std::string last_chunk(std::span<const std::pair<std::string, std::string>> trailers = {});

}  // namespace vstream::http
