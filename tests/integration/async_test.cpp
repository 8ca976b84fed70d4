// Deferred answers from other threads and on the loop, cancellation, dropped refs, handler errors.
#include "async_fixtures.hpp"
#include "raw_client.hpp"
#include "requests.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace vstream::test;
using vstream::Context;
using vstream::ContextRef;

// A short shutdown grace, so a failing test never waits long on a request left in flight.
vstream::ServerConfig async_config(unsigned threads = 1) {
    auto config = test_config(threads);
    config.timeouts.shutdown_grace = std::chrono::milliseconds(500);
    return config;
}

// A fixed pool of worker threads that run queued jobs.
class Pool {
public:
    explicit Pool(unsigned n) {
        for (unsigned i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
    }
    ~Pool() {
        {
            std::lock_guard lock(mutex_);
            done_ = true;
        }
        ready_.notify_all();
        for (std::thread& t : workers_) t.join();
    }
    void submit(std::function<void()> job) {
        {
            std::lock_guard lock(mutex_);
            jobs_.push_back(std::move(job));
        }
        ready_.notify_one();
    }

private:
    void work() {
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(mutex_);
                ready_.wait(lock, [this] { return done_ || !jobs_.empty(); });
                if (jobs_.empty()) return;
                job = std::move(jobs_.front());
                jobs_.pop_front();
            }
            job();
        }
    }

    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<std::function<void()>> jobs_;
    std::vector<std::thread> workers_;
    bool done_ = false;
};

void expect_pong(std::uint16_t port) {
    const auto r = roundtrip(port, get_request("/ping"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == R"({"message":"pong"})");
}

}  // namespace

TEST_SUITE("integration/async") {

TEST_CASE(
    "a deferred request answered from another thread reaches the client, "
    "with its status, headers and body") {
    Threads threads;
    std::atomic<bool> handler_returned{false};
    TestServer server(
        [&](Context& ctx) {
            if (ctx.path() == "/json") {
                ContextRef ref = ctx.defer();
                threads.spawn([ref, &handler_returned] {
                    // Answer only once the handler has returned: truly later, truly elsewhere.
                    wait_until([&] { return handler_returned.load(); });
                    ref->set_header("X-Worker", "yes");
                    ref->add_header("X-Multi", "1");
                    ref->add_header("X-Multi", "2");
                    ref->json(201, R"({"made":true})");
                });
                handler_returned = true;
            } else if (ctx.path() == "/text") {
                ContextRef ref = ctx.defer();
                threads.spawn([ref] { ref->text(202, "accepted"); });
            } else if (ctx.path() == "/status") {
                ContextRef ref = ctx.defer();
                threads.spawn([ref] {
                    ref->status(204).set_header("X-Empty", "1");
                    ref->send();
                });
            } else {
                hello_handler(ctx);
            }
        },
        async_config());
    RawClient c(server.port());

    REQUIRE(c.send(get_request("/json")));
    const auto json = c.read_response();
    REQUIRE(json);
    CHECK(json->status == 201);
    CHECK(json->header("content-type") == "application/json");
    CHECK(json->header("x-worker") == "yes");
    CHECK(json->headers.count("x-multi") == 2);
    CHECK(json->body == R"({"made":true})");

    REQUIRE(c.send(get_request("/text")));
    const auto text = c.read_response();
    REQUIRE(text);
    CHECK(text->status == 202);
    CHECK(text->header("content-type") == "text/plain; charset=utf-8");
    CHECK(text->body == "accepted");

    REQUIRE(c.send(get_request("/status")));
    const auto status = c.read_response();
    REQUIRE(status);
    CHECK(status->status == 204);
    CHECK(status->header("x-empty") == "1");
    CHECK_FALSE(status->has_header("content-length"));

    // The connection is still in step.
    REQUIRE(c.send(get_request("/ping")));
    const auto ping = c.read_response();
    REQUIRE(ping);
    CHECK(ping->status == 200);
    threads.join();
}

TEST_CASE(
    "once a request is answered and sent, its cancel callback is let go, so a callback "
    "that holds the request's own ref is no cycle") {
    auto token = std::make_shared<int>(0);
    std::weak_ptr<int> watch = token;
    std::atomic<bool> cancel_ran{false};
    TestServer server(
        [&](Context& ctx) {
            ContextRef ref = ctx.defer();
            // The callback keeps the request alive through its own ref, and a token to watch.
            ref.on_cancel([ref, t = std::move(token), &cancel_ran] { cancel_ran = true; });
            ref->text(200, "answered");
        },
        async_config());
    RawClient c(server.port());
    REQUIRE(c.send(get_request("/a")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "answered");
    // Without being let go, the callback (and the exchange it holds) would live on until the
    // server is destroyed; the connection stays open here, so nothing else would free it.
    CHECK(wait_until([&] { return watch.expired(); }));
    CHECK_FALSE(cancel_ran.load());
}

TEST_CASE("a deferred request can be answered on the loop thread before the handler returns") {
    TestServer server(
        [](Context& ctx) {
            ContextRef ref = ctx.defer();
            ref->text(200, "same thread");
        },
        async_config());
    RawClient c(server.port());
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        REQUIRE(c.send(get_request("/now")));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "same thread");
    }
}

