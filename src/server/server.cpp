#include <vstream/error.hpp>
#include <vstream/server.hpp>

#include "net/listener.hpp"
#include "router/router.hpp"
#include "server/fd_limit.hpp"
#include "server/worker.hpp"
#include "tls/tls_context.hpp"

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace vstream {

struct Server::Impl {
    enum class State { created, running, stopping, stopped };

    ServerConfig config;
    Handler fallback;  // for requests no route matches
    std::unique_ptr<router::Router> router;
    server::WorkerShared shared;
    std::vector<std::unique_ptr<server::Worker>> workers;
    std::vector<std::uint16_t> ports;  // each listener's, in order, once bound
    // The TLS listeners' context and the options it was made from (null without TLS
    // listeners). Guarded by `mutex`; each worker holds its own copy of the pointer.
    std::shared_ptr<const tls::TlsContext> tls_context;
    TlsOptions tls_options;
    bool attached = false;          // serves from a host's loop (attach) instead of loop threads
    bool fd_limit_checked = false;  // the descriptor limit was raised and checked (once)

    mutable std::mutex mutex;
    std::condition_variable state_changed;
    State state = State::created;
    std::mutex join_mutex;  // std::thread::join must not run from two threads at once

    bool on_loop_thread() const noexcept {
        for (const auto& w : workers) {
            if (w->is_loop_thread()) return true;
        }
        return false;
    }

    // Builds the workers (binding every listener) and moves to running. Lock held.
    void prepare_workers(unsigned threads);
    // Raises the descriptor limit if configured, and warns if it cannot hold max_connections.
    void check_fd_limit(unsigned threads);

    void join_all() {
        if (attached) {
            // The host's loop finishes the stop; the driver's on_done marks it.
            std::unique_lock lock(mutex);
            state_changed.wait(lock, [&] { return state == State::stopped; });
            return;
        }
        std::lock_guard join_lock(join_mutex);
        for (auto& w : workers) w->join();
        std::lock_guard lock(mutex);
        if (state != State::stopped) {
            state = State::stopped;
            state_changed.notify_all();
        }
    }
};

Server::Server(ServerConfig config) : impl_(std::make_unique<Impl>()) {
    config.validate();
    impl_->config = std::move(config);
    if (impl_->config.has_tls_listener()) {
        impl_->tls_options = impl_->config.tls;
        impl_->tls_context = tls::TlsContext::make(impl_->tls_options);
    }
    impl_->shared.request_env = request::Env::make(
        impl_->config, std::make_shared<files::MmapCache>(impl_->config.file_cache));
    impl_->router = std::make_unique<router::Router>(impl_->config.router);
    impl_->shared.dispatcher = impl_->router.get();
    bind(impl_->router.get(), 0);
}

Server::~Server() {
    if (impl_->attached) {
        // The host's loop may never run again: close everything now (Worker::abort_attached).
        impl_->workers.clear();
        return;
    }
    stop();
    impl_->join_all();
    // Workers close their loops in their destructors.
}

void Server::handle(Handler handler) {
    std::lock_guard lock(impl_->mutex);
    if (impl_->state == Impl::State::running) {
        throw Error(errc::already_running, "Server::handle must be called before start()");
    }
    if (impl_->state != Impl::State::created) throw Error(errc::stopped, "the server is stopped");
    impl_->fallback = std::move(handler);
}

void Server::Impl::prepare_workers(unsigned threads) {
    if (state == State::running) throw Error(errc::already_running, "server already started");
    if (state != State::created) throw Error(errc::stopped, "a stopped server cannot restart");
    check_fd_limit(threads);
    const ServerConfig& cfg = config;
    // Pick each listener's port once, checking it is free, before any reuse-port socket joins
    // a group. In the single form (addresses on one port) port 0 means one ephemeral port for
    // every address: the first address chooses it.
    std::vector<Listener> bound = cfg.effective_listeners();
    const bool one_port = cfg.listeners.empty();
    for (std::size_t i = 0; i < bound.size(); ++i) {
        if (one_port && i > 0) bound[i].port = bound[0].port;
        bound[i].port = net::ListenSocket::claim_port(bound[i].address, bound[i].port);
    }
    std::vector<std::unique_ptr<server::Worker>> made;
    for (unsigned t = 0; t < threads; ++t) {
        std::vector<server::WorkerSocket> sockets;
        for (const Listener& l : bound) {
            sockets.push_back({net::ListenSocket(l.address, l.port, cfg.backlog), l.tls});
        }
        made.push_back(
            std::make_unique<server::Worker>(cfg, shared, std::move(sockets), tls_context));
    }
    // Routing freezes only once every socket is bound, so a failed bind leaves the server as it
    // was: routes can still be added and start() retried.
    if (!router->frozen()) router->freeze(fallback);
    workers = std::move(made);
    ports.clear();
    for (const Listener& l : bound) ports.push_back(l.port);
}

void Server::Impl::check_fd_limit(unsigned threads) {
    if (fd_limit_checked) return;  // a start retried after a failed bind
    fd_limit_checked = true;
    // Done here rather than left to each host: a library that caps itself at a shell's 1024
    // descriptors fails under load in a way nobody expects; ServerConfig documents it.
    const server::FdLimit limit =
        config.raise_fd_limit ? server::raise_fd_limit() : server::fd_limit();
    if (limit.soft == 0) return;  // unreadable: nothing to say
    const std::string warning =
        server::fd_limit_warning(config, threads, limit, server::open_descriptors());
    if (!warning.empty()) std::fputs(warning.c_str(), stderr);
}

void Server::start() {
    Impl& s = *impl_;
    std::lock_guard lock(s.mutex);
    s.prepare_workers(s.config.effective_threads());
    for (auto& w : s.workers) w->run_in_thread();
    s.state = Impl::State::running;
    s.state_changed.notify_all();
}

void Server::attach(uv_loop_s* loop) {
    Impl& s = *impl_;
    if (loop == nullptr) throw Error(errc::invalid_argument, "Server::attach needs a loop");
    std::lock_guard lock(s.mutex);
    s.prepare_workers(1);  // one loop: the host's
    try {
        s.workers.front()->attach(loop, [&s] {
            std::lock_guard done_lock(s.mutex);
            s.state = Impl::State::stopped;
            s.state_changed.notify_all();
        });
    } catch (...) {
        s.workers.clear();
        throw;
    }
    s.attached = true;
    s.state = Impl::State::running;
    s.state_changed.notify_all();
}

void Server::stop() {
    Impl& s = *impl_;
    {
        std::lock_guard lock(s.mutex);
        switch (s.state) {
            case Impl::State::created:
                s.state = Impl::State::stopped;
                s.state_changed.notify_all();
                return;
            case Impl::State::running:
                s.state = Impl::State::stopping;
                for (auto& w : s.workers) w->request_stop();
                s.state_changed.notify_all();
                break;
            case Impl::State::stopping:
            case Impl::State::stopped: break;
        }
    }
    // A loop thread cannot join itself; wait() or the destructor will. An attached server's
    // stop is finished by the host's loop.
    if (s.attached || s.on_loop_thread()) return;
    s.join_all();
}

void Server::wait() {
    Impl& s = *impl_;
    if (s.attached) {
        if (s.on_loop_thread()) {
            throw Error(errc::busy,
                        "Server::wait on the thread of the attached loop would block it");
        }
        s.join_all();
        return;
    }
    {
        std::unique_lock lock(s.mutex);
        s.state_changed.wait(lock, [&] {
            return s.state == Impl::State::stopping || s.state == Impl::State::stopped;
        });
    }
    if (!s.on_loop_thread()) s.join_all();
}

void Server::run() {
    start();
    wait();
}

bool Server::inside_loop() const noexcept {
    const Impl& s = *impl_;
    // The driver's flag is read only on its own thread: the loop thread, checked first.
    if (!s.on_loop_thread()) return false;
    return !s.attached || s.workers.front()->driving();
}

std::uint16_t Server::port() const noexcept {
    std::lock_guard lock(impl_->mutex);
    return impl_->ports.empty() ? 0 : impl_->ports.front();
}

std::vector<std::uint16_t> Server::ports() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->ports;
}

