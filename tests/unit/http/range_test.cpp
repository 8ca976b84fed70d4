// Range header evaluation (RFC 9110 §14.1.2, §14.2) and the ServeContent-style policy.
#include "http/range.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

using vstream::http::ByteRange;
using vstream::http::kMaxRanges;
using vstream::http::parse_range;
using vstream::http::RangeLimits;
using vstream::http::RangeOutcome;
using vstream::http::RangeSet;

namespace {

// [start, end), as Go's table writes ranges.
struct Want {
    std::uint64_t start;
    std::uint64_t end;
};

struct Row {
    const char* header;
    RangeOutcome outcome;
    std::vector<Want> ranges;
};

const char* name(RangeOutcome o) {
    switch (o) {
        case RangeOutcome::ignore: return "ignore";
        case RangeOutcome::unsatisfiable: return "unsatisfiable";
        case RangeOutcome::partial: return "partial";
        case RangeOutcome::too_many: return "too_many";
    }
    return "?";
}

std::string describe(const RangeSet& set) {
    std::string s = name(set.outcome);
    for (const ByteRange& r : set.view()) {
        s += " [" + std::to_string(r.first) + "," + std::to_string(r.first + r.length) + ")";
    }
    return s;
}

std::string describe(RangeOutcome outcome, const std::vector<Want>& ranges) {
    std::string s = name(outcome);
    for (const Want& w : ranges) {
        s += " [" + std::to_string(w.start) + "," + std::to_string(w.end) + ")";
    }
    return s;
}

// Checks every row against a representation of `length` bytes; the comparison is on one
// string so a failure shows the whole result.
void check_rows(const std::vector<Row>& rows, std::uint64_t length, RangeLimits limits = {}) {
    for (const Row& r : rows) {
        const std::string header = r.header;
        CAPTURE(header);
        CAPTURE(length);
        const RangeSet set = parse_range(header, length, limits);
        CHECK(describe(set) == describe(r.outcome, r.ranges));
        if (set.outcome != RangeOutcome::partial) CHECK(set.count == 0);
    }
}

constexpr std::uint64_t kLen = 11;  // Go's testdata/file

}  // namespace

