// Streamed responses of unknown length over real sockets: a producer thread feeding a
// StreamWriter, read back chunked by a raw client and by curl, close-delimited by an HTTP/1.0
// client; flow control against a slow reader, a client that leaves, a server that stops, and
// two streams at once.
#include <vstream/stream.hpp>

#include "async_fixtures.hpp"
#include "byte_exact.hpp"
#include "checksum.hpp"
#include "chunked_decoder.hpp"
#include "chunked_reader.hpp"
#include "curl.hpp"
#include "raw_client.hpp"
#include "stream_flow.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace vstream::test;
using vstream::Body;
using vstream::Context;
using vstream::StreamWriter;
using namespace std::chrono_literals;

// Every test bounds shutdown, so a stream left open by a failing test ends quickly.
vstream::ServerConfig stream_config() {
    auto config = test_config();
    config.timeouts.shutdown_grace = std::chrono::milliseconds(500);
    return config;
}

std::string request(std::string_view path, std::string_view version = "HTTP/1.1") {
    return "GET " + std::string(path) + " " + std::string(version) + "\r\nHost: t\r\n\r\n";
}

// What a producer sends: `count` chunks of random bytes, 1 B to 64 KiB (both ends included).
struct Payload {
    std::vector<std::string> chunks;
    std::string all;
    std::string sum;
};

Payload make_payload(std::uint32_t seed, int count) {
    Payload p;
    std::mt19937 rng(seed);
    for (int i = 0; i < count; ++i) {
        std::size_t size = 1 + rng() % (64 * 1024);
        if (i == 0) size = 1;
        if (i == 1) size = 64 * 1024;
        std::string chunk(size, '\0');
        for (char& c : chunk) c = static_cast<char>(rng() & 0xff);
        p.all += chunk;
        p.chunks.push_back(std::move(chunk));
    }
    p.sum = checksum(p.all);
    return p;
}

// A handler that streams `payload` from a new thread per request: chunks alternately borrowed
// (counted in `released` when let go) and owned, then end() with the checksum trailer.
// Declare it before the server that calls it: its threads are joined when it goes, after the
// server has stopped (which closes any stream still open).
class PayloadStreams {
public:
    explicit PayloadStreams(const Payload& payload) : payload_(payload) {}

    void operator()(Context& ctx) {
        ctx.set_header("Content-Type", "application/octet-stream");
        StreamWriter w = ctx.stream();
        auto flow = watch(w);
        {
            std::lock_guard lock(mutex_);
            flows_.push_back(flow);
        }
        threads_.spawn([this, w, flow]() mutable {
            for (std::size_t i = 0; i < payload_.chunks.size(); ++i) {
                const std::string& chunk = payload_.chunks[i];
                Body b =
                    i % 2 == 0 ? Body::borrow(chunk, [this] { ++released; }) : Body::copy(chunk);
                if (!produce(w, *flow, std::move(b))) {
                    flow->done = true;
                    return;
                }
            }
            w.end({{"X-Checksum", payload_.sum}});
            flow->done = true;
        });
    }
    /// The flow of the `i`th stream, or null.
    std::shared_ptr<Flow> flow(std::size_t i) {
        std::lock_guard lock(mutex_);
        return i < flows_.size() ? flows_[i] : nullptr;
    }
    /// Borrowed chunks per stream.
    int borrowed() const { return static_cast<int>((payload_.chunks.size() + 1) / 2); }
    void join() { threads_.join(); }

    std::atomic<int> released{0};

private:
    const Payload& payload_;
    std::mutex mutex_;
    std::vector<std::shared_ptr<Flow>> flows_;
    Threads threads_;  // last: joined before the rest goes
};

// An endless producer of 1 KiB chunks, for as long as the stream is open.
void endless(Threads& threads, StreamWriter w, std::shared_ptr<Flow> flow) {
    threads.spawn([w, flow]() mutable {
        std::uint64_t n = 0;
        while (produce(w, *flow, Body(std::string(1024, static_cast<char>('a' + n++ % 26))))) {
        }
        flow->done = true;
    });
}

// How a client leaves a stream it is reading.
enum class Leave {
    reset,                  // SO_LINGER 0, then close: a reset at once
    half_close_then_close,  // FIN, then close with unread bytes
};

