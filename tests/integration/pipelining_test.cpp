// Pipelined requests are answered strictly in order, however they arrive and are answered.
#include "async_fixtures.hpp"
#include "path_log.hpp"
#include "raw_client.hpp"
#include "requests.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace vstream::test;
using vstream::Context;
using vstream::ContextRef;

// Echoes the request path as the body and in a header.
void path_handler(Context& ctx) {
    ctx.set_header("X-Path", ctx.path());
    ctx.text(200, vstream::Body::copy(ctx.path()));
}

}  // namespace

TEST_SUITE("integration/pipelining") {

TEST_CASE("ten requests pipelined in one send get ten responses in request order") {
    TestServer server(path_handler);
    RawClient c(server.port());
    std::string all;
    for (int i = 0; i < 10; ++i) all += get_request("/r" + std::to_string(i));
    REQUIRE(c.send(all));
    for (int i = 0; i < 10; ++i) {
        CAPTURE(i);
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "/r" + std::to_string(i));
        CHECK(r->header("x-path") == "/r" + std::to_string(i));
    }
    CHECK(c.buffered().empty());
    CHECK(server.server().stats().requests == 10);
}

TEST_CASE(
    "pipelined requests keep their order when the first is answered later, "
    "from another thread") {
    std::atomic<bool> pipeline_sent{false};
    std::atomic<bool> answered_after_send{false};
    Threads threads;
    PathLog log;
    TestServer server([&](Context& ctx) {
        log.add(ctx.path());
        if (ctx.path() == "/slow") {
            ContextRef ref = ctx.defer();
            threads.spawn([ref, &pipeline_sent, &answered_after_send] {
                // Answer only once the whole pipeline was sent, so the later requests are
                // in the server before this answer.
                answered_after_send = wait_until([&] { return pipeline_sent.load(); });
                ref->set_header("X-Path", "/slow");
                ref->text(200, "/slow");
            });
        } else {
            path_handler(ctx);
        }
    });
    RawClient c(server.port());
    std::string all = get_request("/slow");
    for (int i = 1; i < 6; ++i) all += get_request("/r" + std::to_string(i));
    REQUIRE(c.send(all));
    pipeline_sent = true;

    const auto first = c.read_response();
    REQUIRE(first);
    CHECK(first->status == 200);
    CHECK(first->body == "/slow");
    for (int i = 1; i < 6; ++i) {
        CAPTURE(i);
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "/r" + std::to_string(i));
    }
    threads.join();
    CHECK(answered_after_send);
    // The handler saw the requests one at a time, in order.
    CHECK(log.snapshot() == std::vector<std::string>{"/slow", "/r1", "/r2", "/r3", "/r4", "/r5"});
}

TEST_CASE("several deferred requests in one pipeline are each answered in order") {
    Threads threads;
    TestServer server([&](Context& ctx) {
        ContextRef ref = ctx.defer();
        threads.spawn([ref] { ref->text(200, vstream::Body::copy(ref->path())); });
    });
    RawClient c(server.port());
    std::string all;
    for (int i = 0; i < 8; ++i) all += get_request("/d" + std::to_string(i));
    REQUIRE(c.send(all));
    for (int i = 0; i < 8; ++i) {
        CAPTURE(i);
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->body == "/d" + std::to_string(i));
    }
    threads.join();
}

TEST_CASE("pipelined requests split at awkward byte boundaries are all answered in order") {
    TestServer server([](Context& ctx) {
        if (ctx.path() == "/echo") {
            ctx.text(200, vstream::Body::copy(ctx.body()));
        } else {
            path_handler(ctx);
        }
    });
    RawClient c(server.port());
    const std::string a = get_request("/a");
    const std::string b = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world";
    const std::string d =
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    const std::string e = get_request("/e");

    // The first request and half of the second in one write.
    const std::string first = a + b.substr(0, 20);
    REQUIRE(c.send(first));
    // The rest of the second, byte by byte, then the third split inside the CRLF of its
    // request line and between its chunk sizes and data.
    for (std::size_t i = 20; i < b.size(); ++i) REQUIRE(c.send(b.substr(i, 1)));
    const std::size_t cr = d.find("\r\n");
    REQUIRE(c.send(d.substr(0, cr + 1)));
    REQUIRE(c.send(d.substr(cr + 1, d.find("abc") - cr - 1 + 1)));
    REQUIRE(c.send(d.substr(d.find("abc") + 1) + e.substr(0, 3)));
    REQUIRE(c.send(e.substr(3)));

    const auto ra = c.read_response();
    REQUIRE(ra);
    CHECK(ra->body == "/a");
    const auto rb = c.read_response();
    REQUIRE(rb);
    CHECK(rb->body == "hello world");
    const auto rd = c.read_response();
    REQUIRE(rd);
    CHECK(rd->body == "abcde");
    const auto re = c.read_response();
    REQUIRE(re);
    CHECK(re->body == "/e");
}

TEST_CASE("a whole pipeline sent byte by byte is answered in order") {
    TestServer server(path_handler);
    RawClient c(server.port());
    const std::string all = get_request("/x") + get_request("/y") + get_request("/z");
    for (const char ch : all) REQUIRE(c.send(std::string_view(&ch, 1)));
    for (const char* p : {"/x", "/y", "/z"}) {
        CAPTURE(p);
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->body == p);
    }
}

