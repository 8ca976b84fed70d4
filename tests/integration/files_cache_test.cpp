// The mmap file cache behind send_file and serve_static, over real sockets: its counters,
// revalidation of changed files, idle expiry, eviction under a mapped-bytes budget and an
// entry limit, cache keys of different roots, files truncated or replaced while they are
// sent, clients and servers that go away mid-file, and many clients on two loop threads.
#include "file_server.hpp"
#include "raw_client.hpp"
#include "temp_dir.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using vstream::Context;
using vstream::FileCacheStats;
using vstream::ServerConfig;
using vstream::test::byte_exact;
using vstream::test::get;
using vstream::test::http_request;
using vstream::test::random_bytes;
using vstream::test::RawClient;
using vstream::test::Response;
using vstream::test::TempDir;
using vstream::test::test_config;
using vstream::test::TestServer;
using vstream::test::wait_until;

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * 1024;

// Sends the file named by the path below `root`; /ping answers pong.
vstream::Handler file_handler(std::string root) {
    return [root = std::move(root)](Context& ctx) {
        if (ctx.path() == "/ping") {
            vstream::test::hello_handler(ctx);
        } else {
            ctx.send_file(root + std::string(ctx.path()));
        }
    };
}

// A directory of files served by send_file.
struct Site {
    TempDir dir;
    std::optional<TestServer> server;

    explicit Site(ServerConfig config = test_config()) {
        server.emplace(file_handler(dir.path().string()), std::move(config));
    }
    std::uint16_t port() const { return server->port(); }
    FileCacheStats stats() { return server->server().file_cache_stats(); }
};

// Replaces `path` with `bytes` the way deployments do: a new file renamed over the old one
// (a new inode; the old one lives on while mapped).
void replace_file(const TempDir& dir, const std::string& name, const std::string& bytes) {
    const std::string staged = dir.write(name + ".new", bytes);
    fs::rename(staged, dir.at(name));
}

// GET `target` on `c` (keep-alive) and read the response.
std::optional<Response> get_on(RawClient& c, const std::string& target,
                               const std::string& headers = {}) {
    if (!c.send(http_request("GET", target, headers))) return std::nullopt;
    return c.read_response();
}

// Reads 4 KiB at a time until the head and at least `body_bytes` of body have arrived (or
// `deadline`); returns what was read. Lets a test hold a response half-read.
std::string read_head_and_some(RawClient& c, std::size_t body_bytes,
                               std::chrono::steady_clock::time_point deadline) {
    std::string got;
    for (;;) {
        const std::size_t head_end = got.find("\r\n\r\n");
        if (head_end != std::string::npos && got.size() - head_end - 4 >= body_bytes) break;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        if (!c.receive(got, left, 4096)) break;
    }
    return got;
}

// The Content-Length of a raw head, or -1.
long long content_length_of(const std::string& raw) {
    const std::string name = "Content-Length: ";
    const std::size_t at = raw.find(name);
    const std::size_t end = raw.find("\r\n\r\n");
    if (at == std::string::npos || at > end) return -1;
    return std::stoll(raw.substr(at + name.size()));
}

