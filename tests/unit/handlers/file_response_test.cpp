// Tests respond_with_file and respond_open_error (src/handlers/file_response.cpp): status, header
// lines and body of file answers, on an Exchange filled in as the parser would.
#include "handlers/file_response.hpp"

#include <vstream/headers.hpp>

#include "body_drain.hpp"
#include "files/local_file_origin.hpp"
#include "request/exchange.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using vstream::FileCacheConfig;
using vstream::FileOptions;
using vstream::HeaderField;
using vstream::Limits;
using vstream::ServerConfig;
using vstream::files::FileRef;
using vstream::files::LocalFileOrigin;
using vstream::files::MmapCache;
using vstream::handlers::respond_open_error;
using vstream::handlers::respond_with_file;
using vstream::request::Exchange;
using vstream::test::BodyDrain;
using vstream::test::random_bytes;
using vstream::test::TempDir;

namespace {

constexpr std::string_view kType = "video/mp4";

// The values of the `name` lines of a header block ("Name: value\r\n" each).
std::vector<std::string> header_values(const std::string& block, std::string_view name) {
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < block.size()) {
        std::size_t end = block.find("\r\n", at);
        if (end == std::string::npos) end = block.size();
        const std::string_view line(block.data() + at, end - at);
        const std::size_t colon = line.find(':');
        if (colon != std::string_view::npos && vstream::iequals(line.substr(0, colon), name)) {
            std::string_view value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
            out.emplace_back(value);
        }
        at = end + 2;
    }
    return out;
}

// The single `name` line's value; nullopt when absent (and a failure when repeated).
std::optional<std::string> header(const Exchange& x, std::string_view name) {
    const std::vector<std::string> v = header_values(x.header_block, name);
    CHECK(v.size() <= 1);
    if (v.empty()) return std::nullopt;
    return v.front();
}

// The environment of a server with this cache and Range limit.
std::shared_ptr<const vstream::request::Env> env_with(std::shared_ptr<MmapCache> cache,
                                                      std::size_t max_ranges) {
    ServerConfig config;
    config.limits.max_ranges = max_ranges;
    return vstream::request::Env::make(config, std::move(cache));
}

// A file in a temporary root, its cache entry, and an exchange to answer with it.
struct Fixture {
    TempDir dir;
    std::string content;
    LocalFileOrigin origin;
    std::shared_ptr<MmapCache> cache;
    FileRef file;
    Exchange x;
    std::deque<std::string> storage;  // header names and values the fields point into

    explicit Fixture(std::string bytes = random_bytes(1000, 1),
                     const FileCacheConfig& config = FileCacheConfig{},
                     std::size_t max_ranges = Limits{}.max_ranges)
        : content(std::move(bytes)),
          origin((dir.write("root/f.mp4", content), dir.at("root")), false),
          cache(std::make_shared<MmapCache>(config)),
          x(nullptr, env_with(cache, max_ranges), "127.0.0.1", 4242) {
        REQUIRE(cache->open(origin, "f.mp4", file) == 0);
        x.request.method = "GET";
    }
    // Adds a request header field.
    Fixture& with(std::string name, std::string value) {
        storage.push_back(std::move(name));
        const std::string& n = storage.back();
        storage.push_back(std::move(value));
        const std::string& v = storage.back();
        x.request.fields.push_back(HeaderField{n, v});
        return *this;
    }
    void respond(const FileOptions& o = {}) { respond_with_file(x, file, kType, o); }
    // The body the connection would send: the Body, or what the response body produces.
    std::string body() {
        if (!x.response_body) return std::string(x.body.view());
        BodyDrain drain;
        std::uint64_t now = 0;
        const auto p = drain.run(*x.response_body, now);
        CHECK(p.kind == vstream::request::Pull::Kind::done);
        CHECK(drain.written().size() == x.response_body->length());
        return drain.written();
    }
};

}  // namespace

