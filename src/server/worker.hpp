#pragma once

#include <vstream/config.hpp>
#include <vstream/server.hpp>

#include "core/date_cache.hpp"
#include "core/loop_handoff.hpp"
#include "core/uv_handle.hpp"
#include "files/mmap_cache.hpp"
#include "http1/connection.hpp"
#include "net/acceptor.hpp"
#include "net/listener.hpp"
#include "net/tcp_transport.hpp"
#include "server/loop_driver.hpp"
#include "tls/handshake_tracker.hpp"
#include "tls/tls_context.hpp"
#include "tls/tls_counters.hpp"

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace vstream::server {

/// What every worker of a server shares: the connection count, the accept gate, the request
/// environment and the dispatcher.
struct WorkerShared {
    std::atomic<std::uint64_t> open{0};  // connections open now, for max_connections
    net::AcceptGate accept_gate;  // keeps one loop from taking the descriptor another refuses with
    // What every request shares (limits, the file cache): never null once serving.
    std::shared_ptr<const request::Env> request_env;
    const request::Dispatcher* dispatcher = nullptr;  // the router; null answers 404
    std::atomic<std::size_t> handshakes{0};  // TLS handshakes under way, for max_handshakes
};

/// A listening socket for a worker, and whether its connections speak TLS.
struct WorkerSocket {
    net::ListenSocket socket;
    bool tls = false;
};

/// One loop thread: its own uv_loop_t, its own SO_REUSEPORT listeners, and the connections
/// they accept, which never leave it (shared-nothing, like Seastar's shards).
class Worker final : public http1::ConnectionHost {
public:
    /// Sets up the loop and its listeners on the calling thread (so errors surface in
    /// Server::start), ready for run_in_thread(). `tls_context` is what TLS sockets'
    /// handshakes start from (null if none is TLS). Throws Error.
    Worker(const ServerConfig& config, WorkerShared& shared, std::vector<WorkerSocket> sockets,
           std::shared_ptr<const tls::TlsContext> tls_context);
    /// Joins the thread and closes whatever is left.
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    /// Starts the loop thread.
    void run_in_thread();
    /// Instead of a thread: serves from the host's loop `host`, on the calling thread, which
    /// runs that loop (Server::attach). `on_done` runs there once the worker has shut down.
    void attach(uv_loop_t* host, std::function<void()> on_done);
    /// Whether an attached worker's loop is running (one of its callbacks is on the stack).
    bool driving() const noexcept { return aborting_ || (driver_ && driver_->driving()); }
    /// Asks the loop to stop gracefully. Any thread.
    void request_stop() noexcept;
    /// Waits for the loop thread to end.
    void join();
    /// Whether the calling thread is this worker's loop thread (for an attached worker: the
    /// host loop's thread, inside the server's callbacks or not).
    bool is_loop_thread() const noexcept { return handoff_->on_thread(); }

    std::uint64_t accepted() const noexcept { return accepted_.load(std::memory_order_relaxed); }
    std::uint64_t rejected() const noexcept { return rejected_.load(std::memory_order_relaxed); }
    /// Connections refused (503 unless TLS) because descriptors ran out.
    std::uint64_t refused() const noexcept { return refused_.load(std::memory_order_relaxed); }
    std::uint64_t requests() const noexcept { return requests_.load(std::memory_order_relaxed); }
    /// This loop's TLS counters (any thread).
    const tls::TlsCounters& tls_counters() const noexcept { return tls_counters_; }
    /// Makes later handshakes start from `context` (a reload). Any thread: handed to the loop.
    void set_tls_context(std::shared_ptr<const tls::TlsContext> context);

private:
    /// What one listening socket's acceptor tells: the worker, and whether it speaks TLS.
    class SocketEvents final : public net::AcceptEvents {
    public:
        SocketEvents(Worker* worker, bool tls) noexcept : worker_(worker), tls_(tls) {}
        void on_accepted(int fd) noexcept override { worker_->on_accepted(fd, tls_); }
        void on_refused(int fd) noexcept override { worker_->on_refused(fd, tls_); }
        void on_accept_paused(int err, std::size_t refused) noexcept override {
            worker_->on_accept_paused(err, refused);
        }

    private:
        Worker* worker_;
        bool tls_;
    };

    void on_accepted(int fd, bool tls) noexcept;
    void on_refused(int fd, bool tls) noexcept;
    void on_accept_paused(int err, std::size_t refused) noexcept;
    void accept_one(int fd, bool tls);
    std::unique_ptr<net::Transport> make_transport(int fd, bool tls, int& rc);
    void answer_busy(int fd, bool tls) noexcept;
    void begin_shutdown();
    void check_done();
    void on_connection_closed(http1::Connection* c) noexcept override;
    void close_all_handles();
    void abort_attached() noexcept;

    const ServerConfig& config_;
    WorkerShared& shared_;
    uv_loop_t loop_{};
    std::unique_ptr<net::ReadSlab> slab_;
    std::unique_ptr<net::EdgePoller> poller_;  // reads of every connection of this loop
    core::DateCache date_;
    std::shared_ptr<core::LoopHandoff> handoff_;
    http1::ConnectionEnv env_;
    std::vector<std::unique_ptr<SocketEvents>> socket_events_;  // one per acceptor
    std::vector<std::unique_ptr<net::Acceptor>> acceptors_;
    std::shared_ptr<const tls::TlsContext> tls_context_;  // null without TLS sockets
    tls::TlsCounters tls_counters_;
    std::unique_ptr<tls::HandshakeTracker> handshakes_;  // with TLS sockets
    core::UvHandle<uv_timer_t> grace_timer_;             // the drain deadline, once stopping
    core::UvHandle<uv_timer_t> tick_timer_;     // housekeeping once a second (file cache expiry)
    http1::Connection* connections_ = nullptr;  // intrusive list head
    std::thread thread_;
    std::unique_ptr<LoopDriver> driver_;  // attached to a host loop instead of a thread
    std::atomic<std::uint64_t> accepted_{0};
    std::atomic<std::uint64_t> rejected_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::uint64_t refused_unreported_ = 0;  // refused since the last log line
    std::uint64_t last_pause_report_ = 0;   // uv_now of that line; 0: none yet
    bool pause_reported_ = false;           // a pause was logged and accepting has not resumed
    std::atomic<std::uint64_t> requests_{0};
    bool stopping_ = false;
    bool aborting_ = false;  // abort_attached() runs the loop (its callbacks may run)
    bool loop_ready_ = false;
};

}  // namespace vstream::server
