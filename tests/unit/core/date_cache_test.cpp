// Tests format_http_date and DateCache (src/core/date_cache.cpp): IMF-fixdate output, caching.
#include "core/date_cache.hpp"

#include <doctest/doctest.h>

#include <clocale>
#include <cstring>
#include <ctime>
#include <string>

using vstream::core::DateCache;
using vstream::core::format_http_date;

namespace {

std::string format(std::time_t t) {
    char buf[64];
    std::memset(buf, '#', sizeof buf);
    const std::size_t n = format_http_date(t, buf);
    return std::string(buf, n);
}

}  // namespace

TEST_SUITE("core/date_cache") {

TEST_CASE("known instants format as IMF-fixdate") {
    struct Row {
        std::time_t t;
        const char* expected;
    };
    const Row rows[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 GMT"},
        {784111777, "Sun, 06 Nov 1994 08:49:37 GMT"},  // RFC 9110's example
        {951782400, "Tue, 29 Feb 2000 00:00:00 GMT"},  // leap day of a century leap year
        {1709164799, "Wed, 28 Feb 2024 23:59:59 GMT"},
        {1709251199, "Thu, 29 Feb 2024 23:59:59 GMT"},  // leap day
        {1709251200, "Fri, 01 Mar 2024 00:00:00 GMT"},
        {2147483647, "Tue, 19 Jan 2038 03:14:07 GMT"},  // last 32-bit second
        {2147483648, "Tue, 19 Jan 2038 03:14:08 GMT"},  // past it
        {4102444800, "Fri, 01 Jan 2100 00:00:00 GMT"},
        {253402300799, "Fri, 31 Dec 9999 23:59:59 GMT"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.t);
        CHECK(format(row.t) == row.expected);
    }
}

TEST_CASE("instants before the epoch format too") {
    CHECK(format(-1) == "Wed, 31 Dec 1969 23:59:59 GMT");
    CHECK(format(-86400) == "Wed, 31 Dec 1969 00:00:00 GMT");
}

TEST_CASE("a fresh cache formats every instant, including the one before the epoch") {
    // t = -1 is also what std::time returns on failure; the cache must not treat it as
    // "already formatted".
    DateCache cache;
    CHECK(cache.at(-1) == "Wed, 31 Dec 1969 23:59:59 GMT");
}

TEST_CASE("the formatted date is always 29 bytes and NUL-terminated within 30") {
    char buf[30];
    std::memset(buf, '#', sizeof buf);
    const std::size_t n = format_http_date(784111777, buf);
    CHECK(n == 29);
    CHECK(buf[29] == '\0');
}

TEST_CASE("the cache returns the same text for the same second without reformatting") {
    DateCache cache;
    const std::string_view a = cache.at(784111777);
    CHECK(a == "Sun, 06 Nov 1994 08:49:37 GMT");
    const std::string_view b = cache.at(784111777);
    CHECK(b.data() == a.data());
    CHECK(b == a);
}

TEST_CASE("the cache reformats when the second changes") {
    DateCache cache;
    CHECK(cache.at(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(cache.at(784111778) == "Sun, 06 Nov 1994 08:49:38 GMT");
    CHECK(cache.at(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
    CHECK(cache.at(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST_CASE("now() formats the current time") {
    DateCache cache;
    const std::time_t before = std::time(nullptr);
    const std::string now(cache.now());
    const std::time_t after = std::time(nullptr);
    CHECK((now == format(before) || now == format(after)));
    CHECK(now.size() == 29);
    CHECK(now.substr(26) == "GMT");
}

TEST_CASE("the date does not follow LC_TIME") {
    const std::string saved = std::setlocale(LC_ALL, nullptr);
    const char* candidates[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "es_ES.UTF-8", "ja_JP.UTF-8",
                                "C.UTF-8"};
    const char* chosen = nullptr;
    for (const char* c : candidates) {
        if (std::setlocale(LC_ALL, c) != nullptr) {
            chosen = c;
            break;
        }
    }
    CAPTURE(chosen == nullptr ? "(none)" : chosen);
    CHECK(format(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
    DateCache cache;
    CHECK(cache.at(0) == "Thu, 01 Jan 1970 00:00:00 GMT");
    std::setlocale(LC_ALL, saved.c_str());
}

}  // TEST_SUITE("core/date_cache")
