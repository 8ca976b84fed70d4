// Tests ListenSocket (src/net/listener.cpp): binding, SO_REUSEPORT sharing, claim_port, errors.
#include "net/listener.hpp"

#include <vstream/error.hpp>

#include "expect_error.hpp"
#include "ipv6_loopback.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <utility>

using vstream::errc;
using vstream::Error;
using vstream::net::ListenSocket;
using vstream::test::expect_error;
using vstream::test::ipv6_loopback_available;

namespace {

// The port an fd is bound to, or 0.
std::uint16_t bound_port(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
    return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                         : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

bool is_listening(int fd) {
    int v = 0;
    socklen_t len = sizeof v;
    return ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v != 0;
}

}  // namespace

TEST_SUITE("net/listener") {

TEST_CASE("port 0 binds an ephemeral port and listens") {
    ListenSocket s("127.0.0.1", 0, 16);
    CHECK(s.port() != 0);
    const int fd = s.release();
    REQUIRE(fd >= 0);
    CHECK(bound_port(fd) == s.port());
    CHECK(is_listening(fd));
    ::close(fd);
}

TEST_CASE("the listening socket is non-blocking and close-on-exec") {
    ListenSocket s("127.0.0.1", 0, 16);
    const int fd = s.release();
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    ::close(fd);
}

TEST_CASE("two listen sockets share one port through SO_REUSEPORT") {
    ListenSocket a("127.0.0.1", 0, 16);
    ListenSocket b("127.0.0.1", a.port(), 16);
    CHECK(b.port() == a.port());
}

TEST_CASE("claim_port on a port held by a listen socket reports address_in_use") {
    ListenSocket a("127.0.0.1", 0, 16);
    const std::string what = expect_error(errc::address_in_use,
                                          [&] { ListenSocket::claim_port("127.0.0.1", a.port()); });
    CHECK(what.find("127.0.0.1") != std::string::npos);
    CHECK(what.find(std::to_string(a.port())) != std::string::npos);
}

TEST_CASE("claim_port with port 0 returns a free port, which a listen socket can then take") {
    const std::uint16_t port = ListenSocket::claim_port("127.0.0.1", 0);
    REQUIRE(port != 0);
    // The claim socket is closed: the port is free again (racy only against other processes).
    ListenSocket s("127.0.0.1", port, 16);
    CHECK(s.port() == port);
}

TEST_CASE("claim_port of a specific free port returns that port") {
    std::uint16_t port = 0;
    {
        ListenSocket probe("127.0.0.1", 0, 1);
        port = probe.port();
    }
    CHECK(ListenSocket::claim_port("127.0.0.1", port) == port);
}

TEST_CASE("an address that is not numeric is invalid_argument, naming it") {
    const char* bad[] = {"localhost", "", "127.0.0.1.1", "256.0.0.1", "::g", "[::1]", "1.2.3"};
    for (const char* address : bad) {
        CAPTURE(address);
        const std::string what =
            expect_error(errc::invalid_argument, [&] { ListenSocket(address, 0, 16); });
        CHECK(what.find(std::string("'") + address + "'") != std::string::npos);
        const std::string what2 =
            expect_error(errc::invalid_argument, [&] { ListenSocket::claim_port(address, 0); });
        CHECK(what2.find(std::string("'") + address + "'") != std::string::npos);
    }
}

TEST_CASE("an address that is not local is address_not_available") {
    // TEST-NET-1 (RFC 5737): never assigned to a local interface.
    const std::string what =
        expect_error(errc::address_not_available, [] { ListenSocket("192.0.2.1", 0, 16); });
    CHECK(what.find("192.0.2.1") != std::string::npos);
}

TEST_CASE("IPv6 loopback binds and listens") {
    if (!ipv6_loopback_available()) {
        MESSAGE("IPv6 loopback unavailable: skipped");
        return;
    }
    ListenSocket s("::1", 0, 16);
    CHECK(s.port() != 0);
    ListenSocket t("::1", s.port(), 16);
    CHECK(t.port() == s.port());
    CHECK_THROWS_AS(ListenSocket::claim_port("::1", s.port()), Error);
    const int fd = s.release();
    CHECK(bound_port(fd) == t.port());
    CHECK(is_listening(fd));
    ::close(fd);
}

TEST_CASE("IPv6 listeners are v6-only, so IPv4 and IPv6 wildcards share a port") {
    if (!ipv6_loopback_available()) {
        MESSAGE("IPv6 unavailable: skipped");
        return;
    }
    ListenSocket v4("0.0.0.0", 0, 16);
    // Without IPV6_V6ONLY the claim on "::" would collide with the IPv4 wildcard.
    CHECK(ListenSocket::claim_port("::", v4.port()) == v4.port());
    ListenSocket v6("::", v4.port(), 16);
    CHECK(v6.port() == v4.port());
}

TEST_CASE("release hands over the descriptor and the destructor then leaves it open") {
    int fd = -1;
    std::uint16_t port = 0;
    {
        ListenSocket s("127.0.0.1", 0, 16);
        port = s.port();
        fd = s.release();
        CHECK(s.release() == -1);
    }
    REQUIRE(fd >= 0);
    CHECK(::fcntl(fd, F_GETFD) != -1);  // still open
    CHECK(bound_port(fd) == port);
    CHECK(::close(fd) == 0);
}

TEST_CASE("the destructor closes the socket, freeing the port") {
    std::uint16_t port = 0;
    {
        ListenSocket s("127.0.0.1", 0, 16);
        port = s.port();
        CHECK_THROWS_AS(ListenSocket::claim_port("127.0.0.1", port), Error);
    }
    CHECK(ListenSocket::claim_port("127.0.0.1", port) == port);
}

TEST_CASE("a moved listen socket owns the descriptor; the moved-from one releases -1") {
    ListenSocket a("127.0.0.1", 0, 16);
    const std::uint16_t port = a.port();
    ListenSocket b(std::move(a));
    CHECK(b.port() == port);
    CHECK(a.release() == -1);  // NOLINT(bugprone-use-after-move)
    const int fd = b.release();
    CHECK(bound_port(fd) == port);
    ::close(fd);
}

}  // TEST_SUITE("net/listener")
