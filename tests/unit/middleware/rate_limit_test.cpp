// rate_limit() over a real server: bursts then 429 with Retry-After and a JSON error, one
// bucket per client, X-Forwarded-For believed only from trusted proxies (rightmost untrusted
// entry), refill, a bounded table forgetting the least recently seen, option validation, and
// a shared limit that holds under concurrent loop threads.
#include <vstream/vstream.hpp>

#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using vstream::Context;
using vstream::errc;
using vstream::Error;
using vstream::Server;
using vstream::middleware::rate_limit;
using vstream::middleware::RateLimitOptions;
using vstream::test::RawClient;
using vstream::test::Response;
using vstream::test::roundtrip;
using vstream::test::test_config;
using vstream::test::wait_until;

namespace {

// Slow enough that no token comes back while a test runs (one per 1000 s).
constexpr double kNoRefill = 0.001;

// A server with rate_limit() in front of GET /ping, counting the requests that got past it;
// GET /loop, not limited, names the loop thread that serves the connection.
struct Limited {
    std::atomic<int> handled{0};
    Server server;

    explicit Limited(RateLimitOptions options, unsigned threads = 1)
        : server(test_config(threads)) {
        server.get("/ping",
                   [this](Context& ctx) {
                       handled.fetch_add(1, std::memory_order_relaxed);
                       ctx.text(200, "pong");
                   },
                   {rate_limit(std::move(options))});
        server.get("/loop", [](Context& ctx) {
            ctx.text(200, std::to_string(std::hash<std::thread::id>{}(std::this_thread::get_id())));
        });
        server.start();
    }
    ~Limited() { server.stop(); }
    Limited(const Limited&) = delete;
    Limited& operator=(const Limited&) = delete;

    std::uint16_t port() const { return server.port(); }
};

// GET /ping, with one X-Forwarded-For field per entry of `xff`.
std::string ping(const std::vector<std::string>& xff = {}) {
    std::string r = "GET /ping HTTP/1.1\r\nHost: t\r\n";
    for (const std::string& v : xff) r += "X-Forwarded-For: " + v + "\r\n";
    return r + "\r\n";
}

// The status of GET /ping on `c` (0 when no response came).
int status(RawClient& c, const std::vector<std::string>& xff = {}) {
    if (!c.send(ping(xff))) return 0;
    const std::optional<Response> r = c.read_response();
    return r ? r->status : 0;
}

// `per_loop` connections to each of two loop threads. SO_REUSEPORT spreads connections by
// their source port, so a few dozen attempts find both loops.
std::vector<std::unique_ptr<RawClient>> connect_to_both_loops(std::uint16_t port, int per_loop) {
    std::map<std::string, std::vector<std::unique_ptr<RawClient>>> by_loop;
    const auto enough = [&] {
        int full = 0;
        for (const auto& [loop, clients] : by_loop) {
            if (clients.size() >= static_cast<std::size_t>(per_loop)) ++full;
        }
        return full >= 2;
    };
    for (int attempt = 0; attempt < 200 && !enough(); ++attempt) {
        auto c = std::make_unique<RawClient>(port);
        REQUIRE(c->send("GET /loop HTTP/1.1\r\nHost: t\r\n\r\n"));
        const std::optional<Response> r = c->read_response();
        REQUIRE(r);
        by_loop[r->body].push_back(std::move(c));
    }
    REQUIRE(enough());
    std::vector<std::unique_ptr<RawClient>> out;
    for (auto& [loop, clients] : by_loop) {
        if (clients.size() < static_cast<std::size_t>(per_loop)) continue;
        for (int i = 0; i < per_loop; ++i) out.push_back(std::move(clients[i]));
    }
    return out;
}

// Whether `r` is the rate limiter's refusal, well formed.
void check_refusal(const Response& r) {
    CHECK(r.status == 429);
    CHECK(r.header("content-type") == "application/json");
    const std::string after = r.header("retry-after");
    REQUIRE(!after.empty());
    CHECK(after.find_first_not_of("0123456789") == std::string::npos);
    CHECK(std::stoull(after) >= 1);
    CHECK(r.body == R"({"error":"too many requests","retry_after":)" + after + "}");
}

// A distinct IPv4 address for every i < 2^24.
std::string address(int i) {
    return "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." +
           std::to_string(i & 255);
}

RateLimitOptions behind_proxy(std::vector<std::string> trusted = {"127.0.0.1"}) {
    RateLimitOptions o;
    o.rate = kNoRefill;
    o.burst = 1;
    o.key_header = "X-Forwarded-For";
    o.trusted_proxies = std::move(trusted);
    return o;
}

}  // namespace

