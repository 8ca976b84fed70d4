// Tests LoopHandoff (src/core/loop_handoff.cpp): cross-thread posting onto a running uv loop.
#include "core/loop_handoff.hpp"

#include "test_server.hpp"

#include <doctest/doctest.h>
#include <uv.h>

#include <atomic>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

using vstream::core::LoopHandoff;
using vstream::test::wait_until;

namespace {

// A uv loop created on the test thread and run on its own thread; the handoff is its only
// handle, so closing it ends uv_run.
class LoopThread {
public:
    LoopThread() {
        REQUIRE(uv_loop_init(&loop_) == 0);
        handoff_ = LoopHandoff::create(&loop_);
    }
    ~LoopThread() {
        stop();
        CHECK(uv_loop_close(&loop_) == 0);
    }
    LoopThread(const LoopThread&) = delete;
    LoopThread& operator=(const LoopThread&) = delete;

    void start() {
        std::promise<std::thread::id> bound;
        auto id = bound.get_future();
        thread_ = std::thread([this, &bound] {
            handoff_->bind_to_current_thread();
            bound.set_value(std::this_thread::get_id());
            uv_run(&loop_, UV_RUN_DEFAULT);
        });
        loop_thread_id_ = id.get();
    }
    // Posts close() onto the loop and joins; the handoff object itself may live on.
    void stop() {
        if (!thread_.joinable()) return;
        auto h = handoff_;
        h->post([h] { h->close(); });
        thread_.join();
    }

    std::shared_ptr<LoopHandoff>& handoff() { return handoff_; }
    std::thread::id loop_thread_id() const { return loop_thread_id_; }
    uv_loop_t* loop() { return &loop_; }

private:
    uv_loop_t loop_{};
    std::shared_ptr<LoopHandoff> handoff_;
    std::thread thread_;
    std::thread::id loop_thread_id_;
};

}  // namespace

