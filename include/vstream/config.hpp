// Server configuration: listen addresses, threads, limits and timeouts, each with its default.
// Implemented by src/server/config.cpp.
#pragma once

#include <vstream/files.hpp>
#include <vstream/router.hpp>
#include <vstream/tls.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vstream {

/// Size limits. Every limit is enforced before the bytes it guards are buffered, and answered
/// with the status named here; the connection is then closed, since its framing can no longer
/// be trusted.
struct Limits {
    /// Request line (method, target, version) in bytes. Beyond: 414 URI Too Long.
    /// Also caps each chunk-size line of a chunked request body, its extensions included
    /// (they are skipped, never buffered). Beyond: 413.
    /// Default 8 KiB (nginx's large_client_header_buffers line size).
    std::size_t max_request_line = 8 * 1024;
    /// All header field lines together, in bytes. Beyond: 431. Default 32 KiB.
    std::size_t max_header_bytes = 32 * 1024;
    /// Number of header fields. Beyond: 431. Default 100.
    std::size_t max_header_count = 100;
    /// Request body, in bytes, decided from Content-Length before the body is read (413), and
    /// counted while reading a chunked body. Default 8 MiB.
    std::size_t max_body_bytes = 8 * 1024 * 1024;
    /// Default largest body of a streaming route (RouteGroup::handle_stream), read with
    /// Context::read_body() or uploaded to disk; a reader may set its own. Beyond: 413.
    /// Default 4 GiB.
    std::uint64_t max_stream_body_bytes = std::uint64_t{4} * 1024 * 1024 * 1024;
    /// Open connections across all loop threads. A connection past it is accepted, answered
    /// 503 and closed at once, so the listen backlog never fills; on a TLS listener it is
    /// closed without an answer (none can be given before a handshake). Default 10000.
    std::size_t max_connections = 10000;
    /// Bytes queued for writing on one connection at which a producer is told to pause.
    /// Reading further requests also pauses. Default 1 MiB.
    std::size_t write_high_water = 1024 * 1024;
    /// Queued bytes below which a paused producer is told to resume. Default 256 KiB.
    std::size_t write_low_water = 256 * 1024;
    /// Ranges in one Range header. A request with more is answered 200 with the whole file,
    /// as is one whose ranges add up to more than the file (so 10,000 tiny or overlapping
    /// ranges cannot multiply the work); see docs/files.md. At most 64. Default 16.
    std::size_t max_ranges = 16;
};

/// Timeouts. A zero duration is invalid (every timeout exists to bound a resource).
struct Timeouts {
    using ms = std::chrono::milliseconds;
    /// Whole request head (line and headers) from its first byte, or from accept for the
    /// first request. Not reset by each byte, so a slowloris client is cut off. 408 then close.
    /// Default 10 s.
    ms header = std::chrono::seconds(10);
    /// Idle keep-alive connection waiting for its next request; closed silently. Default 75 s
    /// (nginx's keepalive_timeout).
    ms keep_alive = std::chrono::seconds(75);
    /// Longest pause between two reads of a request body. 408 then close. Default 30 s.
    ms body_read = std::chrono::seconds(30);
    /// Default time allowed for a whole streamed body (Context::read_body(), uploads), from
    /// the reader's start; a reader may set its own. 408 then close. Default 1 hour.
    ms stream_body = std::chrono::hours(1);
    /// Longest time without write progress while bytes are queued (a client that stopped
    /// reading). The connection is closed. Default 60 s (nginx's send_timeout).
    ms write = std::chrono::seconds(60);
    /// After an error response, how long to keep draining what the client still sends, so the
    /// response is not destroyed by a TCP reset before the client reads it. Default 2 s.
    ms linger = std::chrono::seconds(2);
    /// How long stop() lets in-flight requests finish before closing their connections.
    /// Default 10 s.
    ms shutdown_grace = std::chrono::seconds(10);
    /// How long a loop stops accepting on a listener after accept failed for want of
    /// descriptors (EMFILE, ENFILE) or memory, while it goes on serving and closing the
    /// connections it has (nginx's 500 ms). With EMFILE or ENFILE the connections already
    /// waiting are first answered 503 and closed (on a TLS listener only closed), with a
    /// descriptor kept in reserve for that. Default 500 ms.
    ms accept_backoff = std::chrono::milliseconds(500);
};

