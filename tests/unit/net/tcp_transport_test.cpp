// Tests TcpTransport (src/net/tcp_transport.cpp) on a real uv loop run on the test thread.
#include "net/tcp_transport.hpp"

#include "raw_client.hpp"
#include "test_loop.hpp"
#include "test_server.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using vstream::net::EdgePoller;
using vstream::net::PeerName;
using vstream::net::ReadSlab;
using vstream::net::TcpTransport;
using vstream::net::TransportEvents;
using vstream::test::RawClient;
using vstream::test::wait_until;

namespace {

constexpr auto kDeadline = std::chrono::seconds(10);

struct Recorder final : TransportEvents {
    std::string read;
    int reads = 0;
    std::vector<int> ends;
    std::vector<int> written;
    int closed = 0;
    std::function<void()> after_read;  // runs inside each read callback
    void on_transport_read(const char* data, std::size_t len) override {
        read.append(data, len);
        ++reads;
        if (after_read) after_read();
    }
    void on_transport_end(int status) override { ends.push_back(status); }
    void on_transport_written(int status) override { written.push_back(status); }
    void on_transport_closed() override { ++closed; }
};

// A loop on the test thread with a listening uv_tcp_t on 127.0.0.1:<ephemeral>.
class LoopFixture {
public:
    LoopFixture() : slab_(std::make_unique<ReadSlab>()) {
        poller_ = std::make_unique<EdgePoller>(loop_.get());
        REQUIRE(uv_tcp_init(loop_.get(), &server_) == 0);
        server_.data = this;
        sockaddr_in addr{};
        REQUIRE(uv_ip4_addr("127.0.0.1", 0, &addr) == 0);
        REQUIRE(uv_tcp_bind(&server_, reinterpret_cast<const sockaddr*>(&addr), 0) == 0);
        REQUIRE(
            uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 16, [](uv_stream_t* s, int status) {
                if (status == 0) ++static_cast<LoopFixture*>(s->data)->pending_;
            }) == 0);
        sockaddr_storage ss{};
        int len = sizeof ss;
        REQUIRE(uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&ss), &len) == 0);
        port_ = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    }
    ~LoopFixture() {
        for (auto& a : accepted_) {
            if (a->s) a->s->close();  // idempotent
        }
        uv_close(reinterpret_cast<uv_handle_t*>(&server_), nullptr);
        poller_->close();
        loop_.drain();  // server_ finishes closing while its memory is still here
    }
    LoopFixture(const LoopFixture&) = delete;
    LoopFixture& operator=(const LoopFixture&) = delete;

    bool run_until(const std::function<bool()>& pred) { return loop_.run_until(pred); }

    // One accepted connection: the transport and what it reported. Owned by the fixture, so
    // that even a failing test closes the transport before its memory goes.
    struct Accepted {
        Recorder ev;
        std::unique_ptr<TcpTransport> s;
    };

    // Waits for a pending connection and accepts it into a new transport.
    Accepted& accept() {
        REQUIRE(run_until([&] { return pending_ > 0; }));
        --pending_;
        auto a = std::make_unique<Accepted>();
        a->s = std::make_unique<TcpTransport>(loop_.get(), slab_.get(), poller_.get());
        a->s->set_events(&a->ev);
        accepted_.push_back(std::move(a));
        REQUIRE(accepted_.back()->s->accept(reinterpret_cast<uv_stream_t*>(&server_)) == 0);
        return *accepted_.back();
    }

    // Closes `s` and runs the loop until its close callback.
    void close(std::unique_ptr<TcpTransport>& s, Recorder& events) {
        s->close();
        REQUIRE(run_until([&] { return events.closed > 0; }));
    }

    uv_loop_t* loop() { return loop_.get(); }
    std::uint16_t port() const { return port_; }

private:
    vstream::test::TestLoop loop_;  // first made, last gone
    uv_tcp_t server_{};
    std::unique_ptr<ReadSlab> slab_;
    std::unique_ptr<EdgePoller> poller_;
    std::uint16_t port_ = 0;
    int pending_ = 0;
    std::vector<std::unique_ptr<Accepted>> accepted_;
};

// Receives exactly `n` bytes on `fd`, waiting at most the deadline for each piece.
std::string recv_exact(int fd, std::size_t n) {
    std::string out;
    char buf[65536];
    while (out.size() < n) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kDeadline).count())) <= 0)
            break;
        const ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
        if (r <= 0) break;
        out.append(buf, static_cast<std::size_t>(r));
    }
    return out;
}

// Bytes sent on `fd` and not yet acknowledged by the peer's kernel.
int unacked(int fd) {
    int n = -1;
    ::ioctl(fd, SIOCOUTQ, &n);
    return n;
}

