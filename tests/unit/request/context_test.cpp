// Tests Context and ContextRef (src/request/context.cpp) through a real server and raw client.
#include <vstream/context.hpp>
#include <vstream/error.hpp>

#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using vstream::Context;
using vstream::ContextRef;
using vstream::errc;
using vstream::Error;
using vstream::test::RawClient;
using vstream::test::Response;
using vstream::test::TestServer;
using vstream::test::wait_until;

namespace {

std::string get(const std::string& target) {
    return "GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

std::size_t header_count(const Response& r, const std::string& name) {
    return r.headers.count(name);
}

std::vector<std::string> header_values(const Response& r, const std::string& name) {
    std::vector<std::string> out;
    auto [b, e] = r.headers.equal_range(name);
    for (auto it = b; it != e; ++it) out.push_back(it->second);
    return out;
}

// What a handler saw, copied out under a lock for the test thread.
struct Seen {
    std::mutex m;
    std::string method, target, path, query, body, peer_address;
    std::string host, missing = "unset", custom_first;
    std::size_t header_fields = 0, custom_count = 0;
    int http_minor = -1;
    std::uint16_t peer_port = 0;
    bool responded_before = true, responded_after = false;
    int status_before = 0;
};

}  // namespace

TEST_SUITE("request/context") {

TEST_CASE("request accessors expose the method, target, path, query, version, headers and body") {
    Seen seen;
    TestServer server([&seen](Context& ctx) {
        {
            std::lock_guard lock(seen.m);
            seen.method = ctx.method();
            seen.target = ctx.target();
            seen.path = ctx.path();
            seen.query = ctx.query_string();
            seen.http_minor = ctx.http_minor();
            seen.body = ctx.body();
            seen.header_fields = ctx.headers().size();
            seen.host = ctx.header("HOST").value_or("none");
            seen.missing = ctx.header("x-missing").has_value() ? "present" : "absent";
            seen.custom_count = ctx.headers().count("x-custom");
            seen.custom_first = ctx.headers().get("X-Custom").value_or("none");
        }
        ctx.send(204, {});
    });
    RawClient client(server.port());
    REQUIRE(
        client.send("POST /a/b%20c?x=1&y=%41 HTTP/1.1\r\nHost: example\r\nX-Custom: one\r\n"
                    "x-custom: two\r\nContent-Length: 11\r\n\r\nhello world"));
    const auto r = client.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 204);
    std::lock_guard lock(seen.m);
    CHECK(seen.method == "POST");
    CHECK(seen.target == "/a/b%20c?x=1&y=%41");
    CHECK(seen.path == "/a/b%20c");
    CHECK(seen.query == "x=1&y=%41");
    CHECK(seen.http_minor == 1);
    CHECK(seen.body == "hello world");
    CHECK(seen.header_fields == 4);
    CHECK(seen.host == "example");
    CHECK(seen.missing == "absent");
    CHECK(seen.custom_count == 2);
    CHECK(seen.custom_first == "one");
}

TEST_CASE("a target without a query has an empty query string; HTTP/1.0 has minor version 0") {
    Seen seen;
    TestServer server([&seen](Context& ctx) {
        {
            std::lock_guard lock(seen.m);
            seen.path = ctx.path();
            seen.query = ctx.query_string();
            seen.http_minor = ctx.http_minor();
            seen.header_fields = ctx.headers().size();
        }
        ctx.text(200, "ok");
    });
    RawClient client(server.port());
    REQUIRE(client.send("GET /plain HTTP/1.0\r\n\r\n"));
    const auto r = client.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    std::lock_guard lock(seen.m);
    CHECK(seen.path == "/plain");
    CHECK(seen.query.empty());
    CHECK(seen.http_minor == 0);
    CHECK(seen.header_fields == 0);
}

TEST_CASE("the peer address and port are the client's") {
    Seen seen;
    TestServer server([&seen](Context& ctx) {
        {
            std::lock_guard lock(seen.m);
            seen.peer_address = ctx.peer_address();
            seen.peer_port = ctx.peer_port();
        }
        ctx.text(200, "ok");
    });
    RawClient client(server.port());
    REQUIRE(client.send(get("/")));
    REQUIRE(client.read_response().has_value());
    std::lock_guard lock(seen.m);
    CHECK(seen.peer_address == "127.0.0.1");
    CHECK(seen.peer_port == client.local_port());
    CHECK(seen.peer_port != 0);
}

TEST_CASE("set_header replaces a field of any case; add_header keeps duplicates") {
    TestServer server([](Context& ctx) {
        ctx.set_header("X-One", "a");
        ctx.set_header("x-one", "b");
        ctx.add_header("Set-Cookie", "a=1");
        ctx.add_header("Set-Cookie", "b=2");
        ctx.set_header("X-Two", "keep");
        ctx.add_header("X-One", "c");
        ctx.text(200, "ok");
    });
    const auto r = vstream::test::roundtrip(server.port(), get("/"));
    REQUIRE(r.has_value());
    CHECK(header_values(*r, "x-one") == std::vector<std::string>{"b", "c"});
    CHECK(header_values(*r, "set-cookie") == std::vector<std::string>{"a=1", "b=2"});
    CHECK(r->header("x-two") == "keep");
    CHECK(header_count(*r, "content-type") == 1);
}

TEST_CASE("Content-Length, Date and Transfer-Encoding set by the handler are ignored") {
    TestServer server([](Context& ctx) {
        ctx.set_header("Content-Length", "999");
        ctx.add_header("content-length", "1");
        ctx.set_header("Date", "Mon, 01 Jan 2001 00:00:00 GMT");
        ctx.add_header("DATE", "yesterday");
        ctx.set_header("Transfer-Encoding", "chunked");
        ctx.add_header("transfer-encoding", "gzip");
        ctx.send(200, "hello");
    });
    RawClient client(server.port());
    REQUIRE(client.send(get("/")));
    const auto r = client.read_response();
    REQUIRE(r.has_value());
    CHECK(header_count(*r, "content-length") == 1);
    CHECK(r->header("content-length") == "5");
    CHECK(header_count(*r, "date") == 1);
    CHECK(r->header("date") != "Mon, 01 Jan 2001 00:00:00 GMT");
    CHECK(r->header("date").size() == 29);
    CHECK(header_count(*r, "transfer-encoding") == 0);
    CHECK(r->body == "hello");
    // The framing held: the connection serves a second request cleanly.
    REQUIRE(client.send(get("/")));
    const auto r2 = client.read_response();
    REQUIRE(r2.has_value());
    CHECK(r2->body == "hello");
}

TEST_CASE("Connection: close set by the handler closes the connection after the response") {
    TestServer server([](Context& ctx) {
        ctx.set_header("Connection", "Close");
        ctx.text(200, "bye");
    });
    RawClient client(server.port());
    REQUIRE(client.send(get("/")));
    const auto r = client.read_response();
    REQUIRE(r.has_value());
    CHECK(r->body == "bye");
    CHECK(header_count(*r, "connection") == 1);
    CHECK(r->header("connection") == "close");
    CHECK(client.wait_closed());
}

TEST_CASE("an invalid header name or value throws invalid_argument inside the handler") {
    struct Row {
        std::string name;
        std::string value;
        bool add;
    };
    const std::vector<Row> rows = {
        {"", "v", false},
        {"Bad Name", "v", false},
        {"X:Y", "v", false},
        {"X-A\r\nInjected", "v", false},
        {"X(A)", "v", true},
        {"X-\xC3\xA9", "v", true},
        {"X-A", "a\r\nInjected: 1", false},
        {"X-A", "a\nb", true},
        {"X-A", "a\rb", false},
        {"X-A", std::string("a\0b", 3), true},
        {std::string("X\0A", 3), "v", false},  // NUL in the name
        {std::string("\0", 1), "v", true},
        {"Content-Length", "1\r\n", false},  // checked even for engine-owned names
    };
    std::mutex m;
    std::vector<std::string> outcomes;
    TestServer server([&](Context& ctx) {
        const Row& row =
            rows.at(static_cast<std::size_t>(std::stoi(std::string(ctx.query_string()))));
        std::string outcome = "no throw";
        try {
            if (row.add) {
                ctx.add_header(row.name, row.value);
            } else {
                ctx.set_header(row.name, row.value);
            }
        } catch (const Error& e) {
            outcome = e.errc_code() == errc::invalid_argument ? "invalid_argument" : "other code";
        }
        {
            std::lock_guard lock(m);
            outcomes.push_back(outcome);
        }
        ctx.text(200, "handled");
    });
    RawClient client(server.port());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        CAPTURE(i);
        CAPTURE(rows[i].name);
        CAPTURE(rows[i].value);
        REQUIRE(client.send(get("/?" + std::to_string(i))));
        const auto r = client.read_response();
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        CHECK(header_count(*r, "injected") == 0);
        std::lock_guard lock(m);
        REQUIRE(outcomes.size() == i + 1);
        CHECK(outcomes[i] == "invalid_argument");
    }
}

