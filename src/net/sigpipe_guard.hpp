#pragma once

#include <pthread.h>
#include <signal.h>
#include <time.h>

namespace vstream::net {

/// Blocks SIGPIPE on the calling thread for its scope, and on leaving swallows a SIGPIPE that
/// our own writes raised meanwhile, then restores the thread's mask: a write to a peer that
/// left then reports EPIPE instead of killing the host (libuv's writev and sendfile have no
/// MSG_NOSIGNAL). For loops that run on a host's thread (Server::attach), whose signal
/// handling is the host's; vstream's own loop threads block SIGPIPE for good instead. A
/// SIGPIPE already pending when the scope began is left for the host. (curl's sigpipe_ignore.)
class SigpipeGuard {
public:
    SigpipeGuard() noexcept {
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        sigset_t pending;
        sigemptyset(&pending);
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe, &old_);
        was_blocked_ = sigismember(&old_, SIGPIPE) == 1;
    }
    ~SigpipeGuard() {
        if (was_blocked_) return;  // the host blocks it itself: nothing to restore or hide
        if (!was_pending_) {
            sigset_t pipe;
            sigemptyset(&pipe);
            sigaddset(&pipe, SIGPIPE);
            const timespec zero{0, 0};
            while (sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) {
            }
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    SigpipeGuard(const SigpipeGuard&) = delete;
    SigpipeGuard& operator=(const SigpipeGuard&) = delete;

private:
    sigset_t old_{};
    bool was_pending_ = false;
    bool was_blocked_ = false;
};

}  // namespace vstream::net
