// A Connection over a MemoryTransport on a private libuv loop: the engine's per-loop context
// (config, dispatcher, Date cache, handoff, host) without sockets or threads. Used by the
// connection unit tests and the connection fuzzer.
#pragma once

#include "core/date_cache.hpp"
#include "core/loop_handoff.hpp"
#include "handler_dispatcher.hpp"
#include "http1/connection.hpp"
#include "memory_transport.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace vstream::test {

class ConnectionHarness final : public http1::ConnectionHost, public HandlerDispatcher {
public:
    ServerConfig config;  // read when a connection opens
    // handler and stream_probe (HandlerDispatcher): what requests run, which stream their body.
    std::atomic<std::uint64_t> requests{0};
    int closed = 0;  // connections freed so far

    ConnectionHarness() {
        uv_loop_init(&loop_);
        handoff_ = core::LoopHandoff::create(&loop_);
        handoff_->set_ref(false);
        env_.loop = &loop_;
        env_.config = &config;
        env_.dispatcher = this;
        env_.date = &date_;
        env_.handoff = handoff_;
        env_.host = this;
        env_.requests = &requests;
    }
    ~ConnectionHarness() {
        handoff_->close();
        uv_run(&loop_, UV_RUN_DEFAULT);
        uv_loop_close(&loop_);
    }
    ConnectionHarness(const ConnectionHarness&) = delete;
    ConnectionHarness& operator=(const ConnectionHarness&) = delete;

    /// Opens a connection; the returned transport stays valid until the connection is freed
    /// (closed() grows).
    MemoryTransport& open() {
        env_.request_env = request::Env::make(config, nullptr);
        auto transport = std::make_unique<MemoryTransport>();
        MemoryTransport& s = *transport;
        conn_ = new http1::Connection(env_, std::move(transport));  // freed by on_connection_closed
        conn_->start();
        return s;
    }
    http1::Connection& connection() { return *conn_; }
    /// Closes the connection if it is open and runs the loop until it is freed.
    void finish() {
        if (conn_ == nullptr) return;
        const int before = closed;
        conn_->abort();
        while (closed == before) uv_run(&loop_, UV_RUN_ONCE);
    }
    /// Runs ready loop work (handoff tasks, due timers) without blocking.
    void run_nowait() { uv_run(&loop_, UV_RUN_NOWAIT); }
    /// Runs the loop once, blocking for the next event (e.g. a timer).
    void run_once() { uv_run(&loop_, UV_RUN_ONCE); }
    uv_loop_t* loop() { return &loop_; }
    void set_stopping(bool stopping) { env_.stopping = stopping; }

    void on_connection_closed(http1::Connection* c) noexcept override {
        std::unique_ptr<http1::Connection> owned(c);
        if (c == conn_) conn_ = nullptr;
        ++closed;
    }

private:
    uv_loop_t loop_{};
    core::DateCache date_;
    std::shared_ptr<core::LoopHandoff> handoff_;
    http1::ConnectionEnv env_;
    http1::Connection* conn_ = nullptr;
};

}  // namespace vstream::test
