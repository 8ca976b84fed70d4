// Tests TcpSocket (src/net/tcp_socket.cpp) on a real uv loop run on the test thread, with
// loopback connections: a test owner (a Transport that counts its edges) holds the socket.
#include "net/tcp_socket.hpp"

#include "raw_client.hpp"
#include "test_loop.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

using vstream::net::EdgePoller;
using vstream::net::EdgeWatcher;
using vstream::net::PeerName;
using vstream::net::TcpSocket;
using vstream::net::Transport;
using vstream::net::TransportEvents;
using vstream::test::RawClient;

namespace {

constexpr int kWaitMs = 10000;

struct Events final : TransportEvents {
    int closed = 0;
    int other = 0;  // reads, ends, writes: a socket reports none of them
    void on_transport_read(const char*, std::size_t) override { ++other; }
    void on_transport_end(int) override { ++other; }
    void on_transport_written(int) override { ++other; }
    void on_transport_closed() override { ++closed; }
};

// The socket's owner, as TcpTransport and TlsTransport are: a Transport that hears the
// socket's edges. Only what the tests use does anything.
class Owner final : public Transport, public EdgeWatcher {
public:
    Owner(uv_loop_t* loop, EdgePoller* poller, bool* destroyed = nullptr)
        : socket(loop, poller, this, this), destroyed_(destroyed) {}
    ~Owner() override {
        if (destroyed_ != nullptr) *destroyed_ = true;
    }

    void on_edge(std::uint32_t events) noexcept override {
        ++edges;
        last_events = events;
    }

    void set_events(TransportEvents* e) noexcept override { events = e; }
    int read_start() noexcept override { return 0; }
    void read_stop() noexcept override {}
    int write(const uv_buf_t*, unsigned) noexcept override { return UV_ENOSYS; }
    int try_write(const uv_buf_t*, unsigned) noexcept override { return UV_ENOSYS; }
    void shutdown() noexcept override { socket.shutdown(); }
    void close() noexcept override { socket.close(events); }
    std::size_t write_pending() const noexcept override { return 0; }
    PeerName peer() const override { return socket.peer(); }

    TcpSocket socket;
    TransportEvents* events = nullptr;
    int edges = 0;
    std::uint32_t last_events = 0;

protected:
    void close_and_free() noexcept override { socket.discard(); }

private:
    bool* destroyed_;
};

// A loop with its poller, and a listening socket on 127.0.0.1:<ephemeral>. Owns the owners,
// so a failed test still closes their handles before their memory goes.
struct Rig {
    vstream::test::TestLoop loop;  // first made, last gone
    EdgePoller poller{loop.get()};
    int listen_fd = -1;
    std::uint16_t port = 0;
    std::vector<std::unique_ptr<Events>> events;  // outlive the owners that tell them
    std::vector<std::unique_ptr<Owner>> owners;

    Rig() {
        listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(listen_fd >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(listen_fd, 8) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port = ntohs(a.sin_port);
    }
    ~Rig() {
        for (auto& o : owners) {
            if (o) o->socket.close(nullptr);  // idempotent
        }
        poller.close();
        loop.drain();
        ::close(listen_fd);
    }
    Rig(const Rig&) = delete;
    Rig& operator=(const Rig&) = delete;

    // A new owner whose events are a fresh recorder (owned here).
    Owner& owner(bool* destroyed = nullptr) {
        owners.push_back(std::make_unique<Owner>(loop.get(), &poller, destroyed));
        events.push_back(std::make_unique<Events>());
        owners.back()->set_events(events.back().get());
        return *owners.back();
    }
    Events& events_of(const Owner& o) {
        return *static_cast<Events*>(o.events);  // every owner here has an Events
    }

    // The server's end of the client's connection, non-blocking, as an Acceptor hands it.
    int accept() const {
        pollfd p{listen_fd, POLLIN, 0};
        REQUIRE(::poll(&p, 1, kWaitMs) == 1);
        const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        REQUIRE(fd >= 0);
        return fd;
    }
    // An owner on the server's end of `client`'s connection, watched for `interest`.
    Owner& open(EdgePoller::Interest interest = EdgePoller::Interest::read) {
        Owner& o = owner();
        const int fd = accept();
        REQUIRE(o.socket.open(fd, interest) == 0);
        CHECK(o.socket.fd() == fd);
        return o;
    }
    // Turns the loop a few times without waiting.
    void spin(int n = 5) {
        for (int i = 0; i < n; ++i) uv_run(loop.get(), UV_RUN_NOWAIT);
    }
};

// Receives what is there on `fd` within the wait: the bytes, or "" at the end. `err` gets
// errno of a failed recv (0 otherwise).
std::string recv_some(int fd, int& err) {
    err = 0;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kWaitMs) != 1) {
        err = ETIMEDOUT;
        return {};
    }
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
        err = errno;
        return {};
    }
    return std::string(buf, static_cast<std::size_t>(n));
}

