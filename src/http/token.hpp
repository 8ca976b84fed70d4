#pragma once

#include <cstddef>
#include <string_view>

namespace vstream::http {

/// RFC 9110 §5.6.2 tchar: the characters of a token (field names, methods, parameters).
constexpr bool is_tchar(char ch) noexcept {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    switch (c) {
        case '!':
        case '#':
        case '$':
        case '%':
        case '&':
        case '\'':
        case '*':
        case '+':
        case '-':
        case '.':
        case '^':
        case '_':
        case '`':
        case '|':
        case '~': return true;
        default: return false;
    }
}

/// RFC 9110 §5.6.3 whitespace inside fields: SP or HTAB.
constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

/// The index of the first byte at or after `i` that is not SP or HTAB.
constexpr std::size_t skip_ows(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && is_ows(s[i])) ++i;
    return i;
}

/// The index of the first byte at or after `i` that is not a tchar (the end of a token).
constexpr std::size_t skip_token(std::string_view s, std::size_t i) noexcept {
    while (i < s.size() && is_tchar(s[i])) ++i;
    return i;
}

/// A non-empty run of tchar.
constexpr bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (const char c : s) {
        if (!is_tchar(c)) return false;
    }
    return true;
}

/// The value of a hex digit (either case), or -1.
constexpr int hex_digit_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/// RFC 9110 §5.5: a byte allowed in a field value (VCHAR, obs-text, SP, HTAB).
constexpr bool is_field_value_char(char ch) noexcept {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

}  // namespace vstream::http