TEST_SUITE("core/loop_handoff") {

TEST_CASE("a posted task runs on the loop thread") {
    LoopThread lt;
    lt.start();
    std::promise<std::pair<std::thread::id, bool>> ran;
    auto fut = ran.get_future();
    auto h = lt.handoff();
    REQUIRE(h->post([&ran, h] {
        ran.set_value({std::this_thread::get_id(), h->on_loop_thread()});
    }));
    REQUIRE(fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    const auto [id, on_loop] = fut.get();
    CHECK(id == lt.loop_thread_id());
    CHECK(id != std::this_thread::get_id());
    CHECK(on_loop);
}

TEST_CASE("on_loop_thread is true on the creating thread until bound elsewhere") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    auto h = LoopHandoff::create(&loop);
    CHECK(h->on_loop_thread());
    bool other_thread_sees = true;
    std::thread([&] { other_thread_sees = h->on_loop_thread(); }).join();
    CHECK_FALSE(other_thread_sees);
    std::thread([&] { h->bind_to_current_thread(); }).join();
    CHECK_FALSE(h->on_loop_thread());
    h->close();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("tasks from several threads all run on the loop thread, in order per thread") {
    LoopThread lt;
    lt.start();
    constexpr int kThreads = 4;
    constexpr int kTasks = 500;
    std::mutex m;
    std::vector<std::vector<int>> seen(kThreads);
    std::atomic<int> off_thread{0};
    std::atomic<int> done{0};
    const std::thread::id loop_id = lt.loop_thread_id();
    std::vector<std::thread> posters;
    for (int t = 0; t < kThreads; ++t) {
        posters.emplace_back([&, t] {
            for (int i = 0; i < kTasks; ++i) {
                const bool ok = lt.handoff()->post([&, t, i] {
                    if (std::this_thread::get_id() != loop_id) off_thread.fetch_add(1);
                    {
                        std::lock_guard lock(m);
                        seen[t].push_back(i);
                    }
                    done.fetch_add(1);
                });
                CHECK(ok);
            }
        });
    }
    for (auto& p : posters) p.join();
    REQUIRE(wait_until([&] { return done.load() == kThreads * kTasks; }));
    CHECK(off_thread.load() == 0);
    std::lock_guard lock(m);
    for (int t = 0; t < kThreads; ++t) {
        CAPTURE(t);
        REQUIRE(seen[t].size() == kTasks);
        bool ordered = true;
        for (int i = 0; i < kTasks; ++i) ordered = ordered && seen[t][i] == i;
        CHECK(ordered);
    }
}

TEST_CASE("a task may post another task") {
    LoopThread lt;
    lt.start();
    std::atomic<int> step{0};
    auto h = lt.handoff();
    REQUIRE(h->post([&step, h] {
        step = 1;
        h->post([&step] { step = 2; });
    }));
    CHECK(wait_until([&] { return step.load() == 2; }));
}

TEST_CASE("post after close returns false and destroys the task unrun") {
    LoopThread lt;
    lt.start();
    auto h = lt.handoff();
    lt.stop();  // close() has run on the loop; uv_run returned
    auto token = std::make_shared<int>(0);
    bool ran = false;
    CHECK(token.use_count() == 1);
    const bool posted = h->post([token, &ran] { ran = true; });
    CHECK_FALSE(posted);
    CHECK(token.use_count() == 1);  // the task (and its copy of token) is gone
    CHECK_FALSE(ran);
}

TEST_CASE("tasks queued but unrun at close are destroyed without running") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    auto h = LoopHandoff::create(&loop);
    auto token = std::make_shared<int>(0);
    int ran = 0;
    // The loop is not running, so the tasks stay queued.
    REQUIRE(h->post([token, &ran] { ++ran; }));
    REQUIRE(h->post([token, &ran] { ++ran; }));
    CHECK(token.use_count() == 3);
    h->close();
    CHECK(token.use_count() == 1);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(ran == 0);
    CHECK_FALSE(h->post([token, &ran] { ++ran; }));
    CHECK(token.use_count() == 1);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("tasks queued behind a task that closes the handoff are destroyed unrun") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    auto h = LoopHandoff::create(&loop);
    auto token = std::make_shared<int>(0);
    int before = 0;
    int after = 0;
    // All three are queued before the loop runs, so they are drained as one batch.
    REQUIRE(h->post([&before] { ++before; }));
    REQUIRE(h->post([h] { h->close(); }));
    REQUIRE(h->post([token, &after] { ++after; }));
    uv_run(&loop, UV_RUN_DEFAULT);  // returns once the closed handle is gone
    CHECK(before == 1);
    CHECK(after == 0);  // close(): "runs none of those still queued"
    CHECK(token.use_count() == 1);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("close is idempotent") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    auto h = LoopHandoff::create(&loop);
    h->close();
    h->close();
    uv_run(&loop, UV_RUN_DEFAULT);
    h->close();
    CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("the handoff outlives its loop while a shared_ptr is held elsewhere") {
    std::shared_ptr<LoopHandoff> kept;
    std::weak_ptr<LoopHandoff> weak;
    {
        LoopThread lt;
        lt.start();
        kept = lt.handoff();
        weak = kept;
        std::atomic<bool> ran{false};
        REQUIRE(kept->post([&ran] { ran = true; }));
        REQUIRE(wait_until([&] { return ran.load(); }));
    }  // loop stopped and closed
    REQUIRE_FALSE(weak.expired());
    std::atomic<bool> ran_late{false};
    // From another thread too: post reports false without touching the closed handle.
    bool posted = true;
    std::thread([&] { posted = kept->post([&ran_late] { ran_late = true; }); }).join();
    CHECK_FALSE(posted);
    CHECK_FALSE(ran_late.load());
    kept.reset();
    CHECK(weak.expired());
}

TEST_CASE("a task that drops the last outside reference does not destroy the handoff under it") {
    LoopThread lt;
    lt.start();
    auto holder = std::make_shared<std::shared_ptr<LoopHandoff>>(lt.handoff());
    std::weak_ptr<LoopHandoff> weak = lt.handoff();
    std::atomic<bool> ran{false};
    // The LoopThread still holds one; this task drops the extra one it carries.
    REQUIRE((*holder)->post([holder, &ran] {
        holder->reset();
        ran = true;
    }));
    holder.reset();
    REQUIRE(wait_until([&] { return ran.load(); }));
    CHECK_FALSE(weak.expired());
}

TEST_CASE("an unref'd handoff lets uv_run return while idle") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    auto h = LoopHandoff::create(&loop);
    h->set_ref(false);
    CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);  // returns at once: nothing keeps it alive
    h->set_ref(true);
    CHECK(uv_loop_alive(&loop) != 0);
    h->close();
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

}  // TEST_SUITE("core/loop_handoff")