// Whether the peer of `fd` has shut down its sending side (no wait).
bool peer_shut_down(int fd) {
    pollfd p{fd, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLRDHUP) != 0;
}

}  // namespace

TEST_SUITE("net/tcp_socket") {

TEST_CASE("a socket before open has no descriptor and is neither watched nor closing") {
    Rig rig;
    Owner& o = rig.owner();
    CHECK(o.socket.fd() == -1);
    CHECK_FALSE(o.socket.watched());
    CHECK_FALSE(o.socket.closing());
    CHECK_FALSE(o.socket.shutting_down());
    CHECK(o.socket.rearm() == UV_ENOTCONN);
    CHECK(o.socket.peer().address.empty());
    CHECK(o.socket.peer().port == 0);
    o.close();
    REQUIRE(rig.loop.run_until([&] { return rig.events_of(o).closed > 0; }));
}

TEST_CASE("open() watches the socket: the owner hears an edge when the peer writes") {
    Rig rig;
    RawClient client(rig.port);
    Owner& o = rig.open();
    CHECK(o.socket.watched());
    rig.spin();
    CHECK(o.edges == 0);  // nothing to read yet, and not watched for writes
    REQUIRE(client.send("ping"));
    REQUIRE(rig.loop.run_until([&] { return o.edges > 0; }));
    CHECK((o.last_events & EPOLLIN) != 0);
    int err = 0;
    CHECK(recv_some(o.socket.fd(), err) == "ping");
    CHECK(err == 0);
    // Each new arrival is a new edge.
    const int before = o.edges;
    REQUIRE(client.send("pong"));
    REQUIRE(rig.loop.run_until([&] { return o.edges > before; }));
    CHECK(recv_some(o.socket.fd(), err) == "pong");
}

TEST_CASE("bytes that arrived before open() are reported once watched") {
    Rig rig;
    RawClient client(rig.port);
    REQUIRE(client.send("early"));
    Owner& o = rig.owner();
    const int fd = rig.accept();
    pollfd p{fd, POLLIN, 0};
    REQUIRE(::poll(&p, 1, kWaitMs) == 1);  // the bytes are in the server's socket
    REQUIRE(o.socket.open(fd, EdgePoller::Interest::read) == 0);
    REQUIRE(rig.loop.run_until([&] { return o.edges > 0; }));
    int err = 0;
    CHECK(recv_some(fd, err) == "early");
}

TEST_CASE("edges come once per arrival; rearm reports bytes left unread again") {
    Rig rig;
    RawClient client(rig.port);
    Owner& o = rig.open();
    REQUIRE(client.send("unread"));
    REQUIRE(rig.loop.run_until([&] { return o.edges > 0; }));
    const int after_first = o.edges;
    rig.spin();
    CHECK(o.edges == after_first);  // edge-triggered: the unread bytes are not reported again
    REQUIRE(o.socket.rearm() == 0);
    REQUIRE(rig.loop.run_until([&] { return o.edges > after_first; }));
    CHECK((o.last_events & EPOLLIN) != 0);
    // Drained, a rearm finds nothing to report.
    int err = 0;
    CHECK(recv_some(o.socket.fd(), err) == "unread");
    const int drained = o.edges;
    REQUIRE(o.socket.rearm() == 0);
    rig.spin();
    CHECK(o.edges == drained);
}

TEST_CASE("watched for reads and writes, a writable socket is reported at once") {
    Rig rig;
    RawClient client(rig.port);
    Owner& o = rig.open(EdgePoller::Interest::read_write);
    REQUIRE(rig.loop.run_until([&] { return o.edges > 0; }));
    CHECK((o.last_events & EPOLLOUT) != 0);
    const int first = o.edges;
    REQUIRE(o.socket.rearm() == 0);  // still writable: reported again
    REQUIRE(rig.loop.run_until([&] { return o.edges > first; }));
    CHECK((o.last_events & EPOLLOUT) != 0);
}

TEST_CASE("accept() takes a pending connection from a libuv listener and watches it") {
    Rig rig;
    // A libuv listener on 127.0.0.1:<ephemeral>, closed before the rig (whose loop frees it).
    struct UvListener {
        Rig& rig;
        uv_tcp_t tcp{};
        int pending = 0;
        explicit UvListener(Rig& r) : rig(r) {
            REQUIRE(uv_tcp_init(rig.loop.get(), &tcp) == 0);
            tcp.data = this;
        }
        ~UvListener() {
            uv_close(reinterpret_cast<uv_handle_t*>(&tcp), nullptr);
            rig.spin();
        }
        UvListener(const UvListener&) = delete;
        UvListener& operator=(const UvListener&) = delete;
    } server(rig);
    sockaddr_in addr{};
    REQUIRE(uv_ip4_addr("127.0.0.1", 0, &addr) == 0);
    REQUIRE(uv_tcp_bind(&server.tcp, reinterpret_cast<const sockaddr*>(&addr), 0) == 0);
    REQUIRE(
        uv_listen(reinterpret_cast<uv_stream_t*>(&server.tcp), 4, [](uv_stream_t* s, int status) {
            if (status == 0) ++static_cast<UvListener*>(s->data)->pending;
        }) == 0);
    sockaddr_storage ss{};
    int len = sizeof ss;
    REQUIRE(uv_tcp_getsockname(&server.tcp, reinterpret_cast<sockaddr*>(&ss), &len) == 0);
    RawClient client(ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port));
    REQUIRE(rig.loop.run_until([&] { return server.pending > 0; }));
    Owner& o = rig.owner();
    REQUIRE(o.socket.accept(reinterpret_cast<uv_stream_t*>(&server.tcp),
                            EdgePoller::Interest::read) == 0);
    CHECK(o.socket.fd() >= 0);
    CHECK(o.socket.watched());
    CHECK(o.peer().port == client.local_port());
    REQUIRE(client.send("via accept"));
    REQUIRE(rig.loop.run_until([&] { return o.edges > 0; }));
    int err = 0;
    CHECK(recv_some(o.socket.fd(), err) == "via accept");
}

