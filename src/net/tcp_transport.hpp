#pragma once

#include "net/edge_poller.hpp"
#include "net/tcp_socket.hpp"
#include "net/transport.hpp"

#include <uv.h>

#include <cstdint>

namespace vstream::net {

/// Memory libuv reads into. One per loop: reads are consumed synchronously, so every
/// connection of the loop can share it.
struct ReadSlab {
    static constexpr std::size_t kSize = 64 * 1024;
    char bytes[kSize];
};

/// A Transport over a libuv TCP handle. libuv writes, shuts down and closes it; reads are
/// this class's own, on the loop's EdgePoller, so connections are read in arrival order.
class TcpTransport final : public Transport, private EdgeWatcher {
public:
    /// Initialises the handle on `loop`; then open() or accept() into it. Throws Error on
    /// failure.
    TcpTransport(uv_loop_t* loop, ReadSlab* slab, EdgePoller* poller);

    /// Accepts a pending connection from `server` and watches it for reads. Returns 0 or a
    /// libuv error (then close()).
    int accept(uv_stream_t* server) noexcept;
    /// Takes `fd`, a connected socket (from an Acceptor), and watches it for reads. Returns 0
    /// or a libuv error; on error `fd` is closed (then close() the transport).
    int open(int fd) noexcept;

    void set_events(TransportEvents* events) noexcept override { events_ = events; }
    int read_start() noexcept override;
    void read_stop() noexcept override;
    int write(const uv_buf_t* bufs, unsigned nbufs) noexcept override;
    void shutdown() noexcept override;
    void close() noexcept override;
    void reset() noexcept override;
    std::size_t write_pending() const noexcept override;
    PeerName peer() const override { return socket_.peer(); }

    int try_write(const uv_buf_t* bufs, unsigned nbufs) noexcept override;
    bool can_send_file() const noexcept override { return true; }
    int try_write_more(const uv_buf_t* bufs, unsigned nbufs) noexcept override;
    int try_send_file(int fd, std::uint64_t offset, std::size_t length) noexcept override;

private:
    /// Full slabs read in a row before the others get their turn.
    static constexpr int kReadsPerTurn = 16;

    void close_and_free() noexcept override;
    void on_edge(std::uint32_t events) noexcept override;
    void end_reading(int status) noexcept;
    static void on_write(uv_write_t* req, int status);

    TcpSocket socket_;
    uv_write_t write_req_{};
    ReadSlab* slab_;
    TransportEvents* events_ = nullptr;
    bool reading_ = false;
    bool unread_ = false;  // bytes may wait that no edge will report: rearm on read_start
};

}  // namespace vstream::net
