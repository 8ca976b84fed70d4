// Request bodies read as they arrive (Context::read_body on a RouteGroup::handle_stream route)
// over real sockets: Content-Length and chunked bodies byte-exact, keep-alive and pipelined
// requests behind them, flow control (a paused reader holds the client back through TCP), the
// reader's max_bytes (413), Expect: 100-continue, middleware that refuses a body unread, clients
// that leave mid-body, stall and whole-body timeouts (408), malformed chunked framing (400),
// read_body on a buffered route and from another thread, an unanswered body (500), a server
// stopping under a paused reader, the release of a reader's callbacks, curl uploads, and a
// full-duplex echo.
#include <vstream/vstream.hpp>

#include "async_fixtures.hpp"
#include "checksum.hpp"
#include "chunked_decoder.hpp"
#include "curl.hpp"
#include "file_server.hpp"
#include "raw_client.hpp"
#include "temp_dir.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace vstream::test;
using vstream::Body;
using vstream::BodyReader;
using vstream::Context;
using vstream::ContextRef;
using vstream::Next;
using vstream::Server;
using vstream::StreamWriter;
using vstream::test::ChunkedDecoder;
using namespace std::chrono_literals;

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * 1024;

// Every test bounds shutdown, so a request left open by a failing test ends quickly.
vstream::ServerConfig body_config() {
    auto config = test_config();
    config.timeouts.shutdown_grace = 500ms;
    return config;
}

// What a handler answers for a body it read: "<size> <checksum>".
std::string summary(std::string_view bytes) {
    return std::to_string(bytes.size()) + " " + checksum(bytes);
}

// What one reader saw, copied out under the lock.
struct Seen {
    std::string data;
    std::size_t pieces = 0;
    int ends = 0;
    int errors = 0;
    int error_status = -1;
    std::string error_reason;
};

// What one reader saw. Its callbacks run on the loop thread; the test reads it from its own.
class Probe {
public:
    enum class Wait { paused, over, timeout };

    /// on_data: records the piece; `pause` marks the reader paused (on_data returns false).
    void piece(std::string_view bytes, bool pause = false) {
        {
            std::lock_guard lock(mutex_);
            seen_.data.append(bytes);
            ++seen_.pieces;
            if (pause) paused_ = true;
        }
        received += bytes.size();
        changed_.notify_all();
    }
    void end() {
        {
            std::lock_guard lock(mutex_);
            ++seen_.ends;
        }
        changed_.notify_all();
    }
    void error(int status, std::string_view reason) {
        {
            std::lock_guard lock(mutex_);
            ++seen_.errors;
            seen_.error_status = status;
            seen_.error_reason = reason;
        }
        changed_.notify_all();
    }
    /// The summary of the bytes so far (what a handler answers from on_end).
    std::string summary() const {
        std::lock_guard lock(mutex_);
        return ::summary(seen_.data);
    }
    Seen seen() const {
        std::lock_guard lock(mutex_);
        return seen_;
    }
    /// Waits until the reader paused (and clears that) or the body is over.
    Wait wait_paused_or_over(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        if (!changed_.wait_for(lock, timeout, [&] { return paused_ || over_locked(); })) {
            return Wait::timeout;
        }
        if (over_locked()) return Wait::over;
        paused_ = false;
        return Wait::paused;
    }
    /// Waits until on_end or on_error ran.
    bool wait_over(std::chrono::milliseconds timeout = 10s) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return over_locked(); });
    }
    bool over() const {
        std::lock_guard lock(mutex_);
        return over_locked();
    }

    std::atomic<std::size_t> received{0};

private:
    bool over_locked() const { return seen_.ends + seen_.errors > 0; }

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    Seen seen_;
    bool paused_ = false;
};

// One probe per request, in arrival order.
class Probes {
public:
    std::shared_ptr<Probe> add() {
        std::lock_guard lock(mutex_);
        probes_.push_back(std::make_shared<Probe>());
        return probes_.back();
    }
    std::shared_ptr<Probe> at(std::size_t i) const {
        std::lock_guard lock(mutex_);
        return i < probes_.size() ? probes_[i] : nullptr;
    }
    std::size_t size() const {
        std::lock_guard lock(mutex_);
        return probes_.size();
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::shared_ptr<Probe>> probes_;
};

// A reader that records into `probe` and, when `answer`, answers "<size> <checksum>" from
// on_end. It captures the context by reference: the engine owns the reader, and runs its
// callbacks only while the context lives.
BodyReader recorder(Context& ctx, const std::shared_ptr<Probe>& probe, bool answer = true) {
    BodyReader r;
    r.on_data = [probe](std::string_view bytes) {
        probe->piece(bytes);
        return true;
    };
    r.on_end = [&ctx, probe, answer] {
        probe->end();
        if (answer) ctx.text(200, probe->summary());
    };
    r.on_error = [probe](int status, std::string_view reason) { probe->error(status, reason); };
    return r;
}

// A request head: "METHOD target HTTP/1.1", Host, `headers` (complete CRLF lines), CRLF.
std::string head(std::string_view method, std::string_view target, std::string_view headers = {}) {
    return http_request(method, target, headers);
}

// A POST with `body` framed by Content-Length.
std::string with_length(std::string_view target, std::string_view body,
                        std::string_view headers = {}) {
    std::string r =
        head("POST", target,
             "Content-Length: " + std::to_string(body.size()) + "\r\n" + std::string(headers));
    r.append(body);
    return r;
}

// `body` in chunked framing: chunks of 1 B to `max_chunk` bytes (random, from `seed`), sizes in
// lower or upper case hex, some with a chunk extension (RFC 9112 §7.1.1), then the last chunk
// with `trailers` (complete CRLF lines).
std::string chunked(std::string_view body, std::uint32_t seed, std::string_view trailers = {},
                    std::size_t max_chunk = 32 * kKiB) {
    std::mt19937 rng(seed);
    std::string out;
    std::size_t at = 0;
    for (int i = 0; at < body.size(); ++i) {
        const std::size_t n = std::min<std::size_t>(body.size() - at, 1 + rng() % max_chunk);
        char size[32];
        std::snprintf(size, sizeof size, i % 2 == 0 ? "%zx" : "%zX", n);
        out.append(size);
        if (i % 7 == 3) out.append(";name=value");
        if (i % 7 == 5) out.append(" ;a=b; c = \"q;\\\"x\" ;d");  // RFC 9112 §7.1.1: BWS, quoted
        out.append("\r\n").append(body.substr(at, n)).append("\r\n");
        at += n;
    }
    out.append("0\r\n").append(trailers).append("\r\n");
    return out;
}

// A POST with `body` chunked (see chunked()).
std::string with_chunks(std::string_view target, std::string_view body, std::uint32_t seed,
                        std::string_view trailers = {}, std::string_view headers = {}) {
    return head("POST", target, "Transfer-Encoding: chunked\r\n" + std::string(headers)) +
           chunked(body, seed, trailers);
}

// Whether the raw bytes a client received hold an interim 100 response.
bool saw_continue(const RawClient& c) {
    return c.buffered().find("100 Continue") != std::string::npos;
}

// Registers "/upload" (streaming, recording each request into `probes`) and "/ping".
std::function<void(Server&)> upload_routes(Probes& probes) {
    return [&probes](Server& s) {
        s.handle_stream("POST", "/upload",
                        [&probes](Context& ctx) { ctx.read_body(recorder(ctx, probes.add())); });
        s.get("/ping", [](Context& ctx) { ctx.text(200, "pong"); });
    };
}

}  // namespace

