// libFuzzer target: arbitrary client bytes into a whole HTTP/1.1 connection (parser, handler
// dispatch, pipelining, response writing, error responses and closing) over an in-memory
// stream on a real libuv loop. The handler answers synchronously, late (deferred) or throws,
// as chosen by the request path.
#include "core/date_cache.hpp"
#include "core/loop_handoff.hpp"
#include "http/connection.hpp"
#include "memory_stream.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace {

using vstream::Context;
using vstream::ContextRef;

struct Host final : vstream::http::ConnectionHost {
    int closed = 0;
    void on_connection_closed(vstream::http::Connection* c) noexcept override {
        std::unique_ptr<vstream::http::Connection> owned(c);
        ++closed;
    }
};

struct World {
    uv_loop_t loop{};
    vstream::ServerConfig config;
    vstream::Handler handler;
    vstream::core::DateCache date;
    std::shared_ptr<vstream::core::LoopHandoff> handoff;
    std::atomic<std::uint64_t> requests{0};
    Host host;
    vstream::http::ConnectionEnv env;
    ContextRef parked;  // a deferred request answered on the next read

    World() {
        uv_loop_init(&loop);
        handoff = vstream::core::LoopHandoff::create(&loop);
        handoff->set_ref(false);
        config.limits.max_request_line = 256;
        config.limits.max_header_bytes = 512;
        config.limits.max_header_count = 8;
        config.limits.max_body_bytes = 1024;
        config.limits.write_high_water = 256;
        config.limits.write_low_water = 64;
        handler = [this](Context& ctx) {
            const std::string_view p = ctx.path();
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
        env.loop = &loop;
        env.config = &config;
        env.handler = &handler;
        env.date = &date;
        env.handoff = handoff;
        env.host = &host;
        env.requests = &requests;
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
    auto stream = std::make_unique<vstream::test::MemoryStream>();
    vstream::test::MemoryStream* s = stream.get();
    auto* conn = new vstream::http::Connection(w.env, std::move(stream));
    const int closed_before = w.host.closed;
    conn->start();
    for (std::size_t pos = 1; pos < size && !s->closed;) {
        if (s->reading) {
            const std::size_t n = std::min(step, size - pos);
            s->deliver(std::string_view(reinterpret_cast<const char*>(data) + pos, n));
            pos += n;
        } else if (!w.parked && !s->write_pending) {
            break;  // nothing can make it read again
        }
        if (w.parked && ((pos & 1) != 0 || !s->reading)) {
            w.parked->text(201, "late");
            w.parked.reset();
        }
        while (s->complete_write()) {
        }
    }
    if (!s->closed) s->deliver_eof();
    w.parked.reset();  // an unanswered deferral is answered 500 or cancelled
    while (s->complete_write()) {
    }
    if (!s->closed) conn->abort();
    const std::string written = s->written;  // the stream goes with the connection
    // Run the loop until the connection's timer handle is closed and the host frees it.
    while (w.host.closed == closed_before) uv_run(&w.loop, UV_RUN_ONCE);
    // Every response the connection wrote starts with a status line.
    if (!written.empty() && written.rfind("HTTP/1.1 ", 0) != 0) __builtin_trap();
    return 0;
}
