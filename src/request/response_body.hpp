#pragma once

#include <cstdint>

namespace vstream::net {
class WriteQueue;
}

namespace vstream::request {

/// What a pull produced.
struct Pull {
    enum class Kind {
        more,  // appended something; pull again once the queue drains
        wait,  // nothing now: pull again at `wait_until` (pacing)
        idle,  // nothing now: the response body wakes the connection itself (on_body_ready)
        done,  // everything is queued
        fail,  // cannot produce the promised bytes: cut the response short, close
    };
    Kind kind = Kind::done;
    std::uint64_t wait_until = 0;  // loop time (ms), for wait
};

/// A response body produced piece by piece as the connection can take it (h2o's generator):
/// a file sent through windows, multipart/byteranges, a paced response. The connection asks
/// for more only while its write queue is below the low-water mark, so a response body never makes
/// it hold much more than that. Thread: the connection's loop thread.
class ResponseBody {
public:
    virtual ~ResponseBody() = default;
    /// A length() of a body whose end is not known in advance (sent chunked).
    static constexpr std::uint64_t kUnknownLength = UINT64_MAX;
    /// The exact number of bytes the response body produces (the Content-Length), or
    /// kUnknownLength.
    virtual std::uint64_t length() const noexcept = 0;
    /// Appends the next bytes to `out`. `now` is the loop time in ms.
    virtual Pull pull(net::WriteQueue& out, std::uint64_t now) noexcept = 0;
    /// Body bytes handed over so far, framing excluded: for the response size of a body of
    /// unknown length (a known length is its own size).
    virtual std::uint64_t produced() const noexcept { return length(); }
};

}  // namespace vstream::request