// A file of `size` bytes truncated to 0 while a slow client is in the middle of it: the
// client gets fewer bytes than announced and a closed connection, the server goes on, and
// the next request for the file sees the truncated file. revalidate is an hour, so only the
// recheck that a write fault from the mapping triggers can notice it.
void check_truncation_mid_transfer(const ServerConfig& base, std::size_t size) {
    ServerConfig config = base;
    // Only a bound for a server stuck on the dead response (the default is 60 s).
    config.timeouts.write = 5s;
    config.file_cache.revalidate = 1h;
    Site site(config);
    const std::string bytes = random_bytes(size, 21);
    site.dir.write("big.mp4", bytes);
    const std::string path = site.dir.at("big.mp4");

    RawClient c(site.port(), 10s);
    // Small, so that the transfer stalls early, but above a segment (64 KiB on loopback):
    // with less, window updates wait for zero-window probes and the drain below crawls.
    c.set_receive_buffer(static_cast<int>(256 * kKiB));
    REQUIRE(c.send(http_request("GET", "/big.mp4")));
    const std::string first =
        read_head_and_some(c, 64 * kKiB, std::chrono::steady_clock::now() + 10s);
    const std::size_t head_end = first.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    REQUIRE(first.rfind("HTTP/1.1 200", 0) == 0);
    REQUIRE(content_length_of(first) == static_cast<long long>(size));
    const std::string body_start = first.substr(head_end + 4);
    REQUIRE(body_start.size() >= 64 * kKiB);
    CHECK(byte_exact(body_start, std::string_view(bytes).substr(0, body_start.size())));

    fs::resize_file(path, 0);

    // Read at full speed from now on: the socket buffers drain, the server writes from the
    // truncated mapping again, and that write faults.
    const std::string rest = c.read_until_close();
    CHECK(c.wait_closed());
    const std::size_t received = body_start.size() + rest.size();
    CAPTURE(received);
    CHECK(received < size);
    // What did arrive is the file's prefix, never other bytes.
    const std::string body = body_start + rest;
    CHECK(byte_exact(body, std::string_view(bytes).substr(0, std::min(body.size(), size))));

    // The server goes on, and does not serve the stale size or bytes.
    const auto ping = get(site.port(), "/ping");
    REQUIRE(ping.has_value());
    CHECK(ping->status == 200);
    const auto again = get(site.port(), "/big.mp4");
    REQUIRE(again.has_value());
    CHECK(again->status == 200);
    CHECK(again->header("content-length") == "0");
    CHECK(again->body.empty());
}

// A cached file truncated in place between two requests, with revalidate an hour: the next
// request may still be answered from the stale entry, and is then cut short before any byte
// of the old content; that failure makes the cache stat its files again, so a retry gets the
// file as it is now.
void check_truncation_between_requests(const ServerConfig& base) {
    ServerConfig config = base;
    config.file_cache.revalidate = 1h;
    Site site(config);
    const std::string bytes = random_bytes(256 * kKiB, 41);
    site.dir.write("f.bin", bytes);
    const auto r1 = get(site.port(), "/f.bin");
    REQUIRE(r1.has_value());
    CHECK(byte_exact(r1->body, bytes));

    fs::resize_file(site.dir.at("f.bin"), 0);
    const std::string request = http_request("GET", "/f.bin", "Connection: close\r\n");
    RawClient first(site.port());
    REQUIRE(first.send(request));
    const std::string raw = first.read_until_close();
    CAPTURE(raw.substr(0, raw.find("\r\n\r\n")));
    CHECK(raw.find(bytes.substr(0, 32)) == std::string::npos);
    if (raw.find("\r\nContent-Length: 0\r\n") == std::string::npos) {
        // Cut short: at most a head, and none of the body it announced.
        const std::size_t head_end = raw.find("\r\n\r\n");
        CHECK((head_end == std::string::npos || raw.size() == head_end + 4));
    }
    const auto retry = get(site.port(), "/f.bin");
    REQUIRE(retry.has_value());
    CHECK(retry->status == 200);
    CHECK(retry->header("content-length") == "0");
    CHECK(retry->body.empty());
}

}  // namespace

