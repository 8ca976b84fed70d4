// A TLS transport: OpenSSL reads and writes the non-blocking socket itself (SSL_set_fd), not
// memory BIOs, so that kernel TLS can take over the record layer where the kernel has it.
#pragma once

#include "net/edge_poller.hpp"
#include "net/tcp_socket.hpp"
#include "net/tcp_transport.hpp"
#include "net/transport.hpp"
#include "tls/handshake_tracker.hpp"
#include "tls/openssl_ptr.hpp"

#include <openssl/ssl.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace vstream::tls {

/// How a TLS connection ended its handshake, for the counters and the tests.
enum class HandshakeState { pending, done, failed };

/// A Transport that speaks TLS on an accepted socket. The handshake runs first, on the
/// socket's own readiness (SSL_ERROR_WANT_READ/WANT_WRITE mapped to the loop's edge-triggered
/// poller, watched for reads and writes); reads deliver decrypted bytes, writes encrypt.
/// The socket's libuv handle holds the descriptor only for its lifecycle (closing, the peer's
/// name, a reset); libuv never reads or writes it.
///
/// Writes are gathered into records: small buffers (a response head and a short body) are
/// copied into one 16 KiB staging record (one per thread, not per connection: it is filled
/// again from the buffers before every SSL_write, retries included), and a large buffer is handed
/// to SSL_write where it lies (a mapped file: OpenSSL encrypts from the mapping into its record
/// buffer, with no copy before). Reads of the buffers are guarded against SIGBUS (a mapped file
/// that shrank): the write then fails with UV_EFAULT and the connection must close. After a short
/// count or UV_EAGAIN, the next write must start with the bytes not yet reported written (OpenSSL
/// may hold a record of them, and finishes it on that call), as net::WriteQueue does.
///
/// File bytes: where the kernel took over the record layer (kernel TLS, which OpenSSL enables
/// by itself when the kernel has it), try_send_file sends them by SSL_sendfile, like plain
/// sendfile. Otherwise it preads them into the staging record and encrypts that
/// (send_file_copies()): used only for bytes not mapped already, such as a seek into a large
/// file, where mapping a window for one range costs more than the copy.
/// Thread: its loop thread only.
class TlsTransport final : public net::Transport,
                           private net::EdgeWatcher,
                           private PendingHandshake {
public:
    /// Takes `ssl`, a server SSL from TlsContext::new_ssl() (never null). With `tracker`, the
    /// handshake holds a place that tracker->admit() gave (given back when it ends), is timed
    /// and counted. Throws Error on failure.
    TlsTransport(uv_loop_t* loop, net::ReadSlab* slab, net::EdgePoller* poller, SslPtr ssl,
                 HandshakeTracker* tracker = nullptr);
    ~TlsTransport() override;
    TlsTransport(const TlsTransport&) = delete;
    TlsTransport& operator=(const TlsTransport&) = delete;

    /// Takes `fd`, a connected non-blocking socket (from an Acceptor), and starts the
    /// handshake. Returns 0 or a libuv error; on error `fd` is closed (then close()).
    int open(int fd) noexcept;

    void set_events(net::TransportEvents* events) noexcept override { events_ = events; }
    int read_start() noexcept override;
    void read_stop() noexcept override;
    int write(const uv_buf_t* bufs, unsigned nbufs) noexcept override;
    int try_write(const uv_buf_t* bufs, unsigned nbufs) noexcept override;
    bool can_send_file() const noexcept override { return handshake_ == HandshakeState::done; }
    bool send_file_copies() const noexcept override { return !ktls_send_; }
    int try_send_file(int fd, std::uint64_t offset, std::size_t length) noexcept override;
    void shutdown() noexcept override;
    void close() noexcept override;
    void reset() noexcept override;
    std::size_t write_pending() const noexcept override;
    net::PeerName peer() const override { return socket_.peer(); }

    /// Where the handshake stands.
    HandshakeState handshake() const noexcept { return handshake_; }
    /// The connection's SSL (for the negotiated protocol, ALPN, the server name). Never null.
    const SSL* ssl() const noexcept { return ssl_.get(); }

private:
    static constexpr std::size_t kRecord = 16 * 1024;  // TLS's largest plaintext record
    static constexpr int kReadsPerTurn = 16;

    void on_edge(std::uint32_t events) noexcept override;
    void on_handshake_timeout() noexcept override;
    void close_and_free() noexcept override;
    bool plain_http_sent() noexcept;
    bool advance_handshake() noexcept;
    void handshake_failed(HandshakeFailure why, int status) noexcept;
    void read_records() noexcept;
    void end_reading(int status) noexcept;
    // Writes from bufs_[buf_index_] at buf_offset_ until all is written (1), the socket is
    // full (0), or an error (< 0).
    int pump(std::size_t& written) noexcept;
    // Takes the buffers of a write or try_write for pump(), from their start.
    int load(const uv_buf_t* bufs, unsigned nbufs) noexcept;
    int write_record(const char* data, std::size_t len, bool guarded) noexcept;
    int send_file_by_copy(int fd, std::uint64_t offset, std::size_t length) noexcept;
    void finish_write() noexcept;
    void untrack() noexcept;
    int rearm() noexcept { return socket_.rearm(); }

    net::TcpSocket socket_;
    net::ReadSlab* slab_;
    SslPtr ssl_;
    HandshakeTracker* tracker_;
    net::TransportEvents* events_ = nullptr;
    HandshakeState handshake_ = HandshakeState::pending;
    int failure_status_ = 0;  // what a failed handshake ends reading with

    // The write in flight (write()), or being tried (try_write()).
    std::vector<uv_buf_t> bufs_;
    std::size_t buf_index_ = 0;
    std::size_t buf_offset_ = 0;
    std::size_t pending_bytes_ = 0;  // bytes of the write in flight not yet written

    bool peeked_ = false;  // the first byte was looked at (TLS or plain HTTP?)
    bool reading_ = false;
    bool unread_ = false;      // bytes may wait (in the socket or in OpenSSL): rearm on read_start
    bool writing_ = false;     // a write() is in flight
    bool write_done_ = false;  // it finished synchronously: report on the next edge
    bool shutdown_wanted_ = false;  // shutdown() came while writing
    bool ktls_send_ = false;        // the kernel encrypts what is sent (BIO_get_ktls_send)
    bool poisoned_ = false;  // a guarded read faulted inside OpenSSL: no SSL call but SSL_free
};

}  // namespace vstream::tls
