// JSON string escaping: specials, control bytes, valid and invalid UTF-8.
#include "core/json_escape.hpp"

#include <doctest/doctest.h>

#include <string>

using vstream::core::append_json_string;

namespace {
std::string esc(std::string_view s) {
    std::string out;
    append_json_string(out, s);
    return out;
}
}  // namespace

TEST_SUITE("core/json_escape") {

TEST_CASE("quotes, backslashes and control characters are escaped") {
    CHECK(esc("plain") == "\"plain\"");
    CHECK(esc("a\"b\\c") == "\"a\\\"b\\\\c\"");
    CHECK(esc("l1\nl2\r\t") == "\"l1\\nl2\\r\\t\"");
    CHECK(esc(std::string("\0\x01\x1f\x7f", 4)) == "\"\\u0000\\u0001\\u001f\\u007f\"");
    CHECK(esc("") == "\"\"");
}

TEST_CASE("valid UTF-8 passes through, invalid bytes become U+FFFD") {
    CHECK(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac") ==
          "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xac\"");
    CHECK(esc("\xff") == "\"\\ufffd\"");
    CHECK(esc("\xc3") == "\"\\ufffd\"");                                   // truncated
    CHECK(esc("\xc0\xaf") == "\"\\ufffd\\ufffd\"");                        // overlong '/'
    CHECK(esc("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");             // surrogate
    CHECK(esc("\xf4\x90\x80\x80") == "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // > U+10FFFF
}

}  // TEST_SUITE("core/json_escape")
