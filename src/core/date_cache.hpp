#pragma once

#include <ctime>
#include <string_view>

namespace vstream::core {

/// The IMF-fixdate for the Date header (RFC 9110 §5.6.7), formatted at most once a second.
/// One per loop thread; not thread-safe.
class DateCache {
public:
    /// "Sun, 06 Nov 1994 08:49:37 GMT" for the current second.
    std::string_view now() noexcept { return at(std::time(nullptr)); }
    /// The date for `t`; reformats only when the second changes.
    std::string_view at(std::time_t t) noexcept;

private:
    std::time_t second_ = 0;
    bool valid_ = false;  // no sentinel second: every time_t, -1 included, is a real instant
    char text_[32] = {};
    std::size_t len_ = 0;
};

/// Formats `t` as an IMF-fixdate into `out` (at least 30 bytes); returns the length.
std::size_t format_http_date(std::time_t t, char* out) noexcept;

}  // namespace vstream::core
