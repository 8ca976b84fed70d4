#pragma once

#include "core/uv_handle.hpp"

#include <sys/epoll.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>

namespace vstream::net {

/// Told that a descriptor registered with an EdgePoller may have become readable (or
/// writable, if watched for that).
class EdgeWatcher {
public:
    /// `events` are epoll's bits for it (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLPRI, EPOLLHUP,
    /// EPOLLERR): with any but EPOLLIN, a short read does not mean the socket is drained. It is
    /// told again only when more arrives, or after EdgePoller::rearm().
    virtual void on_edge(std::uint32_t events) noexcept = 0;

protected:
    ~EdgeWatcher() = default;
};

/// Read readiness for a loop's connections, edge-triggered, in the order data arrived.
///
/// libuv watches descriptors level-triggered, and a level-triggered epoll puts every
/// descriptor it has just reported back on its ready list: a connection served in one batch
/// comes first in the next, ahead of connections whose requests arrived earlier. Under load
/// that unfairness is a bump at p98-p99 (against nginx, p99 1.12x with libuv's reads and
/// 0.99x with these on 2026-12-07; see docs/benchmarks.md). This keeps a second epoll set,
/// edge-triggered, whose ready list is in arrival order; the loop watches that set's
/// descriptor like any other.
/// Thread: its loop thread only.
class EdgePoller {
public:
    /// Creates the set and its watcher on `loop`. Throws Error on failure.
    explicit EdgePoller(uv_loop_t* loop);
    ~EdgePoller();
    EdgePoller(const EdgePoller&) = delete;
    EdgePoller& operator=(const EdgePoller&) = delete;

    /// What a descriptor is watched for: reads only, or also the socket becoming writable
    /// (EPOLLOUT, edge-triggered), for a watcher that writes the socket itself.
    enum class Interest { read, read_write };

    /// Watches `fd` for `w`; readable data already there is reported too. While any
    /// descriptor is watched, the loop stays alive. Returns 0 or a libuv error.
    int add(int fd, EdgeWatcher* w, Interest interest = Interest::read) noexcept;
    /// Reports `fd` again (at the back of the queue) if it is readable now (or, watched for
    /// writes, writable): for a watcher that left data unread. Pass the interest given to
    /// add(). Returns 0 or a libuv error.
    int rearm(int fd, EdgeWatcher* w, Interest interest = Interest::read) noexcept;
    /// Stops watching `fd` (added with `w`, and not removed since) before it is closed; `w`
    /// hears nothing more, not even an event already fetched in the batch being dispatched.
    void remove(int fd, EdgeWatcher* w) noexcept;
    /// Closes the loop's watcher; the loop must run once more for it to go. Idempotent.
    void close() noexcept;

    /// Descriptors watched now.
    std::size_t watched() const noexcept { return watched_; }

private:
    static void on_poll(uv_poll_t* handle, int status, int events);
    void dispatch() noexcept;

    static constexpr int kBatch = 256;
    core::UvHandle<uv_poll_t> poll_;  // watches epfd_ on the loop
    int epfd_ = -1;
    std::size_t watched_ = 0;
    epoll_event batch_[kBatch];  // the batch being dispatched, for remove()
    int batch_size_ = 0;
    int batch_next_ = 0;
};

}  // namespace vstream::net
