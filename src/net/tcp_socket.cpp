#include "net/tcp_socket.hpp"

#include <vstream/error.hpp>

#include <netinet/in.h>
#include <unistd.h>

#include <string>

namespace vstream::net {

TcpSocket::TcpSocket(uv_loop_t* loop, EdgePoller* poller, Transport* owner, EdgeWatcher* watcher)
    : poller_(poller), owner_(owner), watcher_(watcher) {
    if (int rc = uv_tcp_init(loop, &tcp_); rc != 0) {
        throw Error(errc::io_error, std::string("uv_tcp_init: ") + uv_strerror(rc));
    }
    tcp_.data = this;
}

int TcpSocket::open(int fd, EdgePoller::Interest interest) noexcept {
    if (const int rc = uv_tcp_open(&tcp_, fd); rc != 0) {
        ::close(fd);  // the handle did not take it
        return rc;
    }
    interest_ = interest;
    // Responses are written whole, in gathered writes: no Nagle delay wanted.
    uv_tcp_nodelay(&tcp_, 1);
    if (const int rc = poller_->add(fd, watcher_, interest); rc != 0) return rc;
    fd_ = fd;
    watched_ = true;  // bytes already there are reported like later ones: add() looks
    return 0;
}

int TcpSocket::accept(uv_stream_t* server, EdgePoller::Interest interest) noexcept {
    if (const int rc = uv_accept(server, stream()); rc != 0) return rc;
    interest_ = interest;
    uv_tcp_nodelay(&tcp_, 1);
    uv_os_fd_t fd = -1;
    if (const int rc = uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd); rc != 0) return rc;
    if (const int rc = poller_->add(fd, watcher_, interest); rc != 0) return rc;
    fd_ = fd;
    watched_ = true;
    return 0;
}

int TcpSocket::rearm() noexcept {
    if (!watched_) return UV_ENOTCONN;
    return poller_->rearm(fd_, watcher_, interest_);
}

void TcpSocket::unwatch() noexcept {
    if (!watched_) return;
    watched_ = false;
    poller_->remove(fd_, watcher_);
}

void TcpSocket::on_shutdown(uv_shutdown_t*, int) {}

void TcpSocket::shutdown() noexcept {
    if (shutting_down_ || closing_) return;
    shutting_down_ = true;
    shutdown_req_.data = this;
    uv_shutdown(&shutdown_req_, stream(), &on_shutdown);
}

void TcpSocket::on_close(uv_handle_t* h) {
    auto* self = static_cast<TcpSocket*>(h->data);
    if (self->discarded_) {
        delete self->owner_;  // the owner holds this socket: nothing of it is touched after
        return;
    }
    if (self->events_ != nullptr) self->events_->on_transport_closed();
}

void TcpSocket::close(TransportEvents* events) noexcept {
    if (closing_) return;
    closing_ = true;
    events_ = events;
    unwatch();
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &on_close);
}

void TcpSocket::reset(TransportEvents* events) noexcept {
    if (closing_) return;
    // uv_tcp_close_reset refuses a handle whose write side is shutting down: then a plain
    // close has to do.
    unwatch();
    if (!shutting_down_ && uv_tcp_close_reset(&tcp_, &on_close) == 0) {
        closing_ = true;
        events_ = events;
        return;
    }
    close(events);
}

void TcpSocket::discard() noexcept {
    // The handle is in the loop's list from construction on: its memory may only go in the
    // close callback.
    discarded_ = true;
    close(nullptr);
}

PeerName peer_name(const uv_tcp_t& tcp) {
    PeerName peer;
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(&tcp, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return peer;
    char text[64] = {};
    if (ss.ss_family == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(&ss);
        uv_ip4_name(v4, text, sizeof text);
        peer.port = ntohs(v4->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        uv_ip6_name(v6, text, sizeof text);
        peer.port = ntohs(v6->sin6_port);
    }
    peer.address = text;
    return peer;
}

}  // namespace vstream::net
