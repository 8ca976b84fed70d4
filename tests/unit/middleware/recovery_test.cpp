// middleware::recovery: exceptions become a 500 JSON error that reveals nothing, are logged,
// and the server keeps serving.
#include <vstream/vstream.hpp>

#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

using vstream::Context;
using vstream::Server;
using vstream::test::RawClient;
using vstream::test::roundtrip;
using vstream::test::test_config;
namespace mw = vstream::middleware;

namespace {

struct Log {
    std::mutex m;
    std::vector<std::string> lines;
    mw::LogSink sink() {
        return [this](std::string_view l) {
            std::lock_guard g(m);
            lines.emplace_back(l);
        };
    }
};

}  // namespace

TEST_SUITE("middleware/recovery") {

TEST_CASE("an exception becomes a 500 JSON error without its text, and is logged with it") {
    Log log;
    Server server(test_config());
    server.use(mw::request_id());
    server.use(mw::recovery({log.sink()}));
    server.get("/boom", [](Context&) { throw std::runtime_error("db password is hunter2"); });
    server.get("/ok", [](Context& c) { c.text(200, "fine"); });
    server.start();
    RawClient c(server.port());
    REQUIRE(c.send("GET /boom HTTP/1.1\r\nHost: t\r\nX-Request-ID: abc-123\r\n\r\n"));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 500);
    CHECK(r->header("content-type") == "application/json");
    CHECK(r->body == R"({"error":"internal server error","request_id":"abc-123"})");
    // The same connection keeps working.
    REQUIRE(c.send("GET /ok HTTP/1.1\r\nHost: t\r\n\r\n"));
    r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "fine");
    server.stop();
    std::lock_guard g(log.m);
    REQUIRE(log.lines.size() == 1);
    CHECK(log.lines[0].find("hunter2") != std::string::npos);
    CHECK(log.lines[0].find("\"route\":\"/boom\"") != std::string::npos);
    CHECK(log.lines[0].find("\"request_id\":\"abc-123\"") != std::string::npos);
}

TEST_CASE("a non-standard exception is caught too") {
    Log log;
    Server server(test_config());
    server.use(mw::recovery({log.sink()}));
    server.get("/int", [](Context&) { throw 42; });
    server.start();
    auto r = roundtrip(server.port(), "GET /int HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 500);
    CHECK(r->body == R"({"error":"internal server error"})");
    server.stop();
}

TEST_CASE("an exception after the answer was sent keeps that answer") {
    Log log;
    Server server(test_config());
    server.use(mw::recovery({log.sink()}));
    server.get("/late", [](Context& c) {
        c.text(201, "sent");
        throw std::logic_error("after");
    });
    server.start();
    auto r = roundtrip(server.port(), "GET /late HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 201);
    CHECK(r->body == "sent");
    server.stop();
    std::lock_guard g(log.m);
    CHECK(log.lines.size() == 1);
}

TEST_CASE("middleware after recovery is covered, middleware before it is not needed to be") {
    Log log;
    Server server(test_config());
    server.use(mw::recovery({log.sink()}));
    server.use([](Context&, vstream::Next) { throw std::runtime_error("in middleware"); });
    server.get("/x", [](Context& c) { c.text(200, "unreached"); });
    server.start();
    auto r = roundtrip(server.port(), "GET /x HTTP/1.1\r\nHost: t\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 500);
    server.stop();
}

}  // TEST_SUITE("middleware/recovery")
