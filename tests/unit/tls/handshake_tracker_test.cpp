// Tests HandshakeTracker (src/tls/handshake_tracker.cpp): the server-wide cap on handshakes
// under way, the per-loop bookkeeping, and the FIFO of deadlines timed by one timer on a real
// uv loop (short timeouts; only the order of events and lower bounds are checked, never a
// duration). Also TlsCounters::add_to, defined there.
#include "tls/handshake_tracker.hpp"

#include <vstream/tls.hpp>

#include "test_loop.hpp"
#include "tls/tls_counters.hpp"

#include <doctest/doctest.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

using vstream::TlsStats;
using vstream::test::TestLoop;
using vstream::tls::HandshakeFailure;
using vstream::tls::HandshakeTracker;
using vstream::tls::PendingHandshake;
using vstream::tls::TlsCounters;

namespace {

using std::chrono::milliseconds;

constexpr milliseconds kTimeout{30};

// A handshake that records when its time was up (the loop's clock), in a shared log.
struct Handshake final : PendingHandshake {
    int id;
    uv_loop_t* loop;
    std::vector<int>* log;
    std::uint64_t began = 0;
    std::uint64_t timed_out_at = 0;
    std::function<void()> on_timeout;  // runs inside the callback, after the log

    Handshake(int i, uv_loop_t* l, std::vector<int>* lg) : id(i), loop(l), log(lg) {}
    void on_handshake_timeout() noexcept override {
        timed_out_at = uv_now(loop);
        log->push_back(id);
        if (on_timeout) on_timeout();
    }
};

// A loop and one tracker on it, with its counters and the server-wide count.
struct Rig {
    TestLoop loop;  // first made, last gone: the tracker's timer is freed by its drain
    std::atomic<std::size_t> in_progress{0};
    TlsCounters counters;
    std::vector<int> log;
    std::unique_ptr<HandshakeTracker> tracker;

    explicit Rig(std::size_t max = 1024, milliseconds timeout = kTimeout)
        : tracker(std::make_unique<HandshakeTracker>(loop.get(), timeout, max, &in_progress,
                                                     &counters)) {}

    std::unique_ptr<Handshake> handshake(int id) {
        return std::make_unique<Handshake>(id, loop.get(), &log);
    }
    // Admits and begins `h`, as a TLS transport does.
    void start(Handshake& h) {
        REQUIRE(tracker->admit());
        uv_update_time(loop.get());
        h.began = uv_now(loop.get());
        tracker->begin(&h);
    }
    // Lets the loop's clock move on by a millisecond without running the loop (so no timer
    // fires): the next handshake begun gets a later deadline.
    void next_millisecond() {
        const std::uint64_t now = uv_now(loop.get());
        const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(1);
        while (uv_now(loop.get()) == now && std::chrono::steady_clock::now() < limit) {
            uv_update_time(loop.get());
        }
        REQUIRE(uv_now(loop.get()) > now);
    }
    std::uint64_t in_progress_here() const { return counters.in_progress.load(); }
    std::uint64_t failed(HandshakeFailure why) const {
        return counters.failed[static_cast<int>(why)].load();
    }
};

}  // namespace

