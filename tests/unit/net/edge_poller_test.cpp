// Tests EdgePoller (src/net/edge_poller.cpp) on a real uv loop with socket pairs: arrival
// order, edge semantics, rearm, remove (within a batch too) and what keeps the loop alive.
#include "net/edge_poller.hpp"

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

using vstream::net::EdgePoller;
using vstream::net::EdgeWatcher;

namespace {

// A socket pair: `ours` is watched, `theirs` writes to it.
struct Pair {
    int ours = -1;
    int theirs = -1;
    Pair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds) == 0);
        ours = fds[0];
        theirs = fds[1];
    }
    ~Pair() {
        if (ours >= 0) ::close(ours);
        if (theirs >= 0) ::close(theirs);
    }
    Pair(const Pair&) = delete;
    Pair& operator=(const Pair&) = delete;
    void send(const std::string& s) const {
        REQUIRE(::write(theirs, s.data(), s.size()) == static_cast<ssize_t>(s.size()));
    }
    std::string drain() const {
        std::string got;
        char buf[256];
        ssize_t n;
        while ((n = ::read(ours, buf, sizeof buf)) > 0)
            got.append(buf, static_cast<std::size_t>(n));
        return got;
    }
};

// Records which watcher was told, in order; `then` runs inside the callback.
struct Log {
    std::vector<int> order;
};

struct Watcher final : EdgeWatcher {
    int id;
    Log* log;
    std::function<void()> then;
    Watcher(int i, Log* l) : id(i), log(l) {}
    void on_edge(std::uint32_t) noexcept override {
        log->order.push_back(id);
        if (then) then();
    }
};

class Fixture {
public:
    Fixture() {
        REQUIRE(uv_loop_init(&loop_) == 0);
        poller_ = std::make_unique<EdgePoller>(&loop_);
    }
    ~Fixture() {
        poller_->close();
        uv_run(&loop_, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop_) == 0);
    }
    Fixture(const Fixture&) = delete;
    Fixture& operator=(const Fixture&) = delete;

    EdgePoller& poller() { return *poller_; }
    uv_loop_t* loop() { return &loop_; }
    // One loop iteration that does not block: the poller's descriptor is already readable
    // when anything was reported, since the writes came first.
    void turn() { uv_run(&loop_, UV_RUN_NOWAIT); }

private:
    uv_loop_t loop_{};
    std::unique_ptr<EdgePoller> poller_;
};

// A pair whose `ours` end is watched from construction to destruction.
struct Watched {
    Pair pair;
    Watcher w;
    EdgePoller& poller;
    bool on = false;
    Watched(EdgePoller& p, int id, Log* log) : w(id, log), poller(p) {
        REQUIRE(p.add(pair.ours, &w) == 0);
        on = true;
    }
    ~Watched() { remove(); }
    void remove() {
        if (on) poller.remove(pair.ours, &w);
        on = false;
    }
    Watched(const Watched&) = delete;
    Watched& operator=(const Watched&) = delete;
};

}  // namespace

TEST_SUITE("net/edge_poller") {

TEST_CASE("descriptors are reported in the order their bytes arrived") {
    Fixture f;
    Log log;
    Watched a(f.poller(), 1, &log), b(f.poller(), 2, &log), c(f.poller(), 3, &log);
    CHECK(f.poller().watched() == 3);
    b.pair.send("x");
    c.pair.send("x");
    a.pair.send("x");
    f.turn();
    CHECK(log.order == std::vector<int>{2, 3, 1});
    for (const Watched* x : {&a, &b, &c}) x->pair.drain();

    // Served last time is no head start: the order follows the new arrivals.
    log.order.clear();
    a.pair.send("y");
    c.pair.send("y");
    b.pair.send("y");
    f.turn();
    CHECK(log.order == std::vector<int>{1, 3, 2});
}

TEST_CASE("bytes already waiting when a descriptor is added are reported") {
    Fixture f;
    Log log;
    Pair a;
    a.send("early");
    Watcher w(1, &log);
    REQUIRE(f.poller().add(a.ours, &w) == 0);
    f.turn();
    CHECK(log.order == std::vector<int>{1});
    f.poller().remove(a.ours, &w);
}

TEST_CASE("an edge is told once: unread bytes wait for new bytes or a rearm") {
    Fixture f;
    Log log;
    Watched a(f.poller(), 1, &log);
    a.pair.send("left unread");
    f.turn();
    f.turn();
    CHECK(log.order.size() == 1);  // not again while nothing new came

    a.pair.send("more");
    f.turn();
    CHECK(log.order.size() == 2);

    REQUIRE(f.poller().rearm(a.pair.ours, &a.w) == 0);
    f.turn();
    CHECK(log.order.size() == 3);  // still readable: told again
    CHECK(a.pair.drain() == "left unreadmore");

    REQUIRE(f.poller().rearm(a.pair.ours, &a.w) == 0);
    f.turn();
    CHECK(log.order.size() == 3);  // drained: a rearm reports nothing
}

TEST_CASE("the peer's close is an edge") {
    Fixture f;
    Log log;
    Watched a(f.poller(), 1, &log);
    ::close(a.pair.theirs);
    a.pair.theirs = -1;
    f.turn();
    CHECK(log.order == std::vector<int>{1});
}

TEST_CASE("a removed descriptor is not reported, even from the batch being dispatched") {
    Fixture f;
    Log log;
    Watched a(f.poller(), 1, &log), b(f.poller(), 2, &log);
    // a comes first and removes b, whose event is already in the same batch.
    a.w.then = [&] { b.remove(); };
    a.pair.send("x");
    b.pair.send("x");
    f.turn();
    CHECK(log.order == std::vector<int>{1});
    b.pair.send("more");
    f.turn();
    CHECK(log.order == std::vector<int>{1});
    CHECK(f.poller().watched() == 1);
}

TEST_CASE("the loop stays alive while a descriptor is watched, and only then") {
    Fixture f;
    CHECK_FALSE(uv_loop_alive(f.loop()));  // the poller alone holds nothing
    Log log;
    {
        Watched a(f.poller(), 1, &log);
        CHECK(uv_loop_alive(f.loop()));
    }
    CHECK_FALSE(uv_loop_alive(f.loop()));
}

TEST_CASE("adding a descriptor that is not open fails with its error") {
    Fixture f;
    Log log;
    Watcher w(1, &log);
    CHECK(f.poller().add(-1, &w) == UV_EBADF);
    CHECK(f.poller().watched() == 0);
}

}  // TEST_SUITE("net/edge_poller")
