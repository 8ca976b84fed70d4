// Tests Exchange (src/request/exchange.cpp): header lines, reference counting, cancellation, reuse.
#include "request/exchange.hpp"

#include "core/loop_handoff.hpp"

#include <doctest/doctest.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

using vstream::Body;
using vstream::core::LoopHandoff;
using vstream::request::Exchange;
using vstream::request::ExchangeOwner;

namespace {

// A uv loop on the test thread with a handoff, run only when a test says so.
class LocalLoop {
public:
    LocalLoop() {
        REQUIRE(uv_loop_init(&loop_) == 0);
        handoff_ = LoopHandoff::create(&loop_);
    }
    ~LocalLoop() {
        handoff_->close();
        uv_run(&loop_, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop_) == 0);
    }
    LocalLoop(const LocalLoop&) = delete;
    LocalLoop& operator=(const LocalLoop&) = delete;

    // Runs the loop without blocking until `pred` holds or the deadline passes.
    template <class Pred>
    bool run_until(Pred pred) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!pred() && std::chrono::steady_clock::now() < deadline) {
            uv_run(&loop_, UV_RUN_NOWAIT);
            std::this_thread::yield();
        }
        return pred();
    }

    const std::shared_ptr<LoopHandoff>& handoff() const { return handoff_; }

private:
    uv_loop_t loop_{};
    std::shared_ptr<LoopHandoff> handoff_;
};

struct Owner final : ExchangeOwner {
    int answered = 0;
    std::thread::id thread;
    void on_exchange_answered(Exchange&) override {
        ++answered;
        thread = std::this_thread::get_id();
    }
};

// A server's environment with the default limits and no file cache.
std::shared_ptr<const vstream::request::Env> default_env() {
    return vstream::request::Env::make(vstream::ServerConfig{}, nullptr);
}

// Owns one reference to a heap exchange, dropped at scope end.
struct ExchangeHolder {
    Exchange* x;
    explicit ExchangeHolder(const LocalLoop& loop, std::string_view peer = "127.0.0.1",
                            std::uint16_t port = 4242)
        : x(new Exchange(loop.handoff(), default_env(), peer, port)) {}
    ~ExchangeHolder() { x->release(); }
    ExchangeHolder(const ExchangeHolder&) = delete;
    ExchangeHolder& operator=(const ExchangeHolder&) = delete;
    Exchange* operator->() const { return x; }
};

}  // namespace

TEST_SUITE("request/exchange") {

TEST_CASE("set_header_line with replace removes every line of that name, case-insensitively") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    x->set_header_line("X-A", "1", false);
    x->set_header_line("Other", "keep: me", false);
    x->set_header_line("x-a", "2", false);
    x->set_header_line("X-AB", "prefix", false);
    x->set_header_line("B-X-A", "suffix", false);
    x->set_header_line("X-A", "3", false);
    x->set_header_line("x-A", "new", true);
    CHECK(x->header_block == "Other: keep: me\r\nX-AB: prefix\r\nB-X-A: suffix\r\nx-A: new\r\n");
}

TEST_CASE("set_header_line with replace on a name not present appends it") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    x->set_header_line("A", "1", true);
    x->set_header_line("B", "2", true);
    x->set_header_line("A", "3", true);
    CHECK(x->header_block == "B: 2\r\nA: 3\r\n");
}

TEST_CASE("set_header_line with replace removes consecutive lines of that name") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    x->set_header_line("Set-Cookie", "a=1", false);
    x->set_header_line("set-cookie", "b=2", false);
    x->set_header_line("SET-COOKIE", "c=3", false);
    x->set_header_line("Set-Cookie", "only", true);
    CHECK(x->header_block == "Set-Cookie: only\r\n");
}

TEST_CASE("set_header_line without replace keeps duplicates, in order") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    x->set_header_line("Set-Cookie", "a=1", false);
    x->set_header_line("Set-Cookie", "b=2", false);
    x->set_header_line("Vary", "Accept", false);
    CHECK(x->header_block == "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nVary: Accept\r\n");
}

