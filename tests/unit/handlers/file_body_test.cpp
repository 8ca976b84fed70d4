// Tests FileBody (src/handlers/file_body.cpp), a ResponseBody, pulled into a WriteQueue over a
// MemoryTransport: exact bytes from whole mappings, windows and the fallback reads, and pacing
// against a fake loop clock.
#include "handlers/file_body.hpp"

#include "body_drain.hpp"
#include "files/local_file_origin.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using vstream::FileCacheConfig;
using vstream::files::FileRef;
using vstream::files::LocalFileOrigin;
using vstream::files::MmapCache;
using vstream::handlers::FileBody;
using vstream::handlers::Pacing;
using vstream::request::Pull;
using vstream::test::BodyDrain;
using vstream::test::random_bytes;
using vstream::test::TempDir;
using Piece = FileBody::Piece;

namespace {

std::size_t page() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

const char* name_of(Pull::Kind k) {
    switch (k) {
        case Pull::Kind::more: return "more";
        case Pull::Kind::wait: return "wait";
        case Pull::Kind::idle: return "idle";
        case Pull::Kind::done: return "done";
        case Pull::Kind::fail: return "fail";
    }
    return "?";
}

// One file in a temporary root, opened through a cache with the given settings.
struct OneFile {
    TempDir dir;
    std::string content;
    std::string path;
    LocalFileOrigin origin;
    MmapCache cache;
    FileRef file;

    OneFile(std::string bytes, const FileCacheConfig& config)
        : content(std::move(bytes)),
          path(dir.write("root/f.bin", content)),
          origin(dir.at("root"), false),
          cache(config) {
        REQUIRE(cache.open(origin, "f.bin", file) == 0);
    }
};

FileCacheConfig whole_config() {
    FileCacheConfig c;
    c.revalidate = std::chrono::hours(1);
    return c;
}

// Windows of one page, files above two pages windowed.
FileCacheConfig windowed_config() {
    FileCacheConfig c = whole_config();
    c.window_size = page();
    c.window_threshold = 2 * page();
    return c;
}

// Every mapping refused: windows are larger than the whole budget, so bytes are read.
FileCacheConfig unmappable_config() {
    FileCacheConfig c = whole_config();
    c.window_threshold = 4096;
    c.window_size = 256 * 1024;
    c.max_mapped_bytes = 4096;
    return c;
}

// What `pieces` should produce from `content`.
std::string expected(const std::string& content, const std::vector<Piece>& pieces) {
    std::string out;
    for (const Piece& p : pieces) {
        out += p.text;
        out +=
            content.substr(static_cast<std::size_t>(p.first), static_cast<std::size_t>(p.length));
    }
    return out;
}

}  // namespace

