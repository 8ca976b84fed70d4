// Error codes and the exception thrown at setup time. Implemented by src/core/error.cpp.
#pragma once

#include <string>
#include <string_view>
#include <system_error>

namespace vstream {

/// vstream's error codes. Values are the negated Linux errno where one fits, and a reserved
/// range (-4000..-4099) for vstream-only conditions, so that the C API (capi/vstream.h) uses
/// the same numbers (one table: src/core/error_table.hpp). Codes are never renumbered or reused.
enum class errc : int {
    ok = 0,
    not_found = -2,               ///< ENOENT: no such item (header, parameter, file)
    io_error = -5,                ///< EIO: any other system failure
    would_block = -11,            ///< EAGAIN: queued, but past a high-water mark
    no_memory = -12,              ///< ENOMEM
    permission_denied = -13,      ///< EACCES: e.g. a privileged port
    busy = -16,                   ///< EBUSY: not possible from the calling thread now
    invalid_argument = -22,       ///< EINVAL: a bad argument or configuration value
    broken_pipe = -32,            ///< EPIPE: a stream that is closed
    address_in_use = -98,         ///< EADDRINUSE: a listen address is taken
    address_not_available = -99,  ///< EADDRNOTAVAIL: a listen address is not local
    timed_out = -110,             ///< ETIMEDOUT
    canceled = -125,              ///< ECANCELED: the connection went away before completion
    stopped = -4000,              ///< the server is stopped or stopping
    already_running = -4001,      ///< start() on a running server
    route_conflict = -4002,       ///< a route clashes with one registered before
    answered = -4003,             ///< the request has already been answered
};

/// The std::error_category of vstream::errc.
const std::error_category& error_category() noexcept;

/// Makes errc usable as a std::error_code.
inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// Short description of a code ("address already in use"). Never null.
const char* error_message(errc e) noexcept;

/// The C API's name of a code ("VS_EINVAL", see capi/vstream.h), or nullptr for a value that
/// is no errc.
const char* error_name(int code) noexcept;

/// Thrown by setup-time calls (configuration, start()); never from the request path.
class Error : public std::system_error {
public:
    Error(errc code, const std::string& what) : std::system_error(make_error_code(code), what) {}
    /// The vstream code carried by this error.
    errc errc_code() const noexcept { return static_cast<errc>(code().value()); }
    /// The message given to the constructor: what() without the ": <code's text>" that
    /// std::system_error appends (for rethrowing with more context, and for the C API).
    std::string_view detail() const noexcept {
        std::string_view w = what();
        const std::string_view suffix = error_message(errc_code());
        if (w.size() >= suffix.size() + 2 && w.ends_with(suffix) &&
            w.substr(w.size() - suffix.size() - 2, 2) == ": ") {
            w.remove_suffix(suffix.size() + 2);
        }
        return w;
    }
};

}  // namespace vstream

template <>
struct std::is_error_code_enum<vstream::errc> : std::true_type {};
