// Middleware, the continuation it calls, and the built-in middleware. Implemented by
// src/middleware/ (chain.cpp, and one file per built-in).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace vstream {

class Context;
class Next;

/// A middleware: acts on the context before and after the rest of the chain, which it runs by
/// calling `next()`, or answers itself and does not call it (short-circuit). Runs on the loop
/// thread; an exception escaping it is handled like a handler's (the recovery middleware, or a
/// plain 500).
using Middleware = std::function<void(Context& ctx, Next next)>;

/// The rest of a middleware chain, ending with the route's handler. Cheap to copy.
///
/// Call it once. It may be called later, from any thread, if the middleware deferred the
/// context first (Context::defer): the rest of the chain then runs on the connection's loop
/// thread, never on the caller's. If the connection has closed by then, nothing runs.
class Next {
public:
    /// Runs the rest of the chain.
    void operator()() const;

    /// Internal: a chain position. `chain` is engine-private.
    Next(const void* chain, std::size_t index, Context* ctx) noexcept
        : chain_(chain), index_(index), ctx_(ctx) {}

private:
    const void* chain_;
    std::size_t index_;
    Context* ctx_;
};

/// Built-in middleware. Each returns a Middleware to pass to use(); each is independent and
/// configurable, and may be used on the server (every request) or on a group.
namespace middleware {

/// Receives one complete log line (no trailing newline).
using LogSink = std::function<void(std::string_view line)>;

/// Options of access_log().
struct AccessLogOptions {
    /// Where lines go. Called on the log's own writer thread, never on a loop thread, so a
    /// slow sink never blocks serving. Default: stderr.
    LogSink sink;
    /// Lines waiting for the writer at most. Beyond, new lines are dropped (and counted: the
    /// writer reports {"dropped":N} once it catches up) rather than blocking. Default 8192.
    std::size_t queue_lines = 8192;
};

/// One JSON line per finished request: time (RFC 3339, UTC), method, path, route (pattern),
/// status (499 when the client left first), bytes (body), duration_us, client (address),
/// user_agent, request_id and trace_id (when request_id() runs before it). Register it first
/// so it measures the whole chain.
Middleware access_log(AccessLogOptions options = {});

/// Options of request_id().
struct RequestIdOptions {
    /// The request id header, read and echoed. Default "X-Request-ID".
    std::string header = "X-Request-ID";
    /// Reuse an incoming id when it is well formed (1..128 characters of letters, digits and
    /// "-_.:"); otherwise, or when false, a new one is made. Default true.
    bool trust_incoming = true;
};

/// Reads or creates the request id and the W3C trace context: a valid incoming `traceparent`
/// keeps its trace id and flags and gets a new span id for this hop; otherwise a new trace
/// starts. Both are exposed on the context (Context::request_id, Context::traceparent) and
/// echoed on the response.
Middleware request_id(RequestIdOptions options = {});

/// Options of recovery().
struct RecoveryOptions {
    /// Where the exception's description goes (one JSON line). Default: stderr.
    LogSink log;
};

/// Catches an exception escaping the rest of the chain: answers 500 with a JSON error that
/// reveals nothing of it ({"error":"internal server error","request_id":...}), logs it, and
/// the server keeps serving. Register it early (after access_log and request_id).
Middleware recovery(RecoveryOptions options = {});

/// Options of rate_limit().
struct RateLimitOptions {
    /// Tokens added per second to each client's bucket. Default 10.
    double rate = 10.0;
    /// Bucket size: the burst a client may send at once. Default 20.
    double burst = 20.0;
    /// Clients tracked at most; past it the least recently seen are forgotten, so a flood of
    /// distinct addresses cannot grow memory without bound. Default 100000.
    std::size_t max_clients = 100000;
    /// Header holding the client key when the peer is a trusted proxy (e.g.
    /// "X-Forwarded-For": its last address not in trusted_proxies is the client). Empty: the
    /// peer address is the key. Default empty.
    std::string key_header;
    /// Peer addresses whose key_header is believed. Default none.
    std::vector<std::string> trusted_proxies;
};

/// A token bucket per client key. A request finding the bucket empty gets 429 with
/// Retry-After (seconds until a token is back) and a JSON error. Shared by every loop thread.
Middleware rate_limit(RateLimitOptions options = {});

/// Options of cors().
struct CorsOptions {
    /// Allowed origins, exactly as sent ("https://app.example"), or "*" for any.
    /// Default {"*"}.
    std::vector<std::string> allow_origins = {"*"};
    /// Methods a preflight may ask for. Default GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS.
    std::vector<std::string> allow_methods = {"GET",   "HEAD",   "POST",   "PUT",
                                              "PATCH", "DELETE", "OPTIONS"};
    /// Request headers a preflight may ask for (case-insensitive). Default Content-Type,
    /// Authorization, Range (a seeking player sends Range).
    std::vector<std::string> allow_headers = {"Content-Type", "Authorization", "Range"};
    /// Response headers scripts may read. Default Content-Length, Content-Range,
    /// Accept-Ranges, X-Request-ID.
    std::vector<std::string> expose_headers = {"Content-Length", "Content-Range", "Accept-Ranges",
                                               "X-Request-ID"};
    /// Send Access-Control-Allow-Credentials: true (then the origin is echoed, never "*").
    /// Default false.
    bool allow_credentials = false;
    /// How long a browser may cache a preflight answer. Default 600 s.
    std::chrono::seconds max_age{600};
};

/// CORS (the Fetch standard): adds the Access-Control-* headers for allowed origins and
/// answers preflight requests (OPTIONS with Access-Control-Request-Method) with 204, before
/// routing. A disallowed origin gets no CORS headers (the browser then blocks the response);
/// a disallowed preflight gets 403.
Middleware cors(CorsOptions options = {});

}  // namespace middleware

}  // namespace vstream
