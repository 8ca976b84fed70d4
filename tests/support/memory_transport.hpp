// An in-memory net::Transport: the test (or fuzzer) feeds the bytes a client would send and
// reads what the connection wrote, with no socket. Writes complete when the test says so.
#pragma once

#include "net/transport.hpp"

#include <string>

namespace vstream::test {

class MemoryTransport final : public net::Transport {
public:
    /// Bytes written by the connection, in order.
    std::string written;
    bool reading = false;
    bool write_in_flight = false;
    bool shut_down = false;
    bool closed = false;
    int writes = 0;

    void set_events(net::TransportEvents* events) noexcept override { events_ = events; }
    int read_start() noexcept override {
        reading = true;
        return 0;
    }
    void read_stop() noexcept override { reading = false; }
    int write(const uv_buf_t* bufs, unsigned nbufs) noexcept override {
        for (unsigned i = 0; i < nbufs; ++i) written.append(bufs[i].base, bufs[i].len);
        write_in_flight = true;
        ++writes;
        return 0;
    }
    // Never writes at once, so every write goes through write() and the test completes it.
    int try_write(const uv_buf_t*, unsigned) noexcept override { return UV_EAGAIN; }
    void shutdown() noexcept override { shut_down = true; }
    void close() noexcept override {
        if (closed) return;
        closed = true;
        write_in_flight = false;  // like TcpTransport: a cancelled write is not reported
        events_->on_transport_closed();
    }
    net::PeerName peer() const override { return {"127.0.0.1", 40000}; }
    std::size_t write_pending() const noexcept override { return pending_bytes; }
    /// What write_pending() reports (the test plays the kernel).
    std::size_t pending_bytes = 0;

    /// Delivers client bytes, as a read would. Returns false if the transport is closed.
    bool deliver(std::string_view bytes) {
        if (closed) return false;
        events_->on_transport_read(bytes.data(), bytes.size());
        return true;
    }
    /// The client half-closes.
    void deliver_eof() {
        if (!closed) events_->on_transport_end(UV_EOF);
    }
    /// Completes the write in flight, if any. Returns whether there was one.
    bool complete_write(int status = 0) {
        if (!write_in_flight || closed) return false;
        write_in_flight = false;
        events_->on_transport_written(status);
        return true;
    }

private:
    net::TransportEvents* events_ = nullptr;
};

}  // namespace vstream::test