TEST_CASE("shutdown sends FIN: the peer reads the end, and the socket still reads") {
    Rig rig;
    RawClient client(rig.port);
    Owner& o = rig.open();
    o.shutdown();
    CHECK(o.socket.shutting_down());
    o.shutdown();  // idempotent
    CHECK(rig.loop.run_until([&] { return peer_shut_down(client.fd()); }));
    int err = 0;
    CHECK(recv_some(client.fd(), err).empty());  // EOF
    CHECK(err == 0);
    // Half-closed: the other direction still works.
    REQUIRE(client.send("after FIN"));
    REQUIRE(rig.loop.run_until([&] { return o.edges > 0; }));
    CHECK(recv_some(o.socket.fd(), err) == "after FIN");
    CHECK_FALSE(o.socket.closing());
}

TEST_CASE("close tells the events on_transport_closed once, from the close callback") {
    Rig rig;
    RawClient client(rig.port);
    Owner& o = rig.open();
    Events& ev = rig.events_of(o);
    o.close();
    o.close();  // idempotent
    CHECK(o.socket.closing());
    CHECK_FALSE(o.socket.watched());
    CHECK(o.socket.rearm() == UV_ENOTCONN);
    CHECK(ev.closed == 0);  // only from the close callback
    REQUIRE(rig.loop.run_until([&] { return ev.closed > 0; }));
    rig.spin();
    CHECK(ev.closed == 1);
    CHECK(ev.other == 0);
    CHECK(client.wait_closed());
    // Closing, shutdown and reset do nothing more.
    o.shutdown();
    CHECK_FALSE(o.socket.shutting_down());
    o.socket.reset(&ev);
    rig.spin();
    CHECK(ev.closed == 1);
}

