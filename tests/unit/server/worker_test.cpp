// Tests Worker (src/server/worker.cpp): one loop thread serving its listeners, stop, counters, 503.
#include "server/worker.hpp"

#include "fd_starvation.hpp"
#include "handler_dispatcher.hpp"
#include "late_client.hpp"
#include "net/listener.hpp"
#include "raw_client.hpp"
#include "test_certs.hpp"
#include "test_server.hpp"
#include "tls/tls_context.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using vstream::Context;
using vstream::Handler;
using vstream::ServerConfig;
using vstream::net::ListenSocket;
using vstream::server::Worker;
using vstream::server::WorkerShared;
using vstream::server::WorkerSocket;
using vstream::test::HandlerDispatcher;
using vstream::test::hello_handler;
using vstream::test::LateClient;
using vstream::test::RawClient;
using vstream::test::test_config;
using vstream::test::wait_until;

namespace {

const std::string kPing = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";

// The worker keeps references to its config and dispatcher: they live here, beside it.
struct WorkerRig {
    ServerConfig config;
    HandlerDispatcher dispatcher;
    WorkerShared shared;
    std::uint16_t port = 0;
    std::unique_ptr<Worker> worker;

    // With `tls`, the listener speaks TLS with config.tls.
    explicit WorkerRig(Handler h = hello_handler, ServerConfig c = test_config(), bool tls = false)
        : config(std::move(c)), dispatcher(std::move(h)) {
        shared.dispatcher = &dispatcher;
        shared.request_env = vstream::request::Env::make(config, nullptr);
        std::vector<WorkerSocket> sockets;
        sockets.push_back({ListenSocket("127.0.0.1", 0, config.backlog), tls});
        port = sockets.back().socket.port();
        worker =
            std::make_unique<Worker>(config, shared, std::move(sockets),
                                     tls ? vstream::tls::TlsContext::make(config.tls) : nullptr);
    }
    ~WorkerRig() {
        if (worker) {
            worker->request_stop();
            worker->join();
        }
    }
    WorkerRig(const WorkerRig&) = delete;
    WorkerRig& operator=(const WorkerRig&) = delete;
};

}  // namespace

TEST_SUITE("server/worker") {

TEST_CASE("a worker serves requests on its loop thread and counts them") {
    std::atomic<int> on_loop{-1};
    WorkerRig* rig_ptr = nullptr;
    WorkerRig rig([&](Context& ctx) {
        on_loop = rig_ptr->worker->is_loop_thread() ? 1 : 0;
        hello_handler(ctx);
    });
    rig_ptr = &rig;
    rig.worker->run_in_thread();
    CHECK_FALSE(rig.worker->is_loop_thread());

    RawClient client(rig.port);
    for (int i = 0; i < 3; ++i) {
        REQUIRE(client.send(kPing));
        const auto r = client.read_response();
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        CHECK(r->body == R"({"message":"pong"})");
    }
    CHECK(on_loop.load() == 1);
    CHECK(rig.worker->accepted() == 1);
    CHECK(rig.worker->requests() == 3);
    CHECK(rig.worker->rejected() == 0);
    CHECK(rig.shared.open.load() == 1);
}

TEST_CASE("request_stop closes idle connections and the loop thread ends") {
    WorkerRig rig;
    rig.worker->run_in_thread();
    RawClient client(rig.port);
    REQUIRE(client.send(kPing));
    REQUIRE(client.read_response().has_value());
    rig.worker->request_stop();
    rig.worker->request_stop();  // twice is harmless
    rig.worker->join();
    CHECK(client.wait_closed());
    CHECK(rig.shared.open.load() == 0);
    // The listener is gone too.
    bool refused = false;
    try {
        RawClient late(rig.port);
        refused = !late.send(kPing) || !late.read_response().has_value();
    } catch (const std::exception&) {
        refused = true;
    }
    CHECK(refused);
}

TEST_CASE("a worker never run is destroyed cleanly, with a stop requested or not") {
    {
        WorkerRig rig;
        rig.worker.reset();
    }
    {
        WorkerRig rig;
        rig.worker->request_stop();  // queued; dropped unrun when the loop closes
        rig.worker.reset();
    }
    CHECK(true);
}

TEST_CASE("the closing of a connection lowers the shared open count") {
    WorkerRig rig;
    rig.worker->run_in_thread();
    {
        RawClient client(rig.port);
        REQUIRE(client.send(kPing));
        REQUIRE(client.read_response().has_value());
        CHECK(rig.shared.open.load() == 1);
    }
    CHECK(wait_until([&] { return rig.shared.open.load() == 0; }));
}

TEST_CASE("past max_connections a connection gets 503 and is closed") {
    ServerConfig c = test_config();
    c.limits.max_connections = 1;
    WorkerRig rig(hello_handler, c);
    rig.worker->run_in_thread();

    RawClient first(rig.port);
    REQUIRE(first.send(kPing));
    REQUIRE(first.read_response().has_value());  // accepted and being served

    RawClient second(rig.port);
    const auto r = second.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 503);
    CHECK(r->header("connection") == "close");
    CHECK(r->header("retry-after") == "1");
    CHECK(r->body == "503 Service Unavailable: too many connections\n");
    CHECK(r->header("content-length") == std::to_string(r->body.size()));
    CHECK(second.wait_closed());
    CHECK(wait_until([&] { return rig.worker->rejected() == 1; }));
    CHECK(rig.worker->accepted() == 1);
    CHECK(rig.shared.open.load() == 1);

    // The first connection is unaffected.
    REQUIRE(first.send(kPing));
    const auto again = first.read_response();
    REQUIRE(again.has_value());
    CHECK(again->status == 200);
}

