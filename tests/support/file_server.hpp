// Fixtures for the file-serving tests: a real Server whose routes the test registers before
// it starts (serve_static needs routes, TestServer takes only a fallback handler), request
// helpers, and (from byte_exact.hpp) a byte comparison that does not print megabytes.
#pragma once

#include <vstream/vstream.hpp>

#include "byte_exact.hpp"
#include "raw_client.hpp"
#include "test_server.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace vstream::test {

/// A real vstream::Server on an ephemeral loopback port: `setup` registers its routes
/// (serve_static, get, handle, ...) before it starts; stopped and joined on destruction.
class RoutedServer {
public:
    explicit RoutedServer(const std::function<void(Server&)>& setup,
                          ServerConfig config = test_config())
        : server_(std::make_unique<Server>(std::move(config))) {
        setup(*server_);
        server_->start();
    }
    ~RoutedServer() { server_->stop(); }
    RoutedServer(const RoutedServer&) = delete;
    RoutedServer& operator=(const RoutedServer&) = delete;

    Server& server() { return *server_; }
    std::uint16_t port() const { return server_->port(); }

private:
    std::unique_ptr<Server> server_;
};

/// A request without body: "METHOD target HTTP/1.1", Host, then `headers` (zero or more
/// complete lines, each ending in CRLF).
inline std::string http_request(std::string_view method, std::string_view target,
                                std::string_view headers = {}) {
    std::string r;
    r.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: test\r\n");
    r.append(headers).append("\r\n");
    return r;
}

/// Sends one request on a fresh connection and reads its response (a HEAD's without body).
inline std::optional<Response> fetch(std::uint16_t port, std::string_view method,
                                     std::string_view target, std::string_view headers = {}) {
    RawClient c(port);
    if (!c.send(http_request(method, target, headers))) return std::nullopt;
    return c.read_response(method == "HEAD");
}

/// GET on a fresh connection.
inline std::optional<Response> get(std::uint16_t port, std::string_view target,
                                   std::string_view headers = {}) {
    return fetch(port, "GET", target, headers);
}

}  // namespace vstream::test
