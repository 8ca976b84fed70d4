#include "net/listener.hpp"

#include <vstream/error.hpp>

#include "net/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

namespace vstream::net {

namespace {

errc errno_to_errc(int e) noexcept {
    switch (e) {
        case EADDRINUSE: return errc::address_in_use;
        case EADDRNOTAVAIL: return errc::address_not_available;
        case EACCES:
        case EPERM: return errc::permission_denied;
        case ENOMEM:
        case ENOBUFS: return errc::no_memory;
        case EINVAL:
        case EAFNOSUPPORT: return errc::invalid_argument;
        default: return errc::io_error;
    }
}

[[noreturn]] void fail(int fd, const std::string& what, const std::string& address,
                       std::uint16_t port) {
    const int e = errno;
    if (fd >= 0) ::close(fd);
    throw Error(errno_to_errc(e),
                what + " " + address + " port " + std::to_string(port) + ": " + std::strerror(e));
}

}  // namespace

namespace {

// Creates a socket bound to address:port (SO_REUSEPORT when asked); returns the fd and sets
// `bound_port`.
int bind_socket(const std::string& address, std::uint16_t port, bool reuse_port,
                std::uint16_t& bound_port) {
    const std::optional<IpAddress> ip = parse_ip(address);
    if (!ip) {
        throw Error(errc::invalid_argument,
                    "listen address '" + address + "' is not a numeric IPv4 or IPv6 address");
    }
    sockaddr_storage ss{};
    const socklen_t len = to_sockaddr(*ip, port, ss);

    const int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) fail(-1, "socket for", address, port);
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        fail(fd, "setsockopt on", address, port);
    }
    if (reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        fail(fd, "setsockopt SO_REUSEPORT on", address, port);
    }
    // v6-only, so "::" and "0.0.0.0" can be listed side by side.
    if (ss.ss_family == AF_INET6 &&
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
        fail(fd, "setsockopt IPV6_V6ONLY on", address, port);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) fail(fd, "bind", address, port);

    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen) != 0) {
        fail(fd, "getsockname on", address, port);
    }
    bound_port =
        ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    return fd;
}

}  // namespace

std::uint16_t ListenSocket::claim_port(const std::string& address, std::uint16_t port) {
    std::uint16_t bound = 0;
    const int fd = bind_socket(address, port, false, bound);
    ::close(fd);
    return bound;
}

ListenSocket::ListenSocket(const std::string& address, std::uint16_t port, int backlog) {
    const int fd = bind_socket(address, port, true, port_);
    if (::listen(fd, backlog) != 0) fail(fd, "listen on", address, port);
    fd_ = fd;
}

ListenSocket::~ListenSocket() {
    if (fd_ >= 0) ::close(fd_);
}

ListenSocket::ListenSocket(ListenSocket&& other) noexcept : fd_(other.fd_), port_(other.port_) {
    other.fd_ = -1;
}

int ListenSocket::release() noexcept {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

}  // namespace vstream::net
