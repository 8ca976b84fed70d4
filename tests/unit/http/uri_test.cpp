// Path normalisation (percent-decoding, RFC 3986 §5.2.4 dot segments) and percent-decoding.
#include "http/uri.hpp"

#include <doctest/doctest.h>

#include <string>

using vstream::http::normalize_path;
using vstream::http::path_needs_normalizing;
using vstream::http::percent_decode;
using vstream::http::UriStatus;

TEST_SUITE("http/uri") {

TEST_CASE("dot segments are removed and never climb above the root") {
    struct Row {
        const char* in;
        const char* out;
    };
    const Row rows[] = {
        {"/", "/"},
        {"/a/b/c", "/a/b/c"},
        {"/a/./b", "/a/b"},
        {"/a/../b", "/b"},
        {"/a/b/..", "/a/"},
        {"/a/b/.", "/a/b/"},
        {"/..", "/"},
        {"/../../etc/passwd", "/etc/passwd"},
        {"/a/b/../../../c", "/c"},
        {"/a//b", "/a//b"},
        {"/a/..b/c", "/a/..b/c"},
        {"/a/.b", "/a/.b"},
        {"/%2e%2e/%2E%2e/secret", "/secret"},
        {"/a/%2e/b", "/a/b"},
        {"/us%65rs", "/users"},
        {"/caf%c3%a9", "/caf\xc3\xa9"},
        {"/a%2fb", "/a%2Fb"},
        {"/a%252Fb", "/a%252Fb"},
        {"/a%20b", "/a b"},
    };
    for (const Row& r : rows) {
        const std::string in = r.in;
        CAPTURE(in);
        std::string out;
        CHECK(normalize_path(r.in, out) == UriStatus::ok);
        CHECK(out == r.out);
    }
}

TEST_CASE("malformed paths are reported") {
    std::string out;
    CHECK(normalize_path("/a%zz", out) == UriStatus::bad_escape);
    CHECK(normalize_path("/a%2", out) == UriStatus::bad_escape);
    CHECK(normalize_path("/a%", out) == UriStatus::bad_escape);
    CHECK(normalize_path("/a%00b", out) == UriStatus::nul_byte);
    CHECK(normalize_path("a/b", out) == UriStatus::not_absolute);
    CHECK(normalize_path("", out) == UriStatus::not_absolute);
    CHECK(normalize_path("*", out) == UriStatus::not_absolute);
}

TEST_CASE("clean paths are recognised so the copy can be skipped") {
    CHECK_FALSE(path_needs_normalizing("/a/b.mp4"));
    CHECK_FALSE(path_needs_normalizing("/a/.hidden/..x"));
    CHECK(path_needs_normalizing("/a/./b"));
    CHECK(path_needs_normalizing("/a/.."));
    CHECK(path_needs_normalizing("/."));
    CHECK(path_needs_normalizing("/a%20b"));
}

TEST_CASE("percent_decode decodes every escape, and '+' only when asked") {
    std::string out;
    CHECK(percent_decode("a%2Fb%25c+d", out) == UriStatus::ok);
    CHECK(out == "a/b%c+d");
    CHECK(percent_decode("a+b%20c", out, true) == UriStatus::ok);
    CHECK(out == "a b c");
    CHECK(percent_decode("%4", out) == UriStatus::bad_escape);
    CHECK(percent_decode("%g0", out) == UriStatus::bad_escape);
    CHECK(percent_decode("", out) == UriStatus::ok);
    CHECK(out.empty());
}

}  // TEST_SUITE("http/uri")