TEST_CASE("an answer sent from another thread before the handler returns is delivered once") {
    Threads threads;
    TestServer server(
        [&](Context& ctx) {
            if (ctx.path() != "/early") {
                hello_handler(ctx);
                return;
            }
            auto sent = std::make_shared<std::atomic<bool>>(false);
            ContextRef ref = ctx.defer();
            threads.spawn([ref, sent] {
                ref->text(200, "early");
                sent->store(true);
            });
            // The handler still runs while the answer is already given elsewhere.
            wait_until([&] { return sent->load(); });
        },
        async_config());
    RawClient c(server.port());
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        REQUIRE(c.send(get_request("/early") + get_request("/ping")));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "early");
        const auto next = c.read_response();  // no second copy of "early" in between
        REQUIRE(next);
        CHECK(next->body == R"({"message":"pong"})");
    }
    threads.join();
}

TEST_CASE("a deferred request can be answered later by another request's handler on the loop") {
    RefSlot held;
    TestServer server(
        [&](Context& ctx) {
            if (ctx.path() == "/hold") {
                held.put(ctx.defer());
            } else if (ctx.path() == "/release") {
                ContextRef ref = held.take();
                if (!ref) {
                    ctx.text(500, "nothing held");
                    return;
                }
                ref->text(200, "released by another request");
                ctx.text(200, "released");
            }
        },
        async_config());
    RawClient a(server.port());
    REQUIRE(a.send(get_request("/hold")));
    REQUIRE(wait_until([&] { return held.filled(); }));

    RawClient b(server.port());
    REQUIRE(b.send(get_request("/release")));
    const auto rb = b.read_response();
    REQUIRE(rb);
    CHECK(rb->body == "released");
    const auto ra = a.read_response();
    REQUIRE(ra);
    CHECK(ra->status == 200);
    CHECK(ra->body == "released by another request");
}

TEST_CASE(
    "a client that disconnects before the async answer cancels the request, "
    "and the late answer is harmless") {
    RefSlot held;
    std::atomic<int> cancel_calls{0};
    TestServer server(
        [&](Context& ctx) {
            if (ctx.path() == "/slow") {
                ContextRef ref = ctx.defer();
                ref.on_cancel([&] { cancel_calls.fetch_add(1); });
                held.put(std::move(ref));
            } else {
                hello_handler(ctx);
            }
        },
        async_config());

    {
        RawClient c(server.port());
        REQUIRE(c.send(get_request("/slow")));
        REQUIRE(wait_until([&] { return held.filled(); }));
        // Close abortively (RST): the connection is unambiguously gone, not half-closed.
        const linger abort_on_close{1, 0};
        ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    }
    CHECK(wait_until([&] { return cancel_calls.load() == 1; }));
    ContextRef ref = held.take();
    REQUIRE(ref);
    CHECK(ref.cancelled());

    // The late answer, from another thread, goes nowhere.
    std::thread late([ref] {
        ref->set_header("X-Late", "1");
        ref->text(200, "too late");
    });
    late.join();
    CHECK(ref->responded());
    // on_cancel after cancellation runs at once, on the calling thread.
    bool ran_now = false;
    ref.on_cancel([&] { ran_now = true; });
    CHECK(ran_now);
    ref.reset();
    CHECK(cancel_calls.load() == 1);

    // The server keeps serving other clients.
    expect_pong(server.port());
    RawClient other(server.port());
    for (int i = 0; i < 3; ++i) {
        REQUIRE(other.send(get_request("/ping")));
        const auto r = other.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
    }
}

TEST_CASE("a client that closes its side before the async answer does not break the server") {
    Threads threads;
    RefSlot held;
    TestServer server(
        [&](Context& ctx) {
            if (ctx.path() == "/slow") {
                held.put(ctx.defer());
            } else {
                hello_handler(ctx);
            }
        },
        async_config());
    {
        RawClient c(server.port());
        REQUIRE(c.send(get_request("/slow")));
        REQUIRE(wait_until([&] { return held.filled(); }));
    }  // FIN: the request may still be answered, or be cancelled; either way nothing breaks
    ContextRef ref = held.take();
    threads.spawn([ref] { ref->text(200, "late"); });
    threads.join();
    ref.reset();
    CHECK(wait_until([&] { return server.server().stats().connections_open == 0; }));
    expect_pong(server.port());
}

