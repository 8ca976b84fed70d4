#include "net/edge_poller.hpp"

#include <vstream/error.hpp>

#include "core/uv_handle.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

namespace vstream::net {

namespace {

// EPOLLRDHUP: a FIN that came with the last bytes is seen in the same event, so a watcher
// knows to read on to the end instead of waiting for an edge that will not come. EPOLLPRI
// likewise for TCP urgent data, at whose mark a read stops short.
constexpr std::uint32_t kEvents = EPOLLIN | EPOLLRDHUP | EPOLLPRI | EPOLLET;

// Writability, edge-triggered, costs one event when a full socket buffer drains: for a
// transport that writes the socket itself (TLS: OpenSSL's SSL_write, not libuv's writes).
constexpr std::uint32_t mask(EdgePoller::Interest interest) noexcept {
    return interest == EdgePoller::Interest::read_write ? kEvents | EPOLLOUT : kEvents;
}

}  // namespace

EdgePoller::EdgePoller(uv_loop_t* loop) {
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
        throw Error(errc::io_error, std::string("epoll_create1: ") + uv_strerror(-errno));
    }
    if (const int rc = poll_.init([&](uv_poll_t* p) { return uv_poll_init(loop, p, epfd_); }, this);
        rc != 0) {
        ::close(epfd_);
        throw Error(errc::io_error, std::string("uv_poll_init: ") + uv_strerror(rc));
    }
    if (const int rc = uv_poll_start(poll_.get(), UV_READABLE, &EdgePoller::on_poll); rc != 0) {
        close();  // the destructor does not run: the handle goes with the next loop run
        ::close(epfd_);
        throw Error(errc::io_error, std::string("uv_poll_start: ") + uv_strerror(rc));
    }
    uv_unref(poll_.base());  // the watched descriptors hold the loop
}

EdgePoller::~EdgePoller() {
    close();
    if (epfd_ >= 0) ::close(epfd_);
}

void EdgePoller::close() noexcept {
    if (!poll_) return;
    poll_->data = nullptr;
    poll_.close();
}

int EdgePoller::add(int fd, EdgeWatcher* w, Interest interest) noexcept {
    epoll_event ev{};
    ev.events = mask(interest);
    ev.data.ptr = w;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return -errno;
    if (watched_++ == 0 && poll_) uv_ref(poll_.base());
    return 0;
}

int EdgePoller::rearm(int fd, EdgeWatcher* w, Interest interest) noexcept {
    // EPOLL_CTL_MOD checks readiness afresh and queues the descriptor if it is readable (or,
    // watched for it, writable).
    epoll_event ev{};
    ev.events = mask(interest);
    ev.data.ptr = w;
    return ::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
}

void EdgePoller::remove(int fd, EdgeWatcher* w) noexcept {
    // Explicitly: a descriptor shared with a forked child would stay in the set after close.
    epoll_event ev{};
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
    for (int i = batch_next_; i < batch_size_; ++i) {
        if (batch_[i].data.ptr == w) batch_[i].data.ptr = nullptr;
    }
    if (--watched_ == 0 && poll_) uv_unref(poll_.base());
}

void EdgePoller::on_poll(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<EdgePoller*>(handle->data);
    if (self == nullptr) return;
    if (status < 0) {
        // libuv stopped the watcher; an epoll descriptor has no error state of its own, so
        // watch again rather than leave every connection of the loop unread.
        std::fprintf(stderr, "vstream: edge poller: %s; watching again\n", uv_strerror(status));
        uv_poll_start(handle, UV_READABLE, &EdgePoller::on_poll);
    }
    self->dispatch();
}

void EdgePoller::dispatch() noexcept {
    // One batch per wake-up: what is left is still ready, so the loop wakes us again at once,
    // after its other watchers had their turn.
    const int n = ::epoll_wait(epfd_, batch_, kBatch, 0);
    if (n <= 0) return;  // EINTR or nothing (another wake-up took it)
    batch_size_ = n;
    for (batch_next_ = 0; batch_next_ < batch_size_;) {
        const epoll_event ev = batch_[batch_next_++];
        if (ev.data.ptr != nullptr) static_cast<EdgeWatcher*>(ev.data.ptr)->on_edge(ev.events);
    }
    batch_size_ = batch_next_ = 0;
}

}  // namespace vstream::net
