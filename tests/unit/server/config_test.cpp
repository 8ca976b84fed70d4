// Tests ServerConfig (src/server/config.cpp): documented defaults, validation, effective_threads.
#include <vstream/config.hpp>
#include <vstream/error.hpp>

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

using vstream::errc;
using vstream::Error;
using vstream::ServerConfig;
using namespace std::chrono_literals;

TEST_SUITE("server/config") {

TEST_CASE("the defaults are the documented ones") {
    const ServerConfig c;
    CHECK(c.addresses == std::vector<std::string>{"127.0.0.1"});
    CHECK(c.port == 8080);
    CHECK(c.threads == 0);
    CHECK(c.backlog == 511);
    CHECK(c.server_name == "vstream");

    CHECK(c.limits.max_request_line == 8 * 1024);
    CHECK(c.limits.max_header_bytes == 32 * 1024);
    CHECK(c.limits.max_header_count == 100);
    CHECK(c.limits.max_body_bytes == 8 * 1024 * 1024);
    CHECK(c.limits.max_connections == 10000);
    CHECK(c.limits.write_high_water == 1024 * 1024);
    CHECK(c.limits.write_low_water == 256 * 1024);

    CHECK(c.timeouts.header == 10s);
    CHECK(c.timeouts.keep_alive == 75s);
    CHECK(c.timeouts.body_read == 30s);
    CHECK(c.timeouts.write == 60s);
    CHECK(c.timeouts.linger == 2s);
    CHECK(c.timeouts.shutdown_grace == 10s);
    CHECK(c.timeouts.accept_backoff == 500ms);
    CHECK(c.raise_fd_limit);
}

TEST_CASE("the defaults are valid") {
    const ServerConfig c;
    CHECK_NOTHROW(c.validate());
}

TEST_CASE("boundary values that are allowed validate") {
    ServerConfig c;
    c.addresses = {"::1", "127.0.0.1"};
    c.port = 0;
    c.threads = 1024;
    c.backlog = 1;
    c.server_name = "";
    c.limits.max_request_line = 16;
    c.limits.max_header_bytes = 64;
    c.limits.max_header_count = 1;
    c.limits.max_body_bytes = 0;
    c.limits.max_connections = 1;
    c.limits.write_high_water = 1;
    c.limits.write_low_water = 1;
    c.timeouts.header = 1ms;
    c.timeouts.keep_alive = 1ms;
    c.timeouts.body_read = 1ms;
    c.timeouts.write = 1ms;
    c.timeouts.linger = 1ms;
    c.timeouts.shutdown_grace = 1ms;
    c.timeouts.accept_backoff = 1ms;
    CHECK_NOTHROW(c.validate());
    c.limits.max_request_line = std::size_t{1} << 30;
    c.limits.max_header_bytes = std::size_t{1} << 30;
    c.limits.write_low_water = 0;
    c.server_name = "my server/1.0 (~)";
    CHECK_NOTHROW(c.validate());
}

TEST_CASE("each invalid field throws invalid_argument naming the field") {
    struct Row {
        const char* field;  // what the message must name
        std::function<void(ServerConfig&)> spoil;
    };
    const Row rows[] = {
        {"addresses", [](ServerConfig& c) { c.addresses.clear(); }},
        {"addresses",
         [](ServerConfig& c) {
             c.addresses = {"127.0.0.1", ""};
         }},
        {"addresses",
         [](ServerConfig& c) {
             c.addresses = {"127.0.0.1", "localhost"};
         }},
        {"addresses", [](ServerConfig& c) { c.addresses = {"127.0.0.1:80"}; }},
        {"addresses", [](ServerConfig& c) { c.addresses = {"[::1]"}; }},
        {"addresses", [](ServerConfig& c) { c.addresses = {"256.0.0.1"}; }},
        {"addresses", [](ServerConfig& c) { c.addresses = {std::string("::1\0x", 5)}; }},
        {"listeners",
         [](ServerConfig& c) {
             c.listeners = {{"localhost", 80}};
         }},
        {"listeners",
         [](ServerConfig& c) {
             c.listeners = {{"127.0.0.1", 80}, {"", 81}};
         }},
        {"listeners",
         [](ServerConfig& c) {
             c.listeners = {{"127.0.0.1", 8080}, {"127.0.0.1", 8080}};
         }},
        {"listeners",
         [](ServerConfig& c) {
             c.listeners = {{"::1", 8080}, {"0::1", 8080}};
         }},
        {"backlog", [](ServerConfig& c) { c.backlog = 0; }},
        {"backlog", [](ServerConfig& c) { c.backlog = -5; }},
        {"threads", [](ServerConfig& c) { c.threads = 1025; }},
        {"server_name", [](ServerConfig& c) { c.server_name = "evil\r\nX-Injected: 1"; }},
        {"server_name", [](ServerConfig& c) { c.server_name = std::string("nul\0x", 5); }},
        {"server_name", [](ServerConfig& c) { c.server_name = "tab\there"; }},
        {"server_name", [](ServerConfig& c) { c.server_name = "del\x7f"; }},
        {"limits.max_request_line", [](ServerConfig& c) { c.limits.max_request_line = 15; }},
        {"limits.max_request_line",
         [](ServerConfig& c) { c.limits.max_request_line = (std::size_t{1} << 30) + 1; }},
        {"limits.max_header_bytes", [](ServerConfig& c) { c.limits.max_header_bytes = 63; }},
        {"limits.max_header_bytes",
         [](ServerConfig& c) { c.limits.max_header_bytes = (std::size_t{1} << 30) + 1; }},
        {"limits.max_header_count", [](ServerConfig& c) { c.limits.max_header_count = 0; }},
        {"limits.max_connections", [](ServerConfig& c) { c.limits.max_connections = 0; }},
        {"limits.write_low_water",
         [](ServerConfig& c) {
             c.limits.write_high_water = 100;
             c.limits.write_low_water = 101;
         }},
        {"limits.write_high_water",
         [](ServerConfig& c) {
             c.limits.write_high_water = 0;
             c.limits.write_low_water = 0;
         }},
        {"timeouts.header", [](ServerConfig& c) { c.timeouts.header = 0ms; }},
        {"timeouts.header", [](ServerConfig& c) { c.timeouts.header = -1ms; }},
        {"timeouts.keep_alive", [](ServerConfig& c) { c.timeouts.keep_alive = 0ms; }},
        {"timeouts.body_read", [](ServerConfig& c) { c.timeouts.body_read = 0ms; }},
        {"timeouts.write", [](ServerConfig& c) { c.timeouts.write = 0ms; }},
        {"timeouts.linger", [](ServerConfig& c) { c.timeouts.linger = 0ms; }},
        {"timeouts.shutdown_grace", [](ServerConfig& c) { c.timeouts.shutdown_grace = -10s; }},
        {"timeouts.accept_backoff", [](ServerConfig& c) { c.timeouts.accept_backoff = 0ms; }},
    };
    int row_index = 0;
    for (const Row& r : rows) {
        CAPTURE(row_index);
        CAPTURE(r.field);
        ++row_index;
        ServerConfig c;
        r.spoil(c);
        bool threw = false;
        try {
            c.validate();
        } catch (const Error& e) {
            threw = true;
            CHECK(e.errc_code() == errc::invalid_argument);
            const std::string what = e.what();
            CAPTURE(what);
            CHECK(what.find(std::string("ServerConfig.") + r.field + " ") != std::string::npos);
        }
        CHECK(threw);
    }
}

TEST_CASE("effective_threads is the configured count, or one per core for 0") {
    ServerConfig c;
    c.threads = 3;
    CHECK(c.effective_threads() == 3);
    c.threads = 1;
    CHECK(c.effective_threads() == 1);
    c.threads = 0;
    const unsigned hw = std::thread::hardware_concurrency();
    CHECK(c.effective_threads() == (hw == 0 ? 1u : hw));
    CHECK(c.effective_threads() >= 1);
}

TEST_CASE("listeners replace addresses and port; the same address may listen on several ports") {
    ServerConfig c;
    c.addresses = {"127.0.0.1", "::1"};
    c.port = 8080;
    auto l = c.effective_listeners();
    REQUIRE(l.size() == 2);
    CHECK((l[0].address == "127.0.0.1" && l[0].port == 8080));
    CHECK((l[1].address == "::1" && l[1].port == 8080));

    c.addresses.clear();  // ignored once listeners are given
    c.listeners = {{"127.0.0.1", 8080},
                   {"127.0.0.1", 8081},
                   {"::1", 8080},
                   {"127.0.0.1", 0},
                   {"127.0.0.1", 0}};
    CHECK_NOTHROW(c.validate());
    l = c.effective_listeners();
    REQUIRE(l.size() == 5);
    CHECK((l[1].address == "127.0.0.1" && l[1].port == 8081));
}

TEST_CASE("a listener listed twice is refused with both its address and port named") {
    ServerConfig c;
    c.listeners = {{"::1", 9000}, {"127.0.0.1", 9001}, {"0:0::1", 9000}};
    try {
        c.validate();
        FAIL("validate() accepted a duplicate listener");
    } catch (const vstream::Error& e) {
        CHECK(e.code() == vstream::errc::invalid_argument);
        CHECK(std::string(e.what()).find("0:0::1 port 9000 twice") != std::string::npos);
    }
}

}  // TEST_SUITE("server/config")
