#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace vstream::net {

/// The remote end of a transport.
struct PeerName {
    std::string address;  ///< numeric, "127.0.0.1" or "::1"; empty if unknown
    std::uint16_t port = 0;
};

/// What a transport reports to its user (the HTTP connection). Called on the loop thread.
class TransportEvents {
public:
    /// Bytes arrived. `data` is valid only during the call.
    virtual void on_transport_read(const char* data, std::size_t len) = 0;
    /// Reading ended: UV_EOF for an orderly end, another negative libuv code for an error.
    virtual void on_transport_end(int status) = 0;
    /// The write started by Transport::write finished (0) or failed (< 0).
    virtual void on_transport_written(int status) = 0;
    /// The transport is fully closed; its memory may go now.
    virtual void on_transport_closed() = 0;

protected:
    ~TransportEvents() = default;
};

/// A transport: the bidirectional byte stream under an HTTP connection: plain TCP
/// (TcpTransport), or TLS with OpenSSL reading and writing the socket itself
/// (tls::TlsTransport). One write in flight at a time.
/// Thread: its loop thread only.
class Transport {
public:
    virtual ~Transport() = default;

    /// Sets the receiver of events; must be called before read_start().
    virtual void set_events(TransportEvents* events) noexcept = 0;
    /// Starts (or resumes) delivering reads. Returns 0 or a libuv error.
    virtual int read_start() noexcept = 0;
    /// Pauses reads (backpressure).
    virtual void read_stop() noexcept = 0;
    /// Writes the buffers, gathered; on_transport_written follows. The memory must stay valid
    /// until then. Returns 0, or a libuv error (then no callback follows).
    virtual int write(const uv_buf_t* bufs, unsigned nbufs) noexcept = 0;
    /// Writes what it can of the buffers now, without queueing. Returns the bytes written
    /// (possibly fewer than given), UV_EAGAIN when nothing could be written now, or another
    /// libuv error. Must not be called while a write() is in flight.
    virtual int try_write(const uv_buf_t* bufs, unsigned nbufs) noexcept = 0;
    /// Whether try_send_file can work (plain TCP, kernel TLS, or TLS reading the file itself),
    /// so file bytes need no mapping up front.
    virtual bool can_send_file() const noexcept { return false; }
    /// Whether try_send_file reads the bytes through user space (TLS encrypting in user space
    /// preads them): then bytes already mapped are better written from their mapping, and only
    /// bytes not mapped yet (a seek into a large file) are worth sending by file.
    virtual bool send_file_copies() const noexcept { return false; }
    /// Like try_write, telling the transport more follows at once (MSG_MORE), so a response
    /// head is not sent alone ahead of a body that try_send_file sends next.
    virtual int try_write_more(const uv_buf_t* bufs, unsigned nbufs) noexcept {
        return try_write(bufs, nbufs);
    }
    /// Sends up to `length` bytes of file `fd` from `offset` now, the kernel copying nothing
    /// through user space (sendfile). Returns the bytes sent, UV_EAGAIN when none could be,
    /// UV_EFAULT when the file ended early (it shrank), another libuv error, or UV_ENOSYS when
    /// the transport cannot (a TLS transport must read the bytes to encrypt them): then write them.
    /// Must not be called while a write() is in flight.
    virtual int try_send_file(int fd, std::uint64_t offset, std::size_t length) noexcept {
        (void)fd;
        (void)offset;
        (void)length;
        return UV_ENOSYS;
    }
    /// Sends FIN once queued writes are done (half-close).
    virtual void shutdown() noexcept = 0;
    /// Closes now, dropping anything unwritten; on_transport_closed follows. Idempotent.
    virtual void close() noexcept = 0;
    /// Like close(), but tells the peer with a reset (TCP RST) where the transport can, so
    /// the kernel drops what a peer that stopped reading never took. Idempotent.
    virtual void reset() noexcept { close(); }
    /// Bytes accepted by write() but not yet handed to the transport. A drop between two
    /// looks means the peer is reading.
    virtual std::size_t write_pending() const noexcept = 0;
    /// The remote end (empty if unknown).
    virtual PeerName peer() const = 0;

    /// Closes a transport that no connection took (making one failed) and frees it once the
    /// loop has let go of its handle; its events are not told.
    static void discard(std::unique_ptr<Transport> transport) noexcept {
        transport.release()->close_and_free();
    }

protected:
    /// discard()'s part: close, then delete this once the loop has let go of it. A transport
    /// with no loop handle (a test's, in memory) is simply deleted.
    virtual void close_and_free() noexcept { delete this; }
};

}  // namespace vstream::net