bool Server::running() const noexcept {
    std::lock_guard lock(impl_->mutex);
    return impl_->state == Impl::State::running || impl_->state == Impl::State::stopping;
}

ServerStats Server::stats() const noexcept {
    ServerStats st;
    std::lock_guard lock(impl_->mutex);
    for (const auto& w : impl_->workers) {
        st.connections_accepted += w->accepted();
        st.connections_rejected += w->rejected();
        st.connections_refused += w->refused();
        st.requests += w->requests();
    }
    st.connections_open = impl_->shared.open.load(std::memory_order_relaxed);
    return st;
}

FileCacheStats Server::file_cache_stats() const {
    return impl_->shared.request_env->file_cache->stats();
}

const ServerConfig& Server::config() const noexcept { return impl_->config; }

void Server::reload_tls() {
    TlsOptions options;
    {
        std::lock_guard lock(impl_->mutex);
        options = impl_->tls_options;
    }
    reload_tls(options);
}

void Server::reload_tls(const TlsOptions& options) {
    Impl& s = *impl_;
    if (!s.config.has_tls_listener()) {
        throw Error(errc::invalid_argument, "reload_tls: the server has no TLS listener");
    }
    std::shared_ptr<const tls::TlsContext> previous;
    {
        std::lock_guard lock(s.mutex);
        previous = s.tls_context;
    }
    // Built outside the lock (it reads files); a failure throws before anything changes.
    std::shared_ptr<const tls::TlsContext> made = tls::TlsContext::make(options, previous.get());
    std::lock_guard lock(s.mutex);
    s.tls_context = made;
    s.tls_options = options;
    for (auto& w : s.workers) w->set_tls_context(made);
}

TlsStats Server::tls_stats() const noexcept {
    TlsStats st;
    std::lock_guard lock(impl_->mutex);
    for (const auto& w : impl_->workers) w->tls_counters().add_to(st);
    return st;
}

}  // namespace vstream