TEST_SUITE("integration/request_body") {

// Regression: a streaming route's head leaves its IncomingBody paused until a reader takes the
// held bytes; read_body() from inside the handler reached Connection::on_body_wanted while
// dispatching_ and returned early, process() found the body not flowing and stopped reading,
// and nothing restarted it: the request hung until the whole-body timeout.
TEST_CASE("read_body called by a streaming route's handler starts reading the body") {
    Probes probes;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probes.add());
                r.timeout = 2s;  // bounds the hang: 408 instead of an answer
                ctx.read_body(std::move(r));
            });
        },
        body_config());
    const std::string body = random_bytes(1000, 30);

    SUBCASE("head and body in one write") {
        RawClient c(server.port());
        REQUIRE(c.send(with_length("/upload", body)));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == summary(body));
    }
    SUBCASE("the body after 100 Continue") {
        RawClient c(server.port());
        REQUIRE(
            c.send(head("POST", "/upload", "Content-Length: 1000\r\nExpect: 100-continue\r\n")));
        const auto interim = c.read_response();
        REQUIRE(interim);
        CHECK(interim->status == 100);
        REQUIRE(c.send(body));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == summary(body));
    }
    REQUIRE(probes.at(0));
    REQUIRE(probes.at(0)->wait_over());
    const Seen s = probes.at(0)->seen();
    MESSAGE("on_error(" << s.error_status << ", " << s.error_reason << ")");
    CHECK(s.ends == 1);
    CHECK(byte_exact(s.data, body));
}

TEST_CASE(
    "a 3 MiB Content-Length body reaches a streaming route's reader in pieces, "
    "byte-exact, and the connection then serves the next request") {
    Probes probes;
    RoutedServer server(upload_routes(probes), body_config());
    const std::string body = random_bytes(3 * kMiB + 123, 1);
    RawClient c(server.port());
    bound_sends(c);
    REQUIRE(c.send(with_length("/upload", body)));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    CHECK_FALSE(r->has_header("connection"));
    REQUIRE(probes.at(0));
    const Seen s = probes.at(0)->seen();
    CHECK(byte_exact(s.data, body));
    CHECK(s.pieces > 1);
    CHECK(s.ends == 1);
    CHECK(s.errors == 0);

    // Keep-alive: a second streamed body, then a plain GET, on the same connection.
    const std::string second = random_bytes(100 * kKiB + 1, 2);
    REQUIRE(c.send(with_length("/upload", second)));
    const auto r2 = c.read_response();
    REQUIRE(r2);
    CHECK(r2->status == 200);
    CHECK(r2->body == summary(second));
    REQUIRE(probes.at(1));
    CHECK(byte_exact(probes.at(1)->seen().data, second));
    REQUIRE(c.send(head("GET", "/ping")));
    const auto r3 = c.read_response();
    REQUIRE(r3);
    CHECK(r3->status == 200);
    CHECK(r3->body == "pong");
    CHECK(server.server().stats().connections_accepted == 1);
}

TEST_CASE(
    "a chunked body of many random-sized chunks with a trailer reaches the reader "
    "byte-exact, and the connection stays open") {
    Probes probes;
    RoutedServer server(upload_routes(probes), body_config());
    const std::string body = random_bytes(kMiB + 7, 3);
    RawClient c(server.port());
    bound_sends(c);
    REQUIRE(c.send(with_chunks("/upload", body, 3, "X-Checksum: " + checksum(body) + "\r\n")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    CHECK_FALSE(r->has_header("connection"));
    REQUIRE(probes.at(0));
    const Seen s = probes.at(0)->seen();
    CHECK(byte_exact(s.data, body));
    CHECK(s.pieces > 1);
    CHECK(s.ends == 1);
    CHECK(s.errors == 0);

    // Small chunks (1 to 16 B) without trailers, on the same connection.
    const std::string small = random_bytes(4000, 4);
    REQUIRE(c.send(head("POST", "/upload", "Transfer-Encoding: chunked\r\n") +
                   chunked(small, 4, {}, 16)));
    const auto r2 = c.read_response();
    REQUIRE(r2);
    CHECK(r2->status == 200);
    CHECK(r2->body == summary(small));
    REQUIRE(probes.at(1));
    CHECK(byte_exact(probes.at(1)->seen().data, small));
}

TEST_CASE("streamed POSTs and GETs pipelined in one write are all answered, in order") {
    Probes probes;
    RoutedServer server(upload_routes(probes), body_config());
    const std::string a = random_bytes(256 * kKiB, 5);
    const std::string b = random_bytes(300 * kKiB + 5, 6);
    RawClient c(server.port());
    bound_sends(c);
    REQUIRE(c.send(with_length("/upload", a) + head("GET", "/ping") + with_chunks("/upload", b, 6) +
                   head("GET", "/ping")));
    const auto r1 = c.read_response();
    const auto r2 = c.read_response();
    const auto r3 = c.read_response();
    const auto r4 = c.read_response();
    REQUIRE(r1);
    REQUIRE(r2);
    REQUIRE(r3);
    REQUIRE(r4);
    CHECK(r1->status == 200);
    CHECK(r1->body == summary(a));
    CHECK(r2->status == 200);
    CHECK(r2->body == "pong");
    CHECK(r3->status == 200);
    CHECK(r3->body == summary(b));
    CHECK(r4->status == 200);
    CHECK(r4->body == "pong");
    REQUIRE(probes.size() == 2);
    CHECK(byte_exact(probes.at(0)->seen().data, a));
    CHECK(byte_exact(probes.at(1)->seen().data, b));
}

TEST_CASE(
    "a reader that pauses on every piece and is resumed from another thread through a "
    "ContextRef still gets the whole body byte-exact") {
    auto probe = std::make_shared<Probe>();
    std::atomic<int> resumes{0};
    std::atomic<bool> resumer_timed_out{false};
    Threads threads;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probe);
                r.on_data = [p = probe](std::string_view bytes) {
                    p->piece(bytes, /*pause=*/true);
                    return false;
                };
                ContextRef ref = ctx.defer();
                ctx.read_body(std::move(r));
                threads.spawn(
                    [ref = std::move(ref), p = probe, &resumes, &resumer_timed_out]() mutable {
                        for (;;) {
                            const Probe::Wait w = p->wait_paused_or_over(10s);
                            if (w == Probe::Wait::over) break;
                            if (w == Probe::Wait::timeout) {
                                resumer_timed_out = true;
                                break;
                            }
                            ++resumes;
                            ref->resume_body();
                        }
                        ref.reset();
                    });
            });
        },
        body_config());
    const std::string body = random_bytes(2 * kMiB + 3, 7);
    RawClient c(server.port());
    bound_sends(c);
    REQUIRE(c.send(with_length("/upload", body)));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    REQUIRE(probe->wait_over());
    threads.join();
    const Seen s = probe->seen();
    CHECK(byte_exact(s.data, body));
    CHECK(s.ends == 1);
    CHECK(s.errors == 0);
    CHECK_FALSE(resumer_timed_out.load());
    // Every piece paused the reader, and only a resume brought the next one.
    CHECK(s.pieces > 1);
    CHECK(static_cast<std::size_t>(resumes.load()) == s.pieces);
}

