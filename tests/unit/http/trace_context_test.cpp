// W3C Trace Context traceparent (src/http/trace_context.cpp): version 00, higher versions,
// every invalid form, ids, and the version 00 value written back.
#include "http/trace_context.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using vstream::http::append_traceparent;
using vstream::http::is_valid_parent_id;
using vstream::http::is_valid_trace_id;
using vstream::http::kTraceparentLength;
using vstream::http::parse_traceparent;
using vstream::http::Traceparent;

namespace {

// The example of W3C Trace Context §3.2.2.
const std::string kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const std::string kParentId = "00f067aa0ba902b7";
const std::string kExample = "00-" + kTraceId + "-" + kParentId + "-01";

}  // namespace

TEST_SUITE("http/trace_context") {

TEST_CASE("a version 00 traceparent gives its ids and flags") {
    const std::optional<Traceparent> t = parse_traceparent(kExample);
    REQUIRE(t);
    CHECK(t->version == 0);
    CHECK(t->trace_id == kTraceId);
    CHECK(t->parent_id == kParentId);
    CHECK(t->flags == 0x01);
    CHECK(t->sampled());
    CHECK(kExample.size() == kTraceparentLength);
}

TEST_CASE("every flags byte of version 00 is read as it came") {
    struct Row {
        const char* text;
        int value;
    };
    for (const Row row : {Row{"00", 0x00}, Row{"01", 0x01}, Row{"03", 0x03}, Row{"fe", 0xfe},
                          Row{"ff", 0xff}, Row{"a0", 0xa0}}) {
        CAPTURE(row.text);
        const std::optional<Traceparent> t =
            parse_traceparent("00-" + kTraceId + "-" + kParentId + "-" + row.text);
        REQUIRE(t);
        CHECK(t->flags == row.value);
        CHECK(t->sampled() == ((row.value & 1) != 0));
    }
}

TEST_CASE("a higher version is read for its version 00 fields, whatever follows a '-'") {
    const std::string base = "-" + kTraceId + "-" + kParentId + "-09";
    for (const std::string& v : {"01" + base, "cc" + base, "fe" + base + "-", "cc" + base + "-x",
                                 "01" + base + "-what-the-future-holds"}) {
        CAPTURE(v);
        const std::optional<Traceparent> t = parse_traceparent(v);
        REQUIRE(t);
        CHECK(t->trace_id == kTraceId);
        CHECK(t->parent_id == kParentId);
        CHECK(t->flags == 0x09);
    }
    CHECK(parse_traceparent("cc" + base)->version == 0xcc);
}

TEST_CASE("invalid traceparents give nothing") {
    const std::string t = kTraceId;
    const std::string p = kParentId;
    const std::vector<std::string> rows = {
        "",
        "garbage",
        "00-" + std::string(32, '0') + "-" + p + "-01",             // all-zero trace id
        "00-" + t + "-" + std::string(16, '0') + "-01",             // all-zero parent id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + p + "-01",         // uppercase trace id
        "00-" + t + "-00F067AA0BA902B7-01",                         // uppercase parent id
        "00-" + t + "-" + p + "-0A",                                // uppercase flags
        "0A-" + t + "-" + p + "-01",                                // uppercase version
        "00-" + t + "-" + p + "-1",                                 // too short
        "00-" + t + "-" + p + "-01-",                               // version 00 is exactly 55
        "00-" + t + "-" + p + "-01x",                               // version 00 is exactly 55
        "ff-" + t + "-" + p + "-01",                                // version ff
        "ff-" + t + "-" + p + "-01-future",                         // version ff, longer
        "0g-" + t + "-" + p + "-01",                                // non-hex version
        "00-4bf92f3577b34da6a3ce929d0e0e473g-" + p + "-01",         // non-hex trace id
        "00-" + t + "-00f067aa0ba902bz-01",                         // non-hex parent id
        "00-" + t + "-" + p + "-zz",                                // non-hex flags
        "00-" + t + "-" + p + "- 1",                                // space in flags
        "00_" + t + "_" + p + "_01",                                // wrong separators
        "cc-" + t + "-" + p + "-01x",                               // higher version, no '-' after
        "cc-" + t + "-" + p + "-0",                                 // higher version, too short
        "00-" + t.substr(1) + "0-" + p.substr(1) + "-01",           // parent id one digit short
        " 00-" + t + "-" + p + "-01",                               // leading space
        "00-" + t + "-" + p + "-01 ",                               // trailing space
        std::string("00-") + t + "-" + p + std::string("-0\0", 3),  // NUL in flags
    };
    for (const std::string& row : rows) {
        CAPTURE(row);
        CHECK_FALSE(parse_traceparent(row));
    }
}

TEST_CASE("ids are exactly their length of lowercase hex and not all zero") {
    CHECK(is_valid_trace_id(kTraceId));
    CHECK(is_valid_parent_id(kParentId));
    CHECK(is_valid_trace_id(std::string(31, '0') + "1"));
    CHECK(is_valid_parent_id(std::string(15, '0') + "1"));
    CHECK_FALSE(is_valid_trace_id(std::string(32, '0')));
    CHECK_FALSE(is_valid_parent_id(std::string(16, '0')));
    CHECK_FALSE(is_valid_trace_id(kParentId));
    CHECK_FALSE(is_valid_parent_id(kTraceId));
    CHECK_FALSE(is_valid_trace_id(kTraceId + "0"));
    CHECK_FALSE(is_valid_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736"));
    CHECK_FALSE(is_valid_parent_id("00f067aa0ba902bg"));
    CHECK_FALSE(is_valid_trace_id(""));
}

TEST_CASE("a traceparent is written as version 00 and parses back") {
    std::string out = "x";
    REQUIRE(append_traceparent(out, kTraceId, kParentId, 0x01));
    CHECK(out == "x" + kExample);

    out.clear();
    REQUIRE(append_traceparent(out, kTraceId, kParentId, 0xa5));
    CHECK(out == "00-" + kTraceId + "-" + kParentId + "-a5");
    const std::optional<Traceparent> t = parse_traceparent(out);
    REQUIRE(t);
    CHECK(t->flags == 0xa5);

    // A higher version's fields go out as version 00.
    const std::string future = "7f-" + kTraceId + "-" + kParentId + "-00-extra";
    const std::optional<Traceparent> f = parse_traceparent(future);
    REQUIRE(f);
    out.clear();
    REQUIRE(append_traceparent(out, f->trace_id, f->parent_id, f->flags));
    CHECK(out == "00-" + kTraceId + "-" + kParentId + "-00");
}

TEST_CASE("invalid ids are not written") {
    std::string out = "keep";
    CHECK_FALSE(append_traceparent(out, std::string(32, '0'), kParentId, 0));
    CHECK_FALSE(append_traceparent(out, kTraceId, std::string(16, '0'), 0));
    CHECK_FALSE(append_traceparent(out, kTraceId, "short", 0));
    CHECK_FALSE(append_traceparent(out, "4BF92F3577B34DA6A3CE929D0E0E4736", kParentId, 0));
    CHECK(out == "keep");
}

}  // TEST_SUITE("http/trace_context")
