// Tests reason_phrase and status_allows_body (src/http/status.cpp).
#include "http/status.hpp"

#include <doctest/doctest.h>

#include <string_view>

using vstream::http::error_text;
using vstream::http::reason_phrase;
using vstream::http::status_allows_body;

static_assert(status_allows_body(200));
static_assert(!status_allows_body(204));
static_assert(!status_allows_body(304));
static_assert(!status_allows_body(100));

TEST_SUITE("http/status") {

TEST_CASE("common codes have their RFC 9110 reason phrases") {
    struct Row {
        int status;
        std::string_view phrase;
    };
    const Row rows[] = {
        {100, "Continue"},
        {101, "Switching Protocols"},
        {200, "OK"},
        {201, "Created"},
        {202, "Accepted"},
        {204, "No Content"},
        {206, "Partial Content"},
        {301, "Moved Permanently"},
        {302, "Found"},
        {303, "See Other"},
        {304, "Not Modified"},
        {307, "Temporary Redirect"},
        {308, "Permanent Redirect"},
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {408, "Request Timeout"},
        {411, "Length Required"},
        {413, "Content Too Large"},
        {414, "URI Too Long"},
        {416, "Range Not Satisfiable"},
        {417, "Expectation Failed"},
        {429, "Too Many Requests"},
        {431, "Request Header Fields Too Large"},
        {500, "Internal Server Error"},
        {501, "Not Implemented"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {505, "HTTP Version Not Supported"},
    };
    for (const Row& r : rows) {
        CAPTURE(r.status);
        CHECK(reason_phrase(r.status) == r.phrase);
    }
}

TEST_CASE("unregistered codes are Unknown") {
    for (const int status : {0, -1, 99, 199, 299, 418, 599, 600, 999, 1000, 123456}) {
        CAPTURE(status);
        CHECK(reason_phrase(status) == "Unknown");
    }
}

TEST_CASE("every reason phrase is non-empty and free of CR and LF") {
    for (int status = 100; status <= 999; ++status) {
        CAPTURE(status);
        const std::string_view p = reason_phrase(status);
        CHECK_FALSE(p.empty());
        CHECK(p.find_first_of("\r\n") == std::string_view::npos);
    }
}

TEST_CASE("1xx, 204 and 304 responses carry no body; other final statuses may") {
    struct Row {
        int status;
        bool body;
    };
    const Row rows[] = {
        {100, false}, {101, false}, {199, false}, {200, true}, {201, true}, {203, true},
        {204, false}, {205, true},  {206, true},  {299, true}, {301, true}, {303, true},
        {304, false}, {305, true},  {404, true},  {500, true}, {999, true},
    };
    for (const Row& r : rows) {
        CAPTURE(r.status);
        CHECK(status_allows_body(r.status) == r.body);
    }
}

TEST_CASE("error_text words a canned error from the status table, with or without a detail") {
    CHECK(error_text(404) == "404 Not Found\n");
    CHECK(error_text(405, {}) == "405 Method Not Allowed\n");
    CHECK(error_text(400, "invalid file path") == "400 Bad Request: invalid file path\n");
    CHECK(error_text(413, "request body too large") ==
          "413 Content Too Large: request body too large\n");
    CHECK(error_text(599) == "599 Unknown\n");
}

}  // TEST_SUITE("http/status")
