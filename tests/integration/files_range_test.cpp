// Context::send_file over real sockets: full responses, single and multiple ranges
// (multipart/byteranges parsed back), 416, conditional requests and If-Range, a part of a
// file as the representation, pipelining, large windowed files (with and without room to
// map) and curl -r. Every body is compared byte for byte with the file.
#include "async_fixtures.hpp"
#include "curl.hpp"
#include "file_server.hpp"
#include "raw_client.hpp"
#include "temp_dir.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using vstream::Context;
using vstream::FileOptions;
using vstream::ServerConfig;
using vstream::test::byte_exact;
using vstream::test::get;
using vstream::test::have_curl;
using vstream::test::http_request;
using vstream::test::random_bytes;
using vstream::test::RawClient;
using vstream::test::Response;
using vstream::test::TempDir;
using vstream::test::test_config;
using vstream::test::TestServer;

namespace {

constexpr std::size_t kSize = 10000;  // clip.mp4
// /part.mp4 serves [kPartOffset, kPartOffset + kPartLength) of clip.mp4.
constexpr std::uint64_t kPartOffset = 1000;
constexpr std::uint64_t kPartLength = 3000;

constexpr std::size_t kMiB = 1024 * 1024;
constexpr std::size_t kLargeSize = 40 * kMiB;  // above the default 8 MiB window threshold
constexpr std::size_t kWindow = 2 * kMiB;      // the default window size

// Sends the file named by the path below `root`, and clip.mp4 with FileOptions: /part.mp4 a
// part of it, /norange.mp4 without ranges, /typed with a content type and Cache-Control,
// /past-end.mp4 from an offset past its end. /ping answers pong.
vstream::Handler file_handler(std::string root) {
    return [root = std::move(root)](Context& ctx) {
        if (ctx.path() == "/ping") {
            vstream::test::hello_handler(ctx);
        } else if (ctx.path() == "/part.mp4") {
            FileOptions o;
            o.offset = kPartOffset;
            o.length = kPartLength;
            ctx.send_file(root + "/clip.mp4", o);
        } else if (ctx.path() == "/norange.mp4") {
            FileOptions o;
            o.ranges = false;
            ctx.send_file(root + "/clip.mp4", o);
        } else if (ctx.path() == "/typed") {
            FileOptions o;
            o.content_type = "application/x-custom";
            o.cache_control = "no-cache";
            ctx.send_file(root + "/clip.mp4", o);
        } else if (ctx.path() == "/past-end.mp4") {
            FileOptions o;
            o.offset = kSize + 10;
            ctx.send_file(root + "/clip.mp4", o);
        } else {
            ctx.send_file(root + std::string(ctx.path()));
        }
    };
}

// A directory with clip.mp4 (kSize random bytes) served by send_file.
struct Site {
    TempDir dir;
    std::string clip = random_bytes(kSize, 7);
    std::optional<TestServer> server;

