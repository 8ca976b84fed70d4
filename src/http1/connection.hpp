#pragma once

#include <vstream/config.hpp>
#include <vstream/server.hpp>

#include "http1/parser.hpp"
#include "net/transport.hpp"
#include "net/write_queue.hpp"
#include "request/dispatcher.hpp"
#include "request/env.hpp"
#include "request/exchange.hpp"

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace vstream::core {
class DateCache;
class LoopHandoff;
}  // namespace vstream::core

namespace vstream::http1 {

class Connection;

/// What a connection needs from the loop that owns it. Thread: that loop's thread.
class ConnectionHost {
public:
    /// The connection has closed and released its handles; the host frees it now.
    virtual void on_connection_closed(Connection* c) noexcept = 0;

protected:
    ~ConnectionHost() = default;
};

/// Per-loop context shared by every connection of the loop.
struct ConnectionEnv {
    uv_loop_t* loop = nullptr;
    const ServerConfig* config = nullptr;
    const request::Dispatcher* dispatcher = nullptr;  // where requests go (the router); null: 404
    std::shared_ptr<const request::Env> request_env;  // every exchange's limits and file cache
    core::DateCache* date = nullptr;
    std::shared_ptr<core::LoopHandoff> handoff;
    ConnectionHost* host = nullptr;
    std::atomic<std::uint64_t>* requests = nullptr;  // responses sent, for ServerStats
    bool stopping = false;                           // the server is shutting down
};

/// One HTTP/1.1 connection: reads and parses requests, runs the handler for each in turn,
/// writes responses strictly in request order, and enforces the limits and timeouts of
/// ServerConfig. Owned by its host (the loop), which frees it after on_connection_closed.
/// Thread: its loop thread only.
class Connection final : public net::TransportEvents,
                         public ParserEvents,
                         public request::ExchangeOwner {
public:
    Connection(ConnectionEnv& env, std::unique_ptr<net::Transport> transport) noexcept;
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    /// Starts reading. Call once, right after the transport is connected.
    void start();
    /// The server is stopping: close now if idle, otherwise after the current response.
    void on_server_stopping() noexcept;
    /// Closes at once, cancelling any request in flight.
    void abort() noexcept;

    // Intrusive list links, used by the host.
    Connection* prev = nullptr;
    Connection* next = nullptr;

private:
    enum class Phase {
        idle,      // between requests, no byte of the next one yet (keep-alive timeout)
        head,      // reading a request head (header timeout, from its first byte)
        body,      // reading a request body (body stall timeout)
        handling,  // the handler has the request
        sending,   // the head is queued; the response body produces the rest as the client reads
        closing,   // last response queued; flushing, then FIN and drain (linger)
    };

    // net::TransportEvents
    void on_transport_read(const char* data, std::size_t len) override;
    void on_transport_end(int status) override;
    void on_transport_written(int status) override;
    void on_transport_closed() override;
    // ParserEvents
    http::Request& on_request_begin() override;
    bool stream_body(http::Request& request) override;
    int on_request_head(http::Request& request) override;
    int on_request_body(std::string_view bytes) override;
    // ExchangeOwner
    void on_exchange_answered(request::Exchange& x) override;
    void on_body_ready(request::Exchange& x) override;
    void on_body_wanted(request::Exchange& x) override;
    void on_body_refused(request::Exchange& x, int status, std::string_view reason) override;

    void read(const char* data, std::size_t len);
    void process(const char* data, std::size_t len);
    void answer_internal_error(request::Exchange& x);
    void resume();
    void process_pending();
    void dispatch();
    void run_postponed();
    void continue_body();
    void mark_body_read();
    void fail_body(int status, std::string_view reason);
    bool body_flowing() const noexcept;
    std::uint64_t body_due() const noexcept;
    void finish_response();
    void end_response(bool keep);
    void pull_body();
    void on_write_error(int status) noexcept;
    void send_error(int status, std::string_view reason);
    void close_gracefully();
    void flush();
    void maybe_shutdown_write();
    void update_timer();
    void shrink_when_idle() noexcept;
    void on_timeout();
    void drop_exchange(bool cancelled) noexcept;
    void close_handles(bool reset = false) noexcept;
    static void on_timer(uv_timer_t* t);
    std::uint64_t now() const noexcept { return uv_now(env_.loop); }
    bool busy() const noexcept { return phase_ == Phase::handling || phase_ == Phase::sending; }

    ConnectionEnv& env_;
    std::unique_ptr<net::Transport> transport_;
    net::WriteQueue out_;
    RequestParser parser_;
    request::Exchange* exchange_ = nullptr;  // the current request's; reused while unshared
    std::unique_ptr<request::ResponseBody>
        response_body_;             // the body being produced (Phase::sending)
    bool keep_after_body_ = false;  // keep-alive once response_body_ is done
    std::uint64_t pace_due_ = 0;    // when response_body_ asked to be pulled again; 0 = not
    net::PeerName peer_;
    std::string pending_in_;  // received bytes not yet parsed (pipelined behind a request)
    std::string head_;        // response head being formatted
    uv_timer_t timer_{};
    Phase phase_ = Phase::head;
    std::uint64_t head_deadline_ = 0;
    std::uint64_t idle_deadline_ = 0;
    std::uint64_t last_body_read_ = 0;
    std::uint64_t last_write_progress_ = 0;
    std::size_t last_write_pending_ = 0;  // the transport's unsent bytes when last looked at
    std::uint64_t linger_deadline_ = 0;
    std::uint64_t timer_due_ = 0;  // when the timer is armed for; 0 = not armed
    int open_handles_ = 0;
    bool dispatching_ = false;
    bool answered_in_dispatch_ = false;  // a deferred answer came on this thread mid-handler
    bool body_poked_ = false;            // the response body had bytes while a callback ran
    bool body_streaming_ = false;        // a dispatched request's body is still being read
    bool continue_sent_ = false;         // "100 Continue" went out for the current request
    std::uint64_t body_deadline_ = 0;    // the streamed body's whole-body deadline; 0 = none
    bool reading_paused_ = false;
    bool peer_done_ = false;  // the client half-closed (EOF)
    bool write_shut_ = false;
    bool closed_ = false;
};

}  // namespace vstream::http1
