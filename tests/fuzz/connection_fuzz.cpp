// libFuzzer target: arbitrary client bytes into a whole HTTP/1.1 connection (parser, handler
// dispatch, pipelining, response writing, error responses and closing) over an in-memory
// transport on a real libuv loop. The handler answers synchronously, late (deferred) or throws,
// as chosen by the request path; paths with "stream" read their body as it arrives, pausing
// on every other piece and resuming later, and "early" answers before reading it.
#include "connection_harness.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace {

using vstream::Context;
using vstream::ContextRef;

struct World {
    vstream::test::ConnectionHarness harness;
    ContextRef parked;  // a deferred request, answered a little later
    ContextRef paused;  // a streamed body whose reader paused, resumed a little later
    std::size_t streamed = 0;

    World() {
        vstream::ServerConfig& c = harness.config;
        c.limits.max_request_line = 256;
        c.limits.max_header_bytes = 512;
        c.limits.max_header_count = 8;
        c.limits.max_body_bytes = 1024;
        c.limits.write_high_water = 256;
        c.limits.write_low_water = 64;
        harness.stream_probe = [](vstream::request::Exchange& x) {
            return x.request.path.find("stream") != std::string_view::npos;
        };
        harness.handler = [this](Context& ctx) {
            const std::string_view p = ctx.path();
            if (p.find("stream") != std::string_view::npos) {
                if (p.find("early") != std::string_view::npos) {
                    ctx.text(413, "no");  // answered without reading: the connection closes
                    return;
                }
                vstream::BodyReader r;
                r.max_bytes = p.find("small") != std::string_view::npos ? 16 : 0;
                r.on_data = [this, &ctx](std::string_view bytes) {
                    streamed += bytes.size();
                    if ((streamed & 1) == 0) return true;
                    paused = ctx.defer();
                    return false;
                };
                r.on_end = [&ctx] { ctx.text(200, "got it"); };
                r.on_error = [this](int, std::string_view) { paused.reset(); };
                ctx.read_body(std::move(r));
                return;
            }
            if (p.find("throw") != std::string_view::npos) throw std::runtime_error("boom");
            if (p.find("defer") != std::string_view::npos) {
                parked = ctx.defer();
                return;
            }
            if (p.find("big") != std::string_view::npos) {
                ctx.send(200, std::string(4096, 'x'));
                return;
            }
            ctx.set_header("X-Path-Len", std::to_string(p.size()));
            ctx.text(200, vstream::Body::copy(ctx.body()));
        };
    }
};

World& world() {
    static World* w = new World();  // lives for the fuzzing process
    return *w;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    World& w = world();
    const std::size_t step = 1 + data[0] % 97;
    vstream::test::MemoryTransport& s = w.harness.open();
    for (std::size_t pos = 1; pos < size && !s.closed;) {
        if (s.reading) {
            const std::size_t n = std::min(step, size - pos);
            s.deliver(std::string_view(reinterpret_cast<const char*>(data) + pos, n));
            pos += n;
        } else if (!w.parked && !w.paused && !s.write_in_flight) {
            break;  // nothing can make it read again
        }
        if (w.paused && ((pos & 2) != 0 || !s.reading)) {
            ContextRef ref = std::move(w.paused);
            ref->resume_body();
        }
        if (w.parked && ((pos & 1) != 0 || !s.reading)) {
            w.parked->text(201, "late");
            w.parked.reset();
        }
        while (s.complete_write()) {
        }
    }
    if (!s.closed) s.deliver_eof();
    w.parked.reset();  // an unanswered deferral is answered 500 or cancelled
    w.paused.reset();
    while (s.complete_write()) {
    }
    const std::string written = s.written;  // the transport goes with the connection
    w.harness.finish();
    // Every response the connection wrote starts with a status line.
    if (!written.empty() && written.rfind("HTTP/1.1 ", 0) != 0) __builtin_trap();
    return 0;
}