TEST_CASE("a new exchange has the default response state and its peer") {
    LocalLoop loop;
    ExchangeHolder x(loop, "::1", 5555);
    CHECK(x->status == 200);
    CHECK(x->header_block.empty());
    CHECK(x->body.empty());
    CHECK_FALSE(x->answered);
    CHECK_FALSE(x->deferred);
    CHECK_FALSE(x->close_requested);
    CHECK_FALSE(x->cancelled());
    CHECK(x->unshared());
    CHECK(x->peer_address() == "::1");
    CHECK(x->peer_port() == 5555);
}

TEST_CASE("an over-long peer address is truncated, not overflowed") {
    LocalLoop loop;
    const std::string longer(200, '9');
    ExchangeHolder x(loop, longer, 1);
    CHECK(x->peer_address() == std::string(64, '9'));
}

TEST_CASE("the last release deletes the exchange, dropping its body") {
    LocalLoop loop;
    int released = 0;
    auto* x = new Exchange(loop.handoff(), default_env(), "127.0.0.1", 1);
    x->body = Body::borrow("kept", [&released] { ++released; });
    x->add_ref();
    CHECK_FALSE(x->unshared());
    x->release();
    CHECK(released == 0);
    CHECK(x->unshared());
    x->release();  // the last: deleted (ASan reports a leak otherwise)
    CHECK(released == 1);
}

TEST_CASE("the exchange keeps the handoff alive until it is deleted") {
    LocalLoop loop;
    std::weak_ptr<LoopHandoff> weak = loop.handoff();
    auto* x = new Exchange(loop.handoff(), default_env(), "127.0.0.1", 1);
    CHECK(weak.use_count() == 2);
    x->release();
    CHECK(weak.use_count() == 1);
}

TEST_CASE("detach(true) cancels: the on_cancel callback runs once and cancelled() is true") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    Owner owner;
    x->begin(&owner);
    int calls = 0;
    x->on_cancel([&calls] { ++calls; });
    CHECK(calls == 0);
    x->detach(true);
    CHECK(calls == 1);
    CHECK(x->cancelled());
    x->detach(true);
    CHECK(calls == 1);
}

TEST_CASE("on_cancel after cancellation runs the callback at once") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    x->begin(nullptr);
    x->detach(true);
    int calls = 0;
    x->on_cancel([&calls] { ++calls; });
    CHECK(calls == 1);
    x->on_cancel(nullptr);  // an empty callback is tolerated
    CHECK(calls == 1);
}

TEST_CASE("a later on_cancel replaces the earlier callback") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    x->begin(nullptr);
    int first = 0;
    int second = 0;
    x->on_cancel([&first] { ++first; });
    x->on_cancel([&second] { ++second; });
    x->detach(true);
    CHECK(first == 0);
    CHECK(second == 1);
}

TEST_CASE("detach(false) does not cancel nor run the callback") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    Owner owner;
    x->begin(&owner);
    int calls = 0;
    x->on_cancel([&calls] { ++calls; });
    x->detach(false);
    CHECK(calls == 0);
    CHECK_FALSE(x->cancelled());
}

TEST_CASE("begin() resets the response state for the next request") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    Owner owner;
    x->begin(&owner);
    int released = 0;
    int cancel_calls = 0;
    x->status = 404;
    x->set_header_line("X-Old", "1", false);
    x->body = Body::borrow("old body", [&released] { ++released; });
    x->close_requested = true;
    x->answered = true;
    x->deferred = true;
    x->on_cancel([&cancel_calls] { ++cancel_calls; });
    x->holder_added();

    x->begin(&owner);
    CHECK(x->status == 200);
    CHECK(x->header_block.empty());
    CHECK(x->body.empty());
    CHECK(released == 1);
    CHECK_FALSE(x->close_requested);
    CHECK_FALSE(x->answered);
    CHECK_FALSE(x->deferred);
    // The old request's cancel callback must not fire for the new one.
    x->detach(true);
    CHECK(cancel_calls == 0);
    CHECK(x->cancelled());
    x->begin(&owner);
    CHECK_FALSE(x->cancelled());
}

TEST_CASE("a deferred answer on the loop thread is handed to the owner at once") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    Owner owner;
    x->begin(&owner);
    x->deferred = true;
    x->answer();
    CHECK(owner.answered == 1);
}

TEST_CASE("a synchronous answer is left for the connection to pick up") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    Owner owner;
    x->begin(&owner);
    x->answer();
    CHECK(owner.answered == 0);
}

