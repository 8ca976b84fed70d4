#include "core/date_cache.hpp"

#include <cstdio>

namespace vstream::core {

std::size_t format_http_date(std::time_t t, char* out) noexcept {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&t, &tm);
    // Locale-independent on purpose: strftime's %a/%b follow LC_TIME.
    const int n =
        std::snprintf(out, 30, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday], tm.tm_mday,
                      kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n > 0 ? static_cast<std::size_t>(n) : 0;
}

std::string_view DateCache::at(std::time_t t) noexcept {
    if (!valid_ || t != second_) {
        valid_ = true;
        second_ = t;
        len_ = format_http_date(t, text_);
    }
    return {text_, len_};
}

}  // namespace vstream::core
