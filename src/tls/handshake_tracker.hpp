// The handshakes under way on one loop: their deadline (TlsOptions::handshake_timeout), the
// server-wide cap on how many run at once (TlsOptions::max_handshakes), and the counters
// their outcomes go to.
#pragma once

#include "core/uv_handle.hpp"
#include "tls/tls_counters.hpp"

#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace vstream::tls {

class HandshakeTracker;

/// A handshake the tracker times: the TLS transport, told when its time is up.
class PendingHandshake {
public:
    /// The deadline passed: fail the handshake and end the connection. The tracker has
    /// already forgotten this handshake.
    virtual void on_handshake_timeout() noexcept = 0;

protected:
    ~PendingHandshake() = default;

private:
    friend class HandshakeTracker;
    PendingHandshake* prev_ = nullptr;
    PendingHandshake* next_ = nullptr;
    std::uint64_t deadline_ = 0;  // uv_now milliseconds
    bool tracked_ = false;
};

/// One per loop with TLS listeners. All handshakes share one timeout, so they are timed in a
/// FIFO list with one timer armed for the oldest: O(1) to add and to remove.
/// Thread: its loop thread only (`in_progress` is shared with the other loops).
class HandshakeTracker {
public:
    /// `in_progress` counts the server's handshakes under way over all loops, held under
    /// `max`; `counters` are this loop's. Both outlive the tracker. Throws Error if the timer
    /// cannot be made.
    HandshakeTracker(uv_loop_t* loop, std::chrono::milliseconds timeout, std::size_t max,
                     std::atomic<std::size_t>* in_progress, TlsCounters* counters);
    ~HandshakeTracker();
    HandshakeTracker(const HandshakeTracker&) = delete;
    HandshakeTracker& operator=(const HandshakeTracker&) = delete;

    /// Takes a place for a new handshake, if fewer than the cap run; false (counted as
    /// refused_busy) if not: then close the connection without starting it.
    bool admit() noexcept;
    /// Gives back a place admit() gave that no handshake took (making its transport failed).
    void release() noexcept { in_progress_->fetch_sub(1, std::memory_order_relaxed); }
    /// Starts timing `h`, which admit() let in.
    void begin(PendingHandshake* h) noexcept;
    /// `h` ended (done, failed or closed): its place goes back. Idempotent.
    void end(PendingHandshake* h) noexcept;

    /// This loop's counters.
    TlsCounters& counters() noexcept { return *counters_; }
    /// What a plain HTTP request on a TLS port is answered with (RFC 9110 §15.5.1: a 400, as
    /// nginx answers it), whole, with "Connection: close".
    const std::string& plain_http_reply() const noexcept { return plain_http_reply_; }
    /// Sets that reply (the server words it as its other errors).
    void set_plain_http_reply(std::string reply) { plain_http_reply_ = std::move(reply); }

    /// Closes the timer (the loop must run once more). The handshakes still tracked are
    /// forgotten, their places given back. Idempotent.
    void close() noexcept;

private:
    static void on_timer(uv_timer_t* t);
    void arm() noexcept;

    uv_loop_t* loop_;
    std::uint64_t timeout_ms_;
    std::size_t max_;
    std::atomic<std::size_t>* in_progress_;
    TlsCounters* counters_;
    core::UvHandle<uv_timer_t> timer_;
    PendingHandshake* head_ = nullptr;  // oldest first
    PendingHandshake* tail_ = nullptr;
    std::string plain_http_reply_;
};

}  // namespace vstream::tls