TEST_CASE("the header error names the offending field") {
    std::mutex m;
    std::string what;
    TestServer server([&](Context& ctx) {
        try {
            ctx.set_header("X-Bad", "a\r\nb");
        } catch (const Error& e) {
            std::lock_guard lock(m);
            what = e.what();
        }
        ctx.text(200, "ok");
    });
    REQUIRE(vstream::test::roundtrip(server.port(), get("/")).has_value());
    std::lock_guard lock(m);
    CHECK(what.find("X-Bad") != std::string::npos);
}

TEST_CASE("an invalid header escaping the handler becomes a 500 that reveals nothing") {
    TestServer server([](Context& ctx) {
        ctx.set_header("X-Secret", "ok");
        ctx.set_header("X-Leak", "evil\r\nInjected: yes");
        ctx.text(200, "never");
    });
    RawClient client(server.port());
    REQUIRE(client.send(get("/")));
    const auto r = client.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 500);
    CHECK(header_count(*r, "injected") == 0);
    CHECK(header_count(*r, "x-secret") == 0);  // the partial response is discarded
    CHECK(r->body.find("X-Leak") == std::string::npos);
    CHECK(r->body.find("evil") == std::string::npos);
}

TEST_CASE("json() and text() set their content types") {
    TestServer server([](Context& ctx) {
        if (ctx.path() == "/json") {
            ctx.json(201, R"({"a":1})");
        } else {
            ctx.set_header("Content-Type", "application/octet-stream");
            ctx.text(202, "plain");
        }
    });
    RawClient client(server.port());
    REQUIRE(client.send(get("/json")));
    auto r = client.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 201);
    CHECK(r->reason == "Created");
    CHECK(header_count(*r, "content-type") == 1);
    CHECK(r->header("content-type") == "application/json");
    CHECK(r->body == R"({"a":1})");

    REQUIRE(client.send(get("/text")));
    r = client.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 202);
    CHECK(header_count(*r, "content-type") == 1);  // text() replaced the earlier one
    CHECK(r->header("content-type") == "text/plain; charset=utf-8");
    CHECK(r->body == "plain");
}

