// A real vstream::Server on an ephemeral loopback port, inside the test process.
#pragma once

#include <vstream/vstream.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <thread>

namespace vstream::test {

/// A config for tests: loopback, port 0, one loop thread unless told otherwise.
inline ServerConfig test_config(unsigned threads = 1) {
    ServerConfig c;
    c.addresses = {"127.0.0.1"};
    c.port = 0;
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
