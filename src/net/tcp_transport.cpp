#include "net/tcp_transport.hpp"

#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace vstream::net {

TcpTransport::TcpTransport(uv_loop_t* loop, ReadSlab* slab, EdgePoller* poller)
    : socket_(loop, poller, this, this), slab_(slab) {}

int TcpTransport::accept(uv_stream_t* server) noexcept {
    return socket_.accept(server, EdgePoller::Interest::read);
}

int TcpTransport::open(int fd) noexcept { return socket_.open(fd, EdgePoller::Interest::read); }

void TcpTransport::on_edge(std::uint32_t events) noexcept {
    if (socket_.closing()) return;
    if (!reading_) {
        unread_ = true;  // paused: read_start asks again
        return;
    }
    // A short read drains the socket, and later bytes are a new edge; but once the peer's FIN
    // is in, no edge follows it, and a read stops short at urgent data: then read on until
    // the end or EAGAIN.
    const bool ending = (events & (EPOLLRDHUP | EPOLLPRI | EPOLLHUP | EPOLLERR)) != 0;
    const int fd = socket_.fd();
    for (int turn = 0; turn < kReadsPerTurn;) {
        const ssize_t n = ::read(fd, slab_->bytes, ReadSlab::kSize);
        if (n > 0) {
            events_->on_transport_read(slab_->bytes, static_cast<std::size_t>(n));
            if (socket_.closing()) return;
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
    socket_.rearm();  // more is waiting: to the back of the queue
}

void TcpTransport::end_reading(int status) noexcept {
    reading_ = false;
    unread_ = true;  // a later read_start reads the end (or the error) again, as libuv's did
    events_->on_transport_end(status);
}

int TcpTransport::read_start() noexcept {
    if (reading_ || socket_.closing()) return 0;
    if (!socket_.watched()) return UV_ENOTCONN;
    reading_ = true;
    if (!unread_) return 0;  // nothing arrived while paused: the next bytes are an edge
    unread_ = false;
    return socket_.rearm();
}

void TcpTransport::read_stop() noexcept { reading_ = false; }

void TcpTransport::on_write(uv_write_t* req, int status) {
    auto* self = static_cast<TcpTransport*>(req->data);
    // UV_ECANCELED after close(): the connection already knows.
    if (!self->socket_.closing()) self->events_->on_transport_written(status);
}

int TcpTransport::write(const uv_buf_t* bufs, unsigned nbufs) noexcept {
    if (socket_.closing()) return UV_ECANCELED;
    write_req_.data = this;
    return uv_write(&write_req_, socket_.stream(), bufs, nbufs, &on_write);
}

int TcpTransport::try_write(const uv_buf_t* bufs, unsigned nbufs) noexcept {
    if (socket_.closing()) return UV_ECANCELED;
    return uv_try_write(socket_.stream(), bufs, nbufs);
}

int TcpTransport::try_write_more(const uv_buf_t* bufs, unsigned nbufs) noexcept {
    if (socket_.closing()) return UV_ECANCELED;
    if (!socket_.watched()) return UV_ENOTCONN;
    msghdr msg{};
    // uv_buf_t is laid out as struct iovec on Unix (libuv guarantees it).
    msg.msg_iov = reinterpret_cast<iovec*>(const_cast<uv_buf_t*>(bufs));
    msg.msg_iovlen = nbufs;
    ssize_t n;
    do {
        n = ::sendmsg(socket_.fd(), &msg, MSG_MORE | MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? UV_EAGAIN : -errno;
    return static_cast<int>(n);
}

int TcpTransport::try_send_file(int fd, std::uint64_t offset, std::size_t length) noexcept {
    if (socket_.closing()) return UV_ECANCELED;
    if (!socket_.watched()) return UV_ENOTCONN;
    auto off = static_cast<off_t>(offset);
    ssize_t n;
    do {
        n = ::sendfile(socket_.fd(), fd, &off, length);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? UV_EAGAIN : -errno;
    if (n == 0 && length > 0) return UV_EFAULT;  // end of file before the promised bytes
    // sendfile sends at most 0x7ffff000 bytes at once, which fits an int.
    return static_cast<int>(n);
}

void TcpTransport::shutdown() noexcept { socket_.shutdown(); }

void TcpTransport::close() noexcept {
    reading_ = false;
    socket_.close(events_);
}

void TcpTransport::reset() noexcept {
    reading_ = false;
    socket_.reset(events_);
}

void TcpTransport::close_and_free() noexcept {
    reading_ = false;
    socket_.discard();
}

std::size_t TcpTransport::write_pending() const noexcept {
    return uv_stream_get_write_queue_size(socket_.stream());
}

}  // namespace vstream::net