TEST_SUITE("http/range") {

TEST_CASE("Go's ServeFileRangeTests table, on an 11-byte file") {
    // net/http fs_test.go: 200 is ignore (no header) or too_many (the wasteful row), 206 is
    // partial, 416 is unsatisfiable.
    const std::vector<Row> rows = {
        {"", RangeOutcome::ignore, {}},
        {"bytes=0-4", RangeOutcome::partial, {{0, 5}}},
        {"bytes=2-", RangeOutcome::partial, {{2, kLen}}},
        {"bytes=-5", RangeOutcome::partial, {{kLen - 5, kLen}}},
        {"bytes=3-7", RangeOutcome::partial, {{3, 8}}},
        {"bytes=0-0,-2", RangeOutcome::partial, {{0, 1}, {kLen - 2, kLen}}},
        {"bytes=0-1,5-8", RangeOutcome::partial, {{0, 2}, {5, 9}}},
        {"bytes=0-1,5-", RangeOutcome::partial, {{0, 2}, {5, kLen}}},
        {"bytes=5-1000", RangeOutcome::partial, {{5, kLen}}},
        {"bytes=0-,1-,2-,3-,4-", RangeOutcome::too_many, {}},  // ignore wasteful request
        {"bytes=0-9", RangeOutcome::partial, {{0, kLen - 1}}},
        {"bytes=0-10", RangeOutcome::partial, {{0, kLen}}},
        {"bytes=0-11", RangeOutcome::partial, {{0, kLen}}},
        {"bytes=10-11", RangeOutcome::partial, {{kLen - 1, kLen}}},
        {"bytes=10-", RangeOutcome::partial, {{kLen - 1, kLen}}},
        {"bytes=11-", RangeOutcome::unsatisfiable, {}},
        {"bytes=11-12", RangeOutcome::unsatisfiable, {}},
        {"bytes=12-12", RangeOutcome::unsatisfiable, {}},
        {"bytes=11-100", RangeOutcome::unsatisfiable, {}},
        {"bytes=12-100", RangeOutcome::unsatisfiable, {}},
        {"bytes=100-", RangeOutcome::unsatisfiable, {}},
        {"bytes=100-1000", RangeOutcome::unsatisfiable, {}},
    };
    check_rows(rows, kLen);
}

TEST_CASE("the unit is case-insensitive and whitespace is allowed around commas only") {
    const std::vector<Row> rows = {
        {"BYTES=0-4", RangeOutcome::partial, {{0, 5}}},
        {"Bytes=0-4", RangeOutcome::partial, {{0, 5}}},
        {"bYtEs=-3", RangeOutcome::partial, {{8, 11}}},
        {"bytes=0-1 , 5-6", RangeOutcome::partial, {{0, 2}, {5, 7}}},
        {"bytes=0-1,\t5-6", RangeOutcome::partial, {{0, 2}, {5, 7}}},
        {"bytes=0-1 ,5-6", RangeOutcome::partial, {{0, 2}, {5, 7}}},
        {"bytes=0-1,  \t 5-6", RangeOutcome::partial, {{0, 2}, {5, 7}}},
        // The field value's own surrounding whitespace is not part of it (RFC 9110 §5.5).
        {" bytes=0-4 ", RangeOutcome::partial, {{0, 5}}},
        {"bytes=0-4\t", RangeOutcome::partial, {{0, 5}}},
        // Not around '=' (ranges-specifier = range-unit "=" range-set).
        {"bytes =0-4", RangeOutcome::ignore, {}},
        {"bytes= 0-4", RangeOutcome::ignore, {}},
        {"bytes = 0-4", RangeOutcome::ignore, {}},
        {"bytes=\t0-4", RangeOutcome::ignore, {}},
        // Not inside a spec.
        {"bytes=0 -4", RangeOutcome::ignore, {}},
        {"bytes=0- 4", RangeOutcome::ignore, {}},
        {"bytes=- 4", RangeOutcome::ignore, {}},
        {"bytes=1 0-40", RangeOutcome::ignore, {}},
        {"bytes=0-1 5-6", RangeOutcome::ignore, {}},
    };
    check_rows(rows, kLen);
}

TEST_CASE("empty list elements are skipped") {
    const std::vector<Row> rows = {
        {"bytes=,0-1", RangeOutcome::partial, {{0, 2}}},
        {"bytes=0-1,", RangeOutcome::partial, {{0, 2}}},
        {"bytes=0-1,,5-6", RangeOutcome::partial, {{0, 2}, {5, 7}}},
        {"bytes=0-1, ,5-6", RangeOutcome::partial, {{0, 2}, {5, 7}}},
        {"bytes=, , 0-1 , ,", RangeOutcome::partial, {{0, 2}}},
        // But at least one element: 1#range-spec.
        {"bytes=,", RangeOutcome::ignore, {}},
        {"bytes=, ,", RangeOutcome::ignore, {}},
        {"bytes=,,,,,,,,", RangeOutcome::ignore, {}},
    };
    check_rows(rows, kLen);
}

TEST_CASE("invalid syntax ignores the whole header") {
    const std::vector<Row> rows = {
        {"bytes", RangeOutcome::ignore, {}},
        {"bytes0-4", RangeOutcome::ignore, {}},
        {"bytes:0-4", RangeOutcome::ignore, {}},
        {"=0-4", RangeOutcome::ignore, {}},
        {"bytes=", RangeOutcome::ignore, {}},
        {"bytes=-", RangeOutcome::ignore, {}},
        {"bytes=--1", RangeOutcome::ignore, {}},
        {"bytes=5-2", RangeOutcome::ignore, {}},
        {"bytes=0-1,5-2", RangeOutcome::ignore, {}},  // one bad spec spoils the others
        {"bytes=5-2,0-1", RangeOutcome::ignore, {}},
        {"bytes=100-2", RangeOutcome::ignore, {}},  // invalid even though unsatisfiable
        {"bytes=a-b", RangeOutcome::ignore, {}},
        {"bytes=0-b", RangeOutcome::ignore, {}},
        {"bytes=a-", RangeOutcome::ignore, {}},
        {"bytes=-a", RangeOutcome::ignore, {}},
        {"bytes=0x1-2", RangeOutcome::ignore, {}},
        {"bytes=1-2;x", RangeOutcome::ignore, {}},
        {"bytes=1-2;x=y,3-4", RangeOutcome::ignore, {}},
        {"bytes=1-2-3", RangeOutcome::ignore, {}},
        {"bytes=1", RangeOutcome::ignore, {}},
        {"bytes=+1-2", RangeOutcome::ignore, {}},
        {"bytes=1-+2", RangeOutcome::ignore, {}},
        {"bytes=-+2", RangeOutcome::ignore, {}},
        {"bytes=-1-2", RangeOutcome::ignore, {}},
        {"bytes=1.5-2", RangeOutcome::ignore, {}},
        {"bytes=0-4,bogus", RangeOutcome::ignore, {}},
        {"bytes=0-4;", RangeOutcome::ignore, {}},
        {"bytes==0-4", RangeOutcome::ignore, {}},
        {"bytes=0=4", RangeOutcome::ignore, {}},
        {"items=0-1", RangeOutcome::ignore, {}},
        {"byte=0-1", RangeOutcome::ignore, {}},
        {"bytesx=0-1", RangeOutcome::ignore, {}},
        {"none", RangeOutcome::ignore, {}},
        {"bytes=\xff-1", RangeOutcome::ignore, {}},
    };
    check_rows(rows, kLen);
    // An embedded NUL is an invalid byte, not the end of the value.
    using namespace std::string_view_literals;
    CHECK(parse_range("bytes=0-1\0"sv, kLen).outcome == RangeOutcome::ignore);
    CHECK(parse_range("bytes=0\0-1"sv, kLen).outcome == RangeOutcome::ignore);
}

TEST_CASE("numbers too large for 64 bits saturate") {
    const std::vector<Row> rows = {
        // A huge last-pos is still valid and is clamped to the end.
        {"bytes=0-99999999999999999999999999", RangeOutcome::partial, {{0, kLen}}},
        {"bytes=3-18446744073709551615", RangeOutcome::partial, {{3, kLen}}},
        {"bytes=3-18446744073709551616", RangeOutcome::partial, {{3, kLen}}},
        // A huge first-pos is past the end.
        {"bytes=99999999999999999999999999-", RangeOutcome::unsatisfiable, {}},
        {"bytes=18446744073709551615-18446744073709551615", RangeOutcome::unsatisfiable, {}},
        {"bytes=99999999999999999999999999-99999999999999999999999999",
         RangeOutcome::unsatisfiable,
         {}},
        // Both saturate, but last is still below first: invalid.
        {"bytes=99999999999999999999999999-99999999999999999999999998", RangeOutcome::ignore, {}},
        {"bytes=18446744073709551616-18446744073709551615", RangeOutcome::ignore, {}},
        // Leading zeros do not count against the comparison.
        {"bytes=0005-000000000000000000000000000000006", RangeOutcome::partial, {{5, 7}}},
        {"bytes=0006-05", RangeOutcome::ignore, {}},
        // A huge suffix selects the whole representation.
        {"bytes=-99999999999999999999999999", RangeOutcome::partial, {{0, kLen}}},
        {"bytes=0-0,99999999999999999999999999-", RangeOutcome::partial, {{0, 1}}},
    };
    check_rows(rows, kLen);
    // Near the top of the 64-bit range, on a representation of 2^64 - 1 bytes.
    const std::uint64_t max = UINT64_MAX;
    const RangeSet last = parse_range("bytes=-1", max);
    REQUIRE(last.outcome == RangeOutcome::partial);
    CHECK(last.view()[0].first == max - 1);
    CHECK(last.view()[0].length == 1);
    const RangeSet whole = parse_range("bytes=0-99999999999999999999999999", max);
    REQUIRE(whole.outcome == RangeOutcome::partial);
    CHECK(whole.view()[0].first == 0);
    CHECK(whole.view()[0].length == max);
    const RangeSet tail = parse_range("bytes=18446744073709551614-", max);
    REQUIRE(tail.outcome == RangeOutcome::partial);
    CHECK(tail.view()[0].first == max - 1);
    CHECK(tail.view()[0].length == 1);
    CHECK(parse_range("bytes=18446744073709551615-", max).outcome == RangeOutcome::unsatisfiable);
    CHECK(parse_range("bytes=0-,0-", max).outcome == RangeOutcome::too_many);
}

TEST_CASE("unsatisfiable specs are dropped and the rest is served") {
    const std::vector<Row> rows = {
        {"bytes=100-200,0-1", RangeOutcome::partial, {{0, 2}}},
        {"bytes=0-1,100-", RangeOutcome::partial, {{0, 2}}},
        {"bytes=-0,3-4", RangeOutcome::partial, {{3, 5}}},
        {"bytes=-0", RangeOutcome::unsatisfiable, {}},
        {"bytes=-000", RangeOutcome::unsatisfiable, {}},
        {"bytes=-0,11-", RangeOutcome::unsatisfiable, {}},
        {"bytes=11-,12-,-0", RangeOutcome::unsatisfiable, {}},
    };
    check_rows(rows, kLen);
}

TEST_CASE("suffix range longer than the file returns the whole file") {
    const std::vector<Row> rows = {
        {"bytes=-11", RangeOutcome::partial, {{0, kLen}}},
        {"bytes=-12", RangeOutcome::partial, {{0, kLen}}},
        {"bytes=-1000000", RangeOutcome::partial, {{0, kLen}}},
        {"bytes=-1", RangeOutcome::partial, {{10, kLen}}},
    };
    check_rows(rows, kLen);
}

TEST_CASE("overlapping and adjacent ranges are sorted and coalesced") {
    const std::vector<Row> rows = {
        {"bytes=0-2,1-3", RangeOutcome::partial, {{0, 4}}},          // overlap
        {"bytes=0-2,3-5", RangeOutcome::partial, {{0, 6}}},          // adjacent
        {"bytes=0-2,4-5", RangeOutcome::partial, {{0, 3}, {4, 6}}},  // one-byte gap stays
        {"bytes=6-7,0-1", RangeOutcome::partial, {{0, 2}, {6, 8}}},  // unsorted
        {"bytes=8-9,4-5,0-1", RangeOutcome::partial, {{0, 2}, {4, 6}, {8, 10}}},
        {"bytes=4-5,0-1,2-3", RangeOutcome::partial, {{0, 6}}},  // unsorted, adjacent
        {"bytes=1-1,0-0", RangeOutcome::partial, {{0, 2}}},
        {"bytes=0-3,1-2", RangeOutcome::partial, {{0, 4}}},          // contained
        {"bytes=1-2,0-3", RangeOutcome::partial, {{0, 4}}},          // containing, later
        {"bytes=-2,0-0", RangeOutcome::partial, {{0, 1}, {9, 11}}},  // suffix first
        {"bytes=-2,8-8", RangeOutcome::partial, {{8, 11}}},          // suffix adjacent
        {"bytes=9-,-2", RangeOutcome::partial, {{9, 11}}},           // the same bytes twice
    };
    check_rows(rows, kLen);
}

TEST_CASE("ranges adding up to more than the representation are wasteful") {
    const std::vector<Row> rows = {
        // Exactly the length is fine, one byte more is not (Go: sumRangesSize > size).
        {"bytes=0-5,6-10", RangeOutcome::partial, {{0, 11}}},  // 6 + 5 = 11
        {"bytes=0-5,5-10", RangeOutcome::too_many, {}},        // 6 + 6 = 12
        {"bytes=0-4,5-9", RangeOutcome::partial, {{0, 10}}},
        {"bytes=0-5,5-9", RangeOutcome::partial, {{0, 10}}},  // 6 + 5, one byte twice
        {"bytes=0-,0-", RangeOutcome::too_many, {}},
        {"bytes=-11,0-0", RangeOutcome::too_many, {}},
        {"bytes=0-10", RangeOutcome::partial, {{0, 11}}},
        // Unsatisfiable specs do not count.
        {"bytes=0-10,20-30,-0", RangeOutcome::partial, {{0, 11}}},
    };
    check_rows(rows, kLen);
    // Many one-byte ranges over the same byte: each is tiny, the sum is not.
    std::string header = "bytes=0-0";
    for (int i = 0; i < 11; ++i) header += ",0-0";
    CHECK(parse_range(header, kLen).outcome == RangeOutcome::too_many);
}

TEST_CASE("max_ranges bounds the number of specs") {
    const std::string two = "bytes=0-0,2-2";
    const std::string sixteen = [] {
        std::string h = "bytes=0-0";
        for (int i = 1; i < 16; ++i) h += "," + std::to_string(i * 2) + "-" + std::to_string(i * 2);
        return h;
    }();
    const std::string seventeen = sixteen + ",32-32";
    CHECK(parse_range(sixteen, 100).outcome == RangeOutcome::partial);
    CHECK(parse_range(sixteen, 100).count == 16);
    CHECK(parse_range(seventeen, 100).outcome == RangeOutcome::too_many);
    CHECK(parse_range(seventeen, 100, RangeLimits{17}).count == 17);
    CHECK(parse_range(two, 100, RangeLimits{1}).outcome == RangeOutcome::too_many);
    CHECK(parse_range(two, 100, RangeLimits{2}).count == 2);
    CHECK(parse_range("bytes=0-0", 100, RangeLimits{1}).count == 1);
    // Empty elements do not count.
    CHECK(parse_range("bytes=0-0,,,,", 100, RangeLimits{1}).count == 1);
    // 0 turns ranges off, but an invalid header is still just invalid.
    CHECK(parse_range("bytes=0-0", 100, RangeLimits{0}).outcome == RangeOutcome::too_many);
    CHECK(parse_range("bytes=", 100, RangeLimits{0}).outcome == RangeOutcome::ignore);
    CHECK(parse_range("items=0-0", 100, RangeLimits{0}).outcome == RangeOutcome::ignore);
    // Counted even when unsatisfiable.
    CHECK(parse_range("bytes=200-,300-", 100, RangeLimits{1}).outcome == RangeOutcome::too_many);
    // Scanning stops at the first spec over the limit: what follows is not looked at.
    CHECK(parse_range("bytes=0-0,2-2,garbage", 100, RangeLimits{1}).outcome ==
          RangeOutcome::too_many);
    CHECK(parse_range("bytes=0-0,garbage", 100, RangeLimits{1}).outcome == RangeOutcome::too_many);
    CHECK(parse_range("bytes=0-0,garbage", 100, RangeLimits{2}).outcome == RangeOutcome::ignore);
    CHECK(parse_range("bytes=garbage,0-0", 100, RangeLimits{1}).outcome == RangeOutcome::ignore);
}

TEST_CASE("max_ranges is clamped to the fixed storage") {
    std::string header = "bytes=0-0";
    for (std::size_t i = 1; i < kMaxRanges; ++i) {
        header += "," + std::to_string(i * 2) + "-" + std::to_string(i * 2);
    }
    const RangeLimits huge{1000000};
    const RangeSet at_cap = parse_range(header, 1000, huge);
    REQUIRE(at_cap.outcome == RangeOutcome::partial);
    CHECK(at_cap.count == kMaxRanges);
    for (std::size_t i = 0; i < kMaxRanges; ++i) {
        CAPTURE(i);
        CHECK(at_cap.view()[i].first == i * 2);
        CHECK(at_cap.view()[i].length == 1);
    }
    header += "," + std::to_string(kMaxRanges * 2) + "-" + std::to_string(kMaxRanges * 2);
    CHECK(parse_range(header, 1000, huge).outcome == RangeOutcome::too_many);
}

TEST_CASE("a very long header stops being scanned after max_ranges + 1 specs") {
    std::string header = "bytes=0-0";
    for (int i = 0; i < 100000; ++i) header += ",1-1";
    header += ",oops";  // never reached
    const RangeSet set = parse_range(header, 10, RangeLimits{4});
    CHECK(set.outcome == RangeOutcome::too_many);
    CHECK(set.count == 0);
}

TEST_CASE("a zero-length representation satisfies no range") {
    const std::vector<Row> rows = {
        {"bytes=0-0", RangeOutcome::unsatisfiable, {}},
        {"bytes=0-", RangeOutcome::unsatisfiable, {}},
        {"bytes=-5", RangeOutcome::unsatisfiable, {}},
        {"bytes=-0", RangeOutcome::unsatisfiable, {}},
        {"bytes=0-128,1-,-1", RangeOutcome::unsatisfiable, {}},
        // Syntax still comes first.
        {"bytes=5-2", RangeOutcome::ignore, {}},
        {"bytes=", RangeOutcome::ignore, {}},
        {"", RangeOutcome::ignore, {}},
    };
    check_rows(rows, 0);
}

TEST_CASE("a one-byte representation") {
    const std::vector<Row> rows = {
        {"bytes=0-0", RangeOutcome::partial, {{0, 1}}},
        {"bytes=0-", RangeOutcome::partial, {{0, 1}}},
        {"bytes=-1", RangeOutcome::partial, {{0, 1}}},
        {"bytes=-5", RangeOutcome::partial, {{0, 1}}},
        {"bytes=1-", RangeOutcome::unsatisfiable, {}},
        {"bytes=0-0,-1", RangeOutcome::too_many, {}},
    };
    check_rows(rows, 1);
}

TEST_CASE("results outside partial carry no stale ranges") {
    // Ranges were stored before the verdict; they must not leak into the storage.
    for (const char* header : {"bytes=0-1,2-3,oops", "bytes=0-1,0-", "bytes=0-1,2-3,4-5"}) {
        CAPTURE(header);
        const RangeSet set = parse_range(header, kLen, RangeLimits{2});
        CHECK(set.outcome != RangeOutcome::partial);
        CHECK(set.count == 0);
        for (const ByteRange& r : set.ranges) {
            CHECK(r.first == 0);
            CHECK(r.length == 0);
        }
    }
}

}  // TEST_SUITE("http/range")