TEST_CASE(
    "while the reader stays paused a client sending 16 MiB is held back by TCP, and "
    "resume_body lets the whole body in") {
    auto config = body_config();
    auto probe = std::make_shared<Probe>();
    std::atomic<bool> hold{true};
    RefSlot slot;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probe);
                r.on_data = [p = probe, &hold](std::string_view bytes) {
                    p->piece(bytes);
                    return !hold.load();
                };
                slot.put(ctx.defer());
                ctx.read_body(std::move(r));
            });
        },
        config);
    const std::string body = random_bytes(16 * kMiB, 8);
    RawClient c(server.port());
    // A small send buffer, so what the client manages to send measures what the server let in.
    const int sndbuf = 256 * kKiB;
    ::setsockopt(c.fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    bound_sends(c);
    std::atomic<std::size_t> sent{0};
    std::atomic<bool> send_ok{false};
    std::atomic<bool> sender_done{false};
    Threads sender;  // joined before the client closes, also when a check fails
    sender.spawn([&] {
        bool ok = c.send(
            head("POST", "/upload", "Content-Length: " + std::to_string(body.size()) + "\r\n"));
        for (std::size_t at = 0; ok && at < body.size(); at += 64 * kKiB) {
            ok = c.send(std::string_view(body).substr(at, 64 * kKiB));
            if (ok) sent += std::min(64 * kKiB, body.size() - at);
        }
        send_ok = ok;
        sender_done = true;
    });

    REQUIRE(wait_until([&] { return slot.filled() && probe->received > 0; }));
    // The client's progress stops, well short of the body, for 300 ms in a row.
    std::size_t last = sent.load();
    auto since = std::chrono::steady_clock::now();
    const bool steady = wait_until(
        [&] {
            const std::size_t now_sent = sent.load();
            const auto now = std::chrono::steady_clock::now();
            if (now_sent != last) {
                last = now_sent;
                since = now;
            }
            return now - since >= 300ms;
        },
        10s);
    CHECK(steady);
    MESSAGE("held: client sent " << sent.load() << " bytes, reader got " << probe->received.load());
    CHECK(sent.load() < 4 * kMiB);
    CHECK_FALSE(sender_done.load());
    {
        const Seen s = probe->seen();
        CHECK(s.pieces == 1);  // paused after its first piece: nothing more was handed over
        CHECK(s.errors == 0);
        CHECK(s.ends == 0);
    }

    ContextRef ref = slot.take();
    REQUIRE(ref);
    hold = false;
    ref->resume_body();
    const auto r = c.read_response();
    sender.join();
    CHECK(send_ok.load());
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    REQUIRE(probe->wait_over());
    const Seen s = probe->seen();
    CHECK(byte_exact(s.data, body));
    CHECK(s.ends == 1);
    CHECK(s.errors == 0);
    ref.reset();
}

TEST_CASE(
    "a paused reader is not a stalled client: the body-read timeout does not run while "
    "it holds") {
    auto config = body_config();
    config.timeouts.body_read = 250ms;
    auto probe = std::make_shared<Probe>();
    std::atomic<bool> hold{true};
    RefSlot slot;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probe);
                r.on_data = [p = probe, &hold](std::string_view bytes) {
                    const bool more = !hold.load();
                    p->piece(bytes, /*pause=*/!more);
                    return more;
                };
                slot.put(ctx.defer());
                ctx.read_body(std::move(r));
            });
        },
        config);
    // The whole body at once (it fits the socket buffers): after the resume it is all there.
    const std::string body = random_bytes(200 * kKiB, 35);
    RawClient c(server.port());
    REQUIRE(c.send(with_length("/upload", body)));
    REQUIRE(probe->wait_paused_or_over(10s) == Probe::Wait::paused);
    // Three body-read timeouts pass while the reader holds (measured by polling).
    const auto paused_at = std::chrono::steady_clock::now();
    wait_until(
        [&] { return probe->over() || std::chrono::steady_clock::now() - paused_at >= 750ms; });
    CHECK_FALSE(probe->over());
    REQUIRE(wait_until([&] { return slot.filled(); }));
    ContextRef ref = slot.take();
    hold = false;
    ref->resume_body();
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    const Seen s = probe->seen();
    CHECK(byte_exact(s.data, body));
    CHECK(s.errors == 0);
    ref.reset();
}

TEST_CASE(
    "a Content-Length over the reader's max_bytes is answered 413 before the body is "
    "read, and on_error(413) runs") {
    Probes probes;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probes.add());
                r.max_bytes = 1000;
                ctx.read_body(std::move(r));
            });
        },
        body_config());
    RawClient c(server.port());
    bound_sends(c);

    SUBCASE("with Expect: 100-continue no 100 Continue is ever sent") {
        REQUIRE(
            c.send(head("POST", "/upload", "Content-Length: 5000\r\nExpect: 100-continue\r\n")));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 413);  // the first status line on the wire
        CHECK(r->header("connection") == "close");
        CHECK(c.wait_closed());
        CHECK_FALSE(saw_continue(c));
    }
    SUBCASE("with the body sent along") {
        REQUIRE(c.send(with_length("/upload", random_bytes(5000, 9))));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 413);
        CHECK(r->header("connection") == "close");
        CHECK(c.wait_closed());
    }
    REQUIRE(probes.at(0));
    REQUIRE(probes.at(0)->wait_over());
    const Seen s = probes.at(0)->seen();
    CHECK(s.errors == 1);
    CHECK(s.error_status == 413);
    CHECK(s.ends == 0);
    CHECK(s.pieces == 0);  // refused before a byte was read
}

TEST_CASE("an answer sent from on_error is dropped: the client gets the engine's 413") {
    std::atomic<int> errors{0};
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r;
                r.max_bytes = 10;
                r.on_end = [&ctx] { ctx.text(200, "unexpected end\n"); };
                r.on_error = [&ctx, &errors](int, std::string_view) {
                    ++errors;
                    ctx.text(422, "the handler's own answer\n");
                };
                ctx.read_body(std::move(r));
            });
        },
        body_config());
    RawClient c(server.port());
    REQUIRE(c.send(with_length("/upload", "more than ten bytes")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
    CHECK(c.buffered().empty());  // one response only
    CHECK(errors == 1);
}

TEST_CASE(
    "on an ordinary route a buffered body over the reader's max_bytes gets 413 and "
    "on_error(413)") {
    Probes probes;
    RoutedServer server(
        [&](Server& s) {
            s.post("/buffered", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probes.add());
                r.max_bytes = 1000;
                ctx.read_body(std::move(r));
            });
        },
        body_config());
    RawClient c(server.port());
    REQUIRE(c.send(with_length("/buffered", random_bytes(2000, 32))));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);
    REQUIRE(probes.at(0));
    REQUIRE(probes.at(0)->wait_over());
    const Seen s = probes.at(0)->seen();
    CHECK(s.errors == 1);
    CHECK(s.error_status == 413);
    CHECK(s.ends == 0);
    CHECK(s.pieces == 0);
}

