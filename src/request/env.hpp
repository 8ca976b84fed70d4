#pragma once

#include <vstream/config.hpp>

#include <memory>

namespace vstream::files {
class MmapCache;
}

namespace vstream::request {

/// What every request of one server shares: the limits the request core and the handlers
/// apply, and the file cache. Built once when the server starts; each exchange points to it
/// instead of copying its fields per request. Shared ownership, because a ContextRef may keep
/// an exchange (and so this) past the server's end. Immutable once built; any thread.
struct Env {
    Limits limits;
    Timeouts timeouts;
    std::shared_ptr<files::MmapCache> file_cache;  // null: send_file answers 500 (tests only)

    /// The environment of a server with `config` and `file_cache`.
    static std::shared_ptr<const Env> make(const ServerConfig& config,
                                           std::shared_ptr<files::MmapCache> file_cache);

    /// A write from mapped file bytes faulted (EFAULT: a file shrank under its response):
    /// the file cache checks every file again before serving it, so the broken entry goes.
    /// Loop thread.
    void write_faulted() const noexcept;
};

}  // namespace vstream::request
