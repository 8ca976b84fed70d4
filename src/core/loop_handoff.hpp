#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace vstream::core {

/// Carries work from any thread onto one loop thread (a uv_async_t over a locked queue).
/// Shared-owned: holders on other threads keep it alive after its loop has gone, and post()
/// then reports false instead of touching a closed handle.
class LoopHandoff : public std::enable_shared_from_this<LoopHandoff> {
public:
    using Task = std::function<void()>;

    /// Creates the handoff on `loop`. Thread: the loop's thread.
    static std::shared_ptr<LoopHandoff> create(uv_loop_t* loop);

    /// Queues `task` to run on the loop thread. Returns false, dropping the task without
    /// running it, once close() has been called. Any thread.
    bool post(Task task);

    /// Stops accepting tasks, runs none of those still queued (they are destroyed), and
    /// closes the handle. Thread: the loop's thread. Idempotent.
    void close();

    /// Records the calling thread as the loop's thread (when the loop is set up on one thread
    /// and run on another). Call before any post() can race with it.
    void bind_to_current_thread() noexcept { thread_ = uv_thread_self(); }

    /// Whether the caller may act on the loop directly: it is the loop's thread and, for a loop
    /// run from inside a host's loop, that loop is running now (see set_inside_flag).
    bool on_loop_thread() const noexcept;
    /// Whether the calling thread is the loop's thread, running it or not.
    bool on_thread() const noexcept;
    /// For a loop driven from a host's loop (Server::attach): `*inside` is true while the loop
    /// runs. Outside it, the host's code on the same thread posts its work like any other
    /// thread, so it is done inside the loop's run: with SIGPIPE guarded, and with the timers
    /// and watchers it changes seen by the driver. nullptr (the default): a loop with its own
    /// thread, always inside. Thread: the loop's thread.
    void set_inside_flag(const bool* inside) noexcept { inside_ = inside; }

    /// Keeps the loop alive (or not) while idle; unref'd handoffs let uv_run return.
    void set_ref(bool ref) noexcept;

    LoopHandoff(const LoopHandoff&) = delete;
    LoopHandoff& operator=(const LoopHandoff&) = delete;
    ~LoopHandoff();

private:
    LoopHandoff() = default;
    static void on_async(uv_async_t* handle);
    void drain();
    bool closed_flag() noexcept;

    uv_async_t* async_ = nullptr;  // freed in its close callback
    uv_thread_t thread_{};
    const bool* inside_ = nullptr;
    std::mutex mutex_;
    std::vector<Task> queue_;
    std::vector<Task> running_;
    bool closed_ = false;
};

}  // namespace vstream::core
