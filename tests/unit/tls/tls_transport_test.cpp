// Tests TlsTransport (src/tls/tls_transport.cpp) over real loopback sockets: a blocking
// OpenSSL client on its own thread, the transport on a TestLoop with an EdgePoller; with a
// HandshakeTracker, the handshake's deadline and the counters of its outcomes.
#include "tls/tls_transport.hpp"

#include <vstream/tls.hpp>

#include "temp_dir.hpp"
#include "test_certs.hpp"
#include "test_loop.hpp"
#include "tls/handshake_tracker.hpp"
#include "tls/tls_context.hpp"
#include "tls/tls_counters.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using vstream::net::EdgePoller;
using vstream::net::ReadSlab;
using vstream::test::TempDir;
using vstream::test::test_certs;
using vstream::test::TestLoop;
using vstream::tls::HandshakeFailure;
using vstream::tls::HandshakeState;
using vstream::tls::HandshakeTracker;
using vstream::tls::TlsContext;
using vstream::tls::TlsCounters;
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

// A blocking TLS client on its own thread, verifying the server against the test CA;
// `configure` changes its context (protocol versions...) before it connects.
class Client {
public:
    explicit Client(std::uint16_t port, const std::function<void(SSL_CTX*)>& configure = {}) {
        ctx_.reset(SSL_CTX_new(TLS_client_method()));
        SSL_CTX_load_verify_locations(ctx_.get(), test_certs().ca.c_str(), nullptr);
        SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
        if (configure) configure(ctx_.get());
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
    // Closes the socket now, whatever it was doing (with unread bytes: a reset).
    void drop() {
        ::close(fd_);
        fd_ = -1;
    }

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

// What a tracked transport answers plain HTTP with (the server words it; any bytes do here).
const std::string kPlainReply =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\nConnection: close\r\n\r\nplain";

// The transport side: a loop, its poller and one transport on an accepted socket; after
// track(), the transport's handshake is timed and counted by a HandshakeTracker.
struct Rig {
    TestLoop loop;
    EdgePoller poller{loop.get()};
    ReadSlab slab;
    std::shared_ptr<const TlsContext> context = server_context();
    Listener listener;
    Events ev;
    std::atomic<std::size_t> under_way{0};  // the server-wide count of handshakes
    TlsCounters counters;
    std::unique_ptr<HandshakeTracker> tracker;  // outlives the transport
    std::unique_ptr<TlsTransport> t;

    void track(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        tracker =
            std::make_unique<HandshakeTracker>(loop.get(), timeout, 16, &under_way, &counters);
        tracker->set_plain_http_reply(kPlainReply);
    }
    std::uint64_t failed(HandshakeFailure why) const {
        return counters.failed[static_cast<int>(why)].load();
    }
    std::uint64_t failures() const {
        std::uint64_t n = 0;
        for (const auto& f : counters.failed) n += f.load();
        return n;
    }

    // `sndbuf`: a small send buffer, so a test fills the socket with little data.
    void accept(int sndbuf = 0) {
        const int fd = listener.accept();
        REQUIRE(fd >= 0);
        if (sndbuf > 0) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
        if (tracker) REQUIRE(tracker->admit());  // as the Worker does before it makes one
        t = std::make_unique<TlsTransport>(loop.get(), &slab, &poller, context->new_ssl(),
                                           tracker.get());
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

// Reads `fd` (blocking, bounded by the client's SO_RCVTIMEO) until the end.
std::string read_to_end(int fd) {
    std::string out;
    char b[4096];
    for (;;) {
        const ssize_t n = ::recv(fd, b, sizeof b, 0);
        if (n <= 0) break;
        out.append(b, static_cast<std::size_t>(n));
    }
    return out;
}

// Whether `fd` has bytes to read now.
bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

// An OpenSSL client driven by hand over the raw socket `fd` (memory BIOs): its bytes go out
// only when the test sends them, so the test decides what arrives at the server together.
class ManualClient {
public:
    explicit ManualClient(int fd) : fd_(fd), ctx_(SSL_CTX_new(TLS_client_method())) {
        ssl_ = SSL_new(ctx_.get());
        in_ = BIO_new(BIO_s_mem());
        out_ = BIO_new(BIO_s_mem());
        SSL_set_bio(ssl_, in_, out_);
        SSL_set_connect_state(ssl_);
        SSL_set_tlsext_host_name(ssl_, "localhost");
    }
    ~ManualClient() {
        SSL_free(ssl_);
        ERR_clear_error();
    }
    ManualClient(const ManualClient&) = delete;
    ManualClient& operator=(const ManualClient&) = delete;

    // Takes what the server sent so far, and goes on with the handshake; true once done.
    bool step() {
        char b[16384];
        for (;;) {
            const ssize_t n = ::recv(fd_, b, sizeof b, MSG_DONTWAIT);
            if (n <= 0) break;
            BIO_write(in_, b, static_cast<int>(n));
        }
        const bool done = SSL_do_handshake(ssl_) == 1;
        ERR_clear_error();
        return done;
    }
    // Encrypts `s` (sent with the next flush).
    bool write(const std::string& s) {
        return SSL_write(ssl_, s.data(), static_cast<int>(s.size())) == static_cast<int>(s.size());
    }
    // Sends all the client has to send, in one send(); the bytes sent.
    std::size_t flush() {
        char* data = nullptr;
        const long n = BIO_get_mem_data(out_, &data);
        if (n <= 0) return 0;
        const ssize_t sent = ::send(fd_, data, static_cast<std::size_t>(n), MSG_NOSIGNAL);
        (void)BIO_reset(out_);
        return sent > 0 ? static_cast<std::size_t>(sent) : 0;
    }

private:
    int fd_;
    Ctx ctx_;
    SSL* ssl_ = nullptr;
    BIO* in_ = nullptr;   // owned by ssl_
    BIO* out_ = nullptr;  // owned by ssl_
};

// A file of `size` bytes mapped MAP_SHARED read-only, then truncated to nothing: reading the
// mapping raises SIGBUS (what a file shrinking under a response does).
class TruncatedMapping {
public:
    explicit TruncatedMapping(std::size_t size) : size_(size) {
        const std::string path = dir_.write("body", pattern(size));
        fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        REQUIRE(fd_ >= 0);
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
        REQUIRE(p != MAP_FAILED);
        data_ = static_cast<char*>(p);
        REQUIRE(::ftruncate(fd_, 0) == 0);
    }
    ~TruncatedMapping() {
        if (data_ != nullptr) ::munmap(data_, size_);
        if (fd_ >= 0) ::close(fd_);
    }
    TruncatedMapping(const TruncatedMapping&) = delete;
    TruncatedMapping& operator=(const TruncatedMapping&) = delete;

    uv_buf_t buf(std::size_t len) const {
        return uv_buf_init(data_, static_cast<unsigned>(std::min(len, size_)));
    }

private:
    TempDir dir_;
    int fd_ = -1;
    char* data_ = nullptr;
    std::size_t size_;
};

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

TEST_CASE("file bytes in user space: try_send_file preads and encrypts; the rest by write()") {
    // No kernel TLS here (or anywhere the module is not loaded): file bytes are read by pread
    // into a buffer and encrypted. A short file is UV_EFAULT, as with sendfile.
    Rig rig;
    Client client(rig.listener.port);
    rig.accept(64 * 1024);
    const std::string body = pattern(3 << 20);
    char path[] = "/tmp/vstream-tls-file-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::unlink(path);
    REQUIRE(::write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()));
    std::atomic<bool> go{false};
    std::promise<std::string> got;
    std::jthread th([&] {
        if (!client.handshake() || !client.send("x")) {
            got.set_value("client failed");
            return;
        }
        wait_for(go);
        got.set_value(client.read(body.size() - 1000));
    });
    REQUIRE(rig.loop.run_until([&] { return rig.ev.read == "x"; }));
    CHECK(rig.t->can_send_file());
    CHECK(rig.t->send_file_copies());
    const int n = rig.t->try_send_file(fd, 1000, body.size() - 1000);
    REQUIRE(n > 0);
    REQUIRE(static_cast<std::size_t>(n) < body.size() - 1000);  // more than a socket holds
    // As net::WriteQueue does: the rest from memory, starting where try_send_file stopped
    // (OpenSSL may hold a record of it half sent).
    uv_buf_t rest = uv_buf_init(const_cast<char*>(body.data()) + 1000 + n,
                                static_cast<unsigned>(body.size() - 1000 - n));
    REQUIRE(rig.t->write(&rest, 1) == 0);
    go = true;
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.written.empty(); }));
    CHECK(rig.ev.written == std::vector<int>{0});
    th.join();
    CHECK(got.get_future().get() == body.substr(1000));
    // Past the end of the file: nothing to read, as sendfile reports a file that shrank.
    CHECK(rig.t->try_send_file(fd, body.size(), 100) == UV_EFAULT);
    ::close(fd);
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

TEST_CASE("tracked: a client that sends nothing is ended with UV_ETIMEDOUT at the deadline") {
    Rig rig;
    rig.track(std::chrono::milliseconds(50));
    Client client(rig.listener.port);
    rig.accept();
    CHECK(rig.under_way == 1);  // timed from the transport's construction
    CHECK(rig.counters.in_progress.load() == 1);
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.ends.empty(); }));
    CHECK(rig.ev.ends == std::vector<int>{UV_ETIMEDOUT});
    CHECK(rig.t->handshake() == HandshakeState::failed);
    CHECK(rig.failed(HandshakeFailure::timeout) == 1);
    CHECK(rig.failures() == 1);
    CHECK(rig.under_way == 0);  // its place is back
    CHECK(rig.counters.in_progress.load() == 0);
    rig.t->close();
    REQUIRE(rig.loop.run_until([&] { return rig.ev.closed > 0; }));
    CHECK(rig.failures() == 1);               // the close after the timeout is no second failure
    CHECK(read_to_end(client.fd()).empty());  // the client sees the connection go
}

