// Tests Acceptor (src/net/acceptor.cpp): accepting, and running out of descriptors (EMFILE)
// without stalling the loop, on a real uv loop run on the test thread.
#include "net/acceptor.hpp"

#include "core/uv_handle.hpp"
#include "fd_starvation.hpp"
#include "late_client.hpp"
#include "test_loop.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using vstream::net::AcceptEvents;
using vstream::net::AcceptGate;
using vstream::net::Acceptor;
using vstream::net::ListenSocket;
using vstream::test::FdStarvation;
using vstream::test::LateClient;

namespace {

using namespace std::chrono_literals;

constexpr auto kBackoff = 20ms;  // short, so the tests wait little for a back-off to end
constexpr std::string_view kBusy = "busy";

struct Recorder final : AcceptEvents {
    std::vector<int> accepted;  // owned here, closed by the destructor
    int refused = 0;
    int pauses = 0;
    int last_error = 0;
    std::size_t last_refused = 0;
    ~Recorder() {
        for (const int fd : accepted) ::close(fd);
    }
    void on_accepted(int fd) noexcept override { accepted.push_back(fd); }
    void on_refused(int fd) noexcept override {
        ++refused;
        ::send(fd, kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    void on_accept_paused(int err, std::size_t n) noexcept override {
        ++pauses;
        last_error = err;
        last_refused = n;
    }
};

// A loop on the test thread (TestLoop), made before any descriptor starvation: its epoll set
// is one descriptor.
using Loop = vstream::test::TestLoop;

// Starts a one-shot timer on `loop` that sets `fired`; the timer frees itself once closed.
uv_timer_t* start_timer(uv_loop_t* loop, bool* fired, std::uint64_t ms) {
    auto* timer = new uv_timer_t;
    uv_timer_init(loop, timer);
    timer->data = fired;
    uv_timer_start(
        timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, ms, 0);
    return timer;
}

}  // namespace

TEST_SUITE("net/acceptor") {

TEST_CASE("an acceptor hands over each connection as a non-blocking, close-on-exec socket") {
    Loop loop;
    Recorder rec;
    ListenSocket socket("127.0.0.1", 0, 16);
    const std::uint16_t port = socket.port();
    Acceptor acceptor(loop.get(), std::move(socket), kBackoff, &rec);
    CHECK(acceptor.has_reserve());
    CHECK_FALSE(acceptor.paused());

    LateClient a;
    LateClient b;
    REQUIRE(a.connect_to(port));
    REQUIRE(b.connect_to(port));
    REQUIRE(loop.run_until([&] { return rec.accepted.size() == 2; }));
    for (const int fd : rec.accepted) {
        CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
        CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    }
    CHECK(rec.refused == 0);
    CHECK(rec.pauses == 0);
    acceptor.close();
}

TEST_CASE(
    "out of descriptors, waiting connections are refused with the reserve and accepting "
    "pauses until the back-off ends") {
    Loop loop;
    Recorder rec;
    ListenSocket socket("127.0.0.1", 0, 16);
    const std::uint16_t port = socket.port();
    Acceptor acceptor(loop.get(), std::move(socket), kBackoff, &rec);
    REQUIRE(acceptor.has_reserve());
    std::vector<std::unique_ptr<LateClient>> clients;
    for (int i = 0; i < 3; ++i) clients.push_back(std::make_unique<LateClient>());

    FdStarvation starved(0);
    REQUIRE(starved.ok());
    REQUIRE(::open("/dev/null", O_RDONLY | O_CLOEXEC) == -1);  // none left
    for (const auto& c : clients) REQUIRE(c->connect_to(port));
    REQUIRE(loop.run_until([&] { return rec.pauses >= 1; }));
    CHECK(rec.last_error == UV_EMFILE);
    CHECK(rec.refused == 3);
    CHECK(rec.last_refused == 3);
    CHECK(rec.accepted.empty());
    CHECK(acceptor.paused());
    CHECK(acceptor.has_reserve());  // nothing took the freed descriptor: it was retaken
    for (const auto& c : clients) {
        const std::optional<std::string> got = c->read_until_close();
        CHECK(got.has_value());
        CHECK(got.value_or("") == kBusy);
    }

    // Descriptors free up: once the back-off ends, connections are accepted again.
    starved.release();
    LateClient late;
    REQUIRE(late.connect_to(port));
    CHECK(loop.run_until([&] { return rec.accepted.size() == 1; }));
    CHECK_FALSE(acceptor.paused());
    acceptor.close();
}

TEST_CASE(
    "with no descriptor free and no reserve, the acceptor pauses instead of spinning, "
    "the loop's timers run, and accepting resumes once descriptors free up") {
    // libuv's uv_listen() in this state calls accept in a loop that never returns to the
    // loop's timers (uv__emfile_trick without its reserve), so a run_until would hang.
    Loop loop;
    Recorder rec;
    ListenSocket socket("127.0.0.1", 0, 16);
    const std::uint16_t port = socket.port();
    LateClient first;
    LateClient second;

    FdStarvation starved(0);
    REQUIRE(starved.ok());
    Acceptor acceptor(loop.get(), std::move(socket), kBackoff, &rec);
    CHECK_FALSE(acceptor.has_reserve());  // made with every descriptor taken
    REQUIRE(first.connect_to(port));
    REQUIRE(second.connect_to(port));
    REQUIRE(loop.run_until([&] { return rec.pauses >= 1; }));
    CHECK(rec.last_error == UV_EMFILE);
    CHECK(rec.refused == 0);
    CHECK(acceptor.paused());

    // The loop is free: a timer of its own fires, and each back-off ends in another try.
    bool fired = false;
    uv_timer_t* timer = start_timer(loop.get(), &fired, 1);
    CHECK(loop.run_until([&] { return fired; }));
    vstream::core::close_and_delete(timer);
    CHECK(loop.run_until([&] { return rec.pauses >= 3; }));
    CHECK(rec.accepted.empty());

    starved.release();
    CHECK(loop.run_until([&] { return rec.accepted.size() == 2; }));
    CHECK(acceptor.has_reserve());  // retaken when the back-off ended
    CHECK_FALSE(acceptor.paused());
    acceptor.close();
}

TEST_CASE(
    "a refusal needs the gate to itself: while a sibling loop holds it, the reserve is "
    "kept and the waiting connections are refused when a later back-off ends") {
    Loop loop;
    Recorder rec;
    AcceptGate gate;
    ListenSocket socket("127.0.0.1", 0, 16);
    const std::uint16_t port = socket.port();
    Acceptor acceptor(loop.get(), std::move(socket), kBackoff, &rec, &gate);
    LateClient a;
    LateClient b;

    FdStarvation starved(0);
    REQUIRE(starved.ok());
    gate.lock_shared();  // a sibling loop in the middle of an accept
    REQUIRE(a.connect_to(port));
    REQUIRE(b.connect_to(port));
    REQUIRE(loop.run_until([&] { return rec.pauses >= 1; }));
    CHECK(rec.last_error == UV_EMFILE);
    CHECK(rec.refused == 0);
    CHECK(acceptor.has_reserve());  // not given up for a sibling to take
    gate.unlock_shared();

    CHECK(loop.run_until([&] { return rec.refused == 2; }));
    CHECK(acceptor.has_reserve());
    for (LateClient* c : {&a, &b}) {
        const std::optional<std::string> got = c->read_until_close();
        CHECK(got.has_value());
        CHECK(got.value_or("") == kBusy);
    }
    acceptor.close();
}

TEST_CASE("while a sibling loop refuses (the gate held exclusively), accepting waits for it") {
    Loop loop;
    Recorder rec;
    AcceptGate gate;
    ListenSocket socket("127.0.0.1", 0, 16);
    const std::uint16_t port = socket.port();
    Acceptor acceptor(loop.get(), std::move(socket), kBackoff, &rec, &gate);
    LateClient c;

    gate.lock();
    REQUIRE(c.connect_to(port));
    bool fired = false;
    uv_timer_t* timer =
        start_timer(loop.get(), &fired, static_cast<std::uint64_t>(kBackoff.count()) * 3);
    CHECK(loop.run_until([&] { return fired; }));
    vstream::core::close_and_delete(timer);
    CHECK(rec.accepted.empty());
    CHECK(rec.pauses == 0);  // not a failure: it tries again
    gate.unlock();

    CHECK(loop.run_until([&] { return rec.accepted.size() == 1; }));
    acceptor.close();
}

TEST_CASE("close stops accepting and closes the socket, paused or not") {
    Loop loop;
    Recorder rec;
    ListenSocket socket("127.0.0.1", 0, 16);
    const std::uint16_t port = socket.port();
    LateClient waiting;
    LateClient refused_later;
    {
        FdStarvation starved(0);
        REQUIRE(starved.ok());
        Acceptor acceptor(loop.get(), std::move(socket), kBackoff, &rec);
        REQUIRE(waiting.connect_to(port));
        REQUIRE(loop.run_until([&] { return rec.pauses >= 1; }));
        REQUIRE(acceptor.paused());
        acceptor.close();
        acceptor.close();  // idempotent
        CHECK_FALSE(acceptor.paused());
    }
    const int pauses = rec.pauses;
    // The waiting connection was reset with the socket, and nobody listens any more.
    const std::optional<std::string> got = waiting.read_until_close();
    CHECK(got.has_value());
    CHECK(got.value_or("").empty());
    CHECK_FALSE(refused_later.connect_to(port));
    CHECK(errno == ECONNREFUSED);
    // The back-off timer went with the acceptor: nothing more is reported.
    bool fired = false;
    uv_timer_t* timer =
        start_timer(loop.get(), &fired, static_cast<std::uint64_t>(kBackoff.count()) * 3);
    CHECK(loop.run_until([&] { return fired; }));
    vstream::core::close_and_delete(timer);
    CHECK(rec.pauses == pauses);
    CHECK(rec.accepted.empty());
}

}  // TEST_SUITE("net/acceptor")
