// Tests SigpipeGuard (src/net/sigpipe_guard.hpp): SIGPIPE blocked for a scope, a SIGPIPE our
// writes raised meanwhile swallowed, and the thread's mask restored.
#include "net/sigpipe_guard.hpp"

#include <doctest/doctest.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

using vstream::net::SigpipeGuard;

namespace {

volatile sig_atomic_t g_delivered = 0;

extern "C" void count_sigpipe(int) { g_delivered = g_delivered + 1; }

sigset_t only_sigpipe() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    return s;
}

bool sigpipe_blocked() {
    sigset_t cur;
    sigemptyset(&cur);
    pthread_sigmask(SIG_SETMASK, nullptr, &cur);
    return sigismember(&cur, SIGPIPE) == 1;
}

bool sigpipe_pending() {
    sigset_t p;
    sigemptyset(&p);
    sigpending(&p);
    return sigismember(&p, SIGPIPE) == 1;
}

// Takes a pending SIGPIPE off the thread (and process), with SIGPIPE blocked meanwhile.
// Returns how many it took (0 or 1: standard signals do not queue).
int drain_sigpipe() {
    const sigset_t pipe = only_sigpipe();
    sigset_t old;
    pthread_sigmask(SIG_BLOCK, &pipe, &old);
    int taken = 0;
    const timespec zero{0, 0};
    while (sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) ++taken;
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return taken;
}

// For the in-process cases: SIGPIPE counted by a handler instead of killing the test run (so a
// SIGPIPE the guard let through is a failed check, not a dead process), and unblocked on this
// thread unless told otherwise. Restores the thread's mask and the disposition afterwards.
class SigpipeRig {
public:
    explicit SigpipeRig(bool blocked = false) {
        pthread_sigmask(SIG_SETMASK, nullptr, &old_mask_);
        struct sigaction sa;
        std::memset(&sa, 0, sizeof sa);
        sa.sa_handler = count_sigpipe;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, &old_action_);
        drain_sigpipe();
        g_delivered = 0;
        const sigset_t pipe = only_sigpipe();
        pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &pipe, nullptr);
    }
    ~SigpipeRig() {
        drain_sigpipe();
        pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
        sigaction(SIGPIPE, &old_action_, nullptr);
    }
    SigpipeRig(const SigpipeRig&) = delete;
    SigpipeRig& operator=(const SigpipeRig&) = delete;

private:
    sigset_t old_mask_{};
    struct sigaction old_action_ {};
};

// A connected socketpair whose peer is already closed: write() on `fd` raises SIGPIPE.
struct BrokenPipe {
    int fd = -1;
    BrokenPipe() {
        int sv[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        ::close(sv[1]);
        fd = sv[0];
    }
    ~BrokenPipe() { ::close(fd); }
    BrokenPipe(const BrokenPipe&) = delete;
    BrokenPipe& operator=(const BrokenPipe&) = delete;

    // write(2), not send(MSG_NOSIGNAL): the call that raises SIGPIPE. Returns errno (0 if it
    // wrote).
    int write_errno() const {
        const ssize_t n = ::write(fd, "x", 1);
        return n < 0 ? errno : 0;
    }
};

}  // namespace

TEST_SUITE("net/sigpipe_guard") {

TEST_CASE(
    "inside the guard a write to a closed peer fails with EPIPE and SIGPIPE's default "
    "action does not kill the process") {
    // In a child, with SIGPIPE's default action (terminate) and SIGPIPE unblocked: a guard that
    // let the signal through would kill the child, not the test run.
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        struct sigaction sa;
        std::memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGPIPE, &sa, nullptr);
        const sigset_t pipe = only_sigpipe();
        pthread_sigmask(SIG_UNBLOCK, &pipe, nullptr);
        int sv[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) ::_exit(10);
        ::close(sv[1]);
        int err = 0;
        {
            SigpipeGuard guard;
            err = ::write(sv[0], "x", 1) < 0 ? errno : 0;
        }
        // Past the guard: SIGPIPE unblocked again, nothing pending, still alive.
        if (err != EPIPE) ::_exit(11);
        if (sigpipe_blocked()) ::_exit(12);
        if (sigpipe_pending()) ::_exit(13);
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status)) FAIL_CHECK("the child was killed by signal " << WTERMSIG(status));
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // 11: not EPIPE, 12: still blocked, 13: pending
}

