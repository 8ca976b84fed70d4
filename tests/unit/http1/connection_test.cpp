// The HTTP/1.1 connection state machine over an in-memory transport: ordering, backpressure,
// errors and closing, timeouts, and deferred answers.
#include "connection_harness.hpp"
#include "net/write_queue.hpp"
#include "request/exchange.hpp"
#include "request/response_body.hpp"

#include <doctest/doctest.h>

#include <string>

using vstream::Body;
using vstream::Context;
using vstream::ContextRef;
using vstream::test::ConnectionHarness;
using vstream::test::MemoryTransport;

namespace {

std::size_t count(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
    return n;
}

void echo_path(Context& ctx) { ctx.text(200, Body::copy(ctx.path())); }

// A body of `chunks` pieces of `size` bytes ('a', 'b', ...), one piece per pull; it can pace
// itself (every other pull waits `pause_ms`) or fail after some pieces.
class ChunkSource final : public vstream::request::ResponseBody {
public:
    ChunkSource(int chunks, std::size_t size, int* pulls)
        : chunks_(chunks), size_(size), pulls_(pulls) {}
    int fail_after = -1;
    std::uint64_t pause_ms = 0;

    std::uint64_t length() const noexcept override { return std::uint64_t(chunks_) * size_; }
    vstream::request::Pull pull(vstream::net::WriteQueue& out,
                                std::uint64_t now) noexcept override {
        using Kind = vstream::request::Pull::Kind;
        ++*pulls_;
        if (sent_ == fail_after) return {Kind::fail};
        if (sent_ == chunks_) return {Kind::done};
        if (pause_ms != 0 && (*pulls_ % 2) == 1) return {Kind::wait, now + pause_ms};
        out.append(Body(std::string(size_, static_cast<char>('a' + sent_))));
        ++sent_;
        return {Kind::more};
    }

private:
    int chunks_;
    std::size_t size_;
    int* pulls_;
    int sent_ = 0;
};

vstream::Handler source_handler(int chunks, std::size_t size, int* pulls, int fail_after = -1,
                                std::uint64_t pause_ms = 0) {
    return [=](Context& ctx) {
        if (ctx.path() != "/big") return echo_path(ctx);
        auto src = std::make_unique<ChunkSource>(chunks, size, pulls);
        src->fail_after = fail_after;
        src->pause_ms = pause_ms;
        vstream::request::Exchange::of(ctx).response_body = std::move(src);
        ctx.send();
    };
}

}  // namespace

