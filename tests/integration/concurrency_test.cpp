// Many simultaneous connections over several loop threads, the counters, IPv4 and IPv6 at once.
#include "ipv6_loopback.hpp"
#include "raw_client.hpp"
#include "requests.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <sys/resource.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using namespace vstream::test;
using vstream::Context;

// Raises the soft descriptor limit to the hard one; returns the soft limit now in effect.
rlim_t raise_fd_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit raised = rl;
        raised.rlim_cur = rl.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
    }
    return rl.rlim_cur;
}

// Sends `request` to [::1]:port and returns everything received until the server closes
// (the request should carry Connection: close). nullopt on failure or after 10 s.
std::optional<std::string> ipv6_exchange(std::uint16_t port, const std::string& request) {
    try {
        RawClient c("::1", port);
        if (!c.send(request)) return std::nullopt;
        std::string received = c.read_until_close();
        if (!c.wait_closed()) return std::nullopt;  // the time ran out first
        return received;
    } catch (const std::runtime_error&) {
        return std::nullopt;  // connect failed
    }
}

}  // namespace

TEST_SUITE("integration/concurrency") {

TEST_CASE("a thousand concurrent connections on two loop threads all get 200") {
    constexpr int kConnections = 1000;
    const rlim_t limit = raise_fd_limit();
    if (limit < 2100) {
        MESSAGE("skipped: RLIMIT_NOFILE is " << limit << ", below the 2100 this test needs");
        return;
    }
    TestServer server(hello_handler, test_config(2));

    // Open every connection first, so all of them are open at the same time.
    std::vector<std::unique_ptr<RawClient>> clients;
    clients.reserve(kConnections);
    for (int i = 0; i < kConnections; ++i) {
        clients.push_back(std::make_unique<RawClient>(server.port()));
    }
    CHECK(wait_until([&] { return server.server().stats().connections_open == kConnections; }));

    for (int i = 0; i < kConnections; ++i) REQUIRE(clients[i]->send(get_request("/ping")));
    int ok = 0;
    for (int i = 0; i < kConnections; ++i) {
        const auto r = clients[i]->read_response();
        if (r && r->status == 200 && r->body == R"({"message":"pong"})") {
            ++ok;
        } else {
            CAPTURE(i);
            FAIL_CHECK("connection " << i << " got no valid 200");
        }
    }
    CHECK(ok == kConnections);

    const vstream::ServerStats during = server.server().stats();
    CHECK(during.connections_accepted == kConnections);
    CHECK(during.connections_rejected == 0);
    CHECK(during.requests == kConnections);

    clients.clear();
    CHECK(wait_until([&] { return server.server().stats().connections_open == 0; }));
}

TEST_CASE(
    "the open-connection count returns to zero after clients close, "
    "and the request count matches") {
    TestServer server(hello_handler, test_config(2));
    {
        std::vector<std::unique_ptr<RawClient>> clients;
        for (int i = 0; i < 5; ++i) clients.push_back(std::make_unique<RawClient>(server.port()));
        CHECK(wait_until([&] { return server.server().stats().connections_open == 5; }));
        for (int round = 0; round < 3; ++round) {
            for (auto& c : clients) {
                REQUIRE(c->send(get_request("/ping")));
                const auto r = c->read_response();
                REQUIRE(r);
                CHECK(r->status == 200);
            }
        }
        // A request the handler answers 404 is a request too.
        REQUIRE(clients[0]->send(get_request("/missing")));
        const auto r = clients[0]->read_response();
        REQUIRE(r);
        CHECK(r->status == 404);
        const vstream::ServerStats st = server.server().stats();
        CHECK(st.requests == 16);
        CHECK(st.connections_accepted == 5);
        CHECK(st.connections_open == 5);
    }
    CHECK(wait_until([&] { return server.server().stats().connections_open == 0; }));
    const vstream::ServerStats after = server.server().stats();
    CHECK(after.requests == 16);
    CHECK(after.connections_accepted == 5);
}

TEST_CASE("a server listening on 127.0.0.1 and ::1 answers on both") {
    if (!ipv6_loopback_available()) {
        MESSAGE("skipped: ::1 is not available on this host");
        return;
    }
    auto config = test_config(2);
    listen_at(config, {"127.0.0.1", "::1"}, 0);
    TestServer server([](Context& ctx) { ctx.text(200, vstream::Body::copy(ctx.peer_address())); },
                      config);
    // One port for both over plain TCP, one each over TLS (see listen_at).
    const std::vector<std::uint16_t> ports = server.server().ports();
    REQUIRE(ports.size() == 2);

    const auto v4 = roundtrip(ports[0], get_request("/"));
    REQUIRE(v4);
    CHECK(v4->status == 200);
    CHECK(v4->body == "127.0.0.1");

    const auto v6 =
        ipv6_exchange(ports[1], "GET / HTTP/1.1\r\nHost: [::1]\r\nConnection: close\r\n\r\n");
    REQUIRE(v6);
    CAPTURE(*v6);
    CHECK(v6->rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
    CHECK(v6->size() >= 3);
    CHECK(v6->substr(v6->size() - 3) == "::1");  // the body: the peer address
}

}  // TEST_SUITE("integration/concurrency")
