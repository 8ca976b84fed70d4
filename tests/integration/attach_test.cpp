// Server::attach: a server served from a host application's own libuv loop, which the test
// runs on its own thread. Requests, keep-alive, streams and deferred answers; the host's own
// timer alongside; stop from the loop and from elsewhere; wait(); inside_loop(); destruction
// without a stop; misuse; and SIGPIPE on the host's thread.
#include <vstream/error.hpp>
#include <vstream/stream.hpp>

#include "async_fixtures.hpp"
#include "chunked_reader.hpp"
#include "raw_client.hpp"
#include "stream_flow.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using namespace vstream::test;
using namespace std::chrono_literals;
using vstream::Body;
using vstream::Context;
using vstream::ContextRef;
using vstream::StreamWriter;

// A wait the test cannot recover from (a job that references the test's locals never ran, a
// host loop that never returns) ends the run loudly instead of hanging it.
[[noreturn]] void fatal(const char* what) {
    std::fprintf(stderr, "FATAL: %s\n", what);
    std::fflush(stderr);
    std::abort();
}

bool sigpipe_blocked_here() {
    sigset_t cur;
    sigemptyset(&cur);
    pthread_sigmask(SIG_SETMASK, nullptr, &cur);
    return sigismember(&cur, SIGPIPE) == 1;
}

// A host application's libuv loop on a thread of its own. Jobs run on that thread either
// between runs of the loop (on_thread) or inside a callback of the loop (in_loop, through the
// host's own uv_async). The host also has its own repeating timer, which counts ticks. The
// thread starts with SIGPIPE unblocked, as an ordinary application thread would.
class HostLoop {
public:
    HostLoop() {
        thread_ = std::thread([this] { main(); });
        int rc = -1;
        on_thread([&] {
            rc = uv_loop_init(&loop_);
            if (rc != 0) return;
            uv_async_init(&loop_, &async_, &HostLoop::on_async);
            async_.data = this;
            uv_timer_init(&loop_, &tick_);
            tick_.data = this;
            uv_timer_start(
                &tick_, [](uv_timer_t* t) { static_cast<HostLoop*>(t->data)->ticks_.fetch_add(1); },
                2, 2);
        });
        if (rc != 0) fatal("uv_loop_init on the host thread failed");
    }
    ~HostLoop() {
        if (!loop_closed_) {
            finish();
            const int rc = close_loop();
            CHECK(rc == 0);
        }
        post_job(nullptr);  // quit
        thread_.join();
    }
    HostLoop(const HostLoop&) = delete;
    HostLoop& operator=(const HostLoop&) = delete;

    uv_loop_t* loop() { return &loop_; }
    std::thread::id thread_id() const { return thread_id_; }
    std::uint64_t ticks() const { return ticks_.load(); }

    // Runs `fn` on the host thread while its loop is not being run; waits for it.
    void on_thread(std::function<void()> fn) {
        auto done = std::make_shared<std::atomic<bool>>(false);
        post_job([fn = std::move(fn), done] {
            fn();
            done->store(true);
        });
        if (!wait_until([&] { return done->load(); }, 20s)) fatal("a host-thread job never ran");
    }

    // Starts uv_run(UV_RUN_DEFAULT) on the host thread and returns at once.
    void start_run() {
        run_returned_.store(false);
        running_ = true;
        post_job([this] {
            uv_run(&loop_, UV_RUN_DEFAULT);
            run_returned_.store(true);
        });
    }
    // Whether the run started last has returned, waiting up to `timeout` for it.
    bool wait_run_returned(std::chrono::milliseconds timeout = 10s) {
        if (!wait_until([&] { return run_returned_.load(); }, timeout)) return false;
        running_ = false;
        return true;
    }
    bool run_returned() const { return run_returned_.load(); }

    // Runs `fn` inside a callback of the host's loop (its own uv_async); waits for it.
    void in_loop(std::function<void()> fn) {
        if (released_) fatal("in_loop after the host's own handles were closed");
        auto done = std::make_shared<std::atomic<bool>>(false);
        {
            std::lock_guard lock(mutex_);
            loop_jobs_.push_back([fn = std::move(fn), done] {
                fn();
                done->store(true);
            });
        }
        uv_async_send(&async_);
        if (!wait_until([&] { return done->load(); }, 20s)) fatal("a host-loop job never ran");
    }

