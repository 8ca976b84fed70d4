#include "http/http_date.hpp"

#include <algorithm>
#include <cstdint>

namespace vstream::http {

namespace {

constexpr std::string_view kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::string_view kLongDays[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                          "Friday", "Saturday", "Sunday"};
constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

constexpr std::int64_t kSecondsPerDay = 86400;

constexpr bool is_leap(std::int64_t y) noexcept {
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

constexpr int days_in_month(std::int64_t y, int m) noexcept {
    constexpr int kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : kDaysIn[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12, day 1-31). Howard Hinnant's
// days_from_civil: computed here rather than through timegm(), which is non-standard, or
// mktime(), which reads TZ.
constexpr std::int64_t days_from_civil(std::int64_t y, int m, int d) noexcept {
    y -= m <= 2 ? 1 : 0;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const std::int64_t yoe = y - era * 400;                                    // [0, 399]
    const std::int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
    const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
    return era * 146097 + doe - 719468;
}

// The proleptic Gregorian year holding day `z` (days since 1970-01-01); the inverse of
// days_from_civil, reduced to the year.
constexpr std::int64_t year_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const std::int64_t doe = z - era * 146097;                                       // [0, 146096]
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
    const std::int64_t mp = (5 * doy + 2) / 153;                                     // March = 0
    return yoe + era * 400 + (mp >= 10 ? 1 : 0);
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(days_from_civil(2000, 3, 1) == 11017);
static_assert(days_from_civil(1969, 12, 31) == -1);
static_assert(year_from_days(-1) == 1969 && year_from_days(0) == 1970);
static_assert(year_from_days(days_from_civil(2024, 12, 31)) == 2024);
static_assert(year_from_days(days_from_civil(2025, 1, 1)) == 2025);

// A forward-only reader over the field value; every step fails without consuming on mismatch.
class Cursor {
public:
    explicit Cursor(std::string_view s) noexcept : s_(s) {}

    bool done() const noexcept { return s_.empty(); }

    bool literal(std::string_view lit) noexcept {
        if (s_.substr(0, lit.size()) != lit) return false;
        s_.remove_prefix(lit.size());
        return true;
    }

    // Exactly `n` DIGITs (no sign, no space); -1 if they are not there.
    int digits(std::size_t n) noexcept {
        if (s_.size() < n) return -1;
        int v = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const char c = s_[i];
            if (c < '0' || c > '9') return -1;
            v = v * 10 + (c - '0');
        }
        s_.remove_prefix(n);
        return v;
    }

    // The index of the first name of `names` that starts the input, consumed; -1 if none.
    // Names are case-sensitive: RFC 9110 §5.6.7 writes them as %s"...".
    template <std::size_t N>
    int name(const std::string_view (&names)[N]) noexcept {
        for (std::size_t i = 0; i < N; ++i) {
            if (literal(names[i])) return static_cast<int>(i);
        }
        return -1;
    }

    char peek() const noexcept { return s_.empty() ? '\0' : s_.front(); }

private:
    std::string_view s_;
};

struct Fields {
    std::int64_t year = 0;
    int month = 0;  // 1-12
    int day = 0;    // 1-31
    int hour = 0;
    int minute = 0;
    int second = 0;
};

// time-of-day = hour ":" minute ":" second (RFC 9110 §5.6.7); second 60 is a leap second.
bool time_of_day(Cursor& c, Fields& f) noexcept {
    f.hour = c.digits(2);
    if (f.hour < 0 || f.hour > 23 || !c.literal(":")) return false;
    f.minute = c.digits(2);
    if (f.minute < 0 || f.minute > 59 || !c.literal(":")) return false;
    f.second = c.digits(2);
    return f.second >= 0 && f.second <= 60;
}

int month(Cursor& c) noexcept {
    const int m = c.name(kMonths);
    return m < 0 ? -1 : m + 1;
}

// IMF-fixdate after its day-name: ", " DD " " Mon " " YYYY " " time " GMT".
bool imf_fixdate(Cursor& c, Fields& f) noexcept {
    if (!c.literal(", ") || (f.day = c.digits(2)) < 0 || !c.literal(" ")) return false;
    if ((f.month = month(c)) < 0 || !c.literal(" ")) return false;
    const int y = c.digits(4);
    if (y < 0 || !c.literal(" ") || !time_of_day(c, f) || !c.literal(" GMT")) return false;
    f.year = y;
    return true;
}

// asctime-date after its day-name: " " Mon " " (DD | " " D) " " time " " YYYY.
bool asctime_date(Cursor& c, Fields& f) noexcept {
    if (!c.literal(" ") || (f.month = month(c)) < 0 || !c.literal(" ")) return false;
    f.day = c.literal(" ") ? c.digits(1) : c.digits(2);
    if (f.day < 0 || !c.literal(" ") || !time_of_day(c, f) || !c.literal(" ")) return false;
    const int y = c.digits(4);
    if (y < 0) return false;
    f.year = y;
    return true;
}

// rfc850-date after its day-name-l: ", " DD "-" Mon "-" YY " " time " GMT".
bool rfc850_date(Cursor& c, Fields& f, std::time_t now) noexcept {
    if (!c.literal(", ") || (f.day = c.digits(2)) < 0 || !c.literal("-")) return false;
    if ((f.month = month(c)) < 0 || !c.literal("-")) return false;
    const int yy = c.digits(2);
    if (yy < 0 || !c.literal(" ") || !time_of_day(c, f) || !c.literal(" GMT")) return false;
    // RFC 9110 §5.6.7: a two-digit year that appears to be more than 50 years in the future
    // is the most recent past year with the same last two digits. So: the first year from the
    // current one on that ends in `yy`, minus a century if that is more than 50 years ahead.
    const std::int64_t now_days =
        now >= 0 ? now / kSecondsPerDay : -((-(now + 1)) / kSecondsPerDay) - 1;  // floor
    // Clamped to the years an HTTP-date can spell, so an absurd `now` cannot overflow below.
    const std::int64_t current = std::clamp<std::int64_t>(year_from_days(now_days), 0, 9999);
    const std::int64_t ahead = ((yy - current % 100) % 100 + 100) % 100;  // [0, 99]
    f.year = current + ahead - (ahead > 50 ? 100 : 0);
    return true;
}

}  // namespace

std::optional<std::time_t> parse_http_date(std::string_view text) noexcept {
    return parse_http_date(text, std::time(nullptr));
}

std::optional<std::time_t> parse_http_date(std::string_view text, std::time_t now) noexcept {
    Cursor c(text);
    Fields f;
    bool ok = false;
    // The three forms differ right after the day name: IMF-fixdate has "Sun,", asctime-date
    // "Sun " and rfc850-date the long name "Sunday,". Try the short names first; a long name
    // starts with its short name but is then followed by neither ',' nor ' '.
    Cursor lookahead = c;
    if (lookahead.name(kDays) >= 0 && (lookahead.peek() == ',' || lookahead.peek() == ' ')) {
        ok = lookahead.peek() == ',' ? imf_fixdate(lookahead, f) : asctime_date(lookahead, f);
        c = lookahead;
    } else if (c.name(kLongDays) >= 0) {
        ok = rfc850_date(c, f, now);
    }
    // Strict: trailing bytes (a second date, a comment, whitespace) make the value invalid, as
    // does a day the month does not have (RFC 9110 §5.6.7: "day = 2DIGIT" of a real date).
    if (!ok || !c.done() || f.day < 1 || f.day > days_in_month(f.year, f.month)) {
        return std::nullopt;
    }
    const std::int64_t days = days_from_civil(f.year, f.month, f.day);
    return static_cast<std::time_t>(days * kSecondsPerDay + f.hour * 3600 + f.minute * 60 +
                                    f.second);
}

}  // namespace vstream::http
