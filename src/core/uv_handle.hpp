#pragma once

#include <uv.h>

namespace vstream::core {

/// Closes a heap-allocated libuv handle and frees it in the close callback, the only point at
/// which libuv allows its memory to go (libuv docs/src/handle.rst).
template <class Handle>
void close_and_delete(Handle* handle) noexcept {
    auto* h = reinterpret_cast<uv_handle_t*>(handle);
    if (uv_is_closing(h)) return;
    uv_close(h, [](uv_handle_t* p) { delete reinterpret_cast<Handle*>(p); });
}

}  // namespace vstream::core