// Whether the peer of `fd` has shut down its sending side (no wait).
bool peer_shut_down(int fd) {
    pollfd p{fd, POLLRDHUP, 0};
    return ::poll(&p, 1, 0) == 1 && (p.revents & POLLRDHUP) != 0;
}

}  // namespace

TEST_SUITE("net/tcp_transport") {

TEST_CASE("bytes sent by the client are delivered as reads") {
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    Recorder& ev = conn.ev;
    std::unique_ptr<TcpTransport>& s = conn.s;
    REQUIRE(s->read_start() == 0);
    CHECK(s->read_start() == 0);  // already reading: no-op
    REQUIRE(client.send("hello world"));
    CHECK(f.run_until([&] { return ev.read == "hello world"; }));
    CHECK(ev.ends.empty());
    f.close(s, ev);
}

TEST_CASE("a read larger than the slab arrives whole, in order") {
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    Recorder& ev = conn.ev;
    std::unique_ptr<TcpTransport>& s = conn.s;
    REQUIRE(s->read_start() == 0);
    std::string payload;
    for (int i = 0; payload.size() < 3 * ReadSlab::kSize + 17; ++i)
        payload += std::to_string(i) + ",";
    // From another thread, so a full socket buffer cannot block the loop's thread.
    std::thread sender([&] { client.send(payload); });
    CHECK(f.run_until([&] { return ev.read.size() >= payload.size(); }));
    sender.join();
    CHECK(ev.read == payload);
    CHECK(ev.reads >= 2);
    f.close(s, ev);
}

TEST_CASE("the client's FIN ends reading with UV_EOF") {
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    Recorder& ev = conn.ev;
    std::unique_ptr<TcpTransport>& s = conn.s;
    REQUIRE(s->read_start() == 0);
    REQUIRE(client.send("last"));
    client.shutdown_write();
    REQUIRE(f.run_until([&] { return !ev.ends.empty(); }));
    CHECK(ev.read == "last");
    CHECK(ev.ends == std::vector<int>{UV_EOF});
    // Reading again after the end reports the end again (libuv's streams did the same).
    REQUIRE(s->read_start() == 0);
    REQUIRE(f.run_until([&] { return ev.ends.size() == 2; }));
    CHECK(ev.ends == std::vector<int>{UV_EOF, UV_EOF});
    f.close(s, ev);
    CHECK(ev.ends.size() == 2);
}

TEST_CASE("bytes sent while reads are stopped are delivered after read_start") {
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    Recorder& ev = conn.ev;
    std::unique_ptr<TcpTransport>& s = conn.s;
    REQUIRE(s->read_start() == 0);
    s->read_stop();
    s->read_stop();  // idempotent
    REQUIRE(client.send("held back"));
    // Once the client's send queue is empty the server's kernel has the bytes; the loop may
    // then spin without delivering them.
    REQUIRE(wait_until([&] { return unacked(client.fd()) == 0; }));
    for (int i = 0; i < 20; ++i) uv_run(f.loop(), UV_RUN_NOWAIT);
    CHECK(ev.read.empty());
    REQUIRE(s->read_start() == 0);
    CHECK(f.run_until([&] { return ev.read == "held back"; }));
    f.close(s, ev);
}

TEST_CASE("bytes sent before the connection was accepted are delivered") {
    LoopFixture f;
    RawClient client(f.port());
    REQUIRE(client.send("early bytes"));
    REQUIRE(wait_until([&] { return unacked(client.fd()) == 0; }));
    auto& conn = f.accept();
    REQUIRE(conn.s->read_start() == 0);
    CHECK(f.run_until([&] { return conn.ev.read == "early bytes"; }));
    f.close(conn.s, conn.ev);
}

TEST_CASE("bytes and FIN sent before the connection was accepted: the bytes, then one UV_EOF") {
    LoopFixture f;
    RawClient client(f.port());
    REQUIRE(client.send("all of it"));
    client.shutdown_write();
    REQUIRE(wait_until([&] { return unacked(client.fd()) == 0; }));
    auto& conn = f.accept();
    REQUIRE(conn.s->read_start() == 0);
    REQUIRE(f.run_until([&] { return !conn.ev.ends.empty(); }));
    CHECK(conn.ev.read == "all of it");
    for (int i = 0; i < 5; ++i) uv_run(f.loop(), UV_RUN_NOWAIT);
    CHECK(conn.ev.ends == std::vector<int>{UV_EOF});
    f.close(conn.s, conn.ev);
}

TEST_CASE("urgent data does not leave the bytes after it unread") {
    // A read stops short at TCP's urgent mark, and no new edge comes for what follows it.
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    REQUIRE(client.send("GET / HTTP/1.1\r\n"));
    REQUIRE(::send(client.fd(), "!", 1, MSG_OOB) == 1);
    REQUIRE(client.send("Host: a\r\n\r\n"));
    REQUIRE(wait_until([&] { return unacked(client.fd()) == 0; }));
    REQUIRE(conn.s->read_start() == 0);
    // The urgent byte itself is out of band: not part of the bytes read.
    CHECK(f.run_until([&] { return conn.ev.read == "GET / HTTP/1.1\r\nHost: a\r\n\r\n"; }));
    CHECK(conn.ev.ends.empty());
    f.close(conn.s, conn.ev);
}

TEST_CASE("a peer's reset ends reading with UV_ECONNRESET") {
    LoopFixture f;
    auto client = std::make_unique<RawClient>(f.port());
    auto& conn = f.accept();
    REQUIRE(conn.s->read_start() == 0);
    const linger hard{1, 0};
    REQUIRE(::setsockopt(client->fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard) == 0);
    client.reset();  // close with SO_LINGER 0: RST
    REQUIRE(f.run_until([&] { return !conn.ev.ends.empty(); }));
    CHECK(conn.ev.ends == std::vector<int>{UV_ECONNRESET});
    f.close(conn.s, conn.ev);
}

TEST_CASE("a transport that fills many slabs in a row lets another connection be read") {
    LoopFixture f;
    RawClient big_client(f.port());
    auto& big = f.accept();
    RawClient small_client(f.port());
    auto& small = f.accept();
    REQUIRE(big.s->read_start() == 0);
    REQUIRE(small.s->read_start() == 0);
    std::string payload;
    for (int i = 0; payload.size() < 40 * ReadSlab::kSize; ++i) payload += std::to_string(i) + ":";
    bool sent = false;
    std::thread sender([&] { sent = big_client.send(payload); });
    REQUIRE(small_client.send("small"));
    const bool both = f.run_until(
        [&] { return small.ev.read == "small" && big.ev.read.size() >= payload.size(); });
    sender.join();
    REQUIRE(both);
    CHECK(sent);
    CHECK(big.ev.read == payload);
    f.close(big.s, big.ev);
    f.close(small.s, small.ev);
}

TEST_CASE("reads stopped inside a read callback resume where they left off") {
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    Recorder& ev = conn.ev;
    std::unique_ptr<TcpTransport>& s = conn.s;
    std::string payload;
    for (int i = 0; payload.size() < 4 * ReadSlab::kSize; ++i) payload += std::to_string(i) + ";";
    bool sent = false;
    std::thread sender([&] { sent = client.send(payload); });
    // Stop after every read: each read_start must bring the next piece, though no new byte
    // arrives to make an edge.
    ev.after_read = [&] { s->read_stop(); };
    REQUIRE(s->read_start() == 0);
    int starts = 1;
    bool progressed = true;  // no REQUIRE while the sender runs: it must be joined first
    while (progressed && ev.read.size() < payload.size() && starts < 1000) {
        const int before = ev.reads;
        progressed = f.run_until([&] { return ev.reads > before; });
        for (int i = 0; i < 5; ++i) uv_run(f.loop(), UV_RUN_NOWAIT);
        CHECK(ev.reads == before + 1);  // stopped: nothing more until read_start
        progressed = progressed && s->read_start() == 0;
        ++starts;
    }
    sender.join();
    CHECK(progressed);
    CHECK(sent);
    CHECK(ev.read == payload);
    CHECK(ev.reads >= 4);
    f.close(s, ev);
}

TEST_CASE("a gathered write reaches the client and reports success") {
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    Recorder& ev = conn.ev;
    std::unique_ptr<TcpTransport>& s = conn.s;
    std::string a = "HTTP/1.1 200 OK\r\n";
    std::string b = "Content-Length: 2\r\n\r\nok";
    uv_buf_t bufs[] = {uv_buf_init(a.data(), static_cast<unsigned>(a.size())),
                       uv_buf_init(b.data(), static_cast<unsigned>(b.size()))};
    REQUIRE(s->write(bufs, 2) == 0);
    REQUIRE(f.run_until([&] { return !ev.written.empty(); }));
    CHECK(ev.written == std::vector<int>{0});
    CHECK(recv_exact(client.fd(), a.size() + b.size()) == a + b);
    f.close(s, ev);
    CHECK(ev.written.size() == 1);
}

TEST_CASE("try_write sends at once") {
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    Recorder& ev = conn.ev;
    std::unique_ptr<TcpTransport>& s = conn.s;
    const std::string reply = "HTTP/1.1 503 Service Unavailable\r\n\r\n";
    uv_buf_t buf =
        uv_buf_init(const_cast<char*>(reply.data()), static_cast<unsigned>(reply.size()));
    CHECK(s->try_write(&buf, 1) == static_cast<int>(reply.size()));
    CHECK(recv_exact(client.fd(), reply.size()) == reply);
    CHECK(ev.written.empty());  // no callback for a try_write
    f.close(s, ev);
}

TEST_CASE("shutdown sends FIN after the queued write") {
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    Recorder& ev = conn.ev;
    std::unique_ptr<TcpTransport>& s = conn.s;
    std::string a = "bye";
    uv_buf_t buf = uv_buf_init(a.data(), 3);
    REQUIRE(s->write(&buf, 1) == 0);
    s->shutdown();
    s->shutdown();  // idempotent
    REQUIRE(f.run_until([&] { return !ev.written.empty(); }));
    // The loop must turn for the shutdown to be carried out; the client then sees the FIN.
    CHECK(f.run_until([&] { return peer_shut_down(client.fd()); }));
    const std::string got = client.read_until_close();
    CHECK(got == "bye");
    f.close(s, ev);
}

TEST_CASE("peer() is the client's address and port") {
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    Recorder& ev = conn.ev;
    std::unique_ptr<TcpTransport>& s = conn.s;
    const PeerName p = s->peer();
    CHECK(p.address == "127.0.0.1");
    CHECK(p.port == client.local_port());
    CHECK(p.port != 0);
    f.close(s, ev);
}

TEST_CASE("close leads to on_transport_closed exactly once") {
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    Recorder& ev = conn.ev;
    std::unique_ptr<TcpTransport>& s = conn.s;
    REQUIRE(s->read_start() == 0);
    s->close();
    s->close();             // idempotent
    CHECK(ev.closed == 0);  // only from the close callback
    REQUIRE(f.run_until([&] { return ev.closed > 0; }));
    for (int i = 0; i < 5; ++i) uv_run(f.loop(), UV_RUN_NOWAIT);
    CHECK(ev.closed == 1);
    CHECK(ev.ends.empty());  // closing is not an end of reading
    CHECK(client.wait_closed());
}

TEST_CASE("a discarded transport closes the socket and frees itself, telling its events nothing") {
    // Worker::accept_one's way out when the connection cannot be allocated. The sanitizer
    // build checks that the memory goes in the close callback, and only there.
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    REQUIRE(conn.s->read_start() == 0);
    TcpTransport::discard(std::move(conn.s));
    CHECK(conn.s == nullptr);
    CHECK(client.wait_closed());
    for (int i = 0; i < 3; ++i) uv_run(f.loop(), UV_RUN_NOWAIT);  // runs the close callback
    CHECK(conn.ev.closed == 0);
    CHECK(conn.ev.ends.empty());
}

TEST_CASE("after close, write is refused with UV_ECANCELED and read_start does nothing") {
    LoopFixture f;
    RawClient client(f.port());
    auto& conn = f.accept();
    Recorder& ev = conn.ev;
    std::unique_ptr<TcpTransport>& s = conn.s;
    s->close();
    std::string a = "late";
    uv_buf_t buf = uv_buf_init(a.data(), 4);
    CHECK(s->write(&buf, 1) == UV_ECANCELED);
    CHECK(s->read_start() == 0);
    s->shutdown();  // ignored while closing
    REQUIRE(f.run_until([&] { return ev.closed > 0; }));
    CHECK(ev.written.empty());
    CHECK(ev.closed == 1);
}

TEST_CASE("closing with a write in flight reports no write completion, only the close") {
    LoopFixture f;
    RawClient client(f.port());
    client.set_receive_buffer(4096);
    auto& conn = f.accept();
    Recorder& ev = conn.ev;
    std::unique_ptr<TcpTransport>& s = conn.s;
    // Far more than the socket buffers hold while the client reads nothing.
    std::string big(32 * 1024 * 1024, 'x');
    uv_buf_t buf = uv_buf_init(big.data(), static_cast<unsigned>(big.size()));
    REQUIRE(s->write(&buf, 1) == 0);
    uv_run(f.loop(), UV_RUN_NOWAIT);
    REQUIRE(ev.written.empty());
    s->close();
    REQUIRE(f.run_until([&] { return ev.closed > 0; }));
    CHECK(ev.written.empty());  // the UV_ECANCELED completion is swallowed
    CHECK(ev.closed == 1);
}

}  // TEST_SUITE("net/tcp_transport")