TEST_SUITE("integration/files_cache") {

TEST_CASE("the first request for a file misses the cache and later ones hit it") {
    Site site;
    const std::string a = random_bytes(1000, 1);
    const std::string b = random_bytes(2000, 2);
    site.dir.write("a.bin", a);
    site.dir.write("b.bin", b);

    FileCacheStats s = site.stats();
    CHECK(s.hits == 0);
    CHECK(s.misses == 0);
    CHECK(s.open_entries == 0);
    CHECK(s.mapped_bytes == 0);
    CHECK(s.evictions == 0);

    RawClient c(site.port());
    auto r = get_on(c, "/a.bin");
    REQUIRE(r.has_value());
    CHECK(byte_exact(r->body, a));
    s = site.stats();
    CHECK(s.misses == 1);
    CHECK(s.hits == 0);
    CHECK(s.open_entries == 1);
    CHECK(s.mapped_bytes == a.size());

    r = get_on(c, "/a.bin");
    REQUIRE(r.has_value());
    CHECK(byte_exact(r->body, a));
    s = site.stats();
    CHECK(s.misses == 1);
    CHECK(s.hits == 1);
    CHECK(s.open_entries == 1);

    r = get_on(c, "/b.bin", "Range: bytes=0-9\r\n");
    REQUIRE(r.has_value());
    CHECK(r->status == 206);
    CHECK(byte_exact(r->body, std::string_view(b).substr(0, 10)));
    s = site.stats();
    CHECK(s.misses == 2);
    CHECK(s.hits == 1);
    CHECK(s.open_entries == 2);
    CHECK(s.mapped_bytes == a.size() + b.size());

    REQUIRE(c.send(http_request("HEAD", "/a.bin")));
    r = c.read_response(true);
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(site.stats().hits == 2);

    // A missing file opens nothing and caches nothing.
    r = get_on(c, "/missing.bin");
    REQUIRE(r.has_value());
    CHECK(r->status == 404);
    s = site.stats();
    CHECK(s.misses == 2);
    CHECK(s.open_entries == 2);
    CHECK(s.evictions == 0);
}

TEST_CASE("windows of a large file are counted as misses once and hits after") {
    ServerConfig config = test_config();
    config.file_cache.window_threshold = 64 * kKiB;
    config.file_cache.window_size = 64 * kKiB;
    Site site(config);
    const std::string big = random_bytes(256 * kKiB, 3);  // four windows
    site.dir.write("big.bin", big);

    RawClient c(site.port());
    auto r = get_on(c, "/big.bin");
    REQUIRE(r.has_value());
    CHECK(byte_exact(r->body, big));
    FileCacheStats s = site.stats();
    CHECK(s.misses == 1 + 4);  // the file, then each window
    CHECK(s.open_entries == 1);
    CHECK(s.mapped_bytes == big.size());

    // One range inside window 1: the file and that window are hits.
    r = get_on(c, "/big.bin", "Range: bytes=70000-70099\r\n");
    REQUIRE(r.has_value());
    CHECK(r->status == 206);
    CHECK(byte_exact(r->body, std::string_view(big).substr(70000, 100)));
    const FileCacheStats after = site.stats();
    CHECK(after.misses == s.misses);
    CHECK(after.hits == s.hits + 2);
    CHECK(after.mapped_bytes == big.size());
}

TEST_CASE("with revalidate 0 a rewritten file is served at once with a new ETag") {
    ServerConfig config = test_config();
    config.file_cache.revalidate = 0ms;
    Site site(config);
    const std::string v1 = random_bytes(1000, 4);
    const std::string v2 = random_bytes(1500, 5);
    const std::string v3 = random_bytes(700, 6);
    site.dir.write("f.bin", v1);

    const auto r1 = get(site.port(), "/f.bin");
    REQUIRE(r1.has_value());
    CHECK(byte_exact(r1->body, v1));

    site.dir.write("f.bin", v2);  // rewritten in place: same inode, new size
    const auto r2 = get(site.port(), "/f.bin");
    REQUIRE(r2.has_value());
    CHECK(r2->header("content-length") == "1500");
    CHECK(byte_exact(r2->body, v2));
    CHECK(r2->header("etag") != r1->header("etag"));

    replace_file(site.dir, "f.bin", v3);  // replaced: a new inode
    const auto r3 = get(site.port(), "/f.bin");
    REQUIRE(r3.has_value());
    CHECK(byte_exact(r3->body, v3));
    CHECK(r3->header("etag") != r2->header("etag"));
    // The old ETag no longer validates.
    const auto r4 = get(site.port(), "/f.bin", "If-None-Match: " + r2->header("etag") + "\r\n");
    REQUIRE(r4.has_value());
    CHECK(r4->status == 200);
    CHECK(byte_exact(r4->body, v3));

    fs::remove(site.dir.at("f.bin"));
    const auto gone = get(site.port(), "/f.bin");
    REQUIRE(gone.has_value());
    CHECK(gone->status == 404);
}

TEST_CASE("within a long revalidate the cached version is still served after a change") {
    // Documented behaviour, like nginx's open_file_cache_valid: a cached file is trusted for
    // FileCacheConfig::revalidate before stat() looks again.
    ServerConfig config = test_config();
    config.file_cache.revalidate = 1h;
    Site site(config);
    const std::string v1 = random_bytes(1000, 7);
    site.dir.write("f.bin", v1);
    const auto r1 = get(site.port(), "/f.bin");
    REQUIRE(r1.has_value());
    CHECK(byte_exact(r1->body, v1));

    replace_file(site.dir, "f.bin", random_bytes(1500, 8));
    const auto r2 = get(site.port(), "/f.bin");
    REQUIRE(r2.has_value());
    CHECK(r2->status == 200);
    CHECK(byte_exact(r2->body, v1));
    CHECK(r2->header("etag") == r1->header("etag"));

    fs::remove(site.dir.at("f.bin"));
    const auto r3 = get(site.port(), "/f.bin");
    REQUIRE(r3.has_value());
    CHECK(r3->status == 200);
    CHECK(byte_exact(r3->body, v1));
}

TEST_CASE("a deleted and recreated file is seen once revalidate has passed") {
    ServerConfig config = test_config();
    config.file_cache.revalidate = 50ms;
    Site site(config);
    const std::string v1 = random_bytes(1000, 9);
    const std::string v2 = random_bytes(1200, 10);
    site.dir.write("f.bin", v1);
    const auto r1 = get(site.port(), "/f.bin");
    REQUIRE(r1.has_value());
    CHECK(byte_exact(r1->body, v1));

    fs::remove(site.dir.at("f.bin"));
    site.dir.write("f.bin", v2);
    std::optional<Response> last;
    const bool seen = wait_until([&] {
        last = get(site.port(), "/f.bin");
        return last && last->body == v2;
    });
    CHECK(seen);
    REQUIRE(last.has_value());
    CHECK(last->status == 200);
    CHECK(byte_exact(last->body, v2));
    CHECK(last->header("etag") != r1->header("etag"));
}

TEST_CASE("unused mappings are released once FileCacheConfig::idle has passed") {
    ServerConfig config = test_config();
    config.file_cache.idle = 10ms;
    config.file_cache.window_threshold = 64 * kKiB;
    config.file_cache.window_size = 64 * kKiB;
    Site site(config);
    const std::string small = random_bytes(10 * kKiB, 51);
    const std::string big = random_bytes(200 * kKiB, 52);  // windowed
    site.dir.write("small.bin", small);
    site.dir.write("big.bin", big);
    RawClient c(site.port());
    const auto a = get_on(c, "/small.bin");
    const auto b = get_on(c, "/big.bin");
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(byte_exact(a->body, small));
    CHECK(byte_exact(b->body, big));
    // The loop threads expire idle entries now and then: wait for it, with a deadline.
    CHECK(wait_until([&] {
        const FileCacheStats s = site.stats();
        return s.open_entries == 0 && s.mapped_bytes == 0;
    }));
    CHECK(site.stats().evictions >= 2 + 4);  // two files and four windows
    // And they are mapped again on demand.
    const auto again = get_on(c, "/big.bin", "Range: bytes=150000-150099\r\n");
    REQUIRE(again.has_value());
    CHECK(byte_exact(again->body, std::string_view(big).substr(150000, 100)));
}

TEST_CASE("two static roots with the same file names each serve their own files") {
    TempDir a;
    TempDir b;
    const std::string in_a = random_bytes(3000, 61);
    const std::string in_b = random_bytes(3000, 62);
    a.write("same.bin", in_a);
    b.write("same.bin", in_b);
    vstream::test::RoutedServer server([&](vstream::Server& s) {
        s.serve_static("/a", a.path().string());
        s.serve_static("/b", b.path().string());
    });
    RawClient c(server.port());
    for (int round = 0; round < 2; ++round) {
        CAPTURE(round);
        const auto ra = get_on(c, "/a/same.bin");
        const auto rb = get_on(c, "/b/same.bin");
        REQUIRE(ra.has_value());
        REQUIRE(rb.has_value());
        CHECK(byte_exact(ra->body, in_a));
        CHECK(byte_exact(rb->body, in_b));
        CHECK(ra->header("etag") != rb->header("etag"));
    }
    CHECK(server.server().file_cache_stats().open_entries == 2);
}

TEST_CASE("one root mounted with and without symlinks outside it shares no cached decision") {
    TempDir base;
    const std::string secret = "SECRET-" + random_bytes(100, 63);
    base.write("secret", secret);
    base.write("root/in.txt", "inside");
    fs::create_symlink(base.at("secret"), base.at("root/out"));
    vstream::StaticOptions loose;
    loose.symlinks_outside_root = true;
    vstream::test::RoutedServer server([&](vstream::Server& s) {
        s.serve_static("/loose", base.at("root"), loose);
        s.serve_static("/strict", base.at("root"));
    });
    RawClient c(server.port());
    // The allowed mount first, so a shared entry would leak through the strict one.
    for (int round = 0; round < 2; ++round) {
        CAPTURE(round);
        const auto l = get_on(c, "/loose/out");
        REQUIRE(l.has_value());
        CHECK(l->status == 200);
        CHECK(l->body == secret);
        const auto s = get_on(c, "/strict/out");
        REQUIRE(s.has_value());
        CHECK(s->status == 404);
        CHECK(s->body.find("SECRET-") == std::string::npos);
    }
}

TEST_CASE("a client that disconnects in the middle of a file releases what it held") {
    ServerConfig config = test_config();
    config.file_cache.idle = 10ms;  // unused entries go at the next expiry pass
    Site site(config);
    const std::string big = random_bytes(32 * kMiB, 71);  // windowed
    site.dir.write("big.mp4", big);
    {
        RawClient c(site.port());
        REQUIRE(c.send(http_request("GET", "/big.mp4")));
        const std::string some =
            read_head_and_some(c, 256 * kKiB, std::chrono::steady_clock::now() + 10s);
        REQUIRE(some.rfind("HTTP/1.1 200", 0) == 0);
    }  // closed with most of the body unread
    // Expiry drops only entries no response holds: once the connection let go, all go.
    CHECK(wait_until([&] {
        const FileCacheStats s = site.stats();
        return s.open_entries == 0 && s.mapped_bytes == 0;
    }));
    CHECK(wait_until([&] { return site.server->server().stats().connections_open == 0; }));
}

TEST_CASE("stopping the server during a paced windowed response cuts it and releases it") {
    ServerConfig config = test_config();
    config.timeouts.shutdown_grace = 100ms;
    config.file_cache.window_threshold = 256 * kKiB;
    config.file_cache.window_size = 64 * kKiB;
    TempDir dir;
    const std::string big = random_bytes(4 * kMiB, 72);
    dir.write("big.mp4", big);
    std::optional<vstream::test::RoutedServer> server;
    server.emplace(
        [&](vstream::Server& s) {
            vstream::StaticOptions o;
            o.limit_rate = 256 * kKiB;  // 16 s for the file: it cannot end before the stop
            s.serve_static("/media", dir.path().string(), o);
        },
        config);
    RawClient c(server->port(), 10s);
    REQUIRE(c.send(http_request("GET", "/media/big.mp4") +
                   http_request("GET", "/media/big.mp4", "Range: bytes=0-9,3000000-\r\n")));
    const std::string some =
        read_head_and_some(c, 32 * kKiB, std::chrono::steady_clock::now() + 10s);
    REQUIRE(some.rfind("HTTP/1.1 200", 0) == 0);
    server->server().stop();  // within shutdown_grace the response cannot end: it is cut
    const std::string rest = c.read_until_close();
    CHECK(c.wait_closed());
    const std::size_t head_end = some.find("\r\n\r\n");
    REQUIRE(head_end != std::string::npos);
    const std::string body = some.substr(head_end + 4) + rest;
    CHECK(body.size() < big.size());
    CHECK(byte_exact(body, std::string_view(big).substr(0, std::min(body.size(), big.size()))));
    server.reset();
}

TEST_CASE("a mapped-bytes budget smaller than the files evicts and stays within the budget") {
    constexpr std::size_t kFile = 64 * kKiB;
    constexpr std::size_t kFiles = 6;
    ServerConfig config = test_config();
    config.file_cache.max_mapped_bytes = 3 * kFile + 1000;  // room for three
    Site site(config);
    std::vector<std::string> contents;
    for (std::size_t i = 0; i < kFiles; ++i) {
        contents.push_back(random_bytes(kFile, 100 + i));
        site.dir.write("f" + std::to_string(i) + ".bin", contents.back());
    }
    RawClient c(site.port());
    for (int round = 0; round < 2; ++round) {
        for (std::size_t i = 0; i < kFiles; ++i) {
            CAPTURE(round);
            CAPTURE(i);
            const auto r = get_on(c, "/f" + std::to_string(i) + ".bin");
            REQUIRE(r.has_value());
            CHECK(r->status == 200);
            CHECK(byte_exact(r->body, contents[i]));
            const auto ranged =
                get_on(c, "/f" + std::to_string(i) + ".bin", "Range: bytes=10-19,60000-60009\r\n");
            REQUIRE(ranged.has_value());
            CHECK(ranged->status == 206);
            CHECK(ranged->body.find(contents[i].substr(60000, 10)) != std::string::npos);
            CHECK(site.stats().mapped_bytes <= config.file_cache.max_mapped_bytes);
        }
    }
    const FileCacheStats s = site.stats();
    CHECK(s.evictions >= kFiles);
    CHECK(s.mapped_bytes <= config.file_cache.max_mapped_bytes);
}

TEST_CASE("a file larger than the whole mapped-bytes budget is read, not mapped") {
    ServerConfig config = test_config();
    config.file_cache.max_mapped_bytes = 10000;
    Site site(config);
    const std::string a = random_bytes(200 * kKiB, 11);
    site.dir.write("a.bin", a);
    RawClient c(site.port());
    const auto r = get_on(c, "/a.bin");
    REQUIRE(r.has_value());
    CHECK(byte_exact(r->body, a));
    const auto ranged = get_on(c, "/a.bin", "Range: bytes=100000-\r\n");
    REQUIRE(ranged.has_value());
    CHECK(ranged->status == 206);
    CHECK(byte_exact(ranged->body, std::string_view(a).substr(100000)));
    CHECK(site.stats().mapped_bytes == 0);
}

TEST_CASE("max_entries bounds the cached files when none is in use") {
    ServerConfig config = test_config();
    config.file_cache.max_entries = 2;
    Site site(config);
    std::vector<std::string> contents;
    for (int i = 0; i < 5; ++i) {
        contents.push_back(random_bytes(5000, 200 + static_cast<std::uint64_t>(i)));
        site.dir.write("f" + std::to_string(i) + ".bin", contents.back());
    }
    // One keep-alive connection: each request is read only once the previous response has
    // been written, so no earlier file is still in use when the next one is opened.
    RawClient c(site.port());
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 5; ++i) {
            CAPTURE(round);
            CAPTURE(i);
            const auto r = get_on(c, "/f" + std::to_string(i) + ".bin");
            REQUIRE(r.has_value());
            CHECK(byte_exact(r->body, contents[static_cast<std::size_t>(i)]));
            CHECK(site.stats().open_entries <= 2);
        }
    }
    CHECK(site.stats().evictions >= 8);
}