TEST_CASE("tracked: a timeout while reads are paused is reported on read_start") {
    Rig rig;
    rig.track(std::chrono::milliseconds(20));
    Client client(rig.listener.port);
    rig.accept();
    rig.t->read_stop();
    REQUIRE(rig.loop.run_until([&] { return rig.failed(HandshakeFailure::timeout) == 1; }));
    CHECK(rig.ev.ends.empty());
    REQUIRE(rig.t->read_start() == 0);
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.ends.empty(); }));
    CHECK(rig.ev.ends == std::vector<int>{UV_ETIMEDOUT});
}

TEST_CASE("tracked: plain HTTP is answered with the tracker's reply in plain text, then ended") {
    Rig rig;
    rig.track();
    Client client(rig.listener.port);
    rig.accept();
    const std::string plain = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    REQUIRE(::send(client.fd(), plain.data(), plain.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(plain.size()));
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.ends.empty(); }));
    CHECK(rig.ev.ends == std::vector<int>{UV_EPROTO});
    CHECK(rig.t->handshake() == HandshakeState::failed);
    CHECK(rig.ev.read.empty());
    CHECK(rig.failed(HandshakeFailure::plain_http) == 1);
    CHECK(rig.failures() == 1);
    CHECK(rig.under_way == 0);
    CHECK(rig.counters.handshakes.load() == 0);
    rig.t->close();
    REQUIRE(rig.loop.run_until([&] { return rig.ev.closed > 0; }));
    // The request was read before the answer, so the close is a FIN: the client reads it all.
    CHECK(read_to_end(client.fd()) == kPlainReply);
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("tracked: a completed handshake is counted and gives its place back") {
    Rig rig;
    rig.track();
    Client client(rig.listener.port);
    rig.accept();
    CHECK(rig.under_way == 1);
    std::jthread th([&] {
        if (client.handshake()) client.send("hi");
    });
    REQUIRE(rig.loop.run_until([&] { return rig.ev.read == "hi"; }));
    th.join();
    CHECK(rig.t->handshake() == HandshakeState::done);
    CHECK(rig.counters.handshakes.load() == 1);
    CHECK(rig.counters.resumed.load() == 0);
    // One write path per connection: user space here, unless the kernel took TLS over.
    CHECK(rig.counters.userspace_connections.load() + rig.counters.ktls_connections.load() == 1);
    if (!rig.t->can_send_file()) CHECK(rig.counters.userspace_connections.load() == 1);
    CHECK(rig.under_way == 0);
    CHECK(rig.counters.in_progress.load() == 0);
    rig.t->close();
    REQUIRE(rig.loop.run_until([&] { return rig.ev.closed > 0; }));
    CHECK(rig.failures() == 0);  // closing after the handshake is no failure
    CHECK(rig.under_way == 0);
}