// A client reads the start of an endless stream, then leaves: on_close runs, the producer
// stops, and the connection is gone.
void disconnect_mid_stream(Leave how) {
    std::mutex mutex;
    std::shared_ptr<Flow> flow;
    Threads threads;
    TestServer server(
        [&](Context& ctx) {
            StreamWriter w = ctx.stream();
            auto f = watch(w);
            {
                std::lock_guard lock(mutex);
                flow = f;
            }
            endless(threads, w, f);
        },
        stream_config());
    {
        RawClient c(server.port());
        REQUIRE(c.send(request("/endless")));
        ChunkedReader r(c);
        REQUIRE(r.read_head());
        while (r.data.size() < 64 * 1024) REQUIRE(r.step());
        if (how == Leave::reset) {
            const linger now{1, 0};
            REQUIRE(::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &now, sizeof now) == 0);
        } else {
            c.shutdown_write();
        }
    }  // closed, with unread bytes in its buffer
    std::shared_ptr<Flow> f;
    {
        std::lock_guard lock(mutex);
        f = flow;
    }
    REQUIRE(f);
    CHECK(wait_until([&] { return f->closes == 1; }));
    CHECK(wait_until([&] { return f->done.load(); }));
    CHECK(wait_until([&] { return server.server().stats().connections_open == 0; }));
    threads.join();
    CHECK(f->closes == 1);
}

}  // namespace