TEST_CASE("a body of exactly the reader's max_bytes is accepted") {
    Probes probes;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probes.add());
                r.max_bytes = 1000;
                ctx.read_body(std::move(r));
            });
        },
        body_config());
    const std::string body = random_bytes(1000, 10);
    RawClient c(server.port());
    REQUIRE(c.send(with_length("/upload", body)));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    REQUIRE(c.send(with_chunks("/upload", body, 10)));
    const auto r2 = c.read_response();
    REQUIRE(r2);
    CHECK(r2->status == 200);
    CHECK(r2->body == summary(body));
}

TEST_CASE(
    "a chunked body growing past the reader's max_bytes is answered 413 and "
    "on_error(413) runs, with no more than max_bytes handed over") {
    constexpr std::size_t kMax = 64 * kKiB;
    Probes probes;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probes.add());
                r.max_bytes = kMax;
                ctx.read_body(std::move(r));
            });
        },
        body_config());
    const std::string body = random_bytes(256 * kKiB, 11);
    RawClient c(server.port());
    bound_sends(c);
    // The server may answer and stop reading before every byte is sent: not checked.
    (void)c.send(head("POST", "/upload", "Transfer-Encoding: chunked\r\n") +
                 chunked(body, 11, {}, 8 * kKiB));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
    REQUIRE(probes.at(0));
    REQUIRE(probes.at(0)->wait_over());
    const Seen s = probes.at(0)->seen();
    CHECK(s.errors == 1);
    CHECK(s.error_status == 413);
    CHECK(s.ends == 0);
    CHECK(s.data.size() <= kMax);
    CHECK(byte_exact(s.data, std::string_view(body).substr(0, s.data.size())));
}

TEST_CASE(
    "middleware that answers 401 without calling next on a streaming route with "
    "Expect: 100-continue closes the connection, sends no 100, and the handler never "
    "runs") {
    std::atomic<int> handler_runs{0};
    std::atomic<int> middleware_runs{0};
    auto refuse = [&middleware_runs](Context& ctx, Next) {
        ++middleware_runs;
        ctx.text(401, "401 Unauthorized\n");
    };
    auto handler = [&handler_runs](Context& ctx) {
        ++handler_runs;
        ctx.read_body(BodyReader{});
    };
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/route", handler, {refuse});
            auto& g = s.group("/group");
            g.use(refuse);
            g.handle_stream("POST", "/upload", handler);
        },
        body_config());

    for (const char* target : {"/route", "/group/upload"}) {
        CAPTURE(target);
        SUBCASE("the client waits for 100 Continue") {
            RawClient c(server.port());
            REQUIRE(
                c.send(head("POST", target, "Content-Length: 100000\r\nExpect: 100-continue\r\n")));
            const auto r = c.read_response();
            REQUIRE(r);
            CHECK(r->status == 401);
            CHECK(r->body == "401 Unauthorized\n");
            CHECK(r->header("connection") == "close");
            CHECK(c.wait_closed());
            CHECK_FALSE(saw_continue(c));
        }
        SUBCASE("the client sends a 1 MiB body regardless") {
            RawClient c(server.port());
            bound_sends(c);
            (void)c.send(with_length(target, random_bytes(kMiB, 12)));
            const auto r = c.read_response();
            REQUIRE(r);
            CHECK(r->status == 401);
            CHECK(r->header("connection") == "close");
            CHECK(c.wait_closed());
        }
    }
    CHECK(middleware_runs.load() > 0);
    CHECK(handler_runs.load() == 0);
}

TEST_CASE(
    "Expect: 100-continue is answered 100 Continue when the reader starts, before the "
    "client sends the body, then with the final response") {
    Probes probes;
    RoutedServer server(upload_routes(probes), body_config());
    RawClient c(server.port());
    bound_sends(c);
    const std::string body = random_bytes(200 * kKiB, 13);

    REQUIRE(c.send(
        head("POST", "/upload",
             "Content-Length: " + std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n")));
    // Only the head is sent: this can only be the interim answer.
    const auto interim = c.read_response();
    REQUIRE(interim);
    CHECK(interim->status == 100);
    CHECK(interim->reason == "Continue");
    REQUIRE(c.send(body));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));

    // A chunked body on the same connection gets its own 100.
    REQUIRE(
        c.send(head("POST", "/upload", "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n")));
    const auto interim2 = c.read_response();
    REQUIRE(interim2);
    CHECK(interim2->status == 100);
    REQUIRE(c.send(chunked(body, 13)));
    const auto r2 = c.read_response();
    REQUIRE(r2);
    CHECK(r2->status == 200);
    CHECK(r2->body == summary(body));
    REQUIRE(probes.size() == 2);
    CHECK(byte_exact(probes.at(0)->seen().data, body));
    CHECK(byte_exact(probes.at(1)->seen().data, body));
}

TEST_CASE(
    "a client that leaves mid-body runs on_error (0 or 400) and not on_end, and the "
    "server goes on serving") {
    Probes probes;
    RoutedServer server(upload_routes(probes), body_config());
    const std::string part = random_bytes(100 * kKiB, 14);
    bool reset = false;
    SUBCASE("with a FIN") { reset = false; }
    SUBCASE("with a reset") { reset = true; }
    CAPTURE(reset);
    {
        RawClient c(server.port());
        REQUIRE(c.send(head("POST", "/upload", "Content-Length: 1048576\r\n") + part));
        REQUIRE(wait_until([&] { return probes.at(0) && probes.at(0)->received >= part.size(); }));
        if (reset) {
            const linger now{1, 0};
            REQUIRE(::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &now, sizeof now) == 0);
        }
    }  // closed
    REQUIRE(probes.at(0)->wait_over());
    const Seen s = probes.at(0)->seen();
    CHECK(s.ends == 0);
    CHECK(s.errors == 1);
    CHECK((s.error_status == 0 || s.error_status == 400));
    CHECK(byte_exact(s.data, part));
    MESSAGE("on_error(" << s.error_status << ", " << s.error_reason << ")");
    CHECK(wait_until([&] { return server.server().stats().connections_open == 0; }));

    const auto r = get(server.port(), "/ping");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "pong");
}

TEST_CASE("a body that stalls for Timeouts::body_read is answered 408 and on_error(408) runs") {
    auto config = body_config();
    config.timeouts.body_read = 200ms;
    Probes probes;
    RoutedServer server(upload_routes(probes), config);
    const std::string half = random_bytes(50 * kKiB, 15);
    RawClient c(server.port());
    REQUIRE(c.send(head("POST", "/upload", "Content-Length: 102400\r\n") + half));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 408);
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
    REQUIRE(probes.at(0));
    REQUIRE(probes.at(0)->wait_over());
    const Seen s = probes.at(0)->seen();
    CHECK(s.errors == 1);
    CHECK(s.error_status == 408);
    CHECK(s.ends == 0);
    CHECK(byte_exact(s.data, half));
}