TEST_CASE("a windowed file truncated mid-response cuts it short and is not served stale") {
    check_truncation_mid_transfer(test_config(), 64 * kMiB);
}

TEST_CASE("a wholly mapped file truncated mid-response cuts it short and is not served stale") {
    ServerConfig config = test_config();
    config.file_cache.window_threshold = 32 * kMiB;
    check_truncation_mid_transfer(config, 24 * kMiB);
}

TEST_CASE("a mapped file truncated in place between requests is not served stale for long") {
    check_truncation_between_requests(test_config());
}

TEST_CASE(
    "a file read without mappings and truncated between requests is not served stale "
    "for long") {
    ServerConfig config = test_config();
    config.file_cache.max_mapped_bytes = 10000;  // no room for any mapping: pread only
    check_truncation_between_requests(config);
}

TEST_CASE("a file replaced while clients fetch it is always served as one whole version") {
    ServerConfig config = test_config(2);
    config.file_cache.revalidate = 0ms;
    config.file_cache.window_threshold = 256 * kKiB;  // the larger versions are windowed
    config.file_cache.window_size = 64 * kKiB;
    Site site(config);
    std::vector<std::string> versions;
    for (std::size_t i = 0; i < 4; ++i) {
        versions.push_back(random_bytes((100 + 150 * i) * kKiB, 80 + i));  // each its own size
    }
    site.dir.write("f.bin", versions[0]);

    std::mutex mutex;
    std::vector<std::string> failures;
    std::map<std::string, std::size_t> version_of_etag;
    std::atomic<bool> done{false};
    std::vector<std::thread> clients;
    for (int i = 0; i < 8; ++i) {
        clients.emplace_back([&, i] {
            try {
                RawClient c(site.port());
                while (!done.load()) {
                    const auto r = get_on(c, "/f.bin");
                    std::lock_guard lock(mutex);
                    if (!r || r->status != 200) {
                        failures.push_back("client " + std::to_string(i) + ": no 200");
                        return;
                    }
                    std::size_t which = versions.size();
                    for (std::size_t v = 0; v < versions.size(); ++v) {
                        if (r->body == versions[v]) which = v;
                    }
                    if (which == versions.size()) {
                        failures.push_back("client " + std::to_string(i) + ": a body of " +
                                           std::to_string(r->body.size()) +
                                           " bytes that is no version");
                        return;
                    }
                    const auto [it, added] = version_of_etag.emplace(r->header("etag"), which);
                    if (!added && it->second != which) {
                        failures.push_back("client " + std::to_string(i) +
                                           ": one ETag for two versions");
                    }
                }
            } catch (const std::exception& e) {
                std::lock_guard lock(mutex);
                failures.push_back(e.what());
            }
        });
    }
    // Each replacement waits until some client has seen the version before it.
    for (std::size_t v = 1; v < versions.size(); ++v) {
        const auto seen = [&] {
            std::lock_guard lock(mutex);
            for (const auto& [etag, which] : version_of_etag) {
                if (which == v - 1) return true;
            }
            return !failures.empty();
        };
        CHECK(wait_until(seen));
        replace_file(site.dir, "f.bin", versions[v]);
    }
    CHECK(wait_until([&] {
        std::lock_guard lock(mutex);
        for (const auto& [etag, which] : version_of_etag) {
            if (which == versions.size() - 1) return true;
        }
        return !failures.empty();
    }));
    done = true;
    for (std::thread& t : clients) t.join();
    for (const std::string& f : failures) MESSAGE(f);
    CHECK(failures.empty());
    CHECK(version_of_etag.size() == versions.size());
}

