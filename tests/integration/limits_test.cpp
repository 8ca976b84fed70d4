// Size limits, malformed heads and max_connections over real sockets: status, error body, close.
#include "fd_starvation.hpp"
#include "late_client.hpp"
#include "over_tls.hpp"
#include "path_log.hpp"
#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using vstream::list_has_token;
using vstream::ServerConfig;
using vstream::test::LateClient;
using vstream::test::over_tls;
using vstream::test::PathLog;
using vstream::test::RawClient;
using vstream::test::test_config;
using vstream::test::TestServer;
using vstream::test::wait_until;

namespace {

// Small limits, so that each is crossed with a few hundred bytes.
constexpr std::size_t kRequestLine = 256;
constexpr std::size_t kHeaderBytes = 512;
constexpr std::size_t kHeaderCount = 8;
constexpr std::size_t kBodyBytes = 1024;

ServerConfig limits_config() {
    ServerConfig c = test_config();
    c.limits.max_request_line = kRequestLine;
    c.limits.max_header_bytes = kHeaderBytes;
    c.limits.max_header_count = kHeaderCount;
    c.limits.max_body_bytes = kBodyBytes;
    return c;
}

// Records the path; /echo answers the body, anything else "ok".
vstream::Handler recording_handler(const std::shared_ptr<PathLog>& seen) {
    return [seen](vstream::Context& ctx) {
        seen->add(ctx.path());
        if (ctx.path() == "/echo") {
            ctx.text(200, vstream::Body::copy(ctx.body()));
        } else {
            ctx.text(200, "ok\n");
        }
    };
}

// Checks the shape every refusal shares: a short text/plain reason, Connection: close.
void check_error_response(const vstream::test::Response& r, int status) {
    CHECK(r.status == status);
    CHECK(r.header("content-type").rfind("text/plain", 0) == 0);
    CHECK_FALSE(r.body.empty());
    CHECK(r.body.size() < 200);
    CHECK(r.body.find(std::to_string(status)) != std::string::npos);
    CHECK(list_has_token(r.header("connection"), "close"));
}

// Sends `request` on a fresh connection, expects one `status` refusal, then the close.
void expect_refused(std::uint16_t port, std::string_view request, int status) {
    RawClient c(port);
    REQUIRE(c.send(request));
    const auto r = c.read_response();
    REQUIRE(r.has_value());
    check_error_response(*r, status);
    CHECK(c.wait_closed());
}

// Sends `request` on a fresh connection and expects a 200.
void expect_served(std::uint16_t port, std::string_view request) {
    RawClient c(port);
    REQUIRE(c.send(request));
    const auto r = c.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
}

std::string chunk(std::size_t n, char fill) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    return size + std::string(n, fill) + "\r\n";
}

// User plus system CPU time of `pid`, in clock ticks (/proc/<pid>/stat fields 14 and 15).
long cpu_ticks(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t paren = stat.rfind(')');
    if (paren == std::string::npos) return -1;
    std::istringstream fields(stat.substr(paren + 2));  // from field 3, the state
    std::string field;
    long utime = 0;
    long stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14) utime = std::stol(field);
        if (i == 15) stime = std::stol(field);
    }
    return utime + stime;
}

// Whether the server refused `c` when it connected (having received `got` from it): with a 503
// over plain TCP; over TLS by closing before any byte, so that the handshake failed (the server
// closes only refused connections before their handshake ends).
bool refused(const RawClient& c, const std::string& got) {
    if (over_tls()) return !c.handshake_error().empty();
    return got.rfind("HTTP/1.1 503 ", 0) == 0;
}

// Runs a server of `config` in a child process whose descriptor limit leaves room for only
// `spare` more descriptors. Writes the port to `port_fd`; stops and exits once `stop_fd` reads
// EOF. The config comes from the parent: over TLS, test_config() makes the test certificates
// on first use, and a child would leave their directory behind (it exits without destructors).
[[noreturn]] void run_starved_server(const ServerConfig& config, int port_fd, int stop_fd,
                                     int spare) {
    int code = 0;
    try {
        vstream::Server server(config);
        server.handle(vstream::test::hello_handler);
        server.start();
        vstream::test::FdStarvation starved(spare);
        if (!starved.ok()) ::_exit(3);
        const std::uint16_t port = server.port();
        if (::write(port_fd, &port, sizeof port) != sizeof port) ::_exit(4);
        char byte;
        while (::read(stop_fd, &byte, 1) != 0) {
        }
        server.stop();
    } catch (...) {
        code = 2;
    }
    ::_exit(code);
}