    explicit Site(ServerConfig config = test_config()) {
        dir.write("clip.mp4", clip);
        server.emplace(file_handler(dir.path().string()), std::move(config));
    }
    std::uint16_t port() const { return server->port(); }
};

std::string range_header(std::string_view spec) { return "Range: " + std::string(spec) + "\r\n"; }

// IMF-fixdate of `t` (RFC 9110 §5.6.7), as a client would send it.
std::string http_date(std::time_t t) {
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

std::time_t mtime_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mtime;
}

// ---- multipart/byteranges, parsed back ----

struct Part {
    std::string content_type;
    std::string content_range;
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::uint64_t total = 0;
    std::string bytes;
};

// The boundary parameter of a multipart/byteranges Content-Type, or "".
std::string boundary_of(const std::string& content_type) {
    const std::string prefix = "multipart/byteranges; boundary=";
    if (content_type.rfind(prefix, 0) != 0) return {};
    std::string b = content_type.substr(prefix.size());
    if (b.size() >= 2 && b.front() == '"' && b.back() == '"') b = b.substr(1, b.size() - 2);
    return b;
}

// Parses a multipart/byteranges body (RFC 9110 §14.6, RFC 2046 §5.1.1). Each part's length
// comes from its Content-Range, so random file bytes are never searched for the boundary.
// nullopt unless the body is exactly: parts, then the close-delimiter, then nothing.
std::optional<std::vector<Part>> parse_byteranges(const std::string& body,
                                                  const std::string& boundary) {
    const std::string delimiter = "--" + boundary;
    std::vector<Part> parts;
    if (boundary.empty() || body.compare(0, delimiter.size() + 2, delimiter + "\r\n") != 0) {
        return std::nullopt;
    }
    std::size_t pos = delimiter.size() + 2;
    for (;;) {
        const std::size_t head_end = body.find("\r\n\r\n", pos);
        if (head_end == std::string::npos) return std::nullopt;
        Part part;
        std::size_t line = pos;
        while (line < head_end + 2) {
            const std::size_t eol = body.find("\r\n", line);
            const std::string text = body.substr(line, eol - line);
            line = eol + 2;
            const std::size_t colon = text.find(':');
            if (colon == std::string::npos) return std::nullopt;
            std::string name = text.substr(0, colon);
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            std::string value = text.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            if (name == "content-type") part.content_type = value;
            if (name == "content-range") part.content_range = value;
        }
        unsigned long long first = 0;
        unsigned long long last = 0;
        unsigned long long total = 0;
        if (std::sscanf(part.content_range.c_str(), "bytes %llu-%llu/%llu", &first, &last,
                        &total) != 3 ||
            last < first) {
            return std::nullopt;
        }
        part.first = first;
        part.last = last;
        part.total = total;
        pos = head_end + 4;
        const std::size_t length = static_cast<std::size_t>(last - first + 1);
        if (pos + length > body.size()) return std::nullopt;
        part.bytes = body.substr(pos, length);
        pos += length;
        parts.push_back(std::move(part));
        if (body.compare(pos, delimiter.size() + 2, "\r\n" + delimiter) != 0) return std::nullopt;
        pos += delimiter.size() + 2;
        if (body.compare(pos, 4, "--\r\n") == 0) {
            if (pos + 4 != body.size()) return std::nullopt;  // bytes after the close-delimiter
            return parts;
        }
        if (body.compare(pos, 2, "\r\n") != 0) return std::nullopt;
        pos += 2;
    }
}

// Checks a 206 multipart/byteranges response: exactly the `expected` inclusive ranges of
// `file`, in that order, each typed `part_type` and with its own Content-Range, and a
// Content-Length equal to the bytes of the body.
void check_multipart(const Response& r, const std::string& file,
                     const std::vector<std::pair<std::uint64_t, std::uint64_t>>& expected,
                     const std::string& part_type) {
    CHECK(r.status == 206);
    CHECK_FALSE(r.has_header("content-range"));  // only inside the parts
    const std::string boundary = boundary_of(r.header("content-type"));
    REQUIRE_FALSE(boundary.empty());
    REQUIRE(r.has_header("content-length"));
    CHECK(std::stoull(r.header("content-length")) == r.body.size());
    const auto parts = parse_byteranges(r.body, boundary);
    REQUIRE(parts.has_value());
    REQUIRE(parts->size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const Part& p = (*parts)[i];
        const auto [first, last] = expected[i];
        CAPTURE(i);
        CAPTURE(p.content_range);
        CHECK(p.content_type == part_type);
        CHECK(p.content_range == "bytes " + std::to_string(first) + "-" + std::to_string(last) +
                                     "/" + std::to_string(file.size()));
        CHECK(byte_exact(p.bytes, std::string_view(file).substr(first, last - first + 1)));
    }
}

// Checks a 206 single-range response for the inclusive range [first, last] of `file`.
void check_single_range(const Response& r, const std::string& file, std::uint64_t first,
                        std::uint64_t last) {
    CHECK(r.status == 206);
    CHECK(r.header("content-range") == "bytes " + std::to_string(first) + "-" +
                                           std::to_string(last) + "/" +
                                           std::to_string(file.size()));
    CHECK(r.header("content-length") == std::to_string(last - first + 1));
    CHECK(byte_exact(r.body, std::string_view(file).substr(first, last - first + 1)));
}

// Checks a 200 with the whole of `file`.
void check_whole(const Response& r, const std::string& file) {
    CHECK(r.status == 200);
    CHECK_FALSE(r.has_header("content-range"));
    CHECK(r.header("content-length") == std::to_string(file.size()));
    CHECK(byte_exact(r.body, file));
}

// After a response that must have had no body (HEAD, 304): nothing more arrived, and the
// connection still frames the next response correctly.
void check_no_body_then_usable(RawClient& c) {
    CHECK(c.buffered().empty());
    REQUIRE(c.send(http_request("GET", "/ping")));
    const auto next = c.read_response();
    REQUIRE(next.has_value());
    CHECK(next->status == 200);
    CHECK(next->body == R"({"message":"pong"})");
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_SUITE("integration/files_range") {

TEST_CASE("a full GET returns the whole file with its validators and Accept-Ranges") {
    Site site;
    const auto r = get(site.port(), "/clip.mp4");
    REQUIRE(r.has_value());
    check_whole(*r, site.clip);
    CHECK(r->header("content-type") == "video/mp4");
    CHECK(r->header("accept-ranges") == "bytes");
    const std::string etag = r->header("etag");
    CHECK(etag.size() > 2);
    CHECK(etag.front() == '"');  // strong
    CHECK(etag.back() == '"');
    CHECK(r->header("last-modified") == http_date(mtime_of(site.dir.at("clip.mp4"))));
}

TEST_CASE("the content type follows the file name's extension") {
    struct Row {
        std::string name;
        std::string type;
    };
    const Row rows[] = {
        {"a.mp4", "video/mp4"},
        {"a.MP4", "video/mp4"},
        {"a.mkv", "video/x-matroska"},
        {"a.html", "text/html; charset=utf-8"},
        {"a.txt", "text/plain; charset=utf-8"},
        {"a.unknownext", "application/octet-stream"},
        {"noextension", "application/octet-stream"},
    };
    Site site;
    for (const Row& row : rows) {
        CAPTURE(row.name);
        site.dir.write(row.name, "x");
        const auto r = get(site.port(), "/" + row.name);
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        CHECK(r->header("content-type") == row.type);
    }
}

TEST_CASE("a single range returns 206 with exactly those bytes and their Content-Range") {
    struct Row {
        std::string range;
        std::uint64_t first;
        std::uint64_t last;
    };
    const Row rows[] = {
        {"bytes=0-99", 0, 99},                                    // first-last
        {"bytes=0-0", 0, 0},                                      // one byte
        {"bytes=1234-5678", 1234, 5678},                          // in the middle
        {"bytes=9000-", 9000, kSize - 1},                         // open-ended
        {"bytes=9999-", 9999, 9999},                              // the last byte
        {"bytes=-500", kSize - 500, kSize - 1},                   // suffix
        {"bytes=-1", kSize - 1, kSize - 1},                       // suffix of one byte
        {"bytes=-20000", 0, kSize - 1},                           // suffix longer than the file
        {"bytes=5000-99999999", 5000, kSize - 1},                 // last beyond the end
        {"bytes=5000-99999999999999999999999", 5000, kSize - 1},  // beyond 2^64
        {"BYTES=10-19", 10, 19},                                  // the unit is case-insensitive
    };
    Site site;
    for (const Row& row : rows) {
        CAPTURE(row.range);
        const auto r = get(site.port(), "/clip.mp4", range_header(row.range));
        REQUIRE(r.has_value());
        check_single_range(*r, site.clip, row.first, row.last);
        CHECK(r->header("content-type") == "video/mp4");
        CHECK(r->header("accept-ranges") == "bytes");
        CHECK_FALSE(r->header("etag").empty());
    }
}

TEST_CASE("several ranges return 206 multipart/byteranges that parses back to the file") {
    Site site;
    const auto r = get(site.port(), "/clip.mp4", range_header("bytes=0-99,200-299,9000-"));
    REQUIRE(r.has_value());
    check_multipart(*r, site.clip, {{0, 99}, {200, 299}, {9000, kSize - 1}}, "video/mp4");
}

TEST_CASE("overlapping, adjacent and unordered ranges are coalesced into parts in file order") {
    struct Row {
        std::string range;
        std::vector<std::pair<std::uint64_t, std::uint64_t>> parts;
    };
    const Row rows[] = {
        {"bytes=0-99,50-149,400-499,500-599,9900-", {{0, 149}, {400, 599}, {9900, kSize - 1}}},
        {"bytes=400-499,0-99", {{0, 99}, {400, 499}}},
        {"bytes=-100,0-9", {{0, 9}, {kSize - 100, kSize - 1}}},
        {"bytes=100-199,0-99,300-399", {{0, 199}, {300, 399}}},
        {"bytes=10-19, 30-39 ,,50-59", {{10, 19}, {30, 39}, {50, 59}}},  // OWS, empty elements
        {"bytes=0-9,20-29,99999-", {{0, 9}, {20, 29}}},  // an unsatisfiable one is dropped
    };
    Site site;
    for (const Row& row : rows) {
        CAPTURE(row.range);
        const auto r = get(site.port(), "/clip.mp4", range_header(row.range));
        REQUIRE(r.has_value());
        check_multipart(*r, site.clip, row.parts, "video/mp4");
    }
}

TEST_CASE("ranges that coalesce into one are answered as a single range, not multipart") {
    Site site;
    const auto r = get(site.port(), "/clip.mp4", range_header("bytes=0-99,100-199,50-150"));
    REQUIRE(r.has_value());
    check_single_range(*r, site.clip, 0, 199);
    CHECK(r->header("content-type") == "video/mp4");
}

TEST_CASE("ranges asking for more bytes than the file return the whole file") {
    // Go's ServeContent policy: overlapping ranges that add up to more than the file.
    Site site;
    const auto r = get(site.port(), "/clip.mp4", range_header("bytes=0-,0-,-5000"));
    REQUIRE(r.has_value());
    check_whole(*r, site.clip);
}

TEST_CASE("an unsatisfiable range returns 416 with Content-Range bytes */length") {
    const std::string rows[] = {
        "bytes=10000-",       // first-pos at the length
        "bytes=10000-10010",  // past the end
        "bytes=20000-30000",  // far past it
        "bytes=-0",           // an empty suffix
        "bytes=10000-,-0",    // several, none satisfiable
        "bytes=99999999999999999999999-",
    };
    Site site;
    for (const std::string& range : rows) {
        CAPTURE(range);
        const auto r = get(site.port(), "/clip.mp4", range_header(range));
        REQUIRE(r.has_value());
        CHECK(r->status == 416);
        CHECK(r->header("content-range") == "bytes */" + std::to_string(kSize));
        CHECK(r->body.find(site.clip.substr(0, 16)) == std::string::npos);
    }
}

TEST_CASE("a Range header with invalid syntax is ignored: 200 with the whole file") {
    const std::string rows[] = {
        "bytes=abc",    "bytes=5-2",  "bytes=1-2-3", "bytes=--5",     "bytes=-",
        "bytes=,",      "bytes=",     "bytes 0-10",  "items=0-10",    "bytes=0-10;x",
        "bytes=+1-5",   "bytes=1-+5", "bytes=0x10-", "bytes=0-9,abc", "=0-10",
        "bytes= 10-19",  // RFC 9110 §14.1.1 has no OWS after '='
    };
    Site site;
    for (const std::string& range : rows) {
        CAPTURE(range);
        const auto r = get(site.port(), "/clip.mp4", range_header(range));
        REQUIRE(r.has_value());
        check_whole(*r, site.clip);
    }
}

TEST_CASE("more ranges than Limits::max_ranges return 200 with the whole file") {
    ServerConfig config = test_config();
    config.limits.max_ranges = 4;
    Site site(config);
    SUBCASE("max_ranges ranges are served as multipart") {
        const auto r = get(site.port(), "/clip.mp4", range_header("bytes=0-0,10-10,20-20,30-30"));
        REQUIRE(r.has_value());
        check_multipart(*r, site.clip, {{0, 0}, {10, 10}, {20, 20}, {30, 30}}, "video/mp4");
    }
    SUBCASE("one more is answered with the whole file") {
        const auto r =
            get(site.port(), "/clip.mp4", range_header("bytes=0-0,10-10,20-20,30-30,40-40"));
        REQUIRE(r.has_value());
        check_whole(*r, site.clip);
    }
}

TEST_CASE("more ranges than the default max_ranges return 200 with the whole file") {
    Site site;
    std::string spec = "bytes=";
    for (int i = 0; i < 17; ++i) {
        spec += (i > 0 ? "," : "") + std::to_string(i * 10) + "-" + std::to_string(i * 10 + 1);
    }
    const auto r = get(site.port(), "/clip.mp4", range_header(spec));
    REQUIRE(r.has_value());
    check_whole(*r, site.clip);
}

TEST_CASE("HEAD returns the same headers as GET and no body, for 200 and 206") {
    struct Row {
        std::string range;  // "" for none
        int status;
    };
    const Row rows[] = {
        {"", 200}, {"bytes=100-199", 206}, {"bytes=0-9,100-199", 206}, {"bytes=20000-", 416}};
    Site site;
    for (const Row& row : rows) {
        CAPTURE(row.range);
        const std::string headers = row.range.empty() ? std::string() : range_header(row.range);
        const auto g = get(site.port(), "/clip.mp4", headers);
        REQUIRE(g.has_value());
        CHECK(g->status == row.status);

        RawClient c(site.port());
        REQUIRE(c.send(http_request("HEAD", "/clip.mp4", headers)));
        const auto h = c.read_response(true);
        REQUIRE(h.has_value());
        CHECK(h->status == row.status);
        for (const std::string name :
             {"content-length", "content-range", "etag", "last-modified", "accept-ranges"}) {
            CAPTURE(name);
            CHECK(h->has_header(name) == g->has_header(name));
            CHECK(h->header(name) == g->header(name));
        }
        if (std::string_view(row.range).find(',') != std::string_view::npos) {
            // Each response draws its own boundary: same form, same length.
            CHECK_FALSE(boundary_of(h->header("content-type")).empty());
            CHECK(h->header("content-type").size() == g->header("content-type").size());
        } else {
            CHECK(h->header("content-type") == g->header("content-type"));
        }
        check_no_body_then_usable(c);
    }
}

TEST_CASE("If-None-Match with the ETag, a list holding it, * or its weak form gives 304") {
    Site site;
    const auto first = get(site.port(), "/clip.mp4");
    REQUIRE(first.has_value());
    const std::string etag = first->header("etag");
    REQUIRE_FALSE(etag.empty());
    const std::string rows[] = {
        etag,        "\"other\", " + etag, "\"a\",\"b\"," + etag + ",\"c\"", "*",
        "W/" + etag,  // If-None-Match compares weakly
    };
    for (const std::string& value : rows) {
        CAPTURE(value);
        RawClient c(site.port());
        REQUIRE(c.send(http_request("GET", "/clip.mp4", "If-None-Match: " + value + "\r\n")));
        const auto r = c.read_response();
        REQUIRE(r.has_value());
        CHECK(r->status == 304);
        CHECK(r->header("etag") == etag);
        CHECK_FALSE(r->has_header("content-range"));
        check_no_body_then_usable(c);
    }
}

TEST_CASE("If-None-Match with other tags gives 200 with the file") {
    Site site;
    const std::string rows[] = {"\"other\"", "\"a\", \"b\"", "W/\"other\""};
    for (const std::string& value : rows) {
        CAPTURE(value);
        const auto r = get(site.port(), "/clip.mp4", "If-None-Match: " + value + "\r\n");
        REQUIRE(r.has_value());
        check_whole(*r, site.clip);
    }
}

TEST_CASE("If-Modified-Since at or after Last-Modified gives 304, before it 200") {
    Site site;
    const std::time_t mtime = mtime_of(site.dir.at("clip.mp4"));
    struct Row {
        std::time_t date;
        int status;
    };
    const Row rows[] = {{mtime, 304}, {mtime + 3600, 304}, {mtime - 1, 200}, {mtime - 86400, 200}};
    for (const Row& row : rows) {
        const std::string date = http_date(row.date);
        CAPTURE(date);
        RawClient c(site.port());
        REQUIRE(c.send(http_request("GET", "/clip.mp4", "If-Modified-Since: " + date + "\r\n")));
        const auto r = c.read_response();
        REQUIRE(r.has_value());
        CHECK(r->status == row.status);
        if (row.status == 304) {
            check_no_body_then_usable(c);
        } else {
            check_whole(*r, site.clip);
        }
    }
}

TEST_CASE("If-None-Match takes precedence over If-Modified-Since") {
    Site site;
    const std::string date = http_date(mtime_of(site.dir.at("clip.mp4")));
    const auto r = get(site.port(), "/clip.mp4",
                       "If-None-Match: \"other\"\r\nIf-Modified-Since: " + date + "\r\n");
    REQUIRE(r.has_value());
    check_whole(*r, site.clip);
}

TEST_CASE("If-Match that does not match and If-Unmodified-Since before the mtime give 412") {
    Site site;
    const auto first = get(site.port(), "/clip.mp4");
    REQUIRE(first.has_value());
    const std::string etag = first->header("etag");
    const std::time_t mtime = mtime_of(site.dir.at("clip.mp4"));
    struct Row {
        std::string headers;
        int status;
    };
    const Row rows[] = {
        {"If-Match: \"other\"\r\n", 412},
        {"If-Match: W/" + etag + "\r\n", 412},  // If-Match compares strongly
        {"If-Match: " + etag + "\r\n", 200},
        {"If-Match: \"x\", " + etag + "\r\n", 200},
        {"If-Match: *\r\n", 200},
        {"If-Unmodified-Since: " + http_date(mtime - 3600) + "\r\n", 412},
        {"If-Unmodified-Since: " + http_date(mtime) + "\r\n", 200},
        {"If-Unmodified-Since: " + http_date(mtime + 3600) + "\r\n", 200},
        // If-Match wins over If-Unmodified-Since (RFC 9110 §13.2.2 step 2).
        {"If-Match: " + etag + "\r\nIf-Unmodified-Since: " + http_date(mtime - 3600) + "\r\n", 200},
        // A failed precondition beats a Range.
        {"If-Match: \"other\"\r\nRange: bytes=0-9\r\n", 412},
    };
    for (const Row& row : rows) {
        CAPTURE(row.headers);
        const auto r = get(site.port(), "/clip.mp4", row.headers);
        REQUIRE(r.has_value());
        CHECK(r->status == row.status);
        if (row.status == 200) {
            check_whole(*r, site.clip);
        } else {
            CHECK(r->body.find(site.clip.substr(0, 16)) == std::string::npos);
        }
    }
}

TEST_CASE("If-Range with the ETag or the Last-Modified date honours the Range, otherwise 200") {
    Site site;
    const auto first = get(site.port(), "/clip.mp4");
    REQUIRE(first.has_value());
    const std::string etag = first->header("etag");
    const std::string last_modified = first->header("last-modified");
    const std::time_t mtime = mtime_of(site.dir.at("clip.mp4"));
    struct Row {
        std::string if_range;
        bool ranged;
    };
    const Row rows[] = {
        {etag, true},
        {last_modified, true},
        {"\"other\"", false},
        {"W/" + etag, false},  // If-Range needs a strong match
        {http_date(mtime - 1), false},
        {http_date(mtime + 1), false},  // only the exact date matches
        {"not a date", false},
    };
    for (const Row& row : rows) {
        CAPTURE(row.if_range);
        const auto r = get(site.port(), "/clip.mp4",
                           "Range: bytes=100-199\r\nIf-Range: " + row.if_range + "\r\n");
        REQUIRE(r.has_value());
        if (row.ranged) {
            check_single_range(*r, site.clip, 100, 199);
        } else {
            check_whole(*r, site.clip);
        }
    }
}

TEST_CASE("send_file with an offset and a length serves that part as the representation") {
    Site site;
    const std::string part = site.clip.substr(kPartOffset, kPartLength);
    const auto whole = get(site.port(), "/clip.mp4");
    REQUIRE(whole.has_value());
    const std::string whole_etag = whole->header("etag");

    const auto r = get(site.port(), "/part.mp4");
    REQUIRE(r.has_value());
    check_whole(*r, part);
    CHECK(r->header("content-type") == "video/mp4");
    CHECK(r->header("accept-ranges") == "bytes");
    const std::string part_etag = r->header("etag");
    CHECK_FALSE(part_etag.empty());
    CHECK(part_etag != whole_etag);

    SUBCASE("a single range is relative to the part") {
        struct Row {
            std::string range;
            std::uint64_t first;
            std::uint64_t last;
        };
        const Row rows[] = {{"bytes=0-99", 0, 99},
                            {"bytes=-100", kPartLength - 100, kPartLength - 1},
                            {"bytes=2900-", 2900, kPartLength - 1},
                            {"bytes=2500-9999", 2500, kPartLength - 1}};
        for (const Row& row : rows) {
            CAPTURE(row.range);
            const auto rr = get(site.port(), "/part.mp4", range_header(row.range));
            REQUIRE(rr.has_value());
            check_single_range(*rr, part, row.first, row.last);
            CHECK(rr->header("etag") == part_etag);
        }
    }
    SUBCASE("several ranges are parts of the part") {
        const auto rr = get(site.port(), "/part.mp4", range_header("bytes=0-9,1000-1099,-10"));
        REQUIRE(rr.has_value());
        check_multipart(*rr, part, {{0, 9}, {1000, 1099}, {kPartLength - 10, kPartLength - 1}},
                        "video/mp4");
    }
    SUBCASE("a range past the part is unsatisfiable even though the file is longer") {
        const auto rr = get(site.port(), "/part.mp4", range_header("bytes=3000-3100"));
        REQUIRE(rr.has_value());
        CHECK(rr->status == 416);
        CHECK(rr->header("content-range") == "bytes */" + std::to_string(kPartLength));
    }
    SUBCASE("the whole file's ETag does not validate the part") {
        const auto rr = get(site.port(), "/part.mp4", "If-None-Match: " + whole_etag + "\r\n");
        REQUIRE(rr.has_value());
        check_whole(*rr, part);
        const auto ranged =
            get(site.port(), "/part.mp4", "Range: bytes=0-9\r\nIf-Range: " + whole_etag + "\r\n");
        REQUIRE(ranged.has_value());
        check_whole(*ranged, part);
    }
    SUBCASE("the part's own ETag validates it") {
        RawClient c(site.port());
        REQUIRE(c.send(http_request("GET", "/part.mp4", "If-None-Match: " + part_etag + "\r\n")));
        const auto rr = c.read_response();
        REQUIRE(rr.has_value());
        CHECK(rr->status == 304);
        check_no_body_then_usable(c);
        const auto ranged =
            get(site.port(), "/part.mp4", "Range: bytes=0-9\r\nIf-Range: " + part_etag + "\r\n");
        REQUIRE(ranged.has_value());
        check_single_range(*ranged, part, 0, 9);
    }
}

TEST_CASE("send_file from an offset past the end serves an empty representation") {
    Site site;
    const auto r = get(site.port(), "/past-end.mp4");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->header("content-length") == "0");
    CHECK(r->body.empty());
    const auto ranged = get(site.port(), "/past-end.mp4", range_header("bytes=0-"));
    REQUIRE(ranged.has_value());
    CHECK(ranged->status == 416);
    CHECK(ranged->header("content-range") == "bytes */0");
}

TEST_CASE("an empty file is served with Content-Length 0 and any range of it is unsatisfiable") {
    Site site;
    site.dir.write("empty.mp4", "");
    const auto r = get(site.port(), "/empty.mp4");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->header("content-length") == "0");
    CHECK(r->body.empty());
    CHECK_FALSE(r->header("etag").empty());
    for (const std::string range : {"bytes=0-", "bytes=-1", "bytes=0-0,-5"}) {
        CAPTURE(range);
        const auto rr = get(site.port(), "/empty.mp4", range_header(range));
        REQUIRE(rr.has_value());
        CHECK(rr->status == 416);
        CHECK(rr->header("content-range") == "bytes */0");
    }
}

TEST_CASE("send_file with ranges off ignores Range and sends no Accept-Ranges") {
    Site site;
    for (const std::string range : {"bytes=0-9", "bytes=0-9,20-29", "bytes=99999-"}) {
        CAPTURE(range);
        const auto r = get(site.port(), "/norange.mp4", range_header(range));
        REQUIRE(r.has_value());
        check_whole(*r, site.clip);
        CHECK_FALSE(r->has_header("accept-ranges"));
    }
    // Conditional requests still apply.
    const auto first = get(site.port(), "/norange.mp4");
    REQUIRE(first.has_value());
    const auto cond =
        get(site.port(), "/norange.mp4", "If-None-Match: " + first->header("etag") + "\r\n");
    REQUIRE(cond.has_value());
    CHECK(cond->status == 304);
}

TEST_CASE("send_file sends the content type and Cache-Control it is given") {
    Site site;
    const auto r = get(site.port(), "/typed");
    REQUIRE(r.has_value());
    check_whole(*r, site.clip);
    CHECK(r->header("content-type") == "application/x-custom");
    CHECK(r->header("cache-control") == "no-cache");
    const auto m = get(site.port(), "/typed", range_header("bytes=0-0,5-5"));
    REQUIRE(m.has_value());
    check_multipart(*m, site.clip, {{0, 0}, {5, 5}}, "application/x-custom");
    CHECK(m->header("cache-control") == "no-cache");
}

TEST_CASE("send_file of a missing file or a directory gives 404") {
    Site site;
    site.dir.write("dir/inside.txt", "x");
    for (const std::string target : {"/missing.mp4", "/dir", "/dir/", "/clip.mp4/x"}) {
        CAPTURE(target);
        const auto r = get(site.port(), target);
        REQUIRE(r.has_value());
        CHECK(r->status == 404);
        CHECK_FALSE(r->has_header("etag"));
    }
}

TEST_CASE("send_file from another thread through a deferred context answers byte-exact") {
    TempDir dir;
    const std::string clip = random_bytes(kSize, 17);
    dir.write("clip.mp4", clip);
    const std::string path = dir.at("clip.mp4");
    vstream::test::Threads threads;
    std::optional<TestServer> server;
    server.emplace([&](Context& ctx) {
        vstream::ContextRef ref = ctx.defer();
        threads.spawn([ref, path] { ref->send_file(path); });
    });
    RawClient c(server->port());
    REQUIRE(c.send(http_request("GET", "/") + http_request("GET", "/", range_header("bytes=-100")) +
                   http_request("GET", "/", range_header("bytes=0-9,5000-5009"))));
    const auto whole = c.read_response();
    REQUIRE(whole.has_value());
    check_whole(*whole, clip);
    const auto tail = c.read_response();
    REQUIRE(tail.has_value());
    check_single_range(*tail, clip, kSize - 100, kSize - 1);
    const auto multi = c.read_response();
    REQUIRE(multi.has_value());
    check_multipart(*multi, clip, {{0, 9}, {5000, 5009}}, "video/mp4");
    threads.join();
    server.reset();
}

TEST_CASE("pipelined range requests on one connection come back in order and byte-exact") {
    Site site;
    const std::string ranges[] = {"bytes=0-9",   "bytes=100-199,300-399", "bytes=-50",      "",
                                  "bytes=9990-", "bytes=20000-",          "bytes=5000-5000"};
    std::string batch;
    for (const std::string& range : ranges) {
        batch +=
            http_request("GET", "/clip.mp4", range.empty() ? std::string() : range_header(range));
    }
    RawClient c(site.port());
    REQUIRE(c.send(batch));
    for (const std::string& range : ranges) {
        CAPTURE(range);
        const auto r = c.read_response();
        REQUIRE(r.has_value());
        const std::string_view spec = range;
        if (spec == "bytes=0-9") check_single_range(*r, site.clip, 0, 9);
        if (spec == "bytes=100-199,300-399") {
            check_multipart(*r, site.clip, {{100, 199}, {300, 399}}, "video/mp4");
        }
        if (spec == "bytes=-50") check_single_range(*r, site.clip, kSize - 50, kSize - 1);
        if (spec.empty()) check_whole(*r, site.clip);
        if (spec == "bytes=9990-") check_single_range(*r, site.clip, 9990, kSize - 1);
        if (spec == "bytes=20000-") CHECK(r->status == 416);
        if (spec == "bytes=5000-5000") check_single_range(*r, site.clip, 5000, 5000);
    }
    CHECK(c.buffered().empty());
}

TEST_CASE("a file larger than the window threshold is served whole and in ranges across windows") {
    TempDir dir;
    const std::string big = random_bytes(kLargeSize, 11);
    dir.write("big.mp4", big);
    ServerConfig config = test_config();
    REQUIRE(config.file_cache.window_size == kWindow);
    REQUIRE(config.file_cache.window_threshold < kLargeSize);
    TestServer server(file_handler(dir.path().string()), config);
    // Sections in one run rather than SUBCASEs: each SUBCASE would build the file again.

    // The whole file.
    const auto whole = get(server.port(), "/big.mp4");
    REQUIRE(whole.has_value());
    check_whole(*whole, big);

    struct Row {
        std::string range;
        std::uint64_t first;
        std::uint64_t last;
    };
    const Row rows[] = {
        {"bytes=2097000-2098000", 2097000, 2098000},               // across the first window border
        {"bytes=2097151-2097152", 2097151, 2097152},               // the two bytes around it
        {"bytes=1000000-9000000", 1000000, 9000000},               // over several windows
        {"bytes=-3000000", kLargeSize - 3000000, kLargeSize - 1},  // into the last window
        {"bytes=41943000-", 41943000, kLargeSize - 1},             // the end of the last window
    };
    for (const Row& row : rows) {
        CAPTURE(row.range);
        const auto r = get(server.port(), "/big.mp4", range_header(row.range));
        REQUIRE(r.has_value());
        check_single_range(*r, big, row.first, row.last);
    }

    // A multipart response whose parts cross windows.
    const auto multi = get(server.port(), "/big.mp4",
                           range_header("bytes=2097000-2098000,4194000-6300000,41943000-"));
    REQUIRE(multi.has_value());
    check_multipart(*multi, big,
                    {{2097000, 2098000}, {4194000, 6300000}, {41943000, kLargeSize - 1}},
                    "video/mp4");
    const vstream::FileCacheStats stats = server.server().file_cache_stats();
    CHECK(stats.mapped_bytes <= config.file_cache.max_mapped_bytes);
}

TEST_CASE("a windowed file with room for one window only is still served byte-exact") {
    TempDir dir;
    const std::string big = random_bytes(kLargeSize, 13);
    dir.write("big.mp4", big);
    ServerConfig config = test_config();
    config.file_cache.max_mapped_bytes = kWindow;  // one window: the rest falls back to reads
    TestServer server(file_handler(dir.path().string()), config);
    // Sections in one run rather than SUBCASEs: each SUBCASE would build the file again.

    // The whole file.
    const auto whole = get(server.port(), "/big.mp4");
    REQUIRE(whole.has_value());
    check_whole(*whole, big);

    // Ranges across window borders.
    const auto r = get(server.port(), "/big.mp4", range_header("bytes=2097000-6300000"));
    REQUIRE(r.has_value());
    check_single_range(*r, big, 2097000, 6300000);
    const auto m =
        get(server.port(), "/big.mp4", range_header("bytes=2097000-2098000,4194000-6300000,-100"));
    REQUIRE(m.has_value());
    check_multipart(*m, big,
                    {{2097000, 2098000}, {4194000, 6300000}, {kLargeSize - 100, kLargeSize - 1}},
                    "video/mp4");

    // Two clients at once, each holding windows the other would need.
    RawClient a(server.port());
    RawClient b(server.port());
    REQUIRE(a.send(http_request("GET", "/big.mp4")));
    REQUIRE(b.send(http_request("GET", "/big.mp4", range_header("bytes=3000000-"))));
    const auto rb = b.read_response();
    const auto ra = a.read_response();
    REQUIRE(ra.has_value());
    REQUIRE(rb.has_value());
    check_whole(*ra, big);
    check_single_range(*rb, big, 3000000, kLargeSize - 1);
    CHECK(server.server().file_cache_stats().mapped_bytes <= kWindow);
}

TEST_CASE("curl -r gets exactly the bytes of the range") {
    if (!have_curl()) {
        MESSAGE("skipped: curl is not installed");
        return;
    }
    Site site;
    struct Row {
        std::string range;
        std::uint64_t first;
        std::uint64_t last;
    };
    const Row rows[] = {
        {"100-1099", 100, 1099}, {"9000-", 9000, kSize - 1}, {"-500", kSize - 500, kSize - 1}};
    for (const Row& row : rows) {
        CAPTURE(row.range);
        const std::string out = site.dir.at("curl.out");
        const std::string command = vstream::test::curl(
            site.port(), "-r '" + row.range + "' -o '" + out + "'", "/clip.mp4");
        REQUIRE(std::system(command.c_str()) == 0);
        CHECK(byte_exact(read_file(out),
                         std::string_view(site.clip).substr(row.first, row.last - row.first + 1)));
    }
}

}  // TEST_SUITE("integration/files_range")
