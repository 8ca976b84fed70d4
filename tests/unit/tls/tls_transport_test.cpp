// Tests TlsTransport (src/tls/tls_transport.cpp) over real loopback sockets: a blocking
// OpenSSL client on its own thread, the transport on a TestLoop with an EdgePoller.
#include "tls/tls_transport.hpp"

#include <vstream/tls.hpp>

#include "test_certs.hpp"
#include "test_loop.hpp"
#include "tls/tls_context.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using vstream::net::EdgePoller;
using vstream::net::ReadSlab;
using vstream::test::test_certs;
using vstream::test::TestLoop;
using vstream::tls::HandshakeState;
using vstream::tls::TlsContext;
using vstream::tls::TlsTransport;

namespace {

struct CtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using Ctx = std::unique_ptr<SSL_CTX, CtxFree>;

// The server's context, as a TLS listener makes it: the localhost certificate, the defaults.
std::shared_ptr<const TlsContext> server_context() {
    vstream::TlsOptions o;
    o.certificates = {test_certs().localhost};
    return TlsContext::make(o);
}

// A listening socket on 127.0.0.1:<ephemeral>.
struct Listener {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    std::uint16_t port = 0;
    Listener() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd, 8) == 0);
        socklen_t len = sizeof a;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port = ntohs(a.sin_port);
    }
    ~Listener() { ::close(fd); }
    // The next connection, non-blocking, as the Acceptor hands it over.
    int accept() const { return ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); }
};

// A blocking TLS client on its own thread, verifying the server against the test CA.
class Client {
public:
    explicit Client(std::uint16_t port) {
        ctx_.reset(SSL_CTX_new(TLS_client_method()));
        SSL_CTX_load_verify_locations(ctx_.get(), test_certs().ca.c_str(), nullptr);
        SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        timeval tv{10, 0};  // every blocking call is bounded
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    }
    ~Client() {
        if (ssl_ != nullptr) SSL_free(ssl_);
        if (fd_ >= 0) ::close(fd_);
    }
    int fd() const { return fd_; }
    // Runs the handshake (call from the client's thread). True if it succeeded.
    bool handshake() {
        ssl_ = SSL_new(ctx_.get());
        SSL_set_fd(ssl_, fd_);
        SSL_set_tlsext_host_name(ssl_, "localhost");
        SSL_set1_host(ssl_, "localhost");
        return SSL_connect(ssl_) == 1;
    }
    bool send(const std::string& s) {
        return SSL_write(ssl_, s.data(), static_cast<int>(s.size())) == static_cast<int>(s.size());
    }
    // Reads until `n` bytes or the end; the bytes read.
    std::string read(std::size_t n) {
        std::string out;
        char buf[16384];
        while (out.size() < n) {
            const int r = SSL_read(ssl_, buf, sizeof buf);
            if (r <= 0) {
                last_error_ = SSL_get_error(ssl_, r);
                break;
            }
            out.append(buf, static_cast<std::size_t>(r));
        }
        ERR_clear_error();
        return out;
    }
    int last_error() const { return last_error_; }
    // Ends its side with a FIN and no close_notify, as HTTP clients often do. (A close() with
    // the server's session tickets unread would send a reset instead.)
    void leave_without_close_notify() { ::shutdown(fd_, SHUT_WR); }
    void close_notify() { SSL_shutdown(ssl_); }

private:
    Ctx ctx_;
    int fd_ = -1;
    SSL* ssl_ = nullptr;
    int last_error_ = 0;
};

// What the transport reported.
struct Events final : vstream::net::TransportEvents {
    std::string read;
    std::vector<int> ends;
    std::vector<int> written;
    int closed = 0;
    void on_transport_read(const char* d, std::size_t n) override { read.append(d, n); }
    void on_transport_end(int status) override { ends.push_back(status); }
    void on_transport_written(int status) override { written.push_back(status); }
    void on_transport_closed() override { ++closed; }
};

