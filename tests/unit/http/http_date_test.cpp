// HTTP-date parsing (RFC 9110 §5.6.7): IMF-fixdate, rfc850-date, asctime-date, strictness.
#include "http/http_date.hpp"

#include "core/date_cache.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <ctime>
#include <optional>
#include <string>

using vstream::core::format_http_date;
using vstream::http::parse_http_date;

namespace {

// 2025-06-15 12:00:00 UTC: a fixed "now" for two-digit years.
constexpr std::time_t kNow2025 = 1749988800;

std::string format(std::time_t t) {
    char buf[64];
    const std::size_t n = format_http_date(t, buf);
    return std::string(buf, n);
}

}  // namespace

TEST_SUITE("http/http_date") {

TEST_CASE("the three forms of RFC 9110's example parse to the same instant") {
    const std::optional<std::time_t> expected = 784111777;
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == expected);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", kNow2025) == expected);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == expected);
}

TEST_CASE("IMF-fixdate parses known instants") {
    struct Row {
        const char* text;
        std::time_t t;
    };
    const Row rows[] = {
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Wed, 31 Dec 1969 23:59:59 GMT", -1},
        {"Tue, 29 Feb 2000 00:00:00 GMT", 951782400},   // century leap year
        {"Thu, 29 Feb 2024 23:59:59 GMT", 1709251199},  // leap day
        {"Fri, 01 Mar 2024 00:00:00 GMT", 1709251200},
        {"Tue, 19 Jan 2038 03:14:07 GMT", 2147483647},  // last 32-bit second
        {"Tue, 19 Jan 2038 03:14:08 GMT", 2147483648},
        {"Fri, 31 Dec 9999 23:59:59 GMT", 253402300799},
        {"Mon, 01 Jan 1900 00:00:00 GMT", -2208988800},
        {"Wed, 01 Jan 2025 00:00:00 GMT", 1735689600},
    };
    for (const Row& r : rows) {
        const std::string text = r.text;
        CAPTURE(text);
        CHECK(parse_http_date(text) == std::optional<std::time_t>(r.t));
    }
}

TEST_CASE("formatted dates round-trip through the parser") {
    const std::time_t instants[] = {0,          1,          59,         86399,      86400,
                                    -1,         -86401,     784111777,  951782400,  1709251199,
                                    2147483647, 4102444800, 4107542399, -2208988800};
    for (const std::time_t t : instants) {
        const std::string text = format(t);
        CAPTURE(text);
        CHECK(parse_http_date(text) == std::optional<std::time_t>(t));
    }
    // Every day of a leap year and of the year after, at a time that changes with the day.
    for (std::time_t t = 1704067200; t < 1704067200 + 731 * 86400; t += 86400 + 3661) {
        const std::string text = format(t);
        CAPTURE(text);
        REQUIRE(parse_http_date(text) == std::optional<std::time_t>(t));
    }
}

TEST_CASE("asctime-date takes a space-padded or two-digit day") {
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == std::optional<std::time_t>(784111777));
    CHECK(parse_http_date("Sun Nov 06 08:49:37 1994") == std::optional<std::time_t>(784111777));
    CHECK(parse_http_date("Thu Feb 29 23:59:59 2024") == std::optional<std::time_t>(1709251199));
    CHECK_FALSE(parse_http_date("Sun Nov 6 08:49:37 1994"));    // one space, one digit
    CHECK_FALSE(parse_http_date("Sun Nov   6 08:49:37 1994"));  // three spaces
    CHECK_FALSE(parse_http_date("Sun Nov  6 08:49:37 94"));
    CHECK_FALSE(parse_http_date("Sun Nov  6 08:49:37 1994 GMT"));
    CHECK_FALSE(parse_http_date("Sun Nov  0 08:49:37 1994"));
}

