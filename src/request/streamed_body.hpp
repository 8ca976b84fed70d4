#pragma once

#include <vstream/body.hpp>

#include "request/response_body.hpp"

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace vstream::request {

class Exchange;

/// The shared state behind a StreamWriter: chunks queued by a producer on any thread, taken
/// by the connection on its loop thread (through StreamedBody). Holds a reference on its
/// exchange, through which it wakes the connection when bytes arrive while it waits.
class StreamState {
public:
    /// `chunked`: HTTP/1.1 framing; otherwise bytes go as they are (close-delimited).
    StreamState(Exchange& x, bool chunked, std::size_t high_water);
    ~StreamState();
    StreamState(const StreamState&) = delete;
    StreamState& operator=(const StreamState&) = delete;

    // Producer side, any thread.
    bool write(Body bytes);
    /// `last` is the encoded last chunk and trailers ("" for a close-delimited body).
    void end(std::string last);
    void set_drain(std::function<void()> fn);
    void set_close(std::function<void()> fn);
    bool closed() const noexcept;  // closed, or ended
    /// Closes it without a connection ever taking it (the request was cancelled first).
    void close_unsent() noexcept { close_from_loop(); }
    std::size_t queued() const noexcept;
    bool chunked() const noexcept { return chunked_; }

    // Connection side, loop thread.
    Pull pull(net::WriteQueue& out) noexcept;
    /// Body bytes pulled so far (chunk framing excluded). Loop thread.
    std::uint64_t produced() const noexcept { return produced_; }
    /// The connection let go before the end went out: close, tell the producer.
    void close_from_loop() noexcept;

private:
    Exchange* x_;
    const bool chunked_;
    const std::size_t high_;
    mutable std::mutex mutex_;
    std::deque<Body> queue_;
    std::size_t queued_ = 0;
    std::uint64_t produced_ = 0;  // loop thread
    std::string last_;
    bool ended_ = false;      // end() called
    bool last_sent_ = false;  // the end is queued on the connection
    bool closed_ = false;
    bool idle_ = false;        // the connection waits for a wake-up
    bool want_drain_ = false;  // a write() returned false
    std::function<void()> drain_;
    std::function<void()> close_;
};

/// The ResponseBody of a streamed response: length unknown, pulled from a StreamState.
class StreamedBody final : public ResponseBody {
public:
    explicit StreamedBody(std::shared_ptr<StreamState> state) noexcept : state_(std::move(state)) {}
    ~StreamedBody() override { state_->close_from_loop(); }
    std::uint64_t length() const noexcept override { return kUnknownLength; }
    Pull pull(net::WriteQueue& out, std::uint64_t) noexcept override { return state_->pull(out); }
    std::uint64_t produced() const noexcept override { return state_->produced(); }

private:
    std::shared_ptr<StreamState> state_;
};

}  // namespace vstream::request
