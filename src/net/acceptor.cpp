#include "net/acceptor.hpp"

#include <vstream/error.hpp>

#include "core/uv_handle.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <mutex>
#include <string>

namespace vstream::net {

namespace {

int open_reserve() noexcept {
    // Like libuv's: any descriptor will do; "/" in case /dev/null is missing (a chroot).
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) fd = ::open("/", O_RDONLY | O_CLOEXEC);
    return fd;
}

int accept_socket(int listener) noexcept {
    return ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

// accept(2) on Linux passes on network errors already pending on the new connection; the
// man page says to retry, as for EAGAIN. ECONNABORTED: the client reset it while queued.
bool retry_accept(int e) noexcept {
    switch (e) {
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case ENOPROTOOPT:
        case ENETDOWN:
        case ENETUNREACH:
        case EHOSTDOWN:
        case EHOSTUNREACH:
        case ENONET:
        case EOPNOTSUPP: return true;
        default: return false;
    }
}

}  // namespace

Acceptor::Acceptor(uv_loop_t* loop, ListenSocket socket, std::chrono::milliseconds backoff,
                   AcceptEvents* events, AcceptGate* gate)
    : fd_(socket.release()), backoff_(backoff), events_(events), gate_(gate) {
    if (const int rc = poll_.init([&](uv_poll_t* p) { return uv_poll_init(loop, p, fd_); }, this);
        rc != 0) {
        ::close(fd_);
        throw Error(errc::io_error, std::string("uv_poll_init: ") + uv_strerror(rc));
    }
    timer_.init([&](uv_timer_t* t) { return uv_timer_init(loop, t); }, this);  // cannot fail
    if (const int rc = uv_poll_start(poll_.get(), UV_READABLE, &Acceptor::on_poll); rc != 0) {
        close();  // the handles go with the next loop run
        throw Error(errc::io_error, std::string("uv_poll_start: ") + uv_strerror(rc));
    }
    reserve_ = open_reserve();
}

Acceptor::~Acceptor() { close(); }

void Acceptor::close() noexcept {
    if (!poll_) return;
    // uv_close stops the poll at once, so the socket can be closed now (libuv's poll docs).
    poll_.close();
    timer_.close();
    ::close(fd_);
    fd_ = -1;
    if (reserve_ >= 0) ::close(reserve_);
    reserve_ = -1;
    paused_ = false;
}

void Acceptor::on_poll(uv_poll_t* poll, int status, int) {
    auto* self = static_cast<Acceptor*>(poll->data);
    if (status < 0) {
        self->pause(status);  // polling failed: retry after the back-off rather than spin
        return;
    }
    self->accept_ready();
}

int Acceptor::accept_shared() noexcept {
    std::shared_lock<AcceptGate> shared;
    if (gate_ != nullptr) {
        shared = std::shared_lock<AcceptGate>(*gate_, std::try_to_lock);
        if (!shared.owns_lock()) {
            errno = EAGAIN;  // a sibling is refusing, briefly: the poll reports the socket again
            return -1;
        }
    }
    return accept_socket(fd_);
}

void Acceptor::accept_ready() noexcept {
    for (int turn = 0; turn < kAcceptsPerTurn && poll_; ++turn) {
        const int fd = accept_shared();
        if (fd >= 0) {
            events_->on_accepted(fd);
            continue;
        }
        const int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) return;
        if (retry_accept(e)) continue;
        // EMFILE, ENFILE, ENOBUFS, ENOMEM, or the unexpected: accepting again at once would
        // fail again, and the socket stays readable, so a poll would report it in a busy loop.
        pause(-e);
        return;
    }
}

void Acceptor::pause(int err) noexcept {
    std::size_t refused = 0;
    if (err == UV_EMFILE || err == UV_ENFILE) refused = refuse_pending();
    if (!poll_) return;
    uv_poll_stop(poll_.get());
    uv_timer_start(timer_.get(), &Acceptor::on_backoff_end,
                   static_cast<std::uint64_t>(backoff_.count()), 0);
    paused_ = true;
    events_->on_accept_paused(err, refused);
}

std::size_t Acceptor::refuse_pending() noexcept {
    if (reserve_ < 0) return 0;
    std::unique_lock<AcceptGate> exclusive;
    if (gate_ != nullptr) {
        exclusive = std::unique_lock<AcceptGate>(*gate_, std::try_to_lock);
        if (!exclusive.owns_lock()) return 0;  // a sibling accepts or refuses: next back-off
    }
    ::close(reserve_);
    reserve_ = -1;
    std::size_t refused = 0;
    // A thread outside the server may take the freed descriptor first: then accept fails, and
    // the reserve cannot be retaken until descriptors free up (resume() tries again).
    for (std::size_t i = 0; i < kRefusalsPerPause; ++i) {
        const int fd = accept_socket(fd_);
        if (fd < 0) {
            if (retry_accept(errno)) continue;
            break;
        }
        events_->on_refused(fd);
        ::close(fd);
        ++refused;
        if (!poll_) return refused;  // closed by the callback
    }
    reserve_ = open_reserve();
    return refused;
}

void Acceptor::on_backoff_end(uv_timer_t* timer) { static_cast<Acceptor*>(timer->data)->resume(); }

void Acceptor::resume() noexcept {
    if (!poll_) return;
    if (reserve_ < 0) {
        // Not while a sibling refuses: its freed descriptor is its own to take back.
        std::shared_lock<AcceptGate> shared;
        if (gate_ != nullptr) shared = std::shared_lock<AcceptGate>(*gate_, std::try_to_lock);
        if (gate_ == nullptr || shared.owns_lock()) reserve_ = open_reserve();
    }
    paused_ = false;
    if (const int rc = uv_poll_start(poll_.get(), UV_READABLE, &Acceptor::on_poll); rc != 0) {
        pause(rc);
    }
}

}  // namespace vstream::net
