// Fixtures for tests of asynchronous answers: threads a handler starts (joined by the test),
// and a slot that hands a ContextRef from the loop thread to the test thread.
#pragma once

#include <vstream/context.hpp>

#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace vstream::test {

/// Threads started by a handler, joined by the test (or on destruction).
class Threads {
public:
    ~Threads() { join(); }
    template <class F>
    void spawn(F&& fn) {
        std::lock_guard lock(mutex_);
        threads_.emplace_back(std::forward<F>(fn));
    }
    void join() {
        std::vector<std::thread> all;
        {
            std::lock_guard lock(mutex_);
            all.swap(threads_);
        }
        for (std::thread& t : all) t.join();
    }

private:
    std::mutex mutex_;
    std::vector<std::thread> threads_;
};

/// A ContextRef handed from the loop thread to the test thread.
class RefSlot {
public:
    void put(ContextRef ref) {
        std::lock_guard lock(mutex_);
        ref_ = std::move(ref);
    }
    bool filled() {
        std::lock_guard lock(mutex_);
        return static_cast<bool>(ref_);
    }
    ContextRef take() {
        std::lock_guard lock(mutex_);
        return std::move(ref_);
    }

private:
    std::mutex mutex_;
    ContextRef ref_;
};

}  // namespace vstream::test