TEST_CASE("rfc850-date years more than 50 years ahead are in the previous century") {
    struct Row {
        const char* text;
        std::time_t now;
        const char* expected;  // as IMF-fixdate
    };
    const Row rows[] = {
        // now = 2025: 94 would be 2094, 69 years ahead -> 1994.
        {"Sunday, 06-Nov-94 08:49:37 GMT", kNow2025, "Sun, 06 Nov 1994 08:49:37 GMT"},
        // 75 -> 2075, exactly 50 years ahead: not more than 50, so it stays.
        {"Friday, 01-Jan-75 00:00:00 GMT", kNow2025, "Tue, 01 Jan 2075 00:00:00 GMT"},
        // 76 -> 2076, 51 years ahead -> 1976.
        {"Thursday, 01-Jan-76 00:00:00 GMT", kNow2025, "Thu, 01 Jan 1976 00:00:00 GMT"},
        {"Wednesday, 15-Jun-25 12:00:00 GMT", kNow2025, "Sun, 15 Jun 2025 12:00:00 GMT"},
        {"Saturday, 01-Jan-00 00:00:00 GMT", kNow2025, "Sat, 01 Jan 2000 00:00:00 GMT"},
        // now = 1970: 20 -> 2020 is 50 years ahead, 21 -> 2021 is 51 -> 1921.
        {"Monday, 01-Jan-20 00:00:00 GMT", 0, "Wed, 01 Jan 2020 00:00:00 GMT"},
        {"Monday, 01-Jan-21 00:00:00 GMT", 0, "Sat, 01 Jan 1921 00:00:00 GMT"},
        // now = 2099: 00 is 2100, one year ahead, not 2000.
        {"Friday, 01-Jan-00 00:00:00 GMT", 4070908800, "Fri, 01 Jan 2100 00:00:00 GMT"},
        // The last second of 2029 (80 -> 2080 is 51 years ahead -> 1980), then the first of
        // 2030 (50 years ahead -> 2080): the current year is the UTC one.
        {"Monday, 01-Jan-80 00:00:00 GMT", 1893455999, "Tue, 01 Jan 1980 00:00:00 GMT"},
        {"Monday, 01-Jan-80 00:00:00 GMT", 1893456000, "Mon, 01 Jan 2080 00:00:00 GMT"},
    };
    for (const Row& r : rows) {
        const std::string text = r.text;
        CAPTURE(text);
        CAPTURE(r.now);
        const std::optional<std::time_t> t = parse_http_date(text, r.now);
        REQUIRE(t);
        CHECK(format(*t) == r.expected);
    }
}

