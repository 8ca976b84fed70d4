// middleware::access_log over a real server: one valid JSON line per request with every
// field, 499 for a client that left, a slow or failing sink that never delays serving, drop
// counting, escaping, and a writer joined (after draining) when the server goes.
#include <vstream/vstream.hpp>

#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <simdjson.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using vstream::Context;
using vstream::ContextRef;
using vstream::Server;
using vstream::test::RawClient;
using vstream::test::roundtrip;
using vstream::test::test_config;
using vstream::test::wait_until;
namespace mw = vstream::middleware;

namespace {

// Collects the lines the writer thread hands to the sink.
struct Lines {
    std::mutex m;
    std::vector<std::string> lines;

    mw::LogSink sink() {
        return [this](std::string_view line) {
            std::lock_guard g(m);
            lines.emplace_back(line);
        };
    }
    std::size_t size() {
        std::lock_guard g(m);
        return lines.size();
    }
    std::vector<std::string> snapshot() {
        std::lock_guard g(m);
        return lines;
    }
};

// One access log line, parsed.
struct Entry {
    std::string time, method, path, route, client, user_agent, request_id, trace_id;
    std::int64_t status = 0, bytes = 0, duration_us = 0;
    std::size_t fields = 0;
};

std::string str(simdjson::dom::object obj, std::string_view key) {
    std::string_view v;
    if (obj[key].get_string().get(v) != simdjson::SUCCESS) {
        FAIL_CHECK("missing string field " << key);
        return {};
    }
    return std::string(v);
}

std::int64_t num(simdjson::dom::object obj, std::string_view key) {
    std::int64_t v = 0;
    if (obj[key].get_int64().get(v) != simdjson::SUCCESS) {
        FAIL_CHECK("missing integer field " << key);
        return -1;
    }
    return v;
}

// Parses `line` with simdjson; nullopt (and a failed check) when it is not a JSON object.
std::optional<Entry> parse(const std::string& line) {
    CAPTURE(line);
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    if (parser.parse(line).get_object().get(obj) != simdjson::SUCCESS) {
        FAIL_CHECK("not a JSON object");
        return std::nullopt;
    }
    Entry e;
    e.fields = obj.size();
    e.time = str(obj, "time");
    e.method = str(obj, "method");
    e.path = str(obj, "path");
    e.route = str(obj, "route");
    e.status = num(obj, "status");
    e.bytes = num(obj, "bytes");
    e.duration_us = num(obj, "duration_us");
    e.client = str(obj, "client");
    e.user_agent = str(obj, "user_agent");
    e.request_id = str(obj, "request_id");
    e.trace_id = str(obj, "trace_id");
    return e;
}

// The value of a {"dropped":N} line, or nullopt for any other line.
std::optional<std::int64_t> dropped_count(const std::string& line) {
    simdjson::dom::parser parser;
    simdjson::dom::object obj;
    if (parser.parse(line).get_object().get(obj) != simdjson::SUCCESS) return std::nullopt;
    std::int64_t n = 0;
    if (obj.size() != 1 || obj["dropped"].get_int64().get(n) != simdjson::SUCCESS) {
        return std::nullopt;
    }
    return n;
}

// A sink that records each line, then blocks until the test opens it.
struct Gate {
    std::mutex m;
    std::condition_variable cv;
    bool open = false;
    std::vector<std::string> lines;

