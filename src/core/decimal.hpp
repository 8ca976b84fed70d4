// Unsigned integers written as decimal text, appended to a string (status codes,
// Content-Length, Content-Range, JSON numbers).
#pragma once

#include <charconv>
#include <cstdint>
#include <string>

namespace vstream::core {

/// Appends `n` to `out` in decimal: digits only, no sign, no leading zeros ("0" for 0).
/// Independent of locale.
inline void append_decimal(std::string& out, std::uint64_t n) {
    char buf[20];  // 2^64 - 1 has 20 digits
    const auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, r.ptr);
}

}  // namespace vstream::core
