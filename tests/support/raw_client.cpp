#include "raw_client.hpp"

#include "net/sigpipe_guard.hpp"
#include "over_tls.hpp"
#include "test_certs.hpp"
#include "tls/openssl_ptr.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace vstream::test {

namespace {

using Clock = std::chrono::steady_clock;
constexpr Clock::time_point kNever = Clock::time_point::max();
constexpr std::size_t kRecord = 16 * 1024;  // TLS's largest plaintext record (RFC 8446 §5.1)

// poll()'s timeout until `deadline`, rounded up: -1 for kNever, 0 once it has passed.
int poll_timeout(Clock::time_point deadline) {
    if (deadline == kNever) return -1;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return 0;
    return static_cast<int>(std::min<long long>(left.count(), INT_MAX));
}

// The client context of every RawClient over TLS: it trusts the test CA and verifies the
// server's certificate (the name is set per connection).
SSL_CTX* client_context() {
    static const tls::SslCtxPtr ctx = [] {
        tls::SslCtxPtr c(SSL_CTX_new(TLS_client_method()));
        if (!c || SSL_CTX_load_verify_locations(c.get(), test_certs().ca.c_str(), nullptr) != 1) {
            ERR_clear_error();
            throw std::runtime_error("RawClient: cannot make the TLS client context");
        }
        SSL_CTX_set_verify(c.get(), SSL_VERIFY_PEER, nullptr);
        // A thousand idle clients at once (concurrency_test) need not hold 34 KiB each.
        SSL_CTX_set_mode(c.get(), SSL_MODE_RELEASE_BUFFERS);
        return c;
    }();
    return ctx.get();
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return s.substr(i);
}

}  // namespace

// The TLS session over the client's socket. Every OpenSSL call runs under `mutex`, so that a
// sender thread and a reader thread may share the client; no wait does.
struct RawClient::Tls {
    tls::SslPtr ssl;
    int fd = -1;
    std::mutex mutex;
    std::string error;  // why the last call failed for good (guarded by mutex)

    // Repeats `call` (an SSL_* call on `ssl`) until it returns > 0, waiting in between for what
    // OpenSSL asked for (the socket readable or writable) until `deadline`. Returns the call's
    // result, 0 when the time ran out, or -1 when the connection failed or ended (`error` says
    // how).
    template <class Call>
    int run(Call call, Clock::time_point deadline) {
        for (;;) {
            short events = 0;
            {
                std::lock_guard lock(mutex);
                // OpenSSL writes with write(2), which raises SIGPIPE on a connection the
                // server reset; a plain send() passes MSG_NOSIGNAL. The guard turns it back
                // into EPIPE for this thread alone.
                const net::SigpipeGuard no_sigpipe;
                ERR_clear_error();
                errno = 0;
                const int r = call(ssl.get());
                const int saved_errno = errno;
                if (r > 0) return r;
                const int e = SSL_get_error(ssl.get(), r);
                if (e == SSL_ERROR_WANT_READ) {
                    events = POLLIN;
                } else if (e == SSL_ERROR_WANT_WRITE) {
                    events = POLLOUT;
                } else {
                    error = describe(e, saved_errno);
                    ERR_clear_error();
                    return -1;
                }
            }
            const int wait = poll_timeout(deadline);
            if (wait == 0) return 0;
            pollfd p{fd, events, 0};
            const int rc = ::poll(&p, 1, wait);
            if (rc == 0) return 0;
            if (rc < 0 && errno != EINTR) {
                const int saved_errno = errno;
                std::lock_guard lock(mutex);
                error = std::string("poll: ") + std::strerror(saved_errno);
                return -1;
            }
        }
    }

    static std::string describe(int ssl_error, int saved_errno) {
        if (ssl_error == SSL_ERROR_ZERO_RETURN) return "closed by the server (close_notify)";
        if (ssl_error == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            return saved_errno != 0 ? std::strerror(saved_errno) : "closed without close_notify";
        }
        char text[256];
        ERR_error_string_n(ERR_peek_error(), text, sizeof text);
        return text;
    }
};

