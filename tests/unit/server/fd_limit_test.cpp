// Tests the descriptor limit helpers (src/server/fd_limit.cpp): raising RLIMIT_NOFILE, counting
// descriptors, and the warning when max_connections cannot be reached.
#include "server/fd_limit.hpp"

#include "fd_starvation.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <string>

using vstream::ServerConfig;
using vstream::server::fd_limit_warning;
using vstream::server::FdLimit;
using vstream::server::fixed_descriptors;
using vstream::test::highest_open_fd;

namespace {

// Lowers the soft descriptor limit for the test's duration (never below what is open).
struct LoweredLimit {
    rlimit old{};
    bool ok = false;
    LoweredLimit() {
        if (::getrlimit(RLIMIT_NOFILE, &old) != 0) return;
        rlimit rl = old;
        rl.rlim_cur = std::min<rlim_t>(old.rlim_max, static_cast<rlim_t>(highest_open_fd() + 64));
        ok = rl.rlim_cur < old.rlim_max && ::setrlimit(RLIMIT_NOFILE, &rl) == 0;
    }
    ~LoweredLimit() { ::setrlimit(RLIMIT_NOFILE, &old); }
};

}  // namespace

TEST_SUITE("server/fd_limit") {

TEST_CASE("fd_limit reads the limit in effect") {
    rlimit rl{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &rl) == 0);
    const FdLimit l = vstream::server::fd_limit();
    CHECK(l.soft == rl.rlim_cur);
    CHECK(l.hard == rl.rlim_max);
}

TEST_CASE("raise_fd_limit lifts the soft limit to the hard one") {
    LoweredLimit lowered;
    if (!lowered.ok) {
        MESSAGE("skipped: the soft limit cannot be lowered below the hard one here");
        return;
    }
    rlimit before{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &before) == 0);
    REQUIRE(before.rlim_cur < before.rlim_max);
    const FdLimit raised = vstream::server::raise_fd_limit();
    rlimit after{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &after) == 0);
    CHECK(after.rlim_cur == before.rlim_max);
    CHECK(after.rlim_max == before.rlim_max);  // the hard limit is untouched
    CHECK(raised.soft == after.rlim_cur);
    CHECK(raised.hard == after.rlim_max);
    // Already raised: nothing changes.
    const FdLimit again = vstream::server::raise_fd_limit();
    CHECK(again.soft == raised.soft);
}

TEST_CASE("open_descriptors counts the descriptors this process has open") {
    const std::uint64_t before = vstream::server::open_descriptors();
    REQUIRE(before >= 3);  // at least stdin, stdout, stderr
    const int a = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int b = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(a >= 0);
    REQUIRE(b >= 0);
    CHECK(vstream::server::open_descriptors() == before + 2);
    ::close(a);
    ::close(b);
    CHECK(vstream::server::open_descriptors() == before);
}

TEST_CASE("the server's fixed descriptors grow with loops, addresses and the file cache") {
    ServerConfig c = vstream::test::test_config();
    c.file_cache.max_entries = 10;
    // Per loop: libuv's epoll set, eventfd and reserve, the EdgePoller's epoll set; per loop
    // and address: the listener and its reserve.
    CHECK(fixed_descriptors(c, 1) == 4 + 2 + 10);
    c.addresses = {"127.0.0.1", "::1"};
    CHECK(fixed_descriptors(c, 2) == 2 * (4 + 2 * 2) + 10);
}

TEST_CASE("no warning when the limit leaves room for max_connections") {
    ServerConfig c = vstream::test::test_config();
    c.limits.max_connections = 10000;
    CHECK(fd_limit_warning(c, 4, FdLimit{1u << 20, 1u << 20}, 50).empty());
    // Exactly enough: max_connections + open + fixed.
    const std::uint64_t exact = 10000 + 50 + fixed_descriptors(c, 4);
    CHECK(fd_limit_warning(c, 4, FdLimit{exact, exact}, 50).empty());
}

TEST_CASE("a limit too low for max_connections gives a warning with the numbers to fix it") {
    ServerConfig c = vstream::test::test_config();
    c.limits.max_connections = 10000;
    c.file_cache.max_entries = 100;
    const std::uint64_t exact = 10000 + 50 + fixed_descriptors(c, 1);
    const std::string one_short = fd_limit_warning(c, 1, FdLimit{exact - 1, exact - 1}, 50);
    CHECK_FALSE(one_short.empty());
    CHECK(one_short.find("about 10099 connections fit (9999 while the file cache holds its 100 "
                         "files open)") != std::string::npos);

    const std::string w = fd_limit_warning(c, 1, FdLimit{1024, 4096}, 24);
    CAPTURE(w);
    CHECK(w.rfind("vstream: ", 0) == 0);
    CHECK(w.find("RLIMIT_NOFILE is 1024") != std::string::npos);
    CHECK(w.find("hard limit 4096") != std::string::npos);
    CHECK(w.find("max_connections 10000") != std::string::npos);
    const std::uint64_t fit = 1024 - 24 - (fixed_descriptors(c, 1) - 100);
    CHECK(w.find("about " + std::to_string(fit) + " connections fit (" + std::to_string(fit - 100) +
                 " while") != std::string::npos);
    CHECK(w.back() == '\n');

    // Fewer descriptors than the server itself keeps: none fit.
    CHECK(fd_limit_warning(c, 1, FdLimit{16, 16}, 24).find("about 0 connections fit (0 while") !=
          std::string::npos);
}

}  // TEST_SUITE("server/fd_limit")
