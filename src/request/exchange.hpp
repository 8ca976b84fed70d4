#pragma once

#include <vstream/body.hpp>
#include <vstream/context.hpp>

#include "http/query.hpp"
#include "http/request.hpp"
#include "request/env.hpp"
#include "request/incoming_body.hpp"
#include "request/response_body.hpp"
#include "router/match.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace vstream::core {
class LoopHandoff;
}

namespace vstream::request {

class Exchange;

/// A JSON parser and its last document (defined in src/request/json.cpp, so simdjson stays
/// out of this header).
struct JsonDocument;
struct JsonDocumentDeleter {
    void operator()(JsonDocument* d) const noexcept;
};

/// The side of the engine that sends an exchange's response (the connection).
class ExchangeOwner {
public:
    /// A deferred exchange was answered. Thread: the owner's loop thread.
    virtual void on_exchange_answered(Exchange& x) = 0;
    /// The exchange's idle response body has bytes again. Thread: the owner's loop thread.
    virtual void on_body_ready(Exchange& x) { (void)x; }
    /// The streamed body's reader wants bytes (read_body, resume_body). Loop thread.
    virtual void on_body_wanted(Exchange& x) { (void)x; }
    /// The streamed body is refused (413 from its Content-Length): answer `status`, close.
    virtual void on_body_refused(Exchange& x, int status, std::string_view reason) {
        (void)x, (void)status, (void)reason;
    }

protected:
    ~ExchangeOwner() = default;
};

/// One request and its response: the object behind the public Context. Reference-counted:
/// the connection holds one reference while the exchange is current, each ContextRef one
/// more. A connection reuses its exchange for the next request when no one else holds it,
/// so a keep-alive connection allocates nothing per request.
class Exchange final : public Context {
public:
    /// `env` is what every request of the server shares (limits, file cache): never null.
    Exchange(std::shared_ptr<core::LoopHandoff> handoff, std::shared_ptr<const Env> env,
             std::string_view peer_address, std::uint16_t peer_port);
    ~Exchange();

    static Exchange& of(Context& c) noexcept { return static_cast<Exchange&>(c); }
    static const Exchange& of(const Context& c) noexcept { return static_cast<const Exchange&>(c); }

    /// Prepares for a new request owned by `owner`.
    void begin(ExchangeOwner* owner) noexcept;
    /// The connection let go of this exchange (answered, or closed). If it was not answered,
    /// it is cancelled: holders are told, and a later send() is dropped.
    void detach(bool cancelled) noexcept;

    void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
    /// Drops a reference; deletes the exchange on the last one.
    void release() noexcept;
    /// True when only the connection holds it (it can be reused).
    bool unshared() const noexcept { return refs_.load(std::memory_order_acquire) == 1; }

    // Response state, read by the connection once answered.
    http::Request request;
    int status = 200;
    std::string header_block;  // "Name: value\r\n" lines set by the handler
    Body body;
    std::unique_ptr<ResponseBody>
        response_body;             // instead of body: pulled as the connection drains
    bool close_requested = false;  // the handler set "Connection: close"
    // The engine chose this answer's status itself, refusing the request (set_error: a path
    // the router or the static handler cannot serve, a malformed JSON body), not the handler.
    // A 400 so marked is the connection's last (Connection::finish_response).
    bool engine_error = false;
    bool server_set = false;  // the handler set its own Server header
    // Set (release) by whichever thread answers, once the response fields are filled in; the
    // loop reads the fields of a deferred exchange only after the handoff hands it over.
    std::atomic<bool> answered{false};
    bool deferred = false;  // loop thread only

    router::Match match;           // routing: written by the router only (loop thread)
    http::QueryPairs query_pairs;  // parsed on first use
    bool query_parsed = false;
    std::vector<std::function<void(Context&)>> finish_hooks;
    std::size_t response_size = 0;
    std::string request_id;
    std::string traceparent;
    std::unique_ptr<JsonDocument, JsonDocumentDeleter> json;  // made on first json_body()

    // A body read as it arrives (read_body). Loop thread.
    IncomingBody incoming_body;

    /// Starts reading the body into `reader` (Context::read_body, on the loop thread).
    void start_body(BodyReader reader);
    /// The reader asked for more (Context::resume_body, on the loop thread).
    void resume_body();
    /// The whole body arrived: on_end, then the reader's hold on the context ends.
    void end_body();
    /// The body cannot be read to its end: on_error(status, reason), then the hold ends.
    void fail_body(int status, std::string_view reason) noexcept;

    /// Runs `fn` on the loop thread (now, if called there), while the connection still holds
    /// this exchange; an exception from it answers 500. Any thread.
    void run_on_loop(std::function<void()> fn);
    /// Whether the caller is on this exchange's loop thread.
    bool on_loop_thread() const noexcept;
    /// Whether a connection still holds it (false once detached: closed or answered). Loop
    /// thread.
    bool attached() const noexcept { return owner_ != nullptr; }
    /// Tells the owner, on its loop thread, that the response body has bytes again. Any thread.
    void body_ready();
    /// Answers 500 unless answered; for exceptions that escape handler code.
    void fail_internal() noexcept;
    /// Fills in a 500 answer that reveals nothing (does not deliver it).
    void set_internal_error();
    /// Fills in the engine's own error answer (does not deliver it): `status`, a text/plain
    /// body worded by http::error_text, and engine_error. Headers set so far stay (Allow,
    /// Content-Range, Retry-After); a body or response body set so far goes.
    void set_error(int status, std::string_view detail = {});
    /// Answers with set_error's answer, unless already answered: how the engine refuses a
    /// request it cannot serve (no route, bad path, body too large). Loop thread.
    void refuse(int status, std::string_view detail = {});

    /// The response fields are complete: marks the exchange answered and hands it over, at
    /// once to the connection (from any thread) when deferred, else when the handler returns.
    /// The one way every answer ends. Not for an exchange already answered.
    void answer() noexcept;

    // Used by the Context/ContextRef implementation.
    void holder_added() noexcept { holders_.fetch_add(1, std::memory_order_relaxed); }
    void holder_dropped() noexcept;
    bool cancelled() const noexcept { return cancelled_.load(std::memory_order_acquire); }
    void on_cancel(std::function<void()> fn);
    void set_header_line(std::string_view name, std::string_view value, bool replace);
    std::string_view peer_address() const noexcept { return {peer_, peer_len_}; }
    /// The server's shared limits and file cache.
    const Env& env() const noexcept { return *env_; }
    std::uint16_t peer_port() const noexcept { return peer_port_; }

private:
    void deliver() noexcept;  // hands an answered deferred exchange to its owner

    std::shared_ptr<core::LoopHandoff> handoff_;
    std::shared_ptr<const Env> env_;
    ExchangeOwner* owner_ = nullptr;  // loop thread only; null once detached
    std::atomic<int> refs_{1};
    std::atomic<int> holders_{0};
    std::atomic<bool> cancelled_{false};
    std::mutex cancel_mutex_;
    std::function<void()> cancel_fn_;
    char peer_[64] = {};
    std::size_t peer_len_ = 0;
    std::uint16_t peer_port_ = 0;
    bool body_hold_ = false;         // read_body holds the context until the body is over
    bool buffered_end_due_ = false;  // a buffered body's reader paused before on_end
};

}  // namespace vstream::request