TEST_CASE("a second send is ignored; responded() turns true with the first") {
    Seen seen;
    TestServer server([&seen](Context& ctx) {
        const bool before = ctx.responded();
        const int status_before = ctx.response_status();
        ctx.status(201).send("first");
        ctx.send(202, "second");
        ctx.text(203, "third");
        std::lock_guard lock(seen.m);
        seen.responded_before = before;
        seen.responded_after = ctx.responded();
        seen.status_before = status_before;
    });
    RawClient client(server.port());
    REQUIRE(client.send(get("/")));
    const auto r = client.read_response();
    REQUIRE(r.has_value());
    // Later send(code, ...)/text(code, ...) calls are ignored: neither their status nor their
    // Content-Type may leak into the response already sent.
    CHECK(r->status == 201);
    CHECK(r->body == "first");
    CHECK(header_count(*r, "content-type") == 0);
    std::lock_guard lock(seen.m);
    CHECK_FALSE(seen.responded_before);
    CHECK(seen.responded_after);
    CHECK(seen.status_before == 200);
}

TEST_CASE("a handler that returns without sending answers what it built") {
    TestServer server([](Context& ctx) {
        ctx.status(202);
        ctx.set_header("X-Built", "yes");
    });
    const auto r = vstream::test::roundtrip(server.port(), get("/"));
    REQUIRE(r.has_value());
    CHECK(r->status == 202);
    CHECK(r->header("x-built") == "yes");
    CHECK(r->header("content-length") == "0");
}

