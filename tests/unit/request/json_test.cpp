// JSON request bodies: Context::json_body over simdjson, the JsonValue view, and the 400 a
// malformed body gets.
#include <vstream/vstream.hpp>

#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <string>

using vstream::Context;
using vstream::JsonValue;
using vstream::Server;
using vstream::test::roundtrip;
using vstream::test::test_config;

namespace {

std::optional<vstream::test::Response> post(std::uint16_t port, const std::string& body) {
    return roundtrip(port,
                     "POST /j HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     "Content-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body);
}

}  // namespace

TEST_SUITE("request/json") {

TEST_CASE("a JSON body is parsed and its values read without exceptions") {
    Server server(test_config());
    server.post("/j", [](Context& c) {
        auto doc = c.json_body();
        if (!doc) return;
        const JsonValue v = *doc;
        std::string out;
        out += std::string(v["name"].as_string().value_or("?"));
        out += "|" + std::to_string(v["count"].as_int().value_or(-1));
        out += "|" + std::to_string(v["ratio"].as_double().value_or(-1));
        out += "|" + std::string(v["ok"].as_bool().value_or(false) ? "true" : "false");
        out += "|" + std::to_string(v["tags"].size());
        out += "|" + std::string(v["tags"][1].as_string().value_or("?"));
        out += "|" + std::string(v["missing"] ? "present" : "absent");
        out += "|" + std::string(v["tags"][9] ? "present" : "absent");
        out += "|" + std::string(v["nothing"].is_null() ? "null" : "not-null");
        out += "|" + std::string(v.key_at(0)) + "=" +
               std::string(v.value_at(0).as_string().value_or(""));
        out += "|" + std::string(v["name"].as_int() ? "int" : "not-int");
        c.text(200, out);
    });
    server.start();
    auto r = post(
        server.port(),
        R"({"name":"clip \u00e9","count":42,"ratio":0.5,"ok":true,"tags":["a","b"],"nothing":null})");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body ==
          "clip \xc3\xa9|42|0.500000|true|2|b|absent|absent|null|name=clip \xc3\xa9|not-int");
    server.stop();
}

TEST_CASE("a malformed or empty body gets 400 with a clear JSON message") {
    Server server(test_config());
    server.post("/j", [](Context& c) {
        if (auto doc = c.json_body()) c.text(200, "parsed");
    });
    server.start();
    for (const char* bad : {"{\"a\":", "", "{'single':1}", "[1,2,,]", "nul"}) {
        CAPTURE(bad);
        auto r = post(server.port(), bad);
        REQUIRE(r);
        CHECK(r->status == 400);
        CHECK(r->header("content-type") == "application/json");
        CHECK(r->body.rfind("{\"error\":\"invalid JSON body: ", 0) == 0);
    }
    server.stop();
}

TEST_CASE("a keep-alive connection parses one body after another") {
    Server server(test_config());
    server.post("/j", [](Context& c) {
        if (auto doc = c.json_body())
            c.text(200, std::to_string((*doc)["n"].as_int().value_or(-1)));
    });
    server.start();
    vstream::test::RawClient client(server.port());
    for (int i = 0; i < 5; ++i) {
        const std::string body = "{\"n\":" + std::to_string(i) + "}";
        REQUIRE(client.send("POST /j HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                            std::to_string(body.size()) + "\r\n\r\n" + body));
        auto r = client.read_response();
        REQUIRE(r);
        CHECK(r->body == std::to_string(i));
    }
    server.stop();
}

}  // TEST_SUITE("request/json")
