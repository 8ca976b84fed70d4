#include "http1/connection.hpp"

#include "core/date_cache.hpp"
#include "core/decimal.hpp"
#include "http/status.hpp"

#include <cstdio>
#include <exception>
#include <limits>

namespace vstream::http1 {

namespace {

constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

std::uint64_t ms(std::chrono::milliseconds d) noexcept {
    return static_cast<std::uint64_t>(d.count());
}

}  // namespace

Connection::Connection(ConnectionEnv& env, std::unique_ptr<net::Transport> transport) noexcept
    : env_(env),
      transport_(std::move(transport)),
      out_(*transport_, env.config->limits.write_high_water, env.config->limits.write_low_water),
      parser_(*this, env.config->limits) {
    uv_timer_init(env_.loop, &timer_);
    timer_.data = this;
    open_handles_ = 2;  // transport and timer
    transport_->set_events(this);
}

Connection::~Connection() {
    if (exchange_ != nullptr) exchange_->release();
}

void Connection::start() {
    peer_ = transport_->peer();
    phase_ = Phase::head;  // the first request's header timeout runs from accept
    head_deadline_ = now() + ms(env_.config->timeouts.header);
    if (transport_->read_start() != 0) {
        close_handles();
        return;
    }
    update_timer();
}

// ---- reading and parsing ----

void Connection::on_transport_read(const char* data, std::size_t len) {
    try {
        read(data, len);
    } catch (...) {
        abort();  // out of memory: drop this connection, keep the server
    }
}

void Connection::read(const char* data, std::size_t len) {
    if (phase_ == Phase::closing) return;  // draining after the last response
    if (phase_ == Phase::body || body_streaming_) last_body_read_ = now();
    const bool feed_body = body_flowing() && pending_in_.empty();
    if (!feed_body && (busy() || reading_paused_ || !pending_in_.empty())) {
        pending_in_.append(data, len);
        if (body_streaming_) {
            // A streamed body's reader is behind: hold this read only, TCP pushes back.
            if (body_flowing()) {
                continue_body();
            } else {
                transport_->read_stop();
            }
            return;
        }
        if (busy() || reading_paused_) {
            // Hold what is pipelined behind the current request, within bounds.
            const Limits& l = env_.config->limits;
            if (pending_in_.size() >= l.max_request_line + l.max_header_bytes + 64 * 1024) {
                transport_->read_stop();
            }
            return;
        }
        resume();
        return;
    }
    process(data, len);
    if (body_streaming_) mark_body_read();
    flush();
    update_timer();
}

void Connection::mark_body_read() {
    // The stall clock restarts once the reader is done with what it got: time a slow reader
    // spends (the loop's clock is cached from before it ran) is not the client's stall.
    uv_update_time(env_.loop);
    last_body_read_ = now();
}

void Connection::process(const char* data, std::size_t len) {
    bool once = body_streaming_;  // a resumed body may reach its end without a new byte
    while ((len > 0 || once) && phase_ != Phase::closing && !closed_) {
        once = false;
        if (phase_ == Phase::idle) {
            phase_ = Phase::head;  // first byte of the next request: its header clock starts
            head_deadline_ = now() + ms(env_.config->timeouts.header);
        }
        const bool streaming = body_streaming_;
        dispatching_ = streaming;  // a streamed body's reader runs inside feed()
        const ParseResult r = parser_.feed(data, len);
        dispatching_ = false;
        if (r.kind == ParseResult::Kind::error) {
            if (streaming) {
                fail_body(r.status, r.reason);
            } else {
                send_error(r.status, r.reason);
            }
            return;
        }
        if (r.kind == ParseResult::Kind::need_more) {
            if (!streaming && parser_.in_body() && phase_ != Phase::body) {
                phase_ = Phase::body;
                last_body_read_ = now();
            }
            run_postponed();
            return;
        }
        data += r.consumed;
        len -= r.consumed;
        switch (r.kind) {
            case ParseResult::Kind::head:
                // A streaming route: its handler runs now and reads the body itself.
                body_streaming_ = true;
                last_body_read_ = now();
                dispatch();
                break;
            case ParseResult::Kind::complete:
                if (!streaming) {
                    dispatch();
                    break;
                }
                body_streaming_ = false;
                dispatching_ = true;
                try {
                    exchange_->end_body();
                } catch (...) {
                    exchange_->fail_internal();  // on_end threw: 500 unless answered
                }
                dispatching_ = false;
                break;
            case ParseResult::Kind::paused:
            case ParseResult::Kind::need_more:
            case ParseResult::Kind::error: break;
        }
        run_postponed();
        if (closed_) return;
        if (body_flowing()) continue;
        if (phase_ != Phase::idle || reading_paused_ || body_streaming_) {
            // The next request waits for this response (order) or for the writes to drain;
            // a paused body waits for its reader, and TCP pushes back on the client.
            pending_in_.append(data, len);
            if (body_streaming_) transport_->read_stop();
            return;
        }
    }
}

void Connection::run_postponed() {
    // What a callback run inside feed() asked for, done now that the parser is out of it.
    if (closed_) return;
    if (answered_in_dispatch_) {
        answered_in_dispatch_ = false;
        if (phase_ == Phase::handling) finish_response();
    }
    if (body_poked_) {
        body_poked_ = false;
        if (phase_ == Phase::sending && response_body_ && !closed_ &&
            out_.queued() <= env_.config->limits.write_low_water) {
            pull_body();
        }
    }
}

bool Connection::body_flowing() const noexcept {
    return body_streaming_ && exchange_ != nullptr && !exchange_->incoming_body.paused();
}

bool Connection::stream_body(http::Request&) {
    if (env_.dispatcher == nullptr || exchange_ == nullptr) return false;
    try {
        if (!env_.dispatcher->streams_body(*exchange_)) return false;
    } catch (...) {
        return false;  // out of memory routing: buffer it, the router answers later
    }
    const auto declared = parser_.declared_length();
    exchange_->incoming_body.expect(declared ? *declared : request::IncomingBody::kUnknownLength);
    return true;
}

int Connection::on_request_body(std::string_view bytes) {
    if (exchange_ == nullptr) return 500;
    try {
        switch (exchange_->incoming_body.data(bytes)) {
            case request::IncomingBody::Feed::more: return 0;
            case request::IncomingBody::Feed::pause: return ParserEvents::kPauseBody;
            case request::IncomingBody::Feed::too_large: return 413;
        }
    } catch (...) {
        // The reader threw: it broke its contract, and its request fails.
    }
    return 500;
}

void Connection::on_body_wanted(request::Exchange& x) {
    if (&x != exchange_ || closed_ || !body_streaming_ || phase_ == Phase::closing) return;
    if (body_deadline_ == 0) {
        body_deadline_ = now() + static_cast<std::uint64_t>(x.incoming_body.timeout().count());
    }
    // RFC 9110 §10.1.1: the client waits for this before sending the body; only a handler
    // that wants the body asks for it.
    if (!continue_sent_ && x.request.expect_continue && !x.answered) {
        continue_sent_ = true;
        out_.append_copy("HTTP/1.1 100 Continue\r\n\r\n");
        flush();
        if (closed_) return;
    }
    if (dispatching_) return;  // inside the handler or a reader callback: process() goes on
    continue_body();
    if (!closed_) update_timer();
}

void Connection::on_body_refused(request::Exchange& x, int status, std::string_view reason) {
    if (&x != exchange_ || closed_ || !body_streaming_) return;
    fail_body(status, reason);
}

void Connection::continue_body() {
    request::Exchange& x = *exchange_;
    int failed = 0;
    request::IncomingBody::Feed f = request::IncomingBody::Feed::more;
    const bool was_dispatching = dispatching_;
    dispatching_ = true;
    try {
        f = x.incoming_body.deliver_held();
        if (f == request::IncomingBody::Feed::too_large) failed = 413;
    } catch (...) {
        failed = 500;  // the reader threw
    }
    dispatching_ = was_dispatching;
    if (failed != 0) {
        fail_body(failed, failed == 413 ? "request body too large" : "request body refused");
        return;
    }
    run_postponed();
    if (closed_ || !body_streaming_ || f == request::IncomingBody::Feed::pause) return;
    process_pending();
    if (closed_) return;
    if (body_streaming_) mark_body_read();  // from the resume, not from the pause
    if (body_flowing()) {
        if (!peer_done_) transport_->read_start();
    } else if (phase_ == Phase::idle) {
        resume();  // requests pipelined behind the body
    }
    flush();
}

void Connection::fail_body(int status, std::string_view reason) {
    body_streaming_ = false;
    const bool unanswered = phase_ == Phase::handling && status != 0;
    if (exchange_ != nullptr) {
        // The reader learns what the client gets; an answer it sends from on_error is dropped.
        const bool was_dispatching = dispatching_;
        dispatching_ = true;
        exchange_->fail_body(unanswered ? status : 0, reason);
        dispatching_ = was_dispatching;
        answered_in_dispatch_ = false;
    }
    if (!unanswered) {
        close_handles();  // the response is under way: it cannot be replaced
        return;
    }
    drop_exchange(true);  // cancelled: a later answer from the handler is dropped
    send_error(status, reason);
}

void Connection::process_pending() {
    // process() may hold bytes again (in pending_in_), so it works on a swapped-out copy.
    std::string buf;
    buf.swap(pending_in_);
    process(buf.data(), buf.size());
    if (pending_in_.empty()) {
        buf.clear();
        pending_in_.swap(buf);  // keep the capacity
    }
}

void Connection::resume() {
    if (closed_ || phase_ == Phase::closing || busy() || reading_paused_) return;
    if (!pending_in_.empty()) process_pending();
    if (closed_ || phase_ == Phase::closing) return;
    if (peer_done_ && phase_ == Phase::idle && pending_in_.empty()) {
        close_gracefully();
        return;
    }
    if (!busy() && !reading_paused_ && !peer_done_) transport_->read_start();
    flush();
    update_timer();
}

http::Request& Connection::on_request_begin() {
    if (exchange_ != nullptr && !exchange_->unshared()) {
        // A ContextRef still holds the last one: leave it to them and start afresh.
        exchange_->release();
        exchange_ = nullptr;
    }
    if (exchange_ == nullptr) {
        exchange_ =
            new request::Exchange(env_.handoff, env_.request_env, peer_.address, peer_.port);
    }
    exchange_->begin(this);
    body_streaming_ = false;
    continue_sent_ = false;
    body_deadline_ = 0;
    return exchange_->request;
}

int Connection::on_request_head(http::Request& request) {
    // RFC 9110 §10.1.1: ask for the body only once the head has passed every check.
    if (request.expect_continue && parser_.body_expected()) {
        out_.append_copy("HTTP/1.1 100 Continue\r\n\r\n");
        flush();
    }
    return 0;
}

// ---- handling and responding ----

void Connection::dispatch() {
    phase_ = Phase::handling;
    request::Exchange& x = *exchange_;
    dispatching_ = true;
    try {
        if (env_.dispatcher != nullptr) {
            env_.dispatcher->dispatch(x);
        } else {
            x.refuse(404);
        }
    } catch (const std::exception& e) {
        // The last resort (the recovery middleware normally stops it first): log the cause,
        // answer a 500 that reveals nothing of it.
        std::fprintf(stderr, "vstream: handler threw: %s\n", e.what());
        answer_internal_error(x);
    } catch (...) {
        std::fprintf(stderr, "vstream: handler threw a non-standard exception\n");
        answer_internal_error(x);
    }
    dispatching_ = false;
    if (x.deferred) {
        // Another thread may be filling in the answer right now: the response is read only
        // once it is handed over, by on_exchange_answered (or was, on this thread, already).
        if (answered_in_dispatch_) {
            answered_in_dispatch_ = false;
            finish_response();
        }
        return;
    }
    // Returned without deferring: send what it built, even if it did not call send (Gin).
    if (!x.answered) x.answer();
    finish_response();
}

void Connection::on_body_ready(request::Exchange& x) {
    if (&x != exchange_ || phase_ != Phase::sending || !response_body_ || closed_) return;
    if (dispatching_) {
        body_poked_ = true;  // from a body reader's callback: run_postponed() drives it
        return;
    }
    if (out_.queued() > env_.config->limits.write_low_water) return;  // drain pulls it
    pull_body();
    if (!closed_ && phase_ == Phase::idle) resume();
    if (!closed_) update_timer();
}

void Connection::answer_internal_error(request::Exchange& x) {
    // A handler that threw after deferring has broken its contract; its answer is this one
    // (delivered to on_exchange_answered, which leaves it to dispatch() to send).
    x.set_internal_error();
    x.answer();
}

void Connection::on_exchange_answered(request::Exchange& x) {
    if (&x != exchange_ || phase_ != Phase::handling) return;
    if (dispatching_) {
        answered_in_dispatch_ = true;  // dispatch() sends it when the handler returns
        return;
    }
    try {
        finish_response();
        resume();
        flush();
        update_timer();
    } catch (...) {
        abort();  // out of memory: drop this connection, keep the server
    }
}

void Connection::finish_response() {
    request::Exchange& x = *exchange_;
    const http::Request& req = x.request;
    int status = x.status;
    if (status < 200 || status > 999) status = 500;  // 1xx belong to the engine
    const bool has_body = http::status_allows_body(status);
    // A body of unknown length: chunked to HTTP/1.1; to HTTP/1.0 it ends with the connection
    // (RFC 9112 §6.3).
    const bool unknown_length = has_body && x.response_body &&
                                x.response_body->length() == request::ResponseBody::kUnknownLength;
    // Every 400 the engine itself produces ends the connection, as the parser's do (and as
    // nginx does with its own 400s): a request it cannot make sense of (a NUL in the path, a
    // malformed JSON body) says the client, or a proxy before it, frames requests in a way the
    // engine does not, so what is pipelined behind it is not trusted. RFC 9112 §9.6 lets a
    // server close after any response. A handler's own 400 is its application's answer to a
    // request read whole, and keeps the connection.
    const bool refused = status == 400 && x.engine_error;
    // A body not read to its end leaves the framing of the next request unknown.
    const bool keep = req.keep_alive && !x.close_requested && !env_.stopping && !refused &&
                      !(unknown_length && req.http_minor == 0) && !body_streaming_;

    head_.clear();
    head_.append("HTTP/1.1 ");
    core::append_decimal(head_, static_cast<std::uint64_t>(status));
    head_.push_back(' ');
    head_.append(http::reason_phrase(status));
    head_.append("\r\n");
    if (!env_.config->server_name.empty() && !x.server_set) {
        head_.append("Server: ").append(env_.config->server_name).append("\r\n");
    }
    head_.append("Date: ").append(env_.date->now()).append("\r\n");
    head_.append(x.header_block);
    const std::uint64_t body_length = x.response_body ? x.response_body->length() : x.body.size();
    if (unknown_length) {
        if (req.http_minor >= 1) head_.append("Transfer-Encoding: chunked\r\n");
    } else if (has_body) {
        head_.append("Content-Length: ");
        core::append_decimal(head_, body_length);
        head_.append("\r\n");
    }
    if (!keep) {
        head_.append("Connection: close\r\n");
    } else if (req.http_minor == 0) {
        head_.append("Connection: keep-alive\r\n");  // RFC 9112 §9.3: 1.0 must opt in
    }
    head_.append("\r\n");
    out_.append_copy(head_);
    const bool send_body = has_body && !req.is_head;
    x.response_size = send_body && !unknown_length ? static_cast<std::size_t>(body_length) : 0;
    env_.requests->fetch_add(1, std::memory_order_relaxed);
    if (send_body && x.response_body) {
        // The rest comes as the client reads; the next request waits for it.
        response_body_ = std::move(x.response_body);
        keep_after_body_ = keep;
        phase_ = Phase::sending;
        pull_body();
        return;
    }
    x.response_body.reset();
    if (send_body) {
        out_.append(std::move(x.body));
    } else {
        x.body.reset();
    }
    end_response(keep);
}

void Connection::end_response(bool keep) {
    drop_exchange(false);
    if (!keep || env_.stopping) {
        close_gracefully();
        return;
    }
    phase_ = Phase::idle;
    idle_deadline_ = now() + ms(env_.config->timeouts.keep_alive);
    if (pending_in_.empty() && exchange_ != nullptr) {
        // Nothing pipelined: the connection may now wait a long time. Like nginx on
        // keep-alive, it waits without the per-request state (the exchange, about 3 KiB with
        // its buffers), so an idle connection costs little; the next request makes a new one.
        exchange_->release();
        exchange_ = nullptr;
    }
    if (out_.above_high_water()) {
        flush();  // the socket may take it all now
        if (out_.above_high_water()) {
            reading_paused_ = true;  // stop taking requests until the client reads
            transport_->read_stop();
        }
    }
}

void Connection::pull_body() {
    pace_due_ = 0;
    const std::size_t low = env_.config->limits.write_low_water;
    for (int round = 0; response_body_ && !closed_; ++round) {
        if (round == 16) {
            // A client that reads as fast as we write: let the loop's other connections have
            // a turn, and carry on in the next iteration.
            pace_due_ = now();
            return;
        }
        request::Pull p;
        while (response_body_ && out_.queued() <= low) {
            p = response_body_->pull(out_, now());
            if (exchange_ != nullptr &&
                response_body_->length() == request::ResponseBody::kUnknownLength) {
                exchange_->response_size = static_cast<std::size_t>(response_body_->produced());
            }
            if (p.kind == request::Pull::Kind::fail) {
                close_handles();  // cut short: the client sees fewer bytes than announced
                return;
            }
            if (p.kind == request::Pull::Kind::done) {
                response_body_.reset();
                end_response(keep_after_body_);
            }
            if (p.kind != request::Pull::Kind::more) break;  // wait, idle (woken later), done
        }
        if (closed_) return;
        flush();
        if (!response_body_ || closed_ || out_.writing()) return;
        if (p.kind == request::Pull::Kind::idle)
            return;  // the response body wakes us (on_body_ready)
        if (p.kind == request::Pull::Kind::wait) {
            pace_due_ = p.wait_until;
            return;
        }
    }
}

void Connection::drop_exchange(bool cancelled) noexcept {
    if (exchange_ == nullptr) return;
    exchange_->detach(cancelled);
    if (!exchange_->unshared()) {
        exchange_->release();
        exchange_ = nullptr;
    }
}

void Connection::send_error(int status, std::string_view reason) {
    const std::string_view phrase = http::reason_phrase(status);
    const std::string body = http::error_text(status, reason);

    head_.clear();
    head_.append("HTTP/1.1 ");
    core::append_decimal(head_, static_cast<std::uint64_t>(status));
    head_.append(" ").append(phrase).append("\r\n");
    if (!env_.config->server_name.empty()) {
        head_.append("Server: ").append(env_.config->server_name).append("\r\n");
    }
    head_.append("Date: ").append(env_.date->now()).append("\r\n");
    head_.append("Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
    core::append_decimal(head_, body.size());
    // The framing of what follows can no longer be trusted: this is the last response.
    head_.append("\r\nConnection: close\r\n\r\n");
    head_.append(body);
    out_.append_copy(head_);
    close_gracefully();
}

// ---- writing ----

void Connection::flush() {
    if (closed_ || out_.writing()) return;  // the write in flight's completion flushes the rest
    if (out_.idle()) return;
    if (const int rc = out_.flush(); rc != 0) {
        on_write_error(rc);
        return;
    }
    last_write_progress_ = now();
    if (out_.writing()) {
        last_write_pending_ = transport_->write_pending();
        return;
    }
    // All of it went out at once: what on_transport_written does for a completed write, except
    // resuming reads, which only a write still in flight can have paused.
    if (phase_ == Phase::idle) {
        idle_deadline_ = now() + ms(env_.config->timeouts.keep_alive);
        shrink_when_idle();
    }
    if (phase_ == Phase::closing) maybe_shutdown_write();
}

void Connection::shrink_when_idle() noexcept {
    // Everything answered and written, nothing pipelined: the connection may wait a long time
    // (keep-alive), and waits holding no per-request memory; the next request allocates anew.
    if (phase_ != Phase::idle || !out_.idle() || !pending_in_.empty() || exchange_ != nullptr) {
        return;
    }
    out_.shrink();
    std::string().swap(head_);
    std::string().swap(pending_in_);
}

void Connection::on_write_error(int status) noexcept {
    // A fault while the kernel copied from a mapping: a file shrank under its response. The
    // cache stats every file again before serving it, so the broken entry goes at once.
    if (status == UV_EFAULT && env_.request_env) env_.request_env->write_faulted();
    abort();
}

void Connection::on_transport_written(int status) {
    if (const int rc = out_.on_written(status); rc != 0) {
        on_write_error(rc);
        return;
    }
    last_write_progress_ = now();
    last_write_pending_ = transport_->write_pending();
    if (phase_ == Phase::idle && out_.idle()) {
        idle_deadline_ = now() + ms(env_.config->timeouts.keep_alive);  // from the last byte out
        shrink_when_idle();
    }
    if (phase_ == Phase::closing) {
        maybe_shutdown_write();
    } else {
        const bool was_sending = phase_ == Phase::sending;
        if (was_sending && out_.below_low_water()) pull_body();
        if (closed_) return;
        if (reading_paused_ && out_.below_low_water()) {
            reading_paused_ = false;
            resume();
        } else if (was_sending && phase_ == Phase::idle) {
            resume();  // requests pipelined behind the one just sent
        }
    }
    if (!closed_) update_timer();
}

// ---- closing ----

void Connection::close_gracefully() {
    if (closed_ || phase_ == Phase::closing) return;
    phase_ = Phase::closing;
    body_streaming_ = false;  // what is left of a body is drained and dropped
    pending_in_.clear();
    flush();
    if (closed_) return;
    // Keep reading (and discarding) so unread client bytes do not turn our close into a
    // reset that destroys the response before the client reads it.
    if (!peer_done_) transport_->read_start();
    maybe_shutdown_write();
    if (!closed_) update_timer();
}

void Connection::maybe_shutdown_write() {
    if (closed_ || !out_.idle()) return;
    if (peer_done_) {
        close_handles();
        return;
    }
    if (!write_shut_) {
        write_shut_ = true;
        linger_deadline_ = now() + ms(env_.config->timeouts.linger);  // from our FIN
        transport_->shutdown();
    }
}

void Connection::on_transport_end(int status) {
    peer_done_ = true;
    if (status != UV_EOF) {
        abort();  // reset or error: nothing more can be delivered
        return;
    }
    if (body_streaming_) {
        fail_body(400, "connection closed before the request body was complete");
        return;
    }
    switch (phase_) {
        case Phase::closing: maybe_shutdown_write(); break;
        case Phase::sending: break;  // a half-close after the request: the response still goes out
        case Phase::handling:
            // Nothing more pipelined: the client is gone, as Go and nginx see it; cancel the
            // request (the holder is told). With requests pipelined behind, it was a
            // half-close after a batch: answer them all, resume() closes afterwards.
            if (pending_in_.empty()) abort();
            break;
        case Phase::idle:
        case Phase::head:
        case Phase::body:
            if (pending_in_.empty() || phase_ != Phase::idle) {
                close_gracefully();  // nothing left to answer, or a request cut short
            }
            break;
    }
}

void Connection::on_server_stopping() noexcept {
    if (closed_) return;
    const bool waiting = phase_ == Phase::idle ||
                         (phase_ == Phase::head && !parser_.in_request());  // nothing received
    if (waiting && pending_in_.empty()) {
        if (out_.idle()) {
            close_handles();
        } else {
            close_gracefully();
        }
    }
    // Otherwise the request in progress finishes; its response carries Connection: close.
}

void Connection::abort() noexcept { close_handles(); }

void Connection::close_handles(bool reset) noexcept {
    if (closed_) return;
    closed_ = true;
    body_streaming_ = false;
    response_body_.reset();
    if (exchange_ != nullptr) {
        // Unanswered (handling) means cancelled: tell any holder, drop any late answer.
        exchange_->detach(phase_ == Phase::handling);
        exchange_->release();
        exchange_ = nullptr;
    }
    uv_timer_stop(&timer_);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
        auto* self = static_cast<Connection*>(h->data);
        if (--self->open_handles_ == 0) self->env_.host->on_connection_closed(self);
    });
    if (reset) {
        transport_->reset();
    } else {
        transport_->close();
    }
}

