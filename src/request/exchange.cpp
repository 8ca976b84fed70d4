#include "request/exchange.hpp"

#include <vstream/headers.hpp>

#include "core/loop_handoff.hpp"
#include "http/status.hpp"

#include <algorithm>
#include <cstring>

namespace vstream::request {

namespace {

// A counted pointer for carrying an exchange through the loop handoff: the reference is
// released however the task ends, run or dropped unrun at shutdown.
class ExchangePtr {
public:
    explicit ExchangePtr(Exchange* x) noexcept : x_(x) { x_->add_ref(); }
    ExchangePtr(const ExchangePtr& o) noexcept : x_(o.x_) { x_->add_ref(); }
    ExchangePtr& operator=(const ExchangePtr&) = delete;
    ~ExchangePtr() { x_->release(); }
    Exchange* operator->() const noexcept { return x_; }

private:
    Exchange* x_;
};

}  // namespace

Exchange::Exchange(std::shared_ptr<core::LoopHandoff> handoff, std::shared_ptr<const Env> env,
                   std::string_view peer_address, std::uint16_t peer_port)
    : handoff_(std::move(handoff)), env_(std::move(env)), peer_port_(peer_port) {
    peer_len_ = std::min(peer_address.size(), sizeof peer_);
    std::memcpy(peer_, peer_address.data(), peer_len_);
}

Exchange::~Exchange() = default;

void Exchange::begin(ExchangeOwner* owner) noexcept {
    owner_ = owner;
    status = 200;
    header_block.clear();
    body.reset();
    response_body.reset();
    close_requested = false;
    engine_error = false;
    server_set = false;
    answered = false;
    match.reset();
    query_parsed = false;
    finish_hooks.clear();
    response_size = 0;
    request_id.clear();
    traceparent.clear();
    deferred = false;
    incoming_body.reset();
    body_hold_ = false;
    buffered_end_due_ = false;
    cancelled_.store(false, std::memory_order_relaxed);
    holders_.store(0, std::memory_order_relaxed);
    std::lock_guard lock(cancel_mutex_);
    cancel_fn_ = nullptr;
}

void Exchange::release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        delete this;  // intrusive count: the last holder frees it
    }
}

void Exchange::detach(bool cancelled) noexcept {
    owner_ = nullptr;
    // Unsent: a stream's producer is told (it holds a reference on us). Only an answer that is
    // complete: one still being built on another thread may be setting `response_body` right now;
    // it reaches deliver(), which closes it here on the loop since no owner takes it.
    if (answered.load(std::memory_order_acquire)) response_body.reset();
    if (!cancelled) {
        // Answered: a cancel callback can never run now. Let it go (and what it holds, which
        // may be a reference on this very exchange) instead of keeping it until reuse.
        std::function<void()> unused;
        {
            std::lock_guard lock(cancel_mutex_);
            unused.swap(cancel_fn_);
        }
    }
    if (cancelled) {
        std::function<void()> fn;
        {
            std::lock_guard lock(cancel_mutex_);
            cancelled_.store(true, std::memory_order_release);
            fn.swap(cancel_fn_);
        }
        if (fn) fn();
    }
    // A body still being read is over too; its reader cleans up (after the cancel above, so
    // the end of its hold does not answer for a request that is gone).
    fail_body(0, answered ? "the response was sent before the request body was read"
                          : "the connection closed before the request body was read");
    // The request is over either way: finish hooks (access log, metrics) run once.
    std::vector<std::function<void(Context&)>> hooks;
    hooks.swap(finish_hooks);
    for (auto& hook : hooks) {
        try {
            hook(*this);
        } catch (...) {
            // A logging hook must not take the connection down.
        }
    }
}

void Exchange::start_body(BodyReader reader) {
    if (owner_ == nullptr || body_hold_ || incoming_body.has_reader() || incoming_body.finished() ||
        answered) {
        if (reader.on_error)
            reader.on_error(0, "read_body: the body was already read, or the request answered");
        return;
    }
    deferred = true;  // answered from on_end, or later
    body_hold_ = true;
    holder_added();
    const bool fits = incoming_body.set_reader(
        std::move(reader), env_->limits.max_stream_body_bytes, env_->timeouts.stream_body);
    if (incoming_body.expected()) {
        if (!fits) {
            if (owner_ != nullptr) owner_->on_body_refused(*this, 413, "request body too large");
            return;
        }
        if (owner_ != nullptr) owner_->on_body_wanted(*this);
        return;
    }
    // A buffered body (or none): hand it over whole.
    if (request.body.size() > incoming_body.max_bytes()) {
        refuse(413, "request body too large");
        fail_body(413, "request body too large");
        return;
    }
    if (incoming_body.data(request.body) == IncomingBody::Feed::pause) {
        buffered_end_due_ = true;  // on_end waits for resume_body()
        return;
    }
    end_body();
}