TEST_SUITE("tls/handshake_tracker") {

TEST_CASE("admit takes places up to max, refuses past it (counted), and release gives back") {
    Rig rig(2);
    HandshakeTracker& t = *rig.tracker;
    CHECK(t.admit());
    CHECK(t.admit());
    CHECK(rig.in_progress == 2);
    CHECK_FALSE(t.admit());
    CHECK_FALSE(t.admit());
    CHECK(rig.in_progress == 2);  // a refusal takes nothing
    CHECK(rig.counters.refused_busy.load() == 2);
    t.release();
    CHECK(rig.in_progress == 1);
    CHECK(t.admit());
    CHECK_FALSE(t.admit());
    CHECK(rig.counters.refused_busy.load() == 3);
    t.release();
    t.release();
    CHECK(rig.in_progress == 0);
    CHECK(rig.in_progress_here() == 0);  // admit alone is no handshake under way
}

TEST_CASE("the cap is server-wide: trackers of two loops share one count") {
    TestLoop loop_a;
    TestLoop loop_b;
    std::atomic<std::size_t> shared{0};
    TlsCounters counters_a;
    TlsCounters counters_b;
    HandshakeTracker a(loop_a.get(), kTimeout, 3, &shared, &counters_a);
    HandshakeTracker b(loop_b.get(), kTimeout, 3, &shared, &counters_b);
    CHECK(a.admit());
    CHECK(b.admit());
    CHECK(a.admit());
    CHECK(shared == 3);
    CHECK_FALSE(b.admit());  // b has one, but the server has three
    CHECK(counters_b.refused_busy.load() == 1);
    CHECK(counters_a.refused_busy.load() == 0);
    a.release();
    CHECK(b.admit());
    CHECK_FALSE(a.admit());
    CHECK(counters_a.refused_busy.load() == 1);
    a.release();
    b.release();
    b.release();
    CHECK(shared == 0);
    a.close();
    b.close();
}

TEST_CASE("max 0 refuses every handshake") {
    Rig rig(0);
    CHECK_FALSE(rig.tracker->admit());
    CHECK(rig.in_progress == 0);
    CHECK(rig.counters.refused_busy.load() == 1);
}

TEST_CASE("begin counts a handshake under way; end gives its place back, once") {
    Rig rig;
    auto h = rig.handshake(1);
    auto g = rig.handshake(2);
    rig.start(*h);
    rig.start(*g);
    CHECK(rig.in_progress == 2);
    CHECK(rig.in_progress_here() == 2);
    rig.tracker->end(h.get());
    CHECK(rig.in_progress == 1);
    CHECK(rig.in_progress_here() == 1);
    rig.tracker->end(h.get());  // idempotent
    CHECK(rig.in_progress == 1);
    CHECK(rig.in_progress_here() == 1);
    rig.tracker->end(g.get());
    CHECK(rig.in_progress == 0);
    CHECK(rig.in_progress_here() == 0);
    // Neither timed out, ended before their deadline; the timer is stopped.
    rig.loop.run_until([] { return false; }, 3 * kTimeout);
    CHECK(rig.log.empty());
}

TEST_CASE("a handshake never ended times out, no earlier than its deadline, and is forgotten") {
    Rig rig;
    auto h = rig.handshake(7);
    rig.start(*h);
    CHECK(rig.log.empty());  // never from inside begin
    REQUIRE(rig.loop.run_until([&] { return !rig.log.empty(); }));
    CHECK(rig.log == std::vector<int>{7});
    CHECK(h->timed_out_at >= h->began + static_cast<std::uint64_t>(kTimeout.count()));
    // The tracker let go before telling it: the place is back, and end() is a no-op.
    CHECK(rig.in_progress == 0);
    CHECK(rig.in_progress_here() == 0);
    rig.tracker->end(h.get());
    CHECK(rig.in_progress == 0);
    rig.loop.run_until([] { return false; }, 2 * kTimeout);
    CHECK(rig.log == std::vector<int>{7});  // once
}

TEST_CASE("timeouts fire oldest first; an ended one is skipped") {
    Rig rig;
    std::vector<std::unique_ptr<Handshake>> hs;
    for (int i = 1; i <= 4; ++i) {
        hs.push_back(rig.handshake(i));
        rig.start(*hs.back());
        rig.next_millisecond();  // deadlines apart
    }
    rig.tracker->end(hs[2].get());  // the third ends in time
    REQUIRE(rig.loop.run_until([&] { return rig.log.size() == 3; }));
    CHECK(rig.log == std::vector<int>{1, 2, 4});
    for (const int i : {0, 1, 3}) {
        CAPTURE(i);
        CHECK(hs[i]->timed_out_at >= hs[i]->began + static_cast<std::uint64_t>(kTimeout.count()));
    }
    CHECK(hs[0]->timed_out_at <= hs[1]->timed_out_at);
    CHECK(hs[1]->timed_out_at <= hs[3]->timed_out_at);
    CHECK(rig.in_progress == 0);
    CHECK(rig.in_progress_here() == 0);
}

TEST_CASE("handshakes begun together time out together, in the order they began") {
    Rig rig;
    std::vector<std::unique_ptr<Handshake>> hs;
    for (int i = 1; i <= 5; ++i) {
        hs.push_back(rig.handshake(i));
        rig.start(*hs.back());
    }
    REQUIRE(rig.loop.run_until([&] { return rig.log.size() == 5; }));
    CHECK(rig.log == std::vector<int>{1, 2, 3, 4, 5});
    CHECK(rig.in_progress == 0);
}

TEST_CASE("ending the oldest re-arms the timer for the next one") {
    Rig rig(1024, milliseconds(50));
    auto first = rig.handshake(1);
    auto second = rig.handshake(2);
    rig.start(*first);
    rig.next_millisecond();  // a later deadline: the timer armed for the first is too early
    rig.start(*second);
    rig.tracker->end(first.get());  // the timer was armed for it
    REQUIRE(rig.loop.run_until([&] { return !rig.log.empty(); }));
    CHECK(rig.log == std::vector<int>{2});
    CHECK(second->timed_out_at >= second->began + 50);
    // And ending the newest (not the head) leaves the head's timer alone.
    auto third = rig.handshake(3);
    auto fourth = rig.handshake(4);
    rig.start(*third);
    rig.next_millisecond();
    rig.start(*fourth);
    rig.tracker->end(fourth.get());
    REQUIRE(rig.loop.run_until([&] { return rig.log.size() == 2; }));
    CHECK(rig.log == std::vector<int>{2, 3});
    CHECK(rig.in_progress == 0);
}

TEST_CASE("a handshake begun after the list emptied is timed again") {
    Rig rig;
    for (int round = 0; round < 3; ++round) {
        CAPTURE(round);
        auto h = rig.handshake(round);
        rig.start(*h);
        REQUIRE(rig.loop.run_until([&] { return rig.log.size() == std::size_t(round) + 1; }));
        CHECK(rig.log.back() == round);
    }
}

TEST_CASE("a timeout callback may end the next handshake (the transport closing another)") {
    Rig rig;
    auto a = rig.handshake(1);
    auto b = rig.handshake(2);
    auto c = rig.handshake(3);
    rig.start(*a);
    rig.start(*b);
    rig.start(*c);
    a->on_timeout = [&] { rig.tracker->end(b.get()); };
    REQUIRE(rig.loop.run_until([&] { return rig.log.size() == 2; }));
    CHECK(rig.log == std::vector<int>{1, 3});
    CHECK(rig.in_progress == 0);
    CHECK(rig.in_progress_here() == 0);
}

TEST_CASE("close forgets every handshake, gives their places back, and times nothing more") {
    Rig rig;
    std::vector<std::unique_ptr<Handshake>> hs;
    for (int i = 1; i <= 3; ++i) {
        hs.push_back(rig.handshake(i));
        rig.start(*hs.back());
    }
    REQUIRE(rig.tracker->admit());  // admitted, not begun: still the caller's to release
    CHECK(rig.in_progress == 4);
    CHECK(rig.in_progress_here() == 3);
    rig.tracker->close();
    CHECK(rig.in_progress == 1);
    CHECK(rig.in_progress_here() == 0);
    rig.tracker->close();           // idempotent
    rig.tracker->end(hs[0].get());  // forgotten already: nothing to give back
    CHECK(rig.in_progress == 1);
    rig.tracker->release();
    CHECK(rig.in_progress == 0);
    rig.loop.run_until([] { return false; }, 3 * kTimeout);
    CHECK(rig.log.empty());
    // Its counters stay readable.
    CHECK(rig.failed(HandshakeFailure::timeout) == 0);
}

TEST_CASE("the tracker keeps no loop alive on its own") {
    Rig rig;
    auto h = rig.handshake(1);
    rig.start(*h);
    // Only the timer is active, and unreferenced: a default run returns at once.
    CHECK(uv_run(rig.loop.get(), UV_RUN_NOWAIT) == 0);
    rig.tracker->end(h.get());
}

TEST_CASE("the plain HTTP reply is empty until set, then the bytes set") {
    Rig rig;
    CHECK(rig.tracker->plain_http_reply().empty());
    const std::string reply = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
    rig.tracker->set_plain_http_reply(reply);
    CHECK(rig.tracker->plain_http_reply() == reply);
    CHECK(&rig.tracker->counters() == &rig.counters);
}

TEST_CASE("TlsCounters::add_to adds every counter to the stats, field by field") {
    TlsCounters a;
    a.handshakes = 1;
    a.resumed = 2;
    a.in_progress = 3;
    a.failed[static_cast<int>(HandshakeFailure::timeout)] = 4;
    a.failed[static_cast<int>(HandshakeFailure::version)] = 5;
    a.failed[static_cast<int>(HandshakeFailure::certificate)] = 6;
    a.failed[static_cast<int>(HandshakeFailure::plain_http)] = 7;
    a.failed[static_cast<int>(HandshakeFailure::closed)] = 8;
    a.failed[static_cast<int>(HandshakeFailure::protocol)] = 9;
    a.refused_busy = 10;
    a.ktls_connections = 11;
    a.userspace_connections = 12;
    a.ktls_sendfile_bytes = 13;
    a.truncated_reads = 14;
    TlsCounters b;
    TlsCounters::bump(b.handshakes, 100);
    b.failure(HandshakeFailure::protocol);
    b.failure(HandshakeFailure::protocol);
    TlsCounters::bump(b.truncated_reads);

    TlsStats s;
    a.add_to(s);
    b.add_to(s);
    CHECK(s.handshakes == 101);
    CHECK(s.resumed == 2);
    CHECK(s.in_progress == 3);
    CHECK(s.failed_timeout == 4);
    CHECK(s.failed_version == 5);
    CHECK(s.failed_certificate == 6);
    CHECK(s.failed_plain_http == 7);
    CHECK(s.failed_closed == 8);
    CHECK(s.failed_protocol == 11);
    CHECK(s.refused_busy == 10);
    CHECK(s.ktls_connections == 11);
    CHECK(s.userspace_connections == 12);
    CHECK(s.ktls_sendfile_bytes == 13);
    CHECK(s.truncated_reads == 15);
    // Adding again sums on top (the server sums loop after loop into one).
    a.add_to(s);
    CHECK(s.handshakes == 102);
    CHECK(s.truncated_reads == 29);
}

}  // TEST_SUITE("tls/handshake_tracker")
