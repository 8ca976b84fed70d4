// libFuzzer target: W3C traceparent parsing (http/trace_context) on arbitrary bytes. Checks
// what request_id relies on: a parsed traceparent has valid ids taken from their places in
// the text, a version that is not ff, and only version 00's exact length; and what we write
// back is version 00 and parses back to the same fields (the same text, for version 00).
#include "http/trace_context.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

using vstream::http::kParentIdDigits;
using vstream::http::kTraceIdDigits;
using vstream::http::kTraceparentLength;
using vstream::http::Traceparent;

namespace {

bool same(const Traceparent& a, const Traceparent& b) {
    return a.version == b.version && a.trace_id == b.trace_id && a.parent_id == b.parent_id &&
           a.flags == b.flags;
}

void check(std::string_view text) {
    const std::optional<Traceparent> t = vstream::http::parse_traceparent(text);
    if (!t) {
        // Nothing that fails can be repaired by what follows, for version 00 (exactly 55).
        if (text.size() >= 2 && text.substr(0, 2) == "00" &&
            vstream::http::parse_traceparent(std::string(text) + "-x")) {
            __builtin_trap();
        }
        return;
    }
    if (text.size() < kTraceparentLength || t->version == 0xff) __builtin_trap();
    if (t->version == 0 && text.size() != kTraceparentLength) __builtin_trap();
    if (t->trace_id.data() != text.data() + 3 || t->parent_id.data() != text.data() + 36) {
        __builtin_trap();  // the ids are views at their places in the text
    }
    if (!vstream::http::is_valid_trace_id(t->trace_id) ||
        !vstream::http::is_valid_parent_id(t->parent_id)) {
        __builtin_trap();
    }
    if (t->trace_id.size() != kTraceIdDigits || t->parent_id.size() != kParentIdDigits) {
        __builtin_trap();
    }

    // Written back: version 00, 55 characters, the same fields; for version 00, the same text.
    std::string out;
    if (!vstream::http::append_traceparent(out, t->trace_id, t->parent_id, t->flags)) {
        __builtin_trap();
    }
    if (out.size() != kTraceparentLength || out.compare(0, 3, "00-") != 0) __builtin_trap();
    const std::optional<Traceparent> back = vstream::http::parse_traceparent(out);
    if (!back || back->version != 0 || back->trace_id != t->trace_id ||
        back->parent_id != t->parent_id || back->flags != t->flags) {
        __builtin_trap();
    }
    if (t->version == 0 && out != text) __builtin_trap();

    // A higher version may carry more fields after a '-'; the version 00 fields still count.
    std::string future = "cc" + std::string(text.substr(2, kTraceparentLength - 2)) + "-more";
    const std::optional<Traceparent> f = vstream::http::parse_traceparent(future);
    if (!f || f->version != 0xcc) __builtin_trap();
    Traceparent want = *t;
    want.version = 0xcc;
    want.trace_id = std::string_view(future).substr(3, kTraceIdDigits);
    want.parent_id = std::string_view(future).substr(36, kParentIdDigits);
    if (!same(*f, want) || f->trace_id != t->trace_id) __builtin_trap();
    // ... but version ff is never valid.
    future.replace(0, 2, "ff");
    if (vstream::http::parse_traceparent(future)) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    check(text);
    // The same bytes behind a version 00 prefix, so short inputs reach the id checks.
    if (size <= kTraceparentLength) {
        check("00-" + std::string(text));
        check("00-4bf92f3577b34da6a3ce929d0e0e4736-" + std::string(text));
    }
    return 0;
}
