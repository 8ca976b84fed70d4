#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace vstream::http {

/// A satisfiable byte range, half-open: [first, first + length). length is never 0.
struct ByteRange {
    std::uint64_t first = 0;   ///< offset of the first byte
    std::uint64_t length = 0;  ///< number of bytes
};

/// What to answer to a Range header (after Drogon's RangeParser.h result enum); the caller
/// maps it to a status in one place.
enum class RangeOutcome {
    /// No header, an unknown unit or invalid syntax: serve 200 with the whole body
    /// (RFC 9110 §14.2: a recipient ignores a Range it does not understand).
    ignore,
    /// Valid syntax but no range overlaps the representation: 416 with
    /// "Content-Range: bytes */LEN" (RFC 9110 §15.5.17).
    unsatisfiable,
    /// 206: RangeSet::ranges holds 1..max_ranges ranges, sorted and coalesced.
    partial,
    /// Policy, not protocol: more range specs than RangeLimits::max_ranges, or satisfiable
    /// ranges whose lengths add up to more than the representation. Serve 200 with the whole
    /// body (RFC 9110 §14.2 lets a server ignore Range).
    too_many,
};

/// Hard cap on RangeLimits::max_ranges: the size of RangeSet's fixed storage.
inline constexpr std::size_t kMaxRanges = 64;

/// Per-server policy for parse_range.
struct RangeLimits {
    /// Most range specs accepted in one header; more gives RangeOutcome::too_many. Clamped to
    /// kMaxRanges; 0 turns range support off (every valid header gives too_many). Default 16.
    std::size_t max_ranges = 16;
};

/// The result of parse_range: an outcome and, for RangeOutcome::partial only, the ranges to
/// send. Fixed storage, so parsing never allocates.
struct RangeSet {
    RangeOutcome outcome = RangeOutcome::ignore;  ///< what to answer
    std::array<ByteRange, kMaxRanges> ranges{};   ///< the first `count` are meaningful
    std::size_t count = 0;                        ///< number of ranges; 0 unless outcome is partial

    /// The ranges to send, sorted by first byte, each non-empty, none overlapping or adjacent.
    std::span<const ByteRange> view() const noexcept { return {ranges.data(), count}; }
};

/// Evaluates the Range header field value `header` (empty when the request has none) against a
/// representation of `length` bytes (RFC 9110 §14.1.2, §14.2).
///
/// Syntax: "bytes" (case-insensitive) "=" then a comma-separated list of "first-last",
/// "first-" and "-suffix" specs. Whitespace is allowed around commas and empty list elements
/// are skipped (RFC 9110 §5.6.1), but not around '=' nor inside a spec. A spec whose last
/// is below its first, any other syntax error, or another unit gives RangeOutcome::ignore.
/// Numbers too large for 64 bits saturate, so they stay valid: such a last is clamped, such a
/// first is past the end.
///
/// Satisfiability: a last beyond the end is clamped to the last byte; a suffix longer than the
/// representation selects all of it; a spec whose first is at or past the end, and a suffix
/// of 0, are unsatisfiable and dropped. When none is left the outcome is unsatisfiable. A
/// zero-length representation satisfies no spec, a suffix included (a 206 cannot describe
/// zero bytes), so it always gives unsatisfiable for a valid header.
///
/// Policy, as Go's net/http ServeContent: RangeOutcome::too_many, to serve the whole body,
/// when the header holds more than `limits.max_ranges` specs (scanning stops at the first one
/// over, so a huge header costs no more than max_ranges + 1 specs), or when the lengths of
/// the satisfiable ranges, before coalescing, add up to more than `length`: that is what stops
/// many small or overlapping ranges ("bytes=0-,0-,0-") from multiplying the bytes sent.
/// Otherwise the ranges are sorted by first byte and overlapping or adjacent ones are merged
/// (RFC 9110 §15.3.7.2 allows it), giving RangeOutcome::partial.
///
/// Never allocates.
RangeSet parse_range(std::string_view header, std::uint64_t length,
                     const RangeLimits& limits = {}) noexcept;

}  // namespace vstream::http
