#include "core/loop_handoff.hpp"

#include <vstream/error.hpp>

#include "core/uv_handle.hpp"

namespace vstream::core {

std::shared_ptr<LoopHandoff> LoopHandoff::create(uv_loop_t* loop) {
    std::shared_ptr<LoopHandoff> h(new LoopHandoff());
    auto async = std::make_unique<uv_async_t>();
    if (int rc = uv_async_init(loop, async.get(), &LoopHandoff::on_async); rc != 0) {
        throw Error(errc::io_error, std::string("uv_async_init: ") + uv_strerror(rc));
    }
    async->data = h.get();
    h->async_ = async.release();
    h->thread_ = uv_thread_self();
    return h;
}

LoopHandoff::~LoopHandoff() = default;

bool LoopHandoff::post(Task task) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    queue_.push_back(std::move(task));
    // Under the lock, so close() cannot free the handle between the check and the send.
    uv_async_send(async_);
    return true;
}

bool LoopHandoff::closed_flag() noexcept {
    std::lock_guard lock(mutex_);
    return closed_;
}

bool LoopHandoff::on_thread() const noexcept {
    const uv_thread_t self = uv_thread_self();
    return uv_thread_equal(&self, &thread_) != 0;
}

bool LoopHandoff::on_loop_thread() const noexcept {
    // The flag is only ever written on the loop's thread, and read here only there.
    return on_thread() && (inside_ == nullptr || *inside_);
}

void LoopHandoff::set_ref(bool ref) noexcept {
    if (async_ == nullptr) return;
    if (ref) {
        uv_ref(reinterpret_cast<uv_handle_t*>(async_));
    } else {
        uv_unref(reinterpret_cast<uv_handle_t*>(async_));
    }
}

void LoopHandoff::on_async(uv_async_t* handle) {
    auto* self = static_cast<LoopHandoff*>(handle->data);
    if (self != nullptr) self->drain();
}

void LoopHandoff::drain() {
    // Keep ourselves alive: a task may drop the last outside reference.
    auto keep = shared_from_this();
    {
        std::lock_guard lock(mutex_);
        running_.swap(queue_);
    }
    for (Task& task : running_) {
        // close() from a task means: run nothing queued after it.
        if (closed_flag()) break;
        task();
    }
    running_.clear();
}

void LoopHandoff::close() {
    std::vector<Task> dropped;
    {
        std::lock_guard lock(mutex_);
        if (closed_) return;
        closed_ = true;
        dropped.swap(queue_);
    }
    // Tasks are destroyed unrun, outside the lock (their destructors may post elsewhere).
    dropped.clear();
    async_->data = nullptr;
    close_and_delete(async_);
}

}  // namespace vstream::core
