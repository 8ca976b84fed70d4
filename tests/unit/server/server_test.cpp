// Tests Server (src/server/server.cpp): lifecycle, errors, run/stop, stats, several servers.
#include <vstream/error.hpp>
#include <vstream/server.hpp>

#include "expect_error.hpp"
#include "fd_starvation.hpp"
#include "ipv6_loopback.hpp"
#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <sys/resource.h>

#include <atomic>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

using vstream::Context;
using vstream::errc;
using vstream::Error;
using vstream::Server;
using vstream::ServerConfig;
using vstream::test::expect_error;
using vstream::test::hello_handler;
using vstream::test::RawClient;
using vstream::test::roundtrip;
using vstream::test::test_config;
using vstream::test::TestServer;
using vstream::test::wait_until;

namespace {

const std::string kPing = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";

bool pong(std::uint16_t port) {
    const auto r = roundtrip(port, kPing);
    return r.has_value() && r->status == 200 && r->body == R"({"message":"pong"})";
}

}  // namespace

TEST_SUITE("server/server") {

TEST_CASE("start with port 0 binds an ephemeral port and serves") {
    Server server(test_config());
    server.handle(hello_handler);
    CHECK(server.port() == 0);
    CHECK_FALSE(server.running());
    server.start();
    CHECK(server.running());
    CHECK(server.port() != 0);
    CHECK(pong(server.port()));
    server.stop();
    CHECK_FALSE(server.running());
}

TEST_CASE("config() returns the configuration in effect") {
    ServerConfig c = test_config(2);
    c.server_name = "unit";
    const Server server(c);
    CHECK(server.config().threads == 2);
    CHECK(server.config().server_name == "unit");
    CHECK(server.config().addresses == std::vector<std::string>{"127.0.0.1"});
}

TEST_CASE("without a handler every request gets 404") {
    Server server(test_config());
    server.start();
    const auto r = roundtrip(server.port(), kPing);
    REQUIRE(r.has_value());
    CHECK(r->status == 404);
}

TEST_CASE("stop is idempotent") {
    Server server(test_config());
    server.handle(hello_handler);
    server.start();
    server.stop();
    server.stop();
    CHECK_FALSE(server.running());
}

TEST_CASE("stop before start leaves a server that cannot start") {
    Server server(test_config());
    server.stop();
    CHECK_FALSE(server.running());
    expect_error(errc::stopped, [&] { server.start(); });
    CHECK_FALSE(server.running());
}

TEST_CASE("start twice throws already_running and the server keeps serving") {
    Server server(test_config());
    server.handle(hello_handler);
    server.start();
    const std::uint16_t port = server.port();
    expect_error(errc::already_running, [&] { server.start(); });
    CHECK(server.running());
    CHECK(server.port() == port);
    CHECK(pong(port));
}

TEST_CASE("start after stop throws stopped") {
    Server server(test_config());
    server.start();
    server.stop();
    expect_error(errc::stopped, [&] { server.start(); });
    CHECK_FALSE(server.running());
}

TEST_CASE("handle after start throws already_running; after stop, stopped") {
    Server server(test_config());
    server.start();
    expect_error(errc::already_running, [&] { server.handle(hello_handler); });
    server.stop();
    expect_error(errc::stopped, [&] { server.handle(hello_handler); });
}

TEST_CASE("an invalid config is refused by the constructor") {
    ServerConfig c = test_config();
    c.backlog = 0;
    expect_error(errc::invalid_argument, [&] { Server s(c); });
    c = test_config();
    c.addresses.clear();
    expect_error(errc::invalid_argument, [&] { Server s(c); });
}

TEST_CASE("an address that is not numeric is refused by the constructor with invalid_argument") {
    // ServerConfig::validate() holds the rule, so it is refused before anything can start
    // (and vs_config_set_address refuses the same addresses).
    ServerConfig c = test_config();
    c.addresses = {"localhost"};
    expect_error(errc::invalid_argument, [&] { Server s(c); });
}

TEST_CASE("binding a port in use throws address_in_use and leaves nothing running") {
    TestServer first(hello_handler);
    ServerConfig c = test_config(2);
    c.port = first.port();
    {
        Server second(c);
        second.handle([](Context& ctx) { ctx.text(200, "second"); });
        expect_error(errc::address_in_use, [&] { second.start(); });
        CHECK_FALSE(second.running());
        // It may not be started again either way; it holds no threads.
        second.stop();
    }
    // Every connection still goes to the first server (no reuse-port group was joined).
    for (int i = 0; i < 8; ++i) {
        CAPTURE(i);
        CHECK(pong(first.port()));
    }
}

TEST_CASE("after a failed bind, routes can still be added and a retried start serves them") {
    TestServer first(hello_handler);
    ServerConfig c = test_config();
    c.port = first.port();
    Server second(c);
    second.get("/a", [](Context& ctx) { ctx.text(200, "a"); });
    expect_error(errc::address_in_use, [&] { second.start(); });
    // Routing is not frozen by the failed start.
    second.get("/b", [](Context& ctx) { ctx.text(200, "b"); });
    second.handle([](Context& ctx) { ctx.text(404, "fallback"); });
    first.server().stop();
    REQUIRE(wait_until([&] { return !first.server().running(); }));
    second.start();
    const auto b = roundtrip(second.port(), "GET /b HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(b.has_value());
    CHECK(b->body == "b");
    const auto other = roundtrip(second.port(), "GET /c HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(other.has_value());
    CHECK(other->body == "fallback");
}

TEST_CASE("a failed start does not leave its other addresses bound") {
    TestServer first(hello_handler);
    ServerConfig c = test_config();
    // The first address (a different loopback) is free on that port; the second is taken.
    c.addresses = {"127.0.0.2", "127.0.0.1"};
    c.port = first.port();
    {
        Server second(c);
        expect_error(errc::address_in_use, [&] { second.start(); });
    }
    // Nothing was left listening on 127.0.0.2.
    ServerConfig again = test_config();
    again.addresses = {"127.0.0.2"};
    again.port = first.port();
    Server third(again);
    CHECK_NOTHROW(third.start());
}

TEST_CASE("run() blocks until stop() is called from another thread") {
    Server server(test_config());
    server.handle(hello_handler);
    std::promise<void> returned;
    auto done = returned.get_future();
    std::thread runner([&] {
        server.run();
        returned.set_value();
    });
    REQUIRE(wait_until([&] { return server.running(); }));
    CHECK(pong(server.port()));
    CHECK(done.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
    server.stop();
    CHECK(done.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    runner.join();
    CHECK_FALSE(server.running());
}

TEST_CASE("stop() from inside a handler ends the server, and wait() returns") {
    Server server(test_config());
    server.handle([&server](Context& ctx) {
        ctx.text(200, "stopping");
        server.stop();  // only requests the stop on a loop thread
    });
    server.start();
    const auto r = roundtrip(server.port(), kPing);
    REQUIRE(r.has_value());
    CHECK(r->body == "stopping");
    auto waited = std::async(std::launch::async, [&] { server.wait(); });
    CHECK(waited.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK_FALSE(server.running());
}

TEST_CASE("the destructor stops a running server") {
    std::uint16_t port = 0;
    {
        Server server(test_config());
        server.handle(hello_handler);
        server.start();
        port = server.port();
        CHECK(pong(port));
    }
    // The port is free again: a new server can take it.
    ServerConfig c = test_config();
    c.port = port;
    Server again(c);
    CHECK_NOTHROW(again.start());
    CHECK(again.port() == port);
}

TEST_CASE("stats count accepted connections and requests") {
    TestServer server(hello_handler);
    CHECK(server.server().stats().connections_accepted == 0);
    CHECK(server.server().stats().requests == 0);
    {
        RawClient a(server.port());
        for (int i = 0; i < 3; ++i) {
            REQUIRE(a.send(kPing));
            REQUIRE(a.read_response().has_value());
        }
        RawClient b(server.port());
        REQUIRE(b.send(kPing));
        REQUIRE(b.read_response().has_value());
        const auto st = server.server().stats();
        CHECK(st.connections_accepted == 2);
        CHECK(st.requests == 4);
        CHECK(st.connections_open == 2);
        CHECK(st.connections_rejected == 0);
        CHECK(st.connections_refused == 0);
    }
    CHECK(wait_until([&] { return server.server().stats().connections_open == 0; }));
    CHECK(server.server().stats().connections_accepted == 2);
}

TEST_CASE("start raises the soft descriptor limit to the hard one, unless raise_fd_limit is off") {
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(vstream::test::highest_open_fd() + 256);
    if (low.rlim_cur >= old.rlim_max || ::setrlimit(RLIMIT_NOFILE, &low) != 0) {
        MESSAGE("skipped: the soft limit cannot be lowered below the hard one here");
        return;
    }
    struct Restore {
        rlimit limit;
        ~Restore() { ::setrlimit(RLIMIT_NOFILE, &limit); }
    } restore{old};

    ServerConfig off = test_config();
    off.raise_fd_limit = false;
    off.limits.max_connections = 16;  // fits under the lowered limit: no warning
    off.file_cache.max_entries = 16;
    {
        TestServer server(hello_handler, off);
        CHECK(pong(server.port()));
        rlimit now{};
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &now) == 0);
        CHECK(now.rlim_cur == low.rlim_cur);
    }
    {
        TestServer server(hello_handler);  // raise_fd_limit is on by default
        CHECK(pong(server.port()));
        rlimit now{};
        REQUIRE(::getrlimit(RLIMIT_NOFILE, &now) == 0);
        CHECK(now.rlim_cur == old.rlim_max);
        CHECK(now.rlim_max == old.rlim_max);
    }
}

TEST_CASE("several servers run in one process at once") {
    std::vector<std::unique_ptr<TestServer>> servers;
    std::set<std::uint16_t> ports;
    for (int i = 0; i < 4; ++i) {
        const std::string name = "server-" + std::to_string(i);
        servers.push_back(
            std::make_unique<TestServer>([name](Context& ctx) { ctx.text(200, name); }));
        ports.insert(servers.back()->port());
    }
    CHECK(ports.size() == 4);
    for (int i = 0; i < 4; ++i) {
        CAPTURE(i);
        const auto r = roundtrip(servers[static_cast<std::size_t>(i)]->port(), kPing);
        REQUIRE(r.has_value());
        CHECK(r->body == "server-" + std::to_string(i));
    }
}

TEST_CASE("a server with three loop threads serves many connections") {
    TestServer server(hello_handler, test_config(3));
    constexpr int kClients = 30;
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.emplace_back([&] {
            if (pong(server.port())) ok.fetch_add(1);
        });
    }
    for (auto& t : clients) t.join();
    CHECK(ok.load() == kClients);
    CHECK(server.server().stats().connections_accepted == kClients);
    CHECK(server.server().stats().requests == kClients);
}

TEST_CASE("listeners each bind a port of their own, and every one serves") {
    ServerConfig c = test_config();
    c.listeners = {{"127.0.0.1", 0}, {"127.0.0.1", 0}};
    if (vstream::test::ipv6_loopback_available()) c.listeners.push_back({"::1", 0});
    Server server(c);
    server.handle(hello_handler);
    CHECK(server.ports().empty());
    server.start();
    const std::vector<std::uint16_t> ports = server.ports();
    REQUIRE(ports.size() == c.listeners.size());
    CHECK(server.port() == ports[0]);
    CHECK(ports[0] != ports[1]);  // port 0 is ephemeral per listener
    CHECK(pong(ports[0]));
    CHECK(pong(ports[1]));
    if (ports.size() == 3) {
        const auto r = vstream::test::roundtrip(ports[2], kPing, "::1");
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
    }
    server.stop();
}

TEST_CASE("in the single form, port 0 is one ephemeral port shared by every address") {
    ServerConfig c = test_config();
    c.addresses = {"127.0.0.1", "127.0.0.2"};
    c.port = 0;
    Server server(c);
    server.handle(hello_handler);
    server.start();
    const std::vector<std::uint16_t> ports = server.ports();
    REQUIRE(ports.size() == 2);
    CHECK(ports[0] == ports[1]);
    CHECK(pong(ports[0]));
    const auto r = vstream::test::roundtrip(ports[1], kPing, "127.0.0.2");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
}

TEST_CASE("a listener whose port is taken fails start() with address_in_use, binding nothing") {
    TestServer first(hello_handler);
    ServerConfig c = test_config();
    c.listeners = {{"127.0.0.1", 0}, {"127.0.0.1", first.port()}};
    Server second(c);
    expect_error(errc::address_in_use, [&] { second.start(); });
    CHECK_FALSE(second.running());
    CHECK(second.ports().empty());
}

}  // TEST_SUITE("server/server")
