#pragma once

// The C API's private side: the structs behind the opaque handles, each with a magic field
// checked on entry (SQLite's sqlite3SafetyCheckOk), guard() that keeps every exception on
// this side of the boundary, and the trampolines that call C callbacks from the C++ core.

#include <vstream/vstream.hpp>

#include "vstream.h"

#include <atomic>
#include <cstdint>
#include <deque>
#include <forward_list>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <utility>

namespace vstream::capi {

/// Remembers `message` as this thread's vs_last_error_message() and returns `code`.
int fail(int code, std::string_view message) noexcept;
/// Clears this thread's last error message (each guarded call starts clean).
void clear_last_error() noexcept;

/// Runs `body` (returning an int code), turning any exception into a code and a message.
/// Every shim function that can fail runs inside one of these ({fmt}'s fmt-c.cc, DuckDB).
template <class F>
int guard(F&& body) noexcept {
    clear_last_error();
    try {
        return body();
    } catch (const Error& e) {
        return fail(static_cast<int>(e.errc_code()), e.detail());
    } catch (const std::bad_alloc&) {
        return fail(VS_ENOMEM, "out of memory");
    } catch (const std::exception& e) {
        return fail(VS_EIO, e.what());
    } catch (...) {
        return fail(VS_EIO, "unknown failure");
    }
}

/// A handle's magic number: set while alive, cleared when freed, so a stale or foreign
/// pointer is refused (as far as its memory still reads) instead of used.
template <std::uint32_t Magic>
struct Checked {
    static constexpr std::uint32_t kMagic = Magic;
    std::uint32_t magic = Magic;
    Checked() = default;
    Checked(const Checked&) = delete;
    Checked& operator=(const Checked&) = delete;
    ~Checked() { magic = 0; }
};

/// The handle if it is live and of its type, else nullptr.
template <class H>
H* live(H* h) noexcept {
    return h != nullptr && h->magic == H::kMagic ? h : nullptr;
}
template <class H>
const H* live(const H* h) noexcept {
    return h != nullptr && h->magic == H::kMagic ? h : nullptr;
}

/// Runs `fn(handle)` inside guard() when `handle` is live, else fails with VS_EINVAL.
template <class H, class F>
int with_live(H* handle, F&& fn) noexcept {
    return guard([&] {
        H* h = live(handle);
        if (h == nullptr) return fail(VS_EINVAL, "not a live handle of its type");
        return fn(*h);
    });
}

/// Makes a handle holding defaults into *out (the caller's, for its _free function).
template <class H>
int new_handle(H** out) noexcept {
    return guard([&] {
        if (out == nullptr) return fail(VS_EINVAL, "out is NULL");
        *out = new H();
        return VS_OK;
    });
}

/// A host's userdata and its free callback: the callback runs exactly once, when the last
/// owner lets go (or at once when registration fails, the owner being gone).
class Userdata {
public:
    Userdata(void* ptr, vs_free_cb free_fn) noexcept : ptr_(ptr), free_(free_fn) {}
    Userdata(const Userdata&) = delete;
    Userdata& operator=(const Userdata&) = delete;
    ~Userdata() {
        if (free_ != nullptr) free_(ptr_);
    }
    void* get() const noexcept { return ptr_; }

private:
    void* ptr_;
    vs_free_cb free_;
};
using SharedUserdata = std::shared_ptr<Userdata>;

/// Wraps (ptr, free_fn) for a registration. If even that allocation fails, frees the userdata
/// at once (the registration has failed) and throws bad_alloc.
SharedUserdata own_userdata(void* ptr, vs_free_cb free_fn);

/// A body handed over with a free callback as a Body (borrowed, freed exactly once), or copied
/// when free_fn is null. On failure, free_fn has run and the exception propagates.
Body take_body(const void* data, std::size_t len, vs_free_cb free_fn);

/// A C handler as a Handler: each call gets a fresh vs_ctx_t, dropped when it returns.
Handler make_handler(vs_handler_cb fn, SharedUserdata ud);

/// VS_OK when `value` is a usable header value (not NULL, no CR, LF: header injection), else
/// VS_EINVAL.
int check_header_value(const char* value) noexcept;

/// Views a C string that may be null as "".
inline std::string_view view(const char* s) noexcept {
    return s == nullptr ? std::string_view{} : s;
}

}  // namespace vstream::capi

