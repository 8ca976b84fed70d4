// Tests run_guarded and install_sigbus_guard (src/core/sigbus_guard.cpp) on real mappings of
// truncated files: a read past the new end raises SIGBUS, recovered inside a guard (on its
// thread, in its range) and nowhere else. The faults that must kill run in forked children.
#include "core/sigbus_guard.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using vstream::core::install_sigbus_guard;
using vstream::core::run_guarded;
using vstream::test::TempDir;

namespace {

// A file of `pages` pages, mapped MAP_SHARED read-only, then truncated to `keep` bytes: every
// whole page past the new end raises SIGBUS when read.
class ShrunkMapping {
public:
    explicit ShrunkMapping(std::size_t pages = 4, std::size_t keep = 0) {
        page_ = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
        size_ = pages * page_;
        const std::string path = dir_.write("mapped", std::string(size_, 'm'));
        fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
        REQUIRE(fd_ >= 0);
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd_, 0);
        REQUIRE(p != MAP_FAILED);
        base_ = static_cast<const char*>(p);
        REQUIRE(::ftruncate(fd_, static_cast<off_t>(keep)) == 0);
    }
    ~ShrunkMapping() {
        if (base_ != nullptr) ::munmap(const_cast<char*>(base_), size_);
        if (fd_ >= 0) ::close(fd_);
    }
    ShrunkMapping(const ShrunkMapping&) = delete;
    ShrunkMapping& operator=(const ShrunkMapping&) = delete;

    const char* base() const { return base_; }
    std::size_t size() const { return size_; }
    std::size_t page() const { return page_; }

private:
    TempDir dir_;
    int fd_ = -1;
    const char* base_ = nullptr;
    std::size_t size_ = 0;
    std::size_t page_ = 0;
};

// A read done by a guarded function: from where, how much, and how far it got. Atomic, so
// the marks are in memory before a read that faults.
struct Read {
    const char* at = nullptr;
    std::size_t len = 0;
    std::atomic<int> started{0};
    std::atomic<int> finished{0};
    std::atomic<unsigned> sum{0};
};

void read_bytes(void* c) {
    auto* r = static_cast<Read*>(c);
    r->started = 1;
    const volatile char* p = r->at;
    unsigned sum = 0;
    for (std::size_t i = 0; i < r->len; ++i) sum += static_cast<unsigned char>(p[i]);
    r->sum = sum;
    r->finished = 1;
}

// Reads `len` bytes from `at` under a guard of [begin, begin + length).
bool guarded_read(const void* begin, std::size_t length, const char* at, std::size_t len, Read& r) {
    r.at = at;
    r.len = len;
    return run_guarded(begin, length, &read_bytes, &r);
}

// Runs `body` in a forked child (which exits 0 if it returns) and returns its wait status.
// The child has its own deadline (SIGALRM), so a child that neither dies nor returns cannot
// hang the test.
int in_child(const std::function<void()>& body) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::alarm(10);
        body();
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return status;
}

// Under AddressSanitizer the handler installed before ours is ASan's: an unguarded fault goes
// to it, and it reports the SIGBUS and aborts (abort_on_error=1) instead of dying of it.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kForwardedToAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kForwardedToAsan = true;
#else
constexpr bool kForwardedToAsan = false;
#endif
#else
constexpr bool kForwardedToAsan = false;
#endif

bool died_of(int status, int sig) {
    if (sig == SIGBUS && kForwardedToAsan) {
        return (WIFSIGNALED(status) && WTERMSIG(status) != 0) ||
               (WIFEXITED(status) && WEXITSTATUS(status) != 0);
    }
    return WIFSIGNALED(status) && WTERMSIG(status) == sig;
}

}  // namespace

