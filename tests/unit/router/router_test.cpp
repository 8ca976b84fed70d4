// The router over a real server: matching, parameters and their decoding, 404/405/HEAD/
// OPTIONS, trailing-slash redirects, groups and middleware order, asynchronous next().
#include <vstream/vstream.hpp>

#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using vstream::Context;
using vstream::errc;
using vstream::Error;
using vstream::Middleware;
using vstream::Next;
using vstream::Server;
using vstream::test::RawClient;
using vstream::test::roundtrip;
using vstream::test::test_config;

namespace {

std::string get(std::uint16_t port, const std::string& target, const std::string& method = "GET") {
    auto r = roundtrip(port,
                       method + " " + target + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    return r ? std::to_string(r->status) + " " + r->body : "no response";
}

struct Started {
    Server& s;
    explicit Started(Server& server) : s(server) { s.start(); }
    ~Started() { s.stop(); }
};

void echo_route(Context& ctx) {
    std::string out(ctx.route());
    for (const auto& p : ctx.params()) {
        out += " " + std::string(p.name) + "=" + std::string(p.value);
    }
    ctx.text(200, out);
}

}  // namespace

TEST_SUITE("router/router") {

TEST_CASE("every GitHub API route answers through a real server with its parameters") {
    Server server(test_config());
    std::ifstream in(VSTREAM_TEST_DATA "/github-api-routes.txt");
    std::vector<std::pair<std::string, std::string>> routes;
    std::string method, pattern;
    while (in >> method >> pattern) {
        routes.emplace_back(method, pattern);
        server.handle(method, pattern, echo_route);
    }
    REQUIRE(routes.size() == 203);
    Started run(server);
    RawClient c(server.port());
    for (const auto& route : routes) {
        const std::string& m = route.first;
        const std::string& p = route.second;
        std::string path;
        std::string expected = p;
        for (std::size_t i = 0; i < p.size();) {
            if (p[i] == ':') {
                const std::size_t end = std::min(p.find('/', i), p.size());
                const std::string name = p.substr(i + 1, end - i - 1);
                path += "x" + name;
                expected += " " + name + "=x" + name;
                i = end;
            } else {
                path += p[i++];
            }
        }
        CAPTURE(p);
        REQUIRE(c.send(m + " " + path + " HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == expected);
    }
}

TEST_CASE("parameters are percent-decoded after splitting, so %2F stays inside one") {
    Server server(test_config());
    server.get("/files/:name", echo_route);
    server.get("/static/*path", echo_route);
    Started run(server);
    CHECK(get(server.port(), "/files/a%2Fb") == "200 /files/:name name=a/b");
    CHECK(get(server.port(), "/files/caf%C3%A9%20x") == "200 /files/:name name=caf\xc3\xa9 x");
    CHECK(get(server.port(), "/files/100%25") == "200 /files/:name name=100%");
    CHECK(get(server.port(), "/static/css/site.css") == "200 /static/*path path=css/site.css");
    CHECK(get(server.port(), "/static/a/../b") == "200 /static/*path path=b");
    CHECK(get(server.port(), "/files/%zz").rfind("400 ", 0) == 0);
    CHECK(get(server.port(), "/files/a%00").rfind("400 ", 0) == 0);
}

TEST_CASE("dot segments are removed before matching") {
    Server server(test_config());
    server.get("/a/b", echo_route);
    Started run(server);
    CHECK(get(server.port(), "/a/./b") == "200 /a/b");
    CHECK(get(server.port(), "/x/../a/b") == "200 /a/b");
    CHECK(get(server.port(), "/%61/%2e/b") == "200 /a/b");
    CHECK(get(server.port(), "http://t/a/b") == "200 /a/b");  // absolute-form
}

TEST_CASE("404, 405 with Allow, automatic HEAD and OPTIONS") {
    Server server(test_config());
    server.get("/v", [](Context& c) { c.text(200, "get"); });
    server.post("/v", [](Context& c) { c.text(201, "post"); });
    Started run(server);
    const std::uint16_t port = server.port();
    CHECK(get(port, "/nothing").rfind("404 ", 0) == 0);

    auto r = roundtrip(port, "DELETE /v HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 405);
    CHECK(r->header("allow") == "GET, POST, HEAD, OPTIONS");

    RawClient head(port);
    REQUIRE(head.send("HEAD /v HTTP/1.1\r\nHost: t\r\n\r\n"));
    r = head.read_response(true);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("content-length") == "3");

    r = roundtrip(port, "OPTIONS /v HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 204);
    CHECK(r->header("allow") == "GET, POST, HEAD, OPTIONS");

    r = roundtrip(port, "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 204);
}

TEST_CASE("a trailing-slash mismatch redirects: 301 for GET, 308 otherwise") {
    Server server(test_config());
    server.get("/dir/", echo_route);
    server.post("/form", echo_route);
    Started run(server);
    auto r = roundtrip(server.port(), "GET /dir?x=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 301);
    CHECK(r->header("location") == "/dir/?x=1");
    r = roundtrip(server.port(), "POST /form/ HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 308);
    CHECK(r->header("location") == "/form");
}

TEST_CASE("the redirect can be turned off") {
    vstream::ServerConfig cfg = test_config();
    cfg.router.redirect_trailing_slash = false;
    Server server(cfg);
    server.get("/dir/", echo_route);
    Started run(server);
    CHECK(get(server.port(), "/dir").rfind("404 ", 0) == 0);
}

TEST_CASE("the fallback handler answers what no route matches") {
    Server server(test_config());
    server.get("/a", echo_route);
    server.handle([](Context& c) { c.text(418, "fallback"); });
    Started run(server);
    CHECK(get(server.port(), "/b") == "418 fallback");
}

TEST_CASE("conflicts and bad patterns are reported at registration") {
    Server server(test_config());
    server.get("/videos/:id", echo_route);
    CHECK_THROWS_AS(server.get("/videos/:vid/x", echo_route), Error);
    try {
        server.get("/videos/:id", echo_route);
        FAIL("expected a conflict");
    } catch (const Error& e) {
        CHECK(e.errc_code() == errc::route_conflict);
        CHECK(std::string(e.what()).find("GET") != std::string::npos);
    }
    try {
        server.get("/videos/:vid/x", echo_route);
        FAIL("expected a conflict");
    } catch (const Error& e) {
        // Both routes are named, and the code's text appears once.
        const std::string what = e.what();
        CHECK(what.find("'/videos/:vid/x'") != std::string::npos);
        CHECK(what.find("'/videos/:id'") != std::string::npos);
        CHECK(what.find("route conflict") == what.rfind("route conflict"));
    }
    CHECK_THROWS_AS(server.get("no-slash", echo_route), Error);
    CHECK_THROWS_AS(server.handle("get", "/x", echo_route), Error);
    server.start();
    CHECK_THROWS_AS(server.get("/late", echo_route), Error);
    server.stop();
}

TEST_CASE("global, group and route middleware run in registration order, around the handler") {
    Server server(test_config());
    std::mutex m;
    std::vector<std::string> trace;
    auto mark = [&](std::string name) -> Middleware {
        return [&, name](Context&, Next next) {
            {
                std::lock_guard l(m);
                trace.push_back(name + "<");
            }
            next();
            std::lock_guard l(m);
            trace.push_back(">" + name);
        };
    };
    server.use(mark("g1"));
    auto& api = server.group("/api");
    api.use(mark("a1"));
    auto& v1 = api.group("/v1");
    v1.get("/x",
           [&](Context& c) {
               {
                   std::lock_guard l(m);
                   trace.push_back("handler");
               }
               c.text(200, std::string(c.route()));
           },
           {mark("r1"), mark("r2")});
    v1.use(mark("v1"));  // registered after the route: still applies
    server.use(mark("g2"));
    CHECK(v1.prefix() == "/api/v1");
    Started run(server);
    CHECK(get(server.port(), "/api/v1/x") == "200 /api/v1/x");
    const std::vector<std::string> expected = {"g1<", "g2<", "a1<", "v1<", "r1<", "r2<", "handler",
                                               ">r2", ">r1", ">v1", ">a1", ">g2", ">g1"};
    CHECK(trace == expected);

    // Global middleware also runs for a request no route matches; group middleware does not.
    trace.clear();
    CHECK(get(server.port(), "/nope").rfind("404 ", 0) == 0);
    CHECK(trace == std::vector<std::string>{"g1<", "g2<", ">g2", ">g1"});
}

TEST_CASE("a middleware that answers and does not call next short-circuits the chain") {
    Server server(test_config());
    std::atomic<bool> reached{false};
    server.use([](Context& c, Next next) {
        if (c.header("authorization") != "Bearer ok") {
            c.json(401, R"({"error":"unauthorized"})");
            return;
        }
        next();
    });
    server.get("/secret", [&](Context& c) {
        reached = true;
        c.text(200, "in");
    });
    Started run(server);
    CHECK(get(server.port(), "/secret") == "401 {\"error\":\"unauthorized\"}");
    CHECK_FALSE(reached);
    auto r = roundtrip(server.port(),
                       "GET /secret HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer ok\r\n\r\n");
    REQUIRE(r);
    CHECK(r->body == "in");
}

TEST_CASE("a middleware can call next later from another thread; the handler runs on the loop") {
    Server server(test_config());
    std::thread::id loop_thread;
    std::thread::id handler_thread;
    std::vector<std::thread> workers;
    std::mutex m;
    server.use([&](Context& c, Next next) {
        loop_thread = std::this_thread::get_id();
        vstream::ContextRef ref = c.defer();
        std::lock_guard l(m);
        workers.emplace_back([ref, next] { next(); });
    });
    server.get("/async", [&](Context& c) {
        handler_thread = std::this_thread::get_id();
        c.text(200, "later");
    });
    Started run(server);
    CHECK(get(server.port(), "/async") == "200 later");
    {
        std::lock_guard l(m);
        for (auto& t : workers) t.join();
    }
    CHECK(handler_thread == loop_thread);
}

TEST_CASE("query parameters: repeated keys, '+', escapes") {
    Server server(test_config());
    server.get("/q", [](Context& c) {
        std::string out = std::string(c.query("a").value_or("-"));
        for (auto v : c.query_all("b")) out += "|" + std::string(v);
        out += c.query("missing") ? "!" : "";
        c.text(200, out);
    });
    Started run(server);
    CHECK(get(server.port(), "/q?a=x+y%21&b=1&b=%2F&b=") == "200 x y!|1|/|");
}

}  // TEST_SUITE("router/router")
