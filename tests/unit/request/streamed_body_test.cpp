// Streamed responses of unknown length (src/request/streamed_body.cpp) through a Connection over
// an in-memory transport: chunk framing and order, trailers, waking an idle connection from the
// loop thread and through the handoff, flow control, closing, HEAD, HTTP/1.0, bad trailers.
#include <vstream/error.hpp>
#include <vstream/stream.hpp>

#include "async_fixtures.hpp"
#include "chunked_decoder.hpp"
#include "connection_harness.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

using vstream::Body;
using vstream::Context;
using vstream::ContextRef;
using vstream::StreamWriter;
using vstream::test::ChunkedDecoder;
using vstream::test::ConnectionHarness;
using vstream::test::MemoryTransport;
using vstream::test::Threads;

namespace {

const std::string kGet = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

void echo_path(Context& ctx) { ctx.text(200, Body::copy(ctx.path())); }

// The first response head in `written` (through its empty line) and what follows it.
struct Split {
    std::string head;
    std::string rest;
};

Split split(const std::string& written) {
    const std::size_t end = written.find("\r\n\r\n");
    REQUIRE(end != std::string::npos);
    return {written.substr(0, end + 4), written.substr(end + 4)};
}

// A chunked body decoded by the strict decoder, and the bytes after its end.
struct Decoded {
    ChunkedDecoder::Status status = ChunkedDecoder::Status::more;
    std::string data;
    ChunkedDecoder::Trailers trailers;
    std::string after;
    std::string error;
};

Decoded decode(std::string_view body) {
    ChunkedDecoder d;
    Decoded out;
    const auto r = d.feed(body, [&](std::string_view piece) { out.data.append(piece); });
    out.status = r.status;
    out.trailers = d.trailers();
    out.after = std::string(body.substr(r.consumed));
    out.error = d.error();
    return out;
}

// Completes writes until none is in flight (bounded).
void complete_all(MemoryTransport& s) {
    for (int i = 0; i < 100 && s.complete_write(); ++i) {
    }
}

// A handler that starts a stream on every request and keeps the writer in `w`; `first` is
// written from inside the handler, before the head goes out.
vstream::Handler stream_into(StreamWriter& w, std::string first = {}) {
    return [&w, first](Context& ctx) {
        if (ctx.path() != "/") return echo_path(ctx);
        w = ctx.stream();
        if (!first.empty()) w.write(Body(first));
    };
}

}  // namespace

