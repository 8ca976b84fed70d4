// middleware::request_id: the request id (read or made) and the W3C Trace Context of this hop.
#include <vstream/context.hpp>
#include <vstream/error.hpp>
#include <vstream/headers.hpp>
#include <vstream/middleware.hpp>

#include "http/token.hpp"
#include "http/trace_context.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

namespace vstream::middleware {

namespace {

using http::is_token;

constexpr std::size_t kMaxIdLength = 128;

constexpr char kHex[] = "0123456789abcdef";

// Ids must be unique, not secret: nothing is authorised by knowing one, so a fast PRNG,
// seeded once per thread from the OS, is enough (a CSPRNG would cost a syscall or a lock per
// request). The full seed_seq fills more of the engine's state than one 64-bit seed would.
std::mt19937_64& rng() {
    thread_local std::mt19937_64 engine = [] {
        std::random_device device;
        std::seed_seq seed{device(), device(), device(), device(),
                           device(), device(), device(), device()};
        return std::mt19937_64(seed);
    }();
    return engine;
}

// `digits` lowercase hex digits (a multiple of 16) into `out`, never all zero: W3C Trace
// Context §3.2.2.3/§3.2.2.4 make all-zero trace and span ids invalid.
void fill_random_hex(char* out, std::size_t digits) {
    for (;;) {
        bool zero = true;
        for (std::size_t i = 0; i < digits; i += 16) {
            std::uint64_t word = rng()();
            zero = zero && word == 0;
            for (int k = 0; k < 16; ++k) {
                out[i + k] = kHex[word >> 60];
                word <<= 4;
            }
        }
        if (!zero) return;  // 2^-64 at worst; draw again
    }
}

std::string random_hex(std::size_t digits) {
    std::string s(digits, '0');
    fill_random_hex(s.data(), digits);
    return s;
}

// 1..128 characters of letters, digits and "-_.:": safe in a header, a log line and a URL.
bool acceptable_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > kMaxIdLength) return false;
    for (const char ch : id) {
        const auto c = static_cast<unsigned char>(ch);
        const bool alnum =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && c != '-' && c != '_' && c != '.' && c != ':') return false;
    }
    return true;
}

// W3C Trace Context §3.3.1.1: several tracestate fields are combined into one list, as
// RFC 9110 §5.3 allows for any list-valued field.
std::string combined_tracestate(const HeaderMap& headers) {
    std::string out;
    for (const HeaderField& f : headers) {
        if (!iequals(f.name, "tracestate")) continue;
        if (!out.empty()) out.push_back(',');
        out.append(f.value);
    }
    return out;
}

// set_header() refuses CR, LF and NUL; a field that came in with one (the parser should
// not let that happen) is dropped rather than turned into an exception.
bool safe_value(std::string_view s) noexcept {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

Middleware request_id(RequestIdOptions options) {
    if (!is_token(options.header)) {
        throw Error(errc::invalid_argument,
                    "request_id: header '" + options.header + "' is not a valid field name");
    }
    return [options = std::move(options)](Context& ctx, Next next) {
        const HeaderMap headers = ctx.headers();

        std::string id;
        if (options.trust_incoming) {
            // A repeated id field is ambiguous: make a fresh id rather than pick one.
            if (const auto incoming = headers.get(options.header);
                incoming && headers.count(options.header) == 1 && acceptable_id(*incoming)) {
                id.assign(*incoming);
            }
        }
        if (id.empty()) id = random_hex(http::kTraceIdDigits);

        // Several traceparent fields, combined as RFC 9110 §5.3 says, make no valid value
        // (W3C Trace Context §3.2.2): they start a new trace, like any invalid one.
        std::optional<http::Traceparent> incoming;
        if (headers.count("traceparent") == 1) {
            incoming = http::parse_traceparent(*headers.get("traceparent"));
        }

        // The output is always version 00 (the version we implement), with a new span id
        // for this hop: §3.2.2.4, parent-id is the id of the caller's span, which we are not.
        char new_trace_id[http::kTraceIdDigits];
        std::string_view trace_id;
        if (incoming) {
            trace_id = incoming->trace_id;
        } else {
            fill_random_hex(new_trace_id, sizeof new_trace_id);
            trace_id = std::string_view(new_trace_id, sizeof new_trace_id);
        }
        char span_id[http::kParentIdDigits];
        fill_random_hex(span_id, sizeof span_id);
        std::string traceparent;
        // A continued trace keeps the caller's sampling decision; a new one is not sampled.
        http::append_traceparent(traceparent, trace_id, std::string_view(span_id, sizeof span_id),
                                 incoming ? incoming->flags : 0);

        ctx.set_header(options.header, id);
        ctx.set_header("traceparent", traceparent);
        if (incoming) {
            // W3C Trace Context §3.3: tracestate belongs to the traceparent it came with;
            // when that failed to parse, tracestate MUST NOT be used, so it is dropped.
            const std::string tracestate = combined_tracestate(headers);
            if (!tracestate.empty() && safe_value(tracestate)) {
                ctx.set_header("tracestate", tracestate);
            }
        }
        ctx.set_trace(std::move(id), std::move(traceparent));
        next();
    };
}

}  // namespace vstream::middleware
