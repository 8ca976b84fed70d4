#include "tls/tls_transport.hpp"

#include "core/sigbus_guard.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <utility>

namespace vstream::tls {

namespace {

// What an SSL_read, SSL_write or SSL_do_handshake that failed for good means to the
// connection, as a libuv code. Clears OpenSSL's error queue (it is per thread, and the next
// call on this loop must not read a stale error).
int failure(int ssl_error) noexcept {
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
    ERR_clear_error();
    return status;
}

// Why a handshake failed, from OpenSSL's error queue (read before failure() clears it).
HandshakeFailure classify(int ssl_error) noexcept {
    if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) {
        return HandshakeFailure::closed;
    }
    switch (ERR_GET_REASON(ERR_peek_error())) {
        case SSL_R_UNEXPECTED_EOF_WHILE_READING: return HandshakeFailure::closed;
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_VERSION_TOO_LOW:
        case SSL_R_NO_PROTOCOLS_AVAILABLE:
        case SSL_R_NO_SHARED_CIPHER:
        case SSL_R_NO_SHARED_GROUPS:
        case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM: return HandshakeFailure::version;
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        case SSL_R_CERTIFICATE_VERIFY_FAILED:
        case SSL_R_NO_CERTIFICATES_RETURNED: return HandshakeFailure::certificate;
        default: return HandshakeFailure::protocol;
    }
}

bool would_block(int ssl_error) noexcept {
    return ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE;
}

// The bytes of a write are read under the SIGBUS guard: a file's mapping may have lost pages.
struct GuardedCopy {
    char* to;
    const char* from;
    std::size_t len;
};

struct GuardedWrite {
    SSL* ssl;
    const char* data;
    int len;
    int result;
};

// Where small buffers are gathered into one record. Per thread (a loop's connections take turns
// on it): each pump fills it from the buffers before its SSL_write, so a write retried after
// WANT_WRITE hands OpenSSL the same bytes (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows the
// address to be another) and an idle connection holds no record of its own.
thread_local char t_staging[16 * 1024];

// Where file bytes that are not mapped are read to be encrypted (TLS in user space): several
// records' worth per pread, as nginx reads into its output buffers.
thread_local char t_file_bytes[64 * 1024];

}  // namespace

