#include "tls/handshake_tracker.hpp"

#include <vstream/error.hpp>

#include <string>

namespace vstream::tls {

void TlsCounters::add_to(TlsStats& into) const noexcept {
    const auto get = [](const std::atomic<std::uint64_t>& c) {
        return c.load(std::memory_order_relaxed);
    };
    into.handshakes += get(handshakes);
    into.resumed += get(resumed);
    into.in_progress += get(in_progress);
    into.failed_timeout += get(failed[static_cast<int>(HandshakeFailure::timeout)]);
    into.failed_version += get(failed[static_cast<int>(HandshakeFailure::version)]);
    into.failed_certificate += get(failed[static_cast<int>(HandshakeFailure::certificate)]);
    into.failed_plain_http += get(failed[static_cast<int>(HandshakeFailure::plain_http)]);
    into.failed_closed += get(failed[static_cast<int>(HandshakeFailure::closed)]);
    into.failed_protocol += get(failed[static_cast<int>(HandshakeFailure::protocol)]);
    into.refused_busy += get(refused_busy);
    into.ktls_connections += get(ktls_connections);
    into.userspace_connections += get(userspace_connections);
    into.ktls_sendfile_bytes += get(ktls_sendfile_bytes);
    into.truncated_reads += get(truncated_reads);
}

HandshakeTracker::HandshakeTracker(uv_loop_t* loop, std::chrono::milliseconds timeout,
                                   std::size_t max, std::atomic<std::size_t>* in_progress,
                                   TlsCounters* counters)
    : loop_(loop),
      timeout_ms_(static_cast<std::uint64_t>(timeout.count())),
      max_(max),
      in_progress_(in_progress),
      counters_(counters) {
    if (const int rc = timer_.init([loop](uv_timer_t* t) { return uv_timer_init(loop, t); }, this);
        rc != 0) {
        throw Error(errc::io_error, std::string("uv_timer_init: ") + uv_strerror(rc));
    }
    uv_unref(timer_.base());  // only the connections keep the loop alive
}

HandshakeTracker::~HandshakeTracker() { close(); }

bool HandshakeTracker::admit() noexcept {
    if (in_progress_->fetch_add(1, std::memory_order_relaxed) >= max_) {
        in_progress_->fetch_sub(1, std::memory_order_relaxed);
        TlsCounters::bump(counters_->refused_busy);
        return false;
    }
    return true;
}

void HandshakeTracker::begin(PendingHandshake* h) noexcept {
    h->tracked_ = true;
    h->deadline_ = uv_now(loop_) + timeout_ms_;
    h->next_ = nullptr;
    h->prev_ = tail_;
    if (tail_ != nullptr) {
        tail_->next_ = h;
    } else {
        head_ = h;
    }
    tail_ = h;
    TlsCounters::bump(counters_->in_progress);
    if (head_ == h) arm();
}

void HandshakeTracker::end(PendingHandshake* h) noexcept {
    if (!h->tracked_) return;
    h->tracked_ = false;
    const bool was_head = head_ == h;
    if (h->prev_ != nullptr) h->prev_->next_ = h->next_;
    if (h->next_ != nullptr) h->next_->prev_ = h->prev_;
    if (head_ == h) head_ = h->next_;
    if (tail_ == h) tail_ = h->prev_;
    h->prev_ = h->next_ = nullptr;
    in_progress_->fetch_sub(1, std::memory_order_relaxed);
    counters_->in_progress.store(counters_->in_progress.load(std::memory_order_relaxed) - 1,
                                 std::memory_order_relaxed);
    if (was_head) arm();
}

void HandshakeTracker::arm() noexcept {
    if (!timer_) return;
    if (head_ == nullptr) {
        uv_timer_stop(timer_.get());
        return;
    }
    const std::uint64_t now = uv_now(loop_);
    uv_timer_start(timer_.get(), &on_timer, head_->deadline_ > now ? head_->deadline_ - now : 0, 0);
}

void HandshakeTracker::on_timer(uv_timer_t* t) {
    auto* self = static_cast<HandshakeTracker*>(t->data);
    const std::uint64_t now = uv_now(self->loop_);
    while (self->head_ != nullptr && self->head_->deadline_ <= now) {
        PendingHandshake* h = self->head_;
        self->end(h);  // rearms for the next one
        h->on_handshake_timeout();
    }
}

void HandshakeTracker::close() noexcept {
    while (head_ != nullptr) end(head_);
    timer_.close();
}

}  // namespace vstream::tls
