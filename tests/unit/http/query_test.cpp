// Tests parse_query (src/http/query.cpp): splitting, '+' and %XX decoding, repeated and empty
// items, and malformed escapes kept as text.
#include "http/query.hpp"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

using vstream::http::parse_query;
using vstream::http::QueryPairs;

namespace {

QueryPairs parsed(std::string_view raw) {
    QueryPairs out{{"stale", "pair"}};  // cleared first
    parse_query(raw, out);
    return out;
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

}  // namespace

TEST_SUITE("http/query") {

TEST_CASE("pairs split on '&' and the first '=', in order, repeated keys kept") {
    CHECK(parsed("a=1&b=2&a=3") == Pairs{{"a", "1"}, {"b", "2"}, {"a", "3"}});
    CHECK(parsed("k=v=w") == Pairs{{"k", "v=w"}});
}

TEST_CASE("'+' is a space and escapes are decoded in keys and values") {
    CHECK(parsed("q=a+b&%6B=%2F%20") == Pairs{{"q", "a b"}, {"k", "/ "}});
}

TEST_CASE("empty items are skipped and a key alone has an empty value") {
    CHECK(parsed("") == Pairs{});
    CHECK(parsed("&&a&&b=&") == Pairs{{"a", ""}, {"b", ""}});
    CHECK(parsed("=v") == Pairs{{"", "v"}});
}

TEST_CASE("a malformed escape is kept as text, with '+' still a space") {
    CHECK(parsed("a=%zz+1&b=%4") == Pairs{{"a", "%zz 1"}, {"b", "%4"}});
}

}  // TEST_SUITE("http/query")