// Regression: the stall clock was stamped when a read began, from the loop's cached time, so
// the time a reader spent in on_data counted as the client's stall; libuv runs due timers
// before polling for I/O, and the request got 408 "request body stalled" with the rest of the
// body waiting unread in the socket.
TEST_CASE(
    "a reader slower than Timeouts::body_read on one piece is not taken for a stalled "
    "client") {
    auto config = body_config();
    config.timeouts.body_read = 200ms;
    auto probe = std::make_shared<Probe>();
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probe);
                r.on_data = [p = probe](std::string_view bytes) {
                    // The first piece takes the reader 400 ms (a slow disk, say); the client
                    // has sent the whole body by then. (The sleep is the slow consumer under
                    // test; it synchronises nothing.)
                    if (p->received == 0) std::this_thread::sleep_for(400ms);
                    p->piece(bytes);
                    return true;
                };
                ctx.read_body(std::move(r));
            });
        },
        config);
    const std::string body = random_bytes(256 * kKiB, 34);
    RawClient c(server.port());
    bound_sends(c);
    REQUIRE(c.send(with_length("/upload", body)));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    REQUIRE(probe->wait_over());
    const Seen s = probe->seen();
    CHECK(s.ends == 1);
    CHECK(byte_exact(s.data, body));
    MESSAGE("on_error(" << s.error_status << ", " << s.error_reason << ")");
}

TEST_CASE(
    "a body trickling in past the whole-body timeout is answered 408 though it never "
    "stalls") {
    auto config = body_config();
    std::chrono::milliseconds reader_timeout{0};
    SUBCASE("the reader's timeout") { reader_timeout = 300ms; }
    SUBCASE("Timeouts::stream_body, when the reader sets none") {
        config.timeouts.stream_body = 300ms;
    }
    Probes probes;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probes.add());
                r.timeout = reader_timeout;
                ctx.read_body(std::move(r));
            });
        },
        config);
    RawClient c(server.port());
    bound_sends(c, 2s);
    REQUIRE(c.send(head("POST", "/upload", "Content-Length: 1000\r\n")));
    std::atomic<bool> stop{false};
    const auto start = std::chrono::steady_clock::now();
    Threads trickle;  // joined before the client closes, also when a check fails
    trickle.spawn([&] {
        // A byte every 50 ms, far inside the stall timeout (30 s); the whole body would take
        // 50 s. (The sleep paces the client; it synchronises nothing.) At most 10 s.
        for (int i = 0; i < 200 && !stop; ++i) {
            if (!c.send("x")) break;
            std::this_thread::sleep_for(50ms);
        }
    });
    const auto r = c.read_response();
    stop = true;
    trickle.join();
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(r);
    CHECK(r->status == 408);
    CHECK(r->header("connection") == "close");
    REQUIRE(probes.at(0));
    REQUIRE(probes.at(0)->wait_over());
    const Seen s = probes.at(0)->seen();
    CHECK(s.errors == 1);
    CHECK(s.error_status == 408);
    CHECK(s.ends == 0);
    CHECK(s.data.size() < 1000);
    MESSAGE("408 after " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                         << " ms and " << s.data.size() << " bytes: " << s.error_reason);
}

TEST_CASE("a reader that stays paused past its whole-body timeout gets 408 and on_error(408)") {
    auto probe = std::make_shared<Probe>();
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probe);
                r.timeout = 300ms;
                r.on_data = [p = probe](std::string_view bytes) {
                    p->piece(bytes, /*pause=*/true);
                    return false;  // and nobody resumes
                };
                ctx.read_body(std::move(r));
            });
        },
        body_config());
    RawClient c(server.port());
    REQUIRE(c.send(head("POST", "/upload", "Content-Length: 100000\r\n") +
                   random_bytes(10 * kKiB, 29)));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 408);
    CHECK(r->header("connection") == "close");
    REQUIRE(probe->wait_over());
    const Seen s = probe->seen();
    CHECK(s.errors == 1);
    CHECK(s.error_status == 408);
    CHECK(s.ends == 0);
}

TEST_CASE("Limits::max_stream_body_bytes is the max_bytes of a reader that sets none") {
    auto config = body_config();
    config.limits.max_stream_body_bytes = 2000;
    // A streaming route is not bound by the buffered-body limit.
    config.limits.max_body_bytes = 100;
    Probes probes;
    RoutedServer server(upload_routes(probes), config);
    RawClient c(server.port());
    const std::string body = random_bytes(2000, 31);
    REQUIRE(c.send(with_length("/upload", body)));
    const auto ok = c.read_response();
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(ok->body == summary(body));
    REQUIRE(c.send(head("POST", "/upload", "Content-Length: 2001\r\n")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);
    REQUIRE(probes.size() == 2);
    REQUIRE(probes.at(1)->wait_over());
    const Seen s = probes.at(1)->seen();
    CHECK(s.errors == 1);
    CHECK(s.error_status == 413);
}

TEST_CASE(
    "read_body on an ordinary route hands over the buffered body in one piece, then "
    "runs on_end") {
    Probes probes;
    RoutedServer server(
        [&](Server& s) {
            s.post("/buffered", [&](Context& ctx) { ctx.read_body(recorder(ctx, probes.add())); });
            s.handle_stream("POST", "/upload",
                            [&](Context& ctx) { ctx.read_body(recorder(ctx, probes.add())); });
        },
        body_config());
    const std::string body = random_bytes(200 * kKiB + 9, 16);
    RawClient c(server.port());
    bound_sends(c);

    REQUIRE(c.send(with_length("/buffered", body)));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    REQUIRE(c.send(with_chunks("/buffered", body, 16)));
    const auto r2 = c.read_response();
    REQUIRE(r2);
    CHECK(r2->status == 200);
    CHECK(r2->body == summary(body));
    for (std::size_t i = 0; i < 2; ++i) {
        CAPTURE(i);
        REQUIRE(probes.at(i));
        const Seen s = probes.at(i)->seen();
        CHECK(byte_exact(s.data, body));
        CHECK(s.pieces == 1);
        CHECK(s.ends == 1);
        CHECK(s.errors == 0);
    }

    // An empty body, on either kind of route: on_end without on_data.
    for (const char* target : {"/buffered", "/upload"}) {
        CAPTURE(target);
        REQUIRE(c.send(head("POST", target, "Content-Length: 0\r\n")));
        const auto r0 = c.read_response();
        REQUIRE(r0);
        CHECK(r0->status == 200);
        CHECK(r0->body == summary(""));
    }
    REQUIRE(probes.size() == 4);
    for (std::size_t i = 2; i < 4; ++i) {
        CAPTURE(i);
        const Seen s = probes.at(i)->seen();
        CHECK(s.pieces == 0);
        CHECK(s.ends == 1);
        CHECK(s.errors == 0);
    }
}

TEST_CASE("on an ordinary route a reader that pauses gets on_end only after resume_body") {
    auto probe = std::make_shared<Probe>();
    RefSlot slot;
    RoutedServer server(
        [&](Server& s) {
            s.post("/buffered", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probe);
                r.on_data = [p = probe](std::string_view bytes) {
                    p->piece(bytes, /*pause=*/true);
                    return false;
                };
                slot.put(ctx.defer());
                ctx.read_body(std::move(r));
            });
        },
        body_config());
    const std::string body = random_bytes(10 * kKiB, 17);
    RawClient c(server.port());
    REQUIRE(c.send(with_length("/buffered", body)));
    REQUIRE(probe->wait_paused_or_over(10s) == Probe::Wait::paused);
    REQUIRE(slot.filled());
    CHECK_FALSE(probe->over());
    ContextRef ref = slot.take();
    ref->resume_body();
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    const Seen s = probe->seen();
    CHECK(s.pieces == 1);
    CHECK(s.ends == 1);
    ref.reset();
}

