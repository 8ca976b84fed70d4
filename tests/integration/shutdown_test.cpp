// Server lifecycle: graceful stop with work in flight, grace period, idempotence, port conflicts.
#include "async_fixtures.hpp"
#include "raw_client.hpp"
#include "requests.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

using namespace vstream::test;
using vstream::Context;
using vstream::ContextRef;

// Runs `fn` on its own thread and waits for it to return within `timeout`. A stop() that
// never returns cannot be recovered from (every later join would hang too), so a timeout
// ends the test run loudly instead of hanging it.
void returns_within(const char* what, const std::function<void()>& fn,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread t([fn, done] {
        fn();
        done->store(true);
    });
    if (!wait_until([&] { return done->load(); }, timeout)) {
        std::fprintf(stderr, "FATAL: %s did not return within %lld ms\n", what,
                     static_cast<long long>(timeout.count()));
        std::fflush(stderr);
        std::abort();
    }
    t.join();
}

// Whether a TCP connection to 127.0.0.1:port is accepted by the kernel.
bool can_connect(std::uint16_t port) {
    try {
        RawClient probe(port, std::chrono::milliseconds(200));
        return true;
    } catch (const std::runtime_error&) {
        return false;
    }
}

vstream::ServerConfig shutdown_config(std::chrono::milliseconds grace) {
    auto config = test_config();
    config.timeouts.shutdown_grace = grace;
    return config;
}

}  // namespace

TEST_SUITE("integration/shutdown") {

TEST_CASE("stop() lets an in-flight deferred request finish with Connection: close, then returns") {
    RefSlot held;
    TestServer server(
        [&](Context& ctx) {
            if (ctx.path() == "/slow") {
                held.put(ctx.defer());
            } else {
                hello_handler(ctx);
            }
        },
        shutdown_config(std::chrono::seconds(5)));
    const std::uint16_t port = server.port();
    RawClient c(port);
    REQUIRE(c.send(get_request("/slow")));
    REQUIRE(wait_until([&] { return held.filled(); }));

    std::atomic<bool> stop_returned{false};
    std::thread stopper([&] {
        server.server().stop();
        stop_returned = true;
    });
    // The stop has reached the loop once the listener is gone.
    CHECK(wait_until([&] { return !can_connect(port); }));
    CHECK_FALSE(stop_returned.load());  // the request is still in flight

    std::thread answerer([ref = held.take()] { ref->text(200, "finished during shutdown"); });
    answerer.join();

    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "finished during shutdown");
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());

    CHECK(wait_until([&] { return stop_returned.load(); }));
    stopper.join();
    CHECK_FALSE(server.server().running());
    CHECK_FALSE(can_connect(port));
}

TEST_CASE(
    "stop() with a request never answered returns after the grace period, "
    "closing its connection") {
    RefSlot held;
    std::atomic<bool> cancelled{false};
    TestServer server(
        [&](Context& ctx) {
            ContextRef ref = ctx.defer();
            ref.on_cancel([&] { cancelled = true; });
            held.put(std::move(ref));
        },
        shutdown_config(std::chrono::milliseconds(300)));
    RawClient c(server.port());
    REQUIRE(c.send(get_request("/never")));
    REQUIRE(wait_until([&] { return held.filled(); }));

    returns_within("stop() past the grace period", [&] { server.server().stop(); });
    CHECK_FALSE(server.server().running());
    // No response, just the close.
    CHECK(c.read_until_close().empty());
    CHECK(cancelled.load());
    ContextRef ref = held.take();
    CHECK(ref.cancelled());
    ref->text(200, "after the server stopped");  // harmless
}

TEST_CASE("stop() is idempotent and may be called from several threads") {
    TestServer server(hello_handler);
    std::thread a([&] { server.server().stop(); });
    std::thread b([&] { server.server().stop(); });
    a.join();
    b.join();
    CHECK_FALSE(server.server().running());
    server.server().stop();
    server.server().stop();
    CHECK_FALSE(server.server().running());
}