    // Closes the host's own handles (its timer and its async). Thread: the host's, inside or
    // outside its loop.
    void close_own_handles() {
        if (released_) return;
        released_ = true;
        uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
    }
    // From the test thread: closes the host's own handles from inside its loop.
    void release() {
        in_loop([this] { close_own_handles(); });
    }

    // Ends the current run, if any: closes the host's own handles, then waits for uv_run to
    // return (every other handle must be gone by then).
    void finish() {
        if (!running_) return;
        if (!released_ && !run_returned_.load()) release();
        if (!wait_run_returned(20s)) fatal("the host's uv_run never returned");
    }

    // On the host thread, with the loop not running: closes its own handles if still open,
    // runs the loop once more (close callbacks), then uv_loop_close(). Returns its result.
    // Idempotent: 0 once closed.
    int close_loop() {
        if (loop_closed_) return 0;
        int rc = -1;
        on_thread([&] {
            close_own_handles();
            uv_run(&loop_, UV_RUN_DEFAULT);
            rc = uv_loop_close(&loop_);
        });
        loop_closed_ = rc == 0;
        if (rc != 0) {
            // Leave nothing running into freed memory: walk and close what is left.
            on_thread([&] {
                uv_walk(
                    &loop_,
                    [](uv_handle_t* h, void*) {
                        if (!uv_is_closing(h)) uv_close(h, nullptr);
                    },
                    nullptr);
                uv_run(&loop_, UV_RUN_DEFAULT);
                loop_closed_ = uv_loop_close(&loop_) == 0;
            });
        }
        return rc;
    }

private:
    void main() {
        const sigset_t pipe = [] {
            sigset_t s;
            sigemptyset(&s);
            sigaddset(&s, SIGPIPE);
            return s;
        }();
        pthread_sigmask(SIG_UNBLOCK, &pipe, nullptr);
        thread_id_ = std::this_thread::get_id();
        for (;;) {
            std::function<void()> job;
            {
                std::unique_lock lock(mutex_);
                jobs_cv_.wait(lock, [&] { return !jobs_.empty(); });
                job = std::move(jobs_.front());
                jobs_.pop_front();
            }
            if (!job) return;
            job();
        }
    }
    void post_job(std::function<void()> job) {
        {
            std::lock_guard lock(mutex_);
            jobs_.push_back(std::move(job));
        }
        jobs_cv_.notify_all();
    }
    static void on_async(uv_async_t* a) {
        auto* self = static_cast<HostLoop*>(a->data);
        std::deque<std::function<void()>> jobs;
        {
            std::lock_guard lock(self->mutex_);
            jobs.swap(self->loop_jobs_);
        }
        for (auto& job : jobs) job();
    }

    uv_loop_t loop_{};
    uv_async_t async_{};
    uv_timer_t tick_{};
    std::atomic<std::uint64_t> ticks_{0};
    std::atomic<bool> run_returned_{true};
    bool running_ = false;  // test thread
    std::atomic<bool> released_{false};
    bool loop_closed_ = false;
    std::thread::id thread_id_;
    std::mutex mutex_;
    std::condition_variable jobs_cv_;
    std::deque<std::function<void()>> jobs_;
    std::deque<std::function<void()>> loop_jobs_;
    std::thread thread_;  // last: starts once everything above is built
};

vstream::ServerConfig attach_config() {
    auto config = test_config();
    config.timeouts.shutdown_grace = 3s;
    return config;
}

// A server attached to a HostLoop whose run is under way. Torn down on the host thread: a
// stop from the loop if still running, the host's own handles closed, the run's return
// awaited, the server destroyed, the loop closed (uv_loop_close() == 0 checked).
struct Rig {
    HostLoop host;
    std::unique_ptr<vstream::Server> server;

