// W3C Trace Context Level 1 (https://www.w3.org/TR/trace-context/): the traceparent field,
// parsed, its ids validated, and written back as version 00.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vstream::http {

/// Hex digits of a trace-id (§3.2.2.3: 16 bytes).
inline constexpr std::size_t kTraceIdDigits = 32;
/// Hex digits of a parent-id, the span id of the caller (§3.2.2.4: 8 bytes).
inline constexpr std::size_t kParentIdDigits = 16;
/// Length of a version 00 traceparent: "00-" 32 "-" 16 "-" 2 (§3.2.2).
inline constexpr std::size_t kTraceparentLength = 55;

/// A valid traceparent's fields. The ids are views into the parsed text.
struct Traceparent {
    /// 0x00 to 0xfe (§3.2.2.1: ff is invalid).
    std::uint8_t version = 0;
    /// 32 lowercase hex digits, not all zero.
    std::string_view trace_id;
    /// 16 lowercase hex digits, not all zero.
    std::string_view parent_id;
    /// trace-flags (§3.2.2.5), as received; bit 0 is sampled.
    std::uint8_t flags = 0;

    /// Whether the caller may have recorded its span (§3.2.2.5.1).
    bool sampled() const noexcept { return (flags & 0x01) != 0; }
};

/// Whether `id` is a valid trace-id: exactly 32 lowercase hex digits (HEXDIGLC), not all
/// zero (§3.2.2.3).
bool is_valid_trace_id(std::string_view id) noexcept;

/// Whether `id` is a valid parent-id: exactly 16 lowercase hex digits, not all zero
/// (§3.2.2.4).
bool is_valid_parent_id(std::string_view id) noexcept;

/// Parses a traceparent field value (one field: several combined make no valid value).
///
/// Version 00 is exactly 55 characters, "00-<trace-id>-<parent-id>-<flags>", all hex lowercase
/// (uppercase is invalid, not normalised). Version ff, a non-hex version and all-zero ids are
/// invalid. A higher version (§3.2.4) is read for the version 00 fields when the value is at
/// least 55 characters and the flags are followed by its end or a '-'; what follows is not
/// looked at. Anything else gives nullopt, and the caller starts a new trace. Never allocates.
std::optional<Traceparent> parse_traceparent(std::string_view value) noexcept;

/// Appends the version 00 traceparent "00-<trace_id>-<parent_id>-<flags>" to `out`: the
/// version we implement, whatever version the trace came in with (§3.2.4). Returns false, and
/// appends nothing, unless both ids are valid.
bool append_traceparent(std::string& out, std::string_view trace_id, std::string_view parent_id,
                        std::uint8_t flags);

}  // namespace vstream::http
