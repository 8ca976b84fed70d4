// middleware::cors: simple and preflight requests, allowed and refused origins, methods,
// headers, credentials.
#include <vstream/vstream.hpp>

#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <string>

using vstream::Context;
using vstream::Server;
using vstream::test::roundtrip;
using vstream::test::test_config;
namespace mw = vstream::middleware;

namespace {

std::optional<vstream::test::Response> request(std::uint16_t port, const std::string& head) {
    return roundtrip(port, head + "Host: t\r\n\r\n");
}

}  // namespace

TEST_SUITE("middleware/cors") {

TEST_CASE("any origin: a simple request gets Allow-Origin * and the exposed headers") {
    Server server(test_config());
    server.use(mw::cors());
    server.get("/v", [](Context& c) { c.text(200, "ok"); });
    server.start();
    auto r = request(server.port(), "GET /v HTTP/1.1\r\nOrigin: https://a.example\r\n");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("access-control-allow-origin") == "*");
    CHECK(r->header("access-control-expose-headers").find("Content-Range") != std::string::npos);
    // Without Origin, no CORS headers at all.
    r = request(server.port(), "GET /v HTTP/1.1\r\n");
    REQUIRE(r);
    CHECK_FALSE(r->has_header("access-control-allow-origin"));
    server.stop();
}

TEST_CASE("a preflight is answered 204 before routing, with methods, headers and max-age") {
    Server server(test_config());
    server.use(mw::cors());
    server.get("/v", [](Context& c) { c.text(200, "ok"); });
    server.start();
    auto r = request(server.port(),
                     "OPTIONS /v HTTP/1.1\r\nOrigin: https://a.example\r\n"
                     "Access-Control-Request-Method: GET\r\n"
                     "Access-Control-Request-Headers: range, content-type\r\n");
    REQUIRE(r);
    CHECK(r->status == 204);
    CHECK(r->header("access-control-allow-origin") == "*");
    CHECK(r->header("access-control-allow-methods").find("GET") != std::string::npos);
    CHECK(r->header("access-control-allow-headers").find("Range") != std::string::npos);
    CHECK(r->header("access-control-max-age") == "600");
    server.stop();
}

TEST_CASE("a listed origin is echoed with Vary, an unlisted one gets no CORS headers") {
    Server server(test_config());
    mw::CorsOptions o;
    o.allow_origins = {"https://app.example"};
    o.allow_credentials = true;
    server.use(mw::cors(o));
    server.get("/v", [](Context& c) { c.text(200, "ok"); });
    server.start();
    auto r = request(server.port(), "GET /v HTTP/1.1\r\nOrigin: https://app.example\r\n");
    REQUIRE(r);
    CHECK(r->header("access-control-allow-origin") == "https://app.example");
    CHECK(r->header("access-control-allow-credentials") == "true");
    CHECK(r->header("vary") == "Origin");
    r = request(server.port(), "GET /v HTTP/1.1\r\nOrigin: https://evil.example\r\n");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK_FALSE(r->has_header("access-control-allow-origin"));
    r = request(server.port(),
                "OPTIONS /v HTTP/1.1\r\nOrigin: https://evil.example\r\n"
                "Access-Control-Request-Method: GET\r\n");
    REQUIRE(r);
    CHECK(r->status == 403);
    server.stop();
}

TEST_CASE("credentials with any origin echo the origin instead of *") {
    Server server(test_config());
    mw::CorsOptions o;
    o.allow_credentials = true;
    server.use(mw::cors(o));
    server.get("/v", [](Context& c) { c.text(200, "ok"); });
    server.start();
    auto r = request(server.port(), "GET /v HTTP/1.1\r\nOrigin: https://x.example\r\n");
    REQUIRE(r);
    CHECK(r->header("access-control-allow-origin") == "https://x.example");
    server.stop();
}

TEST_CASE("a preflight for a method or header not allowed is refused") {
    Server server(test_config());
    mw::CorsOptions o;
    o.allow_methods = {"GET"};
    server.use(mw::cors(o));
    server.get("/v", [](Context& c) { c.text(200, "ok"); });
    server.start();
    auto r = request(
        server.port(),
        "OPTIONS /v HTTP/1.1\r\nOrigin: https://a\r\nAccess-Control-Request-Method: DELETE\r\n");
    REQUIRE(r);
    CHECK(r->status == 403);
    r = request(server.port(),
                "OPTIONS /v HTTP/1.1\r\nOrigin: https://a\r\nAccess-Control-Request-Method: GET\r\n"
                "Access-Control-Request-Headers: X-Secret\r\n");
    REQUIRE(r);
    CHECK(r->status == 403);
    server.stop();
}

TEST_CASE("invalid options are refused") {
    mw::CorsOptions o;
    o.allow_origins.clear();
    CHECK_THROWS_AS(mw::cors(o), vstream::Error);
}

}  // TEST_SUITE("middleware/cors")