TEST_CASE("past max_connections a connection to a TLS listener is closed without a byte") {
    // A TLS client reads only TLS records, and no answer can come before a handshake: a plain
    // 503 would only fail its handshake ("wrong version number"). Closed at once, as a
    // connection past TlsOptions::max_handshakes is.
    ServerConfig c = test_config();
    c.limits.max_connections = 1;
    c.tls.certificates = {vstream::test::test_certs().localhost};
    WorkerRig rig(hello_handler, c, /*tls=*/true);
    rig.worker->run_in_thread();

    LateClient first;  // holds the one place; its handshake never starts
    REQUIRE(first.connect_to(rig.port));
    REQUIRE(wait_until([&] { return rig.shared.open.load() == 1; }));

    LateClient second;
    REQUIRE(second.connect_to(rig.port));
    const auto got = second.read_until_close();
    REQUIRE(got.has_value());
    CHECK(got->empty());
    CHECK(wait_until([&] { return rig.worker->rejected() == 1; }));
    CHECK(rig.worker->accepted() == 1);
    CHECK(rig.shared.open.load() == 1);
}

TEST_CASE("once a connection closes, a new one under max_connections is served") {
    ServerConfig c = test_config();
    c.limits.max_connections = 1;
    WorkerRig rig(hello_handler, c);
    rig.worker->run_in_thread();
    {
        RawClient first(rig.port);
        REQUIRE(first.send(kPing));
        REQUIRE(first.read_response().has_value());
    }
    REQUIRE(wait_until([&] { return rig.shared.open.load() == 0; }));
    RawClient next(rig.port);
    REQUIRE(next.send(kPing));
    const auto r = next.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(rig.worker->rejected() == 0);
    CHECK(rig.worker->accepted() == 2);
}

TEST_CASE(
    "out of descriptors, new connections are answered 503 and counted as refused, the "
    "open one is still served, and accepting resumes once descriptors free up") {
    ServerConfig c = test_config();
    c.timeouts.accept_backoff = std::chrono::milliseconds(20);
    WorkerRig rig(hello_handler, c);
    rig.worker->run_in_thread();
    RawClient open_before(rig.port);
    REQUIRE(open_before.send(kPing));
    REQUIRE(open_before.read_response().has_value());
    std::vector<std::unique_ptr<LateClient>> late;
    for (int i = 0; i < 3; ++i) late.push_back(std::make_unique<LateClient>());

    std::vector<std::string> replies;
    bool counted = false;
    int served_meanwhile = 0;
    {
        // The loop thread opens nothing while it waits, so the starvation is exact. Checked
        // after it: a sanitizer's own checks may need a descriptor (UBSan's vptr check opens a
        // pipe), so nothing but the exchanges runs while none is left.
        vstream::test::FdStarvation starved(0);
        REQUIRE(starved.ok());
        for (const auto& l : late) REQUIRE(l->connect_to(rig.port));
        for (const auto& l : late) replies.push_back(l->read_until_close().value_or(""));
        counted = wait_until([&] { return rig.worker->refused() == 3; });

        // The connection it has is served meanwhile: reading and writing need no descriptor.
        if (open_before.send(kPing)) {
            const auto r = open_before.read_response();
            served_meanwhile = r.has_value() ? r->status : -1;
        }
    }
    for (const std::string& got : replies) {
        CAPTURE(got);
        CHECK(got.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0) == 0);
        CHECK(got.find("\r\nRetry-After: 1\r\n") != std::string::npos);
        CHECK(got.find("\r\nConnection: close\r\n") != std::string::npos);
    }
    CHECK(counted);
    CHECK(served_meanwhile == 200);

    RawClient after(rig.port);
    REQUIRE(after.send(kPing));
    const auto r = after.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(rig.worker->refused() == 3);
    CHECK(rig.worker->rejected() == 0);  // max_connections was never the reason
    CHECK(rig.worker->accepted() == 2);
}

TEST_CASE("two workers on one port share the connection limit through WorkerShared") {
    ServerConfig config = test_config();
    config.limits.max_connections = 2;
    const HandlerDispatcher dispatcher(hello_handler);
    WorkerShared shared;
    shared.dispatcher = &dispatcher;
    shared.request_env = vstream::request::Env::make(config, nullptr);
    std::vector<WorkerSocket> a_sockets;
    a_sockets.push_back({ListenSocket("127.0.0.1", 0, config.backlog)});
    const std::uint16_t port = a_sockets.back().socket.port();
    std::vector<WorkerSocket> b_sockets;
    b_sockets.push_back({ListenSocket("127.0.0.1", port, config.backlog)});
    Worker a(config, shared, std::move(a_sockets), nullptr);
    Worker b(config, shared, std::move(b_sockets), nullptr);
    a.run_in_thread();
    b.run_in_thread();

    std::vector<std::unique_ptr<RawClient>> clients;
    for (int i = 0; i < 2; ++i) {
        clients.push_back(std::make_unique<RawClient>(port));
        REQUIRE(clients.back()->send(kPing));
        REQUIRE(clients.back()->read_response().has_value());
    }
    CHECK(shared.open.load() == 2);
    RawClient over(port);
    const auto r = over.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 503);
    CHECK(wait_until([&] { return a.rejected() + b.rejected() == 1; }));
    CHECK(a.accepted() + b.accepted() == 2);

    a.request_stop();
    b.request_stop();
    a.join();
    b.join();
    CHECK(shared.open.load() == 0);
}

}  // TEST_SUITE("server/worker")