struct vs_config : vstream::capi::Checked<0x76734346> {  // "vsCF"
    vstream::ServerConfig config;
};

struct vs_server;

struct vs_group : vstream::capi::Checked<0x76734752> {  // "vsGR"
    vs_server* server = nullptr;
    vstream::RouteGroup* group = nullptr;
};

struct vs_server : vstream::capi::Checked<0x76735356> {  // "vsSV"
    std::unique_ptr<vstream::Server> server;
    std::atomic<bool> freeing{false};  // vs_server_free is under way (callbacks may run in it)
    vs_group root;
    std::deque<vs_group> groups;  // nested groups; stable addresses
};

struct vs_ctx;

struct vs_next : vstream::capi::Checked<0x76734e58> {  // "vsNX"
    explicit vs_next(vstream::Next n) noexcept : next(n) {}
    vstream::Next next;
    bool called = false;
};

/// A request as C sees it. Made for each callback that hands it out; freed when that callback
/// returns, unless retained. Holding it retained keeps the request (a ContextRef).
struct vs_ctx : vstream::capi::Checked<0x76734358> {  // "vsCX"
    explicit vs_ctx(vstream::Context& c) noexcept : ctx(&c) {}

    /// A handle for a callback; the caller drops it when the callback returns.
    static vs_ctx* make(vstream::Context& c) { return new vs_ctx(c); }
    /// Adds a reference (vs_ctx_retain); the first keeps the request alive past callbacks.
    void retain();
    /// Drops a reference taken by retain(); false (nothing dropped) when none is held, so a
    /// release without a retain cannot free the handle under its callback.
    bool release() noexcept;
    /// Drops a reference; the last one frees the handle (and its hold on the request).
    void drop() noexcept;
    /// A NUL-terminated copy of `text`, valid as long as this handle.
    const char* keep(std::string_view text, std::size_t* len);
    /// A continuation handle for a middleware call, valid as long as this handle.
    vs_next* add_next(vstream::Next next) { return &nexts.emplace_front(next); }

    vstream::Context* ctx;
    std::atomic<int> refs{1};
    std::atomic<int> retains{0};  // the part of refs that vs_ctx_retain added
    vstream::ContextRef hold;     // taken on the first retain
    // Handed-out copies and continuations: stable addresses, and no allocation until used.
    std::forward_list<std::string> texts;
    std::forward_list<vs_next> nexts;
};

/// Runs `fn(ctx-handle)` for a C callback and drops the handle afterwards.
/// The callback's own reference is dropped on every path (C callbacks cannot throw, but
/// the engine code around them can).
template <class F>
void with_ctx(vstream::Context& c, F&& fn) {
    struct Drop {
        vs_ctx* h;
        ~Drop() { h->drop(); }
    } handle{vs_ctx::make(c)};
    fn(handle.h);
}

struct vs_stream : vstream::capi::Checked<0x76735354> {  // "vsST"
    vstream::StreamWriter writer;
};

struct vs_static_options : vstream::capi::Checked<0x7673534f> {  // "vsSO"
    vstream::StaticOptions options;
};

struct vs_file_options : vstream::capi::Checked<0x7673464f> {  // "vsFO"
    vstream::FileOptions options;
};

struct vs_upload_options : vstream::capi::Checked<0x7673554f> {  // "vsUO"
    vstream::UploadOptions options;
};

struct vs_upload_result : vstream::capi::Checked<0x76735552> {  // "vsUR"
    explicit vs_upload_result(const vstream::UploadResult& r) : result(&r) {}
    const vstream::UploadResult* result;
    mutable std::string json;  // made on first vs_upload_result_json()
};