    // `setup` registers middleware or routes before the attach.
    explicit Rig(vstream::Handler handler, vstream::ServerConfig config = attach_config(),
                 const std::function<void(vstream::Server&)>& setup = {})
        : server(std::make_unique<vstream::Server>(std::move(config))) {
        server->handle(std::move(handler));
        if (setup) setup(*server);
        std::string error;
        host.on_thread([&] {
            try {
                server->attach(host.loop());
            } catch (const std::exception& e) {
                error = e.what();
            }
        });
        if (!error.empty()) {
            FAIL_CHECK("attach failed: " << error);
            return;
        }
        host.start_run();
    }
    ~Rig() {
        if (server && server->running() && !host.run_returned()) {
            host.in_loop([&] { server->stop(); });
        }
        host.finish();
        host.on_thread([&] { server.reset(); });
        CHECK(host.close_loop() == 0);
    }
    Rig(const Rig&) = delete;
    Rig& operator=(const Rig&) = delete;

    std::uint16_t port() const { return server->port(); }
};

std::string get(std::string_view path, std::string_view extra = "") {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

// Makes the close of `c` (its destruction) send RST instead of FIN: SO_LINGER 0.
void reset_on_close(RawClient& c) {
    linger l{1, 0};
    ::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

// SIGPIPE counted instead of killing the run, for as long as it lives: a SIGPIPE that reaches
// a thread with it unblocked is then a failed check, not a dead test process.
volatile sig_atomic_t g_sigpipes = 0;
extern "C" void count_sigpipe(int) { g_sigpipes = g_sigpipes + 1; }

class SigpipeCounter {
public:
    SigpipeCounter() {
        struct sigaction sa;
        std::memset(&sa, 0, sizeof sa);
        sa.sa_handler = count_sigpipe;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, &old_);
        g_sigpipes = 0;
    }
    ~SigpipeCounter() { sigaction(SIGPIPE, &old_, nullptr); }
    SigpipeCounter(const SigpipeCounter&) = delete;
    SigpipeCounter& operator=(const SigpipeCounter&) = delete;
    int count() const { return g_sigpipes; }

private:
    struct sigaction old_ {};
};

}  // namespace

TEST_SUITE("attach") {

TEST_CASE("an attached server serves requests, keep-alive included, on the host's thread") {
    std::atomic<int> on_host{0};
    std::atomic<int> off_host{0};
    std::thread::id host_id;
    Rig rig([&](Context& ctx) {
        (std::this_thread::get_id() == host_id ? on_host : off_host).fetch_add(1);
        hello_handler(ctx);
    });
    host_id = rig.host.thread_id();
    REQUIRE(rig.server->running());
    REQUIRE(rig.port() != 0);

    RawClient c(rig.port());
    for (int i = 0; i < 3; ++i) {
        CAPTURE(i);
        REQUIRE(c.send(get("/ping")));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == R"({"message":"pong"})");
        CHECK(r->header("connection") != "close");
    }
    REQUIRE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
    const auto echo = c.read_response();
    REQUIRE(echo);
    CHECK(echo->body == "hello");
    CHECK(on_host.load() == 4);
    CHECK(off_host.load() == 0);
    const auto st = rig.server->stats();
    CHECK(st.connections_accepted == 1);
    CHECK(st.requests == 4);
    CHECK(st.connections_open == 1);

    // A second connection at the same time is served too.
    const auto other = roundtrip(rig.port(), get("/nope"));
    REQUIRE(other);
    CHECK(other->status == 404);
}

TEST_CASE(
    "an attached server streams a response fed from another thread, then keeps the "
    "connection alive") {
    Threads producers;
    constexpr int kChunks = 40;
    const std::string chunk(32 * 1024, 's');
    Rig rig([&](Context& ctx) {
        if (ctx.path() != "/stream") {
            hello_handler(ctx);
            return;
        }
        StreamWriter w = ctx.stream(200);
        auto flow = watch(w);
        producers.spawn([w, flow, &chunk]() mutable {
            for (int i = 0; i < kChunks; ++i) {
                if (!produce(w, *flow, Body::copy(chunk))) return;
            }
            w.end();
        });
    });
    RawClient c(rig.port());
    REQUIRE(c.send(get("/stream")));
    ChunkedReader reader(c);
    REQUIRE(reader.read_head());
    CHECK(reader.head.status == 200);
    REQUIRE(reader.read_to_end());
    CHECK(reader.data.size() == chunk.size() * kChunks);
    CHECK(reader.data.find_first_not_of('s') == std::string::npos);
    producers.join();

    // The same connection takes the next request.
    REQUIRE(c.send(get("/ping")));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(rig.server->stats().connections_accepted == 1);
}

