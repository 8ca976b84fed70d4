#pragma once

#include "net/edge_poller.hpp"
#include "net/transport.hpp"

#include <uv.h>

namespace vstream::net {

/// The remote end of a connected TCP handle (empty if unknown).
PeerName peer_name(const uv_tcp_t& tcp);

/// The connected socket under a transport: a libuv TCP handle that owns the descriptor (so
/// libuv closes it, shuts it down and resets it), watched on the loop's EdgePoller for its
/// owner. What TcpTransport and tls::TlsTransport share; each does its own reading and
/// writing. Its memory may go only once the handle is closed: the owner's
/// TransportEvents::on_transport_closed says when, or, for a discarded transport, the socket
/// deletes its owner itself.
/// Thread: its loop thread only.
class TcpSocket {
public:
    /// Initialises the handle on `loop` for `owner`, which `watcher` (usually the owner too)
    /// hears the socket's edges for. Throws Error on failure.
    TcpSocket(uv_loop_t* loop, EdgePoller* poller, Transport* owner, EdgeWatcher* watcher);
    /// Stops watching if close() never ran, so the poller never reports to freed memory.
    ~TcpSocket() { unwatch(); }
    TcpSocket(const TcpSocket&) = delete;
    TcpSocket& operator=(const TcpSocket&) = delete;

    /// Takes `fd`, a connected socket (from an Acceptor), and watches it for `interest`.
    /// Returns 0 or a libuv error; on error `fd` is closed if the handle did not take it.
    int open(int fd, EdgePoller::Interest interest) noexcept;
    /// Accepts a pending connection from `server` and watches it. Returns 0 or a libuv error.
    int accept(uv_stream_t* server, EdgePoller::Interest interest) noexcept;

    /// The descriptor (-1 before open or accept).
    int fd() const noexcept { return fd_; }
    /// Whether the poller watches it (opened, and not closing).
    bool watched() const noexcept { return watched_; }
    /// Whether close() or reset() has run.
    bool closing() const noexcept { return closing_; }
    /// Whether shutdown() has run.
    bool shutting_down() const noexcept { return shutting_down_; }
    /// The handle, for libuv's writes.
    uv_stream_t* stream() noexcept { return reinterpret_cast<uv_stream_t*>(&tcp_); }
    const uv_stream_t* stream() const noexcept {
        return reinterpret_cast<const uv_stream_t*>(&tcp_);
    }

    /// Reports the socket again if it is ready now (EdgePoller::rearm).
    int rearm() noexcept;
    /// Sends FIN once libuv's queued writes are done (half-close). Idempotent.
    void shutdown() noexcept;
    /// Stops watching and closes the handle; the owner's events hear on_transport_closed once
    /// libuv lets go of it (`events` may be null: then nobody is told). Idempotent.
    void close(TransportEvents* events) noexcept;
    /// Like close(), with a TCP reset where the kernel allows it (not once shutting down).
    void reset(TransportEvents* events) noexcept;
    /// Closes, and deletes the owner once libuv lets go of the handle, telling nobody: for a
    /// transport that no connection took.
    void discard() noexcept;

    /// The remote end.
    PeerName peer() const { return peer_name(tcp_); }

private:
    void unwatch() noexcept;
    static void on_close(uv_handle_t* h);
    static void on_shutdown(uv_shutdown_t* req, int status);

    uv_tcp_t tcp_{};
    uv_shutdown_t shutdown_req_{};
    EdgePoller* poller_;
    Transport* owner_;
    EdgeWatcher* watcher_;
    TransportEvents* events_ = nullptr;  // told on close
    EdgePoller::Interest interest_ = EdgePoller::Interest::read;
    int fd_ = -1;
    bool watched_ = false;
    bool closing_ = false;
    bool shutting_down_ = false;
    bool discarded_ = false;  // owned by nobody: on_close deletes the owner
};

}  // namespace vstream::net
