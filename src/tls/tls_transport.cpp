#include "tls/tls_transport.hpp"

#include <vstream/error.hpp>

#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <string>
#include <utility>

namespace vstream::tls {

namespace {

// What an SSL_read, SSL_write or SSL_do_handshake that failed for good means to the
// connection, as a libuv code. Clears OpenSSL's error queue (it is per thread, and the next
// call on this loop must not read a stale error).
int failure(const SSL* ssl, int ssl_error) noexcept {
    const unsigned long e = ERR_peek_error();
    int status = UV_EPROTO;
    if (ssl_error == SSL_ERROR_ZERO_RETURN) {
        status = UV_EOF;  // close_notify: an orderly end
    } else if (ssl_error == SSL_ERROR_SYSCALL) {
        status = (e == 0 && errno != 0) ? -errno : UV_EOF;
    } else if (ssl_error == SSL_ERROR_SSL &&
               ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        // The peer closed without close_notify, as HTTP clients routinely do once they have
        // their response; HTTP's own framing tells a cut response (RFC 9112 §9.8).
        status = UV_EOF;
    }
    (void)ssl;
    ERR_clear_error();
    return status;
}

bool would_block(int ssl_error) noexcept {
    return ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE;
}

}  // namespace

TlsTransport::TlsTransport(uv_loop_t* loop, net::ReadSlab* slab, net::EdgePoller* poller,
                           SslPtr ssl)
    : slab_(slab), poller_(poller), ssl_(std::move(ssl)) {
    if (int rc = uv_tcp_init(loop, &tcp_); rc != 0) {
        throw Error(errc::io_error, std::string("uv_tcp_init: ") + uv_strerror(rc));
    }
    tcp_.data = this;
    SSL_set_accept_state(ssl_.get());  // the server's side, whoever made the SSL
    // A write retried after WANT_WRITE may start from a copy (the staging record) or carry
    // more bytes than the first try; partial writes report each record as it goes.
    SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

TlsTransport::~TlsTransport() { unwatch(); }

int TlsTransport::open(int fd) noexcept {
    if (const int rc = uv_tcp_open(&tcp_, fd); rc != 0) {
        ::close(fd);  // the handle did not take it
        return rc;
    }
    uv_tcp_nodelay(&tcp_, 1);
    if (SSL_set_fd(ssl_.get(), fd) != 1) {
        ERR_clear_error();
        return UV_ENOMEM;
    }
    // Readable and writable edges: the handshake, and SSL_write, wait for either.
    if (const int rc = poller_->add(fd, this, net::EdgePoller::Interest::read_write); rc != 0) {
        return rc;
    }
    fd_ = fd;
    watched_ = true;
    return 0;
}

int TlsTransport::rearm() noexcept {
    // Watched for writes too, the descriptor is reported again even when OpenSSL, not the
    // socket, holds the unread bytes.
    return poller_->rearm(fd_, this, net::EdgePoller::Interest::read_write);
}

void TlsTransport::on_edge(std::uint32_t events) noexcept {
    if (closing_) return;
    if (handshake_ == HandshakeState::pending && !advance_handshake()) return;
    if (handshake_ == HandshakeState::failed) {
        if (reading_) end_reading(UV_EPROTO);
        return;
    }
    if (writing_) {
        if (write_done_) {
            finish_write();
        } else {
            std::size_t written = 0;
            const int rc = pump(written);
            pending_bytes_ -= std::min(written, pending_bytes_);
            if (rc == 1) {
                finish_write();
            } else if (rc < 0) {
                writing_ = false;
                bufs_.clear();
                events_->on_transport_written(rc);
            }
        }
        if (closing_) return;
    }
    if (reading_) {
        read_records(events);
    } else {
        unread_ = true;  // paused: read_start asks again
    }
}

bool TlsTransport::advance_handshake() noexcept {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_.get());
    if (r == 1) {
        handshake_ = HandshakeState::done;
        return true;
    }
    const int err = SSL_get_error(ssl_.get(), r);
    if (would_block(err)) return false;  // the next edge goes on with it
    failure(ssl_.get(), err);
    handshake_ = HandshakeState::failed;
    return true;
}

void TlsTransport::read_records(std::uint32_t events) noexcept {
    (void)events;  // SSL_read reads on until the socket would block, whatever woke us
    for (int turn = 0; turn < kReadsPerTurn; ++turn) {
        ERR_clear_error();
        const int n = SSL_read(ssl_.get(), slab_->bytes, static_cast<int>(net::ReadSlab::kSize));
        if (n > 0) {
            events_->on_transport_read(slab_->bytes, static_cast<std::size_t>(n));
            if (closing_) return;
            if (!reading_) {
                unread_ = true;
                return;
            }
            continue;
        }
        const int err = SSL_get_error(ssl_.get(), n);
        if (would_block(err)) return;  // drained: the next edge brings more
        return end_reading(failure(ssl_.get(), err));
    }
    rearm();  // more may wait: to the back of the queue
}

void TlsTransport::end_reading(int status) noexcept {
    reading_ = false;
    unread_ = true;  // a later read_start reports the end again
    events_->on_transport_end(status);
}

int TlsTransport::read_start() noexcept {
    if (reading_ || closing_) return 0;
    if (!watched_) return UV_ENOTCONN;
    reading_ = true;
    if (!unread_) return 0;
    unread_ = false;
    return rearm();
}

void TlsTransport::read_stop() noexcept { reading_ = false; }

int TlsTransport::pump(std::size_t& written) noexcept {
    written = 0;
    while (buf_index_ < bufs_.size()) {
        const uv_buf_t& b = bufs_[buf_index_];
        const std::size_t left = b.len - buf_offset_;
        if (left == 0) {
            ++buf_index_;
            buf_offset_ = 0;
            continue;
        }
        const char* data;
        std::size_t len;
        if (left >= kRecord) {
            // Encrypted where it lies (a mapped file): OpenSSL reads it into its record.
            data = b.base + buf_offset_;
            len = std::min<std::size_t>(left, INT_MAX);
        } else {
            // Small pieces share a record: one SSL_write, one send().
            staged_ = 0;
            std::size_t i = buf_index_;
            std::size_t off = buf_offset_;
            while (i < bufs_.size() && staged_ < kRecord) {
                const std::size_t take = std::min(bufs_[i].len - off, kRecord - staged_);
                std::memcpy(staging_.data() + staged_, bufs_[i].base + off, take);
                staged_ += take;
                off += take;
                if (off == bufs_[i].len) {
                    ++i;
                    off = 0;
                }
            }
            data = staging_.data();
            len = staged_;
        }
        ERR_clear_error();
        const int n = SSL_write(ssl_.get(), data, static_cast<int>(len));
        if (n <= 0) {
            const int err = SSL_get_error(ssl_.get(), n);
            if (would_block(err)) return 0;
            const int status = failure(ssl_.get(), err);
            return status == UV_EOF ? UV_EPIPE : status;
        }
        written += static_cast<std::size_t>(n);
        for (auto rest = static_cast<std::size_t>(n); rest > 0;) {
            const std::size_t take = std::min(rest, bufs_[buf_index_].len - buf_offset_);
            buf_offset_ += take;
            rest -= take;
            if (buf_offset_ == bufs_[buf_index_].len) {
                ++buf_index_;
                buf_offset_ = 0;
            }
        }
    }
    return 1;
}

int TlsTransport::write(const uv_buf_t* bufs, unsigned nbufs) noexcept {
    if (closing_) return UV_ECANCELED;
    if (writing_) return UV_EBUSY;
    try {
        bufs_.assign(bufs, bufs + nbufs);
    } catch (...) {
        return UV_ENOMEM;
    }
    buf_index_ = 0;
    buf_offset_ = 0;
    pending_bytes_ = 0;
    for (unsigned i = 0; i < nbufs; ++i) pending_bytes_ += bufs[i].len;
    writing_ = true;
    if (handshake_ != HandshakeState::done) return 0;  // the handshake's end starts it
    std::size_t written = 0;
    const int rc = pump(written);
    pending_bytes_ -= std::min(written, pending_bytes_);
    if (rc < 0) {
        writing_ = false;
        bufs_.clear();
        return rc;
    }
    if (rc == 1) {
        // All written now, but the callback must come later, from the loop: the descriptor
        // is writable, so a rearm reports it at once.
        write_done_ = true;
        if (const int r = rearm(); r != 0) {
            writing_ = write_done_ = false;
            return r;
        }
    }
    return 0;
}

int TlsTransport::try_write(const uv_buf_t* bufs, unsigned nbufs) noexcept {
    if (closing_) return UV_ECANCELED;
    if (writing_) return UV_EBUSY;
    if (handshake_ != HandshakeState::done) return UV_EAGAIN;
    try {
        bufs_.assign(bufs, bufs + nbufs);
    } catch (...) {
        return UV_ENOMEM;
    }
    buf_index_ = 0;
    buf_offset_ = 0;
    std::size_t written = 0;
    const int rc = pump(written);
    bufs_.clear();
    if (rc < 0) return rc;
    if (written == 0) return UV_EAGAIN;
    return static_cast<int>(std::min<std::size_t>(written, INT_MAX));
}

void TlsTransport::finish_write() noexcept {
    writing_ = false;
    write_done_ = false;
    bufs_.clear();
    pending_bytes_ = 0;
    if (shutdown_wanted_) {
        shutdown_wanted_ = false;
        shutdown();
    }
    events_->on_transport_written(0);
}

void TlsTransport::send_close_notify() noexcept {
    // RFC 8446 §6.1: close_notify before FIN. Best effort: a full socket buffer drops it, and
    // the FIN still ends the connection.
    if (handshake_ != HandshakeState::done) return;
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
}

void TlsTransport::on_shutdown(uv_shutdown_t*, int) {}

void TlsTransport::shutdown() noexcept {
    if (shutting_down_ || closing_) return;
    if (writing_) {
        shutdown_wanted_ = true;  // once the write in flight is out
        return;
    }
    shutting_down_ = true;
    send_close_notify();
    shutdown_req_.data = this;
    uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &on_shutdown);
}

void TlsTransport::unwatch() noexcept {
    if (!watched_) return;
    watched_ = false;
    poller_->remove(fd_, this);
}

void TlsTransport::on_close(uv_handle_t* h) {
    auto* self = static_cast<TlsTransport*>(h->data);
    if (self->events_ != nullptr) self->events_->on_transport_closed();
}

void TlsTransport::close() noexcept {
    if (closing_) return;
    closing_ = true;
    reading_ = false;
    unwatch();
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &on_close);
}

void TlsTransport::reset() noexcept {
    if (closing_) return;
    unwatch();
    if (!shutting_down_ && uv_tcp_close_reset(&tcp_, &on_close) == 0) {
        closing_ = true;
        reading_ = false;
        return;
    }
    close();
}

std::size_t TlsTransport::write_pending() const noexcept { return writing_ ? pending_bytes_ : 0; }

net::PeerName TlsTransport::peer() const { return net::peer_name(tcp_); }

}  // namespace vstream::tls
