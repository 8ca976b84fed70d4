// Drives a request::ResponseBody as a connection would: each pull appends to a net::WriteQueue
// over a MemoryTransport, and every write is completed at once, so the test sees the exact bytes
// that would go out. Time is the test's: `now` is passed in, never read from a clock.
#pragma once

#include "memory_transport.hpp"
#include "net/write_queue.hpp"
#include "request/response_body.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace vstream::test {

class BodyDrain final : private net::TransportEvents {
public:
    explicit BodyDrain(std::size_t high_water = 1 << 20, std::size_t low_water = 1 << 18)
        : queue_(transport_, high_water, low_water) {
        transport_.set_events(this);
    }
    BodyDrain(const BodyDrain&) = delete;
    BodyDrain& operator=(const BodyDrain&) = delete;

    /// One pull at loop time `now`, then everything queued is written. last_pull_bytes()
    /// tells how many bytes it produced.
    request::Pull pull(request::ResponseBody& body, std::uint64_t now) {
        const std::size_t before = transport_.written.size();
        const request::Pull p = body.pull(queue_, now);
        flush();
        last_pull_bytes_ = transport_.written.size() - before;
        ++pulls_;
        return p;
    }

    /// Pulls until the body is done or fails, moving `now` to each wait's wait_until.
    /// Returns the last pull; gives up (returning it, kind `more` or `wait`) after
    /// `max_pulls`.
    request::Pull run(request::ResponseBody& body, std::uint64_t& now, int max_pulls = 1000000) {
        request::Pull p;
        for (int i = 0; i < max_pulls; ++i) {
            p = pull(body, now);
            if (p.kind == request::Pull::Kind::done || p.kind == request::Pull::Kind::fail)
                return p;
            if (p.kind == request::Pull::Kind::wait) now = p.wait_until;
        }
        return p;
    }

    /// Every byte written so far, in order.
    const std::string& written() const noexcept { return transport_.written; }
    std::size_t last_pull_bytes() const noexcept { return last_pull_bytes_; }
    int pulls() const noexcept { return pulls_; }
    net::WriteQueue& queue() noexcept { return queue_; }

private:
    void flush() {
        queue_.flush();
        while (transport_.complete_write()) {
        }
    }
    void on_transport_read(const char*, std::size_t) override {}
    void on_transport_end(int) override {}
    void on_transport_written(int status) override { queue_.on_written(status); }
    void on_transport_closed() override {}

    MemoryTransport transport_;
    net::WriteQueue queue_;
    std::size_t last_pull_bytes_ = 0;
    int pulls_ = 0;
};

}  // namespace vstream::test
