// Keep-alive and close (HTTP/1.1 and 1.0), HEAD framing, Date/Server, default answers, bodies.
#include "over_tls.hpp"
#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <ctime>
#include <regex>
#include <string>

namespace {

using namespace vstream::test;
using vstream::Context;

constexpr const char* kGetPing = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";
constexpr const char* kPong = R"({"message":"pong"})";

// Whether `text` is an IMF-fixdate (RFC 9110 §5.6.7) naming a real instant whose weekday is
// right; stores that instant in `out`.
bool parse_imf_fixdate(const std::string& text, std::time_t& out) {
    static const std::regex form(R"(^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) )"
                                 R"((Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) )"
                                 R"((\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$)");
    std::smatch m;
    if (!std::regex_match(text, m, form)) return false;
    static const std::string days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const std::string months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    tm.tm_mday = std::stoi(m[2].str());
    for (int i = 0; i < 12; ++i) {
        if (months[i] == m[3].str()) tm.tm_mon = i;
    }
    tm.tm_year = std::stoi(m[4].str()) - 1900;
    tm.tm_hour = std::stoi(m[5].str());
    tm.tm_min = std::stoi(m[6].str());
    tm.tm_sec = std::stoi(m[7].str());
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
        return false;
    }
    std::tm check = tm;
    out = timegm(&check);
    if (check.tm_mday != tm.tm_mday) return false;  // e.g. 31 Feb normalised away
    return days[check.tm_wday] == m[1].str();
}

// Checks the headers every response must carry: a valid, current Date and Server: vstream.
void check_date_and_server(const Response& r) {
    CAPTURE(r.status);
    CHECK(r.headers.count("date") == 1);
    CHECK(r.header("server") == "vstream");
    std::time_t when = 0;
    const std::string date = r.header("date");
    CAPTURE(date);
    REQUIRE(parse_imf_fixdate(date, when));
    // The server's clock is ours: the date names the present, not some other day.
    const std::time_t now = std::time(nullptr);
    CHECK(when <= now + 60);
    CHECK(when >= now - 3600);
}

}  // namespace

TEST_SUITE("integration/keep_alive") {

TEST_CASE("an HTTP/1.1 connection stays open for several requests by default") {
    TestServer server(hello_handler);
    RawClient c(server.port());
    for (int i = 0; i < 5; ++i) {
        CAPTURE(i);
        REQUIRE(c.send(kGetPing));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == kPong);
        CHECK_FALSE(r->has_header("connection"));  // persistence is the 1.1 default
    }
    CHECK(server.server().stats().connections_accepted == 1);
    CHECK(server.server().stats().requests == 5);
}

TEST_CASE("a test connection speaks TLS exactly when the suite runs over TLS") {
    // The switch (over_tls.hpp) moves the servers and the clients together: were neither to
    // move, every case would pass over plain TCP twice, unnoticed but for this check.
    TestServer server(hello_handler);
    RawClient c(server.port());
    CHECK(c.handshake_error().empty());
    REQUIRE(c.send(kGetPing));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    const vstream::TlsStats tls = server.server().tls_stats();
    CHECK(tls.handshakes == (over_tls() ? 1u : 0u));
    if (over_tls()) {
        MESSAGE("TLS write path: " << (tls.ktls_connections > 0 ? "kernel TLS" : "user space"));
    }
}

TEST_CASE("an HTTP/1.0 request without Connection: keep-alive is answered, then closed") {
    TestServer server(hello_handler);
    RawClient c(server.port());
    REQUIRE(c.send("GET /ping HTTP/1.0\r\n\r\n"));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == kPong);
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
    CHECK(c.buffered().empty());
}

