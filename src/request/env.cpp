#include "request/env.hpp"

#include "files/mmap_cache.hpp"

namespace vstream::request {

std::shared_ptr<const Env> Env::make(const ServerConfig& config,
                                     std::shared_ptr<files::MmapCache> file_cache) {
    return std::make_shared<const Env>(Env{config.limits, config.timeouts, std::move(file_cache)});
}

void Env::write_faulted() const noexcept {
    if (file_cache) file_cache->recheck_all();
}

}  // namespace vstream::request