void Connection::on_transport_closed() {
    out_.clear();  // the write in flight (if any) was cancelled; release its buffers
    if (--open_handles_ == 0) env_.host->on_connection_closed(this);
}

// ---- timeouts ----

void Connection::update_timer() {
    if (closed_) return;
    const Timeouts& t = env_.config->timeouts;
    std::uint64_t due = kNever;
    if (!out_.idle()) due = last_write_progress_ + ms(t.write);
    // Every deadline counted here is one on_timeout() acts on once passed, so the timer can
    // never fire again and again for nothing. While a response is being written only the
    // write timeout runs: the keep-alive and linger clocks start once it is out.
    switch (phase_) {
        case Phase::idle:
            if (out_.idle()) due = std::min(due, idle_deadline_);
            break;
        case Phase::head: due = std::min(due, head_deadline_); break;
        case Phase::body: due = std::min(due, last_body_read_ + ms(t.body_read)); break;
        case Phase::closing:
            if (write_shut_) due = std::min(due, linger_deadline_);
            break;
        case Phase::handling:  // the handler's business; only a streamed body has deadlines
            due = std::min(due, body_due());
            break;
        case Phase::sending:
            if (pace_due_ != 0) due = std::min(due, pace_due_);
            due = std::min(due, body_due());
            break;
    }
    if (due == kNever) {
        if (timer_due_ != 0) {
            uv_timer_stop(&timer_);
            timer_due_ = 0;
        }
        return;
    }
    // Armed for an earlier moment already: it re-checks when it fires. This keeps timer
    // operations off the per-request path of a busy keep-alive connection.
    if (timer_due_ != 0 && timer_due_ <= due) return;
    const std::uint64_t n = now();
    uv_timer_start(&timer_, &on_timer, due > n ? due - n : 0, 0);
    timer_due_ = due;
}