TEST_CASE("a HEAD response carries Content-Length but no body") {
    TestServer server([](Context& ctx) { ctx.text(200, "twelve bytes"); });
    RawClient client(server.port());
    REQUIRE(client.send("HEAD / HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto r = client.read_response(true);
    REQUIRE(r.has_value());
    CHECK(r->header("content-length") == "12");
    REQUIRE(client.send(get("/")));
    const auto r2 = client.read_response();
    REQUIRE(r2.has_value());
    CHECK(r2->status == 200);  // nothing of a body was left on the wire before it
    CHECK(r2->body == "twelve bytes");
}

TEST_CASE("a deferred context answered from another thread reaches the client") {
    std::mutex m;
    std::vector<std::thread> threads;
    struct JoinAll {
        std::mutex& m;
        std::vector<std::thread>& threads;
        ~JoinAll() {
            std::lock_guard lock(m);
            for (auto& t : threads) t.join();
        }
    } join_all{m, threads};
    TestServer server([&](Context& ctx) {
        ContextRef ref = ctx.defer();
        std::lock_guard lock(m);
        threads.emplace_back([ref = std::move(ref)]() mutable {
            CHECK_FALSE(ref.cancelled());
            ContextRef copy = ref;  // copies count as holders too
            ref.reset();
            CHECK_FALSE(static_cast<bool>(ref));
            copy->set_header("X-From", "thread");
            copy->json(200, R"({"late":true})");
        });
    });
    RawClient client(server.port());
    REQUIRE(client.send(get("/")));
    const auto r = client.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->header("x-from") == "thread");
    CHECK(r->body == R"({"late":true})");
}

TEST_CASE("dropping every ContextRef without an answer sends a 500") {
    TestServer server([](Context& ctx) {
        ContextRef a = ctx.defer();
        ContextRef b = a;
        ContextRef c = std::move(b);
        a = ContextRef();
        // c goes out of scope here: the last holder.
    });
    const auto r = vstream::test::roundtrip(server.port(), get("/"));
    REQUIRE(r.has_value());
    CHECK(r->status == 500);
}

TEST_CASE("a deferred context whose client resets the connection is cancelled and runs on_cancel") {
    std::mutex m;
    ContextRef kept;
    std::atomic<int> cancel_calls{0};
    TestServer server([&](Context& ctx) {
        ContextRef ref = ctx.defer();
        ref.on_cancel([&cancel_calls] { ++cancel_calls; });
        std::lock_guard lock(m);
        kept = std::move(ref);
    });
    {
        RawClient client(server.port());
        REQUIRE(client.send(get("/")));
        REQUIRE(wait_until([&] {
            std::lock_guard lock(m);
            return static_cast<bool>(kept);
        }));
        // Abortive close (RST): unambiguously gone, unlike a FIN that may be a half-close.
        const linger abort_on_close{1, 0};
        ::setsockopt(client.fd(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
    }
    CHECK(wait_until([&] { return cancel_calls.load() == 1; }));
    std::lock_guard lock(m);
    CHECK(kept.cancelled());
    int late_calls = 0;
    kept.on_cancel([&late_calls] { ++late_calls; });  // already cancelled: runs at once
    CHECK(late_calls == 1);
    kept->text(200, "nobody listens");  // dropped, not written anywhere
    kept.reset();
    CHECK(cancel_calls.load() == 1);
}

TEST_CASE("an empty ContextRef is false and safe to query") {
    ContextRef empty;
    CHECK_FALSE(static_cast<bool>(empty));
    CHECK_FALSE(empty.cancelled());
    empty.on_cancel([] {});
    empty.reset();
    ContextRef moved = std::move(empty);
    CHECK_FALSE(static_cast<bool>(moved));
}

}  // TEST_SUITE("request/context")
