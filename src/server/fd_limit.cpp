#include "server/fd_limit.hpp"

#include <dirent.h>
#include <sys/resource.h>

#include <cstdio>
#include <limits>

namespace vstream::server {

namespace {

std::uint64_t from_rlim(rlim_t v) noexcept {
    return v == RLIM_INFINITY ? std::numeric_limits<std::uint64_t>::max()
                              : static_cast<std::uint64_t>(v);
}

// Per loop: libuv's epoll set, its eventfd (uv_async) and its EMFILE reserve, and the
// EdgePoller's epoll set.
constexpr std::uint64_t kPerLoop = 4;
// Per loop and address: the listening socket and the Acceptor's reserve.
constexpr std::uint64_t kPerListener = 2;

}  // namespace

FdLimit fd_limit() noexcept {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return {};
    return {from_rlim(rl.rlim_cur), from_rlim(rl.rlim_max)};
}

FdLimit raise_fd_limit() noexcept {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return {};
    const bool below_hard =
        rl.rlim_cur != RLIM_INFINITY && (rl.rlim_max == RLIM_INFINITY || rl.rlim_cur < rl.rlim_max);
    if (below_hard) {
        rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    return {from_rlim(rl.rlim_cur), from_rlim(rl.rlim_max)};
}

std::uint64_t open_descriptors() noexcept {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return 0;
    std::uint64_t n = 0;
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] != '.') ++n;
    }
    ::closedir(dir);
    return n > 0 ? n - 1 : 0;  // the directory's own descriptor is listed too
}

std::uint64_t fixed_descriptors(const ServerConfig& config, unsigned threads) noexcept {
    const std::uint64_t loops = threads;
    return loops * (kPerLoop + kPerListener * config.addresses.size()) +
           config.file_cache.max_entries;
}

std::string fd_limit_warning(const ServerConfig& config, unsigned threads, FdLimit limit,
                             std::uint64_t open_now) {
    const std::uint64_t cache = config.file_cache.max_entries;
    const std::uint64_t used = open_now + fixed_descriptors(config, threads) - cache;
    const std::uint64_t fit = limit.soft > used ? limit.soft - used : 0;
    // With the file cache full: it keeps a descriptor per file, but only once files are sent.
    const std::uint64_t fit_cache_full = fit > cache ? fit - cache : 0;
    if (fit_cache_full >= config.limits.max_connections) return {};
    char text[512];
    std::snprintf(text, sizeof text,
                  "vstream: RLIMIT_NOFILE is %llu (hard limit %llu): about %llu connections "
                  "fit (%llu while the file cache holds its %llu files open), fewer than "
                  "max_connections %llu; past them, new connections are refused with 503. "
                  "Raise the limit (ulimit -n, LimitNOFILE=) or lower max_connections.\n",
                  static_cast<unsigned long long>(limit.soft),
                  static_cast<unsigned long long>(limit.hard), static_cast<unsigned long long>(fit),
                  static_cast<unsigned long long>(fit_cache_full),
                  static_cast<unsigned long long>(cache),
                  static_cast<unsigned long long>(config.limits.max_connections));
    return text;
}

}  // namespace vstream::server
