// Tests LoopDriver (src/server/loop_driver.cpp): a private libuv loop driven from a host loop
// through a poll handle on its backend descriptor and a timer that follows its next timeout.
#include "server/loop_driver.hpp"

#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using vstream::server::LoopDriver;

namespace {

// How long a host run may take before the watchdog stops it and the test fails.
constexpr std::uint64_t kWatchdogMs = 10000;

// A host loop and an inner loop, both on the test thread. The host carries an unref'd
// watchdog timer: it never keeps the host alive, but stops a run that would otherwise hang
// (the test then fails on `watchdog_fired`). The destructor checks both loops close clean.
struct Loops {
    uv_loop_t host{};
    uv_loop_t inner{};
    uv_timer_t watchdog{};
    bool watchdog_fired = false;

    Loops() {
        REQUIRE(uv_loop_init(&host) == 0);
        REQUIRE(uv_loop_init(&inner) == 0);
        uv_timer_init(&host, &watchdog);
        watchdog.data = this;
        uv_unref(reinterpret_cast<uv_handle_t*>(&watchdog));
    }
    ~Loops() {
        uv_close(reinterpret_cast<uv_handle_t*>(&watchdog), nullptr);
        uv_run(&host, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&host) == 0);
        uv_run(&inner, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&inner) == 0);
    }
    Loops(const Loops&) = delete;
    Loops& operator=(const Loops&) = delete;

    // Runs the host loop until nothing keeps it alive, or the watchdog stops it. Returns
    // whether it ended on its own.
    bool run_host() {
        watchdog_fired = false;
        uv_timer_start(
            &watchdog,
            [](uv_timer_t* t) {
                auto* self = static_cast<Loops*>(t->data);
                self->watchdog_fired = true;
                uv_stop(&self->host);
            },
            kWatchdogMs, 0);
        uv_run(&host, UV_RUN_DEFAULT);
        uv_timer_stop(&watchdog);
        return !watchdog_fired;
    }
};

template <class Handle>
void close_handle(Handle* h) {
    uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
}

}  // namespace

TEST_SUITE("server/loop_driver") {

TEST_CASE("an inner loop's repeating timer fires while only the host loop is run") {
    Loops loops;
    struct State {
        int fired = 0;
        bool host_running = false;
        int fired_in_host_run = 0;
    } st;
    uv_timer_t timer{};
    uv_timer_init(&loops.inner, &timer);
    timer.data = &st;
    // Three firings take at least three inner runs: at most one of them is the driver's
    // first drive() in its constructor, the rest must come from the host loop.
    uv_timer_start(
        &timer,
        [](uv_timer_t* t) {
            auto* s = static_cast<State*>(t->data);
            ++s->fired;
            if (s->host_running) ++s->fired_in_host_run;
            if (s->fired == 3) close_handle(t);
        },
        1, 1);
    int done = 0;
    LoopDriver driver(&loops.host, &loops.inner, [&] { ++done; });
    st.host_running = true;
    CHECK(loops.run_host());
    st.host_running = false;
    CHECK(st.fired == 3);
    CHECK(st.fired_in_host_run >= 2);
    CHECK(done == 1);
    CHECK(driver.done());
}

TEST_CASE("an inner uv_async woken from another thread runs its callback on the host loop") {
    Loops loops;
    struct State {
        std::atomic<int> calls{0};
        std::thread::id ran_on;
    } st;
    uv_async_t async{};
    uv_async_init(&loops.inner, &async, [](uv_async_t* a) {
        auto* s = static_cast<State*>(a->data);
        s->ran_on = std::this_thread::get_id();
        ++s->calls;
        close_handle(a);
    });
    async.data = &st;
    int done = 0;
    LoopDriver driver(&loops.host, &loops.inner, [&] { ++done; });
    CHECK(st.calls.load() == 0);  // nothing woke it yet
    std::thread waker([&] { uv_async_send(&async); });
    CHECK(loops.run_host());
    waker.join();
    CHECK(st.calls.load() == 1);
    CHECK(st.ran_on == std::this_thread::get_id());
    CHECK(done == 1);
}

TEST_CASE(
    "on_done runs once, after the inner loop's last handle has closed, and the host's "
    "uv_run then returns") {
    Loops loops;
    std::vector<std::string> events;
    struct State {
        std::vector<std::string>* events;
        uv_timer_t* other;
    };
    uv_timer_t first{};
    uv_timer_t second{};
    State st{&events, &second};
    uv_timer_init(&loops.inner, &first);
    uv_timer_init(&loops.inner, &second);
    first.data = &st;
    second.data = &st;
    // The first timer closes itself; the second (later) closes itself too, and its close
    // callback is the inner loop's very last event.
    uv_timer_start(
        &first,
        [](uv_timer_t* t) {
            static_cast<State*>(t->data)->events->push_back("first fired");
            uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) {
                static_cast<State*>(h->data)->events->push_back("first closed");
            });
        },
        2, 0);
    uv_timer_start(
        &second,
        [](uv_timer_t* t) {
            static_cast<State*>(t->data)->events->push_back("second fired");
            uv_close(reinterpret_cast<uv_handle_t*>(t), [](uv_handle_t* h) {
                static_cast<State*>(h->data)->events->push_back("second closed");
            });
        },
        30, 0);
    int done = 0;
    LoopDriver driver(&loops.host, &loops.inner, [&] {
        ++done;
        events.push_back("done");
    });
    // Nothing but the driver's own handles keeps the host alive: the run returning proves
    // the driver closed them.
    CHECK(loops.run_host());
    CHECK(done == 1);
    CHECK(driver.done());
    const std::vector<std::string> expected = {"first fired", "first closed", "second fired",
                                               "second closed", "done"};
    CHECK(events == expected);
    CHECK_FALSE(uv_loop_alive(&loops.inner));
    // Once done, driving again is a no-op and on_done does not run a second time.
    driver.drive();
    CHECK(loops.run_host());
    CHECK(done == 1);
}

