#pragma once

#include <cstdint>
#include <string>

namespace vstream::net {

/// A bound, listening TCP socket with SO_REUSEPORT, so each loop thread can own one on the
/// same address and let the kernel spread connections (libuv 1.44 has no flag for it, so the
/// socket is made here and handed to uv_tcp_open).
class ListenSocket {
public:
    /// Creates, binds and listens. `address` is numeric IPv4 or IPv6; port 0 picks one.
    /// Throws Error (address_in_use, permission_denied, address_not_available,
    /// invalid_argument, io_error) with a message naming the address.
    ListenSocket(const std::string& address, std::uint16_t port, int backlog);

    /// Checks that address:port is free by binding a socket without SO_REUSEPORT (which any
    /// existing listener, reuse-port or not, refuses), and returns the port it got (port 0
    /// picks a free one). Without this, a second server on a taken port would silently join
    /// the first one's SO_REUSEPORT group and take half its connections. Throws like the
    /// constructor.
    static std::uint16_t claim_port(const std::string& address, std::uint16_t port);
    ~ListenSocket();
    ListenSocket(ListenSocket&& other) noexcept;
    ListenSocket& operator=(ListenSocket&&) = delete;
    ListenSocket(const ListenSocket&) = delete;
    ListenSocket& operator=(const ListenSocket&) = delete;

    /// The port actually bound.
    std::uint16_t port() const noexcept { return port_; }
    /// Gives up ownership of the descriptor (to libuv).
    int release() noexcept;

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace vstream::net
