// The HTTP/1.1 server: loop threads, listeners, connections. Implemented by
// src/server/server.cpp.
#pragma once

#include <vstream/config.hpp>
#include <vstream/context.hpp>
#include <vstream/router.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

/// A libuv loop (uv_loop_t), for Server::attach; this header does not include <uv.h>.
struct uv_loop_s;

namespace vstream {

/// A request handler (declared in router.hpp): runs on a loop thread and must not block it.
/// It answers through the Context, now or later (Context::defer). An exception escaping it
/// becomes a 500 that reveals nothing of the exception.

/// Counters, summed over the loop threads. Any thread.
struct ServerStats {
    std::uint64_t connections_accepted = 0;  ///< accepted and served
    /// Refused past max_connections: answered 503 and closed (on a TLS listener only closed).
    std::uint64_t connections_rejected = 0;
    std::uint64_t connections_open = 0;  ///< open now
    std::uint64_t requests = 0;          ///< requests whose response was sent
    /// Connections refused because the process had run out of descriptors (EMFILE, ENFILE):
    /// taken with a descriptor kept in reserve, answered 503 (on a TLS listener not answered)
    /// and closed at once (see Timeouts::accept_backoff). Starts at 0.
    std::uint64_t connections_refused = 0;
};

/// An embeddable HTTP/1.1 server. Several can live in one process.
///
/// It is the root route group: `server.get("/ping", handler)`, `server.use(middleware)` (runs
/// for every request, routed or not), `server.group("/api")`. See RouteGroup.
///
/// Lifecycle: construct (validates the config), register routes, start(), and later stop()
/// (or destroy, which stops). A stopped server cannot be restarted. Do not destroy a server
/// from one of its own handlers.
class Server : public RouteGroup {
public:
    /// Throws Error(errc::invalid_argument) if the config is invalid. With TLS listeners,
    /// also reads the certificate, key and CA files of config.tls, and throws as
    /// reload_tls() does for a bad one.
    explicit Server(ServerConfig config = {});
    /// Stops (gracefully, within Timeouts::shutdown_grace) and joins the loop threads.
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Sets the handler for requests no route matches (default: 404). With no routes at all
    /// it sees every request. Thread: before start() only; throws Error(errc::already_running)
    /// after.
    void handle(Handler handler);
    using RouteGroup::handle;  // handle(method, pattern, handler)

    /// Binds every listen address on every loop thread, then starts the threads. Returns once
    /// all are listening. Throws Error (address_in_use, permission_denied, ...) if a bind
    /// fails, with nothing left running; Error(errc::already_running) or Error(errc::stopped)
    /// if called twice.
    void start();
    /// Stops accepting, lets in-flight requests finish up to Timeouts::shutdown_grace, closes
    /// the rest, and joins the loop threads. Idempotent. Any thread; from a handler (a loop
    /// thread) it only requests the stop, and wait() or the destructor joins.
    void stop();
    /// Blocks until the server has stopped (after stop() from elsewhere, e.g. a signal).
    /// Throws Error(errc::busy) on the thread of an attached server's loop, which must run
    /// for the stop to finish.
    void wait();
    /// start() then wait().
    void run();
    /// Instead of start(): serves from the host's libuv loop `loop`, which the host runs on the
    /// calling thread (uv_run); binds, then returns. The server's own handles live on a
    /// private loop that `loop` drives (a poll handle on its backend descriptor and a timer),
    /// so the host's handles are never touched, and SIGPIPE is blocked only while the server's
    /// loop runs. Handlers run on the host's thread; ServerConfig::threads is ignored. stop()
    /// only starts the stop there: the host's loop finishes it, then running() turns false
    /// (and the host's uv_run returns once nothing else is active). Destroying the server
    /// closes every connection at once, without running the host's loop; the two host-side
    /// handles are freed when it next runs. Throws as start() does, and
    /// Error(invalid_argument) for a null loop.
    void attach(uv_loop_s* loop);
    /// True when the calling thread is inside one of this server's loops: a handler or other
    /// callback of it is running (where stop() only requests the stop and the server must not
    /// be destroyed). Any thread.
    bool inside_loop() const noexcept;

    /// The bound port (useful with port 0): the first listener's. 0 before start(). Any
    /// thread.
    std::uint16_t port() const noexcept;
    /// Every listener's bound port, in the order of ServerConfig::effective_listeners();
    /// empty before start(). Any thread.
    std::vector<std::uint16_t> ports() const;
    /// True between start() and the end of stop().
    bool running() const noexcept;
    /// A snapshot of the counters. Any thread.
    ServerStats stats() const noexcept;
    /// A snapshot of the file cache's counters (see FileCacheConfig). Any thread.
    FileCacheStats file_cache_stats() const;
    /// The configuration in effect. Its `tls` member stays as given to the constructor;
    /// reload_tls() does not change it.
    const ServerConfig& config() const noexcept;

    /// Reads the TLS certificate, key and CA files again (those of the options last loaded),
    /// for certificates renewed in place: what SIGHUP does in vstream-serve. See the other
    /// overload. Any thread.
    void reload_tls();
    /// Loads `options` for the TLS listeners: handshakes that begin afterwards use its
    /// certificates and settings; connections already open keep theirs. Issued session
    /// tickets still resume (the ticket keys carry over); the session cache starts empty.
    /// handshake_timeout and max_handshakes keep the values the server started with. On any
    /// error (an invalid option, a file that cannot be read or is not a matching PEM
    /// certificate and key) nothing changes, the old certificates stay in use, and this
    /// throws Error(invalid_argument or io_error) naming the option and file. Throws
    /// Error(invalid_argument) if the server has no TLS listener. Any thread, before or
    /// after start(); not from inside a handler of a stopped server.
    void reload_tls(const TlsOptions& options);
    /// TLS counters, summed over the loop threads (all zero without TLS listeners). Any
    /// thread.
    TlsStats tls_stats() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace vstream