TEST_CASE(
    "read_body started later from another thread through a ContextRef reads the body "
    "byte-exact, and that thread answers") {
    auto probe = std::make_shared<Probe>();
    // The thread starts reading once the test opens the gate.
    std::mutex gate_mutex;
    std::condition_variable gate_opened;
    bool gate = false;
    auto open_gate = [&] {
        {
            std::lock_guard lock(gate_mutex);
            gate = true;
        }
        gate_opened.notify_all();
    };
    std::atomic<bool> handled{false};
    Threads threads;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                threads.spawn(
                    [ref = ctx.defer(), p = probe, &gate_mutex, &gate_opened, &gate]() mutable {
                        {
                            std::unique_lock lock(gate_mutex);
                            gate_opened.wait_for(lock, 10s, [&] { return gate; });
                        }
                        ref->read_body(recorder(*ref, p, /*answer=*/false));
                        if (p->wait_over()) {
                            const Seen seen = p->seen();
                            if (seen.ends == 1) ref->text(200, summary(seen.data));
                        }
                        ref.reset();
                    });
                handled = true;
            });
        },
        body_config());
    const std::string body = random_bytes(kMiB + 11, 18);
    RawClient c(server.port());
    bound_sends(c);
    SUBCASE("the body sent with the head") {
        REQUIRE(c.send(with_length("/upload", body)));
        open_gate();
    }
    SUBCASE("Expect: 100-continue is answered only once read_body is called") {
        REQUIRE(c.send(head(
            "POST", "/upload",
            "Content-Length: " + std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n")));
        REQUIRE(wait_until([&] { return handled.load(); }));
        // The handler has run: a 100 sent with the head would be here already (loopback
        // delivers as the server writes).
        CHECK_FALSE(c.readable(0ms));
        open_gate();
        const auto interim = c.read_response();
        REQUIRE(interim);
        CHECK(interim->status == 100);
        REQUIRE(c.send(body));
    }
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    threads.join();
    const Seen s = probe->seen();
    CHECK(byte_exact(s.data, body));
    CHECK(s.ends == 1);
    CHECK(s.errors == 0);
}

// Regression: read_body() off the loop thread posted start_body() holding a reference on the
// exchange but not a holder, so dropping the last ContextRef before the loop ran it answered
// 500 ("dropped unanswered") and the reader got on_error(0).
TEST_CASE(
    "read_body called through a ContextRef that is dropped at once still holds the "
    "context until on_end answers") {
    auto probe = std::make_shared<Probe>();
    Threads threads;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                threads.spawn([ref = ctx.defer(), p = probe]() mutable {
                    ref->read_body(recorder(*ref, p));
                    ref.reset();  // read_body defers the context: on_end answers
                });
            });
        },
        body_config());
    const std::string body = random_bytes(64 * kKiB, 19);
    RawClient c(server.port());
    REQUIRE(c.send(with_length("/upload", body)));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    threads.join();
    REQUIRE(probe->wait_over());
    const Seen s = probe->seen();
    CHECK(s.ends == 1);
    CHECK(s.errors == 0);
    MESSAGE("on_error(" << s.error_status << ", " << s.error_reason << ")");
}

TEST_CASE(
    "a second read_body on the same request gets on_error(0) and leaves the first "
    "reader undisturbed") {
    Probes probes;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                const auto first = probes.add();
                const auto second = probes.add();
                ctx.read_body(recorder(ctx, first));
                ctx.read_body(recorder(ctx, second, /*answer=*/false));
            });
        },
        body_config());
    const std::string body = random_bytes(300 * kKiB, 24);
    RawClient c(server.port());
    bound_sends(c);
    REQUIRE(c.send(with_length("/upload", body)));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    REQUIRE(probes.size() == 2);
    const Seen first = probes.at(0)->seen();
    CHECK(byte_exact(first.data, body));
    CHECK(first.ends == 1);
    CHECK(first.errors == 0);
    const Seen second = probes.at(1)->seen();
    CHECK(second.pieces == 0);
    CHECK(second.ends == 0);
    CHECK(second.errors == 1);
    CHECK(second.error_status == 0);
}

TEST_CASE(
    "a reader without on_data reads the body to its end and discards it, then on_end "
    "runs") {
    std::atomic<int> ends{0};
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r;
                r.on_end = [&ctx, &ends] {
                    ++ends;
                    ctx.text(200, "done");
                };
                ctx.read_body(std::move(r));
            });
            s.get("/ping", [](Context& ctx) { ctx.text(200, "pong"); });
        },
        body_config());
    RawClient c(server.port());
    bound_sends(c);
    REQUIRE(c.send(with_length("/upload", random_bytes(kMiB, 25)) + head("GET", "/ping")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "done");
    const auto r2 = c.read_response();
    REQUIRE(r2);
    CHECK(r2->body == "pong");
    CHECK(ends == 1);
}

TEST_CASE(
    "an HTTP/1.0 request's Content-Length body is streamed too, and the connection "
    "closes after the response") {
    Probes probes;
    RoutedServer server(upload_routes(probes), body_config());
    const std::string body = random_bytes(500 * kKiB, 26);
    RawClient c(server.port());
    bound_sends(c);
    REQUIRE(c.send("POST /upload HTTP/1.0\r\nContent-Length: " + std::to_string(body.size()) +
                   "\r\n\r\n" + body));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary(body));
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
    REQUIRE(probes.at(0));
    CHECK(byte_exact(probes.at(0)->seen().data, body));
}

TEST_CASE(
    "a handler that answers while its body is still being read closes the connection "
    "after the response, and its reader gets on_error(0)") {
    Probes probes;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                ctx.read_body(recorder(ctx, probes.add(), /*answer=*/false));
                ctx.text(202, "accepted\n");
            });
        },
        body_config());
    RawClient c(server.port());
    bound_sends(c);
    // The head alone: the body is still to come when the answer goes out.
    REQUIRE(c.send(head("POST", "/upload", "Content-Length: 1048576\r\n")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 202);
    CHECK(r->body == "accepted\n");
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
    REQUIRE(probes.at(0));
    REQUIRE(probes.at(0)->wait_over());
    const Seen s = probes.at(0)->seen();
    CHECK(s.ends == 0);
    CHECK(s.errors == 1);
    CHECK(s.error_status == 0);
}

TEST_CASE(
    "a reader whose on_data throws fails its request with a 5xx, and on_error runs "
    "instead of on_end") {
    Probes probes;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                auto probe = probes.add();
                BodyReader r = recorder(ctx, probe);
                r.on_data = [probe](std::string_view bytes) -> bool {
                    probe->piece(bytes);
                    if (probe->received > 100 * kKiB) throw std::runtime_error("reader broke");
                    return true;
                };
                ctx.read_body(std::move(r));
            });
            s.get("/ping", [](Context& ctx) { ctx.text(200, "pong"); });
        },
        body_config());
    {
        RawClient c(server.port());
        bound_sends(c);
        (void)c.send(with_length("/upload", random_bytes(kMiB, 27)));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status >= 500);
        CHECK(r->status <= 599);
        CHECK(r->header("connection") == "close");
    }
    REQUIRE(probes.at(0));
    REQUIRE(probes.at(0)->wait_over());
    const Seen s = probes.at(0)->seen();
    CHECK(s.ends == 0);
    CHECK(s.errors == 1);
    MESSAGE("on_error(" << s.error_status << ", " << s.error_reason << ")");
    const auto r = get(server.port(), "/ping");
    REQUIRE(r);
    CHECK(r->status == 200);
}

