// Expect: 100-continue gets 100 Continue only for a body the server will read; others get 417.
#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

using namespace vstream::test;

}  // namespace

TEST_SUITE("integration/expect_continue") {

TEST_CASE(
    "Expect: 100-continue with a body gets 100 Continue before the body is sent, "
    "then the final response") {
    TestServer server(hello_handler);
    RawClient c(server.port());
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n"
               "Expect: 100-continue\r\n\r\n"));
    // The client has sent only the head: this can only be the interim answer.
    const auto interim = c.read_response();
    REQUIRE(interim);
    CHECK(interim->status == 100);
    CHECK(interim->reason == "Continue");
    CHECK(interim->body.empty());

    REQUIRE(c.send("hello world"));
    const auto final_response = c.read_response();
    REQUIRE(final_response);
    CHECK(final_response->status == 200);
    CHECK(final_response->body == "hello world");

    // One 100 per request that asks: the next request on the connection gets its own.
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
               "Expect: 100-continue\r\n\r\n"));
    const auto interim2 = c.read_response();
    REQUIRE(interim2);
    CHECK(interim2->status == 100);
    REQUIRE(c.send("abc"));
    const auto final2 = c.read_response();
    REQUIRE(final2);
    CHECK(final2->status == 200);
    CHECK(final2->body == "abc");
}

TEST_CASE("Expect: 100-continue with a chunked body gets 100 Continue first") {
    TestServer server(hello_handler);
    RawClient c(server.port());
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
               "Expect: 100-continue\r\n\r\n"));
    const auto interim = c.read_response();
    REQUIRE(interim);
    CHECK(interim->status == 100);
    REQUIRE(c.send("4\r\nbody\r\n0\r\n\r\n"));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "body");
}

TEST_CASE("a client that sends its body without waiting gets 100 Continue, then the response") {
    TestServer server(hello_handler);
    RawClient c(server.port());
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
               "Expect: 100-continue\r\n\r\nbody"));
    const auto interim = c.read_response();
    REQUIRE(interim);
    CHECK(interim->status == 100);
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "body");
}

TEST_CASE("a too large Content-Length with Expect: 100-continue gets 413 and no 100 Continue") {
    auto config = test_config();
    config.limits.max_body_bytes = 16;
    TestServer server(hello_handler, config);
    RawClient c(server.port());
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n"
               "Expect: 100-continue\r\n\r\n"));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);  // the first thing on the wire, not a 100
    CHECK(r->header("connection") == "close");
    CHECK(c.wait_closed());
    CHECK(c.buffered().find("100 Continue") == std::string::npos);
}

TEST_CASE("a body within the limit with Expect: 100-continue still gets 100 Continue") {
    auto config = test_config();
    config.limits.max_body_bytes = 16;
    TestServer server(hello_handler, config);
    RawClient c(server.port());
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 16\r\n"
               "Expect: 100-continue\r\n\r\n"));
    const auto interim = c.read_response();
    REQUIRE(interim);
    CHECK(interim->status == 100);
    REQUIRE(c.send("0123456789abcdef"));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "0123456789abcdef");
}

TEST_CASE("an unknown expectation gets 417 Expectation Failed") {
    TestServer server(hello_handler);

    SUBCASE("with a body") {
        RawClient c(server.port());
        REQUIRE(
            c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                   "Expect: foo\r\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 417);
        CHECK(c.buffered().find("100 Continue") == std::string::npos);
    }
    SUBCASE("without a body") {
        RawClient c(server.port());
        REQUIRE(c.send("GET /ping HTTP/1.1\r\nHost: t\r\nExpect: foo\r\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 417);
    }
}

TEST_CASE("the 100-continue expectation is matched case-insensitively") {
    TestServer server(hello_handler);
    RawClient c(server.port());
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
               "Expect: 100-Continue\r\n\r\n"));
    const auto interim = c.read_response();
    REQUIRE(interim);
    CHECK(interim->status == 100);
    REQUIRE(c.send("ok"));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "ok");
}

TEST_CASE("an HTTP/1.0 request with Expect: 100-continue gets no 100 Continue") {
    TestServer server(hello_handler);
    RawClient c(server.port());
    // Head and body together: had the server sent a 100, it would precede the 200.
    REQUIRE(
        c.send("POST /echo HTTP/1.0\r\nContent-Length: 5\r\n"
               "Expect: 100-continue\r\n\r\nhello"));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "hello");
    CHECK(c.wait_closed());
}

TEST_CASE("Expect: 100-continue on a request without a body gets no 100 Continue") {
    TestServer server(hello_handler);
    RawClient c(server.port());
    REQUIRE(c.send("GET /ping HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n\r\n"));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == R"({"message":"pong"})");
    REQUIRE(
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
               "Expect: 100-continue\r\n\r\n"));
    const auto r0 = c.read_response();
    REQUIRE(r0);
    CHECK(r0->status == 200);
    CHECK(r0->body.empty());
}

}  // TEST_SUITE("integration/expect_continue")
