#include "request/streamed_body.hpp"

#include "http/chunked_encoder.hpp"
#include "net/write_queue.hpp"
#include "request/exchange.hpp"

#include <utility>

namespace vstream::request {

StreamState::StreamState(Exchange& x, bool chunked, std::size_t high_water)
    : x_(&x), chunked_(chunked), high_(high_water) {
    x_->add_ref();
}

StreamState::~StreamState() { x_->release(); }

bool StreamState::write(Body bytes) {
    bool wake = false;
    bool below = false;
    {
        std::lock_guard lock(mutex_);
        if (closed_ || ended_) return false;
        if (bytes.empty()) return queued_ <= high_;  // an empty chunk would end the body
        queued_ += bytes.size();
        queue_.push_back(std::move(bytes));
        wake = std::exchange(idle_, false);
        below = queued_ <= high_;
        if (!below) want_drain_ = true;
    }
    if (wake) x_->body_ready();
    return below;
}

void StreamState::end(std::string last) {
    bool wake = false;
    {
        std::lock_guard lock(mutex_);
        if (closed_ || ended_) return;
        ended_ = true;
        last_ = std::move(last);
        wake = std::exchange(idle_, false);
    }
    if (wake) x_->body_ready();
}

void StreamState::set_drain(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    drain_ = std::move(fn);
}

void StreamState::set_close(std::function<void()> fn) {
    {
        std::lock_guard lock(mutex_);
        if (!closed_) {
            close_ = std::move(fn);
            return;
        }
    }
    if (fn) fn();
}

bool StreamState::closed() const noexcept {
    std::lock_guard lock(mutex_);
    return closed_ || ended_;
}

std::size_t StreamState::queued() const noexcept {
    std::lock_guard lock(mutex_);
    return queued_;
}

Pull StreamState::pull(net::WriteQueue& out) noexcept {
    std::deque<Body> taken;
    std::function<void()> drain;
    Pull result{Pull::Kind::more};
    try {
        std::lock_guard lock(mutex_);
        if (last_sent_) return {Pull::Kind::done};
        taken.swap(queue_);
        queued_ = 0;
        for (Body& b : taken) {
            produced_ += b.size();
            if (chunked_) {
                char line[http::kMaxChunkSizeLine];
                out.append_copy({line, http::chunk_size_line(b.size(), line)});
                out.append(std::move(b));
                out.append_copy(http::kChunkEnd);
            } else {
                out.append(std::move(b));
            }
        }
        if (want_drain_ && drain_) {
            want_drain_ = false;
            drain = drain_;
        }
        if (ended_) {
            out.append_copy(last_);
            last_sent_ = true;
            result = {Pull::Kind::done};
        } else if (taken.empty()) {
            idle_ = true;  // write() or end() wakes the connection
            result = {Pull::Kind::idle};
        }
    } catch (...) {
        return {Pull::Kind::fail};  // out of memory: cut the stream
    }
    // Outside the lock: the producer may write() from its drain callback.
    if (drain) {
        try {
            drain();
        } catch (...) {
        }
    }
    return result;
}

void StreamState::close_from_loop() noexcept {
    std::function<void()> fn;
    std::deque<Body> dropped;  // released here, on the loop thread
    {
        std::lock_guard lock(mutex_);
        if (last_sent_ || closed_) return;
        closed_ = true;
        dropped.swap(queue_);
        queued_ = 0;
        fn.swap(close_);
    }
    if (fn) {
        try {
            fn();
        } catch (...) {
        }
    }
}

}  // namespace vstream::request