TEST_CASE("stopping the server while a reader is paused ends the read with on_error(0)") {
    auto probe = std::make_shared<Probe>();
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                BodyReader r = recorder(ctx, probe);
                r.on_data = [p = probe](std::string_view bytes) {
                    p->piece(bytes, /*pause=*/true);
                    return false;  // and nobody resumes
                };
                ctx.read_body(std::move(r));
            });
        },
        body_config());
    RawClient c(server.port());
    bound_sends(c, 2s);
    REQUIRE(c.send(head("POST", "/upload", "Content-Length: 1048576\r\n") +
                   random_bytes(200 * kKiB, 28)));
    REQUIRE(probe->wait_paused_or_over(10s) == Probe::Wait::paused);
    const auto start = std::chrono::steady_clock::now();
    server.server().stop();
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(probe->wait_over());
    const Seen s = probe->seen();
    CHECK(s.ends == 0);
    CHECK(s.errors == 1);
    CHECK(s.error_status == 0);
    CHECK(c.wait_closed());
    MESSAGE("stop() took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                           << " ms with a 500 ms grace; on_error(" << s.error_status << ", "
                           << s.error_reason << ")");
}

TEST_CASE(
    "a handler that never answers after on_end gets a 500, and the connection serves "
    "the next request") {
    Probes probes;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                ctx.read_body(recorder(ctx, probes.add(), /*answer=*/false));
            });
            s.get("/ping", [](Context& ctx) { ctx.text(200, "pong"); });
        },
        body_config());
    const std::string body = random_bytes(100 * kKiB, 20);
    RawClient c(server.port());
    REQUIRE(c.send(with_length("/upload", body)));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 500);
    REQUIRE(probes.at(0));
    const Seen s = probes.at(0)->seen();
    CHECK(s.ends == 1);
    CHECK(byte_exact(s.data, body));
    // The body was read to its end: the connection stays open.
    CHECK_FALSE(r->has_header("connection"));
    REQUIRE(c.send(head("GET", "/ping")));
    const auto r2 = c.read_response();
    REQUIRE(r2);
    CHECK(r2->status == 200);
    CHECK(r2->body == "pong");
}

TEST_CASE(
    "malformed chunked framing mid-body is answered 400 and on_error(400) runs after "
    "the good chunks were handed over") {
    Probes probes;
    RoutedServer server(upload_routes(probes), body_config());
    const std::string good = random_bytes(16 * kKiB, 21);
    std::string rest;
    SUBCASE("a chunk size that is not hex") { rest = "\r\nzz\r\nbroken\r\n0\r\n\r\n"; }
    SUBCASE("a chunk size that overflows") { rest = "\r\n1ffffffffffffffff\r\nx\r\n0\r\n\r\n"; }
    SUBCASE("chunk data not followed by CRLF") { rest = "XX4\r\nmore\r\n0\r\n\r\n"; }
    SUBCASE("a trailer line without a colon") { rest = "\r\n0\r\nnot a field\r\n\r\n"; }
    SUBCASE("whitespace after a chunk size") { rest = "\r\n5 \r\nhello\r\n0\r\n\r\n"; }
    SUBCASE("a bare LF ending a chunk extension") { rest = "\r\n5;a=b\nhello\r\n0\r\n\r\n"; }
    CAPTURE(rest);
    RawClient c(server.port());
    REQUIRE(c.send(head("POST", "/upload", "Transfer-Encoding: chunked\r\n") + "4000\r\n" + good +
                   rest));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
    REQUIRE(probes.at(0));
    REQUIRE(probes.at(0)->wait_over());
    const Seen s = probes.at(0)->seen();
    CHECK(s.errors == 1);
    CHECK(s.error_status == 400);
    CHECK(s.ends == 0);
    CHECK(byte_exact(s.data, good));
}

TEST_CASE(
    "chunk extensions of every valid form are skipped: a streaming reader and a buffered "
    "handler get the bare body, and the next request on the connection is answered") {
    // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted ) ] ).
    Probes probes;
    RoutedServer server(
        [&probes](Server& s) {
            upload_routes(probes)(s);
            s.post("/echo", [](Context& ctx) { ctx.text(200, Body::copy(ctx.body())); });
        },
        body_config());
    const std::string framed =
        "5;a=b;c=d\r\nhello\r\n"
        "1 ;a=b\r\n \r\n"
        "5\t; x = \"q;\\\"\" ;y\r\nworld\r\n"
        "0;last=1\r\nT: 1\r\n\r\n";
    RawClient c(server.port());
    REQUIRE(c.send(head("POST", "/upload", "Transfer-Encoding: chunked\r\n") + framed +
                   head("POST", "/echo", "Transfer-Encoding: chunked\r\n") + framed +
                   head("GET", "/ping")));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == summary("hello world"));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "hello world");
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "pong");
}

TEST_CASE(
    "a chunk-size line longer than Limits::max_request_line is answered 413 and the "
    "connection closes") {
    Probes probes;
    auto config = body_config();
    config.limits.max_request_line = 256;
    RoutedServer server(upload_routes(probes), config);
    const std::string lines[] = {"5;a=" + std::string(300, 'x'), std::string(300, '0') + "5"};
    for (const std::string& line : lines) {
        CAPTURE(line.size());
        RawClient c(server.port());
        // The extension is refused as it arrives, before its line ends.
        REQUIRE(c.send(head("POST", "/upload", "Transfer-Encoding: chunked\r\n") + line));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 413);
        CHECK(r->header("connection") == "close");
        CHECK(c.wait_closed());
    }
}

TEST_CASE(
    "curl uploads a file with --data-binary to a streaming route, with Content-Length "
    "and chunked, byte-exact") {
    if (!have_curl()) {
        MESSAGE("skipped: curl is not installed");
        return;
    }
    Probes probes;
    RoutedServer server(upload_routes(probes), body_config());
    TempDir dir;
    // Over 1 MiB: curl asks with Expect: 100-continue first.
    const std::string body = random_bytes(3 * kMiB + 17, 22);
    const std::string file = dir.write("upload.bin", body);

    const Run plain = run(curl(
        server.port(), "--data-binary @" + file + " -H 'Content-Type: application/octet-stream'",
        "/upload", 30));
    CHECK(plain.exit_code == 0);
    CHECK(plain.out == summary(body));

    const Run chunks = run(curl(server.port(),
                                "--data-binary @" + file +
                                    " -H 'Content-Type: application/octet-stream'"
                                    " -H 'Transfer-Encoding: chunked'",
                                "/upload", 30));
    CHECK(chunks.exit_code == 0);
    CHECK(chunks.out == summary(body));

    REQUIRE(probes.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        CAPTURE(i);
        const Seen s = probes.at(i)->seen();
        CHECK(byte_exact(s.data, body));
        CHECK(s.ends == 1);
        CHECK(s.errors == 0);
    }
}