TEST_CASE("a driver whose inner loop has nothing to run is done at once") {
    Loops loops;
    int done = 0;
    LoopDriver driver(&loops.host, &loops.inner, [&] { ++done; });
    CHECK(done == 1);
    CHECK(driver.done());
    CHECK(loops.run_host());  // its host handles are closed already
    CHECK(done == 1);
}

TEST_CASE("destroying the driver while the inner loop is alive closes its host handles") {
    Loops loops;
    uv_async_t keep{};  // keeps the inner loop alive: nobody ever sends it
    uv_async_init(&loops.inner, &keep, [](uv_async_t*) {});
    uv_timer_t far{};  // and a timer far off, so the driver's host timer is armed too
    uv_timer_init(&loops.inner, &far);
    uv_timer_start(
        &far, [](uv_timer_t*) {}, 3600 * 1000, 0);
    int done = 0;
    auto driver = std::make_unique<LoopDriver>(&loops.host, &loops.inner, [&] { ++done; });
    CHECK(uv_loop_alive(&loops.host));  // the poll handle and the timer
    uv_run(&loops.host, UV_RUN_NOWAIT);
    CHECK_FALSE(driver->done());
    driver.reset();
    // With nothing else on it, the host's run returns, having freed the two handles.
    CHECK(loops.run_host());
    CHECK_FALSE(uv_loop_alive(&loops.host));
    CHECK(done == 0);
    // The inner loop is left as it was, still alive, for its owner to close.
    CHECK(uv_loop_alive(&loops.inner));
    close_handle(&keep);
    close_handle(&far);
    // ~Loops runs both loops and checks uv_loop_close() == 0 on each.
}

TEST_CASE(
    "driving() is true inside an inner callback, and drive() from there does not "
    "re-enter the inner loop") {
    Loops loops;
    struct State {
        LoopDriver* driver = nullptr;
        bool in_first = false;
        int first_calls = 0;
        bool driving_inside = false;
        bool second_ran_inside_first = false;
        int second_calls = 0;
    } st;
    uv_async_t keep{};  // the inner loop stays alive until the end of the test
    uv_async_init(&loops.inner, &keep, [](uv_async_t*) {});
    uv_timer_t first{};
    uv_timer_t second{};
    uv_timer_init(&loops.inner, &first);
    uv_timer_init(&loops.inner, &second);
    first.data = &st;
    second.data = &st;
    LoopDriver driver(&loops.host, &loops.inner, [] {});
    st.driver = &driver;
    CHECK_FALSE(driver.driving());
    // Both due at once: had drive() re-entered uv_run, the second would fire inside the first.
    uv_timer_start(
        &first,
        [](uv_timer_t* t) {
            auto* s = static_cast<State*>(t->data);
            ++s->first_calls;
            s->in_first = true;
            s->driving_inside = s->driver->driving();
            s->driver->drive();
            s->in_first = false;
            close_handle(t);
        },
        0, 0);
    uv_timer_start(
        &second,
        [](uv_timer_t* t) {
            auto* s = static_cast<State*>(t->data);
            ++s->second_calls;
            if (s->in_first) s->second_ran_inside_first = true;
            close_handle(t);
        },
        0, 0);
    driver.drive();  // the inner handles changed from outside: let it see them
    // Close `keep` from the host side once both timers ran, so the host's run can end.
    uv_timer_t closer{};
    uv_timer_init(&loops.host, &closer);
    struct Closer {
        State* st;
        uv_async_t* keep;
        LoopDriver* driver;
    } cl{&st, &keep, &driver};
    closer.data = &cl;
    uv_timer_start(
        &closer,
        [](uv_timer_t* t) {
            auto* c = static_cast<Closer*>(t->data);
            if (c->st->first_calls == 0 || c->st->second_calls == 0) return;
            close_handle(c->keep);
            c->driver->drive();  // the inner loop changed from outside again
            close_handle(t);
        },
        1, 1);
    CHECK(loops.run_host());
    CHECK(st.first_calls == 1);
    CHECK(st.second_calls == 1);
    CHECK(st.driving_inside);
    CHECK_FALSE(st.second_ran_inside_first);
    CHECK_FALSE(driver.driving());
    CHECK(driver.done());
}