TEST_CASE("a closed socket's edges stop: bytes sent meanwhile are not reported") {
    Rig rig;
    RawClient client(rig.port);
    Owner& o = rig.open();
    Events& ev = rig.events_of(o);
    REQUIRE(client.send("before"));
    REQUIRE(rig.loop.run_until([&] { return o.edges > 0; }));
    const int seen = o.edges;
    REQUIRE(client.send("more"));  // unread: no edge is dispatched once close() ran
    o.close();
    REQUIRE(rig.loop.run_until([&] { return ev.closed > 0; }));
    CHECK(o.edges == seen);
}

TEST_CASE("reset closes with a TCP reset: the peer sees ECONNRESET") {
    Rig rig;
    RawClient client(rig.port);
    Owner& o = rig.open();
    Events& ev = rig.events_of(o);
    o.socket.reset(&ev);
    CHECK(o.socket.closing());
    o.socket.reset(&ev);  // idempotent
    o.close();            // so is a close after it
    REQUIRE(rig.loop.run_until([&] { return ev.closed > 0; }));
    rig.spin();
    CHECK(ev.closed == 1);
    int err = 0;
    const std::string got = recv_some(client.fd(), err);
    CHECK(got.empty());
    CHECK(err == ECONNRESET);
}

TEST_CASE("reset once shutting down falls back to a plain close: the peer sees FIN") {
    Rig rig;
    RawClient client(rig.port);
    Owner& o = rig.open();
    Events& ev = rig.events_of(o);
    o.shutdown();
    REQUIRE(rig.loop.run_until([&] { return peer_shut_down(client.fd()); }));
    o.socket.reset(&ev);
    CHECK(o.socket.closing());
    REQUIRE(rig.loop.run_until([&] { return ev.closed > 0; }));
    rig.spin();
    CHECK(ev.closed == 1);
    int err = 0;
    CHECK(recv_some(client.fd(), err).empty());
    CHECK(err == 0);  // an orderly end, not ECONNRESET
}

TEST_CASE("close with no events tells nobody") {
    Rig rig;
    RawClient client(rig.port);
    Owner& o = rig.open();
    Events& ev = rig.events_of(o);
    o.socket.close(nullptr);
    CHECK(client.wait_closed());
    rig.spin();
    CHECK(ev.closed == 0);
}

TEST_CASE("discard deletes the owner in the close callback, telling its events nothing") {
    Rig rig;
    RawClient client(rig.port);
    bool destroyed = false;
    Owner& o = rig.owner(&destroyed);
    Events& ev = rig.events_of(o);
    REQUIRE(o.socket.open(rig.accept(), EdgePoller::Interest::read) == 0);
    REQUIRE(client.send("unread"));
    REQUIRE(rig.loop.run_until([&] { return o.edges > 0; }));
    // The Transport way: the owner's memory is the socket's to free now.
    std::unique_ptr<Transport> owned(rig.owners.back().release());
    Transport::discard(std::move(owned));
    CHECK_FALSE(destroyed);  // the handle is still the loop's
    REQUIRE(rig.loop.run_until([&] { return destroyed; }));
    CHECK(ev.closed == 0);
    CHECK(ev.other == 0);
    CHECK(client.wait_closed());
}

TEST_CASE("discard of a socket never opened frees its owner too") {
    Rig rig;
    bool destroyed = false;
    rig.owner(&destroyed);
    std::unique_ptr<Transport> owned(rig.owners.back().release());
    Transport::discard(std::move(owned));
    REQUIRE(rig.loop.run_until([&] { return destroyed; }));
}

TEST_CASE("peer() is the client's address and port") {
    Rig rig;
    RawClient client(rig.port);
    Owner& o = rig.open();
    const PeerName p = o.peer();
    CHECK(p.address == "127.0.0.1");
    CHECK(p.port == client.local_port());
    CHECK(p.port != 0);
}

}  // TEST_SUITE("net/tcp_socket")
