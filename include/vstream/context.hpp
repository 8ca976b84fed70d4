// The request/response context a handler works with, and the handle that lets a handler
// answer later, from any thread. Implemented by src/request/context.cpp over
// src/request/exchange.hpp (json_body() by src/request/json.cpp).
#pragma once

#include <vstream/body.hpp>
#include <vstream/files.hpp>
#include <vstream/headers.hpp>
#include <vstream/json.hpp>
#include <vstream/stream.hpp>
#include <vstream/upload.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vstream {

class ContextRef;

/// A route parameter: its name in the pattern, and its value, percent-decoded.
struct Param {
    std::string_view name;
    std::string_view value;
};

/// One request and its response. The engine owns it; a handler borrows it for the duration of
/// the call, or keeps it with defer().
///
/// Thread: the loop thread that runs the handler, except through a ContextRef (see there).
/// Request views (method, target, headers, body) stay valid until the response is sent, or,
/// for a deferred context, until the last ContextRef is dropped.
class Context {
public:
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    // ---- request ----
    /// The method token, e.g. "GET".
    std::string_view method() const noexcept;
    /// The request-target exactly as received, e.g. "/videos/1?t=30".
    std::string_view target() const noexcept;
    /// The target's path, before '?'; not percent-decoded.
    std::string_view path() const noexcept;
    /// The target's query, after '?' (empty when there is none); not decoded.
    std::string_view query_string() const noexcept;
    /// HTTP minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    int http_minor() const noexcept;
    /// The request's header fields.
    HeaderMap headers() const noexcept;
    /// The first header named `name` (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const noexcept;
    /// The request body (buffered up to Limits::max_body_bytes). Empty on a streaming route
    /// (RouteGroup::handle_stream), whose body is read with read_body() instead.
    std::string_view body() const noexcept;
    /// Reads the body as it arrives, through `reader` (see BodyReader): on a streaming route
    /// (RouteGroup::handle_stream) straight off the socket with flow control, never held
    /// whole; elsewhere the buffered body is handed over at once. "Expect: 100-continue" is
    /// answered now, so a handler that answers without reading never receives the body.
    /// Defers the context like defer(): answer from on_end (or later, through a ContextRef).
    /// Once per request; a second call, or a call after the response, gets on_error(0, ...):
    /// a full-duplex handler (echoing through stream()) calls read_body() first.
    /// Any thread (through a ContextRef); the callbacks run on the loop thread.
    void read_body(BodyReader reader);
    /// Stores the request body as files in options.dir (see UploadOptions): each file part of a
    /// multipart/form-data body in its own file (fields kept in memory), or any other body
    /// whole in one file. Written as the bytes arrive (on a streaming route, never held in
    /// memory), hashed with SHA-256 on the way, and checked against a Content-Digest or
    /// Repr-Digest sha-256 the client sent (RFC 9530). Files get their names only when all
    /// of the body arrived intact; on any failure none is left: 400 (malformed multipart,
    /// digest mismatch; it closes the connection), 408, 409 (name taken), 413, 507 (disk
    /// full), answered with {"error": "..."}, except where the engine cuts the body short
    /// itself (a stall or timeout, a chunked body over the limit, broken chunked framing: see
    /// BodyReader), answered in plain text like other engine errors. On success `done` runs
    /// on the loop thread with what was stored and answers; without `done` the answer is 201
    /// with UploadResult::to_json(). Defers the context, like read_body(); once per request.
    void receive_upload(UploadOptions options,
                        std::function<void(Context&, UploadResult&)> done = {});
    /// Resumes reading after BodyReader::on_data returned false. Any thread (through a
    /// ContextRef); does nothing when not paused.
    void resume_body();
    /// Parses the body as JSON (simdjson). If it is not valid JSON (an empty body included),
    /// answers 400 with {"error":"invalid JSON body: <reason>"} and returns nullopt, so a
    /// handler can simply return; like every 400 the engine chooses, that response closes
    /// the connection (a 400 the handler sends itself does not). The values stay valid while
    /// this context does.
    std::optional<JsonValue> json_body();
    /// The peer's IP address as text ("127.0.0.1", "::1").
    std::string_view peer_address() const noexcept;
    /// The peer's TCP port.
    std::uint16_t peer_port() const noexcept;

    // ---- routing ----
    /// The matched route's pattern ("/videos/:id"), or "" when no route matched.
    std::string_view route() const noexcept;
    /// The path routing used: the target's path, normalised (dot segments removed,
    /// percent-escapes decoded except %2F and %25).
    std::string_view route_path() const noexcept;
    /// The decoded value of route parameter `name` ("" when the route has none of that name).
    /// A catch-all parameter holds the rest of the path without its leading '/'.
    std::string_view param(std::string_view name) const noexcept;
    /// Every route parameter, in pattern order.
    std::span<const Param> params() const noexcept;
    /// The first value of query parameter `key`, decoded ('+' is a space); nullopt when
    /// absent. The query is parsed on first use.
    std::optional<std::string_view> query(std::string_view key) const;
    /// Every value of query parameter `key`, in order.
    std::vector<std::string_view> query_all(std::string_view key) const;