std::string Response::header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
}

RawClient::RawClient(std::uint16_t port, std::chrono::milliseconds timeout)
    : RawClient("127.0.0.1", port, timeout) {}

RawClient::RawClient(std::uint16_t port, const ClientOptions& options) : timeout_(options.timeout) {
    open("127.0.0.1", port, options.receive_buffer);
}

RawClient::RawClient(const std::string& address, std::uint16_t port,
                     std::chrono::milliseconds timeout)
    : timeout_(timeout) {
    open(address, port, 0);
}

void RawClient::open(const std::string& address, std::uint16_t port, int receive_buffer) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
        ::inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        len = sizeof *v4;
    } else if (auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
               ::inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof *v6;
    } else {
        throw std::runtime_error("not a numeric address: " + address);
    }
    fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    if (receive_buffer > 0) {
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error(std::string("connect failed: ") + std::strerror(errno));
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!over_tls()) return;
    try {
        start_tls();
    } catch (...) {
        tls_.reset();
        ::close(fd_);
        fd_ = -1;
        throw;
    }
}

void RawClient::start_tls() {
    tls_ = std::make_unique<Tls>();
    tls_->fd = fd_;
    tls_->ssl.reset(SSL_new(client_context()));
    SSL* ssl = tls_->ssl.get();
    // The certificate must be for "localhost" (the test certificate also names 127.0.0.1, but
    // not ::1), the name sent as SNI too.
    if (ssl == nullptr || SSL_set_fd(ssl, fd_) != 1 ||
        SSL_set_tlsext_host_name(ssl, "localhost") != 1 || SSL_set1_host(ssl, "localhost") != 1) {
        ERR_clear_error();
        throw std::runtime_error("RawClient: cannot make the TLS session");
    }
    SSL_set_connect_state(ssl);
    // Non-blocking, so that every wait is a poll() with a deadline: the client's timeout for
    // reads and the handshake, SO_SNDTIMEO (bound_sends) for sends.
    const int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) != 0) {
        throw std::runtime_error("RawClient: cannot make the socket non-blocking");
    }
    const int r = tls_->run([](SSL* s) { return SSL_do_handshake(s); }, Clock::now() + timeout_);
    if (r > 0) return;
    handshake_error_ = r == 0 ? "the TLS handshake timed out" : "TLS handshake: " + tls_->error;
    closed_ = true;
}

RawClient::~RawClient() {
    tls_.reset();  // SSL_free sends nothing: no close_notify, as documented
    if (fd_ >= 0) ::close(fd_);
}

bool RawClient::send(std::string_view bytes) {
    if (tls_) {
        if (!handshake_error_.empty()) return false;
        // What bounds a blocking send() (SO_SNDTIMEO, set by bound_sends; 0 is no bound)
        // bounds each wait here.
        timeval tv{};
        socklen_t len = sizeof tv;
        ::getsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, &len);
        const auto bound = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
        while (!bytes.empty()) {
            // One record per SSL_write: the bytes go out as they are given, split no coarser
            // than a plain send() of them could be.
            const int n = static_cast<int>(std::min(bytes.size(), kRecord));
            const Clock::time_point deadline = bound.count() == 0 ? kNever : Clock::now() + bound;
            const int r =
                tls_->run([&](SSL* s) { return SSL_write(s, bytes.data(), n); }, deadline);
            if (r <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(r));
        }
        return true;
    }
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

bool RawClient::fill() {
    if (closed_) return false;
    if (tls_) return read_some(buf_, 65536, Clock::now() + timeout_);
    pollfd p{fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, static_cast<int>(timeout_.count()));
    if (rc <= 0) return false;
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
        closed_ = true;
        return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
}