TEST_CASE("an attached server sends a deferred answer given on another thread") {
    Threads answerers;
    Rig rig([&](Context& ctx) {
        ContextRef ref = ctx.defer();
        const std::string path(ctx.path());
        answerers.spawn(
            [ref = std::move(ref), path] { ref->text(200, "answered later for " + path); });
    });
    RawClient c(rig.port());
    for (const char* path : {"/a", "/b"}) {
        CAPTURE(path);
        REQUIRE(c.send(get(path)));
        const auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == std::string("answered later for ") + path);
    }
    answerers.join();
}

TEST_CASE("an attached server sends a large deferred answer given from a host-loop callback") {
    RefSlot held;
    Rig rig([&](Context& ctx) { held.put(ctx.defer()); });
    RawClient c(rig.port());
    REQUIRE(c.send(get("/big")));
    REQUIRE(wait_until([&] { return held.filled(); }));
    const std::string big(4 * 1024 * 1024, 'h');
    ContextRef ref = held.take();
    // Answered on the host's thread, from its own callback: not inside the server's loop.
    rig.host.in_loop([&] { ref->text(200, Body::copy(big)); });
    ref.reset();
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body.size() == big.size());
    CHECK(r->body == big);
    // And the connection goes on.
    REQUIRE(c.send(get("/again")));
    REQUIRE(wait_until([&] { return held.filled(); }));
    ref = held.take();
    rig.host.in_loop([&] { ref->text(200, "small"); });
    ref.reset();
    const auto again = c.read_response();
    REQUIRE(again);
    CHECK(again->body == "small");
}

TEST_CASE(
    "the host loop's own timer keeps firing while the attached server streams without "
    "pause") {
    Threads producers;
    std::shared_ptr<Flow> flow;
    std::mutex flow_mutex;
    Rig rig([&](Context& ctx) {
        StreamWriter w = ctx.stream(200);
        auto f = watch(w);
        {
            std::lock_guard lock(flow_mutex);
            flow = f;
        }
        producers.spawn([w, f]() mutable {
            const std::string chunk(64 * 1024, 'e');
            while (!f->stop.load()) {
                if (!produce(w, *f, Body::copy(chunk))) return;
            }
            w.end();
        });
    });
    RawClient c(rig.port());
    REQUIRE(c.send(get("/endless")));
    ChunkedReader reader(c);
    REQUIRE(reader.read_head());
    REQUIRE(reader.step());
    // From here the client reads as fast as it can and the producer never runs dry: the
    // server always has work. The host's timer must go on ticking all the same.
    const std::uint64_t t0 = rig.host.ticks();
    const std::size_t bytes0 = reader.data.size();
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    bool ticked = false;
    while (std::chrono::steady_clock::now() < deadline) {
        REQUIRE(reader.step());
        if (rig.host.ticks() >= t0 + 5) {
            ticked = true;
            break;
        }
    }
    const std::size_t streamed = reader.data.size() - bytes0;
    CHECK(ticked);
    CHECK(streamed > 0);
    {
        std::lock_guard lock(flow_mutex);
        REQUIRE(flow);
        flow->stop.store(true);
    }
    CHECK(reader.read_to_end());
    producers.join();
}

TEST_CASE(
    "stop() from a host-loop callback finishes the stop: running() turns false, the "
    "host's uv_run returns and its loop closes clean") {
    Rig rig(hello_handler);
    RawClient idle(rig.port());
    REQUIRE(idle.send(get("/ping")));
    REQUIRE(idle.read_response());
    bool running_after_stop = false;
    rig.host.in_loop([&] {
        rig.server->stop();  // only starts the stop: this thread runs the loop that ends it
        running_after_stop = rig.server->running();
        rig.host.close_own_handles();  // nothing of the host's own keeps the loop alive
    });
    CHECK(running_after_stop);
    // The run returns only once the server's handles on it are gone too.
    CHECK(rig.host.wait_run_returned());
    CHECK_FALSE(rig.server->running());
    CHECK(idle.wait_closed());
    CHECK(rig.server->stats().connections_open == 0);
    rig.server->stop();  // again, now stopped: harmless
    CHECK_FALSE(rig.server->running());
    // ~Rig: the server is destroyed on the host thread and uv_loop_close() must return 0.
}

