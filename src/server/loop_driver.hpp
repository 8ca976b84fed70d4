#pragma once

#include "core/uv_handle.hpp"

#include <uv.h>

#include <functional>

namespace vstream::server {

/// Runs a private libuv loop from inside a host's loop (Server::attach): a poll handle on the
/// host loop watches the private loop's backend (epoll) descriptor, and a timer follows its
/// next timeout; either runs the private loop once without blocking. The server's handles
/// thus never live on the host's loop, and freeing the server never has to run the host's
/// loop (libuv's "embedding" pattern, test-embed.c).
///
/// Thread: the host loop's thread.
class LoopDriver {
public:
    /// Starts driving `inner` from `host`. `on_done` runs (on the host loop) once the inner
    /// loop has no more active handles, after which the driver has closed its own.
    LoopDriver(uv_loop_t* host, uv_loop_t* inner, std::function<void()> on_done);
    /// Closes the host-side handles if still open; their memory goes in their close callbacks,
    /// when the host loop next runs.
    ~LoopDriver();
    LoopDriver(const LoopDriver&) = delete;
    LoopDriver& operator=(const LoopDriver&) = delete;

    /// Runs the inner loop once without blocking (e.g. right after its handles changed).
    void drive() noexcept;
    /// True while the inner loop is running (a callback of the server is on the stack).
    bool driving() const noexcept { return driving_; }
    /// The flag behind driving(), for LoopHandoff::set_inside_flag. Valid as long as the driver.
    const bool* driving_flag() const noexcept { return &driving_; }
    /// True once the inner loop had nothing left to run.
    bool done() const noexcept { return done_; }

private:
    void close_handles() noexcept;

    uv_loop_t* inner_;
    core::UvHandle<uv_poll_t> poll_;    // on the host loop
    core::UvHandle<uv_timer_t> timer_;  // on the host loop
    std::function<void()> on_done_;
    bool driving_ = false;
    bool done_ = false;
};

}  // namespace vstream::server
