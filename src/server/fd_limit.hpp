#pragma once

#include <vstream/config.hpp>

#include <cstdint>
#include <string>

namespace vstream::server {

/// The process's descriptor limit (RLIMIT_NOFILE); UINT64_MAX stands for unlimited.
struct FdLimit {
    std::uint64_t soft = 0;
    std::uint64_t hard = 0;
};

/// The limit in effect now ({0, 0} if it cannot be read).
FdLimit fd_limit() noexcept;

/// Raises the soft limit to the hard one, never lowering it, and returns the limit then in
/// effect (the old one if the kernel refuses). Process-wide: every thread and every child
/// started afterwards has it.
FdLimit raise_fd_limit() noexcept;

/// Descriptors open in the process now, from /proc/self/fd; 0 if that cannot be read.
std::uint64_t open_descriptors() noexcept;

/// Descriptors a server of `config` on `threads` loops holds besides its connections, at most:
/// per loop libuv's epoll set, eventfd and reserve descriptor and the EdgePoller's epoll set,
/// per loop and address a listener and an Acceptor's reserve, and one per cached file.
std::uint64_t fixed_descriptors(const ServerConfig& config, unsigned threads) noexcept;

/// The warning to print when `limit` leaves room for fewer than max_connections connections,
/// with `open_now` descriptors already open; empty when there is room.
std::string fd_limit_warning(const ServerConfig& config, unsigned threads, FdLimit limit,
                             std::uint64_t open_now);

}  // namespace vstream::server
