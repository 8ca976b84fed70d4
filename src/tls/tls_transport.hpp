// A TLS transport: OpenSSL reads and writes the non-blocking socket itself (SSL_set_fd), not
// memory BIOs, so that kernel TLS can take over the record layer where the kernel has it.
#pragma once

#include "net/edge_poller.hpp"
#include "net/tcp_transport.hpp"
#include "net/transport.hpp"
#include "tls/openssl_ptr.hpp"

#include <openssl/ssl.h>
#include <uv.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vstream::tls {

/// How a TLS connection ended its handshake, for the counters and the tests.
enum class HandshakeState { pending, done, failed };

/// A Transport that speaks TLS on an accepted socket. The handshake runs first, on the
/// socket's own readiness (SSL_ERROR_WANT_READ/WANT_WRITE mapped to the loop's edge-triggered
/// poller, watched for reads and writes); reads deliver decrypted bytes, writes encrypt.
/// The uv_tcp_t holds the descriptor only for its lifecycle (closing, the peer's name, a
/// reset); libuv never reads or writes it.
///
/// Writes are gathered into records: small buffers (a response head and a short body) are
/// copied into one 16 KiB staging record, and a large buffer is handed to SSL_write where it
/// lies (a mapped file: OpenSSL encrypts from the mapping into its record buffer, with no copy
/// before). After a short count or UV_EAGAIN, the next write must start with the bytes not yet
/// reported written (OpenSSL may hold a record of them, and finishes it on that call), as
/// net::WriteQueue does.
/// Thread: its loop thread only.
class TlsTransport final : public net::Transport, private net::EdgeWatcher {
public:
    /// Takes `ssl`, a server SSL from TlsContext::new_ssl() (never null). Throws Error on
    /// failure.
    TlsTransport(uv_loop_t* loop, net::ReadSlab* slab, net::EdgePoller* poller, SslPtr ssl);
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
    void shutdown() noexcept override;
    void close() noexcept override;
    void reset() noexcept override;
    std::size_t write_pending() const noexcept override;
    net::PeerName peer() const override;

    /// Where the handshake stands.
    HandshakeState handshake() const noexcept { return handshake_; }
    /// The connection's SSL (for the negotiated protocol, ALPN, the server name). Never null.
    const SSL* ssl() const noexcept { return ssl_.get(); }

private:
    static constexpr std::size_t kRecord = 16 * 1024;  // TLS's largest plaintext record
    static constexpr int kReadsPerTurn = 16;

    void on_edge(std::uint32_t events) noexcept override;
    bool advance_handshake() noexcept;
    void read_records(std::uint32_t events) noexcept;
    void end_reading(int status) noexcept;
    // Writes from bufs_[buf_index_] at buf_offset_ until all is written (1), the socket is
    // full (0), or an error (< 0).
    int pump(std::size_t& written) noexcept;
    void finish_write() noexcept;
    void send_close_notify() noexcept;
    void unwatch() noexcept;
    int rearm() noexcept;
    static void on_close(uv_handle_t* h);
    static void on_shutdown(uv_shutdown_t* req, int status);

    uv_tcp_t tcp_{};
    uv_shutdown_t shutdown_req_{};
    net::ReadSlab* slab_;
    net::EdgePoller* poller_;
    SslPtr ssl_;
    net::TransportEvents* events_ = nullptr;
    int fd_ = -1;
    HandshakeState handshake_ = HandshakeState::pending;

    // The write in flight (write()), or being tried (try_write()).
    std::vector<uv_buf_t> bufs_;
    std::size_t buf_index_ = 0;
    std::size_t buf_offset_ = 0;
    std::size_t pending_bytes_ = 0;  // bytes of the write in flight not yet written
    std::array<char, kRecord> staging_{};
    std::size_t staged_ = 0;  // bytes of small buffers copied into staging_, in a retried write

    bool watched_ = false;
    bool reading_ = false;
    bool unread_ = false;      // bytes may wait (in the socket or in OpenSSL): rearm on read_start
    bool writing_ = false;     // a write() is in flight
    bool write_done_ = false;  // it finished synchronously: report on the next edge
    bool shutdown_wanted_ = false;  // shutdown() came while writing
    bool shutting_down_ = false;
    bool closing_ = false;
};

}  // namespace vstream::tls
