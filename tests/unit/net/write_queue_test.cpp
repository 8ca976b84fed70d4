// Tests WriteQueue (src/net/write_queue.cpp) over a fake Transport: gathering, batching, marks.
#include "net/write_queue.hpp"

#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

using vstream::Body;
using vstream::net::PeerName;
using vstream::net::Transport;
using vstream::net::TransportEvents;
using vstream::net::WriteQueue;

namespace {

// Records each write; the test completes it by calling WriteQueue::on_written.
class FakeTransport final : public Transport {
public:
    struct Write {
        std::vector<uv_buf_t> iov;
        std::string bytes;  // the iov's contents, concatenated, copied at write time
    };
    std::vector<Write> writes;
    int fail_next_write = 0;  // returned by the next write() when non-zero
    bool copy_bytes = true;   // false: record only the iov (its memory may be unreadable)

    void set_events(TransportEvents*) noexcept override {}
    int read_start() noexcept override { return 0; }
    void read_stop() noexcept override {}
    int write(const uv_buf_t* bufs, unsigned nbufs) noexcept override {
        if (fail_next_write != 0) {
            const int rc = fail_next_write;
            fail_next_write = 0;
            return rc;
        }
        Write w;
        for (unsigned i = 0; i < nbufs; ++i) {
            w.iov.push_back(bufs[i]);
            if (copy_bytes) w.bytes.append(bufs[i].base, bufs[i].len);
        }
        writes.push_back(std::move(w));
        return 0;
    }
    void shutdown() noexcept override {}
    void close() noexcept override {}
    PeerName peer() const override { return {}; }
    std::size_t write_pending() const noexcept override { return 0; }
    // Bytes try_write accepts at once (the socket buffer's room); 0 means none (UV_EAGAIN).
    std::size_t accept_at_once = 0;
    std::string sent_at_once;
    int try_write(const uv_buf_t* bufs, unsigned nbufs) noexcept override {
        if (accept_at_once == 0) return UV_EAGAIN;
        std::size_t n = 0;
        for (unsigned i = 0; i < nbufs && n < accept_at_once; ++i) {
            const std::size_t take = std::min<std::size_t>(bufs[i].len, accept_at_once - n);
            sent_at_once.append(bufs[i].base, take);
            n += take;
        }
        accept_at_once -= n;
        return static_cast<int>(n);
    }
    int more_calls = 0;  // try_write_more calls
    int try_write_more(const uv_buf_t* bufs, unsigned nbufs) noexcept override {
        ++more_calls;
        return try_write(bufs, nbufs);
    }
    // sendfile: off unless a budget is set; reads what the kernel would send into sent_at_once.
    bool sendfile_ok = false;
    bool can_send_file() const noexcept override { return sendfile_ok; }
    // A transport whose try_send_file reads through user space (TLS encrypting in user space).
    bool copies = false;
    bool send_file_copies() const noexcept override { return copies; }
    std::size_t file_at_once = 0;
    int send_file_calls = 0;
    int try_send_file(int fd, std::uint64_t offset, std::size_t length) noexcept override {
        if (!sendfile_ok) return UV_ENOSYS;
        ++send_file_calls;
        const std::size_t n = std::min(length, file_at_once);
        if (n == 0) return UV_EAGAIN;
        std::string buf(n, '\0');
        if (::pread(fd, buf.data(), n, static_cast<off_t>(offset)) != static_cast<ssize_t>(n)) {
            return UV_EFAULT;
        }
        sent_at_once += buf;
        file_at_once -= n;
        return static_cast<int>(n);
    }
};

// A file whose bytes are also held in memory (standing in for its mapping).
struct TempFile {
    std::string bytes;
    int fd = -1;
    explicit TempFile(std::size_t n) : bytes(n, '\0') {
        for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>('a' + i % 23);
        char path[] = "/tmp/vstream-wq-XXXXXX";
        fd = ::mkstemp(path);
        ::unlink(path);
        REQUIRE(::write(fd, bytes.data(), n) == static_cast<ssize_t>(n));
    }
    ~TempFile() { ::close(fd); }
    Body mapped(std::size_t from, std::size_t n) const {
        return Body::borrow(std::string_view(bytes).substr(from, n), std::shared_ptr<const void>());
    }
};

constexpr std::size_t kHigh = 64 * 1024;
constexpr std::size_t kLow = 16 * 1024;

}  // namespace

