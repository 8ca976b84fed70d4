// Tests request::Env (src/request/env.cpp): built from a server's config, and a faulted mapped
// write making the file cache check its files again.
#include "request/env.hpp"

#include "files/local_file_origin.hpp"
#include "files/mmap_cache.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>

#include <memory>

using vstream::FileCacheConfig;
using vstream::ServerConfig;
using vstream::files::FileRef;
using vstream::files::LocalFileOrigin;
using vstream::files::MmapCache;
using vstream::request::Env;
using vstream::test::TempDir;

TEST_SUITE("request/env") {

TEST_CASE("an environment carries the config's limits and timeouts and the file cache") {
    ServerConfig config;
    config.limits.max_ranges = 3;
    config.timeouts.stream_body = std::chrono::milliseconds(1234);
    auto cache = std::make_shared<MmapCache>(FileCacheConfig{});
    const std::shared_ptr<const Env> env = Env::make(config, cache);
    CHECK(env->limits.max_ranges == 3);
    CHECK(env->timeouts.stream_body == std::chrono::milliseconds(1234));
    CHECK(env->file_cache == cache);
}

TEST_CASE("a faulted write makes the cache stat its files again; without a cache it is a no-op") {
    TempDir dir;
    dir.write("root/a.bin", "0123456789");
    const LocalFileOrigin origin(dir.at("root"), false);
    FileCacheConfig cfg;
    cfg.revalidate = std::chrono::hours(1);  // only a recheck would look at the file again
    auto cache = std::make_shared<MmapCache>(cfg);
    FileRef first;
    REQUIRE(cache->open(origin, "a.bin", first) == 0);
    dir.write("root/a.bin", "012");  // shrinks under the cache
    const std::shared_ptr<const Env> env = Env::make(ServerConfig{}, cache);
    env->write_faulted();
    FileRef again;
    REQUIRE(cache->open(origin, "a.bin", again) == 0);
    CHECK(again->size() == 3);

    Env::make(ServerConfig{}, nullptr)->write_faulted();
}

}  // TEST_SUITE("request/env")