void Exchange::resume_body() {
    if (buffered_end_due_) {
        buffered_end_due_ = false;
        end_body();
        return;
    }
    if (incoming_body.resume() && owner_ != nullptr) owner_->on_body_wanted(*this);
}

void Exchange::end_body() {
    if (!body_hold_) return;
    try {
        incoming_body.end();
    } catch (...) {
        body_hold_ = false;
        holder_dropped();
        throw;
    }
    body_hold_ = false;
    holder_dropped();  // unanswered now: 500, as for a dropped ContextRef
}

void Exchange::fail_body(int status, std::string_view reason) noexcept {
    incoming_body.fail(status, reason);
    if (!body_hold_) return;
    body_hold_ = false;
    holder_dropped();
}

bool Exchange::on_loop_thread() const noexcept { return handoff_->on_loop_thread(); }

void Exchange::run_on_loop(std::function<void()> fn) {
    auto guarded = [x = ExchangePtr(this), fn = std::move(fn)]() {
        if (x->owner_ == nullptr) return;  // closed meanwhile: nothing may run
        try {
            fn();
        } catch (...) {
            x->fail_internal();
        }
    };
    if (on_loop_thread()) {
        guarded();
    } else {
        handoff_->post(std::move(guarded));
    }
}

void Exchange::body_ready() {
    try {
        run_on_loop([this] {
            if (owner_ != nullptr) owner_->on_body_ready(*this);
        });
    } catch (...) {
        // Out of memory posting: the stream stalls until the next write or its timeout.
    }
}

void Exchange::set_internal_error() {
    header_block.clear();
    set_error(500);
}

void Exchange::set_error(int code, std::string_view detail) {
    status = code;
    engine_error = true;
    response_body.reset();
    set_header_line("Content-Type", "text/plain; charset=utf-8", true);
    body = Body(http::error_text(code, detail));
}

void Exchange::refuse(int code, std::string_view detail) {
    if (answered) return;
    set_error(code, detail);
    answer();
}

void Exchange::fail_internal() noexcept {
    if (answered) return;
    try {
        set_internal_error();
    } catch (...) {
        status = 500;  // out of memory: an empty 500 still ends the request
    }
    answer();
}

void Exchange::on_cancel(std::function<void()> fn) {
    {
        std::lock_guard lock(cancel_mutex_);
        if (!cancelled_.load(std::memory_order_acquire)) {
            cancel_fn_ = std::move(fn);
            return;
        }
    }
    if (fn) fn();
}

void Exchange::answer() noexcept {
    answered = true;
    // A synchronous answer is picked up by the connection when the handler returns.
    if (deferred) deliver();
}

void Exchange::deliver() noexcept {
    if (handoff_->on_loop_thread()) {
        if (owner_ != nullptr) {
            owner_->on_exchange_answered(*this);
        } else {
            response_body
                .reset();  // no connection will take it: close it (a stream's on_close runs)
        }
        return;
    }
    // From another thread: carry the completion to the loop. If the loop is gone (server
    // stopped), the task is dropped and the exchange was already cancelled.
    try {
        handoff_->post([x = ExchangePtr(this)]() {
            if (x->owner_ != nullptr) {
                x->owner_->on_exchange_answered(*x.operator->());
            } else {
                x->response_body.reset();  // the connection went: close it, on the loop thread
            }
        });
    } catch (...) {
        // Out of memory queueing it: the answer is lost; the connection is closed by the
        // server's stop, or when the client gives up.
    }
}

void Exchange::holder_dropped() noexcept {
    if (holders_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (answered || cancelled()) return;
    // Every holder let go without answering: answer for them rather than hang the client.
    header_block.clear();
    try {
        set_error(500, "the request was dropped unanswered");
    } catch (...) {
        status = 500;  // out of memory: an empty 500 still ends the request
        body.reset();
    }
    answer();
}

void Exchange::set_header_line(std::string_view name, std::string_view value, bool replace) {
    if (replace) {
        // Remove every existing line of that name ("Name: value\r\n").
        std::size_t pos = 0;
        while (pos < header_block.size()) {
            const std::size_t eol = header_block.find("\r\n", pos);
            const std::size_t colon = header_block.find(':', pos);
            if (colon != std::string::npos && colon < eol &&
                iequals(std::string_view(header_block).substr(pos, colon - pos), name)) {
                header_block.erase(pos, eol + 2 - pos);
            } else {
                pos = eol + 2;
            }
        }
    }
    header_block.append(name).append(": ").append(value).append("\r\n");
}

}  // namespace vstream::request