TEST_SUITE("middleware/rate_limit") {

TEST_CASE("a burst passes, then the next request gets 429 with Retry-After and a JSON error") {
    RateLimitOptions o;
    o.rate = kNoRefill;
    o.burst = 3;
    Limited s(o);
    RawClient c(s.port());
    for (int i = 0; i < 3; ++i) CHECK(status(c) == 200);

    REQUIRE(c.send(ping()));
    const std::optional<Response> r = c.read_response();
    REQUIRE(r);
    check_refusal(*r);
    // A token is 1000 s away: the header says no more than that.
    CHECK(std::stoull(r->header("retry-after")) <= 1000);
    CHECK(s.handled.load() == 3);  // the refused request never reached the handler

    // A fresh connection from the same address shares the bucket.
    const std::optional<Response> again = roundtrip(s.port(), ping());
    REQUIRE(again);
    CHECK(again->status == 429);
    CHECK(s.handled.load() == 3);
}

TEST_CASE("HEAD gets the 429 headers without the body") {
    RateLimitOptions o;
    o.rate = kNoRefill;
    o.burst = 1;
    Limited s(o);
    RawClient c(s.port());
    CHECK(status(c) == 200);
    REQUIRE(c.send("HEAD /ping HTTP/1.1\r\nHost: t\r\n\r\n"));
    const std::optional<Response> r = c.read_response(true);
    REQUIRE(r);
    CHECK(r->status == 429);
    CHECK(std::stoull(r->header("retry-after")) >= 1);
    CHECK(r->body.empty());
    CHECK(status(c) == 429);  // the connection is still in step
}

TEST_CASE("clients named by a trusted proxy have independent buckets") {
    Limited s(behind_proxy());
    RawClient c(s.port());
    CHECK(status(c, {"192.0.2.1"}) == 200);
    CHECK(status(c, {"192.0.2.1"}) == 429);
    CHECK(status(c, {"192.0.2.2"}) == 200);
    CHECK(status(c, {"192.0.2.2"}) == 429);
    CHECK(status(c, {"2001:db8::7"}) == 200);
    // Another spelling of the same address is the same client.
    CHECK(status(c, {"2001:DB8:0:0::7"}) == 429);
    CHECK(status(c, {"[2001:db8::7]:8443"}) == 429);
    CHECK(status(c, {"192.0.2.1:5000"}) == 429);
    // Without the header, the proxy itself is the client.
    CHECK(status(c) == 200);
    CHECK(status(c) == 429);
    CHECK(s.handled.load() == 4);
}

TEST_CASE("X-Forwarded-For from an untrusted peer is ignored") {
    // The peer (127.0.0.1) is not in trusted_proxies, so every request is keyed by it,
    // whatever address it claims to forward for.
    RateLimitOptions o = behind_proxy({"10.9.9.9"});
    o.burst = 2;
    Limited s(o);
    RawClient c(s.port());
    CHECK(status(c, {"192.0.2.1"}) == 200);
    CHECK(status(c, {"192.0.2.2"}) == 200);
    CHECK(status(c, {"192.0.2.3"}) == 429);
    CHECK(status(c, {"192.0.2.4, 10.9.9.9"}) == 429);
    CHECK(status(c) == 429);
    CHECK(s.handled.load() == 2);
}

TEST_CASE("the rightmost address that is not a trusted proxy is the client") {
    Limited s(behind_proxy({"127.0.0.1", "10.0.0.2"}));
    RawClient c(s.port());
    // 10.0.0.2 is a trusted proxy: the client is 1.1.1.1.
    CHECK(status(c, {"1.1.1.1, 10.0.0.2"}) == 200);
    CHECK(status(c, {"1.1.1.1"}) == 429);
    // Whatever the client prepends is ignored: it cannot pick another bucket.
    CHECK(status(c, {"9.9.9.9, 1.1.1.1, 10.0.0.2"}) == 429);
    CHECK(status(c, {" 8.8.8.8 ,1.1.1.1 , 10.0.0.2 ,"}) == 429);
    // Several fields form one list, the last field's last entry being the nearest hop.
    CHECK(status(c, {"7.7.7.7", "1.1.1.1, 10.0.0.2"}) == 429);
    CHECK(status(c, {"1.1.1.1", "10.0.0.2"}) == 429);
    // The nearest untrusted hop is not the client's claim further left.
    CHECK(status(c, {"1.1.1.1, 5.5.5.5, 10.0.0.2"}) == 200);  // 5.5.5.5's first request
    CHECK(s.handled.load() == 2);
}

TEST_CASE("a header that names no untrusted address falls back to the peer") {
    Limited s(behind_proxy({"127.0.0.1", "10.0.0.2"}));
    RawClient c(s.port());
    CHECK(status(c, {"10.0.0.2"}) == 200);  // every entry trusted: keyed by 127.0.0.1
    CHECK(status(c) == 429);
    CHECK(status(c, {" , ,"}) == 429);     // only empty list elements
    CHECK(status(c, {"unknown"}) == 429);  // not an address: the proxy is the key
    CHECK(status(c, {"1.1.1.1, garbage, 10.0.0.2"}) == 429);
    CHECK(status(c, {"1.1.1.1"}) == 200);  // while a real client still has its own bucket
}

TEST_CASE("tokens refill over time") {
    RateLimitOptions o;
    o.rate = 1000;
    o.burst = 1;
    Limited s(o);
    RawClient c(s.port());
    // Pipelined batches soon outrun 1000/s (no single one is asserted to): send them,
    // without pausing, until one request finds the bucket empty.
    std::optional<Response> refused;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!refused && std::chrono::steady_clock::now() < deadline) {
        std::string batch;
        for (int i = 0; i < 10; ++i) batch += ping();
        REQUIRE(c.send(batch));
        for (int i = 0; i < 10; ++i) {
            std::optional<Response> r = c.read_response();
            REQUIRE(r);
            if (r->status == 429 && !refused) refused = std::move(r);
        }
    }
    REQUIRE(refused);
    check_refusal(*refused);
    CHECK(refused->header("retry-after") == "1");  // under a millisecond, rounded up
    // The bucket was empty; it fills again.
    CHECK(wait_until([&] { return status(c) == 200; }));
}