TEST_SUITE("core/sigbus_guard") {

TEST_CASE("install_sigbus_guard is idempotent: one handler, installed once") {
    REQUIRE(install_sigbus_guard());
    struct sigaction first {};
    REQUIRE(::sigaction(SIGBUS, nullptr, &first) == 0);
    CHECK((first.sa_flags & SA_SIGINFO) != 0);
    CHECK(install_sigbus_guard());
    CHECK(install_sigbus_guard());
    struct sigaction again {};
    REQUIRE(::sigaction(SIGBUS, nullptr, &again) == 0);
    CHECK((again.sa_sigaction == first.sa_sigaction));  // function pointers: not decomposed
    CHECK(again.sa_flags == first.sa_flags);
    // Had a second call chained to the first, an unguarded fault would recurse instead of
    // dying of SIGBUS as the default action says.
    ShrunkMapping m;
    const int status = in_child([&] {
        install_sigbus_guard();
        Read r;
        r.at = m.base();
        r.len = 1;
        read_bytes(&r);
    });
    CHECK(died_of(status, SIGBUS));
}

TEST_CASE("run_guarded returns true when fn runs to its end") {
    REQUIRE(install_sigbus_guard());
    const std::string text = "abc";
    Read r;
    CHECK(guarded_read(text.data(), text.size(), text.data(), text.size(), r));
    CHECK(r.finished.load() == 1);
    CHECK(r.sum.load() == static_cast<unsigned>('a' + 'b' + 'c'));
}

TEST_CASE("a read of a mapping past the file's end inside the guard returns false") {
    REQUIRE(install_sigbus_guard());
    ShrunkMapping m;  // truncated to 0: every page faults
    Read r;
    CHECK_FALSE(guarded_read(m.base(), m.size(), m.base(), m.size(), r));
    CHECK(r.started.load() == 1);
    CHECK(r.finished.load() == 0);  // abandoned at the fault
    // The process (and this thread) go on: a guarded read of good memory works.
    const std::string text = "still here";
    Read ok;
    CHECK(guarded_read(text.data(), text.size(), text.data(), text.size(), ok));
    CHECK(ok.finished.load() == 1);
}

TEST_CASE("the pages before the new end read normally; the first one past it faults") {
    REQUIRE(install_sigbus_guard());
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    ShrunkMapping kept(4, page);  // the first page stays
    Read first;
    CHECK(guarded_read(kept.base(), kept.size(), kept.base(), page, first));
    CHECK(first.sum.load() == static_cast<unsigned>(page * 'm'));
    Read over;
    CHECK_FALSE(guarded_read(kept.base(), kept.size(), kept.base(), page + 1, over));
    CHECK(over.started.load() == 1);
    CHECK(over.finished.load() == 0);
}

TEST_CASE("a fault outside the guarded range is not swallowed: the process dies of SIGBUS") {
    REQUIRE(install_sigbus_guard());
    ShrunkMapping m;
    const std::string other = "another range";
    // Guarded, but the fault is in memory the guard does not cover.
    const int outside = in_child([&] {
        Read r;
        guarded_read(other.data(), other.size(), m.base(), 1, r);
    });
    CHECK(died_of(outside, SIGBUS));
    // The range ends one byte short of the faulting address.
    const int past_end = in_child([&] {
        Read r;
        guarded_read(m.base(), m.page(), m.base() + m.page(), 1, r);
    });
    CHECK(died_of(past_end, SIGBUS));
    // No guard at all.
    const int unguarded = in_child([&] {
        Read r;
        r.at = m.base();
        r.len = 1;
        read_bytes(&r);
    });
    CHECK(died_of(unguarded, SIGBUS));
    // After a guard ended, its range is no longer covered.
    const int after = in_child([&] {
        Read r;
        if (!guarded_read(m.base(), m.size(), m.base(), 1, r)) {
            r.at = m.base();
            r.len = 1;
            read_bytes(&r);
        }
    });
    CHECK(died_of(after, SIGBUS));
}

TEST_CASE("a guard on one thread does not cover the same range read on another thread") {
    REQUIRE(install_sigbus_guard());
    ShrunkMapping m;
    const int status = in_child([&] {
        std::atomic<bool> inside{false};
        std::thread other([&] {
            while (!inside) std::this_thread::yield();
            Read r;
            r.at = m.base();
            r.len = 1;
            read_bytes(&r);  // unguarded on this thread: kills the process
        });
        run_guarded(
            m.base(), m.size(),
            [](void* c) {
                static_cast<std::atomic<bool>*>(c)->store(true);
                for (;;) std::this_thread::yield();  // until the other thread's fault (or alarm)
            },
            &inside);
        other.join();
    });
    CHECK(died_of(status, SIGBUS));
}

TEST_CASE("sequential guards on one thread recover again and again") {
    REQUIRE(install_sigbus_guard());
    ShrunkMapping m;
    const std::string text = "good bytes";
    for (int i = 0; i < 200; ++i) {
        CAPTURE(i);
        Read bad;
        const std::size_t at = (static_cast<std::size_t>(i) % 4) * m.page();
        CHECK_FALSE(guarded_read(m.base(), m.size(), m.base() + at, 1, bad));
        Read good;
        CHECK(guarded_read(text.data(), text.size(), text.data(), text.size(), good));
        CHECK(good.finished.load() == 1);
    }
}

TEST_CASE("nested guards: each fault returns from the guard whose range it hit") {
    REQUIRE(install_sigbus_guard());
    ShrunkMapping outer_map;
    ShrunkMapping inner_map;
    struct Nest {
        const ShrunkMapping* outer;
        const ShrunkMapping* inner;
        bool inner_faults;    // the inner fn reads the inner mapping
        bool outer_in_inner;  // the inner fn reads the outer mapping
        bool outer_after;     // the outer fn reads the outer mapping after the inner guard
        std::atomic<int> inner_result;
        std::atomic<int> outer_finished;
    };
    const auto outer_fn = [](void* c) {
        auto* n = static_cast<Nest*>(c);
        const auto inner_fn = [](void* c2) {
            auto* n2 = static_cast<Nest*>(c2);
            Read r;
            r.len = 1;
            if (n2->inner_faults) {
                r.at = n2->inner->base();
                read_bytes(&r);
            }
            if (n2->outer_in_inner) {
                r.at = n2->outer->base();
                read_bytes(&r);
            }
        };
        n->inner_result = run_guarded(n->inner->base(), n->inner->size(), inner_fn, c) ? 1 : 0;
        if (n->outer_after) {
            Read r;
            r.at = n->outer->base();
            r.len = 1;
            read_bytes(&r);
        }
        n->outer_finished = 1;
    };
    for (int round = 0; round < 50; ++round) {
        CAPTURE(round);
        {
            // The inner fault returns from the inner guard; the outer fn goes on to its end.
            Nest n{&outer_map, &inner_map, true, false, false, -1, 0};
            CHECK(run_guarded(outer_map.base(), outer_map.size(), outer_fn, &n));
            CHECK(n.inner_result.load() == 0);
            CHECK(n.outer_finished.load() == 1);
        }
        {
            // After the inner guard returned, the outer guard still covers its range.
            Nest n{&outer_map, &inner_map, false, false, true, -1, 0};
            CHECK_FALSE(run_guarded(outer_map.base(), outer_map.size(), outer_fn, &n));
            CHECK(n.inner_result.load() == 1);
            CHECK(n.outer_finished.load() == 0);
        }
        {
            // A fault in the outer range inside the inner fn abandons both.
            Nest n{&outer_map, &inner_map, false, true, false, -1, 0};
            CHECK_FALSE(run_guarded(outer_map.base(), outer_map.size(), outer_fn, &n));
            CHECK(n.inner_result.load() == -1);
            CHECK(n.outer_finished.load() == 0);
        }
        {
            // Both recovered above: a fault after the inner one recovers too.
            Nest n{&outer_map, &inner_map, true, false, true, -1, 0};
            CHECK_FALSE(run_guarded(outer_map.base(), outer_map.size(), outer_fn, &n));
            CHECK(n.inner_result.load() == 0);
            CHECK(n.outer_finished.load() == 0);
        }
    }
    // Every guard let go: a good read outside any guard's range needs none.
    const std::string text = "after";
    Read r;
    CHECK(guarded_read(text.data(), text.size(), text.data(), text.size(), r));
}

TEST_CASE("guards on two threads at once each recover from a fault on their own mapping") {
    REQUIRE(install_sigbus_guard());
    constexpr int kRounds = 100;
    ShrunkMapping maps[2];
    std::atomic<int> arrived{0};
    std::atomic<int> recovered[2] = {0, 0};
    std::atomic<int> finished[2] = {0, 0};
    struct Turn {
        const ShrunkMapping* map;
        std::atomic<int>* arrived;
        int round;
    };
    const auto fn = [](void* c) {
        auto* t = static_cast<Turn*>(c);
        // Both threads inside their guards before either faults (bounded: a late thread only
        // makes the round sequential, never hangs it).
        t->arrived->fetch_add(1);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (t->arrived->load() < 2 * (t->round + 1) &&
               std::chrono::steady_clock::now() < deadline) {
            std::this_thread::yield();
        }
        Read r;
        r.at = t->map->base() + static_cast<std::size_t>(t->round % 4) * t->map->page();
        r.len = 1;
        read_bytes(&r);
    };
    std::vector<std::thread> threads;
    for (int k = 0; k < 2; ++k) {
        threads.emplace_back([&, k] {
            for (int round = 0; round < kRounds; ++round) {
                Turn t{&maps[k], &arrived, round};
                if (run_guarded(maps[k].base(), maps[k].size(), fn, &t)) {
                    ++finished[k];
                } else {
                    ++recovered[k];
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    for (int k = 0; k < 2; ++k) {
        CAPTURE(k);
        CHECK(recovered[k].load() == kRounds);
        CHECK(finished[k].load() == 0);
    }
}

}  // TEST_SUITE("core/sigbus_guard")