TEST_CASE("tracked: a TLS 1.1 client is refused and counted failed_version") {
    Rig rig;
    rig.track();
    // Security level 0, so the client may send what the system policy forbids.
    Client client(rig.listener.port, [](SSL_CTX* c) {
        SSL_CTX_set_security_level(c, 0);
        SSL_CTX_set_min_proto_version(c, TLS1_VERSION);
        SSL_CTX_set_max_proto_version(c, TLS1_1_VERSION);
    });
    rig.accept();
    std::promise<bool> ok;
    std::jthread th([&] {
        ok.set_value(client.handshake());
        ERR_clear_error();
    });
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.ends.empty(); }));
    th.join();
    CHECK_FALSE(ok.get_future().get());
    CHECK(rig.ev.ends == std::vector<int>{UV_EPROTO});
    CHECK(rig.failed(HandshakeFailure::version) == 1);
    CHECK(rig.failures() == 1);
    CHECK(rig.under_way == 0);
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("tracked: bytes that are not TLS are counted failed_protocol") {
    const std::vector<std::string> junk = {
        std::string("\x16\xff\xff\x00\x05junk!", 10),            // a record of no TLS version
        std::string("\x00\x01\x02\x03\x04\x05\x06\x07", 8),      // binary, no record at all
        std::string("\x16\x03\x01\x00\x04\xff\x00\x00\x00", 9),  // a record, no ClientHello
    };
    for (const std::string& bytes : junk) {
        CAPTURE(bytes.size());
        CAPTURE(static_cast<int>(static_cast<unsigned char>(bytes[1])));
        Rig rig;
        rig.track();
        Client client(rig.listener.port);
        rig.accept();
        REQUIRE(::send(client.fd(), bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(bytes.size()));
        REQUIRE(rig.loop.run_until([&] { return !rig.ev.ends.empty(); }));
        CHECK(rig.ev.ends == std::vector<int>{UV_EPROTO});
        CHECK(rig.t->handshake() == HandshakeState::failed);
        CHECK(rig.failed(HandshakeFailure::protocol) == 1);
        CHECK(rig.failures() == 1);
        CHECK(rig.under_way == 0);
        CHECK(ERR_peek_error() == 0);
    }
}

TEST_CASE("tracked: a client that goes mid-handshake is counted failed_closed") {
    for (const bool hello_first : {true, false}) {
        CAPTURE(hello_first);
        Rig rig;
        rig.track();
        Client client(rig.listener.port);
        rig.accept();
        if (hello_first) {
            // A real ClientHello; once the server's answer is there, the client leaves (with
            // it unread: a reset).
            ManualClient hello(client.fd());
            CHECK_FALSE(hello.step());
            REQUIRE(hello.flush() > 0);
            REQUIRE(rig.loop.run_until([&] { return readable(client.fd()); }));
            CHECK(rig.ev.ends.empty());
        }
        client.drop();
        REQUIRE(rig.loop.run_until([&] { return !rig.ev.ends.empty(); }));
        CHECK(rig.ev.ends == std::vector<int>{UV_EPROTO});
        CHECK(rig.failed(HandshakeFailure::closed) == 1);
        CHECK(rig.failures() == 1);
        CHECK(rig.under_way == 0);
        CHECK(ERR_peek_error() == 0);
    }
}

TEST_CASE("tracked: a transport closed before its handshake ended counts failed_closed") {
    Rig rig;
    rig.track();
    Client client(rig.listener.port);
    rig.accept();
    rig.t->close();
    CHECK(rig.t->handshake() == HandshakeState::failed);
    CHECK(rig.failed(HandshakeFailure::closed) == 1);
    CHECK(rig.under_way == 0);
    REQUIRE(rig.loop.run_until([&] { return rig.ev.closed > 0; }));
    CHECK(rig.failures() == 1);
    CHECK(rig.ev.ends.empty());
}

TEST_CASE("a write from a mapping whose file was truncated fails with UV_EFAULT, and closes") {
    // 1 MiB: OpenSSL reads it where it lies (guarded SSL_write); 100 bytes: it is copied into
    // the staging record first (guarded memcpy).
    for (const std::size_t len : {std::size_t{1} << 20, std::size_t{100}}) {
        CAPTURE(len);
        TruncatedMapping mapping(std::size_t{1} << 20);  // outlives the transport
        Rig rig;
        rig.track();
        Client client(rig.listener.port);
        rig.accept();
        std::promise<std::string> got;
        std::jthread th([&] {
            if (!client.handshake() || !client.send("go")) {
                got.set_value("client failed");
                return;
            }
            got.set_value(client.read(1));  // until the server closes
        });
        REQUIRE(rig.loop.run_until([&] { return rig.ev.read == "go"; }));
        uv_buf_t b = mapping.buf(len);
        const int rc = rig.t->write(&b, 1);
        if (rc == 0) {
            REQUIRE(rig.loop.run_until([&] { return !rig.ev.written.empty(); }));
            CHECK(rig.ev.written == std::vector<int>{UV_EFAULT});
        } else {
            CHECK(rc == UV_EFAULT);
            CHECK(rig.ev.written.empty());  // a write refused at once has no callback
        }
        CHECK(rig.counters.truncated_reads.load() == 1);
        CHECK(rig.t->write_pending() == 0);
        // Still here: the fault was recovered. The transport closes cleanly.
        rig.t->close();
        REQUIRE(rig.loop.run_until([&] { return rig.ev.closed > 0; }));
        CHECK(rig.ev.closed == 1);
        th.join();
        CHECK(got.get_future().get().empty());
        CHECK(rig.counters.truncated_reads.load() == 1);
        CHECK(rig.failures() == 0);
        CHECK(ERR_peek_error() == 0);
    }
}

TEST_CASE("a write from a truncated mapping queued before the handshake reports UV_EFAULT") {
    TruncatedMapping mapping(std::size_t{1} << 20);
    Rig rig;
    rig.track();
    Client client(rig.listener.port);
    rig.accept();
    uv_buf_t b = mapping.buf(std::size_t{1} << 20);
    REQUIRE(rig.t->write(&b, 1) == 0);  // held until the handshake is done
    ManualClient manual(client.fd());
    CHECK_FALSE(manual.step());
    REQUIRE(manual.flush() > 0);  // the ClientHello
    // The server's whole flight goes out in one turn: once some is here, all of it is.
    REQUIRE(rig.loop.run_until([&] { return readable(client.fd()); }));
    REQUIRE(manual.step());
    // The client's Finished and its first bytes reach the server together: one edge ends the
    // handshake, fails the write, and must not read on with the broken SSL.
    REQUIRE(manual.write("after"));
    REQUIRE(manual.flush() > 0);
    REQUIRE(rig.loop.run_until([&] { return !rig.ev.written.empty(); }));
    CHECK(rig.ev.written == std::vector<int>{UV_EFAULT});
    CHECK(rig.counters.truncated_reads.load() == 1);
    CHECK(rig.counters.handshakes.load() == 1);
    // OpenSSL was left mid-record: nothing more is read or written with that SSL.
    for (int i = 0; i < 5; ++i) uv_run(rig.loop.get(), UV_RUN_NOWAIT);
    CHECK(rig.ev.read.empty());
    CHECK(rig.ev.ends.empty());
    const std::string more = "more";
    uv_buf_t m = buf(more);
    CHECK(rig.t->write(&m, 1) == UV_ECANCELED);
    CHECK(rig.t->try_write(&m, 1) == UV_ECANCELED);
    rig.t->shutdown();  // no close_notify from a broken SSL; a FIN
    rig.t->close();
    REQUIRE(rig.loop.run_until([&] { return rig.ev.closed > 0; }));
    CHECK(ERR_peek_error() == 0);
}

}  // TEST_SUITE("tls/tls_transport")
