// Streaming responses of unknown length (live data): StreamWriter; and request bodies read as
// they arrive: BodyReader. Implemented by src/request/stream.cpp over src/request/streamed_body.cpp
// and src/request/incoming_body.cpp.
#pragma once

#include <vstream/body.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vstream {

namespace request {
class StreamState;
}

/// Writes a response body piece by piece, as it is produced: chunked (Transfer-Encoding:
/// chunked) to an HTTP/1.1 client, close-delimited to an HTTP/1.0 one. Made by
/// Context::stream(). A cheap, copyable handle; every method may be called from any thread
/// (one producer at a time), and works after the handler returned.
///
/// Flow control: write() returns false once the bytes waiting to be sent pass
/// Limits::write_high_water; the producer should then stop and wait for on_drain, which runs
/// when they fall below write_low_water. Writing on regardless is not refused, but costs
/// memory. A client that disconnects (or a server that stops) closes the writer: on_close
/// runs, closed() turns true, and later writes are dropped (return false).
class StreamWriter {
public:
    /// A writer attached to nothing: writes are dropped.
    StreamWriter() noexcept = default;

    /// Queues `bytes` as one chunk. Owned bytes are moved, borrowed ones referenced until sent
    /// (never copied); bytes refused (after end(), or once closed) are released at once, on
    /// the calling thread. An empty body is ignored (it would end the stream). Returns true
    /// while the client keeps up; false above the high-water mark, after end(), or once
    /// closed.
    bool write(Body bytes);
    /// Ends the body: the last chunk, with `trailers` (HTTP/1.1 only; dropped for HTTP/1.0,
    /// whose body ends with the connection). Later calls are ignored. Throws
    /// Error(invalid_argument) for a trailer name that is not a token or a value with CR, LF
    /// or NUL (and then does not end the stream).
    void end(std::vector<std::pair<std::string, std::string>> trailers = {});
    /// Runs `fn` on the loop thread each time the queue drains below the low-water mark after a
    /// write() returned false. Replaces any earlier callback.
    void on_drain(std::function<void()> fn);
    /// Runs `fn` once when the stream is closed before end() was sent (client gone, server
    /// stopping, a HEAD request that takes no body): on the loop thread, or at once on the
    /// calling thread if already closed. Replaces any earlier callback.
    void on_close(std::function<void()> fn);
    /// True once end() was called, or the stream was closed (the client is gone, ...): it
    /// takes no more bytes.
    bool closed() const noexcept;
    /// Bytes queued and not yet handed to the connection.
    std::size_t queued() const noexcept;
    explicit operator bool() const noexcept { return state_ != nullptr; }

private:
    friend class Context;
    explicit StreamWriter(std::shared_ptr<request::StreamState> state) noexcept
        : state_(std::move(state)) {}
    std::shared_ptr<request::StreamState> state_;
};

/// Receives a request body piece by piece, as it arrives (Context::read_body). Every callback
/// runs on the connection's loop thread, never two at once, and may run before read_body()
/// returns.
///
/// Flow control: on_data returns false when the consumer is behind; the engine then stops
/// reading from the socket (TCP pushes back on the client) until Context::resume_body().
/// At most one socket read (64 KiB) is held meanwhile.
///
/// Exactly one of on_end and on_error runs, once. After on_end the handler answers (if it has
/// not already); the context stays deferred until it does, and an unanswered context whose
/// last holder lets go gets a 500, as with defer().
struct BodyReader {
    /// The next bytes of the body, valid during the call only. Returns true for more, false to
    /// pause reading until resume_body(). Never called with an empty view.
    std::function<bool(std::string_view bytes)> on_data;
    /// The whole body arrived (for chunked bodies: the trailers too).
    std::function<void()> on_end;
    /// The body cannot be read to its end. `status` is what the engine answered the client
    /// with: 400 (malformed chunked framing, or the client closed early), 408 (stalled for
    /// Timeouts::body_read, or over `timeout`), 413 (over `max_bytes`), 500 (on_data threw);
    /// or 0 when no answer is possible (the connection is gone, or the response was sent
    /// before the body was read). The handler's own answer, if any comes later, is dropped.
    /// Clean up here.
    std::function<void(int status, std::string_view reason)> on_error;
    /// Largest body accepted, in bytes: decided from Content-Length at once, and counted as a
    /// chunked body arrives; beyond it, 413. 0 means Limits::max_stream_body_bytes.
    std::uint64_t max_bytes = 0;
    /// Time allowed for the whole body, from read_body(); beyond it, 408. 0 means
    /// Timeouts::stream_body. The stall timeout (Timeouts::body_read) applies as well.
    std::chrono::milliseconds timeout{0};
};

}  // namespace vstream