TEST_CASE("a deferred answer from another thread reaches the owner on the loop thread") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    Owner owner;
    x->begin(&owner);
    x->deferred = true;
    std::thread([&] { x->answer(); }).join();
    CHECK(owner.answered == 0);
    CHECK_FALSE(x->unshared());  // the posted task holds a reference
    REQUIRE(loop.run_until([&] { return owner.answered == 1; }));
    CHECK(owner.thread == std::this_thread::get_id());
    CHECK(x->unshared());
}

TEST_CASE("an answer posted after the owner detached is dropped on the loop") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    Owner owner;
    x->begin(&owner);
    x->deferred = true;
    std::thread([&] { x->answer(); }).join();
    x->detach(true);
    REQUIRE(loop.run_until([&] { return x->unshared(); }));
    CHECK(owner.answered == 0);
}

TEST_CASE("a posted answer dropped unrun at shutdown releases its reference") {
    LocalLoop loop;
    auto* x = new Exchange(loop.handoff(), default_env(), "127.0.0.1", 1);
    Owner owner;
    x->begin(&owner);
    x->deferred = true;
    std::thread([&] { x->answer(); }).join();
    CHECK_FALSE(x->unshared());
    loop.handoff()->close();  // the task is destroyed unrun
    CHECK(x->unshared());
    CHECK(owner.answered == 0);
    x->release();
}

TEST_CASE("the last holder dropping an unanswered exchange answers 500 for it") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    Owner owner;
    x->begin(&owner);
    x->deferred = true;
    x->holder_added();
    x->holder_added();
    x->set_header_line("X-Partial", "1", false);
    x->holder_dropped();
    CHECK_FALSE(x->answered);
    x->holder_dropped();
    CHECK(x->answered);
    CHECK(x->status == 500);
    CHECK(x->header_block == "Content-Type: text/plain; charset=utf-8\r\n");
    CHECK(std::string(x->body.view()).rfind("500 ", 0) == 0);
    CHECK(owner.answered == 1);
}

TEST_CASE("dropping the holders of an answered or cancelled exchange changes nothing") {
    LocalLoop loop;
    Owner owner;
    {
        ExchangeHolder x(loop);
        x->begin(&owner);
        x->deferred = true;
        x->holder_added();
        x->status = 201;
        x->answered = true;
        x->holder_dropped();
        CHECK(x->status == 201);
    }
    {
        ExchangeHolder x(loop);
        x->begin(&owner);
        x->deferred = true;
        x->holder_added();
        x->detach(true);
        x->holder_dropped();
        CHECK_FALSE(x->answered);
        CHECK(x->status == 200);
    }
    CHECK(owner.answered == 0);
}

TEST_CASE("set_error fills in the canned answer, keeps the headers set, drops the body") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    Owner owner;
    x->begin(&owner);
    x->set_header_line("Content-Range", "bytes */10", false);
    x->set_header_line("Content-Type", "video/mp4", false);
    x->body = Body("partial");
    x->set_error(416);
    CHECK(x->status == 416);
    CHECK(x->engine_error);
    CHECK_FALSE(x->answered);
    CHECK(x->header_block ==
          "Content-Range: bytes */10\r\nContent-Type: text/plain; charset=utf-8\r\n");
    CHECK(x->body.view() == "416 Range Not Satisfiable\n");
}

TEST_CASE("refuse answers once with the canned error; an answered exchange stays as it was") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    Owner owner;
    x->begin(&owner);
    x->deferred = true;
    x->refuse(400, "invalid file path");
    CHECK(x->answered);
    CHECK(owner.answered == 1);
    CHECK(x->status == 400);
    CHECK(x->engine_error);
    CHECK(x->body.view() == "400 Bad Request: invalid file path\n");
    x->refuse(404);
    CHECK(owner.answered == 1);
    CHECK(x->status == 400);
}

TEST_CASE("a handler's own answer is not an engine error, whatever its status") {
    LocalLoop loop;
    ExchangeHolder x(loop);
    Owner owner;
    x->begin(&owner);
    x->text(400, "my own words\n");
    CHECK(x->answered);
    CHECK_FALSE(x->engine_error);
}

}  // TEST_SUITE("request/exchange")
