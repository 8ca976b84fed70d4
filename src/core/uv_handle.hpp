#pragma once

#include <uv.h>

#include <memory>
#include <utility>

namespace vstream::core {

/// Closes a heap-allocated libuv handle and frees it in the close callback, the only point at
/// which libuv allows its memory to go (libuv docs/src/handle.rst).
template <class Handle>
void close_and_delete(Handle* handle) noexcept {
    auto* h = reinterpret_cast<uv_handle_t*>(handle);
    if (uv_is_closing(h)) return;
    uv_close(h, [](uv_handle_t* p) { delete reinterpret_cast<Handle*>(p); });
}

/// Owns one heap-allocated libuv handle (uv_timer_t, uv_poll_t, uv_tcp_t...): made and
/// initialised by init(), closed by close() or the destructor and freed in the close
/// callback (close_and_delete). An owner may go before its loop runs the callback; the handle
/// never outlives the loop's next iteration. Move-only. Thread: the handle's loop thread.
template <class Handle>
class UvHandle {
public:
    UvHandle() noexcept = default;
    ~UvHandle() { close(); }
    UvHandle(UvHandle&& other) noexcept : h_(std::exchange(other.h_, nullptr)) {}
    UvHandle& operator=(UvHandle&& other) noexcept {
        if (this != &other) {
            close();
            h_ = std::exchange(other.h_, nullptr);
        }
        return *this;
    }
    UvHandle(const UvHandle&) = delete;
    UvHandle& operator=(const UvHandle&) = delete;

    /// Closes any handle held, allocates a new one and runs `init_fn(handle)` (such as
    /// uv_timer_init(loop, h)), whose libuv status it returns. On success the handle's data
    /// is `data`; on failure nothing is kept (a handle whose init failed is not a handle to
    /// close, so it is simply freed). Throws std::bad_alloc.
    template <class Init>
    int init(Init&& init_fn, void* data = nullptr) {
        close();
        auto made = std::make_unique<Handle>();
        if (const int rc = std::forward<Init>(init_fn)(made.get()); rc != 0) return rc;
        made->data = data;
        h_ = made.release();
        return 0;
    }

    Handle* get() const noexcept { return h_; }
    Handle* operator->() const noexcept { return h_; }
    explicit operator bool() const noexcept { return h_ != nullptr; }
    /// The handle as libuv's base type (uv_ref, uv_unref, uv_is_active...).
    uv_handle_t* base() const noexcept { return reinterpret_cast<uv_handle_t*>(h_); }

    /// Closes the handle (its memory goes in the close callback); nothing when empty.
    void close() noexcept {
        if (h_ != nullptr) close_and_delete(std::exchange(h_, nullptr));
    }

private:
    Handle* h_ = nullptr;
};

}  // namespace vstream::core
