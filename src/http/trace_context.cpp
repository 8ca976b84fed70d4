#include "http/trace_context.hpp"

namespace vstream::http {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// HEXDIGLC only (§3.2.2): uppercase hex is invalid, not normalised.
constexpr int lower_hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool lower_hex(std::string_view s) noexcept {
    for (const char c : s) {
        if (lower_hex_value(c) < 0) return false;
    }
    return true;
}

bool all_zero(std::string_view s) noexcept {
    return s.find_first_not_of('0') == std::string_view::npos;
}

bool valid_id(std::string_view id, std::size_t digits) noexcept {
    return id.size() == digits && lower_hex(id) && !all_zero(id);
}

// Two HEXDIGLC as a byte; -1 when they are not.
int hex_byte(std::string_view two) noexcept {
    const int hi = lower_hex_value(two[0]);
    const int lo = lower_hex_value(two[1]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

}  // namespace

bool is_valid_trace_id(std::string_view id) noexcept { return valid_id(id, kTraceIdDigits); }

bool is_valid_parent_id(std::string_view id) noexcept { return valid_id(id, kParentIdDigits); }

std::optional<Traceparent> parse_traceparent(std::string_view v) noexcept {
    // §3.2.4: shorter than 55 characters cannot be parsed, whatever the version.
    if (v.size() < kTraceparentLength) return std::nullopt;
    // §3.2.2.1: version is 2 HEXDIGLC; "ff" is forbidden.
    const int version = hex_byte(v.substr(0, 2));
    if (version < 0 || version == 0xff) return std::nullopt;
    if (v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
    Traceparent t;
    t.version = static_cast<std::uint8_t>(version);
    t.trace_id = v.substr(3, kTraceIdDigits);
    t.parent_id = v.substr(36, kParentIdDigits);
    // §3.2.2.3, §3.2.2.4: all-zero ids are invalid.
    if (!is_valid_trace_id(t.trace_id) || !is_valid_parent_id(t.parent_id)) return std::nullopt;
    const int flags = hex_byte(v.substr(53, 2));
    if (flags < 0) return std::nullopt;
    t.flags = static_cast<std::uint8_t>(flags);
    if (version == 0) {
        // §3.2.2: version 00 is exactly these 55 characters, nothing may follow.
        if (v.size() != kTraceparentLength) return std::nullopt;
    } else if (v.size() > kTraceparentLength && v[kTraceparentLength] != '-') {
        // §3.2.4: a higher version may append fields, each after a '-'; we read the
        // 00 fields and ignore the rest.
        return std::nullopt;
    }
    return t;
}

bool append_traceparent(std::string& out, std::string_view trace_id, std::string_view parent_id,
                        std::uint8_t flags) {
    if (!is_valid_trace_id(trace_id) || !is_valid_parent_id(parent_id)) return false;
    out.reserve(out.size() + kTraceparentLength);
    out.append("00-").append(trace_id).append(1, '-').append(parent_id).append(1, '-');
    out.push_back(kHex[flags >> 4]);
    out.push_back(kHex[flags & 0x0f]);
    return true;
}

}  // namespace vstream::http