TEST_CASE("stop() called from a handler only requests the stop, and wait() joins") {
    vstream::Server server(test_config());
    std::atomic<int> stop_calls{0};
    server.handle([&](Context& ctx) {
        if (ctx.path() == "/stop") {
            server.stop();  // on the loop thread: must not join itself
            server.stop();  // and again: still idempotent
            stop_calls.fetch_add(1);
            ctx.text(200, "stopping");
        } else {
            hello_handler(ctx);
        }
    });
    server.start();
    RawClient c(server.port());
    REQUIRE(c.send(get_request("/stop")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "stopping");
    CHECK(c.wait_closed());

    returns_within("wait() after stop() from a handler", [&] { server.wait(); });
    CHECK(stop_calls.load() == 1);
    CHECK_FALSE(server.running());
    returns_within("stop() after wait()", [&] { server.stop(); });
}

TEST_CASE("idle keep-alive connections are closed by stop()") {
    // Each client waits 3 s for the close, well inside the 6 s grace: idle connections must
    // be closed at once, not when the grace period runs out.
    TestServer server(hello_handler, shutdown_config(std::chrono::seconds(6)));
    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 5; ++i) {
        auto c = std::make_unique<RawClient>(server.port(), std::chrono::seconds(3));
        REQUIRE(c->send(get_request("/ping")));
        const auto r = c->read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        clients.push_back(std::move(c));
    }
    REQUIRE(wait_until([&] { return server.server().stats().connections_open == 5; }));
    std::thread stopper([&] { server.server().stop(); });
    for (auto& c : clients) {
        CHECK(c->wait_closed());
        CHECK(c->buffered().empty());
    }
    stopper.join();
    CHECK_FALSE(server.server().running());
    CHECK(server.server().stats().connections_open == 0);
}

TEST_CASE("a connection that has sent nothing yet is closed by stop()") {
    // As above: the close must come well inside the grace period.
    TestServer server(hello_handler, shutdown_config(std::chrono::seconds(6)));
    RawClient silent(server.port(), std::chrono::seconds(3));
    REQUIRE(wait_until([&] { return server.server().stats().connections_open == 1; }));
    std::thread stopper([&] { server.server().stop(); });
    CHECK(silent.wait_closed());
    CHECK(silent.buffered().empty());
    stopper.join();
    CHECK_FALSE(server.server().running());
}

TEST_CASE("destroying a running Server without calling stop() shuts it down") {
    auto server = std::make_unique<vstream::Server>(test_config());
    server->handle(hello_handler);
    server->start();
    const std::uint16_t port = server->port();
    RawClient idle(port);
    REQUIRE(idle.send(get_request("/ping")));
    const auto r = idle.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);

    returns_within("~Server()", [&] { server.reset(); });
    CHECK(idle.wait_closed());
    CHECK_FALSE(can_connect(port));
}

TEST_CASE("destroying a Server that was never started is harmless") {
    vstream::Server never_started(test_config());
    never_started.handle(hello_handler);
    CHECK_FALSE(never_started.running());
}

TEST_CASE("running() is true from start() until stop()") {
    vstream::Server server(test_config());
    server.handle(hello_handler);
    CHECK_FALSE(server.running());
    server.start();
    CHECK(server.running());
    CHECK(server.port() != 0);
    server.stop();
    CHECK_FALSE(server.running());
}

TEST_CASE("start() twice throws vstream::Error, and so does start() after stop()") {
    vstream::Server server(test_config());
    server.handle(hello_handler);
    server.start();
    const std::uint16_t port = server.port();
    try {
        server.start();
        FAIL("a second start() did not throw");
    } catch (const vstream::Error& e) {
        CHECK(e.errc_code() == vstream::errc::already_running);
    }
    // The first start is unharmed.
    CHECK(server.running());
    const auto r = roundtrip(port, get_request("/ping"));
    REQUIRE(r);
    CHECK(r->status == 200);
    // handle() after start() is refused too.
    CHECK_THROWS_AS(server.handle(hello_handler), vstream::Error);

    server.stop();
    try {
        server.start();
        FAIL("start() after stop() did not throw");
    } catch (const vstream::Error& e) {
        CHECK(e.errc_code() == vstream::errc::stopped);
    }
    CHECK_FALSE(server.running());
}

TEST_CASE("a second Server on the port of a running one fails with address_in_use") {
    TestServer first([](Context& ctx) { ctx.text(200, "first"); });
    const std::uint16_t port = first.port();

    for (const unsigned threads : {1u, 2u}) {
        CAPTURE(threads);
        auto config = test_config(threads);
        listen_at(config, {"127.0.0.1"}, port);
        vstream::Server second(config);
        second.handle([](Context& ctx) { ctx.text(200, "second"); });
        try {
            second.start();
            FAIL("the second server started on a port already in use");
        } catch (const vstream::Error& e) {
            CHECK(e.errc_code() == vstream::errc::address_in_use);
        }
        CHECK_FALSE(second.running());
    }
    // The port was not silently shared: every connection still reaches the first server.
    for (int i = 0; i < 20; ++i) {
        const auto r = roundtrip(port, get_request("/"));
        REQUIRE(r);
        CHECK(r->body == "first");
    }
}

}  // TEST_SUITE("integration/shutdown")