TEST_CASE("an HTTP/1.0 request with Connection: keep-alive keeps the connection open") {
    TestServer server(hello_handler);
    RawClient c(server.port());
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        REQUIRE(c.send("GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == kPong);
        CHECK(r->header("connection") == "keep-alive");
    }
    // Without the opt-in, the next 1.0 request is the last one.
    REQUIRE(c.send("GET /ping HTTP/1.0\r\n\r\n"));
    const auto last = c.read_response();
    REQUIRE(last);
    CHECK(last->status == 200);
    CHECK(last->header("connection") == "close");
    CHECK(c.wait_closed());
}

TEST_CASE("Connection: close from the client closes the connection after the response") {
    TestServer server(hello_handler);
    RawClient c(server.port());
    REQUIRE(c.send("GET /ping HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == kPong);
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
    CHECK(c.buffered().empty());
}

TEST_CASE("a handler that sets Connection: close closes the connection after its response") {
    TestServer server([](Context& ctx) {
        ctx.set_header("Connection", "close");
        ctx.text(200, "bye");
    });
    RawClient c(server.port());
    REQUIRE(c.send(kGetPing));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "bye");
    CHECK(r->headers.count("connection") == 1);
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
}

TEST_CASE("HEAD gets the same headers as GET, Content-Length included, and no body") {
    TestServer server([](Context& ctx) {
        if (ctx.path() == "/doc") {
            ctx.set_header("X-Doc", "1");
            ctx.text(200, "hello, world\n");
        } else {
            hello_handler(ctx);
        }
    });
    RawClient c(server.port());
    REQUIRE(c.send("GET /doc HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto get = c.read_response();
    REQUIRE(get);
    CHECK(get->status == 200);
    CHECK(get->body == "hello, world\n");

    REQUIRE(c.send("HEAD /doc HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto head = c.read_response(/*head=*/true);
    REQUIRE(head);
    CHECK(head->status == 200);
    CHECK(head->header("content-length") == "13");
    CHECK(head->header("content-length") == get->header("content-length"));
    CHECK(head->header("content-type") == get->header("content-type"));
    CHECK(head->header("x-doc") == "1");
    CHECK(head->body.empty());

    // Had the server sent the 13 body bytes, they would now precede the next status line.
    REQUIRE(c.send(kGetPing));
    const auto next = c.read_response();
    REQUIRE(next);
    CHECK(next->status == 200);
    CHECK(next->body == kPong);
    CHECK(c.buffered().empty());
}

TEST_CASE("every response carries a valid IMF-fixdate Date header and Server: vstream") {
    TestServer server(hello_handler);
    RawClient c(server.port());

    SUBCASE("a handler's 200") {
        REQUIRE(c.send(kGetPing));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        check_date_and_server(*r);
    }
    SUBCASE("a handler's 404") {
        REQUIRE(c.send("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 404);
        check_date_and_server(*r);
    }
    SUBCASE("a HEAD response") {
        REQUIRE(c.send("HEAD /ping HTTP/1.1\r\nHost: t\r\n\r\n"));
        const auto r = c.read_response(true);
        REQUIRE(r);
        CHECK(r->status == 200);
        check_date_and_server(*r);
    }
    SUBCASE("the engine's own 400 for a malformed request") {
        REQUIRE(c.send("GET /ping HTTP/1.1\r\n\r\n"));  // no Host
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 400);
        check_date_and_server(*r);
    }
}

TEST_CASE("a Server header set by the handler replaces the default one") {
    TestServer server([](Context& ctx) {
        ctx.set_header("Server", "custom/1.0");
        ctx.text(200, "ok");
    });
    const auto r = roundtrip(server.port(), kGetPing);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->headers.count("server") == 1);  // Server is a singleton field (RFC 9110 §10.2.4)
    CHECK(r->header("server") == "custom/1.0");
}

TEST_CASE("a server configured with an empty server_name sends no Server header") {
    auto config = test_config();
    config.server_name.clear();
    TestServer server(hello_handler, config);
    const auto r = roundtrip(server.port(), kGetPing);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK_FALSE(r->has_header("server"));
    CHECK(r->headers.count("date") == 1);
}

TEST_CASE("a handler that returns without responding gets 200 with an empty body") {
    TestServer server([](Context&) {});
    RawClient c(server.port());
    for (int i = 0; i < 2; ++i) {  // and the connection stays usable
        CAPTURE(i);
        REQUIRE(c.send(kGetPing));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->header("content-length") == "0");
        CHECK(r->body.empty());
    }
}

TEST_CASE("a server with no handler answers 404 to every request") {
    vstream::Server server(test_config());
    server.start();
    RawClient c(server.port());
    for (const char* req : {"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
                            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi",
                            "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n"}) {
        CAPTURE(req);
        REQUIRE(c.send(req));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 404);
    }
    server.stop();
}

TEST_CASE("a request body framed by Content-Length reaches the handler and is echoed back") {
    TestServer server(hello_handler);
    RawClient c(server.port());
    std::string body = "hello\r\n\r\nworld";
    body.push_back('\0');
    body += "\xff\x01 binary";
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == body);

    // An empty body, then the connection goes on.
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"));
    const auto empty = c.read_response();
    REQUIRE(empty);
    CHECK(empty->status == 200);
    CHECK(empty->body.empty());
    REQUIRE(c.send(kGetPing));
    const auto next = c.read_response();
    REQUIRE(next);
    CHECK(next->body == kPong);
}

TEST_CASE("a chunked request body is de-chunked before the handler sees it") {
    TestServer server(hello_handler);
    RawClient c(server.port());

    SUBCASE("plain chunks") {
        REQUIRE(
            c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "5\r\nhello\r\n"
                   "7\r\n, world\r\n"
                   "a\r\n0123456789\r\n"
                   "0\r\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "hello, world0123456789");
    }
    SUBCASE("a chunk extension and a trailer field") {
        REQUIRE(
            c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "3;name=value\r\nabc\r\n"
                   "0\r\nX-Checksum: 1\r\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "abc");
    }
    SUBCASE("chunks arriving in separate writes") {
        REQUIRE(
            c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "4\r\n"));
        REQUIRE(c.send("wiki\r\n5"));
        REQUIRE(c.send("\r\npedia\r\n0\r"));
        REQUIRE(c.send("\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "wikipedia");
    }
    // The response to a chunked request is framed with Content-Length and the connection
    // stays usable.
    REQUIRE(c.send(kGetPing));
    const auto next = c.read_response();
    REQUIRE(next);
    CHECK(next->status == 200);
    CHECK(next->body == kPong);
}

}  // TEST_SUITE("integration/keep_alive")