// Once descriptors have run out, takes the first one that is freed and keeps it, as another
// thread of a host might (opening a file, say), so that a loop's EMFILE reserve can be lost.
// Gives up after 10 s.
void steal_a_freed_descriptor() {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    bool exhausted = false;
    while (std::chrono::steady_clock::now() < deadline) {
        const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            exhausted = true;
        } else if (exhausted) {
            return;  // kept until the process exits
        } else {
            ::close(fd);
        }
    }
}

// Like run_starved_server, on two loops, with a 1 s header timeout (idle connections close
// after it), a short accept back-off, GET /stats answering "<refused> <rejected>", and a
// thread that steals one freed descriptor.
[[noreturn]] void run_exhausted_server(const ServerConfig& config, int port_fd, int stop_fd,
                                       int spare) {
    int code = 0;
    try {
        ServerConfig c = config;
        c.threads = 2;
        c.timeouts.header = 1s;
        c.timeouts.accept_backoff = 50ms;
        vstream::Server server(c);
        server.get("/ping", vstream::test::hello_handler);
        server.get("/stats", [&server](vstream::Context& ctx) {
            const vstream::ServerStats st = server.stats();
            ctx.text(200, std::to_string(st.connections_refused) + " " +
                              std::to_string(st.connections_rejected));
        });
        server.start();
        vstream::test::FdStarvation starved(spare);
        if (!starved.ok()) ::_exit(3);
        std::thread(steal_a_freed_descriptor).detach();  // ends with the process at the latest
        const std::uint16_t port = server.port();
        if (::write(port_fd, &port, sizeof port) != sizeof port) ::_exit(4);
        char byte;
        while (::read(stop_fd, &byte, 1) != 0) {
        }
        server.stop();
    } catch (...) {
        code = 2;
    }
    ::_exit(code);
}

// A server run by `body(port_fd, stop_fd)` in a forked child, so that starving it of
// descriptors starves only it and not this process's clients. The child is killed if the
// test ends without a stop that worked.
class ChildServer {
public:
    explicit ChildServer(const std::function<void(int, int)>& body) {
        int port_pipe[2];
        int stop_pipe[2];
        REQUIRE(::pipe2(port_pipe, O_CLOEXEC) == 0);
        REQUIRE(::pipe2(stop_pipe, O_CLOEXEC) == 0);
        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::close(port_pipe[0]);
            ::close(stop_pipe[1]);
            body(port_pipe[1], stop_pipe[0]);
            ::_exit(1);
        }
        ::close(port_pipe[1]);
        ::close(stop_pipe[0]);
        stop_fd_ = stop_pipe[1];
        pollfd p{port_pipe[0], POLLIN, 0};
        const bool said =
            ::poll(&p, 1, 10000) == 1 && ::read(port_pipe[0], &port_, sizeof port_) == sizeof port_;
        if (!said) port_ = 0;
        ::close(port_pipe[0]);
    }
    ~ChildServer() {
        if (stop_fd_ >= 0) ::close(stop_fd_);
        if (!reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status_, 0);
        }
    }
    ChildServer(const ChildServer&) = delete;
    ChildServer& operator=(const ChildServer&) = delete;

    /// The port the child serves on; 0 if it never said.
    std::uint16_t port() const { return port_; }
    pid_t pid() const { return pid_; }
    /// Asks the child to stop the server and exit, and waits for that at most `within`; true
    /// if it exited with status 0.
    bool stop(std::chrono::milliseconds within) {
        ::close(stop_fd_);
        stop_fd_ = -1;
        reaped_ = wait_until([&] { return ::waitpid(pid_, &status_, WNOHANG) == pid_; }, within);
        return reaped_ && WIFEXITED(status_) && WEXITSTATUS(status_) == 0;
    }