TEST_SUITE("handlers/file_body") {

TEST_CASE("a whole-mapped file is produced as its pieces, text and file ranges in order") {
    OneFile f(random_bytes(20000, 1), whole_config());
    REQUIRE(f.file->data() != nullptr);
    const std::vector<Piece> pieces = {
        {"--b\r\nContent-Range: bytes 5-1004/20000\r\n\r\n", 5, 1000},
        {"\r\n--b\r\n\r\n", 15000, 5000},
        {"", 0, 1},
        {"\r\n--b--\r\n", 0, 0},
    };
    const std::string want = expected(f.content, pieces);
    FileBody body(f.cache, f.file, pieces, Pacing{}, false);
    CHECK(body.length() == want.size());
    BodyDrain drain;
    std::uint64_t now = 1000;
    const Pull last = drain.run(body, now);
    CHECK(name_of(last.kind) == std::string("done"));
    CHECK(drain.written() == want);
    CHECK(drain.written().size() == body.length());
    CHECK(body.copied() == 0);
    CHECK(now == 1000);  // unpaced: never told to wait
    CHECK(name_of(drain.pull(body, now).kind) == std::string("done"));  // and stays done
}

TEST_CASE("a windowed file is produced across window borders, a window at most per pull") {
    const std::size_t ws = page();
    OneFile f(random_bytes(5 * ws + 123, 2), windowed_config());
    REQUIRE(f.file->windowed());
    const std::uint64_t size = f.content.size();
    const std::vector<Piece> pieces = {
        {"head one\r\n", ws - 10, 2 * ws + 20},     // three windows
        {"head two\r\n", 3 * ws, 1},                // a single byte at a border
        {"", 4 * ws + 100, size - (4 * ws + 100)},  // through the short last window
        {"tail\r\n", 0, 0},
    };
    const std::string want = expected(f.content, pieces);
    FileBody body(f.cache, f.file, pieces, Pacing{}, true);
    CHECK(body.length() == want.size());
    BodyDrain drain;
    std::uint64_t now = 0;
    Pull p;
    int pulls = 0;
    do {
        p = drain.pull(body, now);
        CHECK(drain.last_pull_bytes() <= ws + 20);  // one window's part, plus a head
        ++pulls;
    } while (p.kind == Pull::Kind::more && pulls < 1000);
    CHECK(name_of(p.kind) == std::string("done"));
    CHECK(drain.written() == want);
    CHECK(drain.written().size() == body.length());
    CHECK(body.copied() == 0);
    CHECK(pulls >= 7);
}

TEST_CASE("a body without pieces has length 0 and is done at once") {
    OneFile f("abc", whole_config());
    FileBody body(f.cache, f.file, {}, Pacing{}, true);
    CHECK(body.length() == 0);
    BodyDrain drain;
    CHECK(name_of(drain.pull(body, 0).kind) == std::string("done"));
    CHECK(drain.written().empty());
}

TEST_CASE("a paced body sends the burst first, then waits, then about rate bytes a second") {
    constexpr std::uint64_t kRate = 10000;
    constexpr std::uint64_t kBurst = 4096;
    OneFile f(random_bytes(100000, 3), whole_config());
    const std::vector<Piece> pieces = {{"HEAD", 0, 100000}};
    FileBody body(f.cache, f.file, pieces, Pacing{kRate, kBurst}, true);
    BodyDrain drain;
    const std::uint64_t t0 = 5000;

    Pull p = drain.pull(body, t0);
    CHECK(name_of(p.kind) == std::string("more"));
    CHECK(drain.written().size() <= kBurst + 4);
    CHECK(drain.written().size() >= kBurst);
    p = drain.pull(body, t0);
    REQUIRE(name_of(p.kind) == std::string("wait"));
    CHECK(p.wait_until > t0);
    CHECK(drain.written().size() <= kBurst + 4);

    // At each later (fake) time, pull until told to wait: the total follows burst + rate * t.
    for (const std::uint64_t elapsed : {100, 250, 1000, 2500, 5000}) {
        CAPTURE(elapsed);
        const std::uint64_t now = t0 + elapsed;
        int guard = 0;
        do {
            p = drain.pull(body, now);
        } while (p.kind == Pull::Kind::more && ++guard < 1000);
        REQUIRE(name_of(p.kind) == std::string("wait"));
        CHECK(p.wait_until > now);
        const std::uint64_t allowed = kBurst + kRate * elapsed / 1000;
        CHECK(drain.written().size() <= allowed + 4);
        CHECK(drain.written().size() + 4 >= allowed);
    }

    // Following the waits ends with the whole body, about (size - burst) / rate after t0.
    std::uint64_t now = t0 + 5000;
    p = drain.run(body, now);
    CHECK(name_of(p.kind) == std::string("done"));
    CHECK(drain.written() == expected(f.content, pieces));
    const std::uint64_t ideal = t0 + (100004 - kBurst) * 1000 / kRate;
    CHECK(now >= ideal - 1);
    CHECK(now <= ideal + 200);  // the last wait asks for up to a tenth of a second's worth
}

TEST_CASE("a paced body asks to be pulled again once a useful amount is allowed") {
    constexpr std::uint64_t kRate = 1000;
    OneFile f(random_bytes(5000, 4), whole_config());
    FileBody body(f.cache, f.file, {{"", 0, 5000}}, Pacing{kRate, 0}, true);
    BodyDrain drain;
    Pull p;
    int guard = 0;
    do {
        p = drain.pull(body, 100);  // no burst: nothing allowed yet
    } while (p.kind == Pull::Kind::more && ++guard < 10);
    REQUIRE(name_of(p.kind) == std::string("wait"));
    CHECK(drain.written().empty());
    CHECK(p.wait_until == 100 + 100);  // rate / 10 bytes take 100 ms
    const Pull q = drain.pull(body, p.wait_until);
    CHECK(name_of(q.kind) == std::string("more"));
    CHECK(drain.written().size() == 100);
}

TEST_CASE("without room for a window, 64 KiB pieces are mapped on their own, uncounted") {
    OneFile f(random_bytes(300000, 5), unmappable_config());
    REQUIRE(f.file->windowed());
    REQUIRE(f.cache.window(f.file, 0, true) == nullptr);
    const std::vector<Piece> pieces = {
        {"first\r\n", 1, 200000},
        {"second\r\n", 250000, 50000},
    };
    const std::string want = expected(f.content, pieces);
    FileBody body(f.cache, f.file, pieces, Pacing{}, true);
    BodyDrain drain;
    Pull p;
    int guard = 0;
    do {
        p = drain.pull(body, 0);
        CHECK(drain.last_pull_bytes() <= 64 * 1024 + 8);
    } while (p.kind == Pull::Kind::more && ++guard < 1000);
    CHECK(name_of(p.kind) == std::string("done"));
    CHECK(drain.written() == want);
    CHECK(body.copied() == 0);  // mapped, not read
    CHECK(f.cache.stats().mapped_bytes == 0);
}

TEST_CASE("a file truncated after its entry was made fails the piece path instead of crashing") {
    OneFile f(random_bytes(300000, 6), unmappable_config());
    REQUIRE(f.file->windowed());
    REQUIRE(::truncate(f.path.c_str(), 1000) == 0);
    FileBody body(f.cache, f.file, {{"", 0, 300000}}, Pacing{}, true);
    BodyDrain drain;
    std::uint64_t now = 0;
    const Pull p = drain.run(body, now, 100);
    CHECK(name_of(p.kind) == std::string("fail"));
    CHECK(drain.written().size() < 300000);
}

TEST_CASE("a range past the size the entry was made with fails") {
    OneFile f(random_bytes(1000, 7), whole_config());
    FileBody body(f.cache, f.file, {{"", 990, 20}}, Pacing{}, true);
    BodyDrain drain;
    std::uint64_t now = 0;
    CHECK(name_of(drain.run(body, now, 100).kind) == std::string("fail"));
    CHECK(drain.written().empty());
}

TEST_CASE("a body produces the file after the caller's FileRef is dropped") {
    OneFile f(random_bytes(10000, 8), whole_config());
    FileBody body(f.cache, std::move(f.file), {{"", 0, 10000}}, Pacing{}, true);
    REQUIRE(f.file == nullptr);
    BodyDrain drain;
    std::uint64_t now = 0;
    CHECK(name_of(drain.run(body, now).kind) == std::string("done"));
    CHECK(drain.written() == f.content);
}

}  // TEST_SUITE("handlers/file_body")
