#include "core/sigbus_guard.hpp"

#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <mutex>

namespace vstream::core {

namespace {

// The guarded read of this thread, if one is running.
struct Guard {
    sigjmp_buf jump;
    std::uintptr_t begin = 0;
    std::uintptr_t end = 0;
    Guard* outer = nullptr;  // the guard whose fn this one runs inside, if any
    volatile sig_atomic_t active = 0;
};

thread_local Guard* t_guard = nullptr;
struct sigaction g_previous {};

void forward(int sig, siginfo_t* info, void* uctx) {
    if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
        g_previous.sa_sigaction(sig, info, uctx);
        return;
    }
    if (g_previous.sa_handler == SIG_IGN) return;
    if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != nullptr) {
        g_previous.sa_handler(sig);
        return;
    }
    // The default action: die of SIGBUS, as the process would have without this handler.
    signal(sig, SIG_DFL);
    raise(sig);
}

void on_sigbus(int sig, siginfo_t* info, void* uctx) {
    const auto addr = reinterpret_cast<std::uintptr_t>(info->si_addr);
    // The innermost guard whose range holds the address; a jump to an outer one abandons the
    // inner ones with the rest of its fn.
    for (Guard* g = t_guard; g != nullptr; g = g->outer) {
        if (g->active != 0 && addr >= g->begin && addr < g->end) {
            g->active = 0;
            // SA_NODEFER left SIGBUS unblocked, so no signal mask needs restoring: the jump is
            // a plain longjmp (sigsetjmp(..., 0) saves no mask, which would cost a system call
            // per guarded read).
            siglongjmp(g->jump, 1);
        }
    }
    forward(sig, info, uctx);
}

}  // namespace

bool install_sigbus_guard() noexcept {
    static std::once_flag once;
    static bool installed = false;
    std::call_once(once, [] {
        struct sigaction sa {};
        sa.sa_sigaction = &on_sigbus;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
        installed = sigaction(SIGBUS, &sa, &g_previous) == 0;
    });
    return installed;
}

bool run_guarded(const void* begin, std::size_t length, void (*fn)(void*), void* context) noexcept {
    Guard g;
    g.begin = reinterpret_cast<std::uintptr_t>(begin);
    g.end = g.begin + length;
    // A guard run inside another's fn keeps the outer one armed: it is restored on the way
    // out, never cleared.
    g.outer = t_guard;
    t_guard = &g;
    if (sigsetjmp(g.jump, 0) != 0) {
        t_guard = g.outer;
        return false;  // the read faulted: fn was abandoned
    }
    g.active = 1;
    fn(context);
    g.active = 0;
    t_guard = g.outer;
    return true;
}

}  // namespace vstream::core