TEST_CASE(
    "inside the guard SIGPIPE is blocked; after it the mask is restored and the SIGPIPE "
    "raised meanwhile is neither pending nor delivered") {
    SigpipeRig rig;
    BrokenPipe broken;
    REQUIRE_FALSE(sigpipe_blocked());
    {
        SigpipeGuard guard;
        CHECK(sigpipe_blocked());
        CHECK(broken.write_errno() == EPIPE);
        CHECK(sigpipe_pending());  // raised, held by the block
        CHECK(g_delivered == 0);
    }
    CHECK_FALSE(sigpipe_blocked());
    CHECK_FALSE(sigpipe_pending());
    CHECK(g_delivered == 0);
    CHECK(drain_sigpipe() == 0);
}

TEST_CASE("a guard with no SIGPIPE raised in it leaves the mask as it was") {
    SigpipeRig rig;
    {
        SigpipeGuard guard;
        CHECK(sigpipe_blocked());
    }
    CHECK_FALSE(sigpipe_blocked());
    CHECK_FALSE(sigpipe_pending());
    CHECK(g_delivered == 0);
}

TEST_CASE("the guard restores exactly the old mask, other signals included") {
    SigpipeRig rig;
    sigset_t usr;
    sigemptyset(&usr);
    sigaddset(&usr, SIGUSR2);
    sigset_t before_usr;
    pthread_sigmask(SIG_BLOCK, &usr, &before_usr);
    sigset_t before;
    pthread_sigmask(SIG_SETMASK, nullptr, &before);
    { SigpipeGuard guard; }
    sigset_t after;
    pthread_sigmask(SIG_SETMASK, nullptr, &after);
    for (int sig = 1; sig < 32; ++sig) {
        CAPTURE(sig);
        CHECK(sigismember(&after, sig) == sigismember(&before, sig));
    }
    CHECK(sigismember(&after, SIGUSR2) == 1);
    CHECK(sigismember(&after, SIGPIPE) == 0);
    pthread_sigmask(SIG_SETMASK, &before_usr, nullptr);
}

TEST_CASE(
    "if the thread already blocks SIGPIPE the guard leaves it blocked, and a SIGPIPE "
    "raised inside is left to the thread") {
    SigpipeRig rig(/*blocked=*/true);
    BrokenPipe broken;
    REQUIRE(sigpipe_blocked());
    {
        SigpipeGuard guard;
        CHECK(sigpipe_blocked());
        CHECK(broken.write_errno() == EPIPE);
    }
    CHECK(sigpipe_blocked());
    // The thread blocks SIGPIPE itself: the guard hides nothing from it.
    CHECK(sigpipe_pending());
    CHECK(drain_sigpipe() == 1);
    CHECK(g_delivered == 0);
}

TEST_CASE("a SIGPIPE pending before the guard is still pending after it") {
    SigpipeRig rig(/*blocked=*/true);
    REQUIRE(pthread_kill(pthread_self(), SIGPIPE) == 0);
    REQUIRE(sigpipe_pending());
    {
        SigpipeGuard guard;
        CHECK(sigpipe_pending());
    }
    CHECK(sigpipe_pending());
    CHECK(sigpipe_blocked());
    CHECK(g_delivered == 0);
    // Taken off here, so unblocking (in ~SigpipeRig) delivers nothing.
    CHECK(drain_sigpipe() == 1);
    CHECK_FALSE(sigpipe_pending());
}

TEST_CASE(
    "nested guards: the inner one changes nothing and the outer one swallows and "
    "restores") {
    SigpipeRig rig;
    BrokenPipe broken;
    {
        SigpipeGuard outer;
        {
            SigpipeGuard inner;
            CHECK(broken.write_errno() == EPIPE);
        }
        CHECK(sigpipe_blocked());  // still inside the outer guard
    }
    CHECK_FALSE(sigpipe_blocked());
    CHECK_FALSE(sigpipe_pending());
    CHECK(g_delivered == 0);
}

}  // TEST_SUITE("net/sigpipe_guard")