TEST_SUITE("request/streamed_body") {

TEST_CASE("chunks written before and after the head are sent in order, each framed as a chunk") {
    ConnectionHarness h;
    StreamWriter w;
    h.handler = stream_into(w, "first");
    MemoryTransport& s = h.open();
    s.deliver(kGet);
    REQUIRE(w);
    const Split sent = split(s.written);
    CHECK(sent.head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(sent.head.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    CHECK(sent.head.find("Content-Length") == std::string::npos);
    CHECK(sent.head.find("Connection: close") == std::string::npos);
    CHECK(sent.rest == "5\r\nfirst\r\n");

    CHECK(w.write("second"));
    CHECK(w.write(Body(std::string(300, 'z'))));
    w.end();
    complete_all(s);
    const Split all = split(s.written);
    CHECK(all.rest ==
          "5\r\nfirst\r\n6\r\nsecond\r\n12c\r\n" + std::string(300, 'z') + "\r\n0\r\n\r\n");
    const Decoded d = decode(all.rest);
    CHECK(d.status == ChunkedDecoder::Status::done);
    CHECK(d.data == "firstsecond" + std::string(300, 'z'));
    CHECK(d.after.empty());
    CHECK_FALSE(s.closed);  // keep-alive
    h.finish();
}

TEST_CASE(
    "end() with trailers sends the last chunk and the trailers, "
    "and the pipelined request is answered after them") {
    ConnectionHarness h;
    StreamWriter w;
    h.handler = stream_into(w, "live");
    MemoryTransport& s = h.open();
    s.deliver(kGet + "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(h.requests == 1);  // the next waits for the stream to end
    CHECK(s.written.find("/next") == std::string::npos);

    w.end({{"X-Checksum", "abc123"}, {"X-Count", "1"}});
    complete_all(s);
    CHECK(h.requests == 2);
    const Decoded d = decode(split(s.written).rest);
    REQUIRE(d.status == ChunkedDecoder::Status::done);
    CHECK(d.data == "live");
    REQUIRE(d.trailers.size() == 2);
    CHECK(d.trailers[0] == std::pair<std::string, std::string>("X-Checksum", "abc123"));
    CHECK(d.trailers[1] == std::pair<std::string, std::string>("X-Count", "1"));
    CHECK(d.after.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);  // right after the trailers
    CHECK(d.after.size() >= 5);
    CHECK(d.after.substr(d.after.size() - 5) == "/next");

    CHECK_FALSE(w.write("late"));  // after end()
    w.end({{"X-Again", "1"}});     // ignored
    complete_all(s);
    CHECK(s.written.find("late") == std::string::npos);
    CHECK(s.written.find("X-Again") == std::string::npos);
    h.finish();
}

TEST_CASE("an idle stream is woken at once by a write on the loop thread") {
    ConnectionHarness h;
    StreamWriter w;
    h.handler = stream_into(w);
    MemoryTransport& s = h.open();
    s.deliver(kGet);
    complete_all(s);  // the head is out; the stream has nothing to send
    const std::size_t before = s.written.size();
    CHECK_FALSE(s.write_in_flight);

    CHECK(w.write("later"));
    CHECK(w.queued() == 0);  // taken by the connection before write() returned
    CHECK(s.written.substr(before) == "5\r\nlater\r\n");
    complete_all(s);
    w.end();
    CHECK(s.written.substr(s.written.size() - 5) == "0\r\n\r\n");
    h.finish();
}

TEST_CASE("a write from another thread reaches the connection through the loop handoff") {
    ConnectionHarness h;
    h.config.timeouts.write = std::chrono::seconds(5);  // bounds every run_once below
    StreamWriter w;
    h.handler = stream_into(w);
    MemoryTransport& s = h.open();
    s.deliver(kGet);
    // The head's write stays in flight: its write timer keeps the loop alive (the harness's
    // handoff is unref'd), so run_once() wakes for the handoff.
    REQUIRE(s.write_in_flight);

    Threads producer;
    std::atomic<bool> accepted{false};
    producer.spawn([w, &accepted]() mutable { accepted = w.write("from-thread"); });
    producer.join();
    CHECK(accepted);
    CHECK(w.queued() == 11);  // another thread never touches the connection itself
    for (int i = 0; i < 10 && w.queued() != 0; ++i) h.run_once();
    CHECK(w.queued() == 0);

    producer.spawn([w]() mutable {
        w.write("tail");
        w.end({{"X-Done", "yes"}});
    });
    producer.join();
    for (int i = 0; i < 10 && w.queued() != 0; ++i) h.run_once();
    CHECK(w.queued() == 0);
    complete_all(s);
    const Decoded d = decode(split(s.written).rest);
    CHECK(d.status == ChunkedDecoder::Status::done);
    CHECK(d.data == "from-threadtail");
    REQUIRE(d.trailers.size() == 1);
    CHECK(d.trailers[0].second == "yes");
    h.finish();
}

TEST_CASE(
    "write() returns false above the high-water mark and on_drain runs once the "
    "connection has taken the bytes below the low-water mark") {
    ConnectionHarness h;
    h.config.limits.write_high_water = 1000;
    h.config.limits.write_low_water = 200;
    StreamWriter w;
    h.handler = stream_into(w);
    MemoryTransport& s = h.open();
    s.deliver(kGet);  // the head (about 100 bytes) is in flight
    int drains = 0;
    std::size_t queued_at_drain = 99999;
    w.on_drain([&] {
        ++drains;
        queued_at_drain = w.queued();
        w.write("after-drain");  // the producer resumes from the callback
    });

    const std::string piece(600, 'p');
    CHECK(w.write(Body::copy(piece)));  // taken at once: the connection holds < low water
    CHECK(w.queued() == 0);
    CHECK(w.write(Body::copy(piece)));        // 600 queued: the connection is above low water
    CHECK_FALSE(w.write(Body::copy(piece)));  // 1200 queued > 1000
    CHECK(w.queued() == 1200);
    CHECK(drains == 0);

    REQUIRE(s.complete_write());  // the head is out; the first piece still holds > low water
    CHECK(drains == 0);
    CHECK(w.queued() == 1200);
    REQUIRE(s.complete_write());  // the connection's queue is empty: it takes the rest
    CHECK(drains == 1);
    CHECK(queued_at_drain == 0);
    complete_all(s);
    CHECK(drains == 1);  // once per write() that returned false

    CHECK(w.write("ok"));
    w.end();
    complete_all(s);
    const Decoded d = decode(split(s.written).rest);
    CHECK(d.status == ChunkedDecoder::Status::done);
    CHECK(d.data == piece + piece + piece + "after-drain" + "ok");
    h.finish();
}

TEST_CASE(
    "the connection closing runs on_close, closed() turns true and later writes return "
    "false") {
    ConnectionHarness h;
    StreamWriter w;
    h.handler = stream_into(w, "some");
    MemoryTransport& s = h.open();
    s.deliver(kGet);
    int closes = 0;
    w.on_close([&] { ++closes; });
    CHECK_FALSE(w.closed());
    h.finish();  // the client is gone
    CHECK(closes == 1);
    CHECK(w.closed());
    CHECK_FALSE(w.write("more"));
    CHECK(w.queued() == 0);
    w.end({{"X-Late", "1"}});  // ignored, no throw
    CHECK(closes == 1);
    bool late = false;
    w.on_close([&] { late = true; });  // already closed: runs at once
    CHECK(late);
}

TEST_CASE("a failed write on the connection closes the stream and runs on_close") {
    ConnectionHarness h;
    StreamWriter w;
    h.handler = stream_into(w);
    MemoryTransport& s = h.open();
    s.deliver(kGet);
    int closes = 0;
    w.on_close([&] { ++closes; });
    CHECK(w.write("queued behind the head"));
    REQUIRE(s.complete_write(UV_EPIPE));
    CHECK(s.closed);
    CHECK(closes == 1);
    CHECK(w.closed());
    CHECK_FALSE(w.write("more"));
    h.finish();
    CHECK(closes == 1);
}

TEST_CASE("on_close does not run for a stream that ended before the connection closed") {
    ConnectionHarness h;
    StreamWriter w;
    h.handler = stream_into(w, "all");
    MemoryTransport& s = h.open();
    s.deliver(kGet);
    int closes = 0;
    w.on_close([&] { ++closes; });
    w.end();
    complete_all(s);
    h.finish();
    CHECK(closes == 0);
}

TEST_CASE("HEAD closes the writer at once and sends Transfer-Encoding: chunked with no body") {
    ConnectionHarness h;
    StreamWriter w;
    int closes = 0;
    h.handler = [&](Context& ctx) {
        if (ctx.path() != "/") return echo_path(ctx);
        w = ctx.stream();
        w.on_close([&] { ++closes; });
        w.write("dropped");
    };
    MemoryTransport& s = h.open();
    s.deliver("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(closes == 1);
    CHECK(w.closed());
    CHECK_FALSE(w.write("more"));
    const Split sent = split(s.written);
    CHECK(sent.head.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    CHECK(sent.head.find("Content-Length") == std::string::npos);
    CHECK(sent.rest.empty());
    complete_all(s);

    // The connection stays usable.
    s.deliver("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    complete_all(s);
    CHECK(s.written.find("dropped") == std::string::npos);
    CHECK(s.written.substr(s.written.size() - 5) == "/next");
    CHECK_FALSE(s.closed);
    h.finish();
}

TEST_CASE(
    "an HTTP/1.0 request gets raw bytes without Transfer-Encoding, and the connection "
    "closes after end()") {
    ConnectionHarness h;
    StreamWriter w;
    h.handler = stream_into(w, "abc");
    MemoryTransport& s = h.open();
    int closes = 0;
    s.deliver("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    w.on_close([&] { ++closes; });
    CHECK(w.write("def"));
    complete_all(s);
    CHECK(w.write(Body(std::string(5000, 'g'))));
    w.end({{"X-Dropped", "1"}});  // HTTP/1.0 has no trailers
    complete_all(s);
    const Split sent = split(s.written);
    CHECK(sent.head.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(sent.head.find("Transfer-Encoding") == std::string::npos);
    CHECK(sent.head.find("Content-Length") == std::string::npos);
    CHECK(sent.head.find("Connection: close\r\n") != std::string::npos);
    CHECK(sent.rest == "abcdef" + std::string(5000, 'g'));
    CHECK(s.shut_down);  // the body ends with the connection: FIN
    CHECK(closes == 0);
    h.finish();
}

TEST_CASE("an HTTP/1.0 stream ended without a byte sends the head, then closes") {
    ConnectionHarness h;
    StreamWriter w;
    h.handler = stream_into(w);
    MemoryTransport& s = h.open();
    s.deliver("GET / HTTP/1.0\r\n\r\n");
    w.end();
    complete_all(s);
    const Split sent = split(s.written);
    CHECK(sent.head.find("Connection: close\r\n") != std::string::npos);
    CHECK(sent.rest.empty());
    CHECK(s.shut_down);
    h.finish();
}

TEST_CASE("invalid trailers make end() throw and leave the stream open for a valid end()") {
    ConnectionHarness h;
    StreamWriter w;
    h.handler = stream_into(w, "one");
    MemoryTransport& s = h.open();
    s.deliver(kGet);
    CHECK_THROWS_AS(w.end({{"Bad Name", "v"}}), vstream::Error);
    CHECK_THROWS_AS(w.end({{"", "v"}}), vstream::Error);
    CHECK_THROWS_AS(w.end({{"X-Split", "a\r\nInjected: 1"}}), vstream::Error);
    CHECK_THROWS_AS(w.end({{"X-Nul", std::string("a\0b", 3)}}), vstream::Error);
    try {
        w.end({{"X-Ok", "1"}, {"X:Colon", "v"}});
        FAIL("end() accepted a trailer name with a colon");
    } catch (const vstream::Error& e) {
        CHECK(e.errc_code() == vstream::errc::invalid_argument);
    }
    CHECK_FALSE(w.closed());
    CHECK(w.write("two"));  // still open
    w.end({{"X-Ok", "1"}});
    complete_all(s);
    const Decoded d = decode(split(s.written).rest);
    CHECK(d.status == ChunkedDecoder::Status::done);
    CHECK(d.data == "onetwo");
    REQUIRE(d.trailers.size() == 1);
    CHECK(d.trailers[0] == std::pair<std::string, std::string>("X-Ok", "1"));
    CHECK(s.written.find("Injected") == std::string::npos);
    h.finish();
}

TEST_CASE("an empty write is ignored: it sends nothing and does not end the stream") {
    ConnectionHarness h;
    StreamWriter w;
    h.handler = stream_into(w, "x");
    MemoryTransport& s = h.open();
    s.deliver(kGet);
    complete_all(s);
    const std::size_t before = s.written.size();
    CHECK(w.write(Body()));
    CHECK(w.write(""));
    CHECK(w.queued() == 0);
    complete_all(s);
    CHECK(s.written.size() == before);  // no zero-size chunk, which would end the body
    CHECK(w.write("y"));
    w.end();
    complete_all(s);
    const Decoded d = decode(split(s.written).rest);
    CHECK(d.status == ChunkedDecoder::Status::done);
    CHECK(d.data == "xy");
    h.finish();
}

TEST_CASE("an empty write reports the same state as a non-empty one") {
    ConnectionHarness h;
    h.config.limits.write_high_water = 100;
    h.config.limits.write_low_water = 10;
    StreamWriter w;
    h.handler = stream_into(w);
    MemoryTransport& s = h.open();
    s.deliver(kGet);  // the head is in flight: the connection takes nothing more
    CHECK(w.write(Body(std::string(50, 'a'))));
    CHECK_FALSE(w.write(Body(std::string(200, 'b'))));  // above the high-water mark
    CHECK_FALSE(w.write(Body()));
    w.end();
    CHECK_FALSE(w.write("after end"));
    CHECK_FALSE(w.write(Body()));
    complete_all(s);
    h.finish();
}

TEST_CASE("a stream answered with 204 has no body and closes the writer") {
    ConnectionHarness h;
    StreamWriter w;
    int closes = 0;
    h.handler = [&](Context& ctx) {
        w = ctx.stream(204);
        w.on_close([&] { ++closes; });
    };
    MemoryTransport& s = h.open();
    s.deliver(kGet);
    CHECK(closes == 1);
    CHECK_FALSE(w.write("x"));
    const Split sent = split(s.written);
    CHECK(sent.head.rfind("HTTP/1.1 204 ", 0) == 0);
    CHECK(sent.head.find("Transfer-Encoding") == std::string::npos);
    CHECK(sent.rest.empty());
    h.finish();
}

TEST_CASE("stream() on a deferred request whose connection closed gives a closed writer") {
    ConnectionHarness h;
    ContextRef parked;
    h.handler = [&](Context& ctx) { parked = ctx.defer(); };
    MemoryTransport& s = h.open();
    s.deliver(kGet);
    REQUIRE(parked);
    h.finish();  // the client goes away while the request is deferred
    REQUIRE(parked.cancelled());
    StreamWriter w = parked->stream();
    int closes = 0;
    w.on_close([&] { ++closes; });
    CHECK(w.closed());
    CHECK(closes == 1);
    CHECK_FALSE(w.write("nobody reads this"));
}

TEST_CASE("a deferred stream started on another thread closes if the connection goes first") {
    ConnectionHarness h;
    ContextRef parked;
    h.handler = [&](Context& ctx) { parked = ctx.defer(); };
    MemoryTransport& s = h.open();
    s.deliver(kGet);
    REQUIRE(parked);
    StreamWriter w;
    Threads worker;
    worker.spawn([&] { w = parked->stream(); });
    worker.join();
    int closes = 0;
    w.on_close([&] { ++closes; });
    h.finish();
    CHECK(closes == 1);
    CHECK(w.closed());
}

}  // TEST_SUITE("request/streamed_body")
