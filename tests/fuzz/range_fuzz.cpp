// libFuzzer target: Range evaluation, HTTP-date parsing and conditional requests on arbitrary
// bytes. Input: an 8-byte little-endian representation length (when there are 8 bytes), then
// the header value. Checks the invariants the 206 writer relies on.
#include <vstream/headers.hpp>

#include "core/date_cache.hpp"
#include "http/conditional.hpp"
#include "http/http_date.hpp"
#include "http/range.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <optional>
#include <string_view>
#include <vector>

using vstream::http::ByteRange;
using vstream::http::RangeLimits;
using vstream::http::RangeOutcome;
using vstream::http::RangeSet;

namespace {

// What every RangeSet must satisfy, whatever the input.
void check_range_set(const RangeSet& set, std::uint64_t length, std::size_t max_ranges) {
    if (set.outcome != RangeOutcome::partial) {
        if (set.count != 0) __builtin_trap();
        return;
    }
    if (set.count < 1 || set.count > max_ranges || set.count > vstream::http::kMaxRanges) {
        __builtin_trap();
    }
    std::uint64_t prev_end = 0;
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < set.count; ++i) {
        const ByteRange& r = set.ranges[i];
        if (r.length == 0) __builtin_trap();
        if (r.first >= length || r.length > length - r.first) __builtin_trap();  // in bounds
        // Sorted, and neither overlapping nor adjacent to the previous one.
        if (i > 0 && r.first <= prev_end) __builtin_trap();
        prev_end = r.first + r.length;
        total += r.length;  // no overflow: disjoint ranges inside `length`
    }
    if (total > length) __builtin_trap();
    if (set.view().size() != set.count) __builtin_trap();
}

bool same(const RangeSet& a, const RangeSet& b) {
    if (a.outcome != b.outcome || a.count != b.count) return false;
    for (std::size_t i = 0; i < a.count; ++i) {
        if (a.ranges[i].first != b.ranges[i].first || a.ranges[i].length != b.ranges[i].length) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::uint64_t length = 11;  // Go's test file, when the input is too short for a length
    if (size >= sizeof length) {
        std::memcpy(&length, data, sizeof length);
        data += sizeof length;
        size -= sizeof length;
    }
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    // Range, at the full 64-bit length and at a small one where specs are often satisfiable.
    const std::size_t limits[] = {0, 1, 2, 16, vstream::http::kMaxRanges, 1000};
    for (const std::uint64_t len : {length, length % 4096}) {
        RangeSet previous;
        for (std::size_t i = 0; i < std::size(limits); ++i) {
            const RangeSet set = vstream::http::parse_range(text, len, RangeLimits{limits[i]});
            check_range_set(set, len, std::min(limits[i], vstream::http::kMaxRanges));
            // Raising the limit changes nothing once a smaller one gave a verdict other than
            // too_many: the header had few enough specs to be read whole.
            if (i > 0 && previous.outcome != RangeOutcome::too_many && !same(previous, set)) {
                __builtin_trap();
            }
            previous = set;
        }
        if (len == 0 && vstream::http::parse_range(text, 0).outcome == RangeOutcome::partial) {
            __builtin_trap();  // nothing to send from an empty representation
        }
    }

    // HTTP-date: whatever parses formats as an IMF-fixdate that parses back to it.
    const std::optional<std::time_t> date = vstream::http::parse_http_date(text, 1749988800);
    if (date) {
        char buf[64];
        const std::size_t n = vstream::core::format_http_date(*date, buf);
        if (vstream::http::parse_http_date(std::string_view(buf, n)) != date) __builtin_trap();
    }

    // Conditional requests: the text as every precondition field, against fixed validators
    // and against the text itself as our entity-tag.
    const vstream::http::Validators validators[] = {
        {"\"v1\"", 784111777},
        {text, date.value_or(1)},
        {"", 0},
    };
    const std::vector<vstream::HeaderField> fields = {
        {"If-Match", text},
        {"If-None-Match", text},
        {"If-Modified-Since", text},
        {"If-Unmodified-Since", text},
    };
    for (const vstream::http::Validators& v : validators) {
        if (!vstream::http::if_range_allows(std::nullopt, v)) __builtin_trap();
        const bool allowed = vstream::http::if_range_allows(text, v);
        // A weak entity-tag never allows a range.
        if (allowed && text.substr(0, 2) == "W/") __builtin_trap();
        for (std::size_t n = 0; n <= fields.size(); ++n) {
            const std::vector<vstream::HeaderField> some(fields.begin(), fields.begin() + n);
            const vstream::HeaderMap headers(&some);
            for (const std::string_view method : {"GET", "HEAD", "PUT"}) {
                const vstream::http::Precondition p =
                    vstream::http::evaluate_preconditions(headers, method, v);
                if (n == 0 && p != vstream::http::Precondition::proceed) __builtin_trap();
                // 304 is only ever the answer to GET or HEAD (RFC 9110 §15.4.5).
                if (method == "PUT" && p == vstream::http::Precondition::not_modified) {
                    __builtin_trap();
                }
            }
        }
    }
    return 0;
}