// The transport side: a loop, its poller and one transport on an accepted socket.
struct Rig {
    TestLoop loop;
    EdgePoller poller{loop.get()};
    ReadSlab slab;
    std::shared_ptr<const TlsContext> context = server_context();
    Listener listener;
    Events ev;
    std::unique_ptr<TlsTransport> t;

    // `sndbuf`: a small send buffer, so a test fills the socket with little data.
    void accept(int sndbuf = 0) {
        const int fd = listener.accept();
        REQUIRE(fd >= 0);
        if (sndbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        t = std::make_unique<TlsTransport>(loop.get(), &slab, &poller, context->new_ssl());
        t->set_events(&ev);
        REQUIRE(t->open(fd) == 0);
        REQUIRE(t->read_start() == 0);
    }
    ~Rig() {
        if (t) {
            t->close();
            loop.run_until([&] { return ev.closed > 0; });
        }
        poller.close();
        loop.drain();
    }
};

// Waits (bounded) for the test thread's go-ahead; a failed REQUIRE never gives it, and the
// jthread's join must not hang.
void wait_for(const std::atomic<bool>& go) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!go && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
}

uv_buf_t buf(const std::string& s) {
    return uv_buf_init(const_cast<char*>(s.data()), static_cast<unsigned>(s.size()));
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
    return s;
}

}  // namespace

TEST_SUITE("tls/tls_transport") {

TEST_CASE("a handshake, then bytes both ways; the write is reported from the loop, later") {
    Rig rig;
    Client client(rig.listener.port);
    rig.accept();
    std::promise<std::string> reply;
    std::jthread th([&] {
        if (!client.handshake() || !client.send("hello")) {
            reply.set_value("client failed");
            return;
        }
        reply.set_value(client.read(5));
    });
    REQUIRE(rig.loop.run_until([&] { return rig.ev.read == "hello"; }));
    CHECK(rig.t->handshake() == HandshakeState::done);
    CHECK(std::string(SSL_get_version(rig.t->ssl())) == "TLSv1.3");
    CHECK(rig.t->peer().address == "127.0.0.1");
    const std::string world = "world";
    uv_buf_t b = buf(world);
    REQUIRE(rig.t->write(&b, 1) == 0);
    CHECK(rig.ev.written.empty());  // never from inside write()
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.written.empty(); }));
    CHECK(rig.ev.written == std::vector<int>{0});
    th.join();
    CHECK(reply.get_future().get() == "world");
}

TEST_CASE("a large gathered write to a slow reader waits for the socket and arrives exactly") {
    Rig rig;
    Client client(rig.listener.port);
    rig.accept(64 * 1024);
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 4194304\r\n\r\n";
    const std::string body = pattern(4 << 20);
    std::atomic<bool> go{false};
    std::promise<std::string> got;
    std::jthread th([&] {
        if (!client.handshake() || !client.send("GET")) {
            got.set_value("client failed");
            return;
        }
        wait_for(go);  // let the server fill the socket first
        got.set_value(client.read(head.size() + body.size()));
    });
    REQUIRE(rig.loop.run_until([&] { return rig.ev.read == "GET"; }));
    uv_buf_t bufs[] = {buf(head), buf(body)};
    REQUIRE(rig.t->write(bufs, 2) == 0);
    rig.loop.run_until([] { return false; }, std::chrono::milliseconds(50));
    CHECK(rig.ev.written.empty());  // the reader has not started: the socket is full
    CHECK(rig.t->write_pending() > 0);
    go = true;
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.written.empty(); }));
    CHECK(rig.ev.written == std::vector<int>{0});
    CHECK(rig.t->write_pending() == 0);
    th.join();
    const std::string all = got.get_future().get();
    CHECK(all.size() == head.size() + body.size());
    CHECK(all == head + body);
}

