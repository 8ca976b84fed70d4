#include "server/worker.hpp"

#include "core/uv_handle.hpp"
#include "net/sigpipe_guard.hpp"

#include <vstream/error.hpp>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <future>
#include <string>

namespace vstream::server {

namespace {

[[noreturn]] void throw_uv(const char* what, int rc) {
    throw Error(errc::io_error, std::string(what) + ": " + uv_strerror(rc));
}

}  // namespace

Worker::Worker(const ServerConfig& config, SharedCounters& shared,
               std::vector<net::ListenSocket> sockets)
    : config_(config), shared_(shared) {
    if (int rc = uv_loop_init(&loop_); rc != 0) throw_uv("uv_loop_init", rc);
    loop_ready_ = true;
    try {
        slab_ = std::make_unique<net::ReadSlab>();
        poller_ = std::make_unique<net::EdgePoller>(&loop_);
        handoff_ = core::LoopHandoff::create(&loop_);
        env_.loop = &loop_;
        env_.config = &config_;
        env_.dispatcher = shared_.dispatcher;
        env_.request_env = shared_.request_env;
        env_.date = &date_;
        env_.handoff = handoff_;
        env_.host = this;
        env_.requests = &requests_;
        if (env_.request_env && env_.request_env->file_cache) {
            tick_timer_ = new uv_timer_t;
            uv_timer_init(&loop_, tick_timer_);
            tick_timer_->data = this;
            uv_timer_start(
                tick_timer_,
                [](uv_timer_t* t) { static_cast<Worker*>(t->data)->env_.request_env->file_cache->expire(); }, 1000,
                1000);
        }
        for (net::ListenSocket& s : sockets) {
            auto* tcp = new uv_tcp_t;
            uv_tcp_init(&loop_, tcp);
            tcp->data = this;
            listeners_.push_back(tcp);
            const int fd = s.release();
            if (int rc = uv_tcp_open(tcp, fd); rc != 0) {
                ::close(fd);
                throw_uv("uv_tcp_open", rc);
            }
            if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), config_.backlog,
                                   &Worker::on_connection);
                rc != 0) {
                throw_uv("uv_listen", rc);
            }
        }
    } catch (...) {
        close_all_handles();
        throw;
    }
}

Worker::~Worker() {
    join();
    abort_attached();
    close_all_handles();
}

void Worker::abort_attached() noexcept {
    if (!driver_) return;
    // Destroyed before its graceful stop finished (the host freed the server): close every
    // connection now. Host-side handles go first, before the inner loop's descriptor does.
    const bool finished = driver_->done();
    handoff_->set_inside_flag(nullptr);  // the run below is inside the loop; the flag goes
    driver_.reset();
    if (finished || !loop_ready_) return;
    net::SigpipeGuard guard;
    aborting_ = true;
    try {
        begin_shutdown();
    } catch (...) {
        stopping_ = env_.stopping = true;  // out of memory for the grace timer: abort anyway
    }
    for (http1::Connection* c = connections_; c != nullptr; c = c->next) c->abort();
    uv_run(&loop_, UV_RUN_DEFAULT);  // until every connection has closed
    aborting_ = false;
}

void Worker::close_all_handles() {
    if (!loop_ready_) return;
    for (uv_tcp_t* l : listeners_) core::close_and_delete(l);
    listeners_.clear();
    if (grace_timer_ != nullptr) {
        core::close_and_delete(grace_timer_);
        grace_timer_ = nullptr;
    }
    if (tick_timer_ != nullptr) {
        core::close_and_delete(tick_timer_);
        tick_timer_ = nullptr;
    }
    if (handoff_) handoff_->close();
    if (poller_) poller_->close();
    uv_run(&loop_, UV_RUN_DEFAULT);  // runs the close callbacks
    if (uv_loop_close(&loop_) != 0) {
        std::fprintf(stderr, "vstream: a loop closed with handles still open\n");
    }
    loop_ready_ = false;
}

void Worker::run_in_thread() {
    std::promise<void> bound;
    std::future<void> ready = bound.get_future();
    thread_ = std::thread([this, &bound] {
        // A write to a peer that has gone raises SIGPIPE in the writing thread, which would
        // kill the host process: libuv's writev and sendfile have no MSG_NOSIGNAL. Blocked in
        // the loop threads only, it stays pending there and the write reports EPIPE; the host's
        // own signal handling is left alone.
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
        handoff_->bind_to_current_thread();
        bound.set_value();
        uv_run(&loop_, UV_RUN_DEFAULT);
    });
    ready.wait();  // is_loop_thread() is reliable from here on
}

void Worker::attach(uv_loop_t* host, std::function<void()> on_done) {
    handoff_->bind_to_current_thread();
    driver_ = std::make_unique<LoopDriver>(host, &loop_, std::move(on_done));
    handoff_->set_inside_flag(driver_->driving_flag());
}

