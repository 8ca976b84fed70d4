// Errors, versions and the helpers every shim file shares.
#include "internal.hpp"

#include "core/error_table.hpp"

#include "vstream_version.h"

#include <vstream/version.hpp>

#include <string>

static_assert(VS_VERSION_HEX == VSTREAM_VERSION_HEX, "C and C++ versions come from one source");

// Every C code is the table's (src/core/error_table.hpp) and errc's.
#define VS_CHECK_CODE(name, value, c_name, text)                                   \
    static_assert(static_cast<int>(vstream::errc::name) == (value), c_name);
VSTREAM_ERRC_MAP(VS_CHECK_CODE)
#undef VS_CHECK_CODE
static_assert(VS_OK == 0 && VS_ENOENT == -2 && VS_EIO == -5 && VS_EAGAIN == -11 &&
              VS_ENOMEM == -12 && VS_EACCES == -13 && VS_EBUSY == -16 && VS_EINVAL == -22 &&
              VS_EPIPE == -32 && VS_EADDRINUSE == -98 && VS_EADDRNOTAVAIL == -99 &&
              VS_ETIMEDOUT == -110 && VS_ECANCELED == -125 && VS_ESTOPPED == -4000 &&
              VS_ERUNNING == -4001 && VS_ECONFLICT == -4002 && VS_EANSWERED == -4003);

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
    std::shared_ptr<const void> keeper(
        data, [free_fn](const void* p) { free_fn(const_cast<void*>(p)); });
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
    const char* name = vstream::core::error_name(err);
    return name != nullptr ? name : "VS_UNKNOWN";
}

const char* vs_last_error_message(void) { return vstream::capi::last_error.c_str(); }

unsigned vs_version(void) { return VSTREAM_VERSION_HEX; }

const char* vs_version_string(void) { return VSTREAM_VERSION_STRING; }

}  // extern "C"