TlsTransport::TlsTransport(uv_loop_t* loop, net::ReadSlab* slab, net::EdgePoller* poller,
                           SslPtr ssl, HandshakeTracker* tracker)
    : socket_(loop, poller, this, this), slab_(slab), ssl_(std::move(ssl)), tracker_(tracker) {
    core::install_sigbus_guard();
    SSL_set_accept_state(ssl_.get());  // the server's side, whoever made the SSL
    // A write retried after WANT_WRITE may start from a copy (the staging record) or carry
    // more bytes than the first try; partial writes report each record as it goes.
    SSL_set_mode(ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (tracker_ != nullptr) tracker_->begin(this);  // nothing throws from here on
}

TlsTransport::~TlsTransport() { untrack(); }

int TlsTransport::open(int fd) noexcept {
    // Readable and writable edges: the handshake, and SSL_write, wait for either.
    if (const int rc = socket_.open(fd, net::EdgePoller::Interest::read_write); rc != 0) return rc;
    if (SSL_set_fd(ssl_.get(), fd) != 1) {  // a socket BIO that leaves closing to libuv
        ERR_clear_error();
        return UV_ENOMEM;
    }
    return 0;
}

void TlsTransport::untrack() noexcept {
    if (handshake_ == HandshakeState::pending) {
        // Closed before the handshake ended: the client went, or the server is stopping.
        handshake_ = HandshakeState::failed;
        failure_status_ = UV_ECANCELED;
        if (tracker_ != nullptr) tracker_->counters().failure(HandshakeFailure::closed);
    }
    if (tracker_ != nullptr) tracker_->end(this);
}

void TlsTransport::on_edge(std::uint32_t) noexcept {
    if (socket_.closing() || poisoned_) return;
    if (handshake_ == HandshakeState::pending && !advance_handshake()) return;
    if (handshake_ == HandshakeState::failed) {
        if (reading_) {
            end_reading(failure_status_);
        } else {
            unread_ = true;  // read_start reports it
        }
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
        // A guarded read that faulted left OpenSSL mid-record: no SSL_read on it either, even
        // if the user did not close at once.
        if (socket_.closing() || poisoned_) return;
    }
    if (reading_) {
        read_records();
    } else {
        unread_ = true;  // paused: read_start asks again
    }
}

bool TlsTransport::plain_http_sent() noexcept {
    unsigned char first = 0;
    const ssize_t n = ::recv(socket_.fd(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n != 1) {
        // The end or an error: the handshake finds out. Nothing yet: wait for the first byte,
        // so OpenSSL never reads a plain request that arrives in between.
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            peeked_ = true;
            return false;
        }
        return false;
    }
    peeked_ = true;
    // A TLS connection starts with a handshake record (content type 22, RFC 8446 §5.1), an
    // old SSLv2-format hello with its top bit set; an HTTP/1.x request with a method, a token
    // of letters (RFC 9112 §3). Anything else is left to OpenSSL to refuse.
    if (first < 'A' || first > 'Z' || tracker_ == nullptr) return false;
    // Answered as nginx does ("The plain HTTP request was sent to HTTPS port"), in plain
    // text, and closed. What the client sent is read first, so the close sends FIN, not a
    // reset that could destroy the answer before the client reads it.
    for (int i = 0; i < 4; ++i) {
        if (::recv(socket_.fd(), slab_->bytes, net::ReadSlab::kSize, MSG_DONTWAIT) <= 0) break;
    }
    const std::string& reply = tracker_->plain_http_reply();
    [[maybe_unused]] const ssize_t sent =
        ::send(socket_.fd(), reply.data(), reply.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    handshake_failed(HandshakeFailure::plain_http, UV_EPROTO);
    return true;
}

bool TlsTransport::advance_handshake() noexcept {
    if (!peeked_) {
        if (plain_http_sent()) return true;
        if (!peeked_) return false;  // no byte yet: the next edge looks again
    }
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_.get());
    if (r == 1) {
        handshake_ = HandshakeState::done;
        // OpenSSL turns kernel TLS on by itself after the handshake when the context asks
        // (SSL_OP_ENABLE_KTLS) and the kernel and cipher allow it; the BIO says whether it did.
        ktls_send_ = BIO_get_ktls_send(SSL_get_wbio(ssl_.get())) != 0;
        if (tracker_ != nullptr) {
            TlsCounters& c = tracker_->counters();
            TlsCounters::bump(c.handshakes);
            if (SSL_session_reused(ssl_.get()) != 0) TlsCounters::bump(c.resumed);
            TlsCounters::bump(ktls_send_ ? c.ktls_connections : c.userspace_connections);
            tracker_->end(this);
        }
        return true;
    }
    const int err = SSL_get_error(ssl_.get(), r);
    if (would_block(err)) return false;  // the next edge goes on with it
    const HandshakeFailure why = classify(err);
    failure(err);
    handshake_failed(why, UV_EPROTO);
    return true;
}

void TlsTransport::handshake_failed(HandshakeFailure why, int status) noexcept {
    handshake_ = HandshakeState::failed;
    failure_status_ = status;
    if (tracker_ != nullptr) {
        tracker_->counters().failure(why);
        tracker_->end(this);
    }
}

void TlsTransport::on_handshake_timeout() noexcept {
    // The tracker has let go of this handshake already.
    handshake_ = HandshakeState::failed;
    failure_status_ = UV_ETIMEDOUT;
    tracker_->counters().failure(HandshakeFailure::timeout);
    if (reading_ && events_ != nullptr) {
        end_reading(UV_ETIMEDOUT);
    } else {
        unread_ = true;
    }
}

void TlsTransport::read_records() noexcept {
    // SSL_read reads on until the socket would block, whatever woke us.
    for (int turn = 0; turn < kReadsPerTurn; ++turn) {
        ERR_clear_error();
        const int n = SSL_read(ssl_.get(), slab_->bytes, static_cast<int>(net::ReadSlab::kSize));
        if (n > 0) {
            events_->on_transport_read(slab_->bytes, static_cast<std::size_t>(n));
            if (socket_.closing()) return;
            if (!reading_) {
                unread_ = true;
                return;
            }
            continue;
        }
        const int err = SSL_get_error(ssl_.get(), n);
        if (would_block(err)) {
            // Drained: the next edge brings more. Waiting, the connection holds no record
            // buffers (nginx frees them the same way on keep-alive): SSL_MODE_RELEASE_BUFFERS
            // alone keeps the read buffer that this last SSL_read allocated. Refused (and kept)
            // while a record is partly read or written.
            if (!writing_) SSL_free_buffers(ssl_.get());
            return;
        }
        return end_reading(failure(err));
    }
    rearm();  // more may wait: to the back of the queue
}

void TlsTransport::end_reading(int status) noexcept {
    reading_ = false;
    unread_ = true;  // a later read_start reports the end again
    events_->on_transport_end(status);
}

int TlsTransport::read_start() noexcept {
    if (reading_ || socket_.closing()) return 0;
    if (!socket_.watched()) return UV_ENOTCONN;
    reading_ = true;
    if (!unread_) return 0;
    unread_ = false;
    return rearm();
}

void TlsTransport::read_stop() noexcept { reading_ = false; }

int TlsTransport::write_record(const char* data, std::size_t len, bool guarded) noexcept {
    ERR_clear_error();
    GuardedWrite call{ssl_.get(), data, static_cast<int>(len), 0};
    if (guarded) {
        // Every page is read once first, under the guard, outside OpenSSL: a file truncated
        // before this write is found here, with OpenSSL untouched (a jump out of SSL_write
        // leaves a few of its allocations behind). Only a truncation racing this very call
        // still faults inside OpenSSL, where the guard below catches it.
        GuardedCopy touch{nullptr, data, len};
        const bool readable = core::run_guarded(
            data, len,
            [](void* c) {
                auto* t = static_cast<GuardedCopy*>(c);
                volatile char sink = 0;
                for (std::size_t off = 0; off < t->len; off += 4096) sink = t->from[off];
                sink = t->from[t->len - 1];
                (void)sink;
            },
            &touch);
        if (!readable) {
            // The response is cut: no close_notify may follow it (the client must see a
            // truncation, RFC 8446 §6.1), so this SSL is not used again either.
            poisoned_ = true;
            if (tracker_ != nullptr) TlsCounters::bump(tracker_->counters().truncated_reads);
            return UV_EFAULT;
        }
        const bool finished = core::run_guarded(
            data, len,
            [](void* c) {
                auto* w = static_cast<GuardedWrite*>(c);
                w->result = SSL_write(w->ssl, w->data, w->len);
            },
            &call);
        if (!finished) {
            // The file shrank under its mapping while OpenSSL read it. OpenSSL was left
            // mid-record: this SSL is only freed from now on, never used.
            poisoned_ = true;
            ERR_clear_error();
            if (tracker_ != nullptr) TlsCounters::bump(tracker_->counters().truncated_reads);
            return UV_EFAULT;
        }
    } else {
        call.result = SSL_write(call.ssl, call.data, call.len);
    }
    if (call.result > 0) return call.result;
    const int err = SSL_get_error(ssl_.get(), call.result);
    if (would_block(err)) return 0;
    const int status = failure(err);
    return status == UV_EOF ? UV_EPIPE : status;
}

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
        int n;
        if (left >= kRecord) {
            // Encrypted where it lies (a mapped file): OpenSSL reads it into its record.
            // At most 256 KiB per call: the pages read first (write_record) go out at once.
            n = write_record(b.base + buf_offset_, std::min<std::size_t>(left, 256 * 1024), true);
        } else {
            // Small pieces share a record: one SSL_write, one send().
            std::size_t staged = 0;
            std::size_t i = buf_index_;
            std::size_t off = buf_offset_;
            while (i < bufs_.size() && staged < kRecord) {
                GuardedCopy copy{t_staging + staged, bufs_[i].base + off,
                                 std::min(bufs_[i].len - off, kRecord - staged)};
                const bool copied = core::run_guarded(
                    copy.from, copy.len,
                    [](void* c) {
                        auto* k = static_cast<GuardedCopy*>(c);
                        std::memcpy(k->to, k->from, k->len);
                    },
                    &copy);
                if (!copied) {
                    poisoned_ = true;  // cut: no close_notify after it (as above)
                    if (tracker_ != nullptr) {
                        TlsCounters::bump(tracker_->counters().truncated_reads);
                    }
                    return UV_EFAULT;
                }
                staged += copy.len;
                off += copy.len;
                if (off == bufs_[i].len) {
                    ++i;
                    off = 0;
                }
            }
            n = write_record(t_staging, staged, false);
        }
        if (n <= 0) return n;  // 0: the socket is full
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

int TlsTransport::load(const uv_buf_t* bufs, unsigned nbufs) noexcept {
    try {
        bufs_.assign(bufs, bufs + nbufs);
    } catch (...) {
        return UV_ENOMEM;
    }
    buf_index_ = 0;
    buf_offset_ = 0;
    return 0;
}

int TlsTransport::write(const uv_buf_t* bufs, unsigned nbufs) noexcept {
    if (socket_.closing() || poisoned_) return UV_ECANCELED;
    if (writing_) return UV_EBUSY;
    if (const int rc = load(bufs, nbufs); rc != 0) return rc;
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
    if (socket_.closing() || poisoned_) return UV_ECANCELED;
    if (writing_) return UV_EBUSY;
    if (handshake_ != HandshakeState::done) return UV_EAGAIN;
    if (const int rc = load(bufs, nbufs); rc != 0) return rc;
    std::size_t written = 0;
    const int rc = pump(written);
    bufs_.clear();
    if (rc < 0) return rc;
    if (written == 0) return UV_EAGAIN;
    return static_cast<int>(std::min<std::size_t>(written, INT_MAX));
}

int TlsTransport::send_file_by_copy(int fd, std::uint64_t offset, std::size_t length) noexcept {
    // pread fills a buffer of several records, SSL_write encrypts and sends it a record at a
    // time (partial writes). pread reports a file that shrank as a short read (no SIGBUS on
    // this path).
    std::size_t sent = 0;
    while (sent < length) {
        const std::size_t want = std::min(length - sent, sizeof t_file_bytes);
        const ssize_t r = ::pread(fd, t_file_bytes, want, static_cast<off_t>(offset + sent));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return sent > 0 ? static_cast<int>(sent) : -errno;
        if (r == 0) return sent > 0 ? static_cast<int>(sent) : UV_EFAULT;  // ended early
        for (std::size_t done = 0; done < static_cast<std::size_t>(r);) {
            // After WANT_WRITE OpenSSL holds a record of these bytes half sent; the queue's
            // next write starts with the same file bytes (from a mapping), as SSL_write
            // requires.
            const int n =
                write_record(t_file_bytes + done, static_cast<std::size_t>(r) - done, false);
            if (n < 0) return sent > 0 ? static_cast<int>(sent) : n;
            if (n == 0) return sent > 0 ? static_cast<int>(sent) : UV_EAGAIN;
            done += static_cast<std::size_t>(n);
            sent += static_cast<std::size_t>(n);
        }
    }
    return static_cast<int>(sent);
}

int TlsTransport::try_send_file(int fd, std::uint64_t offset, std::size_t length) noexcept {
    if (socket_.closing() || poisoned_) return UV_ECANCELED;
    if (writing_) return UV_EBUSY;
    if (handshake_ != HandshakeState::done) return UV_EAGAIN;
    length = std::min<std::size_t>(length, 0x7ffff000);  // what one sendfile call sends: an int
    if (!ktls_send_) return send_file_by_copy(fd, offset, length);
    // The kernel encrypts as it sends: no byte passes through user space, as with plain
    // sendfile. At most what one sendfile call sends, so the count fits an int.
    ERR_clear_error();
    const ossl_ssize_t n = SSL_sendfile(ssl_.get(), fd, static_cast<off_t>(offset), length, 0);
    if (n < 0) {
        const int err = SSL_get_error(ssl_.get(), static_cast<int>(n));
        if (would_block(err)) {
            ERR_clear_error();
            return UV_EAGAIN;
        }
        const int status = failure(err);
        return status == UV_EOF ? UV_EPIPE : status;
    }
    if (n == 0 && length > 0) return UV_EFAULT;  // end of file before the promised bytes
    if (tracker_ != nullptr) {
        TlsCounters::bump(tracker_->counters().ktls_sendfile_bytes, static_cast<std::uint64_t>(n));
    }
    return static_cast<int>(n);
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

void TlsTransport::shutdown() noexcept {
    if (socket_.shutting_down() || socket_.closing()) return;
    if (writing_) {
        shutdown_wanted_ = true;  // once the write in flight is out
        return;
    }
    // RFC 8446 §6.1: close_notify before FIN. Best effort: a full socket buffer drops it, and
    // the FIN still ends the connection.
    if (handshake_ == HandshakeState::done && !poisoned_) {
        ERR_clear_error();
        SSL_shutdown(ssl_.get());
        ERR_clear_error();
    }
    socket_.shutdown();
}

void TlsTransport::close() noexcept {
    reading_ = false;
    untrack();
    socket_.close(events_);
}

void TlsTransport::reset() noexcept {
    reading_ = false;
    untrack();
    socket_.reset(events_);
}

void TlsTransport::close_and_free() noexcept {
    reading_ = false;
    untrack();
    socket_.discard();
}

std::size_t TlsTransport::write_pending() const noexcept { return writing_ ? pending_bytes_ : 0; }

}  // namespace vstream::tls