private:
    pid_t pid_ = -1;
    int stop_fd_ = -1;
    std::uint16_t port_ = 0;
    int status_ = -1;
    bool reaped_ = false;
};

}  // namespace

TEST_SUITE("integration/limits") {

TEST_CASE("a request line longer than max_request_line is answered 414 and closed") {
    auto seen = std::make_shared<PathLog>();
    TestServer srv(recording_handler(seen), limits_config());
    const std::string target = "/" + std::string(kRequestLine * 2, 'a');
    expect_refused(srv.port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n", 414);
    CHECK(seen->snapshot().empty());
}

TEST_CASE("a URL exactly at max_request_line is accepted and one byte more is 414") {
    auto seen = std::make_shared<PathLog>();
    TestServer srv(recording_handler(seen), limits_config());
    // "GET " + target + " HTTP/1.1" is exactly kRequestLine bytes.
    const std::string target = "/" + std::string(kRequestLine - 4 - 9 - 1, 'a');
    REQUIRE(("GET " + target + " HTTP/1.1").size() == kRequestLine);
    expect_served(srv.port(), "GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    const auto paths = seen->snapshot();
    REQUIRE(paths.size() == 1);
    CHECK(paths[0] == target);
    expect_refused(srv.port(), "GET " + target + "a HTTP/1.1\r\nHost: x\r\n\r\n", 414);
    CHECK(seen->snapshot().size() == 1);
}

TEST_CASE("header bytes over max_header_bytes are answered 431 and exactly at it are accepted") {
    auto seen = std::make_shared<PathLog>();
    TestServer srv(recording_handler(seen), limits_config());
    // Field lines "Host: x\r\n" (9 bytes) and "X-Fill: <v>\r\n" (10 + v bytes) fill the limit.
    const std::size_t fill = kHeaderBytes - 9 - 10;
    const auto request = [](std::size_t n) {
        return "GET / HTTP/1.1\r\nHost: x\r\nX-Fill: " + std::string(n, 'v') + "\r\n\r\n";
    };
    expect_served(srv.port(), request(fill));
    expect_refused(srv.port(), request(fill + 1), 431);
    // Far over: the limit is enforced while the bytes arrive, not after.
    expect_refused(srv.port(), request(kHeaderBytes * 8), 431);
    CHECK(seen->snapshot().size() == 1);
}

TEST_CASE("more header fields than max_header_count are answered 431 and exactly that many pass") {
    auto seen = std::make_shared<PathLog>();
    TestServer srv(recording_handler(seen), limits_config());
    const auto request = [](std::size_t fields) {
        std::string r = "GET / HTTP/1.1\r\nHost: x\r\n";
        for (std::size_t i = 1; i < fields; ++i) r += "X-" + std::to_string(i) + ": v\r\n";
        return r + "\r\n";
    };
    expect_served(srv.port(), request(kHeaderCount));
    expect_refused(srv.port(), request(kHeaderCount + 1), 431);
    CHECK(seen->snapshot().size() == 1);
}

TEST_CASE("a Content-Length over max_body_bytes is answered 413 before the body is sent") {
    auto seen = std::make_shared<PathLog>();
    TestServer srv(recording_handler(seen), limits_config());
    RawClient c(srv.port());
    // Only the head: the 413 must come without waiting for a single body byte.
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                   std::to_string(kBodyBytes + 1) + "\r\n\r\n"));
    const auto r = c.read_response();
    REQUIRE(r.has_value());
    check_error_response(*r, 413);
    CHECK(c.wait_closed());
    CHECK(seen->snapshot().empty());
}

TEST_CASE("a Content-Length body exactly at max_body_bytes is accepted") {
    auto seen = std::make_shared<PathLog>();
    TestServer srv(recording_handler(seen), limits_config());
    RawClient c(srv.port());
    const std::string body(kBodyBytes, 'b');
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\n\r\n" + body));
    const auto r = c.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->body == body);
}

