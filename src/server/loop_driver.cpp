#include "server/loop_driver.hpp"

#include <vstream/error.hpp>

#include "core/uv_handle.hpp"
#include "net/sigpipe_guard.hpp"

#include <string>

namespace vstream::server {

LoopDriver::LoopDriver(uv_loop_t* host, uv_loop_t* inner, std::function<void()> on_done)
    : inner_(inner), on_done_(std::move(on_done)) {
    const int fd = uv_backend_fd(inner);
    if (const int rc = poll_.init([&](uv_poll_t* p) { return uv_poll_init(host, p, fd); }, this);
        rc != 0) {
        throw Error(errc::io_error, std::string("uv_poll_init: ") + uv_strerror(rc));
    }
    timer_.init([&](uv_timer_t* t) { return uv_timer_init(host, t); }, this);
    uv_poll_start(poll_.get(), UV_READABLE,
                  [](uv_poll_t* p, int, int) { static_cast<LoopDriver*>(p->data)->drive(); });
    drive();  // registers the inner loop's watchers with its backend
}

LoopDriver::~LoopDriver() { close_handles(); }

void LoopDriver::close_handles() noexcept {
    poll_.close();
    timer_.close();
}

void LoopDriver::drive() noexcept {
    if (driving_ || done_) return;  // never re-entered: uv_run is not reentrant
    int alive = 0;
    {
        net::SigpipeGuard guard;
        driving_ = true;
        alive = uv_run(inner_, UV_RUN_NOWAIT);
        driving_ = false;
    }
    if (alive == 0 && !uv_loop_alive(inner_)) {
        done_ = true;
        close_handles();
        if (on_done_) on_done_();
        return;
    }
    // Wake for the inner loop's next timer, or at once when it has pending work (0).
    const int timeout = uv_backend_timeout(inner_);
    if (timeout < 0) {
        uv_timer_stop(timer_.get());
    } else {
        uv_timer_start(
            timer_.get(), [](uv_timer_t* t) { static_cast<LoopDriver*>(t->data)->drive(); },
            static_cast<std::uint64_t>(timeout), 0);
    }
}

}  // namespace vstream::server
