// The head scanner: line ends, request-line shape, folded and nameless header lines, split
// input, and its stop at the end of the head.
#include "http/head_scanner.hpp"

#include <doctest/doctest.h>

#include <string>

using vstream::http::HeadScanner;

namespace {

// Scans `input` in pieces of `step` bytes; returns the first problem or "".
std::string scan(const std::string& input, std::size_t step = 0) {
    HeadScanner s;
    if (step == 0) step = input.size() + 1;
    for (std::size_t pos = 0; pos < input.size(); pos += step) {
        if (const char* p = s.scan(input.data() + pos, std::min(step, input.size() - pos)))
            return p;
    }
    return "";
}

}  // namespace

TEST_SUITE("http/head_scanner") {

TEST_CASE("well-formed heads pass, whole or byte by byte") {
    for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
        CAPTURE(step);
        CHECK(scan("GET / HTTP/1.1\r\nHost: x\r\n\r\n", step) == "");
        CHECK(scan("\r\nPOST /a?b HTTP/1.0\r\nA: 1\r\nB:\r\n\r\n", step) == "");
        CHECK(scan("GET / HTTP/2.0\r\n\r\n", step) == "");  // syntax only; 505 is decided later
    }
}

TEST_CASE("violations are reported with a reason, wherever the input is split") {
    struct Row {
        const char* name;
        std::string input;
    };
    const Row rows[] = {
        {"bare LF after the request line", "GET / HTTP/1.1\nHost: x\r\n\r\n"},
        {"bare LF ending the head", "GET / HTTP/1.1\r\nHost: x\r\n\n"},
        {"bare CR", "GET / HTTP/1.1\rHost: x\r\n\r\n"},
        {"bare CR in a value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n"},
        {"junk after the version", "GET / HTTP/1.1 junk\r\n\r\n"},
        {"no version", "GET /\r\n\r\n"},
        {"lower-case version", "GET / http/1.1\r\n\r\n"},
        {"letters in the version", "GET / HTTP/1.x\r\n\r\n"},
        {"long version", "GET / HTTP/1.10\r\n\r\n"},
        {"tab separator", "GET\t/ HTTP/1.1\r\n\r\n"},
        {"leading space", " GET / HTTP/1.1\r\n\r\n"},
        {"obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"},
        {"obs-fold after an empty value", "GET / HTTP/1.1\r\nX:\r\n\tchunked\r\n\r\n"},
        {"empty field name", "GET / HTTP/1.1\r\n: a\r\n\r\n"},
    };
    for (const Row& r : rows) {
        const std::string name = r.name;
        CAPTURE(name);
        CHECK(scan(r.input) != "");
        CHECK(scan(r.input, 1) != "");
        CHECK(scan(r.input, 3) != "");
    }
}

TEST_CASE("it stops at the end of the head and starts again after reset") {
    HeadScanner s;
    const std::string head = "PUT / HTTP/1.1\r\nContent-Length: 4\r\n\r\n";
    CHECK(s.scan(head.data(), head.size()) == nullptr);
    CHECK(s.head_done());
    const std::string body = "\n\r\x01 ";  // body bytes are not its business
    CHECK(s.scan(body.data(), body.size()) == nullptr);
    s.reset();
    CHECK_FALSE(s.head_done());
    const std::string bad = "GET /\n";
    CHECK(s.scan(bad.data(), bad.size()) != nullptr);
}

}  // TEST_SUITE("http/head_scanner")