TEST_SUITE("integration/streaming") {

TEST_CASE(
    "a producer thread streams 200 chunks of 1 B to 64 KiB and the client decodes "
    "exactly those bytes and the checksum trailer") {
    const Payload payload = make_payload(1, 200);
    PayloadStreams streams(payload);
    TestServer server(std::ref(streams), stream_config());
    RawClient c(server.port());
    REQUIRE(c.send(request("/live")));
    ChunkedReader r(c);
    REQUIRE(r.read_head());
    CHECK(r.head.status == 200);
    CHECK(r.head.header("transfer-encoding") == "chunked");
    CHECK(r.head.header("content-type") == "application/octet-stream");
    CHECK_FALSE(r.head.has_header("content-length"));
    CHECK_FALSE(r.head.has_header("connection"));
    CHECK(r.read_to_end());
    CHECK(r.error.empty());
    CHECK(byte_exact(r.data, payload.all));
    REQUIRE(r.decoder.trailers().size() == 1);
    CHECK(r.decoder.trailers()[0].first == "X-Checksum");
    CHECK(r.decoder.trailers()[0].second == payload.sum);
    CHECK(r.after.empty());

    // The connection stays open for the next request, streamed the same way.
    REQUIRE(c.send(request("/live")));
    ChunkedReader again(c, r.after);
    REQUIRE(again.read_head());
    CHECK(again.read_to_end());
    CHECK(byte_exact(again.data, payload.all));

    for (std::size_t i = 0; i < 2; ++i) {
        CAPTURE(i);
        REQUIRE(streams.flow(i));
        CHECK(wait_until([&] { return streams.flow(i)->done.load(); }));
        CHECK(streams.flow(i)->closes == 0);
    }
    // Every borrowed chunk is released once it has been written.
    CHECK(wait_until([&] { return streams.released == 2 * streams.borrowed(); }));
}

TEST_CASE("curl receives the streamed bytes, raw (chunked with the trailer) and decoded") {
    if (!have_curl()) {
        MESSAGE("skipped: curl is not installed");
        return;
    }
    const Payload payload = make_payload(2, 200);
    PayloadStreams streams(payload);
    TestServer server(std::ref(streams), stream_config());

    const Run plain = run(curl(server.port(), "", "/live", 30));
    REQUIRE(plain.exit_code == 0);
    CHECK(byte_exact(plain.out, payload.all));

    const Run raw = run(curl(server.port(), "--raw", "/live", 30));
    REQUIRE(raw.exit_code == 0);
    ChunkedDecoder d;
    std::string data;
    const auto res = d.feed(raw.out, [&](std::string_view piece) { data.append(piece); });
    CHECK(res.status == ChunkedDecoder::Status::done);
    CHECK(res.consumed == raw.out.size());
    CHECK(byte_exact(data, payload.all));
    REQUIRE(d.trailers().size() == 1);
    CHECK(d.trailers()[0].first == "X-Checksum");
    CHECK(d.trailers()[0].second == payload.sum);

    const Run old = run(curl(server.port(), "--http1.0", "/live", 30));
    REQUIRE(old.exit_code == 0);
    CHECK(byte_exact(old.out, payload.all));
}

TEST_CASE("an HTTP/1.0 client gets a close-delimited body equal to the produced bytes") {
    const Payload payload = make_payload(3, 200);
    PayloadStreams streams(payload);
    TestServer server(std::ref(streams), stream_config());
    std::optional<Response> r;
    {
        RawClient c(server.port());
        REQUIRE(c.send(request("/live", "HTTP/1.0")));
        r = c.read_response();  // no Content-Length: reads until the server closes
    }
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK_FALSE(r->has_header("transfer-encoding"));
    CHECK_FALSE(r->has_header("content-length"));
    CHECK(r->header("connection") == "close");
    CHECK(byte_exact(r->body, payload.all));
    CHECK(wait_until([&] { return server.server().stats().connections_open == 0; }));
    REQUIRE(streams.flow(0));
    CHECK(wait_until([&] { return streams.flow(0)->done.load(); }));
    CHECK(streams.flow(0)->closes == 0);
}

TEST_CASE("a bad trailer is refused for HTTP/1.0 too, without ending the stream") {
    std::atomic<bool> refused{false};
    TestServer server([&](vstream::Context& ctx) {
        vstream::StreamWriter w = ctx.stream(200);
        w.write(vstream::Body("abc"));
        try {
            w.end({{"Bad Name", "x"}});
        } catch (const vstream::Error& e) {
            refused = e.errc_code() == vstream::errc::invalid_argument && !w.closed();
        }
        w.write(vstream::Body("def"));
        w.end();
    });
    RawClient c(server.port());
    REQUIRE(c.send(request("/live", "HTTP/1.0")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(refused.load());
    CHECK(r->body == "abcdef");
}

TEST_CASE("on_finish sees the body size of a streamed response, framing excluded") {
    std::atomic<std::size_t> size{0};
    std::atomic<bool> finished{false};
    TestServer server([&](vstream::Context& ctx) {
        ctx.on_finish([&](vstream::Context& c) {
            size = c.response_size();
            finished = true;
        });
        vstream::StreamWriter w = ctx.stream(200);
        w.write(vstream::Body("hello "));
        w.write(vstream::Body(std::string(70000, 'x')));
        w.end();
    });
    RawClient c(server.port());
    REQUIRE(c.send("GET /live HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    const std::string raw = c.read_until_close();
    CHECK(raw.find("Transfer-Encoding: chunked") != std::string::npos);  // framed on the wire
    REQUIRE(wait_until([&] { return finished.load(); }));
    CHECK(size.load() == 70006);
}

TEST_CASE(
    "a slow client makes write() return false, on_drain resumes the producer as it "
    "reads, and the queue never passes the high-water mark by more than one chunk") {
    constexpr std::size_t kHigh = 256 * 1024;
    constexpr std::size_t kChunk = 16 * 1024;
    auto config = stream_config();
    config.limits.write_high_water = kHigh;
    config.limits.write_low_water = 64 * 1024;
    std::string produced;  // the producer's until it is joined
    std::shared_ptr<Flow> flow;
    std::atomic<bool> handled{false};
    Threads threads;
    TestServer server(
        [&](Context& ctx) {
            StreamWriter w = ctx.stream();
            flow = watch(w);
            threads.spawn([w, f = flow, &produced]() mutable {
                // Write until the client's buffers are full and write() asks to pause, then
                // 64 chunks more (1 MiB, four times the high-water mark) at the pace it allows.
                int after_pause = 0;
                for (std::uint32_t i = 0; i < 4096 && after_pause < 64; ++i) {
                    std::string chunk(kChunk, static_cast<char>('A' + i % 26));
                    const std::string tag = std::to_string(i) + "|";
                    chunk.replace(0, tag.size(), tag);
                    produced += chunk;
                    if (!produce(w, *f, Body(std::move(chunk)))) {
                        f->done = true;
                        return;
                    }
                    if (f->refusals > 0) ++after_pause;
                }
                w.end();
                f->done = true;
            });
            handled = true;
        },
        config);
    RawClient c(server.port());
    c.set_receive_buffer(64 * 1024);
    REQUIRE(c.send(request("/slow")));
    REQUIRE(wait_until([&] { return handled.load(); }));
    // Nothing is read until the producer has been told to pause.
    REQUIRE(wait_until([&] { return flow->refusals > 0 || flow->done; }));
    CHECK(flow->refusals > 0);

    ChunkedReader r(c);
    REQUIRE(r.read_head());
    CHECK(r.read_to_end());
    CHECK(r.error.empty());
    REQUIRE(wait_until([&] { return flow->done.load(); }));
    threads.join();
    CHECK(flow->drains >= 1);
    CHECK(flow->closes == 0);
    CHECK(flow->max_queued > kHigh);
    CHECK(flow->max_queued <= kHigh + kChunk);
    CHECK(byte_exact(r.data, produced));
    MESSAGE("refusals " << flow->refusals.load() << ", drains " << flow->drains.load() << ", bytes "
                        << produced.size() << ", most queued " << flow->max_queued.load());
}

TEST_CASE(
    "a client that resets its connection mid-stream runs on_close and stops the "
    "producer") {
    disconnect_mid_stream(Leave::reset);
}

TEST_CASE(
    "a client that closes its connection mid-stream runs on_close and stops the "
    "producer") {
    disconnect_mid_stream(Leave::half_close_then_close);
}

TEST_CASE(
    "stopping the server ends an endless stream within the shutdown grace and runs "
    "on_close") {
    std::mutex mutex;
    std::shared_ptr<Flow> flow;
    Threads threads;
    TestServer server(
        [&](Context& ctx) {
            StreamWriter w = ctx.stream();
            auto f = watch(w);
            {
                std::lock_guard lock(mutex);
                flow = f;
            }
            endless(threads, w, f);
        },
        stream_config());
    RawClient c(server.port());
    REQUIRE(c.send(request("/endless")));
    ChunkedReader r(c);
    REQUIRE(r.read_head());
    while (r.data.size() < 64 * 1024) REQUIRE(r.step());
    std::shared_ptr<Flow> f;
    {
        std::lock_guard lock(mutex);
        f = flow;
    }
    REQUIRE(f);

    // The client keeps reading while the server stops.
    std::thread reader([&] {
        while (r.step()) {
        }
    });
    const auto start = std::chrono::steady_clock::now();
    server.server().stop();  // returns once the loop thread has closed every connection
    const auto took = std::chrono::steady_clock::now() - start;
    CHECK(f->closes == 1);
    reader.join();
    CHECK(r.error.empty());
    CHECK_FALSE(r.done());  // cut short without a last chunk: the client can tell
    CHECK(wait_until([&] { return f->done.load(); }));
    threads.join();
    MESSAGE("stop() took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                           << " ms with a 500 ms grace");
}

TEST_CASE("two concurrent streams on two connections of one loop do not interfere") {
    const Payload a = make_payload(10, 100);
    const Payload b = make_payload(11, 100);
    PayloadStreams streams_a(a);
    PayloadStreams streams_b(b);
    TestServer server(
        [&](Context& ctx) {
            if (ctx.path() == "/a") {
                streams_a(ctx);
            } else {
                streams_b(ctx);
            }
        },
        stream_config());
    RawClient ca(server.port());
    RawClient cb(server.port());
    REQUIRE(ca.send(request("/a")));
    REQUIRE(cb.send(request("/b")));
    ChunkedReader ra(ca);
    ChunkedReader rb(cb);
    REQUIRE(ra.read_head());
    REQUIRE(rb.read_head());
    // Read the two in turns, so both streams are in flight together.
    while (!ra.done() || !rb.done()) {
        if (!ra.done()) REQUIRE(ra.step());
        if (!rb.done()) REQUIRE(rb.step());
    }
    CHECK(byte_exact(ra.data, a.all));
    CHECK(byte_exact(rb.data, b.all));
    REQUIRE(ra.decoder.trailers().size() == 1);
    REQUIRE(rb.decoder.trailers().size() == 1);
    CHECK(ra.decoder.trailers()[0].second == a.sum);
    CHECK(rb.decoder.trailers()[0].second == b.sum);
}

}  // TEST_SUITE("integration/streaming")