std::uint64_t Connection::body_due() const noexcept {
    if (!body_streaming_) return kNever;
    std::uint64_t due = body_deadline_ != 0 ? body_deadline_ : kNever;
    // The stall clock runs only while we read; a reader that paused is the handler's business.
    if (body_flowing()) due = std::min(due, last_body_read_ + ms(env_.config->timeouts.body_read));
    return due;
}

void Connection::on_timer(uv_timer_t* t) {
    auto* self = static_cast<Connection*>(t->data);
    self->timer_due_ = 0;
    self->on_timeout();
    if (!self->closed_) self->update_timer();
}

void Connection::on_timeout() {
    const Timeouts& t = env_.config->timeouts;
    const std::uint64_t n = now();
    if (!out_.idle() && n >= last_write_progress_ + ms(t.write)) {
        // One large write may take longer than the timeout to a slow reader: what counts is
        // whether the kernel took any of it since we last looked.
        const std::size_t pending = transport_->write_pending();
        if (pending < last_write_pending_) {
            last_write_pending_ = pending;
            last_write_progress_ = n;
        } else {
            // The client stopped reading: reset, so the kernel drops what it never took.
            close_handles(true);
            return;
        }
    }
    if (body_streaming_ && n >= body_due()) {
        const bool stalled = body_flowing() && n >= last_body_read_ + ms(t.body_read);
        fail_body(408, stalled ? "request body stalled" : "request body not received in time");
        return;
    }
    switch (phase_) {
        case Phase::idle:
            if (n >= idle_deadline_ && out_.idle()) close_handles();
            break;
        case Phase::head:
            if (n >= head_deadline_) {
                if (parser_.in_request()) {
                    send_error(408, "request head not received in time");
                } else {
                    close_handles();  // nothing received: nothing to answer
                }
            }
            break;
        case Phase::body:
            if (n >= last_body_read_ + ms(t.body_read)) {
                send_error(408, "request body stalled");
            }
            break;
        case Phase::closing:
            if (write_shut_ && n >= linger_deadline_) close_handles();
            break;
        case Phase::sending:
            if (pace_due_ != 0 && n >= pace_due_) {
                pull_body();
                if (!closed_ && phase_ == Phase::idle) resume();
            }
            break;
        case Phase::handling: break;
    }
}

}  // namespace vstream::http1