TEST_SUITE("net/write_queue") {

TEST_CASE("a new queue is idle and writes nothing on flush") {
    FakeTransport s;
    WriteQueue q(s, kHigh, kLow);
    CHECK(q.idle());
    CHECK_FALSE(q.writing());
    CHECK(q.queued() == 0);
    CHECK(q.bytes_written() == 0);
    CHECK(q.flush() == 0);
    CHECK(s.writes.empty());
    CHECK(q.below_low_water());
    CHECK_FALSE(q.above_high_water());
}

TEST_CASE("small pieces are coalesced into one iovec") {
    FakeTransport s;
    WriteQueue q(s, kHigh, kLow);
    q.append_copy("HTTP/1.1 200 OK\r\n");
    q.append_copy("Content-Length: 5\r\n\r\n");
    CHECK(q.append(Body("hello")));
    CHECK(q.append(Body::copy(" more")));
    CHECK(q.queued() == 17 + 21 + 5 + 5);
    REQUIRE(q.flush() == 0);
    REQUIRE(s.writes.size() == 1);
    CHECK(s.writes[0].iov.size() == 1);
    CHECK(s.writes[0].bytes == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello more");
    CHECK(q.writing());
}

TEST_CASE("an owned body at the copy threshold is copied, one byte more is referenced") {
    FakeTransport s;
    WriteQueue q(s, 1 << 20, 1 << 19);
    std::string at(WriteQueue::kCopyThreshold, 'a');
    std::string over(WriteQueue::kCopyThreshold + 1, 'b');
    const char* over_data = over.data();
    q.append_copy("head");
    q.append(Body(std::move(at)));
    q.append(Body(std::move(over)));
    REQUIRE(q.flush() == 0);
    REQUIRE(s.writes.size() == 1);
    const auto& w = s.writes[0];
    REQUIRE(w.iov.size() == 2);
    CHECK(w.iov[0].len == 4 + WriteQueue::kCopyThreshold);
    CHECK(w.iov[1].len == WriteQueue::kCopyThreshold + 1);
    CHECK(w.iov[1].base == over_data);  // moved, not copied
    CHECK(w.bytes == "head" + std::string(WriteQueue::kCopyThreshold, 'a') +
                         std::string(WriteQueue::kCopyThreshold + 1, 'b'));
}

TEST_CASE("a borrowed body is referenced, however small") {
    FakeTransport s;
    WriteQueue q(s, kHigh, kLow);
    static const char kBytes[] = "tiny";
    q.append_copy("head:");
    q.append(Body::borrow(std::string_view(kBytes), std::shared_ptr<const void>()));
    q.append_copy(":tail");
    REQUIRE(q.flush() == 0);
    REQUIRE(s.writes.size() == 1);
    const auto& w = s.writes[0];
    REQUIRE(w.iov.size() == 3);
    CHECK(w.iov[1].base == kBytes);
    CHECK(w.iov[1].len == 4);
    CHECK(w.bytes == "head:tiny:tail");
}

TEST_CASE("copies appended after a referenced body start a new staged run") {
    FakeTransport s;
    WriteQueue q(s, 1 << 20, 1 << 19);
    q.append_copy("a");
    q.append(Body(std::string(10000, 'x')));
    q.append_copy("b");
    q.append_copy("c");
    REQUIRE(q.flush() == 0);
    REQUIRE(s.writes.size() == 1);
    REQUIRE(s.writes[0].iov.size() == 3);
    CHECK(std::string_view(s.writes[0].iov[2].base, s.writes[0].iov[2].len) == "bc");
}

TEST_CASE("a body larger than 1 GiB is split into iovecs of at most 1 GiB") {
    // Address space only: reserved, never touched (the queue does not read borrowed bytes).
    constexpr std::size_t kGiB = std::size_t{1} << 30;
    const std::size_t size = 2 * kGiB + 5;
    void* reserved =
        ::mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (reserved == MAP_FAILED) {
        MESSAGE("cannot reserve 2 GiB of address space: skipped");
        return;
    }
    const char* base = static_cast<const char*>(reserved);
    {
        FakeTransport s;
        s.copy_bytes = false;
        WriteQueue q(s, 4 * kGiB, kGiB);
        q.append_copy("head");
        CHECK(q.append(Body::borrow(std::string_view(base, size), std::shared_ptr<const void>())));
        REQUIRE(q.flush() == 0);
        REQUIRE(s.writes.size() == 1);
        const auto& iov = s.writes[0].iov;
        REQUIRE(iov.size() == 4);
        CHECK(iov[0].len == 4);
        CHECK(iov[1].base == base);
        CHECK(iov[1].len == kGiB);
        CHECK(iov[2].base == base + kGiB);
        CHECK(iov[2].len == kGiB);
        CHECK(iov[3].base == base + 2 * kGiB);
        CHECK(iov[3].len == 5);
        CHECK(q.on_written(0) == 0);
        CHECK(q.bytes_written() == size + 4);
    }
    ::munmap(reserved, size);
}

TEST_CASE("empty pieces are ignored") {
    FakeTransport s;
    WriteQueue q(s, kHigh, kLow);
    q.append_copy("");
    CHECK(q.append(Body()));
    CHECK(q.append(Body::borrow("", std::shared_ptr<const void>())));
    CHECK(q.queued() == 0);
    CHECK(q.flush() == 0);
    CHECK(s.writes.empty());
    CHECK(q.idle());
}

TEST_CASE("only one write is in flight; pieces appended meanwhile go in the next batch") {
    FakeTransport s;
    WriteQueue q(s, kHigh, kLow);
    q.append_copy("first");
    REQUIRE(q.flush() == 0);
    REQUIRE(s.writes.size() == 1);
    q.append_copy("second");
    q.append_copy("+more");
    CHECK(q.flush() == 0);
    CHECK(s.writes.size() == 1);  // still one in flight
    CHECK(q.queued() == 5 + 11);
    CHECK(q.on_written(0) == 0);  // completes the first and starts the next
    REQUIRE(s.writes.size() == 2);
    CHECK(s.writes[1].bytes == "second+more");
    CHECK(q.writing());
    CHECK(q.queued() == 11);
    CHECK(q.on_written(0) == 0);
    CHECK(s.writes.size() == 2);
    CHECK(q.idle());
    CHECK(q.bytes_written() == 16);
}

TEST_CASE("the staging buffer of the in-flight write is not disturbed by later appends") {
    FakeTransport s;
    WriteQueue q(s, kHigh, kLow);
    q.append_copy("stable bytes");
    REQUIRE(q.flush() == 0);
    const uv_buf_t inflight = s.writes[0].iov[0];
    for (int i = 0; i < 1000; ++i) q.append_copy("grow the pending buffer ");
    CHECK(std::string_view(inflight.base, inflight.len) == "stable bytes");
    CHECK(q.on_written(0) == 0);
}

TEST_CASE("append reports false above the high-water mark") {
    FakeTransport s;
    WriteQueue q(s, 100, 40);
    CHECK(q.append(Body(std::string(60, 'a'))));
    CHECK_FALSE(q.above_high_water());
    CHECK(q.append(Body(std::string(40, 'b'))));  // exactly 100: not above
    CHECK_FALSE(q.above_high_water());
    CHECK_FALSE(q.append(Body(std::string(1, 'c'))));
    CHECK(q.above_high_water());
    CHECK_FALSE(q.below_low_water());
    CHECK_FALSE(q.append(Body()));  // still above: an empty append says so too
}

TEST_CASE("bytes in flight count against the marks until written") {
    FakeTransport s;
    WriteQueue q(s, 100, 40);
    q.append(Body(std::string(90, 'a')));
    REQUIRE(q.flush() == 0);
    CHECK(q.queued() == 90);
    CHECK_FALSE(q.append(Body(std::string(20, 'b'))));
    CHECK(q.queued() == 110);
    CHECK(q.on_written(0) == 0);
    CHECK(q.queued() == 20);
    CHECK(q.below_low_water());
    CHECK_FALSE(q.above_high_water());
    CHECK(q.on_written(0) == 0);
    CHECK(q.queued() == 0);
    CHECK(q.below_low_water());
}

TEST_CASE("a borrowed body is released once, after its write completes and not before") {
    FakeTransport s;
    WriteQueue q(s, kHigh, kLow);
    int released = 0;
    q.append(Body::borrow("borrowed", [&released] { ++released; }));
    CHECK(released == 0);
    REQUIRE(q.flush() == 0);
    CHECK(released == 0);
    q.append_copy("next");
    CHECK(q.flush() == 0);
    CHECK(released == 0);
    CHECK(q.on_written(0) == 0);
    CHECK(released == 1);
    CHECK(q.on_written(0) == 0);
    CHECK(released == 1);
    q.clear();
    CHECK(released == 1);
}

TEST_CASE("a large owned body is freed once written, not before") {
    FakeTransport s;
    WriteQueue q(s, 1 << 20, 1 << 19);
    auto big = std::make_shared<std::string>(100000, 'z');
    std::weak_ptr<std::string> weak = big;
    q.append(Body::borrow(*big, big));
    big.reset();
    REQUIRE(q.flush() == 0);
    CHECK_FALSE(weak.expired());
    CHECK(q.on_written(0) == 0);
    CHECK(weak.expired());
}

TEST_CASE("clear releases the bodies queued and in flight") {
    FakeTransport s;
    WriteQueue q(s, kHigh, kLow);
    int inflight_released = 0;
    int pending_released = 0;
    q.append(Body::borrow("in flight", [&inflight_released] { ++inflight_released; }));
    REQUIRE(q.flush() == 0);
    q.append(Body::borrow("pending", [&pending_released] { ++pending_released; }));
    q.append_copy("copied");
    q.clear();
    CHECK(inflight_released == 1);
    CHECK(pending_released == 1);
    CHECK(q.idle());
    CHECK(q.queued() == 0);
    CHECK_FALSE(q.writing());
    CHECK(q.bytes_written() == 0);
}

TEST_CASE("destroying the queue releases what it still holds") {
    FakeTransport s;
    int released = 0;
    {
        WriteQueue q(s, kHigh, kLow);
        q.append(Body::borrow("x", [&released] { ++released; }));
    }
    CHECK(released == 1);
}

TEST_CASE("a write error is returned by on_written, the batch released and not counted") {
    FakeTransport s;
    WriteQueue q(s, kHigh, kLow);
    int released = 0;
    q.append(Body::borrow("lost", [&released] { ++released; }));
    REQUIRE(q.flush() == 0);
    q.append_copy("pending");
    CHECK(q.on_written(UV_EPIPE) == UV_EPIPE);
    CHECK(released == 1);
    CHECK(q.bytes_written() == 0);
    CHECK_FALSE(q.writing());
    CHECK(s.writes.size() == 1);  // the next batch was not started
    CHECK(q.queued() == 7);
}

TEST_CASE("a failing transport write is returned by flush and leaves nothing in flight") {
    FakeTransport s;
    WriteQueue q(s, kHigh, kLow);
    q.append_copy("data");
    s.fail_next_write = UV_EBADF;
    CHECK(q.flush() == UV_EBADF);
    CHECK_FALSE(q.writing());
    CHECK(s.writes.empty());
}

TEST_CASE("a failing write of the next batch is returned by on_written") {
    FakeTransport s;
    WriteQueue q(s, kHigh, kLow);
    q.append_copy("one");
    REQUIRE(q.flush() == 0);
    q.append_copy("two");
    s.fail_next_write = UV_ECANCELED;
    CHECK(q.on_written(0) == UV_ECANCELED);
    CHECK(q.bytes_written() == 3);
}

TEST_CASE("bytes_written counts every successful write") {
    FakeTransport s;
    WriteQueue q(s, 1 << 20, 1 << 19);
    std::uint64_t expected = 0;
    for (int i = 1; i <= 5; ++i) {
        CAPTURE(i);
        q.append_copy(std::string(static_cast<std::size_t>(i) * 10, 'x'));
        q.append(Body(std::string(static_cast<std::size_t>(i) * 5000, 'y')));
        expected += static_cast<std::uint64_t>(i) * 5010;
        REQUIRE(q.flush() == 0);
        REQUIRE(q.on_written(0) == 0);
        CHECK(q.bytes_written() == expected);
    }
    CHECK(q.idle());
}

}  // TEST_SUITE("net/write_queue")

TEST_SUITE("net/write_queue") {

TEST_CASE("what the socket takes at once needs no write request and leaves the queue idle") {
    FakeTransport s;
    s.accept_at_once = 1 << 20;
    WriteQueue q(s, kHigh, kLow);
    bool released = false;
    static const std::string big(10000, 'b');
    q.append_copy("head;");
    q.append(vstream::Body::borrow(big, [&] { released = true; }));
    REQUIRE(q.flush() == 0);
    CHECK_FALSE(q.writing());
    CHECK(q.idle());
    CHECK(s.writes.empty());
    CHECK(released);
    CHECK(s.sent_at_once == "head;" + big);
    CHECK(q.bytes_written() == 5 + big.size());
}

TEST_CASE("a partial write at once queues exactly the rest") {
    FakeTransport s;
    s.accept_at_once = 7;
    WriteQueue q(s, kHigh, kLow);
    q.append_copy("0123");
    static const std::string tail(6000, 't');
    q.append(vstream::Body::borrow(tail, std::shared_ptr<const void>()));
    REQUIRE(q.flush() == 0);
    CHECK(q.writing());
    REQUIRE(s.writes.size() == 1);
    CHECK(s.sent_at_once + s.writes[0].bytes == "0123" + tail);
    CHECK(s.sent_at_once == "0123ttt");
    CHECK(q.queued() == 4 + tail.size());
    CHECK(q.on_written(0) == 0);
    CHECK(q.idle());
    CHECK(q.bytes_written() == 4 + tail.size());
}

TEST_CASE("a long file segment goes by sendfile, the head before it with MSG_MORE") {
    FakeTransport s;
    s.sendfile_ok = true;
    s.accept_at_once = 1 << 20;
    s.file_at_once = 1 << 20;
    TempFile f(300 * 1024);
    WriteQueue q(s, kHigh, kLow);
    q.append_copy("HEAD\r\n\r\n");
    q.append_file(f.mapped(0, f.bytes.size()), f.fd, 0);
    REQUIRE(q.flush() == 0);
    CHECK(q.idle());
    CHECK(s.writes.empty());
    CHECK(s.more_calls == 1);
    CHECK(s.send_file_calls == 1);
    CHECK(s.sent_at_once == "HEAD\r\n\r\n" + f.bytes);
    CHECK(q.bytes_written() == 8 + f.bytes.size());
}

TEST_CASE("when the socket fills during sendfile, a probe from the mapping waits for room") {
    FakeTransport s;
    s.sendfile_ok = true;
    s.accept_at_once = 1 << 20;
    s.file_at_once = 100 * 1024;
    TempFile f(400 * 1024);
    WriteQueue q(s, kHigh, kLow);
    q.append_copy("H");
    q.append_file(f.mapped(1000, 300 * 1024), f.fd, 1000);
    q.append_copy("T");
    REQUIRE(q.flush() == 0);
    REQUIRE(q.writing());
    REQUIRE(s.writes.size() == 1);
    // Only a little goes through libuv: its completion means the socket has room again.
    CHECK(s.writes[0].bytes.size() < 100 * 1024);
    CHECK(s.writes[0].bytes == f.bytes.substr(1000 + 100 * 1024, s.writes[0].bytes.size()));
    const std::string before = s.sent_at_once + s.writes[0].bytes;
    s.sent_at_once.clear();
    s.file_at_once = 1 << 20;
    REQUIRE(q.on_written(0) == 0);
    CHECK(q.idle());
    CHECK(before + s.sent_at_once == "H" + f.bytes.substr(1000, 300 * 1024) + "T");
}

TEST_CASE("a transport that cannot sendfile gets file segments written from the mapping") {
    FakeTransport s;
    s.accept_at_once = 1 << 20;
    TempFile f(200 * 1024);
    WriteQueue q(s, kHigh, kLow);
    q.append_copy("H");
    q.append_file(f.mapped(0, f.bytes.size()), f.fd, 0);
    REQUIRE(q.flush() == 0);
    CHECK(q.idle());
    CHECK(s.send_file_calls == 0);
    CHECK(s.sent_at_once == "H" + f.bytes);
}

TEST_CASE("a short file segment leaves with the head in one gathered write") {
    FakeTransport s;
    s.sendfile_ok = true;
    s.accept_at_once = 1 << 20;
    s.file_at_once = 1 << 20;
    TempFile f(8 * 1024);
    WriteQueue q(s, kHigh, kLow);
    q.append_copy("H");
    q.append_file(f.mapped(0, f.bytes.size()), f.fd, 0);
    REQUIRE(q.flush() == 0);
    CHECK(s.send_file_calls == 0);
    CHECK(s.more_calls == 0);
    CHECK(s.sent_at_once == "H" + f.bytes);
}

namespace {

// Maps from a TempFile's in-memory copy, counting the calls.
struct CountingMapper final : vstream::net::FileMapper {
    const TempFile& f;
    int calls = 0;
    explicit CountingMapper(const TempFile& file) : f(file) {}
    Body map(std::uint64_t offset, std::size_t length) noexcept override {
        ++calls;
        return f.mapped(static_cast<std::size_t>(offset), length);
    }
};

}  // namespace

TEST_CASE("an unmapped file segment sent whole by sendfile is never mapped") {
    FakeTransport s;
    s.sendfile_ok = true;
    s.accept_at_once = 1 << 20;
    s.file_at_once = 1 << 20;
    TempFile f(100 * 1024);
    auto mapper = std::make_shared<CountingMapper>(f);
    WriteQueue q(s, kHigh, kLow);
    REQUIRE(q.sends_files());
    q.append_copy("H");
    q.append_file_unmapped(mapper, f.fd, 1000, 64 * 1024);
    REQUIRE(q.flush() == 0);
    CHECK(q.idle());
    CHECK(mapper->calls == 0);
    CHECK(s.sent_at_once == "H" + f.bytes.substr(1000, 64 * 1024));
}

TEST_CASE("a transport that copies to send files writes mapped bytes from the mapping") {
    // TLS in user space: bytes already mapped are encrypted where they lie (no copy); only
    // unmapped ones (a seek) are worth reading by file.
    FakeTransport s;
    s.sendfile_ok = true;
    s.copies = true;
    s.accept_at_once = 1 << 20;
    s.file_at_once = 1 << 20;
    TempFile f(200 * 1024);
    auto mapper = std::make_shared<CountingMapper>(f);
    WriteQueue q(s, 1 << 20, kLow);
    REQUIRE(q.sends_files());
    q.append_file(f.mapped(0, 64 * 1024), f.fd, 0);
    q.append_file_unmapped(mapper, f.fd, 100 * 1024, 64 * 1024);
    REQUIRE(q.flush() == 0);
    CHECK(q.idle());
    CHECK(s.send_file_calls == 1);  // the unmapped segment only
    CHECK(mapper->calls == 0);
    CHECK(s.sent_at_once == f.bytes.substr(0, 64 * 1024) + f.bytes.substr(100 * 1024, 64 * 1024));
}

TEST_CASE("shrink gives back the batches' memory only when idle, and the queue works after") {
    FakeTransport s;
    WriteQueue q(s, kHigh, kLow);
    q.append_copy(std::string(3000, 'h'));
    REQUIRE(q.flush() == 0);
    REQUIRE(q.writing());
    q.shrink();  // a write in flight points into the staging buffer: nothing may change
    CHECK(q.writing());
    CHECK(q.queued() == 3000);
    REQUIRE(q.on_written(0) == 0);
    REQUIRE(s.writes.size() == 1);
    CHECK(s.writes[0].bytes == std::string(3000, 'h'));
    REQUIRE(q.idle());
    q.shrink();
    CHECK(q.idle());
    q.append_copy("again");
    REQUIRE(q.flush() == 0);
    REQUIRE(q.on_written(0) == 0);
    REQUIRE(s.writes.size() == 2);
    CHECK(s.writes[1].bytes == "again");
    CHECK(q.bytes_written() == 3005);
}

TEST_CASE("an unmapped file segment is mapped from where it stopped when the socket fills") {
    FakeTransport s;
    s.sendfile_ok = true;
    s.accept_at_once = 1 << 20;
    s.file_at_once = 40 * 1024;
    TempFile f(300 * 1024);
    auto mapper = std::make_shared<CountingMapper>(f);
    WriteQueue q(s, kHigh, kLow);
    q.append_file_unmapped(mapper, f.fd, 5000, 200 * 1024);
    REQUIRE(q.flush() == 0);
    REQUIRE(q.writing());
    CHECK(mapper->calls == 1);
    REQUIRE(s.writes.size() == 1);
    const std::string before = s.sent_at_once + s.writes[0].bytes;
    s.sent_at_once.clear();
    s.file_at_once = 1 << 20;
    REQUIRE(q.on_written(0) == 0);
    CHECK(q.idle());
    CHECK(before + s.sent_at_once == f.bytes.substr(5000, 200 * 1024));
}

}  // TEST_SUITE("net/write_queue")
