#include "net/tcp_transport.hpp"

#include <vstream/error.hpp>

#include <netinet/in.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace vstream::net {

TcpTransport::TcpTransport(uv_loop_t* loop, ReadSlab* slab, EdgePoller* poller)
    : slab_(slab), poller_(poller) {
    if (int rc = uv_tcp_init(loop, &tcp_); rc != 0) {
        throw Error(errc::io_error, std::string("uv_tcp_init: ") + uv_strerror(rc));
    }
    tcp_.data = this;
}

int TcpTransport::accept(uv_stream_t* server) noexcept {
    if (const int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_)); rc != 0) {
        return rc;
    }
    return watch();
}

int TcpTransport::open(int fd) noexcept {
    if (const int rc = uv_tcp_open(&tcp_, fd); rc != 0) {
        ::close(fd);  // the handle did not take it
        return rc;
    }
    return watch();
}

int TcpTransport::watch() noexcept {
    // Responses are written whole, in one gathered write: no Nagle delay wanted.
    uv_tcp_nodelay(&tcp_, 1);
    uv_os_fd_t fd = -1;
    if (const int rc = uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd); rc != 0) return rc;
    if (const int rc = poller_->add(fd, this); rc != 0) return rc;
    fd_ = fd;
    watched_ = true;  // bytes already there are reported like later ones: add() looks
    return 0;
}

void TcpTransport::on_edge(std::uint32_t events) noexcept {
    if (closing_) return;
    if (!reading_) {
        unread_ = true;  // paused: read_start asks again
        return;
    }
    // A short read drains the socket, and later bytes are a new edge; but once the peer's FIN
    // is in, no edge follows it, and a read stops short at urgent data: then read on until
    // the end or EAGAIN.
    const bool ending = (events & (EPOLLRDHUP | EPOLLPRI | EPOLLHUP | EPOLLERR)) != 0;
    for (int turn = 0; turn < kReadsPerTurn;) {
        const ssize_t n = ::read(fd_, slab_->bytes, ReadSlab::kSize);
        if (n > 0) {
            events_->on_transport_read(slab_->bytes, static_cast<std::size_t>(n));
            if (closing_) return;
            if (!reading_) {
                unread_ = true;
                return;
            }
            if (static_cast<std::size_t>(n) < ReadSlab::kSize && !ending) return;
            ++turn;
            continue;
        }
        if (n == 0) return end_reading(UV_EOF);
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        return end_reading(-errno);
    }
    poller_->rearm(fd_, this);  // more is waiting: to the back of the queue
}

void TcpTransport::end_reading(int status) noexcept {
    reading_ = false;
    unread_ = true;  // a later read_start reads the end (or the error) again, as libuv's did
    events_->on_transport_end(status);
}

int TcpTransport::read_start() noexcept {
    if (reading_ || closing_) return 0;
    if (!watched_) return UV_ENOTCONN;
    reading_ = true;
    if (!unread_) return 0;  // nothing arrived while paused: the next bytes are an edge
    unread_ = false;
    return poller_->rearm(fd_, this);
}

void TcpTransport::read_stop() noexcept { reading_ = false; }

void TcpTransport::unwatch() noexcept {
    if (!watched_) return;
    watched_ = false;
    poller_->remove(fd_, this);
}

void TcpTransport::on_write(uv_write_t* req, int status) {
    auto* self = static_cast<TcpTransport*>(req->data);
    // UV_ECANCELED after close(): the connection already knows.
    if (!self->closing_) self->events_->on_transport_written(status);
}

int TcpTransport::write(const uv_buf_t* bufs, unsigned nbufs) noexcept {
    if (closing_) return UV_ECANCELED;
    write_req_.data = this;
    return uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), bufs, nbufs, &on_write);
}

int TcpTransport::try_write(const uv_buf_t* bufs, unsigned nbufs) noexcept {
    if (closing_) return UV_ECANCELED;
    return uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), bufs, nbufs);
}

int TcpTransport::try_write_more(const uv_buf_t* bufs, unsigned nbufs) noexcept {
    if (closing_) return UV_ECANCELED;
    uv_os_fd_t sock = -1;
    if (const int rc = uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &sock); rc != 0) return rc;
    msghdr msg{};
    // uv_buf_t is laid out as struct iovec on Unix (libuv guarantees it).
    msg.msg_iov = reinterpret_cast<iovec*>(const_cast<uv_buf_t*>(bufs));
    msg.msg_iovlen = nbufs;
    ssize_t n;
    do {
        n = ::sendmsg(sock, &msg, MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? UV_EAGAIN : -errno;
    return static_cast<int>(n);
}

int TcpTransport::try_send_file(int fd, std::uint64_t offset, std::size_t length) noexcept {
    if (closing_) return UV_ECANCELED;
    uv_os_fd_t sock = -1;
    if (const int rc = uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &sock); rc != 0) return rc;
    auto off = static_cast<off_t>(offset);
    ssize_t n;
    do {
        n = ::sendfile(sock, fd, &off, length);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? UV_EAGAIN : -errno;
    if (n == 0 && length > 0) return UV_EFAULT;  // end of file before the promised bytes
    // sendfile sends at most 0x7ffff000 bytes at once, which fits an int.
    return static_cast<int>(n);
}

void TcpTransport::on_shutdown(uv_shutdown_t*, int) {}

void TcpTransport::shutdown() noexcept {
    if (shutting_down_ || closing_) return;
    shutting_down_ = true;
    shutdown_req_.data = this;
    uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &on_shutdown);
}

void TcpTransport::on_close(uv_handle_t* h) {
    auto* self = static_cast<TcpTransport*>(h->data);
    if (self->discarded_) {
        delete self;
        return;
    }
    self->events_->on_transport_closed();
}

void TcpTransport::discard(std::unique_ptr<TcpTransport> transport) noexcept {
    // The handle is in the loop's list from construction on: its memory may only go in the
    // close callback, never with the unique_ptr.
    TcpTransport* t = transport.release();
    t->discarded_ = true;
    t->close();
}

void TcpTransport::close() noexcept {
    if (closing_) return;
    closing_ = true;
    reading_ = false;
    unwatch();
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &on_close);
}

void TcpTransport::reset() noexcept {
    if (closing_) return;
    // uv_tcp_close_reset refuses a handle whose write side is shutting down: then a plain
    // close has to do.
    unwatch();
    if (!shutting_down_ && uv_tcp_close_reset(&tcp_, &on_close) == 0) {
        closing_ = true;
        reading_ = false;
        return;
    }
    close();
}

std::size_t TcpTransport::write_pending() const noexcept {
    return uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&tcp_));
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

PeerName TcpTransport::peer() const { return peer_name(tcp_); }

}  // namespace vstream::net