TEST_CASE("the one-argument form reads two-digit years against the clock") {
    const std::time_t now = std::time(nullptr);
    // Whatever today is, yesterday's date written with a two-digit year is yesterday.
    const std::time_t yesterday = now - 86400 - now % 86400;
    std::tm tm{};
    gmtime_r(&yesterday, &tm);
    static constexpr const char* kLong[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                            "Thursday", "Friday", "Saturday"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char text[64];
    std::snprintf(text, sizeof text, "%s, %02d-%s-%02d 00:00:00 GMT", kLong[tm.tm_wday], tm.tm_mday,
                  kMonths[tm.tm_mon], tm.tm_year % 100);
    CAPTURE(text);
    CHECK(parse_http_date(text) == std::optional<std::time_t>(yesterday));
}

TEST_CASE("leap second 60 is accepted and lands on the next minute") {
    CHECK(parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT") ==
          std::optional<std::time_t>(1483228800));
    CHECK_FALSE(parse_http_date("Sat, 31 Dec 2016 23:59:61 GMT"));
}

TEST_CASE("malformed or out-of-range dates are rejected") {
    const char* bad[] = {
        "",
        "GMT",
        "Sun, 06 Nov 1994 08:49:37",                                     // no zone
        "Sun, 06 Nov 1994 08:49:37 UTC",                                 // only GMT
        "Sun, 06 Nov 1994 08:49:37 gmt",                                 // case-sensitive
        "Sun, 06 Nov 1994 08:49:37 GMT ",                                // trailing space
        " Sun, 06 Nov 1994 08:49:37 GMT",                                // leading space
        "Sun, 06 Nov 1994 08:49:37 GMTx",                                // trailing garbage
        "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",  // a list
        "sun, 06 Nov 1994 08:49:37 GMT",                                 // day name case
        "Sun, 06 nov 1994 08:49:37 GMT",                                 // month case
        "Sun, 06 NOV 1994 08:49:37 GMT",
        "Snu, 06 Nov 1994 08:49:37 GMT",  // unknown day name
        "Sun, 06 Nvo 1994 08:49:37 GMT",  // unknown month
        "Sun, 6 Nov 1994 08:49:37 GMT",   // one-digit day
        "Sun, 06 Nov 94 08:49:37 GMT",    // two-digit year in IMF-fixdate
        "Sun, 06 Nov 19945 08:49:37 GMT",
        "Sun,  06 Nov 1994 08:49:37 GMT",  // double space
        "Sun,06 Nov 1994 08:49:37 GMT",
        "Sun, 06-Nov-1994 08:49:37 GMT",  // rfc850 separators in IMF-fixdate
        "Sun, 06 Nov 1994 8:49:37 GMT",   // one-digit hour
        "Sun, 06 Nov 1994 08:49 GMT",     // no seconds
        "Sun, 06 Nov 1994 08.49.37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",  // day 0
        "Sun, 31 Nov 1994 08:49:37 GMT",  // November has 30 days
        "Thu, 29 Feb 2023 00:00:00 GMT",  // not a leap year
        "Thu, 29 Feb 1900 00:00:00 GMT",  // century, not a leap year
        "Sun, 32 Jan 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",  // hour 24
        "Sun, 06 Nov 1994 08:60:00 GMT",  // minute 60
        "Sun, 06 Nov 1994 -8:49:37 GMT",
        "Sun, 06 Nov +994 08:49:37 GMT",
        "Sun, 0x Nov 1994 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",  // long name with IMF-fixdate
        "Sun, 06-Nov-94 08:49:37 GMT",       // short name with rfc850-date
        "Sunday, 06-Nov-1994 08:49:37 GMT",  // four-digit year in rfc850-date
        "Sunday, 06-Nov-94 08:49:37",
        "Sunday, 06-Nov-94 08:49:37 GMT ",
        "Sunday 06-Nov-94 08:49:37 GMT",
        "Sundayy, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994 ",
        "1994-11-06T08:49:37Z",  // ISO 8601
        "784111777",
    };
    for (const char* text : bad) {
        const std::string s = text;
        CAPTURE(s);
        CHECK_FALSE(parse_http_date(s, kNow2025));
    }
    // An embedded NUL is a byte like any other.
    using namespace std::string_view_literals;
    CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT\0"sv));
    CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49\0:37 GMT"sv));
}

TEST_CASE("the day name is not checked against the date") {
    // RFC 9110 gives no rule; like other servers, a wrong weekday does not reject the date.
    CHECK(parse_http_date("Mon, 06 Nov 1994 08:49:37 GMT") ==
          std::optional<std::time_t>(784111777));
}

TEST_CASE("every day and month name is recognised") {
    const char* days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    const char* long_days[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                               "Friday", "Saturday", "Sunday"};
    const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (int m = 0; m < 12; ++m) {
        for (int d = 0; d < 7; ++d) {
            const std::string imf =
                std::string(days[d]) + ", 01 " + months[m] + " 2001 00:00:00 GMT";
            const std::string rfc850 =
                std::string(long_days[d]) + ", 01-" + months[m] + "-01 00:00:00 GMT";
            const std::string asctime =
                std::string(days[d]) + " " + months[m] + "  1 00:00:00 2001";
            CAPTURE(imf);
            const std::optional<std::time_t> t = parse_http_date(imf);
            REQUIRE(t);
            CHECK(parse_http_date(rfc850, kNow2025) == t);
            CHECK(parse_http_date(asctime) == t);
            CHECK(format(*t).substr(8, 3) == months[m]);
        }
    }
}

}  // TEST_SUITE("http/http_date")
