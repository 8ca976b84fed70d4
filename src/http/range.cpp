#include "http/range.hpp"

#include <vstream/headers.hpp>

#include "http/token.hpp"

#include <algorithm>
#include <limits>

namespace vstream::http {

namespace {

constexpr std::uint64_t kSaturated = std::numeric_limits<std::uint64_t>::max();

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Whether `s` is *DIGIT (the empty string is). No sign, no space: RFC 9110 §14.1.1 positions
// are 1*DIGIT, so "+5" or "5 " make the spec invalid.
bool all_digits(std::string_view s) noexcept { return std::all_of(s.begin(), s.end(), is_digit); }

// The value of the DIGIT string `s`, saturating at 2^64 - 1: a position too large to hold is
// still a syntactically valid one (RFC 9110 §14.1.1 sets no bound), just past any real end.
std::uint64_t to_u64(std::string_view s) noexcept {
    std::uint64_t v = 0;
    for (const char c : s) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (v > (kSaturated - digit) / 10) return kSaturated;
        v = v * 10 + digit;
    }
    return v;
}

// Compares two DIGIT strings by value, exactly, whatever their length: saturated values
// would make "99999999999999999999999-99999999999999999999998" look valid.
int compare_decimal(std::string_view a, std::string_view b) noexcept {
    while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
    while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    const int c = a.compare(b);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

enum class SpecStatus { invalid, unsatisfiable, satisfiable };

// One range-spec, already trimmed and non-empty: int-range "first-[last]" or suffix-range
// "-suffix" (RFC 9110 §14.1.2). On satisfiable, `out` is the clamped half-open range.
SpecStatus parse_spec(std::string_view spec, std::uint64_t length, ByteRange& out) noexcept {
    const std::size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return SpecStatus::invalid;
    const std::string_view first_text = spec.substr(0, dash);
    const std::string_view last_text = spec.substr(dash + 1);
    // A second '-', a sign, a space or a parameter (";x") all land here as a non-digit.
    if (!all_digits(first_text) || !all_digits(last_text)) return SpecStatus::invalid;

    if (first_text.empty()) {
        // suffix-range: "-" alone is neither form.
        if (last_text.empty()) return SpecStatus::invalid;
        const std::uint64_t suffix = to_u64(last_text);
        // RFC 9110 §14.1.2: a suffix-range is satisfiable only with a non-zero length. On a
        // zero-length representation it would select zero bytes, which no Content-Range can
        // describe (first-last needs a byte), so it is unsatisfiable too.
        if (suffix == 0 || length == 0) return SpecStatus::unsatisfiable;
        // RFC 9110 §14.1.2: a suffix longer than the representation selects all of it.
        const std::uint64_t n = std::min(suffix, length);
        out = {length - n, n};
        return SpecStatus::satisfiable;
    }

    // RFC 9110 §14.1.1: an int-range whose last-pos is below its first-pos is invalid, and
    // one invalid range-spec makes the whole header invalid (§14.2: ignore it).
    if (!last_text.empty() && compare_decimal(last_text, first_text) < 0) {
        return SpecStatus::invalid;
    }
    const std::uint64_t first = to_u64(first_text);
    // RFC 9110 §14.1.2: an int-range is satisfiable only if first-pos is below the length.
    if (first >= length) return SpecStatus::unsatisfiable;
    // RFC 9110 §14.1.2: a missing last-pos, or one at or past the end, means the remainder.
    const std::uint64_t last =
        last_text.empty() ? length - 1 : std::min(to_u64(last_text), length - 1);
    out = {first, last - first + 1};
    return SpecStatus::satisfiable;
}

}  // namespace

RangeSet parse_range(std::string_view header, std::uint64_t length,
                     const RangeLimits& limits) noexcept {
    RangeSet set;  // outcome ignore
    const std::size_t max_ranges = std::min(limits.max_ranges, kMaxRanges);

    // RFC 9110 §5.5: a field value has no leading or trailing whitespace; the request parser
    // trims it already, this keeps the function total on raw input.
    header = trim_ows(header);
    const std::size_t eq = header.find('=');
    // RFC 9110 §14.1.1: ranges-specifier = range-unit "=" range-set, with no OWS around '='.
    // RFC 9110 §14.2: an unknown range unit is ignored; range units are case-insensitive
    // (§14.1).
    if (eq == std::string_view::npos || !iequals(header.substr(0, eq), "bytes")) return set;
    std::string_view rest = header.substr(eq + 1);
    if (rest.empty() || is_ows(rest.front())) return set;

    // range-set = 1#range-spec (RFC 9110 §5.6.1): OWS around commas, empty elements skipped,
    // at least one non-empty element.
    std::size_t specs = 0;
    std::size_t stored = 0;
    std::uint64_t sum = 0;
    bool wasteful = false;
    // Every outcome but partial leaves count 0 and no stale range in the storage.
    const auto give_up = [&set, &stored](RangeOutcome outcome) noexcept {
        std::fill_n(set.ranges.begin(), stored, ByteRange{});
        set.outcome = outcome;
        return set;
    };
    for (;;) {
        const std::size_t comma = rest.find(',');
        const std::string_view element = trim_ows(rest.substr(0, comma));
        if (!element.empty()) {
            // Counted before parsing: a header with thousands of specs costs max_ranges + 1
            // of them, never more. Whatever follows, the answer is the whole body.
            if (++specs > max_ranges) return give_up(RangeOutcome::too_many);
            ByteRange r;
            switch (parse_spec(element, length, r)) {
                case SpecStatus::invalid:
                    // RFC 9110 §14.2: invalid syntax -> ignore Range
                    return give_up(RangeOutcome::ignore);
                case SpecStatus::unsatisfiable:
                    break;  // RFC 9110 §14.1.2: dropped; 416 only if none is left
                case SpecStatus::satisfiable:
                    set.ranges[stored++] = r;
                    // Go's ServeContent policy: more bytes than the representation (before
                    // coalescing) means overlapping or wasteful ranges. Written so the sum
                    // cannot overflow: each length is at most `length`.
                    if (r.length > length - sum) {
                        wasteful = true;
                    } else {
                        sum += r.length;
                    }
                    break;
            }
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    if (specs == 0) return set;  // "bytes=," holds no range-spec: invalid, ignore
    if (stored == 0) return give_up(RangeOutcome::unsatisfiable);
    if (wasteful) return give_up(RangeOutcome::too_many);

    // RFC 9110 §15.3.7.2: a server MAY coalesce ranges that overlap or are separated by a gap
    // smaller than a part's overhead, whatever their order in the header. We sort and merge
    // overlapping and adjacent ones, so no byte is sent twice and parts come in file order.
    std::sort(set.ranges.begin(), set.ranges.begin() + static_cast<std::ptrdiff_t>(stored),
              [](const ByteRange& a, const ByteRange& b) { return a.first < b.first; });
    std::size_t out = 0;
    for (std::size_t i = 1; i < stored; ++i) {
        ByteRange& cur = set.ranges[out];
        const ByteRange& next = set.ranges[i];
        const std::uint64_t cur_end = cur.first + cur.length;  // <= length: no overflow
        if (next.first <= cur_end) {
            cur.length = std::max(cur_end, next.first + next.length) - cur.first;
        } else {
            set.ranges[++out] = next;
        }
    }
    set.count = out + 1;
    // Clear the merged-away slots so the storage past `count` holds nothing stale.
    std::fill(set.ranges.begin() + static_cast<std::ptrdiff_t>(set.count),
              set.ranges.begin() + static_cast<std::ptrdiff_t>(stored), ByteRange{});
    set.outcome = RangeOutcome::partial;
    return set;
}

}  // namespace vstream::http
