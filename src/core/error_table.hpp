#pragma once

// The one table of vstream's error codes: X(enumerator, value, C name, message). errc
// (include/vstream/error.hpp) is checked against it, error_message() reads it, and the C API's
// vs_strerror()/vs_err_name() read it too (libuv's UV_ERRNO_MAP idea); docs/c-api.md lists it.
// Values are ABI: never renumber or reuse one.
#define VSTREAM_ERRC_MAP(X)                                                    \
    X(ok, 0, "VS_OK", "success")                                               \
    X(not_found, -2, "VS_ENOENT", "not found")                                 \
    X(io_error, -5, "VS_EIO", "i/o error")                                     \
    X(would_block, -11, "VS_EAGAIN", "queued, past the high-water mark")       \
    X(no_memory, -12, "VS_ENOMEM", "out of memory")                            \
    X(permission_denied, -13, "VS_EACCES", "permission denied")                \
    X(busy, -16, "VS_EBUSY", "busy: not possible from here")                   \
    X(invalid_argument, -22, "VS_EINVAL", "invalid argument")                  \
    X(broken_pipe, -32, "VS_EPIPE", "stream closed")                           \
    X(address_in_use, -98, "VS_EADDRINUSE", "address already in use")          \
    X(address_not_available, -99, "VS_EADDRNOTAVAIL", "address not available") \
    X(timed_out, -110, "VS_ETIMEDOUT", "timed out")                            \
    X(canceled, -125, "VS_ECANCELED", "operation canceled")                    \
    X(stopped, -4000, "VS_ESTOPPED", "server stopped")                         \
    X(already_running, -4001, "VS_ERUNNING", "server already running")         \
    X(route_conflict, -4002, "VS_ECONFLICT", "route conflict")                 \
    X(answered, -4003, "VS_EANSWERED", "request already answered")
