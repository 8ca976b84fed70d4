#pragma once

#include <vstream/body.hpp>

#include "net/transport.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vstream::net {

/// Maps file bytes on demand, for file segments queued without a mapping.
class FileMapper {
public:
    virtual ~FileMapper() = default;
    /// Bytes [offset, offset + length) of the file, borrowed (the Body's keeper holds the
    /// mapping); an empty Body if they cannot be mapped.
    virtual Body map(std::uint64_t offset, std::size_t length) noexcept = 0;
};

/// Queues response bytes for a Transport and writes them gathered, one uv_write at a time:
/// small pieces are copied into a staging buffer so a head and a small body leave in one
/// iovec; large or borrowed bodies are referenced, never copied. Tracks queued bytes against
/// a high-water mark (producers pause above it) and a low-water mark (they resume below it).
/// Thread: its loop thread only.
class WriteQueue {
public:
    /// Bodies at or below this size are copied into the staging buffer; larger owned bodies
    /// are moved, borrowed ones referenced.
    static constexpr std::size_t kCopyThreshold = 4096;
    /// File segments at least this long go out with sendfile where the transport can (plain
    /// TCP): below it one gathered write of head and mapped bytes is cheaper than two calls.
    static constexpr std::size_t kSendFileMin = 32 * 1024;

    WriteQueue(Transport& transport, std::size_t high_water, std::size_t low_water) noexcept
        : transport_(transport), high_water_(high_water), low_water_(low_water) {}
    WriteQueue(const WriteQueue&) = delete;
    WriteQueue& operator=(const WriteQueue&) = delete;

    /// Copies `bytes` into the queue.
    void append_copy(std::string_view bytes);
    /// Appends `body`, by reference when large or borrowed. Returns false when the queue is
    /// now above the high-water mark (the producer should pause until drained()).
    bool append(Body body);
    /// Appends file bytes: `mapped` borrows them from a mapping of file `fd` at `offset`. The
    /// kernel sends them from the file (sendfile) when the transport allows and they are long
    /// enough, else from the mapping; either way nothing is copied in user space. `mapped`'s
    /// keeper must keep `fd` open too. Same return as append().
    bool append_file(Body mapped, int fd, std::uint64_t offset);
    /// Appends `length` bytes of file `fd` from `offset` with no mapping: sendfile sends them,
    /// and `mapper` (which keeps `fd` open) maps them only if some must be written from memory
    /// (the socket filled up). For a transport that can_send_file(). Same return as append().
    bool append_file_unmapped(std::shared_ptr<FileMapper> mapper, int fd, std::uint64_t offset,
                              std::size_t length);
    /// Whether the transport sends files itself (append_file_unmapped is worth it).
    bool sends_files() const noexcept { return send_files_ && transport_.can_send_file(); }
    /// Starts writing what is queued unless a write is in flight: first at once (most
    /// responses fit the socket buffer, and a write done at once needs no request, no
    /// callback and no epoll change), the rest through the transport's write(). Afterwards
    /// writing() tells whether a write is in flight. Returns 0 or a libuv error.
    int flush() noexcept;
    /// Feeds the transport's write completion back. Returns the status; on success writing goes
    /// on with what is left (the rest of the batch, then the next one).
    int on_written(int status) noexcept;
    /// Gives back the memory kept for the next batch (staging, segment lists), for a
    /// connection about to wait idle. Only when idle(); otherwise nothing.
    void shrink() noexcept;
    /// Drops everything queued or in flight, releasing the bodies. Only once the transport is
    /// closed (a write in flight still points into those buffers until then).
    void clear() noexcept;

    /// Bytes queued or in flight.
    std::size_t queued() const noexcept { return queued_; }
    /// True when nothing is queued or in flight.
    bool idle() const noexcept { return queued_ == 0 && !writing_; }
    /// True when a write is in flight.
    bool writing() const noexcept { return writing_; }
    bool above_high_water() const noexcept { return queued_ > high_water_; }
    bool below_low_water() const noexcept { return queued_ <= low_water_; }
    /// Total bytes written since construction.
    std::uint64_t bytes_written() const noexcept { return written_; }

private:
    struct Segment {
        Body body;               // empty for staged bytes
        std::size_t offset = 0;  // into the staging buffer, for staged bytes
        std::size_t length = 0;
        bool staged = false;
        int fd = -1;  // file segments: body maps file fd at file_offset
        std::uint64_t file_offset = 0;
        std::shared_ptr<FileMapper> mapper = nullptr;  // unmapped file segments: maps on demand
        std::size_t mapped_from = 0;                   // body maps the segment from this byte on
        // The segment's bytes from `from` on (mapped first if need be); nullptr on failure.
        const char* at(const std::string& staging, std::size_t from) noexcept;
    };
    struct Batch {
        std::string staging;
        std::vector<Segment> segments;
        std::size_t bytes = 0;
    };

    void release(Batch& batch) noexcept;
    bool add_iov(Segment& s, std::size_t from);
    bool sends_file(const Segment& s, std::size_t from) const noexcept;
    int advance() noexcept;             // writes inflight_ from (seg_, from_)
    void skip(std::size_t n) noexcept;  // moves (seg_, from_) past n written bytes
    int drop_inflight(int status) noexcept;

    Transport& transport_;
    std::size_t high_water_;
    std::size_t low_water_;
    Batch pending_;
    Batch inflight_;
    // Bytes written before a probe: what a long file segment sends through libuv while the
    // socket is full, so that sendfile resumes when it has room.
    static constexpr std::size_t kProbe = 64 * 1024;
    std::size_t inflight_sent_ = 0;  // bytes of inflight_ written so far
    std::size_t seg_ = 0;            // inflight_ written up to segment seg_, byte from_
    std::size_t from_ = 0;
    std::size_t writing_bytes_ = 0;  // bytes of the write in flight
    bool send_files_ = true;         // until the transport says it cannot
    std::vector<uv_buf_t> iov_;
    std::size_t queued_ = 0;
    std::uint64_t written_ = 0;
    bool writing_ = false;
};

}  // namespace vstream::net