TEST_CASE("try_write takes what fits now; write() then sends the rest, starting where it left") {
    Rig rig;
    Client client(rig.listener.port);
    rig.accept(64 * 1024);
    const std::string body = pattern(3 << 20);
    std::atomic<bool> go{false};
    std::promise<std::string> got;
    std::jthread th([&] {
        if (!client.handshake() || !client.send("x")) {
            got.set_value("client failed");
            return;
        }
        wait_for(go);
        got.set_value(client.read(body.size()));
    });
    REQUIRE(rig.loop.run_until([&] { return rig.ev.read == "x"; }));
    uv_buf_t b = buf(body);
    const int n = rig.t->try_write(&b, 1);
    REQUIRE(n > 0);
    REQUIRE(static_cast<std::size_t>(n) < body.size());  // 3 MiB cannot fit a socket buffer
    uv_buf_t rest = uv_buf_init(b.base + n, static_cast<unsigned>(body.size() - n));
    REQUIRE(rig.t->write(&rest, 1) == 0);
    go = true;
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.written.empty(); }));
    CHECK(rig.ev.written == std::vector<int>{0});
    th.join();
    CHECK(got.get_future().get() == body);
}

TEST_CASE("a client that leaves without close_notify is an orderly end") {
    Rig rig;
    Client client(rig.listener.port);
    rig.accept();
    std::jthread th([&] {
        if (client.handshake()) client.send("bye");
        client.leave_without_close_notify();
    });
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.ends.empty(); }));
    th.join();
    CHECK(rig.ev.read == "bye");
    CHECK(rig.ev.ends == std::vector<int>{UV_EOF});
}

TEST_CASE("close_notify from the client is an orderly end too") {
    Rig rig;
    Client client(rig.listener.port);
    rig.accept();
    std::jthread th([&] {
        if (client.handshake()) client.close_notify();
    });
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.ends.empty(); }));
    th.join();
    CHECK(rig.ev.ends == std::vector<int>{UV_EOF});
}

TEST_CASE("plain HTTP on the TLS socket fails the handshake, reported as a protocol error") {
    Rig rig;
    Client client(rig.listener.port);
    rig.accept();
    const std::string plain = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    REQUIRE(::send(client.fd(), plain.data(), plain.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(plain.size()));
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.ends.empty(); }));
    CHECK(rig.t->handshake() == HandshakeState::failed);
    CHECK(rig.ev.ends == std::vector<int>{UV_EPROTO});
    CHECK(rig.ev.read.empty());
    CHECK(ERR_peek_error() == 0);  // the loop thread's error queue is left clean
}

TEST_CASE("shutdown sends close_notify, then FIN: the client reads a clean end") {
    Rig rig;
    Client client(rig.listener.port);
    rig.accept();
    std::promise<int> end;
    std::jthread th([&] {
        if (!client.handshake() || !client.send("q")) {
            end.set_value(-1);
            return;
        }
        const std::string got = client.read(1 << 20);
        end.set_value(got == "answer" ? client.last_error() : -2);
    });
    REQUIRE(rig.loop.run_until([&] { return rig.ev.read == "q"; }));
    const std::string answer = "answer";
    uv_buf_t b = buf(answer);
    REQUIRE(rig.t->write(&b, 1) == 0);
    rig.t->shutdown();  // asked while the write is in flight: after it
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.written.empty(); }));
    th.join();
    CHECK(end.get_future().get() == SSL_ERROR_ZERO_RETURN);
}

TEST_CASE("reads paused are held, and delivered on read_start") {
    Rig rig;
    Client client(rig.listener.port);
    rig.accept();
    rig.t->read_stop();  // the handshake goes on regardless
    std::atomic<bool> sent{false};
    std::jthread th([&] {
        if (client.handshake()) sent = client.send("first");
    });
    REQUIRE(rig.loop.run_until([&] { return sent && rig.t->handshake() == HandshakeState::done; }));
    th.join();
    rig.loop.run_until([] { return false; }, std::chrono::milliseconds(50));
    CHECK(rig.ev.read.empty());
    REQUIRE(rig.t->read_start() == 0);
    REQUIRE(rig.loop.run_until([&] { return rig.ev.read == "first"; }));
}

}  // TEST_SUITE("tls/tls_transport")