TEST_SUITE("http1/connection") {

TEST_CASE("pipelined requests delivered in one read are answered in order in one write") {
    ConnectionHarness h;
    h.handler = echo_path;
    MemoryTransport& s = h.open();
    s.deliver(
        "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(s.writes == 1);  // gathered
    const std::size_t a = s.written.find("\r\n\r\n/a");
    const std::size_t b = s.written.find("\r\n\r\n/b");
    const std::size_t c = s.written.find("\r\n\r\n/c");
    REQUIRE(a != std::string::npos);
    CHECK(a < b);
    CHECK(b < c);
    CHECK(h.requests == 3);
    h.finish();
}

TEST_CASE("a deferred request holds back the pipelined one behind it until answered") {
    ConnectionHarness h;
    ContextRef parked;
    h.handler = [&](Context& ctx) {
        if (ctx.path() == "/slow") {
            parked = ctx.defer();
        } else {
            echo_path(ctx);
        }
    };
    MemoryTransport& s = h.open();
    s.deliver("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(s.written.empty());
    REQUIRE(parked);
    parked->text(200, "slow-done");
    parked.reset();
    const std::size_t slow = s.written.find("slow-done");
    const std::size_t fast = s.written.find("/fast");
    REQUIRE(slow != std::string::npos);
    REQUIRE(fast != std::string::npos);
    CHECK(slow < fast);
    h.finish();
}

TEST_CASE("a deferred request whose connection closes is cancelled and its late answer dropped") {
    ConnectionHarness h;
    ContextRef parked;
    bool told = false;
    h.handler = [&](Context& ctx) {
        parked = ctx.defer();
        parked.on_cancel([&] { told = true; });
    };
    MemoryTransport& s = h.open();
    s.deliver("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    h.finish();  // the connection goes away
    CHECK(told);
    CHECK(parked.cancelled());
    parked->text(200, "too late");  // must not touch the freed connection
    parked.reset();
    CHECK(h.closed == 1);
}

TEST_CASE("dropping every ref without answering sends 500") {
    ConnectionHarness h;
    h.handler = [&](Context& ctx) { ContextRef dropped = ctx.defer(); };
    MemoryTransport& s = h.open();
    s.deliver("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(s.written.rfind("HTTP/1.1 500 ", 0) == 0);
    h.finish();
}

TEST_CASE("a parse error is answered with its status, Connection: close, then FIN") {
    ConnectionHarness h;
    h.handler = echo_path;
    MemoryTransport& s = h.open();
    s.deliver("GET / HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\x01 / HTTP/1.1\r\n\r\n");
    CHECK(count(s.written, "HTTP/1.1 ") == 2);
    CHECK(s.written.find("HTTP/1.1 400 Bad Request") != std::string::npos);
    CHECK(s.written.find("Connection: close") != std::string::npos);
    CHECK_FALSE(s.shut_down);  // not before the response is written
    s.complete_write();
    CHECK(s.shut_down);
    CHECK(s.reading);  // draining what the client still sends
    s.deliver_eof();
    CHECK(s.closed);
    h.finish();
}

TEST_CASE(
    "a 400 the engine chose closes the connection; a handler's own 400 and the engine's "
    "other statuses keep it") {
    struct Row {
        const char* name;
        int status;
        bool engine;
        bool closes;
    };
    const Row rows[] = {
        {"the engine's 400", 400, true, true},
        {"the handler's 400", 400, false, false},
        {"the engine's 404", 404, true, false},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        ConnectionHarness h;
        h.handler = [&row](Context& ctx) {
            if (ctx.path() == "/first") {
                vstream::request::Exchange::of(ctx).engine_error = row.engine;
                ctx.text(row.status, "no\n");
                return;
            }
            echo_path(ctx);
        };
        MemoryTransport& s = h.open();
        s.deliver(
            "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
            "GET /second HTTP/1.1\r\nHost: x\r\n\r\n");
        while (s.complete_write()) {
        }
        CHECK(count(s.written, "HTTP/1.1 ") == (row.closes ? 1 : 2));
        CHECK((s.written.find("Connection: close") != std::string::npos) == row.closes);
        CHECK(s.shut_down == row.closes);
        h.finish();
    }
}

TEST_CASE("100 Continue is written before the body is read, and only when a body is announced") {
    ConnectionHarness h;
    h.handler = [](Context& ctx) { ctx.text(200, Body::copy(ctx.body())); };
    MemoryTransport& s = h.open();
    s.deliver("PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
    CHECK(s.written == "HTTP/1.1 100 Continue\r\n\r\n");
    s.complete_write();
    s.deliver("abc");
    CHECK(s.written.find("HTTP/1.1 200 OK") != std::string::npos);
    CHECK(s.written.substr(s.written.size() - 3) == "abc");

    const std::size_t before = s.written.size();
    s.complete_write();
    s.deliver("GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n");
    CHECK(s.written.find("100 Continue", before) == std::string::npos);
    h.finish();
}

TEST_CASE("HEAD gets the headers of GET, with Content-Length, and no body") {
    ConnectionHarness h;
    h.handler = [](Context& ctx) { ctx.text(200, "twelve bytes"); };
    MemoryTransport& s = h.open();
    s.deliver("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(s.written.find("Content-Length: 12\r\n") != std::string::npos);
    CHECK(s.written.size() >= 4);
    CHECK(s.written.substr(s.written.size() - 4) == "\r\n\r\n");
    h.finish();
}

TEST_CASE("reading stops above the high-water mark and resumes below the low-water mark") {
    ConnectionHarness h;
    h.config.limits.write_high_water = 1000;
    h.config.limits.write_low_water = 100;
    h.handler = [](Context& ctx) { ctx.send(200, std::string(5000, 'x')); };
    MemoryTransport& s = h.open();
    s.deliver("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_FALSE(s.reading);
    CHECK(h.requests == 1);  // the second waits for the client to read the first
    s.complete_write();
    CHECK(h.requests == 2);
    s.complete_write();
    CHECK(s.reading);
    h.finish();
}

TEST_CASE("a handler that throws gets a 500 that does not leak the exception text") {
    ConnectionHarness h;
    h.handler = [](Context&) { throw std::runtime_error("secret database password"); };
    MemoryTransport& s = h.open();
    s.deliver("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(s.written.rfind("HTTP/1.1 500 ", 0) == 0);
    CHECK(s.written.find("secret") == std::string::npos);
    CHECK_FALSE(s.closed);  // keep-alive survives
    h.finish();
}

TEST_CASE("a stopping server answers the request in progress with Connection: close") {
    ConnectionHarness h;
    h.handler = echo_path;
    MemoryTransport& s = h.open();
    h.set_stopping(true);
    s.deliver("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(s.written.find("Connection: close") != std::string::npos);
    h.finish();
}

TEST_CASE("the header timeout cuts off a partial head with 408") {
    ConnectionHarness h;
    h.config.timeouts.header = std::chrono::milliseconds(20);
    h.handler = echo_path;
    MemoryTransport& s = h.open();
    s.deliver("GET / HTTP/1.1\r\nHo");
    while (s.written.empty()) h.run_once();
    CHECK(s.written.rfind("HTTP/1.1 408 ", 0) == 0);
    h.finish();
}

TEST_CASE("an idle keep-alive connection is closed silently after its timeout") {
    ConnectionHarness h;
    h.config.timeouts.keep_alive = std::chrono::milliseconds(20);
    h.handler = echo_path;
    MemoryTransport& s = h.open();
    s.deliver("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    s.complete_write();
    const std::size_t written = s.written.size();
    while (!s.closed) h.run_once();
    CHECK(s.written.size() == written);
    h.finish();
}

TEST_CASE("a client that stops reading is disconnected after the write timeout") {
    ConnectionHarness h;
    h.config.timeouts.write = std::chrono::milliseconds(20);
    h.handler = echo_path;
    MemoryTransport& s = h.open();
    s.deliver("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(s.write_in_flight);
    while (!s.closed) h.run_once();  // never completes the write
    h.finish();
}

TEST_CASE("a slow reader that keeps taking bytes is not cut by the write timeout") {
    ConnectionHarness h;
    h.config.timeouts.write = std::chrono::milliseconds(10);
    h.config.timeouts.keep_alive = std::chrono::milliseconds(10);
    h.handler = [](Context& ctx) { ctx.send(200, std::string(100000, 'x')); };
    MemoryTransport& s = h.open();
    s.pending_bytes = 100000;  // the kernel has taken nothing yet
    s.deliver("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(s.write_in_flight);
    for (int i = 0; i < 5; ++i) {
        s.pending_bytes -= 1000;  // the peer reads a little between two timer checks
        h.run_once();
        CHECK_FALSE(s.closed);
    }
    s.complete_write();  // all out: now the keep-alive clock runs, from here
    s.pending_bytes = 0;
    CHECK_FALSE(s.closed);
    while (!s.closed) h.run_once();
    h.finish();
}

TEST_CASE("a large last response is not cut by the linger time while it is being written") {
    ConnectionHarness h;
    h.config.timeouts.linger = std::chrono::milliseconds(5);
    h.config.timeouts.write = std::chrono::milliseconds(10);
    h.handler = [](Context& ctx) { ctx.send(200, std::string(100000, 'x')); };
    MemoryTransport& s = h.open();
    s.pending_bytes = 100000;
    s.deliver("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    for (int i = 0; i < 4; ++i) {
        s.pending_bytes -= 1000;
        h.run_once();
        CHECK_FALSE(s.closed);
        CHECK_FALSE(s.shut_down);
    }
    s.complete_write();
    CHECK(s.shut_down);  // FIN once everything is out; the linger clock starts now
    while (!s.closed) h.run_once();
    h.finish();
}

TEST_CASE(
    "a response body is pulled as the client drains, and the pipelined request waits for it") {
    ConnectionHarness h;
    int pulls = 0;
    h.handler = source_handler(4, 300 * 1024, &pulls);  // each piece is above the low-water mark
    MemoryTransport& s = h.open();
    s.deliver("GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(s.written.find("Content-Length: 1228800\r\n") != std::string::npos);
    CHECK(pulls == 1);  // one piece queued: no more until it drains
    CHECK(s.written.find("/after") == std::string::npos);
    int rounds = 0;
    while (s.write_in_flight && rounds++ < 20) s.complete_write();
    CHECK(count(s.written, std::string(300 * 1024, 'd')) == 1);
    const std::size_t last = s.written.find(std::string(300 * 1024, 'd'));
    const std::size_t after = s.written.find("\r\n\r\n/after");
    REQUIRE(after != std::string::npos);
    CHECK(after > last);  // strictly in order, after the last byte of the response body
    CHECK(h.requests == 2);
    h.finish();
}

TEST_CASE("a response body that fails cuts the response short and closes the connection") {
    ConnectionHarness h;
    int pulls = 0;
    h.handler = source_handler(4, 300 * 1024, &pulls, 2);
    MemoryTransport& s = h.open();
    s.deliver("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    while (s.write_in_flight && !s.closed) s.complete_write();
    CHECK(s.closed);
    CHECK(s.written.find(std::string(1000, 'c')) == std::string::npos);
    h.finish();
}

TEST_CASE("a paced response body is pulled again when the time it asked for comes") {
    ConnectionHarness h;
    int pulls = 0;
    h.handler = source_handler(3, 100, &pulls, -1, 2);
    MemoryTransport& s = h.open();
    s.deliver("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 50 && h.requests == 1 && s.written.find("ccc") == std::string::npos; ++i) {
        if (s.write_in_flight) s.complete_write();
        h.run_once();  // the pacing timer
    }
    CHECK(s.written.find(std::string(100, 'c')) != std::string::npos);
    CHECK_FALSE(s.closed);
    h.finish();
}

TEST_CASE("HEAD with a response body announces its length and never pulls it") {
    ConnectionHarness h;
    int pulls = 0;
    h.handler = source_handler(2, 1000, &pulls);
    MemoryTransport& s = h.open();
    s.deliver("HEAD /big HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(s.written.find("Content-Length: 2000\r\n") != std::string::npos);
    CHECK(pulls == 0);
    CHECK(s.written.find("/next") != std::string::npos);
    h.finish();
}

TEST_CASE("a connection closed while a response body is sending drops the response body") {
    ConnectionHarness h;
    int pulls = 0;
    h.handler = source_handler(4, 300 * 1024, &pulls);
    MemoryTransport& s = h.open();
    s.deliver("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(s.write_in_flight);
    s.deliver_eof();  // a half-close: the response still goes out
    CHECK_FALSE(s.closed);
    s.complete_write(UV_ECONNRESET);  // then the peer is gone
    CHECK(s.closed);
    h.finish();
}

}  // TEST_SUITE("http1/connection")
