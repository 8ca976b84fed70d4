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

bool WriteQueue::append_file(Body mapped, int fd, std::uint64_t offset) {
    const std::size_t n = mapped.size();
    if (n == 0) return !above_high_water();
    pending_.segments.push_back(Segment{std::move(mapped), 0, n, false, fd, offset});
    pending_.bytes += n;
    queued_ += n;
    return !above_high_water();
}

bool WriteQueue::append_file_unmapped(std::shared_ptr<FileMapper> mapper, int fd,
                                      std::uint64_t offset, std::size_t length) {
    if (length == 0) return !above_high_water();
    Segment s{Body{}, 0, length, false, fd, offset};
    s.mapper = std::move(mapper);
    pending_.segments.push_back(std::move(s));
    pending_.bytes += length;
    queued_ += length;
    return !above_high_water();
}

const char* WriteQueue::Segment::at(const std::string& staging, std::size_t from) noexcept {
    if (staged) return staging.data() + offset + from;
    if (mapper && (body.empty() || from < mapped_from)) {
        body = mapper->map(file_offset + from, length - from);
        if (body.size() != length - from) return nullptr;
        mapped_from = from;
    }
    return body.view().data() + (from - mapped_from);
}

bool WriteQueue::add_iov(Segment& s, std::size_t from) {
    const char* p = s.at(inflight_.staging, from);
    if (p == nullptr) return false;
    // uv_buf_t lengths are unsigned int: split anything larger than 1 GiB.
    constexpr std::size_t kMaxIov = std::size_t{1} << 30;
    for (std::size_t off = from; off < s.length; off += kMaxIov) {
        const std::size_t len = std::min(kMaxIov, s.length - off);
        iov_.push_back(
            uv_buf_init(const_cast<char*>(p + (off - from)), static_cast<unsigned>(len)));
    }
    return true;
}

bool WriteQueue::sends_file(const Segment& s, std::size_t from) const noexcept {
    if (!send_files_ || s.fd < 0 || s.length - from < kSendFileMin) return false;
    // A transport that would read the file into memory (TLS in user space) writes mapped bytes
    // from their mapping instead: no copy. Unmapped ones it reads, which costs less than
    // mapping a window for one seek.
    return s.mapper != nullptr || !transport_.send_file_copies();
}

int WriteQueue::flush() noexcept {
    if (writing_) return 0;  // its completion carries on
    if (inflight_.segments.empty()) {
        if (pending_.segments.empty()) return 0;
        std::swap(pending_, inflight_);
        seg_ = 0;
        from_ = 0;
        inflight_sent_ = 0;
    }
    return advance();
}

int WriteQueue::advance() noexcept {
    std::vector<Segment>& segs = inflight_.segments;
    // Write at once what the socket takes: runs of segments gathered in one call, long file
    // segments by sendfile.
    while (seg_ < segs.size()) {
        const Segment& s = segs[seg_];
        std::size_t sent = 0;
        std::size_t tried = 0;
        if (sends_file(s, from_)) {
            tried = s.length - from_;
            const int rc = transport_.try_send_file(s.fd, s.file_offset + from_, tried);
            if (rc == UV_ENOSYS) {
                send_files_ = false;  // the transport cannot (TLS): write from the mapping
                continue;
            }
            if (rc < 0 && rc != UV_EAGAIN) return drop_inflight(rc);
            sent = rc > 0 ? static_cast<std::size_t>(rc) : 0;
        } else {
            // A run up to the next long file segment.
            iov_.clear();
            std::size_t end = seg_;
            do {
                if (!add_iov(segs[end], end == seg_ ? from_ : 0)) return drop_inflight(UV_ENOMEM);
                tried += segs[end].length - (end == seg_ ? from_ : 0);
                ++end;
            } while (end < segs.size() && !sends_file(segs[end], 0));
            // Before a file segment, the head goes with MSG_MORE: one full segment, not two.
            const auto n = static_cast<unsigned>(iov_.size());
            const int rc = end < segs.size() ? transport_.try_write_more(iov_.data(), n)
                                             : transport_.try_write(iov_.data(), n);
            if (rc < 0 && rc != UV_EAGAIN) return drop_inflight(rc);
            sent = rc > 0 ? static_cast<std::size_t>(rc) : 0;
        }
        skip(sent);
        if (sent < tried) break;  // the socket is full
    }
    if (seg_ == segs.size()) {
        queued_ -= inflight_.bytes;
        written_ += inflight_.bytes;
        release(inflight_);
        return pending_.segments.empty() ? 0 : flush();
    }
    // The socket is full: libuv writes the rest when it can, from the mappings, and reports
    // completion. Before a long file segment only a little goes that way, as a probe: its
    // completion says the socket has room again, and sendfile takes over.
    iov_.clear();
    std::size_t probe = 0;
    for (std::size_t i = seg_; i < segs.size(); ++i) {
        const std::size_t from = i == seg_ ? from_ : 0;
        if (sends_file(segs[i], from)) {
            if (i == seg_) {
                Segment& s = segs[i];
                const std::size_t n = std::min(kProbe, s.length - from);
                const char* p = s.at(inflight_.staging, from);
                if (p == nullptr) return drop_inflight(UV_ENOMEM);
                iov_.push_back(uv_buf_init(const_cast<char*>(p), static_cast<unsigned>(n)));
                probe += n;
            }
            break;
        }
        if (!add_iov(segs[i], from)) return drop_inflight(UV_ENOMEM);
        probe += segs[i].length - from;
    }
    const int rc = transport_.write(iov_.data(), static_cast<unsigned>(iov_.size()));
    if (rc != 0) return drop_inflight(rc);
    writing_ = true;
    writing_bytes_ = probe;
    return 0;
}

void WriteQueue::skip(std::size_t n) noexcept {
    inflight_sent_ += n;
    const std::vector<Segment>& segs = inflight_.segments;
    while (n > 0) {
        const std::size_t left = segs[seg_].length - from_;
        if (n < left) {
            from_ += n;
            return;
        }
        n -= left;
        ++seg_;
        from_ = 0;
    }
    while (seg_ < segs.size() && segs[seg_].length == 0) ++seg_;
}

int WriteQueue::drop_inflight(int status) noexcept {
    // Nothing more will be written of it: the caller closes the connection.
    queued_ -= inflight_.bytes;
    written_ += inflight_sent_;
    inflight_sent_ = 0;
    writing_ = false;
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
    if (status != 0) return drop_inflight(status);
    skip(writing_bytes_);
    writing_bytes_ = 0;
    return advance();
}

void WriteQueue::shrink() noexcept {
    if (!idle()) return;
    for (Batch* b : {&pending_, &inflight_}) {
        std::string().swap(b->staging);
        std::vector<Segment>().swap(b->segments);
    }
    std::vector<uv_buf_t>().swap(iov_);
}

void WriteQueue::clear() noexcept {
    release(inflight_);
    release(pending_);
    queued_ = 0;
    inflight_sent_ = 0;
    writing_bytes_ = 0;
    seg_ = 0;
    from_ = 0;
    writing_ = false;
}

}  // namespace vstream::net
