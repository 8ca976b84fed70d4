// Tests iequals, trim_ows, list_has_token and HeaderMap (src/core/headers.cpp).
#include <vstream/headers.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using vstream::HeaderField;
using vstream::HeaderMap;
using vstream::iequals;
using vstream::list_has_token;
using vstream::trim_ows;

TEST_SUITE("core/headers") {

TEST_CASE("iequals compares ASCII case-insensitively") {
    struct Row {
        std::string_view a;
        std::string_view b;
        bool equal;
    };
    const Row rows[] = {
        {"", "", true},
        {"Host", "host", true},
        {"CONTENT-LENGTH", "content-length", true},
        {"X-A_1", "x-a_1", true},
        {"Host", "Hos", false},
        {"Host", "Hosts", false},
        {"a", "b", false},
        {"@", "`", false},        // 0x40 and 0x60 are not letters
        {"[", "{", false},        // 0x5b and 0x7b
        {"\xC9", "\xE9", false},  // only ASCII folds
        {"", "a", false},
    };
    for (const Row& r : rows) {
        CAPTURE(r.a);
        CAPTURE(r.b);
        CHECK(iequals(r.a, r.b) == r.equal);
        CHECK(iequals(r.b, r.a) == r.equal);
    }
}

TEST_CASE("trim_ows drops leading and trailing SP and HTAB only") {
    CHECK(trim_ows("") == "");
    CHECK(trim_ows(" \t \t") == "");
    CHECK(trim_ows("a") == "a");
    CHECK(trim_ows("  a b\t") == "a b");
    CHECK(trim_ows("\ta\t \tb \t") == "a\t \tb");
    // Other whitespace is not OWS (RFC 9110 §5.6.3) and stays.
    CHECK(trim_ows("\r\na\v\f") == "\r\na\v\f");
    CHECK(trim_ows(std::string_view(" \0 ", 3)) == std::string_view("\0", 1));
    // The result is a view into the argument.
    const std::string_view s = "  x  ";
    CHECK(trim_ows(s).data() == s.data() + 2);
}

TEST_CASE("list_has_token finds tokens case-insensitively, trimming whitespace") {
    struct Row {
        std::string_view list;
        std::string_view token;
        bool found;
    };
    const Row rows[] = {
        {"close", "close", true},
        {"Close", "close", true},
        {"keep-alive, Upgrade", "upgrade", true},
        {"keep-alive, Upgrade", "keep-alive", true},
        {"  keep-alive ,\tclose\t", "close", true},
        {"a,b,c", "b", true},
        {"a,,c", "c", true},
        {"closed", "close", false},
        {"enclose", "close", false},
        {"close-ish, x", "close", false},
        {"", "close", false},
        {",", "close", false},
        {"keep-alive", "close", false},
        {"a, b", "a, b", false},
        {"a , ", "", true},  // an empty element matches an empty token
    };
    for (const Row& r : rows) {
        CAPTURE(r.list);
        CAPTURE(r.token);
        CHECK(list_has_token(r.list, r.token) == r.found);
    }
}

TEST_CASE("an empty map finds nothing") {
    const HeaderMap m;
    CHECK(m.empty());
    CHECK(m.size() == 0);
    CHECK_FALSE(m.get("host").has_value());
    CHECK(m.count("host") == 0);
    CHECK_FALSE(m.contains("host"));
    CHECK_FALSE(m.has_token("connection", "close"));
    CHECK(m.begin() == m.end());

    const std::vector<HeaderField> none;
    const HeaderMap m2(&none);
    CHECK(m2.empty());
    CHECK_FALSE(m2.get("host").has_value());
    CHECK(m2.begin() == m2.end());
}

TEST_CASE("get returns the first field of that name, case-insensitively") {
    const std::vector<HeaderField> fields = {
        {"Host", "example"},
        {"X-Dup", "first"},
        {"x-dup", "second"},
        {"Empty", ""},
    };
    const HeaderMap m(&fields);
    CHECK(m.size() == 4);
    CHECK(m.get("host") == std::string_view("example"));
    CHECK(m.get("HOST") == std::string_view("example"));
    CHECK(m.get("X-DUP") == std::string_view("first"));
    const auto empty = m.get("empty");
    REQUIRE(empty.has_value());
    CHECK(empty->empty());
    CHECK_FALSE(m.get("missing").has_value());
    CHECK_FALSE(m.get("hos").has_value());
}

TEST_CASE("count and contains see every field of that name") {
    const std::vector<HeaderField> fields = {
        {"Set-Cookie", "a=1"}, {"Host", "x"}, {"set-cookie", "b=2"}, {"SET-COOKIE", "c=3"}};
    const HeaderMap m(&fields);
    CHECK(m.count("set-cookie") == 3);
    CHECK(m.count("Host") == 1);
    CHECK(m.count("nope") == 0);
    CHECK(m.contains("Set-Cookie"));
    CHECK_FALSE(m.contains("Cookie"));
}

TEST_CASE("has_token looks in every field of that name") {
    const std::vector<HeaderField> fields = {
        {"Connection", "keep-alive"},
        {"Accept", "text/html"},
        {"connection", " Upgrade , CLOSE "},
        {"X-Other", "close"},
    };
    const HeaderMap m(&fields);
    CHECK(m.has_token("Connection", "keep-alive"));
    CHECK(m.has_token("CONNECTION", "close"));
    CHECK(m.has_token("connection", "upgrade"));
    CHECK_FALSE(m.has_token("connection", "te"));
    CHECK_FALSE(m.has_token("accept", "close"));
    CHECK(m.has_token("x-other", "close"));
    CHECK_FALSE(m.has_token("missing", "close"));
}

TEST_CASE("iteration visits fields in the order received") {
    const std::vector<HeaderField> fields = {{"A", "1"}, {"B", "2"}, {"C", "3"}};
    const HeaderMap m(&fields);
    std::string names;
    for (const HeaderField& f : m) names += std::string(f.name) + std::string(f.value);
    CHECK(names == "A1B2C3");
}

}  // TEST_SUITE("core/headers")
