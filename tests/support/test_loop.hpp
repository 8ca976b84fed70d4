// A libuv loop owned by a test and run on the test's thread, only when the test says so.
#pragma once

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <functional>

namespace vstream::test {

class TestLoop {
public:
    TestLoop() {
        REQUIRE(uv_loop_init(&loop_) == 0);
        REQUIRE(uv_timer_init(&loop_, &tick_) == 0);
    }
    /// Runs the loop until every handle closed (close what you own first), then closes it.
    ~TestLoop() {
        uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
        drain();
        CHECK(uv_loop_close(&loop_) == 0);
    }
    TestLoop(const TestLoop&) = delete;
    TestLoop& operator=(const TestLoop&) = delete;

    uv_loop_t* get() { return &loop_; }

    /// Runs the loop until `pred` holds or `limit` passes; a repeating timer keeps each
    /// iteration short so the deadline is checked. Returns pred().
    bool run_until(const std::function<bool()>& pred,
                   std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        uv_timer_start(
            &tick_, [](uv_timer_t*) {}, 5, 5);
        while (!pred() && std::chrono::steady_clock::now() < deadline) uv_run(&loop_, UV_RUN_ONCE);
        uv_timer_stop(&tick_);
        return pred();
    }

    /// Runs until nothing is left to do: handles closed by the test finish closing. Call it
    /// before the memory of a handle closed with uv_close goes.
    void drain() { uv_run(&loop_, UV_RUN_DEFAULT); }

private:
    uv_loop_t loop_{};
    uv_timer_t tick_{};
};

}  // namespace vstream::test
