// A producer thread's side of a streamed response: what the StreamWriter's on_drain and
// on_close reported, and a write that waits (bounded) for a drain when asked to pause.
#pragma once

#include <vstream/body.hpp>
#include <vstream/stream.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>

namespace vstream::test {

/// What on_drain and on_close reported, with counters for the checks. Shared with the
/// writer's callbacks, which run on the loop thread and may outlive the test's locals.
struct Flow {
    std::mutex mutex;
    std::condition_variable changed;
    bool drained = false;  // on_drain ran since the last produce() (guarded by mutex)
    bool closed = false;   // on_close ran (guarded by mutex)
    std::atomic<int> drains{0};
    std::atomic<int> closes{0};
    std::atomic<int> refusals{0};            // write() returned false
    std::atomic<std::size_t> max_queued{0};  // StreamWriter::queued() right after a write
    std::atomic<bool> stop{false};           // the test asks the producer to end
    std::atomic<bool> done{false};           // the producer returned
};

/// Registers on_drain and on_close on `w`, reporting into the returned Flow.
inline std::shared_ptr<Flow> watch(StreamWriter& w) {
    auto flow = std::make_shared<Flow>();
    w.on_drain([flow] {
        {
            std::lock_guard lock(flow->mutex);
            flow->drained = true;
        }
        ++flow->drains;
        flow->changed.notify_all();
    });
    w.on_close([flow] {
        {
            std::lock_guard lock(flow->mutex);
            flow->closed = true;
        }
        ++flow->closes;
        flow->changed.notify_all();
    });
    return flow;
}

/// Writes `bytes` as a well-behaved producer: when write() asks to pause, waits up to
/// `drain_timeout` for on_drain (or on_close). Returns false once the stream is closed, or if
/// the drain never comes.
inline bool produce(StreamWriter& w, Flow& flow, Body bytes,
                    std::chrono::milliseconds drain_timeout = std::chrono::seconds(10)) {
    {
        std::lock_guard lock(flow.mutex);
        flow.drained = false;
    }
    const bool below = w.write(std::move(bytes));
    const std::size_t q = w.queued();
    std::size_t seen = flow.max_queued.load();
    while (q > seen && !flow.max_queued.compare_exchange_weak(seen, q)) {
    }
    if (below) return true;
    if (w.closed()) return false;
    ++flow.refusals;
    std::unique_lock lock(flow.mutex);
    return flow.changed.wait_for(lock, drain_timeout, [&] {
        return flow.drained || flow.closed;
    }) && !flow.closed;
}

}  // namespace vstream::test