TEST_CASE(
    "stop() from another thread finishes the stop after an in-flight request is "
    "answered, and the host's uv_run returns") {
    RefSlot held;
    Rig rig([&](Context& ctx) {
        if (ctx.path() == "/slow") {
            held.put(ctx.defer());
        } else {
            hello_handler(ctx);
        }
    });
    auto slow = std::make_unique<RawClient>(rig.port());
    REQUIRE(slow->send(get("/slow")));
    REQUIRE(wait_until([&] { return held.filled(); }));

    std::atomic<bool> stop_returned{false};
    std::thread stopper([&] {
        rig.server->stop();  // not the host's thread: must not block on the host's loop
        stop_returned = true;
    });
    CHECK(wait_until([&] { return stop_returned.load(); }));
    stopper.join();
    CHECK(rig.server->running());  // the request in flight holds the stop

    std::thread answerer([ref = held.take()] { ref->text(200, "finished during the stop"); });
    answerer.join();
    const auto r = slow->read_response();
    REQUIRE(r);
    CHECK(r->body == "finished during the stop");
    CHECK(r->header("connection") == "close");
    CHECK(slow->wait_closed());
    slow.reset();  // our close ends the server's lingering close at once
    CHECK(wait_until([&] { return !rig.server->running(); }));

    rig.host.release();  // the host's own handles
    CHECK(rig.host.wait_run_returned());
}