TEST_CASE("a deferred request whose every ref is dropped unanswered gets 500") {
    Threads threads;
    TestServer server(
        [&](Context& ctx) {
            if (ctx.path() == "/drop-now") {
                (void)ctx.defer();  // the only ref dies before the handler returns
            } else if (ctx.path() == "/drop-elsewhere") {
                ContextRef ref = ctx.defer();
                ContextRef copy = ref;
                threads.spawn([ref = std::move(ref), copy = std::move(copy)]() mutable {
                    ref.reset();
                    copy.reset();  // the last one, on another thread
                });
            } else {
                hello_handler(ctx);
            }
        },
        async_config());
    RawClient c(server.port());
    for (const char* path : {"/drop-now", "/drop-elsewhere"}) {
        CAPTURE(path);
        REQUIRE(c.send(get_request(path)));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 500);
    }
    threads.join();
    // The connection is still usable after the engine's 500.
    REQUIRE(c.send(get_request("/ping")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
}

TEST_CASE(
    "a handler that throws gets a 500 that reveals nothing of the exception, "
    "and the server keeps serving") {
    TestServer server(
        [](Context& ctx) {
            if (ctx.path() == "/throw") {
                ctx.set_header("X-Secret-Header", "leaked");
                throw std::runtime_error("secret-detail-4711");
            }
            if (ctx.path() == "/throw-int") throw 42;
            hello_handler(ctx);
        },
        async_config());
    RawClient c(server.port());

    for (const char* path : {"/throw", "/throw-int"}) {
        CAPTURE(path);
        REQUIRE(c.send(get_request(path)));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 500);
        CHECK(r->body.find("secret") == std::string::npos);
        CHECK(r->body.find("4711") == std::string::npos);
        CHECK_FALSE(r->has_header("x-secret-header"));
        for (const auto& [name, value] : r->headers) {
            CHECK(value.find("secret") == std::string::npos);
        }
        // Same connection, next request.
        REQUIRE(c.send(get_request("/ping")));
        const auto next = c.read_response();
        REQUIRE(next);
        CHECK(next->status == 200);
    }
    // New connections too.
    expect_pong(server.port());
}

TEST_CASE("set_header with CR LF in its value throws in the handler and the client gets 500") {
    std::atomic<int> thrown_code{0};
    TestServer server(
        [&](Context& ctx) {
            try {
                ctx.set_header("X-Bad", "a\r\nInjected: yes");
            } catch (const vstream::Error& e) {
                thrown_code = static_cast<int>(e.errc_code());
                throw;
            }
            ctx.text(200, "not reached");
        },
        async_config());
    RawClient c(server.port());
    REQUIRE(c.send(get_request("/")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 500);
    CHECK_FALSE(r->has_header("injected"));
    CHECK_FALSE(r->has_header("x-bad"));
    CHECK(thrown_code.load() == static_cast<int>(vstream::errc::invalid_argument));
    REQUIRE(c.send(get_request("/")));  // still in step
    const auto again = c.read_response();
    REQUIRE(again);
    CHECK(again->status == 500);
}

TEST_CASE("two hundred concurrent deferred requests answered by a worker pool all arrive intact") {
    constexpr int kRequests = 200;
    Pool pool(4);
    TestServer server(
        [&](Context& ctx) {
            ContextRef ref = ctx.defer();
            pool.submit([ref] {
                std::string reply = "reply:";
                reply += ref->path();
                ref->set_header("X-Target", ref->target());
                ref->text(200, std::move(reply));
            });
        },
        async_config(2));

    std::vector<std::unique_ptr<RawClient>> clients;
    clients.reserve(kRequests);
    for (int i = 0; i < kRequests; ++i) {
        clients.push_back(std::make_unique<RawClient>(server.port()));
    }
    for (int i = 0; i < kRequests; ++i) {
        REQUIRE(
            clients[i]->send(get_request("/req/" + std::to_string(i) + "?q=" + std::to_string(i))));
    }
    int ok = 0;
    for (int i = 0; i < kRequests; ++i) {
        CAPTURE(i);
        const auto r = clients[i]->read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "reply:/req/" + std::to_string(i));
        CHECK(r->header("x-target") == "/req/" + std::to_string(i) + "?q=" + std::to_string(i));
        if (r->status == 200) ++ok;
    }
    CHECK(ok == kRequests);
    CHECK(server.server().stats().requests == kRequests);
}

}  // TEST_SUITE("integration/async")