TEST_CASE(
    "a SIGPIPE raised by an inner callback is swallowed, and the host thread's mask is "
    "left as it was") {
    // SIGPIPE counted by a handler for the test, so a leak is a failed check, not a dead run.
    static volatile sig_atomic_t delivered = 0;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_handler = [](int) { delivered = delivered + 1; };
    sigemptyset(&sa.sa_mask);
    struct sigaction old_action;
    sigaction(SIGPIPE, &sa, &old_action);
    delivered = 0;
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t old_mask;
    pthread_sigmask(SIG_UNBLOCK, &pipe_set, &old_mask);

    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    ::close(sv[1]);
    struct State {
        int fd;
        int write_errno = 0;
        bool blocked_inside = false;
    } st{sv[0]};
    {
        Loops loops;
        uv_timer_t timer{};
        uv_timer_init(&loops.inner, &timer);
        timer.data = &st;
        uv_timer_start(
            &timer,
            [](uv_timer_t* t) {
                auto* s = static_cast<State*>(t->data);
                sigset_t cur;
                pthread_sigmask(SIG_SETMASK, nullptr, &cur);
                s->blocked_inside = sigismember(&cur, SIGPIPE) == 1;
                // write(2) without MSG_NOSIGNAL, as libuv's writev is.
                s->write_errno = ::write(s->fd, "x", 1) < 0 ? errno : 0;
                close_handle(t);
            },
            1, 0);
        LoopDriver driver(&loops.host, &loops.inner, [] {});
        CHECK(loops.run_host());
    }
    ::close(sv[0]);
    CHECK(st.write_errno == EPIPE);
    CHECK(st.blocked_inside);
    sigset_t cur;
    pthread_sigmask(SIG_SETMASK, nullptr, &cur);
    CHECK(sigismember(&cur, SIGPIPE) == 0);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    CHECK(sigismember(&pending, SIGPIPE) == 0);
    CHECK(delivered == 0);
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    sigaction(SIGPIPE, &old_action, nullptr);
}

TEST_CASE("a descriptor watcher that an inner callback starts is served") {
    // An inner callback that starts watching a new descriptor (as accepting a connection and
    // reading from it does): libuv registers the watcher with epoll only on the inner loop's
    // next run, so until then the backend descriptor cannot wake the host for it. The driver
    // must run the inner loop again (libuv >= 1.44 reports a backend timeout of 0 while
    // watchers wait to be registered) even with no inner timer pending.
    Loops loops;
    int fds[2];
    REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    REQUIRE(::write(fds[1], "x", 1) == 1);  // readable from the start
    struct State {
        uv_loop_t* inner;
        int fd;
        uv_poll_t poll{};
        bool started = false;
        int readable = 0;
    } st{&loops.inner, fds[0]};
    uv_async_t start{};
    start.data = &st;
    uv_async_init(&loops.inner, &start, [](uv_async_t* a) {
        auto* s = static_cast<State*>(a->data);
        uv_poll_init(s->inner, &s->poll, s->fd);
        s->poll.data = s;
        uv_poll_start(&s->poll, UV_READABLE, [](uv_poll_t* p, int status, int) {
            auto* st2 = static_cast<State*>(p->data);
            if (status == 0) ++st2->readable;
            close_handle(p);
        });
        s->started = true;
        close_handle(a);
    });
    int done = 0;
    LoopDriver driver(&loops.host, &loops.inner, [&] { ++done; });
    std::thread waker([&] { uv_async_send(&start); });
    waker.join();
    const bool ended = loops.run_host();
    CHECK(st.started);
    CHECK(st.readable == 1);
    CHECK(ended);
    CHECK(done == 1);
    if (!ended) {
        // Leave both loops closable for ~Loops.
        if (!st.started) {
            close_handle(&start);
        } else if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&st.poll))) {
            close_handle(&st.poll);
        }
        driver.drive();
        loops.run_host();
    }
    ::close(fds[0]);
    ::close(fds[1]);
}

}  // TEST_SUITE("server/loop_driver")