    // ---- request id and trace context (set by middleware::request_id) ----
    /// The request id ("" unless middleware::request_id ran).
    std::string_view request_id() const noexcept;
    /// The W3C traceparent of this hop ("00-<trace-id>-<span-id>-<flags>"), or "".
    std::string_view traceparent() const noexcept;
    /// The 32-hex-digit trace id from traceparent(), or "".
    std::string_view trace_id() const noexcept;
    /// Sets the request id and traceparent (what middleware::request_id does).
    void set_trace(std::string request_id, std::string traceparent);

    // ---- response ----
    /// Sets the status code (100..999 are passed through; default 200).
    Context& status(int code) noexcept;
    /// The status the response will carry.
    int response_status() const noexcept;
    /// Replaces any header named `name` with one field. Content-Length, Transfer-Encoding and
    /// Date are computed by the engine and ignored here; "Connection: close" makes the engine
    /// close the connection after this response.
    /// Throws Error(errc::invalid_argument) if name or value holds CR, LF or NUL (header
    /// injection), or the name is not a token.
    Context& set_header(std::string_view name, std::string_view value);
    /// Adds a header field, keeping any of the same name (e.g. Set-Cookie). Same rules.
    Context& add_header(std::string_view name, std::string_view value);
    /// Sends the response with `body`. Once per request; later calls are ignored. For HEAD,
    /// the headers (Content-Length included) are sent without the body.
    void send(Body body = {});
    /// status(code) then send(body).
    void send(int code, Body body);
    /// Sends `json` (already formatted) with Content-Type application/json.
    void json(int code, Body json);
    /// Sends `text` with Content-Type text/plain; charset=utf-8.
    void text(int code, Body text);
    /// Sends the file at `path` (absolute, or relative to the working directory) from the
    /// server's mmap file cache, zero-copy, with conditional requests and Range as RFC 9110
    /// has them: 200, 206 (multipart/byteranges for several ranges), 304, 412 or 416, with
    /// ETag, Last-Modified and Accept-Ranges (see FileOptions, e.g. to send only part of a
    /// file). 404 when there is no such file (or it is a directory), 403 when it may not be
    /// read. The path is the handler's choice and is not checked against any root: never
    /// pass a client's path unchecked (serve_static does that). Once per request, like send().
    void send_file(std::string_view path, const FileOptions& options = {});
    /// Starts a streamed response with `status`, for a body whose length is not known in
    /// advance (live data): chunked to HTTP/1.1 clients, close-delimited to HTTP/1.0 ones.
    /// The head goes out once the handler returns (or at once for a deferred context); the
    /// body follows as the returned writer is fed, from any thread, after the handler
    /// returned too (see StreamWriter). Counts as the answer: later send() calls are ignored.
    /// For HEAD the headers go out and the writer is closed. Returns a detached writer if the
    /// request was already answered.
    StreamWriter stream(int status = 200);
    /// True once send() has been called.
    bool responded() const noexcept;
    /// Bytes of the response body as sent (0 for HEAD, 204, 304). Valid once the response
    /// has been written, e.g. in an on_finish callback.
    std::size_t response_size() const noexcept;
    /// Runs `fn` once, on the loop thread, when the request is over: after its response has
    /// been queued, or when it was cancelled (then responded() is false). For logs and
    /// metrics; exceptions from it are ignored.
    void on_finish(std::function<void(Context&)> fn);

    // ---- asynchronous completion ----
    /// Keeps this context past the handler's return: the engine waits for the response until
    /// the returned ref sends it. If every ref is dropped without a response, the engine
    /// answers 500, so a forgotten request never hangs.
    ContextRef defer();
    /// True when the connection closed (or the server stopped) before the response was sent.
    /// Any thread.
    bool cancelled() const noexcept;
    /// Registers `fn` to run once, on the loop thread, if the request is cancelled (replacing
    /// an earlier one). If it is already cancelled, `fn` runs at once on the calling thread.
    /// Any thread (through a ContextRef).
    void on_cancel(std::function<void()> fn);
    /// Whether the calling thread is the loop thread that serves this context (where handlers,
    /// middleware and on_finish callbacks run). Any thread.
    bool on_loop_thread() const noexcept;

protected:
    Context() = default;
    ~Context() = default;
};

/// A counted reference to a deferred Context. Copyable and movable; any thread.
///
/// Through a ref, a thread other than the loop may build and send the response: the engine
/// carries the completion to the connection's loop. Only one thread may use a context at a
/// time. If the connection closes before the response is sent, the response is dropped
/// (never written to a dead or reused connection), cancelled() becomes true and the
/// on_cancel callback runs on the loop thread.
class ContextRef {
public:
    ContextRef() noexcept = default;
    ContextRef(const ContextRef& other) noexcept;
    ContextRef(ContextRef&& other) noexcept;
    ContextRef& operator=(ContextRef other) noexcept;
    ~ContextRef();

    Context& operator*() const noexcept { return *ctx_; }
    Context* operator->() const noexcept { return ctx_; }
    explicit operator bool() const noexcept { return ctx_ != nullptr; }

    /// True when the connection closed (or the server stopped) before the response was sent.
    bool cancelled() const noexcept;
    /// Registers `fn` to run once, on the loop thread, if the request is cancelled. If it is
    /// already cancelled, `fn` runs at once on the calling thread.
    void on_cancel(std::function<void()> fn);
    /// Drops this reference.
    void reset() noexcept;

private:
    friend class Context;
    friend class Next;
    explicit ContextRef(Context* ctx) noexcept;  // takes a new reference
    Context* ctx_ = nullptr;
};

}  // namespace vstream
