#include "raw_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vstream::test {

namespace {

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

std::string Response::header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
}

RawClient::RawClient(std::uint16_t port, std::chrono::milliseconds timeout)
    : RawClient("127.0.0.1", port, timeout) {}

RawClient::RawClient(const std::string& address, std::uint16_t port,
                     std::chrono::milliseconds timeout)
    : timeout_(timeout) {
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
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error(std::string("connect failed: ") + std::strerror(errno));
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawClient::~RawClient() {
    if (fd_ >= 0) ::close(fd_);
}

bool RawClient::send(std::string_view bytes) {
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

void RawClient::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

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