TEST_CASE("a chunked body growing past max_body_bytes is answered 413 and closed") {
    auto seen = std::make_shared<PathLog>();
    TestServer srv(recording_handler(seen), limits_config());
    const std::string head = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    // Two chunks that together exceed the limit, each under it.
    expect_refused(
        srv.port(),
        head + chunk(kBodyBytes / 2 + 100, 'c') + chunk(kBodyBytes / 2 + 100, 'd') + "0\r\n\r\n",
        413);
    CHECK(seen->snapshot().empty());

    // Exactly at the limit is accepted and de-chunked.
    RawClient c(srv.port());
    REQUIRE(c.send(head + chunk(kBodyBytes / 2, 'c') + chunk(kBodyBytes / 2, 'd') + "0\r\n\r\n"));
    const auto r = c.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->body == std::string(kBodyBytes / 2, 'c') + std::string(kBodyBytes / 2, 'd'));
}

TEST_CASE("malformed heads, unknown methods and other versions get their status and a close") {
    auto seen = std::make_shared<PathLog>();
    TestServer srv(recording_handler(seen), limits_config());
    struct Row {
        std::string name;
        std::string request;
        int status;
    };
    const std::vector<Row> rows = {
        // Well-formed token, but not a method we know: 501 (RFC 9110 §9.1).
        {"unknown method FOO", "FOO / HTTP/1.1\r\nHost: x\r\n\r\n", 501},
        {"unknown method BREW", "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501},
        // Not a token at all: malformed.
        {"garbage method bytes", "\x01\x02 / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        // Well-formed but not HTTP/1.x: 505 (RFC 9110 §15.6.6).
        {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        {"HTTP/3.1", "GET / HTTP/3.1\r\nHost: x\r\n\r\n", 505},
        {"HTTP/0.9", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505},
        // A version that is not HTTP-version syntax is a malformed request line: 400.
        {"HTTP/1.x", "GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400},
        {"lower-case http/1.1", "GET / http/1.1\r\nHost: x\r\n\r\n", 400},
        // RFC 9112 §3.2: exactly one Host in HTTP/1.1.
        {"missing Host on HTTP/1.1", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
        {"two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"two identical Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
        // Malformed request lines. RFC 9112 §3 would let a recipient split the line on any
        // whitespace; vstream takes the stricter reading (exactly two SP) and refuses.
        {"no version", "GET /\r\nHost: x\r\n\r\n", 400},
        {"two spaces after the method", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"junk after the version", "GET / HTTP/1.1 junk\r\nHost: x\r\n\r\n", 400},
        {"tab as separator", "GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"leading space", " GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
    };
    for (const Row& row : rows) {
        CAPTURE(row.name);
        expect_refused(srv.port(), row.request, row.status);
    }
    CHECK(seen->snapshot().empty());
}

TEST_CASE("an HTTP/1.2 request is served as HTTP/1.1") {
    // RFC 9112 §2.3: a higher minor version of a major version we implement SHOULD be
    // processed as the highest minor we implement (and src/http1/parser.cpp says so).
    auto seen = std::make_shared<PathLog>();
    TestServer srv(recording_handler(seen), limits_config());
    RawClient c(srv.port());
    REQUIRE(c.send("GET /later HTTP/1.2\r\nHost: x\r\n\r\n"));
    const auto r = c.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
}

TEST_CASE("an HTTP/1.0 request without Host is served") {
    auto seen = std::make_shared<PathLog>();
    TestServer srv(recording_handler(seen), limits_config());
    RawClient c(srv.port());
    REQUIRE(c.send("GET /old HTTP/1.0\r\n\r\n"));
    const auto r = c.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(c.wait_closed());  // 1.0 without keep-alive: closed after the response
}

TEST_CASE("past max_connections a new connection gets 503 and a close, until one closes") {
    auto seen = std::make_shared<PathLog>();
    ServerConfig cfg = limits_config();
    cfg.threads = 1;
    cfg.limits.max_connections = 2;
    TestServer srv(recording_handler(seen), cfg);
    const std::string ping = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";

    auto first = std::make_unique<RawClient>(srv.port());
    RawClient second(srv.port());
    for (RawClient* c : {first.get(), &second}) {
        REQUIRE(c->send(ping));
        const auto r = c->read_response();
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
    }
    REQUIRE(wait_until([&] { return srv.server().stats().connections_open == 2; }));

    if (over_tls()) {
        // No answer can come before a handshake: the third is closed at once without a byte
        // (a plain socket reads none, where plain HTTP would make a TLS client's handshake fail
        // with "wrong version number"), so a TLS client's handshake fails.
        LateClient plain;
        REQUIRE(plain.connect_to(srv.port()));
        const auto got = plain.read_until_close();
        REQUIRE(got.has_value());
        CHECK(got->empty());
        RawClient third(srv.port());
        CHECK_FALSE(third.handshake_error().empty());
        CHECK(third.wait_closed());
    } else {
        // The third is answered without sending anything, and closed at once.
        RawClient third(srv.port());
        const auto r = third.read_response();
        REQUIRE(r.has_value());
        CHECK(r->status == 503);
        CHECK(r->header("content-type").rfind("text/plain", 0) == 0);
        CHECK(list_has_token(r->header("connection"), "close"));
        CHECK(third.wait_closed());
    }
    // The loop counts the refusal after the close the client has seen: wait for it.
    CHECK(wait_until([&] { return srv.server().stats().connections_rejected >= 1; }));
    CHECK(srv.server().stats().connections_open == 2);

    // The two held connections still work.
    REQUIRE(second.send(ping));
    const auto again = second.read_response();
    REQUIRE(again.has_value());
    CHECK(again->status == 200);

    first.reset();
    REQUIRE(wait_until([&] { return srv.server().stats().connections_open == 1; }));
    RawClient fourth(srv.port());
    REQUIRE(fourth.send(ping));
    const auto r = fourth.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
}

TEST_CASE("a client sending garbage never stalls the other connections") {
    auto seen = std::make_shared<PathLog>();
    TestServer srv(recording_handler(seen), limits_config());

    // A connection in the middle of a head, and one that sends garbage.
    RawClient partial(srv.port());
    REQUIRE(partial.send("GET /partial HTTP/1.1\r\nHost: x\r\nX-Half: "));
    RawClient garbage(srv.port());
    REQUIRE(garbage.send(std::string("\x00\x01\x02\xff\xfe garbage \r\n\r\n", 17)));

    // Another client is served, request after request, meanwhile.
    RawClient good(srv.port());
    for (int i = 0; i < 20; ++i) {
        CAPTURE(i);
        REQUIRE(good.send("GET /good HTTP/1.1\r\nHost: x\r\n\r\n"));
        const auto r = good.read_response();
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
    }

    const auto bad = garbage.read_response();
    REQUIRE(bad.has_value());
    check_error_response(*bad, 400);
    CHECK(garbage.wait_closed());

    // The half-sent head completes normally.
    REQUIRE(partial.send("done\r\n\r\n"));
    const auto r = partial.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
}

TEST_CASE("a server out of file descriptors does not spin, and serves again once they are freed") {
    // Past its descriptors, the server refuses new connections with a 503 (taken with a
    // reserve descriptor) and stops accepting for the back-off, so the listener that stays
    // readable is not polled in a busy loop.
    const ServerConfig config = test_config();
    ChildServer child(
        [&](int port_fd, int stop_fd) { run_starved_server(config, port_fd, stop_fd, 4); });
    const std::uint16_t port = child.port();
    REQUIRE(port != 0);
    const pid_t pid = child.pid();

    // Many more connections than the child has descriptors: the first few are served and
    // stay open, the rest are refused (503) and closed.
    const std::string ping = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
    std::vector<std::unique_ptr<RawClient>> clients;
    int served = 0;
    for (int i = 0; i < 64; ++i) {
        clients.push_back(std::make_unique<RawClient>(port, 2s));
        if (!clients.back()->send(ping)) continue;
        const auto r = clients.back()->read_response();
        if (r && r->status == 200) ++served;
    }
    CAPTURE(served);
    CHECK(served >= 1);
    CHECK(served < 64);  // the limit did bite

    // While out of descriptors, more connections keep arriving; the child must not busy-loop.
    // (The sleep paces the new connections; the bound is generous: half the wall time.)
    const long ticks_per_second = ::sysconf(_SC_CLK_TCK);
    const long cpu_before = cpu_ticks(pid);
    const auto wall_before = std::chrono::steady_clock::now();
    for (int i = 0; i < 50; ++i) {
        RawClient extra(port, 2s);
        extra.send(ping);
        std::this_thread::sleep_for(20ms);
    }
    const long cpu_after = cpu_ticks(pid);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_before).count();
    REQUIRE(cpu_before >= 0);
    const double cpu =
        static_cast<double>(cpu_after - cpu_before) / static_cast<double>(ticks_per_second);
    CAPTURE(cpu);
    CAPTURE(wall);
    CHECK(cpu < 0.5 * wall);

    // Once the clients go, their descriptors are freed and /ping is served again.
    clients.clear();
    CHECK(wait_until([&] {
        try {
            const auto r = vstream::test::roundtrip(port, ping);
            return r.has_value() && r->status == 200;
        } catch (...) {
            return false;
        }
    }));

    CHECK(child.stop(15s));
}

TEST_CASE(
    "out of descriptors on two loops, the server keeps serving, closes idle connections on "
    "time, answers or refuses new ones, stops when asked, and recovers by itself") {
    // vstream-serve under a 1024-descriptor limit, scaled down: two loops, 16 descriptors to
    // spare, 200 idle connections, and a thread that takes a descriptor the server frees.
    // Through uv_listen(), a loop whose EMFILE reserve was taken by another thread called
    // accept for good: timers never fired, idle connections never closed, stop() never
    // returned, and nothing was served again.
    constexpr int kSpare = 16;
    constexpr int kIdle = 200;
    const ServerConfig config = test_config();
    ChildServer child(
        [&](int port_fd, int stop_fd) { run_exhausted_server(config, port_fd, stop_fd, kSpare); });
    const std::uint16_t port = child.port();
    REQUIRE(port != 0);
    const std::string ping = "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";

    RawClient kept(port);  // a keep-alive connection, served before, during and after
    REQUIRE(kept.send(ping));
    auto r = kept.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);

    std::vector<std::unique_ptr<RawClient>> idle;
    for (int i = 0; i < kIdle; ++i) idle.push_back(std::make_unique<RawClient>(port, 15s));

    REQUIRE(kept.send(ping));
    r = kept.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);

    // Each idle connection ends: refused at once (503; over TLS closed before its handshake
    // ended, see refused()), or accepted and closed silently once its header timeout passes. A
    // stalled loop would leave some open: stop at the first.
    int refused_seen = 0;
    int closed = 0;
    for (const auto& c : idle) {
        const std::string got = c->read_until_close();
        if (!c->wait_closed()) break;
        ++closed;
        if (refused(*c, got)) {
            ++refused_seen;
        } else {
            CHECK(got.empty());
        }
    }
    CAPTURE(refused_seen);
    CHECK(closed == kIdle);
    // They far outnumber the descriptors, so at least some waited for none: those are told.
    CHECK(refused_seen > 0);
    MESSAGE(refused_seen << " of " << kIdle << " idle connections were refused");

    // Their descriptors are free again: new connections are served, without help.
    CHECK(wait_until(
        [&] {
            try {
                RawClient c(port);
                if (refused(c, "")) {
                    ++refused_seen;
                    return false;
                }
                if (!c.send(ping)) return false;
                const auto p = c.read_response();
                if (p && p->status == 503) ++refused_seen;
                return p.has_value() && p->status == 200;
            } catch (...) {
                return false;  // connect failed
            }
        },
        20s));
    REQUIRE(kept.send(ping));
    r = kept.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 200);

    // Every refusal the clients saw was counted, and none was for max_connections.
    const auto stats = vstream::test::roundtrip(port, "GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(stats.has_value());
    REQUIRE(stats->status == 200);
    CHECK(stats->body == std::to_string(refused_seen) + " 0");

    CHECK(child.stop(15s));
}

}  // TEST_SUITE("integration/limits")
