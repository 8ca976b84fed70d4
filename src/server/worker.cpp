#include "server/worker.hpp"

#include <vstream/error.hpp>

#include "core/uv_handle.hpp"
#include "http/status.hpp"
#include "net/sigpipe_guard.hpp"
#include "tls/tls_transport.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <future>
#include <string>
#include <string_view>

namespace vstream::server {

namespace {

[[noreturn]] void throw_uv(const char* what, int rc) {
    throw Error(errc::io_error, std::string(what) + ": " + uv_strerror(rc));
}

}  // namespace

Worker::Worker(const ServerConfig& config, WorkerShared& shared, std::vector<WorkerSocket> sockets,
               std::shared_ptr<const tls::TlsContext> tls_context)
    : config_(config), shared_(shared), tls_context_(std::move(tls_context)) {
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
            tick_timer_.init([this](uv_timer_t* t) { return uv_timer_init(&loop_, t); }, this);
            uv_timer_start(
                tick_timer_.get(),
                [](uv_timer_t* t) {
                    static_cast<Worker*>(t->data)->env_.request_env->file_cache->expire();
                },
                1000, 1000);
        }
        for (WorkerSocket& s : sockets) {
            if (s.tls && !handshakes_) {
                handshakes_ = std::make_unique<tls::HandshakeTracker>(
                    &loop_, config_.tls.handshake_timeout, config_.tls.max_handshakes,
                    &shared_.handshakes, &tls_counters_);
                // RFC 9110 §15.5.1; nginx words it "The plain HTTP request was sent to HTTPS
                // port".
                const std::string body =
                    http::error_text(400, "plain HTTP request was sent to HTTPS port");
                handshakes_->set_plain_http_reply(
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Length: " +
                    std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
            }
            socket_events_.push_back(std::make_unique<SocketEvents>(this, s.tls));
            acceptors_.push_back(std::make_unique<net::Acceptor>(
                &loop_, std::move(s.socket), config_.timeouts.accept_backoff,
                socket_events_.back().get(), &shared_.accept_gate));
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
    acceptors_.clear();  // each closes its handles and socket
    if (handshakes_) handshakes_->close();
    grace_timer_.close();
    tick_timer_.close();
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

void Worker::set_tls_context(std::shared_ptr<const tls::TlsContext> context) {
    handoff_->post([this, context = std::move(context)]() mutable {
        tls_context_ = std::move(context);  // the old one goes with its last connection
    });
}

void Worker::on_accepted(int fd, bool tls) noexcept {
    if (pause_reported_) {
        pause_reported_ = false;
        std::fprintf(stderr, "vstream: accepting connections again\n");
    }
    if (shared_.open.fetch_add(1, std::memory_order_relaxed) >= config_.limits.max_connections) {
        shared_.open.fetch_sub(1, std::memory_order_relaxed);
        // Past max_connections: answered and closed at once, so the backlog never fills with
        // connections nobody serves.
        answer_busy(fd, tls);
        ::close(fd);
        rejected_.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    if (tls && !handshakes_->admit()) {
        // Too many handshakes under way: closed before any TLS byte (counted as refused_busy).
        shared_.open.fetch_sub(1, std::memory_order_relaxed);
        ::close(fd);
        return;
    }
    try {
        accept_one(fd, tls);
    } catch (...) {
        // accept_one throws only before a connection exists (having closed `fd`), so nothing
        // else gives back its place under max_connections.
        shared_.open.fetch_sub(1, std::memory_order_relaxed);
        std::fprintf(stderr, "vstream: out of memory accepting a connection\n");
    }
}

void Worker::on_refused(int fd, bool tls) noexcept {
    answer_busy(fd, tls);
    refused_.fetch_add(1, std::memory_order_relaxed);
    ++refused_unreported_;
}

void Worker::on_accept_paused(int err, std::size_t) noexcept {
    // At most one line a second per loop, however often the back-off ends and accept fails.
    const std::uint64_t now = uv_now(&loop_);
    if (last_pause_report_ != 0 && now - last_pause_report_ < 1000) return;
    last_pause_report_ = now;
    pause_reported_ = true;
    const auto backoff = static_cast<unsigned long long>(config_.timeouts.accept_backoff.count());
    if (err == UV_EMFILE || err == UV_ENFILE) {
        std::fprintf(stderr,
                     "vstream: accept: %s (%s); refused since the last report: %llu; "
                     "accepting again in %llu ms%s\n",
                     uv_strerror(err), uv_err_name(err),
                     static_cast<unsigned long long>(refused_unreported_), backoff,
                     err == UV_EMFILE ? " (raise RLIMIT_NOFILE or lower max_connections)" : "");
    } else {
        std::fprintf(stderr, "vstream: accept: %s (%s); accepting again in %llu ms\n",
                     uv_strerror(err), uv_err_name(err), backoff);
    }
    refused_unreported_ = 0;
}

std::unique_ptr<net::Transport> Worker::make_transport(int fd, bool tls, int& rc) {
    if (!tls) {
        auto t = std::make_unique<net::TcpTransport>(&loop_, slab_.get(), poller_.get());
        rc = t->open(fd);  // closes fd if it fails
        return t;
    }
    tls::SslPtr ssl = tls_context_->new_ssl();
    if (!ssl) throw std::bad_alloc();
    // From here the transport holds the place admit() gave.
    auto t = std::make_unique<tls::TlsTransport>(&loop_, slab_.get(), poller_.get(), std::move(ssl),
                                                 handshakes_.get());
    rc = t->open(fd);
    return t;
}

void Worker::accept_one(int fd, bool tls) {
    std::unique_ptr<net::Transport> transport;
    int rc = 0;
    try {
        transport = make_transport(fd, tls, rc);
    } catch (...) {
        if (tls) handshakes_->release();
        ::close(fd);
        throw;
    }
    std::unique_ptr<http1::Connection> conn;
    try {
        conn = std::make_unique<http1::Connection>(env_, std::move(transport));
    } catch (...) {
        // Only the allocation can fail (the constructor is noexcept, and C++17 allocates before
        // it moves the argument), so the transport is still ours, its handle in the loop.
        net::Transport::discard(std::move(transport));
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

void Worker::answer_busy(int fd, bool tls) noexcept {
    // A TLS client reads nothing but TLS records, and a 503 inside TLS would cost the key
    // exchange that a refusal is meant to spare: closed before any TLS byte, as a connection
    // past TlsOptions::max_handshakes is. Plain bytes would only fail its handshake with a
    // misleading "wrong version number".
    if (tls) return;
    // One non-blocking send into an empty socket buffer: it fits, and nothing waits for it.
    // Built without allocating (descriptors, maybe memory, are short), in http::error_text's
    // wording.
    static constexpr std::string_view kBody = "503 Service Unavailable: too many connections\n";
    const std::string_view date = date_.now();
    char reply[320];
    const int n = std::snprintf(reply, sizeof reply,
                                "HTTP/1.1 503 Service Unavailable\r\nDate: %.*s\r\n"
                                "Retry-After: 1\r\nContent-Type: text/plain; charset=utf-8\r\n"
                                "Content-Length: %zu\r\nConnection: close\r\n\r\n%.*s",
                                static_cast<int>(date.size()), date.data(), kBody.size(),
                                static_cast<int>(kBody.size()), kBody.data());
    if (n > 0 && static_cast<std::size_t>(n) < sizeof reply) {
        [[maybe_unused]] const ssize_t sent =
            ::send(fd, reply, static_cast<std::size_t>(n), MSG_DONTWAIT | MSG_NOSIGNAL);
    }
}

void Worker::begin_shutdown() {
    if (stopping_) return;
    stopping_ = true;
    env_.stopping = true;
    acceptors_.clear();
    tick_timer_.close();

    grace_timer_.init([this](uv_timer_t* t) { return uv_timer_init(&loop_, t); }, this);
    const auto grace = static_cast<std::uint64_t>(config_.timeouts.shutdown_grace.count());
    uv_timer_start(
        grace_timer_.get(),
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
    grace_timer_.close();
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