TEST_CASE("the table stays bounded and forgets the least recently seen client") {
    RateLimitOptions o = behind_proxy();
    o.max_clients = 64;  // 16 shards of 4
    Limited s(o);
    RawClient c(s.port());
    // A client whose bucket is empty, seen again after every second newcomer: no shard ever
    // takes in four newcomers since its last visit, so it is never the least recent.
    const std::string hot = "198.51.100.1";
    CHECK(status(c, {hot}) == 200);
    CHECK(status(c, {hot}) == 429);

    // 5000 clients, once each, pipelined in batches; each has a fresh bucket.
    constexpr int kClients = 5000;
    constexpr int kBatch = 100;
    int passed = 0;
    int hot_refused = 0;
    for (int base = 0; base < kClients; base += kBatch) {
        std::string batch;
        for (int i = base; i < base + kBatch; ++i) {
            batch += ping({address(i)});
            if (i % 2 == 1) batch += ping({hot});
        }
        REQUIRE(c.send(batch));
        for (int i = base; i < base + kBatch; ++i) {
            std::optional<Response> r = c.read_response();
            REQUIRE(r);
            passed += r->status == 200 ? 1 : 0;
            if (i % 2 == 1) {
                r = c.read_response();
                REQUIRE(r);
                hot_refused += r->status == 429 ? 1 : 0;
            }
        }
    }
    CHECK(passed == kClients);
    CHECK(hot_refused == kClients / 2);  // remembered throughout: its bucket stayed empty

    // The most recent newcomer is remembered (its bucket is empty)...
    CHECK(status(c, {address(kClients - 1)}) == 429);
    CHECK(status(c, {hot}) == 429);
    // ...while early ones were forgotten and start again with a full bucket.
    for (int i = 0; i < 8; ++i) {
        CAPTURE(i);
        CHECK(status(c, {address(i)}) == 200);
    }
    CHECK(s.handled.load() == 1 + kClients + 8);
}