/// One address and port a server listens on.
struct Listener {
    /// A numeric IPv4 or IPv6 address ("127.0.0.1", "::1", "0.0.0.0", "::"). Default
    /// "127.0.0.1".
    std::string address = "127.0.0.1";
    /// TCP port; 0 picks an ephemeral one for this listener alone (Server::ports() tells
    /// which). Default 0.
    std::uint16_t port = 0;
    /// Whether connections here speak TLS (HTTPS), with ServerConfig::tls. Default false.
    bool tls = false;
};

/// Everything a Server needs. Plain data; validate() reports the first bad field.
struct ServerConfig {
    /// Numeric IPv4 or IPv6 addresses to listen on ("127.0.0.1", "::1", "0.0.0.0", "::");
    /// validate() refuses anything else (host names, ports, brackets, zone ids). Every one
    /// listens on `port`. Ignored when `listeners` is not empty.
    /// Default: loopback only, so an embedded server is never exposed by accident.
    std::vector<std::string> addresses = {"127.0.0.1"};
    /// TCP port of every entry of `addresses`; 0 picks an ephemeral port, the same for all of
    /// them, readable through Server::port() after start(). Ignored when `listeners` is not
    /// empty. Default 8080.
    std::uint16_t port = 8080;
    /// Where to listen when the addresses do not all share one port (8080 on IPv4 and 9090
    /// on ::1, say); each listener is bound on every loop thread. When not empty it replaces
    /// `addresses` and `port`. An address and non-zero port may appear once. Default empty.
    std::vector<Listener> listeners;
    /// Loop threads, each with its own event loop and SO_REUSEPORT listener. 0 means one per
    /// core (std::thread::hardware_concurrency()). Default 0.
    unsigned threads = 0;
    /// listen() backlog per socket. Default 511 (nginx's).
    int backlog = 511;
    /// Value of the Server response header; empty sends none. Default "vstream".
    std::string server_name = "vstream";
    /// Whether start() and attach() raise the process's soft descriptor limit (RLIMIT_NOFILE)
    /// to its hard limit, as Go's runtime and nginx's worker_rlimit_nofile do: a shell's soft
    /// limit (often 1024) would otherwise cap the connections far below max_connections. The
    /// limit is process-wide and stays raised, and children started later inherit it; turn
    /// this off if the host depends on the lower limit (select() cannot watch descriptors
    /// above FD_SETSIZE, 1024). Either way, start() and attach() warn once on stderr when the
    /// limit leaves room for fewer than max_connections. Default true.
    bool raise_fd_limit = true;
    Limits limits;
    Timeouts timeouts;
    /// How requests that match no route are answered.
    RouterOptions router;
    /// The mmap file cache behind send_file and serve_static.
    FileCacheConfig file_cache;
    /// Certificates and TLS settings of the listeners with `tls` set; ignored (and not
    /// validated) when there are none. The Server reads the files when it is constructed, and
    /// again at each Server::reload_tls(). See docs/tls.md.
    TlsOptions tls;

    /// Throws vstream::Error(errc::invalid_argument) naming the first invalid field.
    void validate() const;
    /// The number of loop threads start() will run (resolves threads == 0).
    unsigned effective_threads() const noexcept;
    /// What start() binds: `listeners`, or when that is empty one listener per entry of
    /// `addresses` on `port`.
    std::vector<Listener> effective_listeners() const;
    /// Whether any of `listeners` speaks TLS.
    bool has_tls_listener() const noexcept;
};

}  // namespace vstream