TEST_SUITE("handlers/file_response") {

TEST_CASE("a whole file answers 200 with validators, Accept-Ranges, its type and its bytes") {
    Fixture f;
    f.respond();
    CHECK(f.x.status == 200);
    CHECK(header(f.x, "ETag") == std::string(f.file->etag()));
    CHECK(header(f.x, "Last-Modified") == std::string(f.file->last_modified()));
    CHECK(header(f.x, "Accept-Ranges") == "bytes");
    CHECK(header(f.x, "Content-Type") == std::string(kType));
    CHECK_FALSE(header(f.x, "Content-Range"));
    CHECK_FALSE(header(f.x, "Cache-Control"));
    CHECK(f.x.response_body == nullptr);  // a whole mapping goes out by reference, in one piece
    CHECK_FALSE(f.x.body.owned());
    CHECK(f.body() == f.content);
    CHECK_FALSE(f.x.answered);
}

TEST_CASE("cache_control is sent as Cache-Control") {
    Fixture f;
    FileOptions o;
    o.cache_control = "public, max-age=3600";
    f.respond(o);
    CHECK(header(f.x, "Cache-Control") == "public, max-age=3600");
}

TEST_CASE("an empty content type sends no Content-Type") {
    Fixture f;
    respond_with_file(f.x, f.file, "", FileOptions{});
    CHECK(f.x.status == 200);
    CHECK_FALSE(header(f.x, "Content-Type"));
}

TEST_CASE("a single satisfiable range answers 206 with Content-Range and the range's bytes") {
    struct Row {
        const char* range;
        const char* content_range;
        std::size_t first;
        std::size_t length;
    };
    const Row rows[] = {
        {"bytes=0-9", "bytes 0-9/1000", 0, 10},
        {"bytes=10-19", "bytes 10-19/1000", 10, 10},
        {"bytes=990-", "bytes 990-999/1000", 990, 10},
        {"bytes=-5", "bytes 995-999/1000", 995, 5},
        {"bytes=500-5000", "bytes 500-999/1000", 500, 500},
        {"bytes=-2000", "bytes 0-999/1000", 0, 1000},
        {"bytes=0-0", "bytes 0-0/1000", 0, 1},
        {"bytes=0-9,5-14", "bytes 0-14/1000", 0, 15},  // overlapping: merged into one
    };
    for (const Row& r : rows) {
        const std::string range = r.range;
        CAPTURE(range);
        Fixture f;
        f.with("Range", range).respond();
        CHECK(f.x.status == 206);
        CHECK(header(f.x, "Content-Range") == std::string(r.content_range));
        CHECK(header(f.x, "Content-Type") == std::string(kType));
        CHECK(header(f.x, "ETag") == std::string(f.file->etag()));
        CHECK(f.body() == f.content.substr(r.first, r.length));
    }
}

TEST_CASE("several ranges answer 206 multipart/byteranges through a response body") {
    Fixture f;
    f.with("Range", "bytes=0-9, 100-149, -5").respond();
    CHECK(f.x.status == 206);
    REQUIRE(f.x.response_body != nullptr);
    CHECK(f.x.body.empty());
    CHECK_FALSE(header(f.x, "Content-Range"));
    const std::optional<std::string> type = header(f.x, "Content-Type");
    REQUIRE(type);
    const std::string prefix = "multipart/byteranges; boundary=";
    REQUIRE(type->rfind(prefix, 0) == 0);
    const std::string b = type->substr(prefix.size());
    CHECK_FALSE(b.empty());
    const std::string& c = f.content;
    const std::string want =
        "--" + b + "\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-9/1000\r\n\r\n" +
        c.substr(0, 10) + "\r\n--" + b +
        "\r\nContent-Type: video/mp4\r\nContent-Range: bytes 100-149/1000\r\n\r\n" +
        c.substr(100, 50) + "\r\n--" + b +
        "\r\nContent-Type: video/mp4\r\nContent-Range: bytes 995-999/1000\r\n\r\n" +
        c.substr(995, 5) + "\r\n--" + b + "--\r\n";
    CHECK(f.x.response_body->length() == want.size());
    CHECK(f.body() == want);
}

TEST_CASE("an unsatisfiable range answers 416 with bytes */N") {
    for (const std::string range : {"bytes=1000-", "bytes=5000-6000", "bytes=-0"}) {
        CAPTURE(range);
        Fixture f;
        f.with("Range", range).respond();
        CHECK(f.x.status == 416);
        CHECK(header(f.x, "Content-Range") == "bytes */1000");
        CHECK(header(f.x, "ETag") == std::string(f.file->etag()));
        CHECK(f.x.response_body == nullptr);
        CHECK(f.body() != f.content);
    }
}

TEST_CASE("a Range that is invalid, of another unit, or too many ranges answers 200 whole") {
    for (const std::string range : {"bytes=9-0", "items=0-9", "bytes", "bytes=0-,0-,0-"}) {
        CAPTURE(range);
        Fixture f;
        f.with("Range", range).respond();
        CHECK(f.x.status == 200);
        CHECK_FALSE(header(f.x, "Content-Range"));
        CHECK(f.body() == f.content);
    }
}

TEST_CASE("more ranges than the exchange's max_ranges answer 200 whole") {
    Fixture f(random_bytes(1000, 1), FileCacheConfig{}, 2);
    f.with("Range", "bytes=0-0,10-10,20-20").respond();
    CHECK(f.x.status == 200);
    CHECK(f.body() == f.content);
}

TEST_CASE("Range is ignored for methods other than GET and HEAD") {
    Fixture f;
    f.x.request.method = "POST";
    f.with("Range", "bytes=0-9").respond();
    CHECK(f.x.status == 200);
    CHECK(f.body() == f.content);
}

TEST_CASE("HEAD with a Range gets GET's status and headers") {
    Fixture f;
    f.x.request.method = "HEAD";
    f.x.request.is_head = true;
    f.with("Range", "bytes=0-9").respond();
    CHECK(f.x.status == 206);
    CHECK(header(f.x, "Content-Range") == "bytes 0-9/1000");
}

TEST_CASE("a matching If-None-Match answers 304 with validators and no body or Content-Type") {
    for (const std::string method : {"GET", "HEAD"}) {
        CAPTURE(method);
        Fixture f;
        f.x.request.method = method;
        f.with("If-None-Match", "\"other\", " + std::string(f.file->etag()))
            .with("Range", "bytes=0-9")
            .respond();
        CHECK(f.x.status == 304);
        CHECK(header(f.x, "ETag") == std::string(f.file->etag()));
        CHECK(header(f.x, "Last-Modified") == std::string(f.file->last_modified()));
        CHECK_FALSE(header(f.x, "Content-Type"));
        CHECK_FALSE(header(f.x, "Content-Range"));
        CHECK(f.x.body.empty());
        CHECK(f.x.response_body == nullptr);
    }
}

TEST_CASE("If-Modified-Since at or after Last-Modified answers 304") {
    Fixture f;
    f.with("If-Modified-Since", std::string(f.file->last_modified())).respond();
    CHECK(f.x.status == 304);
}

TEST_CASE("an If-None-Match that does not match answers 200 with the file") {
    Fixture f;
    f.with("If-None-Match", "\"not-it\"").respond();
    CHECK(f.x.status == 200);
    CHECK(f.body() == f.content);
}

TEST_CASE("an If-Match that does not match answers 412 without the file") {
    Fixture f;
    f.with("If-Match", "\"not-it\"").with("Range", "bytes=0-9").respond();
    CHECK(f.x.status == 412);
    CHECK(header(f.x, "ETag") == std::string(f.file->etag()));
    CHECK_FALSE(header(f.x, "Content-Range"));
    CHECK(f.x.response_body == nullptr);
    CHECK(f.body() != f.content);
}

TEST_CASE("a matching If-Match proceeds") {
    Fixture f;
    f.with("If-Match", std::string(f.file->etag())).respond();
    CHECK(f.x.status == 200);
}

TEST_CASE("an If-Range that does not match ignores Range and answers 200 whole") {
    for (const std::string if_range : {"\"not-it\"", "Sun, 06 Nov 1994 08:49:37 GMT", "garbage"}) {
        CAPTURE(if_range);
        Fixture f;
        f.with("Range", "bytes=0-9").with("If-Range", if_range).respond();
        CHECK(f.x.status == 200);
        CHECK_FALSE(header(f.x, "Content-Range"));
        CHECK(f.body() == f.content);
    }
}

TEST_CASE("an If-Range with the current tag or date honours Range") {
    Fixture tag;
    tag.with("Range", "bytes=0-9").with("If-Range", std::string(tag.file->etag())).respond();
    CHECK(tag.x.status == 206);
    Fixture date;
    date.with("Range", "bytes=0-9")
        .with("If-Range", std::string(date.file->last_modified()))
        .respond();
    CHECK(date.x.status == 206);
}

TEST_CASE("offset and length serve a part of the file as the representation, with its own tag") {
    Fixture f;
    FileOptions o;
    o.offset = 100;
    o.length = 50;
    f.respond(o);
    CHECK(f.x.status == 200);
    const std::optional<std::string> etag = header(f.x, "ETag");
    REQUIRE(etag);
    CHECK(*etag != f.file->etag());
    CHECK(etag->front() == '"');
    CHECK(etag->back() == '"');
    const std::string whole(f.file->etag());
    CHECK(etag->rfind(whole.substr(0, whole.size() - 1), 0) == 0);  // the file's tag, extended
    CHECK(f.body() == f.content.substr(100, 50));

    SUBCASE("Range applies within the part") {
        Fixture g;
        g.with("Range", "bytes=0-9").respond(o);
        CHECK(g.x.status == 206);
        CHECK(header(g.x, "Content-Range") == "bytes 0-9/50");
        CHECK(g.body() == g.content.substr(100, 10));
    }
    SUBCASE("the whole file's tag no longer matches If-None-Match") {
        Fixture g;
        g.with("If-None-Match", std::string(g.file->etag())).respond(o);
        CHECK(g.x.status == 200);
    }
    SUBCASE("a part past the end is clamped to the file") {
        Fixture g;
        FileOptions past;
        past.offset = 990;
        past.length = 100;
        g.respond(past);
        CHECK(g.x.status == 200);
        CHECK(g.body() == g.content.substr(990));
        Fixture h;
        h.with("Range", "bytes=0-").respond(past);
        CHECK(header(h.x, "Content-Range") == "bytes 0-9/10");
    }
}

TEST_CASE("two different parts of one file have different tags") {
    Fixture a;
    Fixture b;
    FileOptions first;
    first.length = 10;
    FileOptions second;
    second.offset = 10;
    second.length = 10;
    respond_with_file(a.x, a.file, kType, first);
    respond_with_file(b.x, a.file, kType, second);
    CHECK(header(a.x, "ETag") != header(b.x, "ETag"));
}

TEST_CASE("ranges=false ignores Range and sends no Accept-Ranges") {
    Fixture f;
    FileOptions o;
    o.ranges = false;
    f.with("Range", "bytes=0-9").respond(o);
    CHECK(f.x.status == 200);
    CHECK_FALSE(header(f.x, "Accept-Ranges"));
    CHECK_FALSE(header(f.x, "Content-Range"));
    CHECK(f.body() == f.content);
}

TEST_CASE("a status other than 200 set before is kept, and Range and preconditions ignored") {
    Fixture f;
    f.x.status = 404;
    f.with("Range", "bytes=0-9").with("If-None-Match", std::string(f.file->etag())).respond();
    CHECK(f.x.status == 404);
    CHECK_FALSE(header(f.x, "Content-Range"));
    CHECK(header(f.x, "Content-Type") == std::string(kType));
    CHECK(f.body() == f.content);
}

TEST_CASE("a body or response body set before is replaced") {
    Fixture f;
    f.x.body = vstream::Body("stale");
    f.respond();
    CHECK(f.body() == f.content);
}

TEST_CASE("a paced file is sent through a response body of the file's length") {
    Fixture f;
    FileOptions o;
    o.limit_rate = 1000000;
    f.respond(o);
    CHECK(f.x.status == 200);
    REQUIRE(f.x.response_body != nullptr);
    CHECK(f.x.response_body->length() == f.content.size());
    CHECK(f.body() == f.content);
}

TEST_CASE("a windowed file is sent through a response body, whole or as a range") {
    const std::size_t ws = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    FileCacheConfig c;
    c.window_size = ws;
    c.window_threshold = ws;
    const std::string content = random_bytes(3 * ws + 7, 2);
    SUBCASE("whole") {
        Fixture f(content, c);
        REQUIRE(f.file->windowed());
        f.respond();
        CHECK(f.x.status == 200);
        REQUIRE(f.x.response_body != nullptr);
        CHECK(f.body() == content);
    }
    SUBCASE("a range across windows") {
        Fixture f(content, c);
        const std::string range =
            "bytes=" + std::to_string(ws - 3) + "-" + std::to_string(2 * ws + 3);
        f.with("Range", range).respond();
        CHECK(f.x.status == 206);
        REQUIRE(f.x.response_body != nullptr);
        CHECK(f.body() == content.substr(ws - 3, ws + 7));
    }
}

TEST_CASE("an empty file answers 200 with an empty body, and any Range with 416") {
    Fixture f("");
    f.respond();
    CHECK(f.x.status == 200);
    CHECK(f.x.body.empty());
    CHECK(f.x.response_body == nullptr);
    CHECK(header(f.x, "ETag"));
    Fixture g("");
    g.with("Range", "bytes=0-").respond();
    CHECK(g.x.status == 416);
    CHECK(header(g.x, "Content-Range") == "bytes */0");
}

TEST_CASE("respond_open_error maps errno to 404, 403, 503 with Retry-After, or 500") {
    struct Row {
        int err;
        int status;
    };
    const Row rows[] = {
        {-ENOENT, 404}, {-ENOTDIR, 404},      {-EISDIR, 404}, {-ENODEV, 404}, {-EXDEV, 404},
        {-ELOOP, 404},  {-ENAMETOOLONG, 404}, {-EACCES, 403}, {-EPERM, 403},  {-EMFILE, 503},
        {-ENFILE, 503}, {-ENOMEM, 503},       {-EIO, 500},    {-EINVAL, 500}, {-EBADF, 500},
    };
    for (const Row& r : rows) {
        const int err = r.err;
        CAPTURE(err);
        Fixture f;
        f.x.body = vstream::Body("stale");
        respond_open_error(f.x, r.err);
        CHECK(f.x.status == r.status);
        CHECK(header(f.x, "Content-Type") == "text/plain; charset=utf-8");
        CHECK(f.x.response_body == nullptr);
        CHECK(f.x.body.view().rfind(std::to_string(r.status), 0) == 0);
        if (r.status == 503) {
            CHECK(header(f.x, "Retry-After") == "1");
        } else {
            CHECK_FALSE(header(f.x, "Retry-After"));
        }
        CHECK_FALSE(header(f.x, "ETag"));
    }
}

}  // TEST_SUITE("handlers/file_response")