std::optional<Response> RawClient::read_response(bool head) {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
        if (!fill()) return std::nullopt;
    }
    Response r;
    const std::string head_text = buf_.substr(0, end);
    std::size_t pos = head_text.find("\r\n");
    const std::string status_line = head_text.substr(0, pos);
    // "HTTP/1.1 200 OK"
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) return std::nullopt;
    r.status = std::atoi(status_line.c_str() + 9);
    r.reason = status_line.size() > 13 ? status_line.substr(13) : "";
    while (pos != std::string::npos) {
        const std::size_t next = head_text.find("\r\n", pos + 2);
        const std::string line = head_text.substr(
            pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
        const std::size_t colon = line.find(':');
        if (colon != std::string::npos) {
            r.headers.emplace(lower(line.substr(0, colon)), trim(line.substr(colon + 1)));
        }
        pos = next;
    }
    buf_.erase(0, end + 4);
    if (head || r.status < 200 || r.status == 204 || r.status == 304) return r;
    if (r.has_header("content-length")) {
        const std::size_t len = std::stoull(r.header("content-length"));
        while (buf_.size() < len) {
            if (!fill()) return std::nullopt;
        }
        r.body = buf_.substr(0, len);
        buf_.erase(0, len);
    } else {
        while (fill()) {
        }
        r.body = std::move(buf_);
        buf_.clear();
    }
    return r;
}

std::string RawClient::read_until_close() {
    while (fill()) {
    }
    std::string all = std::move(buf_);
    buf_.clear();
    return all;
}

bool RawClient::wait_closed() {
    while (fill()) {
    }
    return closed_;
}

bool RawClient::read_some(std::string& into, std::size_t max, Clock::time_point deadline) {
    if (closed_) return false;
    if (!tls_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, poll_timeout(deadline)) <= 0) return false;
        std::vector<char> tmp(max);
        const ssize_t n = ::recv(fd_, tmp.data(), tmp.size(), 0);
        if (n <= 0) {
            closed_ = true;
            return false;
        }
        into.append(tmp.data(), static_cast<std::size_t>(n));
        return true;
    }
    // The first record waits until the deadline; what else has come is read without waiting.
    char tmp[kRecord];
    std::size_t got = 0;
    while (got < max) {
        const int want = static_cast<int>(std::min(max - got, sizeof tmp));
        const int n = tls_->run([&](SSL* s) { return SSL_read(s, tmp, want); },
                                got == 0 ? deadline : Clock::now());
        if (n < 0) closed_ = true;  // the end comes after what was read before it
        if (n <= 0) break;
        into.append(tmp, static_cast<std::size_t>(n));
        got += static_cast<std::size_t>(n);
    }
    return got > 0;
}

bool RawClient::receive(std::string& into, std::chrono::milliseconds timeout, std::size_t max) {
    if (!buf_.empty()) {
        into += buf_;
        buf_.clear();
        return true;
    }
    return read_some(into, max, Clock::now() + timeout);
}

bool RawClient::readable(std::chrono::milliseconds timeout) {
    if (!buf_.empty() || closed_) return true;
    if (!tls_) {
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, static_cast<int>(timeout.count())) > 0;
    }
    // Only a read tells bytes from records without any (a session ticket).
    return read_some(buf_, 65536, Clock::now() + timeout) || closed_;
}

void RawClient::shutdown_write() {
    if (tls_ && handshake_error_.empty()) {
        // close_notify ends our direction only (RFC 8446 §6.1): the server may still answer,
        // and SSL_read goes on reading it. SSL_shutdown returns 0 once it has sent the alert.
        tls_->run(
            [](SSL* s) {
                const int r = SSL_shutdown(s);
                return r < 0 ? r : 1;
            },
            Clock::now() + timeout_);
    }
    ::shutdown(fd_, SHUT_WR);
}

void bound_sends(RawClient& c, std::chrono::milliseconds timeout) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(c.fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void RawClient::set_receive_buffer(int bytes) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

std::uint16_t RawClient::local_port() const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
    return ntohs(a.sin_port);
}

std::optional<Response> roundtrip(std::uint16_t port, std::string_view request) {
    return roundtrip(port, request, "127.0.0.1");
}

std::optional<Response> roundtrip(std::uint16_t port, std::string_view request,
                                  const std::string& address) {
    RawClient c(address, port);
    if (!c.send(request)) return std::nullopt;
    return c.read_response();
}

}  // namespace vstream::test
