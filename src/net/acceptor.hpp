#pragma once

#include "core/uv_handle.hpp"
#include "net/listener.hpp"

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <shared_mutex>

namespace vstream::net {

/// Told what an Acceptor took from its listening socket. Its callbacks run on the loop; they
/// may close the acceptor but not destroy it.
class AcceptEvents {
public:
    /// A new connection: `fd` is a non-blocking, close-on-exec socket, now the callee's.
    virtual void on_accepted(int fd) noexcept = 0;
    /// A connection taken with the reserve descriptor while descriptors have run out, to be
    /// answered without reading (a 503); the acceptor closes `fd` after the call.
    virtual void on_refused(int fd) noexcept = 0;
    /// accept(2) failed with `err` (a libuv error: UV_EMFILE, UV_ENFILE, UV_ENOMEM, ...), so
    /// the acceptor has stopped accepting until its back-off ends; `refused` connections were
    /// refused (on_refused) just before.
    virtual void on_accept_paused(int err, std::size_t refused) noexcept = 0;

protected:
    ~AcceptEvents() = default;
};

/// Shared by the acceptors of one server's loops. A refusal holds it exclusively from giving up
/// its reserve descriptor until it has it back, and every other accept and reserve retake holds
/// it shared, so the descriptor one loop frees to refuse with is not taken by a sibling loop's
/// accept (the lowest free descriptor goes to whoever asks first). Never waited for: a loop
/// that cannot have it tries again later, so no loop blocks on another.
using AcceptGate = std::shared_mutex;

/// Accepts the connections of one listening socket on a loop, with accept4(2) from a poll
/// handle instead of uv_listen(), so that running out of descriptors cannot stall the loop.
///
/// libuv's answer to EMFILE (uv__emfile_trick) closes a reserve descriptor, accepts and closes
/// what is pending, and takes the reserve back; when another thread takes the freed descriptor
/// first, the loop is left without a reserve and calls accept in a loop that never returns to
/// its timers (the listener stays readable, and every accept fails). Here, as in nginx, a failed
/// accept stops the polling for `backoff` instead, while the loop goes on serving and closing
/// its connections; with EMFILE or ENFILE the pending connections are first taken with this
/// acceptor's own reserve descriptor and refused, so clients get an answer, not silence. Only
/// a thread outside the server can still take the freed descriptor first; then the connections
/// wait in the backlog until descriptors free up.
/// Thread: its loop's only (the gate is what it shares).
class Acceptor {
public:
    /// Takes `socket` (listening) and watches it on `loop`; a reserve descriptor is opened now,
    /// while descriptors are free (without one, connections wait in the backlog while paused).
    /// `gate` is shared with the server's other acceptors, and outlives this one; nullptr for
    /// an acceptor alone. Throws Error if the socket cannot be watched.
    Acceptor(uv_loop_t* loop, ListenSocket socket, std::chrono::milliseconds backoff,
             AcceptEvents* events, AcceptGate* gate = nullptr);
    /// Closes, if close() has not run.
    ~Acceptor();
    Acceptor(const Acceptor&) = delete;
    Acceptor& operator=(const Acceptor&) = delete;

    /// Stops accepting and closes the socket, whose pending connections the kernel resets; no
    /// callback follows. The handles go with the loop's next run. Idempotent.
    void close() noexcept;

    /// Whether accepting is paused for the back-off.
    bool paused() const noexcept { return paused_; }
    /// Whether the reserve descriptor is held (it is retaken when the back-off ends).
    bool has_reserve() const noexcept { return reserve_ >= 0; }

private:
    /// Accepts at most this many per readiness report, so timers and reads get their turn
    /// during a flood (the socket stays readable, and the poll reports it again).
    static constexpr int kAcceptsPerTurn = 64;
    /// Refuses at most this many with the reserve at once (nginx's default backlog is 511).
    static constexpr std::size_t kRefusalsPerPause = 512;

    static void on_poll(uv_poll_t* poll, int status, int events);
    static void on_backoff_end(uv_timer_t* timer);
    void accept_ready() noexcept;
    void pause(int err) noexcept;
    std::size_t refuse_pending() noexcept;
    void resume() noexcept;
    int accept_shared() noexcept;

    int fd_;
    core::UvHandle<uv_poll_t> poll_;    // watches the listening socket
    core::UvHandle<uv_timer_t> timer_;  // the back-off
    int reserve_ = -1;
    std::chrono::milliseconds backoff_;
    AcceptEvents* events_;
    AcceptGate* gate_;
    bool paused_ = false;
};

}  // namespace vstream::net