TEST_CASE("requests pipelined behind a Connection: close request are not answered") {
    TestServer server(path_handler);
    RawClient c(server.port());
    REQUIRE(c.send(get_request("/a") +
                   "GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" +
                   get_request("/never")));
    const auto ra = c.read_response();
    REQUIRE(ra);
    CHECK(ra->body == "/a");
    const auto rl = c.read_response();
    REQUIRE(rl);
    CHECK(rl->body == "/last");
    CHECK(rl->header("connection") == "close");
    // Nothing follows the last response: no third answer, just the close.
    CHECK(c.read_until_close().empty());
    CHECK(c.buffered().empty());
}

TEST_CASE(
    "pipelined requests followed by a half-close are all answered, "
    "before the connection closes") {
    std::atomic<bool> half_closed{false};
    std::atomic<bool> answered_after_half_close{false};
    Threads threads;
    TestServer server([&](Context& ctx) {
        if (ctx.path() == "/deferred") {
            ContextRef ref = ctx.defer();
            threads.spawn([ref, &half_closed, &answered_after_half_close] {
                // Answer only once the client has half-closed: the FIN comes while this
                // request is in flight.
                answered_after_half_close = wait_until([&] { return half_closed.load(); });
                ref->text(200, "/deferred");
            });
        } else {
            path_handler(ctx);
        }
    });
    RawClient c(server.port());
    REQUIRE(c.send(get_request("/deferred") + get_request("/b") + get_request("/c")));
    c.shutdown_write();  // nothing more will come, but every response is still wanted
    half_closed = true;
    for (const char* p : {"/deferred", "/b", "/c"}) {
        CAPTURE(p);
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->body == p);
    }
    CHECK(c.wait_closed());
    CHECK(c.buffered().empty());
    threads.join();
    CHECK(answered_after_half_close);
}

TEST_CASE("a pipeline longer than the server holds at once is answered completely and in order") {
    // What the server holds behind a request in flight: line + headers + 64 KiB.
    constexpr std::size_t kServerHolds = 8 * 1024 + 32 * 1024 + 64 * 1024;
    constexpr std::size_t kPiece = 4 * 1024;
    std::atomic<std::size_t> sent{0};
    std::atomic<bool> answered_after_pile_up{false};
    Threads threads;
    TestServer server([&](Context& ctx) {
        if (ctx.path() == "/r0") {
            // The first answer comes late, so the rest of the pipeline piles up unread: only
            // once more was sent than the server holds at once (it reads that much while
            // this request is in flight, so the wait ends).
            ContextRef ref = ctx.defer();
            threads.spawn([ref, &sent, &answered_after_pile_up] {
                answered_after_pile_up = wait_until([&] { return sent.load() > kServerHolds; });
                ref->text(200, "/r0");
            });
        } else {
            ctx.text(200, vstream::Body::copy(ctx.path()));
        }
    });
    RawClient c(server.port());
    // More pipelined bytes than the server buffers behind a request in flight.
    constexpr int kRequests = 5000;
    std::string all;
    for (int i = 0; i < kRequests; ++i) all += get_request("/r" + std::to_string(i));
    REQUIRE(all.size() > kServerHolds + kPiece);
    std::thread sender([&] {  // the server may stop reading for a while
        for (std::size_t pos = 0; pos < all.size(); pos += kPiece) {
            const std::string_view piece = std::string_view(all).substr(pos, kPiece);
            if (!c.send(piece)) return;
            sent += piece.size();
        }
    });
    int in_order = 0;
    for (int i = 0; i < kRequests; ++i) {
        const auto r = c.read_response();
        if (!r) break;
        if (r->status == 200 && r->body == "/r" + std::to_string(i)) {
            ++in_order;
        } else {
            FAIL_CHECK("response " << i << " is '" << r->body << "'");
            break;
        }
    }
    sender.join();
    CHECK(in_order == kRequests);
    threads.join();
    CHECK(answered_after_pile_up);
}

TEST_CASE("pipelined responses past the write high-water mark are still answered in order") {
    const std::string big(300 * 1024, 'x');
    TestServer server([&](Context& ctx) {
        std::string body(ctx.path());
        body += ':';
        body += big;
        ctx.text(200, std::move(body));
    });
    RawClient c(server.port());
    constexpr int kRequests = 20;  // about 6 MB of responses, several times the high-water mark
    std::string all;
    for (int i = 0; i < kRequests; ++i) all += get_request("/b" + std::to_string(i));
    REQUIRE(c.send(all));
    for (int i = 0; i < kRequests; ++i) {
        CAPTURE(i);
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body.size() == big.size() + 1 + ("/b" + std::to_string(i)).size());
        CHECK(r->body.rfind("/b" + std::to_string(i) + ":", 0) == 0);
    }
    // Still usable.
    REQUIRE(c.send(get_request("/after")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body.rfind("/after:", 0) == 0);
}

}  // TEST_SUITE("integration/pipelining")
