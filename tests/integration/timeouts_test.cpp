// Timeouts: slowloris heads, silent or idle connections, stalled bodies and readers are cut.
#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using std::chrono::steady_clock;
using vstream::list_has_token;
using vstream::ServerConfig;
using vstream::test::RawClient;
using vstream::test::test_config;
using vstream::test::TestServer;
using vstream::test::wait_until;

namespace {

// Short timeouts keep the suite fast; every wait below allows seconds more than these.
constexpr auto kHeader = 300ms;
constexpr auto kKeepAlive = 300ms;
constexpr auto kBodyRead = 300ms;
constexpr auto kWrite = 300ms;

ServerConfig timeouts_config() {
    ServerConfig c = test_config();
    c.timeouts.header = kHeader;
    c.timeouts.keep_alive = kKeepAlive;
    c.timeouts.body_read = kBodyRead;
    c.timeouts.write = kWrite;
    c.timeouts.linger = 500ms;
    return c;
}

constexpr std::size_t kBig = 64u << 20;

// 64 MiB served without a copy (Body::borrow of static storage).
std::string_view big_bytes() {
    static const std::string bytes(kBig, 'z');
    return bytes;
}

// /big sends 64 MiB, /big?half 32 MiB, /echo the body, anything else "ok".
struct CountingHandler {
    std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);

    void operator()(vstream::Context& ctx) const {
        calls->fetch_add(1);
        if (ctx.path() == "/big") {
            std::string_view bytes = big_bytes();
            if (ctx.query_string() == "half") bytes = bytes.substr(0, kBig / 2);
            ctx.send(200, vstream::Body::borrow(bytes, std::shared_ptr<const void>()));
        } else if (ctx.path() == "/echo") {
            ctx.text(200, vstream::Body::copy(ctx.body()));
        } else {
            ctx.text(200, "ok\n");
        }
    }
};

// A GET on a fresh connection, answered 200.
bool served(std::uint16_t port) {
    const auto r = vstream::test::roundtrip(port, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    return r.has_value() && r->status == 200;
}

}  // namespace