    mw::LogSink sink() {
        return [this](std::string_view line) {
            std::unique_lock l(m);
            lines.emplace_back(line);
            cv.wait(l, [this] { return open; });
        };
    }
    void release() {
        {
            std::lock_guard l(m);
            open = true;
        }
        cv.notify_all();
    }
    std::size_t size() {
        std::lock_guard l(m);
        return lines.size();
    }
    std::vector<std::string> snapshot() {
        std::lock_guard l(m);
        return lines;
    }
};

// Declared after the server, so it opens the gate before the server's destructor joins the
// writer, even when a REQUIRE leaves the test early.
struct ReleaseOnExit {
    Gate& gate;
    ~ReleaseOnExit() { gate.release(); }
};

std::string request(const std::string& target, const std::string& extra = "") {
    return "GET " + target + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

}  // namespace

TEST_SUITE("middleware/access_log") {

TEST_CASE("each request gets one JSON line with every field, the route pattern when routed") {
    Lines log;
    {
        Server server(test_config());
        server.use(mw::access_log({log.sink()}));
        server.get("/videos/:id",
                   [](Context& c) { c.text(200, "video " + std::string(c.param("id"))); });
        server.start();
        auto r = roundtrip(server.port(), request("/videos/42?t=30", "User-Agent: curl/8.0\r\n"));
        REQUIRE(r);
        CHECK(r->status == 200);
        r = roundtrip(server.port(), request("/missing"));
        REQUIRE(r);
        CHECK(r->status == 404);
        CHECK(wait_until([&] { return log.size() >= 2; }));
    }  // the server, and with it the writer, is gone: no line can still come
    const auto lines = log.snapshot();
    REQUIRE(lines.size() == 2);

    const auto routed = parse(lines[0]);
    REQUIRE(routed);
    CHECK(routed->fields == 11);
    CHECK(std::regex_match(routed->time,
                           std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)")));
    CHECK(routed->method == "GET");
    CHECK(routed->path == "/videos/42");  // the target's path, without the query
    CHECK(routed->route == "/videos/:id");
    CHECK(routed->status == 200);
    CHECK(routed->bytes == 8);  // "video 42"
    CHECK(routed->duration_us >= 0);
    CHECK(routed->client == "127.0.0.1");
    CHECK(routed->user_agent == "curl/8.0");
    CHECK(routed->request_id == "");  // no request_id() installed
    CHECK(routed->trace_id == "");

    const auto missing = parse(lines[1]);
    REQUIRE(missing);
    CHECK(missing->fields == 11);
    CHECK(missing->path == "/missing");
    CHECK(missing->route == "");
    CHECK(missing->status == 404);
    CHECK(missing->bytes == static_cast<std::int64_t>(std::string("404 Not Found\n").size()));
    CHECK(missing->user_agent == "");
}

TEST_CASE("a HEAD request logs zero body bytes and the method") {
    Lines log;
    {
        Server server(test_config());
        server.use(mw::access_log({log.sink()}));
        server.get("/doc", [](Context& c) { c.text(200, "hello"); });
        server.start();
        RawClient c(server.port());
        REQUIRE(c.send("HEAD /doc HTTP/1.1\r\nHost: t\r\n\r\n"));
        auto r = c.read_response(true);
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(wait_until([&] { return log.size() >= 1; }));
    }
    const auto lines = log.snapshot();
    REQUIRE(lines.size() == 1);
    const auto e = parse(lines[0]);
    REQUIRE(e);
    CHECK(e->method == "HEAD");
    CHECK(e->route == "/doc");
    CHECK(e->bytes == 0);
}

TEST_CASE("a client that resets before a deferred answer is logged with status 499") {
    Lines log;
    std::mutex m;
    Server server(test_config());
    ContextRef held;  // after the server: dropped before it, even on an early exit
    server.use(mw::access_log({log.sink()}));
    server.get("/slow", [&](Context& c) {
        std::lock_guard g(m);
        held = c.defer();  // answered never: the client leaves first
    });
    server.start();
    {
        RawClient c(server.port());
        REQUIRE(c.send(request("/slow")));
        REQUIRE(wait_until([&] {
            std::lock_guard g(m);
            return static_cast<bool>(held);
        }));
        // SO_LINGER {1, 0}: close() sends RST instead of FIN.
        const linger reset{1, 0};
        REQUIRE(::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset) == 0);
    }
    REQUIRE(wait_until([&] { return log.size() >= 1; }));
    {
        std::lock_guard g(m);
        CHECK(held.cancelled());
        held.reset();
    }
    server.stop();
    const auto lines = log.snapshot();
    REQUIRE(lines.size() == 1);
    const auto e = parse(lines[0]);
    REQUIRE(e);
    CHECK(e->status == 499);
    CHECK(e->bytes == 0);
    CHECK(e->route == "/slow");
    CHECK(e->path == "/slow");
}

TEST_CASE("a blocked sink delays no response; lines beyond the queue are dropped and counted") {
    Gate gate;
    mw::AccessLogOptions options;
    options.sink = gate.sink();
    options.queue_lines = 2;
    Server server(test_config());
    server.use(mw::access_log(options));
    server.get("/x", [](Context& c) { c.text(200, "x"); });
    server.start();
    ReleaseOnExit release{gate};

    auto r = roundtrip(server.port(), request("/x"));
    REQUIRE(r);
    CHECK(r->status == 200);
    // The writer now holds the first line and is stuck in the sink.
    REQUIRE(wait_until([&] { return gate.size() == 1; }));

    // Every request is still answered while the sink is blocked (each read has a deadline):
    // two lines wait in the queue, the rest are dropped.
    constexpr int kMore = 10;
    for (int i = 0; i < kMore; ++i) {
        CAPTURE(i);
        r = roundtrip(server.port(), request("/x"));
        REQUIRE(r);
        CHECK(r->status == 200);
    }
    CHECK(gate.size() == 1);  // the sink did not get further meanwhile

    gate.release();
    REQUIRE(wait_until([&] {
        for (const std::string& line : gate.snapshot()) {
            if (dropped_count(line)) return true;
        }
        return false;
    }));
    server.stop();
    CHECK(gate.size() >= 3);
    const auto lines = gate.snapshot();

    // The drop report comes first once the writer catches up.
    REQUIRE(lines.size() >= 2);
    const auto dropped = dropped_count(lines[1]);
    REQUIRE(dropped);
    // With one loop thread, the hooks of requests 2..10 ran before request 11 was answered,
    // so at least 7 lines found the queue (capacity 2) full.
    CHECK(*dropped >= kMore - 3);

    // Nothing is lost silently: logged lines plus dropped ones account for every request.
    std::int64_t logged = 0;
    std::int64_t dropped_total = 0;
    for (const std::string& line : lines) {
        if (const auto n = dropped_count(line)) {
            dropped_total += *n;
        } else {
            const auto e = parse(line);
            REQUIRE(e);
            CHECK(e->route == "/x");
            ++logged;
        }
    }
    CHECK(logged + dropped_total == kMore + 1);
    CHECK(logged >= 3);
}

TEST_CASE("special characters in the user agent and path are escaped into valid JSON") {
    Lines log;
    {
        Server server(test_config());
        server.use(mw::access_log({log.sink()}));
        server.get("/files/*rest", [](Context& c) { c.text(200, "ok"); });
        server.start();
        const std::string agent = "say \"hi\" \\ back\tslash caf\xc3\xa9 \xff end";
        auto r =
            roundtrip(server.port(), request(R"(/files/a"b\c)", "User-Agent: " + agent + "\r\n"));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(wait_until([&] { return log.size() >= 1; }));
    }
    const auto lines = log.snapshot();
    REQUIRE(lines.size() == 1);
    CAPTURE(lines[0]);
    CHECK(lines[0].find('\t') == std::string::npos);  // control characters are escaped
    const auto e = parse(lines[0]);
    REQUIRE(e);
    // Quotes, backslashes and the tab come back intact; the byte that is not UTF-8 is U+FFFD.
    CHECK(e->user_agent == "say \"hi\" \\ back\tslash caf\xc3\xa9 \xef\xbf\xbd end");
    CHECK(e->path == R"(/files/a"b\c)");
    CHECK(e->route == "/files/*rest");
}

TEST_CASE("a sink that throws loses that line only; the writer keeps going") {
    std::mutex m;
    int calls = 0;
    std::vector<std::string> kept;
    mw::AccessLogOptions options;
    options.sink = [&](std::string_view line) {
        std::lock_guard g(m);
        if (++calls == 1) throw std::runtime_error("disk full");
        kept.emplace_back(line);
    };
    Server server(test_config());
    server.use(mw::access_log(options));
    server.get("/x", [](Context& c) { c.text(200, "x"); });
    server.start();
    RawClient c(server.port());
    for (int i = 0; i < 3; ++i) {
        REQUIRE(c.send(request("/x")));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
    }
    CHECK(wait_until([&] {
        std::lock_guard g(m);
        return calls == 3;
    }));
    server.stop();
    std::lock_guard g(m);
    CHECK(kept.size() == 2);
}

TEST_CASE("destroying the server joins the writer after it writes every queued line") {
    Gate gate;
    constexpr int kRequests = 20;
    {
        Server server(test_config());
        server.use(mw::access_log({gate.sink()}));
        server.get("/x", [](Context& c) { c.text(200, "x"); });
        server.start();
        ReleaseOnExit release{gate};
        RawClient c(server.port());
        for (int i = 0; i < kRequests; ++i) {
            REQUIRE(c.send(request("/x")));
            REQUIRE(c.read_response());
        }
        REQUIRE(wait_until([&] { return gate.size() >= 1; }));
        // The sink is stuck on the first line with the others queued behind it; release it
        // only now, so the server's destructor finds lines still waiting.
    }  // ReleaseOnExit opens the gate, then ~Server joins the writer
    const auto lines = gate.snapshot();
    CHECK(lines.size() == kRequests);  // nothing dropped (queue 8192), nothing lost
    for (const std::string& line : lines) CHECK(parse(line));
}

TEST_CASE("requests on several loop threads are all logged, each as valid JSON") {
    Lines log;
    constexpr int kClients = 4;
    constexpr int kEach = 25;
    {
        Server server(test_config(2));
        server.use(mw::access_log({log.sink()}));
        server.get("/n/:i", [](Context& c) { c.text(200, std::string(c.param("i"))); });
        server.start();
        std::vector<std::thread> clients;
        std::mutex fail_m;
        int failures = 0;
        for (int t = 0; t < kClients; ++t) {
            clients.emplace_back([&, t] {
                RawClient c(server.port());
                for (int i = 0; i < kEach; ++i) {
                    auto r = (c.send(request("/n/" + std::to_string(t * kEach + i))))
                                 ? c.read_response()
                                 : std::nullopt;
                    if (!r || r->status != 200) {
                        std::lock_guard g(fail_m);
                        ++failures;
                    }
                }
            });
        }
        for (auto& t : clients) t.join();
        CHECK(failures == 0);
        CHECK(wait_until([&] { return log.size() >= kClients * kEach; }));
    }
    const auto lines = log.snapshot();
    REQUIRE(lines.size() == kClients * kEach);
    std::vector<bool> seen(kClients * kEach, false);
    for (const std::string& line : lines) {
        const auto e = parse(line);
        REQUIRE(e);
        CHECK(e->route == "/n/:i");
        const int i = std::stoi(e->path.substr(3));
        REQUIRE(i >= 0);
        REQUIRE(i < kClients * kEach);
        CHECK_FALSE(seen[static_cast<std::size_t>(i)]);
        seen[static_cast<std::size_t>(i)] = true;
    }
}

}  // TEST_SUITE("middleware/access_log")