void Worker::request_stop() noexcept {
    try {
        handoff_->post([this] { begin_shutdown(); });
    } catch (...) {
        // Out of memory while queueing: nothing better to do than let the destructor's
        // close path end the loop.
    }
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<Worker*>(server->data);
    if (status < 0) {
        // EMFILE/ENFILE: libuv has already accepted and closed the pending connections with
        // its reserved descriptor, so the loop does not spin. Report it, at most once a second.
        static thread_local std::uint64_t last_report = 0;
        const std::uint64_t now = uv_now(&self->loop_);
        if (now - last_report >= 1000 || last_report == 0) {
            last_report = now;
            std::fprintf(stderr, "vstream: accept failed: %s\n", uv_strerror(status));
        }
        return;
    }
    bool counted = false;
    try {
        if (self->shared_.open.fetch_add(1, std::memory_order_relaxed) >=
            self->config_.limits.max_connections) {
            self->shared_.open.fetch_sub(1, std::memory_order_relaxed);
            self->reject(server);
            return;
        }
        counted = true;
        self->accept_one(server);
    } catch (...) {
        // accept_one throws only before a connection exists, so nothing else gives back its
        // place under max_connections.
        if (counted) self->shared_.open.fetch_sub(1, std::memory_order_relaxed);
        std::fprintf(stderr, "vstream: out of memory accepting a connection\n");
    }
}

void Worker::accept_one(uv_stream_t* server) {
    auto stream = std::make_unique<net::TcpStream>(&loop_, slab_.get(), poller_.get());
    const int rc = stream->accept(server);
    std::unique_ptr<http1::Connection> conn;
    try {
        conn = std::make_unique<http1::Connection>(env_, std::move(stream));
    } catch (...) {
        // Only the allocation can fail (the constructor is noexcept, and C++17 allocates before
        // it moves the argument), so the stream is still ours, its handle in the loop.
        net::TcpStream::discard(std::move(stream));
        throw;
    }
    http1::Connection* c = conn.release();  // owned by the list until on_connection_closed
    c->next = connections_;
    if (connections_ != nullptr) connections_->prev = c;
    connections_ = c;
    if (rc != 0) {
        c->abort();
        return;
    }
    accepted_.fetch_add(1, std::memory_order_relaxed);
    c->start();
}

void Worker::reject(uv_stream_t* server) {
    // Past max_connections: accept and close at once, so the backlog never fills with
    // connections nobody serves.
    auto* tcp = new uv_tcp_t;
    uv_tcp_init(&loop_, tcp);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(tcp)) == 0) {
        std::string reply =
            "HTTP/1.1 503 Service Unavailable\r\nDate: " + std::string(date_.now()) +
            "\r\nRetry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 46\r\nConnection: close\r\n\r\n"
            "503 Service Unavailable: too many connections\n";
        uv_buf_t buf = uv_buf_init(reply.data(), static_cast<unsigned>(reply.size()));
        uv_try_write(reinterpret_cast<uv_stream_t*>(tcp), &buf, 1);
        rejected_.fetch_add(1, std::memory_order_relaxed);
    }
    core::close_and_delete(tcp);
}

void Worker::begin_shutdown() {
    if (stopping_) return;
    stopping_ = true;
    env_.stopping = true;
    for (uv_tcp_t* l : listeners_) core::close_and_delete(l);
    listeners_.clear();
    if (tick_timer_ != nullptr) {
        core::close_and_delete(tick_timer_);
        tick_timer_ = nullptr;
    }

    grace_timer_ = new uv_timer_t;
    uv_timer_init(&loop_, grace_timer_);
    grace_timer_->data = this;
    const auto grace = static_cast<std::uint64_t>(config_.timeouts.shutdown_grace.count());
    uv_timer_start(
        grace_timer_,
        [](uv_timer_t* t) {
            // The grace period is over: close whatever is still open.
            auto* self = static_cast<Worker*>(t->data);
            for (http1::Connection* c = self->connections_; c != nullptr; c = c->next) c->abort();
        },
        grace, 0);

    for (http1::Connection* c = connections_; c != nullptr; c = c->next) c->on_server_stopping();
    check_done();
}

void Worker::check_done() {
    if (!stopping_ || connections_ != nullptr) return;
    if (grace_timer_ != nullptr) {
        core::close_and_delete(grace_timer_);
        grace_timer_ = nullptr;
    }
    handoff_->close();  // the last handle: uv_run returns once it is closed
}

void Worker::on_connection_closed(http1::Connection* c) noexcept {
    if (c->prev != nullptr) c->prev->next = c->next;
    if (c->next != nullptr) c->next->prev = c->prev;
    if (connections_ == c) connections_ = c->next;
    std::unique_ptr<http1::Connection> owned(c);
    owned.reset();
    shared_.open.fetch_sub(1, std::memory_order_relaxed);
    check_done();
}

}  // namespace vstream::server