TEST_CASE("32 concurrent clients on two threads get the same file and ranges byte-exact") {
    ServerConfig config = test_config(2);
    config.file_cache.window_threshold = 1 * kMiB;  // the big file is windowed
    config.file_cache.window_size = 256 * kKiB;
    Site site(config);
    const std::string big = random_bytes(3 * kMiB, 31);
    const std::string small = random_bytes(100 * kKiB, 32);
    site.dir.write("big.mp4", big);
    site.dir.write("small.mp4", small);

    std::mutex mutex;
    std::vector<std::string> failures;
    const auto fail = [&](int client, const std::string& what) {
        std::lock_guard lock(mutex);
        failures.push_back("client " + std::to_string(client) + ": " + what);
    };
    std::vector<std::thread> clients;
    for (int i = 0; i < 32; ++i) {
        clients.emplace_back([&, i] {
            try {
                RawClient c(site.port());
                const auto whole = get_on(c, "/big.mp4");
                if (!whole || whole->status != 200 || whole->body != big) fail(i, "whole big");
                const std::size_t first = static_cast<std::size_t>(i) * 60000;
                const std::string range = "Range: bytes=" + std::to_string(first) + "-" +
                                          std::to_string(first + 300000) + "\r\n";
                const auto part = get_on(c, "/big.mp4", range);
                if (!part || part->status != 206 || part->body != big.substr(first, 300001)) {
                    fail(i, "range of big");
                }
                const auto multi =
                    get_on(c, "/big.mp4", "Range: bytes=0-99,262100-262199,-100\r\n");
                if (!multi || multi->status != 206 ||
                    multi->body.find(big.substr(262100, 100)) == std::string::npos ||
                    multi->body.find(big.substr(big.size() - 100)) == std::string::npos) {
                    fail(i, "multipart of big");
                }
                const auto s = get_on(c, "/small.mp4");
                if (!s || s->status != 200 || s->body != small) fail(i, "whole small");
            } catch (const std::exception& e) {
                fail(i, e.what());
            }
        });
    }
    for (std::thread& t : clients) t.join();
    CAPTURE(failures.size());
    for (const std::string& f : failures) MESSAGE(f);
    CHECK(failures.empty());
    CHECK(site.stats().mapped_bytes <= config.file_cache.max_mapped_bytes);
}

}  // TEST_SUITE("integration/files_cache")
