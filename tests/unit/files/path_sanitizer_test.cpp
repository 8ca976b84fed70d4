// The first check on a static file path: traversal, hidden files, control bytes, limits.
#include "files/path_sanitizer.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using vstream::files::PathVerdict;
using vstream::files::sanitize_path;
using vstream::files::SanitizedPath;
using vstream::files::SanitizeOptions;

namespace {

const char* name_of(PathVerdict v) {
    switch (v) {
        case PathVerdict::ok: return "ok";
        case PathVerdict::bad_request: return "bad_request";
        case PathVerdict::not_found: return "not_found";
    }
    return "?";
}

struct Row {
    std::string in;  // std::string, so rows can hold a NUL
    PathVerdict verdict;
    const char* relative;  // checked only when verdict is ok
    bool trailing_slash;
};

void check_rows(const Row* begin, const Row* end, const SanitizeOptions& o = {}) {
    for (const Row* r = begin; r != end; ++r) {
        const std::string& in = r->in;
        CAPTURE(in);
        const SanitizedPath got = sanitize_path(in, o);
        const std::string verdict = name_of(got.verdict);
        CHECK(verdict == name_of(r->verdict));
        if (r->verdict == PathVerdict::ok) {
            CHECK(got.relative == r->relative);
            CHECK(got.trailing_slash == r->trailing_slash);
        } else {
            CHECK(got.relative.empty());  // nothing usable is left behind on a refusal
        }
    }
}

}  // namespace

TEST_SUITE("files/path_sanitizer") {

using namespace std::string_literals;
constexpr auto ok = PathVerdict::ok;
constexpr auto bad = PathVerdict::bad_request;
constexpr auto nf = PathVerdict::not_found;

TEST_CASE("clean paths are joined without empty or dot segments") {
    const Row rows[] = {
        {"videos/a.mp4", ok, "videos/a.mp4", false},
        {"/videos//a.mp4", ok, "videos/a.mp4", false},
        {"a//b/./c", ok, "a/b/c", false},
        {"./a", ok, "a", false},
        {"a/.", ok, "a", false},
        {"videos/", ok, "videos", true},
        {"/videos///", ok, "videos", true},
        {"/", ok, "", true},
        {"//", ok, "", true},
        {"", ok, "", false},
        {".", ok, "", false},
        {"./", ok, "", true},
        {"a", ok, "a", false},
        {"a..b", ok, "a..b", false},  // dots inside a name are data
        {"a/b..", ok, "a/b..", false},
        {"a\\b", ok, "a\\b", false},  // backslash is a POSIX name byte
        {"caf\xc3\xa9/\xff.mp4", ok, "caf\xc3\xa9/\xff.mp4", false},  // names are bytes
        {"a b/c%2Fd", ok, "a b/c%2Fd", false},  // input is already decoded: '%' is data
    };
    check_rows(std::begin(rows), std::end(rows));
}

TEST_CASE("traversal and hidden-file vectors are not found") {
    const Row rows[] = {
        {"..", nf, "", false},
        {"../etc/passwd", nf, "", false},
        {"/../etc/passwd", nf, "", false},
        {"a/../../b", nf, "", false},
        {"a/..", nf, "", false},
        {"a/../b", nf, "", false},  // even one that would stay inside
        {"a/../", nf, "", false},
        {"..\\..", nf, "", false},        // a dot-name, not a traversal on POSIX
        {"..%2F", nf, "", false},         // literal: a dot-name
        {"%2e%2e", ok, "%2e%2e", false},  // literal: harmless, decoding is upstream
        {".git/config", nf, "", false},
        {"a/.env", nf, "", false},
        {"a/.git/", nf, "", false},
        {".well-known/acme", nf, "", false},
        {"....//", nf, "", false},
        {"...", nf, "", false},
        {".hidden.mp4", nf, "", false},
    };
    check_rows(std::begin(rows), std::end(rows));
}

TEST_CASE("control bytes are a bad request wherever they are") {
    const Row rows[] = {
        {"a\0b"s, bad, "", false},     {"\0"s, bad, "", false},    {"a/b\0"s, bad, "", false},
        {"../a\0"s, bad, "", false},  // bad_request wins over the earlier ".."
        {".git\0"s, bad, "", false},   {"a\nb", bad, "", false},   {"a\rb", bad, "", false},
        {"a\tb", bad, "", false},      {"\x01", bad, "", false},   {"a\x1f", bad, "", false},
        {"a\x7f", bad, "", false},     {"a\x20", ok, "a ", false},  // space is printable
        {"a\x80", ok, "a\x80", false},
    };
    check_rows(std::begin(rows), std::end(rows));
}

TEST_CASE("allow_dotfiles serves dot-names but never a dot-dot segment") {
    SanitizeOptions o;
    o.allow_dotfiles = true;
    const Row rows[] = {
        {".well-known/acme-challenge/x", ok, ".well-known/acme-challenge/x", false},
        {"a/.env", ok, "a/.env", false},
        {"...", ok, "...", false},
        {"..%2F", ok, "..%2F", false},
        {"..\\..", ok, "..\\..", false},
        {"..", nf, "", false},
        {"a/../b", nf, "", false},
        {"./.", ok, "", false},
        {".a\0"s, bad, "", false},
    };
    check_rows(std::begin(rows), std::end(rows), o);
}

TEST_CASE("a segment or a path over its limit is not found") {
    const std::string max_seg(255, 'x');
    const std::string long_seg(256, 'x');
    CHECK(sanitize_path(max_seg).verdict == PathVerdict::ok);
    CHECK(sanitize_path("a/" + max_seg + "/b").relative == "a/" + max_seg + "/b");
    CHECK(sanitize_path(long_seg).verdict == PathVerdict::not_found);
    CHECK(sanitize_path("a/" + long_seg + "/b").verdict == PathVerdict::not_found);

    // 4096 bytes in all is accepted, 4097 is not, whatever the segments.
    std::string path;
    while (path.size() + 101 <= 4096) path += std::string(100, 'y') + '/';
    path += std::string(4096 - path.size(), 'z');
    REQUIRE(path.size() == 4096);
    CHECK(sanitize_path(path).verdict == PathVerdict::ok);
    CHECK(sanitize_path(path + "z").verdict == PathVerdict::not_found);
    CHECK(sanitize_path(std::string(5000, '/')).verdict == PathVerdict::not_found);

    SanitizeOptions o;
    o.max_length = 8;
    o.max_segment = 3;
    CHECK(sanitize_path("abc/defg", o).verdict == PathVerdict::not_found);  // segment of 4
    CHECK(sanitize_path("abc/def", o).relative == "abc/def");
    CHECK(sanitize_path("abc//def", o).verdict == PathVerdict::ok);          // 8 bytes
    CHECK(sanitize_path("/abc//def", o).verdict == PathVerdict::not_found);  // 9 bytes
    // The length check is on the input; bad_request still wins over it.
    CHECK(sanitize_path("abcdefgh\0"s, o).verdict == PathVerdict::bad_request);
}

TEST_CASE("a sanitized path sanitizes to itself") {
    const char* inputs[] = {"/videos//a.mp4", "a/./b/", "x", "", "/", "a b/c"};
    for (const char* in : inputs) {
        CAPTURE(in);
        const SanitizedPath once = sanitize_path(in);
        REQUIRE(once.verdict == PathVerdict::ok);
        const SanitizedPath twice = sanitize_path(once.relative);
        CHECK(twice.verdict == PathVerdict::ok);
        CHECK(twice.relative == once.relative);
    }
}

}  // TEST_SUITE("files/path_sanitizer")