TEST_CASE("invalid options throw invalid_argument naming the field") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const double inf = std::numeric_limits<double>::infinity();
    struct Row {
        const char* what;
        RateLimitOptions options;
        const char* field;
    };
    const auto with = [](auto change) {
        RateLimitOptions o;
        change(o);
        return o;
    };
    const std::vector<Row> rows = {
        {"rate 0", with([](auto& o) { o.rate = 0; }), "rate"},
        {"rate < 0", with([](auto& o) { o.rate = -1; }), "rate"},
        {"rate NaN", with([&](auto& o) { o.rate = nan; }), "rate"},
        {"rate infinite", with([&](auto& o) { o.rate = inf; }), "rate"},
        {"burst 0", with([](auto& o) { o.burst = 0; }), "burst"},
        {"burst < 1", with([](auto& o) { o.burst = 0.5; }), "burst"},
        {"burst NaN", with([&](auto& o) { o.burst = nan; }), "burst"},
        {"burst infinite", with([&](auto& o) { o.burst = inf; }), "burst"},
        {"max_clients 0", with([](auto& o) { o.max_clients = 0; }), "max_clients"},
        {"proxy not an address", with([](auto& o) {
             o.trusted_proxies = {"127.0.0.1", "proxy.local"};
         }),
         "trusted_proxies"},
        {"proxy as a network", with([](auto& o) { o.trusted_proxies = {"10.0.0.0/8"}; }),
         "trusted_proxies"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.what);
        try {
            (void)rate_limit(row.options);
            FAIL("no exception");
        } catch (const Error& e) {
            CHECK(e.errc_code() == errc::invalid_argument);
            CHECK(std::string(e.what()).find(row.field) != std::string::npos);
        }
    }
    // The defaults and the smallest valid values are accepted.
    CHECK_NOTHROW((void)rate_limit());
    CHECK_NOTHROW((void)rate_limit(with([](auto& o) {
        o.rate = 1e-9;
        o.burst = 1;
        o.max_clients = 1;
        o.trusted_proxies = {"::1", "[::ffff:10.0.0.1]", "10.0.0.1"};
    })));
}

TEST_CASE("concurrent clients on two loop threads never get more than burst plus the rate") {
    RateLimitOptions o;
    o.rate = 200;
    o.burst = 20;
    Limited s(o, 2);
    // One connection per thread, four on each loop thread: they share one bucket (all
    // come from 127.0.0.1), taken from both loops at once.
    std::vector<std::unique_ptr<RawClient>> clients = connect_to_both_loops(s.port(), 4);
    const int kThreads = int(clients.size());
    constexpr int kRequests = 150;
    std::atomic<int> accepted{0};
    std::atomic<int> refused{0};
    std::atomic<int> failed{0};

    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            RawClient& c = *clients[std::size_t(t)];
            for (int i = 0; i < kRequests; ++i) {
                switch (status(c)) {
                    case 200: accepted.fetch_add(1); break;
                    case 429: refused.fetch_add(1); break;
                    default: failed.fetch_add(1); break;
                }
            }
        });
    }
    for (std::thread& t : threads) t.join();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

    CHECK(failed.load() == 0);
    CHECK(accepted.load() + refused.load() == kThreads * kRequests);
    CHECK(accepted.load() == s.handled.load());
    // The full bucket always lets the first burst through.
    CHECK(accepted.load() >= 20);
    // Every request ran inside [start, now]: no more than the bucket plus what refilled.
    CHECK(accepted.load() <= 20 + std::floor(200 * elapsed) + 1);
}

TEST_CASE("concurrent clients churning a tiny table get well-formed answers") {
    RateLimitOptions o = behind_proxy();
    o.burst = 2;
    o.max_clients = 5;  // fewer than the shards: exactly 5 slots
    Limited s(o, 2);
    std::vector<std::unique_ptr<RawClient>> clients = connect_to_both_loops(s.port(), 3);
    const int kThreads = int(clients.size());
    constexpr int kRequests = 200;
    std::atomic<int> answered{0};
    std::atomic<int> malformed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            RawClient& c = *clients[std::size_t(t)];
            for (int i = 0; i < kRequests; ++i) {
                if (!c.send(ping({address((t * 7 + i) % 40)}))) break;
                const std::optional<Response> r = c.read_response();
                if (!r) break;
                answered.fetch_add(1);
                const bool ok =
                    r->status == 200 || (r->status == 429 && !r->header("retry-after").empty() &&
                                         r->body.find("too many requests") != std::string::npos);
                if (!ok) malformed.fetch_add(1);
            }
        });
    }
    for (std::thread& t : threads) t.join();
    CHECK(answered.load() == kThreads * kRequests);
    CHECK(malformed.load() == 0);
}

}  // TEST_SUITE("middleware/rate_limit")
