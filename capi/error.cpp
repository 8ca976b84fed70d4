// Errors, versions and the helpers every shim file shares.
#include <vstream/version.hpp>

#include "internal.hpp"
#include "vstream_version.h"

#include <string>

static_assert(VS_VERSION_HEX == VSTREAM_VERSION_HEX, "C and C++ versions come from one source");

// Every C code is errc's (both come from src/core/error_table.hpp, which checks errc).
namespace {
constexpr bool same(vstream::errc e, int c) { return static_cast<int>(e) == c; }
}  // namespace
static_assert(same(vstream::errc::ok, VS_OK) && same(vstream::errc::not_found, VS_ENOENT) &&
              same(vstream::errc::io_error, VS_EIO) &&
              same(vstream::errc::would_block, VS_EAGAIN) &&
              same(vstream::errc::no_memory, VS_ENOMEM) &&
              same(vstream::errc::permission_denied, VS_EACCES) &&
              same(vstream::errc::busy, VS_EBUSY) &&
              same(vstream::errc::invalid_argument, VS_EINVAL) &&
              same(vstream::errc::broken_pipe, VS_EPIPE) &&
              same(vstream::errc::address_in_use, VS_EADDRINUSE) &&
              same(vstream::errc::address_not_available, VS_EADDRNOTAVAIL) &&
              same(vstream::errc::timed_out, VS_ETIMEDOUT) &&
              same(vstream::errc::canceled, VS_ECANCELED) &&
              same(vstream::errc::stopped, VS_ESTOPPED) &&
              same(vstream::errc::already_running, VS_ERUNNING) &&
              same(vstream::errc::route_conflict, VS_ECONFLICT) &&
              same(vstream::errc::answered, VS_EANSWERED));

namespace vstream::capi {

namespace {
thread_local std::string last_error;
}

int fail(int code, std::string_view message) noexcept {
    try {
        last_error.assign(message);
    } catch (...) {
        last_error.clear();
    }
    return code;
}

void clear_last_error() noexcept { last_error.clear(); }

SharedUserdata own_userdata(void* ptr, vs_free_cb free_fn) {
    try {
        return std::make_shared<Userdata>(ptr, free_fn);
    } catch (...) {
        if (free_fn != nullptr) free_fn(ptr);
        throw;
    }
}

Body take_body(const void* data, std::size_t len, vs_free_cb free_fn) {
    const std::string_view bytes(static_cast<const char*>(data), data == nullptr ? 0 : len);
    if (free_fn == nullptr) return Body::copy(bytes);
    // If the keeper's control block cannot be allocated, shared_ptr itself runs the deleter:
    // free_fn runs exactly once on that path too.
    std::shared_ptr<const void> keeper(data,
                                       [free_fn](const void* p) { free_fn(const_cast<void*>(p)); });
    return Body::borrow(bytes, std::move(keeper));
}

int check_header_value(const char* value) noexcept {
    if (value == nullptr) return fail(VS_EINVAL, "a header value is NULL");
    for (const char* p = value; *p != '\0'; ++p) {
        // RFC 9110 §5.5: CR and LF never appear in a field value (NUL cannot, in a C string).
        if (*p == '\r' || *p == '\n') {
            return fail(VS_EINVAL, "a header value holds CR or LF");
        }
    }
    return VS_OK;
}

}  // namespace vstream::capi

extern "C" {

const char* vs_strerror(int err) { return vstream::error_message(static_cast<vstream::errc>(err)); }

const char* vs_err_name(int err) {
    const char* name = vstream::error_name(err);
    return name != nullptr ? name : "VS_UNKNOWN";
}

const char* vs_last_error_message(void) { return vstream::capi::last_error.c_str(); }

unsigned vs_version(void) { return VSTREAM_VERSION_HEX; }

const char* vs_version_string(void) { return VSTREAM_VERSION_STRING; }

}  // extern "C"