// Regression: IncomingBody kept the reader (and what its callbacks capture) after on_end or
// on_error. A reader holding the response's StreamWriter (whose state holds a reference on the
// exchange) or a ContextRef kept its own exchange alive for ever: a leak per request.
TEST_CASE(
    "a reader's callbacks are released once its request is over, also when they hold "
    "the response's StreamWriter or a ContextRef") {
    struct Sentinel {};
    std::mutex mutex;
    std::weak_ptr<Sentinel> watched;
    enum class Holds { context, writer, ref };
    Holds holds = Holds::context;
    SUBCASE("the context by reference only") { holds = Holds::context; }
    SUBCASE("the response's StreamWriter") { holds = Holds::writer; }
    SUBCASE("a ContextRef") { holds = Holds::ref; }
    CAPTURE(static_cast<int>(holds));
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/upload", [&](Context& ctx) {
                auto sentinel = std::make_shared<Sentinel>();
                {
                    std::lock_guard lock(mutex);
                    watched = sentinel;
                }
                BodyReader r;
                r.on_error = [sentinel](int, std::string_view) {};
                if (holds == Holds::writer) {
                    auto writer = std::make_shared<StreamWriter>();
                    r.on_data = [sentinel, writer](std::string_view bytes) {
                        writer->write(Body::copy(bytes));
                        return true;
                    };
                    r.on_end = [sentinel, writer] { writer->end(); };
                    ctx.read_body(std::move(r));
                    *writer = ctx.stream(200);
                } else if (holds == Holds::ref) {
                    r.on_end = [sentinel, ref = ctx.defer()] { ref->text(200, "done"); };
                    ctx.read_body(std::move(r));
                } else {
                    r.on_end = [sentinel, &ctx] { ctx.text(200, "done"); };
                    ctx.read_body(std::move(r));
                }
            });
        },
        body_config());
    {
        RawClient c(server.port());
        REQUIRE(c.send(with_length("/upload", random_bytes(10 * kKiB, 33))));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
    }  // closed: the request and its connection are over
    CHECK(wait_until([&] { return server.server().stats().connections_open == 0; }));
    CHECK(wait_until(
        [&] {
            std::lock_guard lock(mutex);
            return watched.expired();
        },
        5s));
}

TEST_CASE(
    "a full-duplex echo writes every piece back as it arrives, with flow control both "
    "ways, and the echoed body equals the body sent") {
    auto config = body_config();
    config.limits.write_high_water = 64 * kKiB;
    config.limits.write_low_water = 16 * kKiB;
    // What the echo did, read by the test.
    struct Counts {
        std::atomic<int> refusals{0};
        std::atomic<int> drains{0};
        std::atomic<int> ends{0};
        std::atomic<int> errors{0};
    };
    // The echo's state, held by the reader's callbacks.
    struct Echo {
        StreamWriter writer;
        std::string early;  // bytes that came before the writer existed
        std::shared_ptr<Counts> counts = std::make_shared<Counts>();
    };
    std::mutex mutex;
    std::shared_ptr<Counts> last;
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("POST", "/echo", [&](Context& ctx) {
                auto echo = std::make_shared<Echo>();
                {
                    std::lock_guard lock(mutex);
                    last = echo->counts;
                }
                BodyReader r;
                r.on_data = [echo](std::string_view bytes) {
                    if (!echo->writer) {
                        echo->early.append(bytes);
                        return true;
                    }
                    const bool more = echo->writer.write(Body::copy(bytes));
                    if (!more) ++echo->counts->refusals;
                    return more;
                };
                r.on_end = [echo] {
                    ++echo->counts->ends;
                    echo->writer.end();
                };
                r.on_error = [echo](int, std::string_view) { ++echo->counts->errors; };
                // The body first (read_body after a response has started is refused), then
                // the response, which goes out as the body comes in.
                ctx.read_body(std::move(r));
                echo->writer = ctx.stream(200);
                echo->writer.on_drain([counts = echo->counts, &ctx] {
                    ++counts->drains;
                    ctx.resume_body();
                });
                if (!echo->early.empty()) echo->writer.write(Body(std::move(echo->early)));
            });
        },
        config);

    // 2 MiB read as it comes; and a body larger than the kernel's socket buffers take (several
    // MiB on loopback) with a client that reads nothing until write() refuses, so the echo is
    // held back and on_drain must resume the reader.
    std::size_t size = 2 * kMiB;
    bool hold_first = false;
    SUBCASE("2 MiB, read as it comes") {}
    SUBCASE("12 MiB, read only once the echo is held back") {
        size = 12 * kMiB;
        hold_first = true;
    }
    CAPTURE(size);
    const std::string body = random_bytes(size, 23);
    // Its receive buffer small from the start: shrunk after connecting, the window already
    // advertised could overfill it, and this client's kernel would then drop the server's
    // segments, window updates included, stalling the body it sends (see set_receive_buffer).
    RawClient c(server.port(), ClientOptions{.receive_buffer = 32 * kKiB});
    bound_sends(c);
    std::atomic<bool> send_ok{false};
    Threads sender;  // joined before the client closes, also when a check fails
    sender.spawn([&] { send_ok = c.send(with_length("/echo", body)); });

    auto current = [&] {
        std::lock_guard lock(mutex);
        return last;
    };
    if (hold_first) {
        // The sockets fill, write() refuses, the reader pauses and the server stops reading
        // the body. Once the client reads, on_drain resumes the reader and the rest flows.
        CHECK(wait_until([&] {
            const auto e = current();
            return e && e->refusals > 0;
        }));
    }

    // Read the chunked response as it comes, while the body is still being sent.
    std::string raw;
    std::size_t head_end = std::string::npos;
    ChunkedDecoder decoder;
    std::string echoed;
    ChunkedDecoder::Status status = ChunkedDecoder::Status::more;
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    std::string buf;
    while (status == ChunkedDecoder::Status::more && std::chrono::steady_clock::now() < deadline) {
        buf.clear();
        if (!c.receive(buf, 1s)) {
            if (c.closed()) break;
            continue;
        }
        std::string_view in(buf);
        if (head_end == std::string::npos) {
            raw.append(in);
            head_end = raw.find("\r\n\r\n");
            if (head_end == std::string::npos) continue;
            in = std::string_view(raw).substr(head_end + 4);
        }
        const auto res = decoder.feed(in, [&](std::string_view piece) { echoed.append(piece); });
        status = res.status;
    }
    sender.join();
    CHECK(send_ok.load());
    REQUIRE(head_end != std::string::npos);
    const std::string response_head = raw.substr(0, head_end);
    CHECK(response_head.rfind("HTTP/1.1 200 ", 0) == 0);
    CHECK(response_head.find("Transfer-Encoding: chunked") != std::string::npos);
    // A response that starts before the body is read to its end closes the connection.
    CHECK(response_head.find("Connection: close") != std::string::npos);
    CHECK(status == ChunkedDecoder::Status::done);
    CHECK(byte_exact(echoed, body));
    const std::shared_ptr<Counts> echo = current();
    REQUIRE(echo);
    CHECK(echo->ends == 1);
    CHECK(echo->errors == 0);
    MESSAGE("write() refused " << echo->refusals.load() << " times, drained " << echo->drains.load()
                               << " times");
    CHECK(echo->drains.load() == echo->refusals.load());
    if (hold_first) CHECK(echo->refusals.load() > 0);
}

}  // TEST_SUITE("integration/request_body")
