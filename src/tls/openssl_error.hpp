// OpenSSL's per-thread error queue turned into a vstream::Error, the queue left empty.
#pragma once

#include <vstream/error.hpp>

#include <string>

namespace vstream::tls {

/// The earliest error on this thread's OpenSSL error queue, which is then cleared.
struct OpensslError {
    /// ERR_error_string_n's text ("error:80000002:system library::No such file or
    /// directory"), with the error's detail when OpenSSL gave one ("calling fopen(...)").
    /// "no error reported by OpenSSL" if the queue was empty.
    std::string reason;
    /// Whether OpenSSL failed on a system call (ERR_LIB_SYS: a file that cannot be opened).
    bool system = false;
};

/// Takes the earliest error off this thread's queue and clears the rest, so a stale error is
/// never blamed on a later call (OpenSSL reports only through this queue). Any thread.
OpensslError take_openssl_error();

/// Throws Error("<what>: <reason>") from take_openssl_error(): errc::io_error when OpenSSL
/// failed on a system call, else `code`. The queue is left empty.
[[noreturn]] void throw_openssl_error(errc code, const std::string& what);

}  // namespace vstream::tls
