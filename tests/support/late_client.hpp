// A loopback client whose socket is made now and connected later, for tests that run the
// process out of descriptors (see fd_starvation.hpp) and then need a connection anyway.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace vstream::test {

/// A TCP socket made on construction, before descriptors run out, and connected to
/// 127.0.0.1 later with connect_to(), which needs no new descriptor. Closed on destruction.
class LateClient {
public:
    LateClient() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}
    ~LateClient() {
        if (fd_ >= 0) ::close(fd_);
    }
    LateClient(const LateClient&) = delete;
    LateClient& operator=(const LateClient&) = delete;

    /// Connects to 127.0.0.1:port (blocking). On loopback the handshake is done when connect
    /// returns, so the connection is already waiting in the listener's queue. False (errno
    /// set) if it failed.
    bool connect_to(std::uint16_t port) const {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    }

    /// Everything received until the peer closes or resets the connection; nullopt if
    /// `timeout` passes first or a read fails otherwise.
    std::optional<std::string> read_until_close(
        std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
        std::string out;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return std::nullopt;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return std::nullopt;
            char buf[1024];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n == 0) return out;
            if (n < 0) {
                if (errno == ECONNRESET) return out;
                return std::nullopt;
            }
            out.append(buf, static_cast<std::size_t>(n));
        }
    }

    int fd() const { return fd_; }

private:
    int fd_;
};

}  // namespace vstream::test
