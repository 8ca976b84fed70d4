#include "net/write_queue.hpp"

#include <algorithm>
#include <utility>

namespace vstream::net {

void WriteQueue::append_copy(std::string_view bytes) {
    if (bytes.empty()) return;
    Batch& b = pending_;
    if (!b.segments.empty() && b.segments.back().staged &&
        b.segments.back().offset + b.segments.back().length == b.staging.size()) {
        b.segments.back().length += bytes.size();  // extend the last staged run
    } else {
        b.segments.push_back(Segment{Body{}, b.staging.size(), bytes.size(), true});
    }
    b.staging.append(bytes);
    b.bytes += bytes.size();
    queued_ += bytes.size();
}

bool WriteQueue::append(Body body) {
    const std::size_t n = body.size();
    if (n == 0) return !above_high_water();
    if (body.owned() && n <= kCopyThreshold) {
        append_copy(body.view());
    } else {
        pending_.segments.push_back(Segment{std::move(body), 0, n, false});
        pending_.bytes += n;
        queued_ += n;
    }
    return !above_high_water();
}

int WriteQueue::flush() noexcept {
    if (writing_ || pending_.segments.empty()) return 0;
    std::swap(pending_, inflight_);
    iov_.clear();
    for (const Segment& s : inflight_.segments) {
        const char* base = s.staged ? inflight_.staging.data() + s.offset : s.body.view().data();
        // uv_buf_t lengths are unsigned int: split anything larger than 1 GiB.
        constexpr std::size_t kMaxIov = std::size_t{1} << 30;
        for (std::size_t off = 0; off < s.length; off += kMaxIov) {
            const std::size_t len = std::min(kMaxIov, s.length - off);
            iov_.push_back(uv_buf_init(const_cast<char*>(base + off), static_cast<unsigned>(len)));
        }
    }
    const int sent = stream_.try_write(iov_.data(), static_cast<unsigned>(iov_.size()));
    if (sent < 0 && sent != UV_EAGAIN) return drop_inflight(sent);
    std::size_t done = sent > 0 ? static_cast<std::size_t>(sent) : 0;
    if (done == inflight_.bytes) {
        queued_ -= done;
        written_ += done;
        release(inflight_);
        return 0;
    }
    // Skip what went out at once; queue the rest.
    inflight_sent_ = done;
    std::size_t first = 0;
    while (done >= iov_[first].len) done -= iov_[first++].len;
    iov_[first].base += done;
    iov_[first].len -= static_cast<unsigned>(done);
    const int rc = stream_.write(iov_.data() + first, static_cast<unsigned>(iov_.size() - first));
    if (rc != 0) return drop_inflight(rc);
    writing_ = true;
    return 0;
}

int WriteQueue::drop_inflight(int status) noexcept {
    // Nothing more will be written of it: the caller closes the connection.
    queued_ -= inflight_.bytes;
    inflight_sent_ = 0;
    release(inflight_);
    return status;
}

void WriteQueue::release(Batch& batch) noexcept {
    batch.segments.clear();  // drops bodies: keepers released, owned strings freed
    batch.staging.clear();
    // A burst (many pipelined responses) may have grown it; do not hold that forever.
    if (batch.staging.capacity() > 256 * 1024) batch.staging.shrink_to_fit();
    batch.bytes = 0;
}

int WriteQueue::on_written(int status) noexcept {
    writing_ = false;
    queued_ -= inflight_.bytes;
    written_ += status == 0 ? inflight_.bytes : inflight_sent_;
    inflight_sent_ = 0;
    release(inflight_);
    if (status != 0) return status;
    return flush();
}

void WriteQueue::clear() noexcept {
    release(inflight_);
    release(pending_);
    queued_ = 0;
    inflight_sent_ = 0;
    writing_ = false;
}

}  // namespace vstream::net
