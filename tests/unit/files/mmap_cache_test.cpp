// Tests MmapCache (src/files/mmap_cache.cpp): sharing, validators, windows, the mapped-bytes
// budget, eviction, revalidation and expiry, on real files in a temporary directory.
#include "files/mmap_cache.hpp"

#include "files/local_file_origin.hpp"
#include "temp_dir.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using vstream::FileCacheConfig;
using vstream::files::CachedFile;
using vstream::files::FileRef;
using vstream::files::LocalFileOrigin;
using vstream::files::MmapCache;
using vstream::files::Window;
using vstream::files::WindowRef;
using vstream::test::random_bytes;
using vstream::test::TempDir;
using vstream::test::wait_until;

namespace {

std::size_t page() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

std::string_view bytes_of(const CachedFile& f) {
    return {f.data(), static_cast<std::size_t>(f.size())};
}
std::string_view bytes_of(const Window& w) { return {w.data(), w.length()}; }

// A cache trusting entries for an hour unless a test says otherwise.
FileCacheConfig config() {
    FileCacheConfig c;
    c.revalidate = std::chrono::hours(1);
    c.idle = std::chrono::hours(1);
    return c;
}

// Windows of one page; files above two pages are windowed; `budget_pages` pages may be mapped.
FileCacheConfig windowed_config(std::size_t budget_pages = 64) {
    FileCacheConfig c = config();
    c.window_size = page();
    c.window_threshold = 2 * page();
    c.max_mapped_bytes = budget_pages * page();
    return c;
}

// Replaces `relative` by a new file (a new inode), as a deployment does with a rename.
void replace(const TempDir& dir, const std::string& relative, std::string_view bytes) {
    dir.write(relative + ".new", bytes);
    std::filesystem::rename(dir.at(relative + ".new"), dir.at(relative));
}

void set_mtime(const std::string& path, std::int64_t sec, long nsec) {
    const timespec times[2] = {{static_cast<time_t>(sec), nsec}, {static_cast<time_t>(sec), nsec}};
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

std::string hex(std::uint64_t v) {
    std::ostringstream s;
    s << std::hex << v;
    return s.str();
}

// A root directory with an origin confined to it.
struct Fixture {
    TempDir dir;
    std::string root = dir.at("root");
    Fixture() { std::filesystem::create_directories(root); }
    std::string write(const std::string& relative, std::string_view bytes) const {
        return dir.write("root/" + relative, bytes);
    }
};

}  // namespace

TEST_SUITE("files/mmap_cache") {

TEST_CASE("an open after a miss is a hit that shares the same CachedFile") {
    Fixture fx;
    fx.write("a.txt", "hello");
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(config());
    FileRef first;
    FileRef second;
    REQUIRE(cache.open(src, "a.txt", first) == 0);
    REQUIRE(cache.open(src, "a.txt", second) == 0);
    CHECK(first.get() == second.get());
    const auto s = cache.stats();
    CHECK(s.misses == 1);
    CHECK(s.hits == 1);
    CHECK(s.open_entries == 1);
}

TEST_CASE(
    "a small file is mapped whole: data() holds the file's bytes, and its descriptor stays for "
    "sendfile") {
    Fixture fx;
    const std::string content = random_bytes(10000, 7);
    fx.write("a.bin", content);
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(config());
    FileRef f;
    REQUIRE(cache.open(src, "a.bin", f) == 0);
    REQUIRE(f->data() != nullptr);
    CHECK_FALSE(f->windowed());
    CHECK(f->fd() >= 0);
    CHECK(f->size() == content.size());
    CHECK(bytes_of(*f) == content);
    CHECK(cache.stats().mapped_bytes == content.size());
}

TEST_CASE("the etag is the quoted hex of inode, size and mtime in nanoseconds") {
    Fixture fx;
    const std::string path = fx.write("a.txt", "twelve bytes");
    set_mtime(path, 1700000000, 123456789);
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(config());
    FileRef f;
    REQUIRE(cache.open(src, "a.txt", f) == 0);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    const std::uint64_t mtime_ns = 1700000000ull * 1000000000ull + 123456789ull;
    CHECK(f->etag() == "\"" + hex(st.st_ino) + "-" + hex(12) + "-" + hex(mtime_ns) + "\"");
    CHECK(f->identity().inode == st.st_ino);
    CHECK(f->identity().mtime_nsec == 123456789);
}

TEST_CASE("the etag changes when the size or the mtime changes") {
    Fixture fx;
    const std::string path = fx.write("a.txt", "version one");
    set_mtime(path, 1600000000, 0);
    LocalFileOrigin src(fx.root, false);
    FileCacheConfig c = config();
    c.revalidate = std::chrono::milliseconds(0);
    MmapCache cache(c);
    FileRef one;
    REQUIRE(cache.open(src, "a.txt", one) == 0);

    fx.write("a.txt", "version two, longer");  // in place: same inode, new size
    set_mtime(path, 1600000000, 0);            // and the same mtime
    FileRef two;
    REQUIRE(cache.open(src, "a.txt", two) == 0);
    CHECK(two->identity().inode == one->identity().inode);
    CHECK(two->size() != one->size());
    CHECK(two->etag() != one->etag());

    set_mtime(path, 1600000001, 0);  // only the mtime
    FileRef three;
    REQUIRE(cache.open(src, "a.txt", three) == 0);
    CHECK(three->size() == two->size());
    CHECK(three->etag() != two->etag());

    set_mtime(path, 1600000001, 5);  // a nanosecond change is a change too
    FileRef four;
    REQUIRE(cache.open(src, "a.txt", four) == 0);
    CHECK(four->etag() != three->etag());
}

TEST_CASE("last_modified is the IMF-fixdate of the mtime") {
    Fixture fx;
    const std::string path = fx.write("a.txt", "x");
    set_mtime(path, 784111777, 500000000);  // the RFC's example instant; sub-seconds dropped
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(config());
    FileRef f;
    REQUIRE(cache.open(src, "a.txt", f) == 0);
    CHECK(f->last_modified() == "Sun, 06 Nov 1994 08:49:37 GMT");
    CHECK(f->mtime() == 784111777);
}

TEST_CASE("a file above window_threshold is windowed: no whole mapping, an open descriptor") {
    Fixture fx;
    fx.write("big.bin", random_bytes(3 * page() + 100, 3));
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(windowed_config());
    FileRef f;
    REQUIRE(cache.open(src, "big.bin", f) == 0);
    CHECK(f->data() == nullptr);
    CHECK(f->windowed());
    CHECK(f->fd() >= 0);
    CHECK(f->size() == 3 * page() + 100);
    CHECK(cache.stats().mapped_bytes == 0);  // nothing mapped until a window is asked for
}

TEST_CASE("windows are aligned to window_size and hold the file's bytes, the last one short") {
    Fixture fx;
    const std::size_t ws = page();
    const std::string content = random_bytes(3 * ws + 100, 4);
    fx.write("big.bin", content);
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(windowed_config());
    REQUIRE(cache.window_size() == ws);
    FileRef f;
    REQUIRE(cache.open(src, "big.bin", f) == 0);
    const std::uint64_t offsets[] = {0, 1, ws - 1, ws, ws + 17, 2 * ws + 5, 3 * ws, 3 * ws + 99};
    for (const std::uint64_t off : offsets) {
        CAPTURE(off);
        const WindowRef w = cache.window(f, off, false);
        REQUIRE(w != nullptr);
        const std::uint64_t start = off / ws * ws;
        CHECK(w->offset() == start);
        CHECK(w->length() == std::min<std::uint64_t>(ws, content.size() - start));
        CHECK(bytes_of(*w) == std::string_view(content).substr(start, w->length()));
    }
    CHECK(cache.window(f, content.size(), true) == nullptr);  // past the end
    CHECK(cache.window(f, content.size() + ws, true) == nullptr);
    CHECK(cache.window(nullptr, 0, true) == nullptr);
}

TEST_CASE("a whole-mapped file has no windows") {
    Fixture fx;
    fx.write("a.txt", "small");
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(config());
    FileRef f;
    REQUIRE(cache.open(src, "a.txt", f) == 0);
    CHECK(cache.window(f, 0, true) == nullptr);
}

TEST_CASE("window() returns the same Window for the same index while it is cached") {
    Fixture fx;
    const std::size_t ws = page();
    fx.write("big.bin", random_bytes(4 * ws, 5));
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(windowed_config());
    FileRef f;
    REQUIRE(cache.open(src, "big.bin", f) == 0);
    const WindowRef a = cache.window(f, ws + 10, true);
    const WindowRef b = cache.window(f, 2 * ws - 1, false);
    REQUIRE(a != nullptr);
    CHECK(a.get() == b.get());
    const Window* seen = a.get();
    const WindowRef other = cache.window(f, 2 * ws, true);
    REQUIRE(other != nullptr);
    CHECK(other.get() != seen);
    const auto before = cache.stats();
    const WindowRef again = cache.window(f, ws, true);  // not held by anyone else: still cached
    CHECK(again.get() == seen);
    CHECK(cache.stats().hits == before.hits + 1);
    CHECK(cache.stats().misses == before.misses);
}

TEST_CASE("with a budget of two windows, a third waits until one is released") {
    Fixture fx;
    const std::size_t ws = page();
    const std::string content = random_bytes(4 * ws, 6);
    fx.write("big.bin", content);
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(windowed_config(2));
    FileRef f;
    REQUIRE(cache.open(src, "big.bin", f) == 0);
    WindowRef w0 = cache.window(f, 0, true);
    const WindowRef w1 = cache.window(f, ws, true);
    REQUIRE(w0 != nullptr);
    REQUIRE(w1 != nullptr);
    CHECK(cache.stats().mapped_bytes == 2 * ws);

    CHECK(cache.window(f, 2 * ws, true) == nullptr);  // both held: no room
    CHECK(cache.stats().mapped_bytes == 2 * ws);
    CHECK(cache.stats().evictions == 0);

    w0.reset();
    const WindowRef w2 = cache.window(f, 2 * ws + 3, true);
    REQUIRE(w2 != nullptr);
    CHECK(w2->offset() == 2 * ws);
    CHECK(bytes_of(*w2) == std::string_view(content).substr(2 * ws, ws));
    CHECK(cache.stats().mapped_bytes == 2 * ws);
    CHECK(cache.stats().evictions == 1);
    CHECK(bytes_of(*w1) == std::string_view(content).substr(ws, ws));  // the held one is intact
}

TEST_CASE("mapped_bytes never exceeds the budget while windows come and go") {
    Fixture fx;
    const std::size_t ws = page();
    const std::string content = random_bytes(16 * ws + 10, 8);
    fx.write("big.bin", content);
    LocalFileOrigin src(fx.root, false);
    const FileCacheConfig c = windowed_config(2);
    MmapCache cache(c);
    FileRef f;
    REQUIRE(cache.open(src, "big.bin", f) == 0);
    std::mt19937_64 gen(42);
    std::vector<WindowRef> held;
    for (int step = 0; step < 300; ++step) {
        CAPTURE(step);
        if (!held.empty() && gen() % 2 == 0)
            held.erase(held.begin() + static_cast<long>(gen() % held.size()));
        const std::uint64_t off = gen() % content.size();
        CAPTURE(off);
        WindowRef w = cache.window(f, off, gen() % 2 == 0);
        bool held_already = false;
        for (const WindowRef& h : held) held_already |= h->offset() == off / ws * ws;
        if (held.size() < 2 || held_already) {
            REQUIRE(w != nullptr);
            CHECK(bytes_of(*w) == std::string_view(content).substr(w->offset(), w->length()));
            if (!held_already) held.push_back(std::move(w));
        } else {
            CHECK(w == nullptr);
        }
        CHECK(cache.stats().mapped_bytes <= c.max_mapped_bytes);
    }
}

TEST_CASE("a whole file bigger than the free budget, with every mapping held, is windowed") {
    Fixture fx;
    const std::size_t ws = page();
    fx.write("big.bin", random_bytes(8 * ws, 9));
    const std::string small = random_bytes(2 * ws, 10);
    fx.write("small.bin", small);
    LocalFileOrigin src(fx.root, false);
    FileCacheConfig c = windowed_config(3);
    c.window_threshold = 4 * ws;  // small.bin would be mapped whole
    MmapCache cache(c);
    FileRef big;
    REQUIRE(cache.open(src, "big.bin", big) == 0);
    const WindowRef w0 = cache.window(big, 0, true);
    const WindowRef w1 = cache.window(big, ws, true);
    REQUIRE(w1 != nullptr);  // two of three pages held: one free

    FileRef f;
    REQUIRE(cache.open(src, "small.bin", f) == 0);
    CHECK(f->data() == nullptr);
    CHECK(f->windowed());
    CHECK(f->fd() >= 0);
    CHECK(cache.stats().mapped_bytes == 2 * ws);
    const WindowRef w = cache.window(f, ws + 1, true);  // one window fits the free page
    REQUIRE(w != nullptr);
    CHECK(bytes_of(*w) == std::string_view(small).substr(ws, ws));
    CHECK(cache.stats().mapped_bytes == 3 * ws);
}

TEST_CASE("a whole file bigger than the entire budget is windowed") {
    Fixture fx;
    const std::size_t ws = page();
    fx.write("a.bin", random_bytes(2 * ws, 11));
    LocalFileOrigin src(fx.root, false);
    FileCacheConfig c = windowed_config(1);
    c.window_threshold = 4 * ws;
    MmapCache cache(c);
    FileRef f;
    REQUIRE(cache.open(src, "a.bin", f) == 0);
    CHECK(f->windowed());
    CHECK(cache.stats().mapped_bytes == 0);
}

TEST_CASE("unreferenced files are evicted least recently used first to make room") {
    Fixture fx;
    const std::size_t ws = page();
    for (const char* name : {"a", "b", "c", "d"}) fx.write(name, random_bytes(ws, name[0]));
    LocalFileOrigin src(fx.root, false);
    FileCacheConfig c = windowed_config(3);
    c.window_threshold = 4 * ws;
    MmapCache cache(c);
    const auto open = [&](const char* name) {
        FileRef f;
        REQUIRE(cache.open(src, name, f) == 0);
        CHECK(f->data() != nullptr);
    };
    open("a");
    open("b");
    open("c");
    CHECK(cache.stats().mapped_bytes == 3 * ws);
    open("a");  // a hit: a is now the most recently used, b the least
    open("d");  // needs a page: b goes
    auto s = cache.stats();
    CHECK(s.evictions == 1);
    CHECK(s.mapped_bytes == 3 * ws);
    CHECK(s.open_entries == 3);
    CHECK(s.misses == 4);
    open("a");
    open("c");
    CHECK(cache.stats().misses == 4);  // both still cached
    open("b");
    CHECK(cache.stats().misses == 5);  // b was the one evicted
    CHECK(cache.stats().evictions == 2);
    CHECK(cache.stats().mapped_bytes <= c.max_mapped_bytes);
}

TEST_CASE("max_entries bounds the cached files, going over only while all are in use") {
    Fixture fx;
    for (const char* name : {"a", "b", "c", "d"}) fx.write(name, name);
    LocalFileOrigin src(fx.root, false);
    FileCacheConfig c = config();
    c.max_entries = 2;

    SUBCASE("unreferenced files are evicted, least recently used first") {
        MmapCache cache(c);
        for (const char* name : {"a", "b", "c"}) {
            FileRef f;
            REQUIRE(cache.open(src, name, f) == 0);
        }
        CHECK(cache.stats().open_entries == 2);
        CHECK(cache.stats().evictions == 1);
        FileRef f;
        REQUIRE(cache.open(src, "b", f) == 0);
        CHECK(cache.stats().misses == 3);
        REQUIRE(cache.open(src, "a", f) == 0);
        CHECK(cache.stats().misses == 4);  // a was evicted
    }
    SUBCASE("files in use are kept over the bound until released") {
        MmapCache cache(c);
        FileRef a;
        FileRef b;
        FileRef cc;
        REQUIRE(cache.open(src, "a", a) == 0);
        REQUIRE(cache.open(src, "b", b) == 0);
        REQUIRE(cache.open(src, "c", cc) == 0);
        CHECK(cache.stats().open_entries == 3);
        CHECK(bytes_of(*a) == "a");
        a.reset();
        b.reset();
        cc.reset();
        FileRef d;
        REQUIRE(cache.open(src, "d", d) == 0);
        CHECK(cache.stats().open_entries == 2);
    }
}

TEST_CASE("max_entries evicts an unused windowed file even while its windows are cached") {
    Fixture fx;
    const std::size_t ws = page();
    fx.write("big1.bin", random_bytes(4 * ws, 12));
    fx.write("big2.bin", random_bytes(4 * ws, 13));
    LocalFileOrigin src(fx.root, false);
    FileCacheConfig c = windowed_config();
    c.max_entries = 1;
    MmapCache cache(c);
    {
        FileRef f;
        REQUIRE(cache.open(src, "big1.bin", f) == 0);
        REQUIRE(cache.window(f, 0, true) != nullptr);
    }  // no response holds big1.bin or its window now
    FileRef g;
    REQUIRE(cache.open(src, "big2.bin", g) == 0);
    CHECK(cache.stats().open_entries == 1);
}

TEST_CASE("the same path in two sources is cached as two entries") {
    Fixture fx;
    fx.write("a.txt", "same file");
    LocalFileOrigin confined(fx.root, false);
    LocalFileOrigin links(fx.root, true);
    MmapCache cache(config());
    FileRef a;
    FileRef b;
    REQUIRE(cache.open(confined, "a.txt", a) == 0);
    REQUIRE(cache.open(links, "a.txt", b) == 0);
    CHECK(a.get() != b.get());
    CHECK(cache.stats().open_entries == 2);
    CHECK(cache.stats().misses == 2);
}

TEST_CASE(
    "with revalidate 0, a replaced file gets a new CachedFile and the old one stays readable") {
    Fixture fx;
    const std::string old_bytes = random_bytes(3000, 14);
    const std::string new_bytes = random_bytes(5000, 15);
    fx.write("a.bin", old_bytes);
    LocalFileOrigin src(fx.root, false);
    FileCacheConfig c = config();
    c.revalidate = std::chrono::milliseconds(0);
    MmapCache cache(c);
    FileRef old_ref;
    REQUIRE(cache.open(src, "a.bin", old_ref) == 0);

    replace(fx.dir, "root/a.bin", new_bytes);
    FileRef new_ref;
    REQUIRE(cache.open(src, "a.bin", new_ref) == 0);
    CHECK(new_ref.get() != old_ref.get());
    CHECK(new_ref->size() == new_bytes.size());
    CHECK(bytes_of(*new_ref) == new_bytes);
    CHECK(new_ref->etag() != old_ref->etag());
    CHECK(bytes_of(*old_ref) == old_bytes);  // the old version's mapping is untouched
    CHECK(cache.stats().open_entries == 2);  // the old one lives on while referenced

    old_ref.reset();
    cache.expire();  // a superseded version goes once unreferenced, idle or not
    CHECK(cache.stats().open_entries == 1);
    CHECK(cache.stats().mapped_bytes == new_bytes.size());
    FileRef again;
    REQUIRE(cache.open(src, "a.bin", again) == 0);
    CHECK(again.get() == new_ref.get());
}

TEST_CASE(
    "with revalidate 0, a touched file gets a new CachedFile and the old one stays readable") {
    Fixture fx;
    const std::string content = random_bytes(3000, 16);
    const std::string path = fx.write("a.bin", content);
    set_mtime(path, 1500000000, 0);
    LocalFileOrigin src(fx.root, false);
    FileCacheConfig c = config();
    c.revalidate = std::chrono::milliseconds(0);
    MmapCache cache(c);
    FileRef old_ref;
    REQUIRE(cache.open(src, "a.bin", old_ref) == 0);
    FileRef same;
    REQUIRE(cache.open(src, "a.bin", same) == 0);
    CHECK(same.get() == old_ref.get());  // checked, unchanged: a hit
    CHECK(cache.stats().hits == 1);

    set_mtime(path, 1500000060, 0);
    FileRef new_ref;
    REQUIRE(cache.open(src, "a.bin", new_ref) == 0);
    CHECK(new_ref.get() != old_ref.get());
    CHECK(new_ref->mtime() == 1500000060);
    CHECK(old_ref->mtime() == 1500000000);
    CHECK(bytes_of(*old_ref) == content);
    CHECK(bytes_of(*new_ref) == content);
}

TEST_CASE("with revalidate 0, a file rewritten in place with a new size gets a new CachedFile") {
    Fixture fx;
    fx.write("a.txt", "short");
    LocalFileOrigin src(fx.root, false);
    FileCacheConfig c = config();
    c.revalidate = std::chrono::milliseconds(0);
    MmapCache cache(c);
    FileRef old_ref;
    REQUIRE(cache.open(src, "a.txt", old_ref) == 0);
    fx.write("a.txt", "a longer second version");
    FileRef new_ref;
    REQUIRE(cache.open(src, "a.txt", new_ref) == 0);
    CHECK(new_ref.get() != old_ref.get());
    CHECK(new_ref->identity().inode == old_ref->identity().inode);
    CHECK(bytes_of(*new_ref) == "a longer second version");
    CHECK(old_ref->size() == 5);  // a shared mapping of the same inode: its bytes are the file's
}

TEST_CASE("with revalidate 0, a deleted file gives -ENOENT and the old reference stays readable") {
    Fixture fx;
    const std::string content = random_bytes(2000, 17);
    const std::string path = fx.write("a.bin", content);
    LocalFileOrigin src(fx.root, false);
    FileCacheConfig c = config();
    c.revalidate = std::chrono::milliseconds(0);
    MmapCache cache(c);
    FileRef old_ref;
    REQUIRE(cache.open(src, "a.bin", old_ref) == 0);
    REQUIRE(::unlink(path.c_str()) == 0);
    FileRef gone;
    CHECK(cache.open(src, "a.bin", gone) == -ENOENT);
    CHECK(gone == nullptr);
    CHECK(bytes_of(*old_ref) == content);
    old_ref.reset();
    cache.expire();
    CHECK(cache.stats().open_entries == 0);
    CHECK(cache.stats().mapped_bytes == 0);
}

TEST_CASE("within revalidate a changed file is still served from the cache") {
    Fixture fx;
    fx.write("a.txt", "one");
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(config());  // revalidate: an hour
    FileRef a;
    REQUIRE(cache.open(src, "a.txt", a) == 0);
    replace(fx.dir, "root/a.txt", "two, longer");
    FileRef b;
    REQUIRE(cache.open(src, "a.txt", b) == 0);
    CHECK(b.get() == a.get());
}

TEST_CASE("recheck_all() makes the next open stat the file even within a long revalidate") {
    Fixture fx;
    fx.write("a.txt", "one");
    fx.write("b.txt", "unchanged");
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(config());  // revalidate: an hour
    FileRef a;
    FileRef b;
    REQUIRE(cache.open(src, "a.txt", a) == 0);
    REQUIRE(cache.open(src, "b.txt", b) == 0);
    replace(fx.dir, "root/a.txt", "two, longer");
    cache.recheck_all();
    FileRef a2;
    REQUIRE(cache.open(src, "a.txt", a2) == 0);
    CHECK(a2.get() != a.get());
    CHECK(bytes_of(*a2) == "two, longer");
    FileRef b2;
    REQUIRE(cache.open(src, "b.txt", b2) == 0);
    CHECK(b2.get() == b.get());  // checked, unchanged: kept
    FileRef a3;
    REQUIRE(cache.open(src, "a.txt", a3) == 0);
    CHECK(a3.get() == a2.get());
}

TEST_CASE("expire() releases entries idle for longer than idle, never referenced ones") {
    Fixture fx;
    const std::size_t ws = page();
    const std::string big = random_bytes(4 * ws, 18);
    fx.write("a.txt", "kept by a response");
    fx.write("b.txt", "unreferenced");
    fx.write("big.bin", big);
    LocalFileOrigin src(fx.root, false);
    FileCacheConfig c = windowed_config();
    c.idle = std::chrono::milliseconds(1);
    MmapCache cache(c);
    FileRef a;
    REQUIRE(cache.open(src, "a.txt", a) == 0);
    {
        FileRef b;
        REQUIRE(cache.open(src, "b.txt", b) == 0);
    }
    WindowRef w;
    {
        FileRef f;
        REQUIRE(cache.open(src, "big.bin", f) == 0);
        w = cache.window(f, ws, true);
        REQUIRE(w != nullptr);
    }
    CHECK(cache.stats().open_entries == 3);

    // Only b.txt is idle and free: expiry ends with a.txt, big.bin and its window left.
    CHECK(wait_until([&] {
        cache.expire();
        return cache.stats().open_entries == 2;
    }));
    for (int i = 0; i < 3; ++i) cache.expire();
    const auto s = cache.stats();
    CHECK(s.open_entries == 2);
    CHECK(s.mapped_bytes == a->size() + ws);
    CHECK(s.evictions == 1);
    CHECK(bytes_of(*a) == "kept by a response");
    CHECK(bytes_of(*w) == std::string_view(big).substr(ws, ws));

    FileRef a2;
    REQUIRE(cache.open(src, "a.txt", a2) == 0);
    CHECK(a2.get() == a.get());

    a.reset();
    a2.reset();
    w.reset();
    CHECK(wait_until([&] {
        cache.expire();
        return cache.stats().open_entries == 0;
    }));
    CHECK(cache.stats().mapped_bytes == 0);
}

TEST_CASE("a directory gives -EISDIR and is not cached") {
    Fixture fx;
    std::filesystem::create_directories(fx.root + "/sub");
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(config());
    FileRef f;
    CHECK(cache.open(src, "sub", f) == -EISDIR);
    CHECK(cache.open(src, "", f) == -EISDIR);
    CHECK(f == nullptr);
    CHECK(cache.stats().open_entries == 0);
}

TEST_CASE("a missing file gives -ENOENT") {
    Fixture fx;
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(config());
    FileRef f;
    CHECK(cache.open(src, "nope.txt", f) == -ENOENT);
    CHECK(cache.open(src, "nope/deeper.txt", f) == -ENOENT);
    CHECK(f == nullptr);
    CHECK(cache.stats().open_entries == 0);
}

TEST_CASE("a FIFO gives -ENODEV without blocking") {
    Fixture fx;
    const std::string fifo = fx.root + "/pipe";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(config());
    std::atomic<bool> done{false};
    int rc = 0;
    std::thread t([&] {
        FileRef f;
        rc = cache.open(src, "pipe", f);
        done = true;
    });
    const bool returned = wait_until([&] { return done.load(); });
    if (!returned) {
        // Blocked in open(): a writer end lets it go, so the test fails instead of hanging.
        const int unblock = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK);
        t.join();
        if (unblock >= 0) ::close(unblock);
    } else {
        t.join();
    }
    CHECK(returned);
    CHECK(rc == -ENODEV);
    CHECK(cache.stats().open_entries == 0);
}

TEST_CASE("an empty file has size 0, no mapping, and is not windowed") {
    Fixture fx;
    fx.write("empty", "");
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(windowed_config());
    FileRef f;
    REQUIRE(cache.open(src, "empty", f) == 0);
    CHECK(f->size() == 0);
    CHECK(f->data() == nullptr);
    CHECK_FALSE(f->windowed());
    CHECK(cache.window(f, 0, true) == nullptr);
    CHECK(cache.stats().mapped_bytes == 0);
    CHECK(cache.stats().open_entries == 1);
}

TEST_CASE("stats count hits, misses, open entries and mapped bytes of files and windows") {
    Fixture fx;
    const std::size_t ws = page();
    fx.write("a.txt", "0123456789");
    fx.write("big.bin", random_bytes(4 * ws, 19));
    LocalFileOrigin src(fx.root, false);
    MmapCache cache(windowed_config());
    CHECK(cache.stats().hits == 0);
    CHECK(cache.stats().misses == 0);
    FileRef a;
    REQUIRE(cache.open(src, "a.txt", a) == 0);
    REQUIRE(cache.open(src, "a.txt", a) == 0);
    FileRef big;
    REQUIRE(cache.open(src, "big.bin", big) == 0);
    const WindowRef w = cache.window(big, 0, true);
    const WindowRef w2 = cache.window(big, 1, true);
    const auto s = cache.stats();
    CHECK(s.misses == 3);  // a.txt, big.bin, its first window
    CHECK(s.hits == 2);    // a.txt again, the window again
    CHECK(s.open_entries == 2);
    CHECK(s.mapped_bytes == 10 + ws);
    CHECK(s.evictions == 0);
}

TEST_CASE("concurrent opens of one path from four threads share one entry") {
    for (const int revalidate_ms : {1000 * 3600, 0}) {
        CAPTURE(revalidate_ms);
        Fixture fx;
        fx.write("a.bin", random_bytes(50000, 20));
        LocalFileOrigin src(fx.root, false);
        FileCacheConfig c = config();
        c.revalidate = std::chrono::milliseconds(revalidate_ms);
        MmapCache cache(c);
        constexpr int kThreads = 4;
        constexpr int kOpens = 200;
        std::atomic<int> ready{0};
        std::vector<std::vector<const CachedFile*>> seen(kThreads);
        std::vector<int> failures(kThreads, 0);
        std::vector<FileRef> keep(kThreads);
        std::vector<std::thread> threads;
        for (int i = 0; i < kThreads; ++i) {
            threads.emplace_back([&, i] {
                ready.fetch_add(1);
                while (ready.load() < kThreads) std::this_thread::yield();
                for (int k = 0; k < kOpens; ++k) {
                    FileRef f;
                    if (cache.open(src, "a.bin", f) != 0) {
                        ++failures[i];
                        continue;
                    }
                    seen[i].push_back(f.get());
                    keep[i] = std::move(f);
                }
            });
        }
        for (std::thread& t : threads) t.join();
        const CachedFile* first = keep[0].get();
        REQUIRE(first != nullptr);
        for (int i = 0; i < kThreads; ++i) {
            CAPTURE(i);
            CHECK(failures[i] == 0);
            for (const CachedFile* p : seen[i]) CHECK(p == first);
        }
        CHECK(cache.stats().open_entries == 1);
        CHECK(cache.stats().hits + cache.stats().misses == kThreads * kOpens);
    }
}

}  // TEST_SUITE("files/mmap_cache")