TEST_CASE("wait() on another thread returns once a stop has finished") {
    Rig rig(hello_handler);
    std::atomic<bool> wait_returned{false};
    std::atomic<bool> threw{false};
    std::thread waiter([&] {
        try {
            rig.server->wait();
        } catch (...) {
            threw = true;
        }
        wait_returned = true;
    });
    const auto r = roundtrip(rig.port(), get("/ping"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK_FALSE(wait_returned.load());  // nothing has stopped the server
    rig.host.in_loop([&] { rig.server->stop(); });
    CHECK(wait_until([&] { return wait_returned.load(); }));
    if (!wait_returned.load()) fatal("Server::wait() never returned after the stop");
    waiter.join();
    CHECK_FALSE(threw.load());
    CHECK_FALSE(rig.server->running());
    // And wait() once stopped returns at once, on any thread but the host's.
    rig.server->wait();
}

TEST_CASE(
    "wait() on the host loop's thread throws Error(busy), in a host callback and in a "
    "handler") {
    std::atomic<int> handler_code{0};
    vstream::Server* server = nullptr;
    Rig rig([&](Context& ctx) {
        try {
            server->wait();
            handler_code = 1;  // returned: wrong
        } catch (const vstream::Error& e) {
            handler_code = static_cast<int>(e.errc_code());
        }
        ctx.text(200, "ok");
    });
    server = rig.server.get();
    int loop_code = 0;
    rig.host.in_loop([&] {
        try {
            rig.server->wait();
            loop_code = 1;
        } catch (const vstream::Error& e) {
            loop_code = static_cast<int>(e.errc_code());
        }
    });
    CHECK(loop_code == static_cast<int>(vstream::errc::busy));
    const auto r = roundtrip(rig.port(), get("/"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(handler_code.load() == static_cast<int>(vstream::errc::busy));
    CHECK(rig.server->running());  // the refused wait() changed nothing
}

TEST_CASE(
    "inside_loop() is true in a handler, false on the host's thread outside the "
    "server's callbacks and false on other threads") {
    std::atomic<int> in_handler{-1};
    vstream::Server* server = nullptr;
    Rig rig([&](Context& ctx) {
        in_handler = server->inside_loop() ? 1 : 0;
        ctx.text(200, "ok");
    });
    server = rig.server.get();
    const auto r = roundtrip(rig.port(), get("/"));
    REQUIRE(r);
    CHECK(in_handler.load() == 1);
    bool in_host_callback = true;
    rig.host.in_loop([&] { in_host_callback = rig.server->inside_loop(); });
    CHECK_FALSE(in_host_callback);
    CHECK_FALSE(rig.server->inside_loop());  // the test thread

    // Between runs of the host's loop, on its thread.
    rig.host.in_loop([&] { uv_stop(rig.host.loop()); });
    REQUIRE(rig.host.wait_run_returned());
    bool between_runs = true;
    int wait_code = 0;
    rig.host.on_thread([&] {
        between_runs = rig.server->inside_loop();
        try {
            rig.server->wait();  // still the loop's thread: it would never return
        } catch (const vstream::Error& e) {
            wait_code = static_cast<int>(e.errc_code());
        }
    });
    CHECK_FALSE(between_runs);
    CHECK(wait_code == static_cast<int>(vstream::errc::busy));
    rig.host.start_run();
    const auto again = roundtrip(rig.port(), get("/"));  // serving again
    REQUIRE(again);
    CHECK(again->status == 200);
}

TEST_CASE("inside_loop() on another thread is false while a handler runs on the host's thread") {
    // inside_loop() speaks of the calling thread. The handler below holds the host's thread
    // (briefly, bounded) while the test thread asks.
    std::atomic<bool> in_handler{false};
    std::atomic<bool> asked{false};
    vstream::Server* server = nullptr;
    Rig rig([&](Context& ctx) {
        in_handler = true;
        wait_until([&] { return asked.load(); }, 10s);
        ctx.text(200, "ok");
    });
    server = rig.server.get();
    RawClient c(rig.port());
    REQUIRE(c.send(get("/")));
    REQUIRE(wait_until([&] { return in_handler.load(); }));
    const bool other_thread = server->inside_loop();
    asked = true;
    CHECK_FALSE(other_thread);
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
}

TEST_CASE(
    "destroying an attached server with open connections, without stop(), closes them, "
    "and the host's next run frees the rest") {
    RefSlot held;
    std::mutex writer_mutex;
    StreamWriter writer;  // kept (by the test) past the server
    Rig rig([&](Context& ctx) {
        if (ctx.path() == "/held") {
            held.put(ctx.defer());
        } else if (ctx.path() == "/stream") {
            StreamWriter w = ctx.stream(200);
            w.write(Body("first chunk"));  // then nothing more: open until closed
            std::lock_guard lock(writer_mutex);
            writer = w;
        } else {
            hello_handler(ctx);
        }
    });
    const std::uint16_t port = rig.port();
    RawClient idle(port);
    REQUIRE(idle.send(get("/ping")));
    REQUIRE(idle.read_response());
    RawClient deferred(port);
    REQUIRE(deferred.send(get("/held")));
    REQUIRE(wait_until([&] { return held.filled(); }));
    RawClient streaming(port);
    REQUIRE(streaming.send(get("/stream")));
    ChunkedReader reader(streaming);
    REQUIRE(reader.read_head());
    while (reader.data.size() < std::string_view("first chunk").size()) {
        REQUIRE(reader.step());
    }
    RawClient silent(port);  // has sent nothing
    REQUIRE(wait_until([&] { return rig.server->stats().connections_open == 4; }));

    // The host stops running its loop, then frees the server outside any run of it.
    rig.host.in_loop([&] { uv_stop(rig.host.loop()); });
    REQUIRE(rig.host.wait_run_returned());
    rig.host.on_thread([&] { rig.server.reset(); });

    // Closed without the host's loop running.
    CHECK(idle.wait_closed());
    CHECK(deferred.read_until_close().empty());  // no answer, just the close
    CHECK(streaming.wait_closed());
    CHECK(silent.wait_closed());
    CHECK_FALSE(reader.done());  // the stream was cut, not ended
    ContextRef ref = held.take();
    CHECK(ref.cancelled());
    ref->text(200, "after the server was destroyed");  // dropped, harmlessly
    ref.reset();

    {
        std::lock_guard lock(writer_mutex);
        CHECK(writer.closed());
        writer = StreamWriter();
    }

    // One more run of the host's loop (its own handles closed first) frees the two host-side
    // handles of the server; then the loop closes clean.
    CHECK(rig.host.close_loop() == 0);
}

TEST_CASE(
    "callbacks run while an attached server is destroyed see inside_loop(), and a Next "
    "kept past the destruction runs nothing") {
    std::mutex m;
    std::optional<vstream::Next> kept;
    RefSlot held;
    std::atomic<int> handler_runs{0};
    std::atomic<int> inside_in_cancel{-1};
    vstream::Server* server = nullptr;
    Rig rig(
        [&](Context& ctx) {
            handler_runs.fetch_add(1);
            hello_handler(ctx);
        },
        attach_config(),
        [&](vstream::Server& s) {
            s.use([&](Context& ctx, vstream::Next next) {
                if (ctx.path() != "/keep") return next();
                ContextRef ref = ctx.defer();
                ref.on_cancel([&] { inside_in_cancel = server->inside_loop() ? 1 : 0; });
                {
                    std::lock_guard lock(m);
                    kept.emplace(next);
                }
                held.put(std::move(ref));
            });
        });
    server = rig.server.get();
    RawClient c(rig.port());
    REQUIRE(c.send(get("/keep")));
    REQUIRE(wait_until([&] { return held.filled(); }));

    rig.host.in_loop([&] { uv_stop(rig.host.loop()); });
    REQUIRE(rig.host.wait_run_returned());
    rig.host.on_thread([&] { rig.server.reset(); });
    // The cancel ran inside the destruction's own run of the server's loop: a C host freeing
    // the server again from there is refused (vs_server_free's VS_EBUSY) instead of freeing twice.
    CHECK(inside_in_cancel.load() == 1);
    CHECK(c.wait_closed());
    // The rest of the chain (and the router it lives in) is gone: calling on nothing runs.
    rig.host.on_thread([&] {
        std::lock_guard lock(m);
        (*kept)();
    });
    CHECK(handler_runs.load() == 0);
    held.take().reset();
    CHECK(rig.host.close_loop() == 0);
}

TEST_CASE(
    "destroying an attached server from a host-loop callback, during its stop, closes "
    "its connections, and the host's run then returns") {
    RefSlot held;
    Rig rig([&](Context& ctx) {
        if (ctx.path() == "/held") {
            held.put(ctx.defer());
        } else {
            hello_handler(ctx);
        }
    });
    RawClient idle(rig.port());
    REQUIRE(idle.send(get("/ping")));
    REQUIRE(idle.read_response());
    RawClient deferred(rig.port());
    REQUIRE(deferred.send(get("/held")));
    REQUIRE(wait_until([&] { return held.filled(); }));
    // The deferred request would hold a graceful stop for the grace period; the host frees
    // the server in the same callback instead, and goes on running its loop.
    rig.host.in_loop([&] {
        rig.server->stop();
        rig.server.reset();
    });
    CHECK(idle.wait_closed());
    CHECK(deferred.read_until_close().empty());
    ContextRef ref = held.take();
    CHECK(ref.cancelled());
    ref.reset();
    const auto t0 = rig.host.ticks();
    CHECK(wait_until([&] { return rig.host.ticks() > t0; }));  // the host's loop runs on
    rig.host.release();
    CHECK(rig.host.wait_run_returned());
    // ~Rig: uv_loop_close() == 0.
}

TEST_CASE("attach(nullptr) throws Error(invalid_argument) and leaves the server unstarted") {
    vstream::Server server(test_config());
    server.handle(hello_handler);
    try {
        server.attach(nullptr);
        FAIL("attach(nullptr) did not throw");
    } catch (const vstream::Error& e) {
        CHECK(e.errc_code() == vstream::errc::invalid_argument);
    }
    CHECK_FALSE(server.running());
    CHECK_FALSE(server.inside_loop());
}

TEST_CASE("attach() after start(), or a second attach(), throws Error(already_running)") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    {
        vstream::Server started(test_config());
        started.handle(hello_handler);
        started.start();
        try {
            started.attach(&loop);
            FAIL("attach() after start() did not throw");
        } catch (const vstream::Error& e) {
            CHECK(e.errc_code() == vstream::errc::already_running);
        }
        CHECK(started.running());
        const auto r = roundtrip(started.port(), get("/ping"));  // unharmed
        REQUIRE(r);
        CHECK(r->status == 200);
        started.stop();
    }
    CHECK_FALSE(uv_loop_alive(&loop));  // nothing was put on the loop
    CHECK(uv_loop_close(&loop) == 0);

    Rig rig(hello_handler);
    int second_attach = 0;
    int start_after = 0;
    rig.host.in_loop([&] {
        try {
            rig.server->attach(rig.host.loop());
        } catch (const vstream::Error& e) {
            second_attach = static_cast<int>(e.errc_code());
        }
        try {
            rig.server->start();
        } catch (const vstream::Error& e) {
            start_after = static_cast<int>(e.errc_code());
        }
    });
    CHECK(second_attach == static_cast<int>(vstream::errc::already_running));
    CHECK(start_after == static_cast<int>(vstream::errc::already_running));
    const auto r = roundtrip(rig.port(), get("/ping"));
    REQUIRE(r);
    CHECK(r->status == 200);
}

TEST_CASE(
    "a client that resets mid-response does not kill the process with SIGPIPE, and the "
    "host thread's SIGPIPE stays unblocked") {
    SigpipeCounter sigpipes;
    const std::string big(16 * 1024 * 1024, 'b');
    Rig rig([&](Context& ctx) {
        if (ctx.path() == "/big") {
            ctx.text(200, Body::copy(big));
        } else {
            hello_handler(ctx);
        }
    });
    bool unblocked_before = false;
    rig.host.in_loop([&] { unblocked_before = !sigpipe_blocked_here(); });
    REQUIRE(unblocked_before);

    // Plain reset mid-body; and a half-close first, then the reset: the server's socket is
    // then in CLOSE_WAIT when the RST comes, and its next write fails with EPIPE, raising
    // SIGPIPE in the writing thread (the host's).
    for (const bool half_close_first : {false, true}) {
        for (int round = 0; round < 4; ++round) {
            CAPTURE(half_close_first);
            CAPTURE(round);
            {
                RawClient c(rig.port());
                REQUIRE(c.send(get("/big")));
                std::string got;
                while (got.size() < 256 * 1024) {
                    REQUIRE(c.receive(got, 10s));
                }
                if (half_close_first) c.shutdown_write();
                reset_on_close(c);
            }  // closed: RST
            CHECK(wait_until([&] { return rig.server->stats().connections_open == 0; }));
        }
    }
    CHECK(sigpipes.count() == 0);
    bool blocked_after = true;
    bool pending_after = true;
    rig.host.in_loop([&] {
        blocked_after = sigpipe_blocked_here();
        sigset_t p;
        sigemptyset(&p);
        sigpending(&p);
        pending_after = sigismember(&p, SIGPIPE) == 1;
    });
    CHECK_FALSE(blocked_after);
    CHECK_FALSE(pending_after);
    // The server lives on.
    const auto r = roundtrip(rig.port(), get("/ping"));
    REQUIRE(r);
    CHECK(r->status == 200);
}

TEST_CASE(
    "a stream fed from the host loop's own callbacks to a client that reset does not "
    "raise SIGPIPE on the host's thread") {
    // The host feeds the stream from its own callbacks (its thread is the server's loop
    // thread, so the write is carried out there and then, not handed to the server's loop).
    SigpipeCounter sigpipes;
    std::mutex writer_mutex;
    StreamWriter writer;
    std::atomic<bool> have_writer{false};
    Rig rig([&](Context& ctx) {
        StreamWriter w = ctx.stream(200);
        std::lock_guard lock(writer_mutex);
        writer = w;
        have_writer = true;
    });
    auto c = std::make_unique<RawClient>(rig.port());
    REQUIRE(c->send(get("/live")));
    REQUIRE(wait_until([&] { return have_writer.load(); }));
    StreamWriter w;
    {
        std::lock_guard lock(writer_mutex);
        w = writer;
    }
    auto flow = watch(w);
    const std::string chunk(16 * 1024, 'l');
    rig.host.in_loop([&] { w.write(Body::copy(chunk)); });
    {
        ChunkedReader reader(*c);
        REQUIRE(reader.read_head());
        while (reader.data.size() < chunk.size()) {
            REQUIRE(reader.step());
        }
    }
    // Half-close, then reset: the server's next write fails with EPIPE.
    c->shutdown_write();
    reset_on_close(*c);
    c.reset();
    bool closed = false;
    for (int i = 0; i < 200 && !closed; ++i) {
        rig.host.in_loop([&] {
            w.write(Body::copy(chunk));
            closed = w.closed();
        });
    }
    CHECK(closed);
    CHECK(sigpipes.count() == 0);
    bool blocked_after = true;
    rig.host.in_loop([&] { blocked_after = sigpipe_blocked_here(); });
    CHECK_FALSE(blocked_after);
    {
        std::lock_guard lock(writer_mutex);
        writer = StreamWriter();
    }
}

}  // TEST_SUITE("attach")
