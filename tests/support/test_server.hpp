// A real vstream::Server on an ephemeral loopback port, inside the test process.
#pragma once

#include <vstream/vstream.hpp>

#include "over_tls.hpp"
#include "test_certs.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace vstream::test {

/// Makes `c` listen on each of `addresses` at `port`, the way the suite runs: over plain TCP
/// through ServerConfig::addresses and port, so that port 0 picks one ephemeral port shared by
/// every address; over TLS (over_tls()) through one TLS Listener per address, serving the
/// localhost test certificate, where port 0 picks a port per address. Server::ports() tells
/// each address's port either way.
inline void listen_at(ServerConfig& c, const std::vector<std::string>& addresses,
                      std::uint16_t port) {
    c.listeners.clear();
    if (!over_tls()) {
        c.addresses = addresses;
        c.port = port;
        return;
    }
    for (const std::string& a : addresses) c.listeners.push_back(Listener{a, port, true});
    c.tls.certificates = {test_certs().localhost};
}

/// A config for tests: loopback, port 0, one loop thread unless told otherwise; over TLS when
/// the suite runs over TLS (see listen_at).
inline ServerConfig test_config(unsigned threads = 1) {
    ServerConfig c;
    listen_at(c, {"127.0.0.1"}, 0);
    c.threads = threads;
    return c;
}

/// Starts a server with `handler` on construction; stops and joins it on destruction.
class TestServer {
public:
    explicit TestServer(Handler handler, ServerConfig config = test_config())
        : server_(std::make_unique<Server>(std::move(config))) {
        server_->handle(std::move(handler));
        server_->start();
    }
    ~TestServer() { server_->stop(); }

    Server& server() { return *server_; }
    std::uint16_t port() const { return server_->port(); }

private:
    std::unique_ptr<Server> server_;
};

/// Polls `pred` until it holds or `timeout` passes; returns its last value. For waiting on
/// events across threads without sleeping a fixed time.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
        if (std::chrono::steady_clock::now() >= deadline) return pred();
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
}

/// The handler of the hello server: GET /ping answers {"message":"pong"}; /echo echoes
/// the body; anything else 404.
inline void hello_handler(Context& ctx) {
    if (ctx.path() == "/ping") {
        ctx.json(200, R"({"message":"pong"})");
    } else if (ctx.path() == "/echo") {
        ctx.text(200, Body::copy(ctx.body()));
    } else {
        ctx.text(404, "404 Not Found\n");
    }
}

}  // namespace vstream::test
