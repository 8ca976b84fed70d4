#pragma once

#include <vstream/stream.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace vstream::request {

/// A request body read as it arrives (Context::read_body): the reader's callbacks, its limits
/// and where the body stands. Part of an Exchange; loop thread only.
///
/// The connection feeds it the bytes the parser finds; until a reader is set they are held
/// here, and the connection stops reading after them (so at most one socket read is held).
class IncomingBody {
public:
    enum class Feed {
        more,       ///< go on reading
        pause,      ///< stop reading until the reader asks again (Connection::on_body_wanted)
        too_large,  ///< over the reader's max_bytes: 413
    };
    static constexpr std::uint64_t kUnknownLength = ~std::uint64_t{0};

    /// Forgets the last request's body.
    void reset() noexcept;
    /// This request's body will be streamed (its route streams, and it has a body):
    /// `declared` is its Content-Length, or kUnknownLength for a chunked body.
    void expect(std::uint64_t declared) noexcept;
    /// True when the body is streamed (see expect()).
    bool expected() const noexcept { return expected_; }
    /// True once a reader is set (read_body was called).
    bool has_reader() const noexcept { return has_reader_; }
    /// True once the body is over for the reader: on_end or on_error ran, or it can no longer
    /// run (the request ended before a reader came).
    bool finished() const noexcept { return finished_; }
    /// True after on_data returned false until resume() (or no reader is set yet).
    bool paused() const noexcept { return paused_; }

    /// Sets the reader; 0 values take the given defaults. Returns false, leaving the body
    /// unread, when the declared length is over max_bytes (the caller answers 413).
    bool set_reader(BodyReader reader, std::uint64_t default_max,
                    std::chrono::milliseconds default_timeout);
    std::uint64_t max_bytes() const noexcept { return max_bytes_; }
    std::chrono::milliseconds timeout() const noexcept { return timeout_; }

    /// The next body bytes, from the parser.
    Feed data(std::string_view bytes);
    /// Hands bytes held before the reader came over to it.
    Feed deliver_held();
    /// The reader wants more (resume_body). Returns true when reading should restart now;
    /// false when it was not paused, or the call came from inside on_data (which then counts
    /// as having returned true).
    bool resume() noexcept;
    /// The whole body arrived: on_end runs.
    void end();
    /// The body cannot be read to its end: on_error(status, reason) runs, if a reader is set
    /// and the body is not finished. noexcept: exceptions from the callback are dropped.
    void fail(int status, std::string_view reason) noexcept;

private:
    Feed hand_over(std::string_view bytes);

    BodyReader reader_;
    std::string held_;  // bytes that came before the reader
    std::uint64_t declared_ = kUnknownLength;
    std::uint64_t received_ = 0;
    std::uint64_t max_bytes_ = 0;
    std::chrono::milliseconds timeout_{0};
    bool expected_ = false;
    bool has_reader_ = false;
    bool finished_ = false;
    bool paused_ = false;
    bool in_callback_ = false;
    bool resumed_in_callback_ = false;
};

}  // namespace vstream::request