TEST_SUITE("integration/timeouts") {

TEST_CASE("a slowloris client sending a byte every 50 ms is cut off after the header timeout") {
    CountingHandler handler;
    TestServer srv(handler, timeouts_config());
    RawClient slow(srv.port(), 5s);
    REQUIRE(slow.send("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));

    // Bytes keep arriving, but the head's clock is not reset by them.
    const auto bound = steady_clock::now() + kHeader + 2s;
    bool cut = false;
    bool other_served = false;
    while (steady_clock::now() < bound) {
        if (!slow.send("a")) {
            cut = true;  // the server is gone
            break;
        }
        if (slow.readable(50ms)) {
            cut = true;  // a 408, or the close
            break;
        }
        // A normal client on another connection is served meanwhile.
        if (!other_served) other_served = served(srv.port());
    }
    CHECK(cut);
    CHECK(other_served);

    // Whatever came is a 408 (or nothing), and then the connection is closed.
    const std::string rest = slow.read_until_close();
    if (!rest.empty()) CHECK(rest.rfind("HTTP/1.1 408 ", 0) == 0);
    CHECK(slow.wait_closed());
    CHECK(handler.calls->load() == 1);  // only the other client's request
}

TEST_CASE("a connection that sends nothing is closed after the header timeout without a response") {
    CountingHandler handler;
    TestServer srv(handler, timeouts_config());
    RawClient c(srv.port(), 5s);
    CHECK(c.read_until_close().empty());
    CHECK(c.wait_closed());
    CHECK(wait_until([&] { return srv.server().stats().connections_open == 0; }));
    CHECK(handler.calls->load() == 0);
}

TEST_CASE("an idle keep-alive connection is closed after the keep-alive timeout without a byte") {
    CountingHandler handler;
    TestServer srv(handler, timeouts_config());
    RawClient c(srv.port(), 5s);
    REQUIRE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const auto r = c.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK_FALSE(list_has_token(r->header("connection"), "close"));
    CHECK(c.read_until_close().empty());
    CHECK(c.wait_closed());
    CHECK(wait_until([&] { return srv.server().stats().connections_open == 0; }));
}

TEST_CASE("a body that stalls is answered 408 and closed after the body-read timeout") {
    CountingHandler handler;
    TestServer srv(handler, timeouts_config());
    RawClient c(srv.port(), 5s);
    // Content-Length 100, then only 10 bytes.
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789"));
    const auto r = c.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 408);
    CHECK(r->header("content-type").rfind("text/plain", 0) == 0);
    CHECK(list_has_token(r->header("connection"), "close"));
    CHECK(c.wait_closed());
    CHECK(handler.calls->load() == 0);
}

TEST_CASE("a body trickling in with pauses shorter than the body-read timeout is accepted") {
    CountingHandler handler;
    TestServer srv(handler, timeouts_config());
    RawClient c(srv.port(), 5s);
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"));
    // Ten pieces 50 ms apart: the whole body takes longer than body_read, no pause does.
    // (The sleep paces the client; it synchronises nothing.)
    for (char ch = '0'; ch <= '9'; ++ch) {
        std::this_thread::sleep_for(50ms);
        REQUIRE(c.send(std::string(1, ch)));
    }
    const auto r = c.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->body == "0123456789");
}

TEST_CASE("a client that never reads a large response is disconnected after the write timeout") {
    CountingHandler handler;
    TestServer srv(handler, timeouts_config());
    RawClient c(srv.port(), 5s);
    c.set_receive_buffer(4096);
    REQUIRE(c.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
    REQUIRE(wait_until([&] { return handler.calls->load() == 1; }));

    // The client reads nothing; the server gives up on it while it is still connected.
    // (Draining the client afterwards is no check worth its time: the kernel still delivers
    // what the closed socket had buffered, through a window of a few KiB.)
    CHECK(wait_until([&] { return srv.server().stats().connections_open == 0; }, 15s));

    // The server is unaffected.
    CHECK(served(srv.port()));
}

TEST_CASE("a slow reader that keeps making progress is not cut by the write timeout") {
    // The write timeout bounds the time WITHOUT progress (Timeouts::write), not the time a
    // large response takes: this client reads 128 KiB every 10 ms, so the 32 MiB response
    // takes well over the write timeout but never pauses for long.
    CountingHandler handler;
    TestServer srv(handler, timeouts_config());
    RawClient c(srv.port(), 5s);
    REQUIRE(c.send("GET /big?half HTTP/1.1\r\nHost: x\r\n\r\n"));

    std::string head;
    std::size_t body = 0;
    std::size_t expected = std::string::npos;
    std::string buf;
    // About 256 reads 10 ms apart; the bound, far above that, keeps a reader that gets only
    // small pieces from running on (it then fails the checks below).
    const auto bound = steady_clock::now() + 60s;
    while ((expected == std::string::npos || body < expected) && steady_clock::now() < bound) {
        buf.clear();
        if (!c.receive(buf, 5s, 128 * 1024)) break;  // EOF, reset (cut off) or 5 s of nothing
        const std::size_t n = buf.size();
        if (expected == std::string::npos) {
            head.append(buf);
            const std::size_t end = head.find("\r\n\r\n");
            if (end == std::string::npos) continue;
            REQUIRE(head.rfind("HTTP/1.1 200 ", 0) == 0);
            const std::size_t cl = head.find("Content-Length: ");
            REQUIRE(cl != std::string::npos);
            expected = std::stoull(head.substr(cl + 16));
            body = head.size() - (end + 4);
            continue;
        }
        body += n;
        std::this_thread::sleep_for(10ms);  // the client's reading speed, not a synchronisation
    }
    CHECK(expected == kBig / 2);
    CHECK(body == kBig / 2);
}

TEST_CASE("a keep-alive client busy for longer than every timeout is never cut") {
    CountingHandler handler;
    TestServer srv(handler, timeouts_config());
    RawClient c(srv.port(), 5s);
    // Requests back to back for three keep-alive (and header) timeouts.
    const auto until = steady_clock::now() + 3 * kKeepAlive;
    int requests = 0;
    bool all_served = true;
    while (all_served && steady_clock::now() < until) {
        all_served = c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
        const auto r = c.read_response();
        all_served = all_served && r.has_value() && r->status == 200 && r->body == "hi" &&
                     !list_has_token(r->header("connection"), "close");
        if (all_served) ++requests;
    }
    CAPTURE(requests);
    CHECK(all_served);
    CHECK(requests > 1);
    CHECK(srv.server().stats().connections_open == 1);
}

TEST_CASE("a keep-alive client pausing less than the timeout between requests is never cut") {
    CountingHandler handler;
    TestServer srv(handler, timeouts_config());
    RawClient c(srv.port(), 5s);
    // Eight requests a third of the keep-alive timeout apart: in all, far longer than it.
    // (The sleep is the client's think time; it synchronises nothing.)
    for (int i = 0; i < 8; ++i) {
        CAPTURE(i);
        if (i > 0) std::this_thread::sleep_for(kKeepAlive / 3);
        REQUIRE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
    }
    CHECK(srv.server().stats().connections_open == 1);
}

}  // TEST_SUITE("integration/timeouts")
