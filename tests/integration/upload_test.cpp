// Uploads to disk (Context::receive_upload on RouteGroup::handle_stream routes registered as
// vstream-serve does: POST /upload multipart/form-data, PUT /upload/:name raw) over loopback:
// byte-exact files of 0 B to 1 GiB, Content-Length and chunked, with the multipart delimiter
// and the 64 KiB read buffer borders split across TCP writes; curl -F and -T; malformed
// multipart; every failure (413 by Content-Length and while streaming, client gone, 408 stall
// and whole-upload timeout, digest mismatch, 409, 507 on a full tmpfs) leaves no file, named
// or open, behind, and the server goes on serving; unsafe names stay inside the directory;
// eight uploads at once.
#include <vstream/vstream.hpp>

#include "crypto/sha256.hpp"
#include "curl.hpp"
#include "dir_scan.hpp"
#include "file_server.hpp"
#include "form_data.hpp"
#include "http/content_digest.hpp"
#include "raw_client.hpp"
#include "temp_dir.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <simdjson.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace {

using namespace vstream::test;
using vstream::Context;
using vstream::Server;
using vstream::ServerConfig;
using vstream::UploadOptions;
using vstream::UploadResult;
using namespace std::chrono_literals;

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * kKiB;
constexpr std::size_t kReadBuffer = 64 * kKiB;  // what the engine reads from a socket at once
constexpr std::string_view kBoundary = "----vstreamFormBoundaryX3fQ9z";

// ---- files and directories ----

// Nothing of an upload left in `dir`, neither a name nor an open temporary file. The server
// cleans up on its loop thread, so this waits (bounded) for it.
bool dir_clean(const std::string& dir) {
    return wait_until([&] { return list(dir).empty() && open_files_in(dir).size() == 0; }, 5s);
}

// `dir` holds `names` files and no open temporary file (the server let go of every other).
bool dir_clean_but(const std::string& dir, std::size_t names) {
    return wait_until([&] { return list(dir).size() == names && open_files_in(dir).size() == 0; },
                      5s);
}

std::string sha_hex(std::string_view bytes) {
    return vstream::crypto::to_hex(vstream::crypto::sha256(bytes));
}

// SHA-256 of a file, read in 1 MiB pieces (for the GiB upload).
std::string file_sha_hex(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "cannot open " + path;
    vstream::crypto::Sha256 h;
    std::string buf(kMiB, '\0');
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        h.update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    }
    ::close(fd);
    return vstream::crypto::to_hex(h.finish());
}

// ---- the server ----

ServerConfig upload_config(unsigned threads = 1) {
    ServerConfig c = test_config(threads);
    c.timeouts.shutdown_grace = 500ms;  // a request a failing test left open ends quickly
    return c;
}

// A server with vstream-serve's upload routes into tmp/up (or `options.dir` when set), plus
// GET /ping.
class UploadSite {
public:
    explicit UploadSite(const std::function<void(UploadOptions&)>& tweak = {},
                        ServerConfig config = upload_config()) {
        dir = tmp.at("up");
        std::filesystem::create_directory(dir);
        options.dir = dir;
        if (tweak) tweak(options);
        server.emplace(
            [o = options](Server& s) {
                s.handle_stream("POST", "/upload", [o](Context& ctx) { ctx.receive_upload(o); });
                s.handle_stream("PUT", "/upload/:name", [o](Context& ctx) {
                    UploadOptions named = o;
                    named.name = std::string(ctx.param("name"));
                    ctx.receive_upload(std::move(named));
                });
                s.get("/ping", [](Context& ctx) { ctx.text(200, "pong"); });
            },
            std::move(config));
    }

    std::uint16_t port() const { return server->port(); }
    std::string at(std::string_view name) const { return options.dir + "/" + std::string(name); }

    TempDir tmp;
    std::string dir;
    UploadOptions options;
    std::optional<RoutedServer> server;
};

// The server still answers an ordinary request on a new connection.
void check_serving(std::uint16_t port) {
    const auto r = get(port, "/ping");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "pong");
}

// Whether the server has read every byte `c` sent: nothing waits in the client's send queue
// (SIOCOUTQ) nor in the receive queue of the server's end of the connection (the rx_queue
// of its /proc/net/tcp line). nullopt when the line cannot be found.
std::optional<bool> server_read_all(const RawClient& c, std::uint16_t server_port) {
    int unsent = 0;
    if (::ioctl(c.fd(), SIOCOUTQ, &unsent) != 0) return std::nullopt;
    sockaddr_in local{};
    socklen_t len = sizeof local;
    if (::getsockname(c.fd(), reinterpret_cast<sockaddr*>(&local), &len) != 0) return std::nullopt;
    const unsigned client_port = ntohs(local.sin_port);
    std::ifstream tcp("/proc/net/tcp");
    std::string line;
    std::getline(tcp, line);  // the column titles
    while (std::getline(tcp, line)) {
        std::istringstream in(line);
        std::string slot, local_addr, remote_addr, state, queues;
        in >> slot >> local_addr >> remote_addr >> state >> queues;
        const auto port_of = [](const std::string& addr) {
            return static_cast<unsigned>(std::stoul(addr.substr(addr.find(':') + 1), nullptr, 16));
        };
        if (port_of(local_addr) != server_port || port_of(remote_addr) != client_port) continue;
        const unsigned long rx = std::stoul(queues.substr(queues.find(':') + 1), nullptr, 16);
        return unsent == 0 && rx == 0;
    }
    return std::nullopt;
}

// Sends `request` in pieces cut at `cuts` (offsets into it, ascending), each piece only once
// the server read everything before it, so that the server's reads end at the cuts. Returns
// false if a send failed; a cut the server could not be seen to reach is reported.
bool send_in_pieces(RawClient& c, std::uint16_t port, std::string_view request,
                    const std::vector<std::size_t>& cuts) {
    std::size_t at = 0;
    for (const std::size_t cut : cuts) {
        if (!c.send(request.substr(at, cut - at))) return false;
        at = cut;
        bool seen = true;
        const bool reached = wait_until([&] {
            const auto all = server_read_all(c, port);
            seen = all.has_value();
            return !all || *all;
        });
        if (!seen) {
            MESSAGE("cannot watch the server's receive queue: the cut at " << cut
                                                                           << " is not enforced");
        }
        if (!reached) MESSAGE("the server did not read up to " << cut << " in time");
    }
    return c.send(request.substr(at));
}

// ---- requests ----

std::string hex(std::size_t n) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%zx", n);
    return buf;
}

// `body` in chunked framing, chunks of 1 B to `max_chunk` bytes (random from `seed`).
std::string chunked(std::string_view body, std::uint64_t seed, std::size_t max_chunk = 40000) {
    std::mt19937_64 rng(seed);
    std::string out;
    while (!body.empty()) {
        const std::size_t n = std::min<std::size_t>(body.size(), 1 + rng() % max_chunk);
        out.append(hex(n)).append("\r\n").append(body.substr(0, n)).append("\r\n");
        body.remove_prefix(n);
    }
    out.append("0\r\n\r\n");
    return out;
}

enum class Framing { length, chunked };

const char* framing_name(Framing f) { return f == Framing::length ? "Content-Length" : "chunked"; }

// A request with `body`, framed as asked; `headers` are complete CRLF lines.
std::string request(std::string_view method, std::string_view target, std::string_view body,
                    Framing framing, std::string_view headers = {}, std::uint64_t seed = 1) {
    std::string h(headers);
    if (framing == Framing::length) {
        h += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        return http_request(method, target, h) + std::string(body);
    }
    h += "Transfer-Encoding: chunked\r\n";
    return http_request(method, target, h) + chunked(body, seed);
}

std::string put(std::string_view name, std::string_view body, Framing framing = Framing::length,
                std::string_view headers = {}) {
    return request("PUT", "/upload/" + std::string(name), body, framing,
                   "Content-Type: application/octet-stream\r\n" + std::string(headers));
}

using Part = FormPart;

// A multipart/form-data body with `parts`, closed unless `close` is false.
std::string multipart(const std::vector<Part>& parts, bool close = true) {
    return form_data(parts, kBoundary, close);
}

// A file part whose header section is over 8 KiB (the default max_part_header_bytes), then
// the close delimiter.
std::string oversized_part_head() {
    const std::string b(kBoundary);
    return "--" + b + "\r\nContent-Disposition: form-data; name=\"b\"; filename=\"b\"\r\n" +
           "X-Pad: " + std::string(9 * kKiB, 'p') + "\r\n\r\ndata\r\n--" + b + "--\r\n";
}

std::string form_type() {
    return "Content-Type: multipart/form-data; boundary=" + std::string(kBoundary) + "\r\n";
}

std::string post(std::string_view body, Framing framing = Framing::length,
                 std::string_view headers = {}, std::uint64_t seed = 1) {
    return request("POST", "/upload", body, framing, form_type() + std::string(headers), seed);
}

std::string digest_header(std::string_view field, std::string_view bytes) {
    return std::string(field) + ": " +
           vstream::http::format_sha256_digest(vstream::crypto::sha256(bytes)) + "\r\n";
}

// ---- answers ----

struct StoredFile {
    std::string field, filename, name, sha256, content_type;
    std::uint64_t size = 0;
};

struct Stored {
    bool valid = false;
    std::vector<StoredFile> files;
    std::vector<std::pair<std::string, std::string>> fields;
};

// A 201's body: UploadResult::to_json().
Stored parse_stored(const std::string& json) {
    Stored s;
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(json).get(doc) != simdjson::SUCCESS) return s;
    simdjson::dom::array files;
    simdjson::dom::object fields;
    if (doc["files"].get(files) != simdjson::SUCCESS) return s;
    if (doc["fields"].get(fields) != simdjson::SUCCESS) return s;
    for (simdjson::dom::element f : files) {
        StoredFile x;
        std::string_view v;
        const auto text = [&](const char* key, std::string& out) {
            if (f[key].get(v) != simdjson::SUCCESS) return false;
            out = std::string(v);
            return true;
        };
        if (!text("field", x.field) || !text("filename", x.filename) || !text("name", x.name) ||
            !text("sha256", x.sha256) || !text("content_type", x.content_type) ||
            f["size"].get(x.size) != simdjson::SUCCESS) {
            return s;
        }
        s.files.push_back(std::move(x));
    }
    for (const auto field : fields) {
        std::string_view v;
        if (field.value.get(v) != simdjson::SUCCESS) return s;
        s.fields.emplace_back(std::string(field.key), std::string(v));
    }
    s.valid = true;
    return s;
}

// The "error" of a {"error": "..."} answer, or "" when the body is not one.
std::string error_of(const std::string& json) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    std::string_view v;
    if (parser.parse(json).get(doc) != simdjson::SUCCESS) return {};
    if (doc["error"].get(v) != simdjson::SUCCESS) return {};
    return std::string(v);
}

// The answer to a stored upload is 201 with one file `name` holding exactly `bytes`, which
// is on disk, byte-exact, with nothing else in the directory but `others`.
void check_one_stored(const UploadSite& site, const std::optional<Response>& r,
                      std::string_view name, std::string_view bytes,
                      std::vector<std::string> others = {}) {
    REQUIRE(r);
    CHECK(r->status == 201);
    const Stored s = parse_stored(r->body);
    REQUIRE(s.valid);
    REQUIRE(s.files.size() == 1);
    CHECK(s.files[0].name == name);
    CHECK(s.files[0].size == bytes.size());
    CHECK(s.files[0].sha256 == sha_hex(bytes));
    CHECK(byte_exact(read_file(site.at(name)), bytes));
    others.emplace_back(name);
    std::sort(others.begin(), others.end());
    CHECK(list(site.options.dir) == others);
    CHECK(open_files_in(site.options.dir).size() == 0);
}

// Removes everything in `dir` (between the runs of one test).
void clean(const std::string& dir) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        std::filesystem::remove_all(entry.path());
    }
}

// A 1 MiB block of the GiB stream, block `i`: splitmix64 output, generated on the fly.
void fill_block(std::string& buf, std::uint64_t i) {
    std::uint64_t x = i * 0x632be59bd9b4e019ull;
    for (std::size_t at = 0; at + 8 <= buf.size(); at += 8) {
        x += 0x9e3779b97f4a7c15ull;
        std::uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        std::memcpy(buf.data() + at, &z, 8);
    }
}

}  // namespace

TEST_SUITE("integration/upload") {

TEST_CASE("raw PUT bodies of 0 B to 1 MiB are stored byte-exact, Content-Length and chunked") {
    UploadSite site;
    const std::size_t sizes[] = {
        0, 1, 1000, kReadBuffer - 1, kReadBuffer, kReadBuffer + 1, 3 * kReadBuffer + 7, kMiB + 3};
    for (const Framing framing : {Framing::length, Framing::chunked}) {
        for (const std::size_t size : sizes) {
            CAPTURE(framing_name(framing));
            CAPTURE(size);
            const std::string bytes = random_bytes(size, size + 1);
            const std::string name = "raw-" + std::to_string(size) + ".bin";
            RawClient c(site.port());
            bound_sends(c);
            REQUIRE(c.send(put(name, bytes, framing)));
            const auto r = c.read_response();
            check_one_stored(site, r, name, bytes);
            const Stored s = parse_stored(r->body);
            REQUIRE(s.files.size() == 1);
            CHECK(s.files[0].field.empty());
            CHECK(s.files[0].filename == name);
            CHECK(s.files[0].content_type == "application/octet-stream");
            CHECK(s.fields.empty());
            CHECK(r->header("connection") != "close");  // the connection serves on
            c.send(http_request("GET", "/ping"));
            const auto next = c.read_response();
            REQUIRE(next);
            CHECK(next->status == 200);
            clean(site.dir);
        }
    }
}

TEST_CASE(
    "a raw PUT whose body crosses 64 KiB read borders in separate writes is stored "
    "byte-exact") {
    UploadSite site;
    for (const std::size_t size :
         {kReadBuffer - 1, kReadBuffer, kReadBuffer + 1, 2 * kReadBuffer + 1}) {
        CAPTURE(size);
        const std::string bytes = random_bytes(size, size);
        const std::string req = put("split.bin", bytes);
        const std::size_t body_at = req.size() - size;
        // The head alone, then reads that end exactly at 64 KiB of body (and one byte either
        // side of it).
        std::vector<std::size_t> cuts = {body_at};
        for (const std::size_t at : {kReadBuffer - 1, kReadBuffer, kReadBuffer + 1}) {
            if (at < size) cuts.push_back(body_at + at);
        }
        RawClient c(site.port());
        bound_sends(c);
        REQUIRE(send_in_pieces(c, site.port(), req, cuts));
        check_one_stored(site, c.read_response(), "split.bin", bytes);
        clean(site.dir);
    }
}

TEST_CASE(
    "multipart POSTs of files of 0 B to 1 MiB with fields are stored byte-exact, "
    "Content-Length and chunked") {
    UploadSite site;
    const std::size_t sizes[] = {0, 1, kReadBuffer - 1, kReadBuffer, kReadBuffer + 1, kMiB + 5};
    for (const Framing framing : {Framing::length, Framing::chunked}) {
        for (const std::size_t size : sizes) {
            CAPTURE(framing_name(framing));
            CAPTURE(size);
            const std::string a = random_bytes(size, 100 + size);
            const std::string b = random_bytes(size / 3 + 1, 200 + size);
            const std::string body = multipart({
                {"title", std::nullopt, "", "holiday"},
                {"a", std::string("a.bin"), "application/octet-stream", a},
                {"nothing", std::string(""), "application/octet-stream", ""},
                {"b", std::string("b.txt"), "text/plain", b},
            });
            RawClient c(site.port());
            bound_sends(c);
            REQUIRE(c.send(post(body, framing, digest_header("Content-Digest", body), size)));
            const auto r = c.read_response();
            REQUIRE(r);
            CHECK(r->status == 201);
            const Stored s = parse_stored(r->body);
            REQUIRE(s.valid);
            REQUIRE(s.files.size() == 2);
            CHECK(s.files[0].field == "a");
            CHECK(s.files[0].filename == "a.bin");
            CHECK(s.files[0].name == "a.bin");
            CHECK(s.files[0].size == a.size());
            CHECK(s.files[0].sha256 == sha_hex(a));
            CHECK(s.files[0].content_type == "application/octet-stream");
            CHECK(s.files[1].name == "b.txt");
            CHECK(s.files[1].sha256 == sha_hex(b));
            CHECK(s.files[1].content_type == "text/plain");
            CHECK(s.fields ==
                  std::vector<std::pair<std::string, std::string>>{{"title", "holiday"}});
            CHECK(list(site.dir) == std::vector<std::string>{"a.bin", "b.txt"});
            CHECK(byte_exact(read_file(site.at("a.bin")), a));
            CHECK(byte_exact(read_file(site.at("b.txt")), b));
            CHECK(open_files_in(site.dir).size() == 0);
            clean(site.dir);
        }
    }
}

TEST_CASE(
    "a multipart delimiter split across writes at a 64 KiB read border, at every byte "
    "around it, is found and the file stored byte-exact") {
    UploadSite site;
    const std::string delimiter = "\r\n--" + std::string(kBoundary);
    const std::size_t L = delimiter.size();
    // k bytes of the delimiter in the first write, which ends at 64 KiB of the stream (and
    // again at 128 KiB, for the delimiter between two parts).
    std::vector<std::size_t> ks = {0, 1, 2, 3, 4, L / 2, L - 1, L, L + 1, L + 2, L + 3, L + 4};
    for (const bool between : {false, true}) {
        for (const std::size_t k : ks) {
            CAPTURE(between);
            CAPTURE(k);
            // Size the first file so that the delimiter after it starts k bytes before the
            // border (the head's Content-Length digits may change once over the adjustment).
            const std::size_t border = between ? 2 * kReadBuffer : kReadBuffer;
            const std::string b = between ? random_bytes(3000, k + 7) : std::string();
            std::size_t size = border;
            std::string req;
            std::string a;
            for (int attempt = 0; attempt < 4; ++attempt) {
                a = random_bytes(size, k + 1);
                std::vector<Part> parts = {{"a", std::string("a.bin"), "", a}};
                if (between) parts.push_back({"b", std::string("b.bin"), "", b});
                req = post(multipart(parts));
                const std::size_t data_at =
                    req.find("\r\n\r\n", req.find("filename=\"a.bin\"")) + 4;
                const std::size_t delim_at = data_at + a.size();  // the CRLF ending a's data
                REQUIRE(req.compare(delim_at, L, delimiter) == 0);
                if (delim_at + k == border) break;
                size = border - k - data_at;
            }
            REQUIRE(req.compare(border - k, L, delimiter) == 0);
            RawClient c(site.port());
            bound_sends(c);
            REQUIRE(send_in_pieces(c, site.port(), req, {border}));
            const auto r = c.read_response();
            if (between) {
                REQUIRE(r);
                CHECK(r->status == 201);
                CHECK(byte_exact(read_file(site.at("a.bin")), a));
                CHECK(byte_exact(read_file(site.at("b.bin")), b));
                CHECK(list(site.dir) == std::vector<std::string>{"a.bin", "b.bin"});
            } else {
                check_one_stored(site, r, "a.bin", a);
            }
            clean(site.dir);
        }
    }
}

TEST_CASE(
    "a file holding the start of the delimiter at a 64 KiB read border is stored "
    "byte-exact") {
    UploadSite site;
    const std::string delimiter = "\r\n--" + std::string(kBoundary);
    for (const std::size_t held : {std::size_t{1}, std::size_t{4}, delimiter.size() - 1}) {
        CAPTURE(held);
        // The file ends with all but the last bytes of the delimiter, then "X": data, not a
        // delimiter, which the parser must hold back across the read border and hand out.
        std::string a = random_bytes(kReadBuffer, held);
        a += delimiter.substr(0, held) + "X";
        const std::string req = post(multipart({{"a", std::string("a.bin"), "", a}}));
        const std::size_t start = req.find(delimiter.substr(0, held) + "X");
        REQUIRE(start != std::string::npos);
        RawClient c(site.port());
        bound_sends(c);
        REQUIRE(send_in_pieces(c, site.port(), req, {start + held}));
        check_one_stored(site, c.read_response(), "a.bin", a);
        clean(site.dir);
    }
}

TEST_CASE("a raw PUT of 1 GiB streamed with Content-Length is stored byte-exact") {
    UploadSite site;
    // Measured on the 2-core test machine over loopback: about 1.5 to 6 s with gcc -O2 and
    // about 1.5 to 2.5 s under ASan+UBSan (the bytes go through OpenSSL's SHA-256 and write(2),
    // neither instrumented), so no sanitizer build needs a smaller size.
    constexpr std::size_t total = 1024 * kMiB;
    constexpr std::size_t blocks = total / kMiB;
    const auto start = std::chrono::steady_clock::now();
    RawClient c(site.port(), 60s);
    bound_sends(c, 60s);
    REQUIRE(c.send(http_request("PUT", "/upload/big.bin",
                                "Content-Length: " + std::to_string(total) + "\r\n")));
    vstream::crypto::Sha256 sent;
    std::string block(kMiB, '\0');
    bool ok = true;
    for (std::size_t i = 0; i < blocks && ok; ++i) {
        fill_block(block, i);
        sent.update(block);
        ok = c.send(block);
    }
    REQUIRE(ok);
    const std::string want = vstream::crypto::to_hex(sent.finish());
    const auto r = c.read_response();
    const auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(r);
    CHECK(r->status == 201);
    const Stored s = parse_stored(r->body);
    REQUIRE(s.valid);
    REQUIRE(s.files.size() == 1);
    CHECK(s.files[0].name == "big.bin");
    CHECK(s.files[0].size == total);
    CHECK(s.files[0].sha256 == want);
    CHECK(std::filesystem::file_size(site.at("big.bin")) == total);
    CHECK(file_sha_hex(site.at("big.bin")) == want);
    CHECK(open_files_in(site.dir).size() == 0);
    MESSAGE((total / kMiB) << " MiB stored in "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                           << " ms (verified on disk after)");
    std::filesystem::remove(site.at("big.bin"));
}

TEST_CASE("curl -F (multipart) and curl -T (raw PUT) uploads are stored byte-exact") {
    if (!have_curl()) {
        MESSAGE("skipped: curl is not installed");
        return;
    }
    UploadSite site;
    const std::string src = site.tmp.at("source.bin");
    const std::string bytes = random_bytes(2 * kMiB + 17, 77);  // large enough for Expect
    site.tmp.write("source.bin", bytes);

    SUBCASE("curl -F") {
        const Run run = vstream::test::run(
            curl(site.port(), "-F 'file=@" + src + ";filename=clip.mp4;type=video/mp4' -F 'k=v'",
                 "/upload"));
        REQUIRE(run.exit_code == 0);
        const Stored s = parse_stored(run.out);
        REQUIRE(s.valid);
        REQUIRE(s.files.size() == 1);
        CHECK(s.files[0].field == "file");
        CHECK(s.files[0].name == "clip.mp4");
        CHECK(s.files[0].content_type == "video/mp4");
        CHECK(s.files[0].sha256 == sha_hex(bytes));
        CHECK(s.fields == std::vector<std::pair<std::string, std::string>>{{"k", "v"}});
        CHECK(byte_exact(read_file(site.at("clip.mp4")), bytes));
    }
    SUBCASE("curl -T") {
        const Run run =
            vstream::test::run(curl(site.port(), "-T '" + src + "'", "/upload/put.bin"));
        REQUIRE(run.exit_code == 0);
        const Stored s = parse_stored(run.out);
        REQUIRE(s.valid);
        REQUIRE(s.files.size() == 1);
        CHECK(s.files[0].name == "put.bin");
        CHECK(s.files[0].sha256 == sha_hex(bytes));
        CHECK(byte_exact(read_file(site.at("put.bin")), bytes));
    }
    SUBCASE("curl -T from a pipe (chunked)") {
        const Run run = vstream::test::run("cat '" + src + "' | " +
                                           curl(site.port(), "-T -", "/upload/piped.bin"));
        REQUIRE(run.exit_code == 0);
        const Stored s = parse_stored(run.out);
        REQUIRE(s.valid);
        REQUIRE(s.files.size() == 1);
        CHECK(s.files[0].sha256 == sha_hex(bytes));
        CHECK(byte_exact(read_file(site.at("piped.bin")), bytes));
    }
    CHECK(open_files_in(site.dir).size() == 0);
}

TEST_CASE("malformed multipart is answered 400 with a JSON error and leaves no file") {
    UploadSite site;
    std::string req;
    SUBCASE("no boundary parameter") {
        const std::string body = multipart({{"a", std::string("a.bin"), "", "aaa"}});
        req = request("POST", "/upload", body, Framing::length,
                      "Content-Type: multipart/form-data\r\n");
    }
    SUBCASE("an invalid boundary parameter") {
        req = request("POST", "/upload", "x", Framing::length,
                      "Content-Type: multipart/form-data; boundary=\"\"\r\n");
    }
    SUBCASE("a body truncated before the close delimiter") {
        const std::string body = multipart(
            {{"a", std::string("a.bin"), "", random_bytes(200 * kKiB, 3)}}, /*close=*/false);
        req = post(body);
    }
    SUBCASE("a chunked body truncated before the close delimiter") {
        const std::string body = multipart(
            {{"a", std::string("a.bin"), "", random_bytes(200 * kKiB, 3)}}, /*close=*/false);
        req = post(body, Framing::chunked);
    }
    SUBCASE("part headers over 8 KiB") { req = post(oversized_part_head()); }
    SUBCASE("a second file's headers over 8 KiB after a stored first file") {
        const std::string first =
            multipart({{"a", std::string("a.bin"), "", random_bytes(100 * kKiB, 4)}}, false);
        req = post(first + oversized_part_head());
    }
    SUBCASE("a delimiter followed by garbage") {
        req = post(multipart({{"a", std::string("a.bin"), "", "aaa"}}, false) + "--" +
                   std::string(kBoundary) + "garbage\r\n");
    }
    RawClient c(site.port());
    bound_sends(c);
    c.send(req);  // the server may answer, and close, before it has the whole body
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 400);
    CHECK_FALSE(error_of(r->body).empty());
    MESSAGE("400: " << r->body);
    CHECK(dir_clean(site.dir));
    check_serving(site.port());
}

TEST_CASE(
    "a Content-Length over max_bytes is answered 413 at once, without 100 Continue, "
    "and leaves no file") {
    UploadSite site([](UploadOptions& o) { o.max_bytes = 64 * kKiB; });
    RawClient c(site.port());
    bound_sends(c);
    SUBCASE("raw PUT with Expect: 100-continue") {
        REQUIRE(c.send(http_request("PUT", "/upload/big.bin",
                                    "Content-Length: 1048576\r\nExpect: 100-continue\r\n")));
    }
    SUBCASE("multipart POST with Expect: 100-continue") {
        REQUIRE(c.send(http_request("POST", "/upload",
                                    form_type() + "Content-Length: 1048576\r\n"
                                                  "Expect: 100-continue\r\n")));
    }
    SUBCASE("raw PUT with the body sent along") {
        c.send(put("big.bin", random_bytes(256 * kKiB, 5)));
    }
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);  // the first status line on the wire: no 100 before it
    CHECK(c.buffered().find("100 Continue") == std::string::npos);
    CHECK(c.wait_closed());
    CHECK(dir_clean(site.dir));
    check_serving(site.port());
    // Exactly max_bytes is accepted.
    check_one_stored(site, roundtrip(site.port(), put("exact.bin", random_bytes(64 * kKiB, 6))),
                     "exact.bin", random_bytes(64 * kKiB, 6));
}

TEST_CASE(
    "a chunked body growing past max_bytes is answered 413 while streaming and leaves "
    "no file") {
    UploadSite site([](UploadOptions& o) { o.max_bytes = 300 * kKiB; });
    RawClient c(site.port());
    bound_sends(c);
    SUBCASE("raw PUT") { c.send(put("big.bin", random_bytes(kMiB, 7), Framing::chunked)); }
    SUBCASE("multipart POST") {
        c.send(post(multipart({{"a", std::string("a.bin"), "", random_bytes(kMiB, 8)}}),
                    Framing::chunked));
    }
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(dir_clean(site.dir));
    check_serving(site.port());
}

TEST_CASE("a client that disconnects mid-upload leaves no file, and the server serves on") {
    UploadSite site;
    bool reset = false;
    bool multipart_body = false;
    SUBCASE("raw PUT, FIN") {}
    SUBCASE("raw PUT, reset") { reset = true; }
    SUBCASE("multipart POST, FIN") { multipart_body = true; }
    SUBCASE("multipart POST, reset") {
        multipart_body = true;
        reset = true;
    }
    CAPTURE(reset);
    CAPTURE(multipart_body);
    {
        RawClient c(site.port());
        bound_sends(c);
        const std::string part = random_bytes(300 * kKiB, 9);
        if (multipart_body) {
            const std::string body = multipart({{"a", std::string("a.bin"), "", part + part}});
            const std::string req = post(body);
            REQUIRE(c.send(std::string_view(req).substr(0, req.size() - part.size())));
        } else {
            REQUIRE(c.send(http_request("PUT", "/upload/gone.bin", "Content-Length: 10485760\r\n") +
                           part));
        }
        // The server is mid-upload: its temporary file is open (and has no name).
        REQUIRE(wait_until([&] { return open_files_in(site.dir).size() == 1; }));
        CHECK(list(site.dir).empty());
        if (reset) {
            const linger now{1, 0};
            REQUIRE(::setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &now, sizeof now) == 0);
        }
    }  // closed
    REQUIRE(wait_until([&] { return site.server->server().stats().connections_open == 0; }));
    CHECK(dir_clean(site.dir));
    check_serving(site.port());
}

TEST_CASE("a body that stalls for Timeouts::body_read is answered 408 and leaves no file") {
    ServerConfig config = upload_config();
    config.timeouts.body_read = 300ms;
    UploadSite site({}, config);
    RawClient c(site.port());
    bound_sends(c);
    SUBCASE("raw PUT") {
        REQUIRE(c.send(http_request("PUT", "/upload/stall.bin", "Content-Length: 1048576\r\n") +
                       random_bytes(100 * kKiB, 10)));
    }
    SUBCASE("multipart POST") {
        const std::string req =
            post(multipart({{"a", std::string("a.bin"), "", random_bytes(kMiB, 11)}}));
        REQUIRE(c.send(std::string_view(req).substr(0, 200 * kKiB)));
    }
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 408);
    CHECK(c.wait_closed());
    CHECK(dir_clean(site.dir));
    check_serving(site.port());
}

TEST_CASE(
    "an upload still arriving after UploadOptions::timeout is answered 408 and leaves "
    "no file, though it never stalls") {
    UploadSite site([](UploadOptions& o) { o.timeout = 400ms; });
    RawClient c(site.port());
    bound_sends(c, 2s);
    REQUIRE(c.send(http_request("PUT", "/upload/slow.bin", "Content-Length: 100000\r\n")));
    std::atomic<bool> stop{false};
    std::thread trickle([&] {
        // 1 KiB every 20 ms, far inside the stall timeout (30 s): the whole body would take
        // 2 s. (The sleep paces the client; it synchronises nothing.)
        const std::string piece = random_bytes(kKiB, 12);
        for (int i = 0; i < 97 && !stop; ++i) {
            if (!c.send(piece)) break;
            std::this_thread::sleep_for(20ms);
        }
    });
    const auto r = c.read_response();
    stop = true;
    trickle.join();
    REQUIRE(r);
    CHECK(r->status == 408);
    MESSAGE("408: " << r->body);
    CHECK(dir_clean(site.dir));
    check_serving(site.port());
}

TEST_CASE(
    "a body that does not match its Content-Digest or Repr-Digest is answered 400 and "
    "leaves no file") {
    UploadSite site;
    const std::string bytes = random_bytes(200 * kKiB, 13);
    const std::string form = multipart({{"a", std::string("a.bin"), "", bytes}});
    std::string other = bytes;
    other[1000] ^= 1;
    for (const char* field : {"Content-Digest", "Repr-Digest"}) {
        for (const Framing framing : {Framing::length, Framing::chunked}) {
            CAPTURE(field);
            CAPTURE(framing_name(framing));
            {
                const auto r = roundtrip(site.port(),
                                         put("d.bin", bytes, framing, digest_header(field, other)));
                REQUIRE(r);
                CHECK(r->status == 400);
                CHECK(error_of(r->body).find("digest") != std::string::npos);
                CHECK(dir_clean(site.dir));
            }
            {
                const auto r =
                    roundtrip(site.port(), post(form, framing, digest_header(field, bytes)));
                REQUIRE(r);
                CHECK(r->status == 400);
                CHECK(dir_clean(site.dir));
            }
            // A matching digest is accepted.
            check_one_stored(
                site,
                roundtrip(site.port(), put("d.bin", bytes, framing, digest_header(field, bytes))),
                "d.bin", bytes);
            clean(site.dir);
        }
    }
    SUBCASE("a malformed digest field is 400 before the body is read") {
        const auto r = roundtrip(
            site.port(), put("d.bin", bytes, Framing::length, "Content-Digest: sha-256=abc\r\n"));
        REQUIRE(r);
        CHECK(r->status == 400);
        CHECK(dir_clean(site.dir));
    }
    check_serving(site.port());
}

TEST_CASE("an existing name is answered 409 and the original file is left intact") {
    UploadSite site;
    site.tmp.write("up/taken.bin", "the original");
    SUBCASE("raw PUT") {
        const auto r = roundtrip(site.port(), put("taken.bin", random_bytes(100 * kKiB, 14)));
        REQUIRE(r);
        CHECK(r->status == 409);
        CHECK_FALSE(error_of(r->body).empty());
    }
    SUBCASE("multipart POST, after another file of the same body was named") {
        const auto r = roundtrip(site.port(), post(multipart({
                                                  {"a", std::string("free.bin"), "", "free"},
                                                  {"b", std::string("taken.bin"), "", "new"},
                                              })));
        REQUIRE(r);
        CHECK(r->status == 409);
    }
    CHECK(list(site.dir) == std::vector<std::string>{"taken.bin"});
    CHECK(read_file(site.at("taken.bin")) == "the original");
    CHECK(wait_until([&] { return open_files_in(site.dir).size() == 0; }));
    check_serving(site.port());
}

TEST_CASE("a full disk is answered 507 and leaves the disk empty") {
    TempDir outer;
    const std::string mount_point = outer.at("small");
    std::filesystem::create_directory(mount_point);
    TmpfsMount small(mount_point, "size=2m,mode=0755");
    if (!small.mounted()) {
        MESSAGE("skipped: mounting a 2 MiB tmpfs failed (" << std::strerror(small.error())
                                                           << "); this test needs root or "
                                                              "CAP_SYS_ADMIN");
        return;
    }
    struct statvfs empty {};
    REQUIRE(::statvfs(mount_point.c_str(), &empty) == 0);
    UploadSite site([&](UploadOptions& o) { o.dir = mount_point; });
    const std::string bytes = random_bytes(4 * kMiB, 15);
    RawClient c(site.port());
    bound_sends(c);
    SUBCASE("raw PUT, Content-Length") { c.send(put("full.bin", bytes)); }
    SUBCASE("raw PUT, chunked") { c.send(put("full.bin", bytes, Framing::chunked)); }
    SUBCASE("multipart POST") {
        c.send(post(multipart(
            {{"a", std::string("a.bin"), "", "small"}, {"b", std::string("b.bin"), "", bytes}})));
    }
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 507);
    CHECK_FALSE(error_of(r->body).empty());
    CHECK(dir_clean(mount_point));
    CHECK(wait_until([&] {
        struct statvfs now {};
        return ::statvfs(mount_point.c_str(), &now) == 0 && now.f_bfree == empty.f_bfree;
    }));
    check_serving(site.port());
    // Something that fits is still stored.
    check_one_stored(site, roundtrip(site.port(), put("fits.bin", random_bytes(kMiB, 16))),
                     "fits.bin", random_bytes(kMiB, 16));
}

TEST_CASE(
    "unsafe names from the URL and from a multipart filename are stored inside the "
    "directory only") {
    // The upload directory is tmp/x/up, and tmp/etc exists: "../../etc/passwd" from the
    // upload directory would land in tmp/etc.
    UploadSite site([](UploadOptions& o) {
        const std::filesystem::path tmp = std::filesystem::path(o.dir).parent_path();
        std::filesystem::create_directories(tmp / "x" / "up");
        std::filesystem::create_directories(tmp / "etc");
        o.dir = (tmp / "x" / "up").string();
    });
    const std::string deep = site.options.dir;
    const auto r = roundtrip(site.port(), put("..%2F..%2Fetc%2Fpasswd", "root::0:0::/:/bin/sh\n"));
    REQUIRE(r);
    MESSAGE("PUT /upload/..%2F..%2Fetc%2Fpasswd: " << r->status << " " << r->body);
    if (r->status == 201) {
        const Stored s = parse_stored(r->body);
        REQUIRE(s.files.size() == 1);
        CHECK(s.files[0].name == "passwd");
        CHECK(read_file(deep + "/passwd") == "root::0:0::/:/bin/sh\n");
    } else {
        CHECK(r->status >= 400);  // refused outright is safe too
    }
    const auto m =
        roundtrip(site.port(), post(multipart({{"f", std::string("../../x"), "", "xx"}})));
    REQUIRE(m);
    CHECK(m->status == 201);
    const Stored s = parse_stored(m->body);
    REQUIRE(s.files.size() == 1);
    CHECK(s.files[0].filename == "../../x");
    CHECK(s.files[0].name == "x");
    CHECK(read_file(deep + "/x") == "xx");

    // A filename that is not UTF-8 (ISO-8859-1 "caf\xe9") still gives valid JSON (U+FFFD).
    const auto latin =
        roundtrip(site.port(), post(multipart({{"f", std::string("caf\xe9.txt"), "", "l"}})));
    REQUIRE(latin);
    CHECK(latin->status == 201);
    const Stored ls = parse_stored(latin->body);
    REQUIRE(ls.valid);
    REQUIRE(ls.files.size() == 1);
    CHECK(ls.files[0].filename == "caf\xef\xbf\xbd.txt");
    CHECK(ls.files[0].name == "caf_.txt");

    CHECK(list(site.tmp.at("etc")).empty());
    CHECK(list(site.tmp.at("x")) == std::vector<std::string>{"up"});
    CHECK(list(site.tmp.path().string()) == std::vector<std::string>{"etc", "up", "x"});
    for (const std::string& name : list(deep)) {
        CHECK((name == "passwd" || name == "x" || name == "caf_.txt"));
    }
}

TEST_CASE("eight uploads at once are all stored byte-exact") {
    UploadSite site({}, upload_config(2));
    constexpr int kUploads = 8;
    std::vector<std::string> bodies;
    for (int i = 0; i < kUploads; ++i) {
        bodies.push_back(random_bytes((i + 1) * 300 * kKiB + i, 500 + i));
    }
    std::vector<std::optional<Response>> answers(kUploads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kUploads; ++i) {
        threads.emplace_back([&, i] {
            try {
                RawClient c(site.port(), 30s);
                bound_sends(c, 30s);
                const std::string name = "c" + std::to_string(i) + ".bin";
                std::string req;
                switch (i % 3) {
                    case 0: req = put(name, bodies[i]); break;
                    case 1: req = put(name, bodies[i], Framing::chunked); break;
                    default:
                        req = post(multipart({{"f", name, "", bodies[i]}}),
                                   i % 2 == 0 ? Framing::length : Framing::chunked);
                        break;
                }
                if (c.send(req)) answers[i] = c.read_response();
            } catch (...) {
                // answers[i] stays empty: reported below
            }
        });
    }
    for (std::thread& t : threads) t.join();
    std::vector<std::string> names;
    for (int i = 0; i < kUploads; ++i) {
        CAPTURE(i);
        const std::string name = "c" + std::to_string(i) + ".bin";
        names.push_back(name);
        REQUIRE(answers[i]);
        CHECK(answers[i]->status == 201);
        const Stored s = parse_stored(answers[i]->body);
        REQUIRE(s.files.size() == 1);
        CHECK(s.files[0].name == name);
        CHECK(s.files[0].sha256 == sha_hex(bodies[i]));
        CHECK(byte_exact(read_file(site.at(name)), bodies[i]));
    }
    std::sort(names.begin(), names.end());
    CHECK(list(site.dir) == names);
    CHECK(open_files_in(site.dir).size() == 0);
    check_serving(site.port());
}

TEST_CASE("eight uploads under one name at once: one is stored whole, the others get 409") {
    UploadSite site({}, upload_config(2));
    constexpr int kUploads = 8;
    std::vector<std::string> bodies;
    for (int i = 0; i < kUploads; ++i) bodies.push_back(random_bytes(200 * kKiB + i, 600 + i));
    std::vector<std::optional<Response>> answers(kUploads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kUploads; ++i) {
        threads.emplace_back([&, i] {
            try {
                RawClient c(site.port(), 30s);
                bound_sends(c, 30s);
                std::string req;
                if (i % 2 == 0) {
                    req = put("same.bin", bodies[i]);
                } else {
                    req = post(multipart({{"f", std::string("same.bin"), "", bodies[i]}}));
                }
                if (c.send(req)) answers[i] = c.read_response();
            } catch (...) {
                // answers[i] stays empty: reported below
            }
        });
    }
    for (std::thread& t : threads) t.join();
    int stored = -1;
    int conflicts = 0;
    for (int i = 0; i < kUploads; ++i) {
        CAPTURE(i);
        REQUIRE(answers[i]);
        if (answers[i]->status == 201) {
            CHECK(stored == -1);
            stored = i;
        } else {
            CHECK(answers[i]->status == 409);
            ++conflicts;
        }
    }
    REQUIRE(stored >= 0);
    CHECK(conflicts == kUploads - 1);
    CHECK(list(site.dir) == std::vector<std::string>{"same.bin"});
    CHECK(byte_exact(read_file(site.at("same.bin")), bodies[static_cast<std::size_t>(stored)]));
    CHECK(dir_clean_but(site.dir, 1));
}

TEST_CASE(
    "fields over max_memory and parts over max_parts are answered 413 with a JSON error "
    "and leave no file") {
    UploadSite site([](UploadOptions& o) {
        o.max_memory = 1000;
        o.max_parts = 3;
    });
    std::string body;
    SUBCASE("max_memory") {
        body = multipart({{"a", std::string("a.bin"), "", random_bytes(100 * kKiB, 18)},
                          {"k", std::nullopt, "", std::string(2000, 'v')}});
    }
    SUBCASE("max_parts") {
        body = multipart({{"a", std::string("a.bin"), "", random_bytes(100 * kKiB, 19)},
                          {"b", std::string("b.bin"), "", "b"},
                          {"c", std::string("c.bin"), "", "c"},
                          {"d", std::string("d.bin"), "", "d"}});
    }
    RawClient c(site.port());
    bound_sends(c);
    c.send(post(body));
    const auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK_FALSE(error_of(r->body).empty());
    CHECK(dir_clean(site.dir));
    check_serving(site.port());
}

TEST_CASE("without UploadOptions::max_bytes, Limits::max_stream_body_bytes bounds an upload") {
    ServerConfig config = upload_config();
    config.limits.max_stream_body_bytes = 100 * kKiB;
    UploadSite site({}, config);
    const auto r = roundtrip(site.port(), put("big.bin", random_bytes(100 * kKiB + 1, 20)));
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(dir_clean(site.dir));
    const std::string fits = random_bytes(100 * kKiB, 21);
    check_one_stored(site, roundtrip(site.port(), put("fits.bin", fits, Framing::chunked)),
                     "fits.bin", fits);
}

TEST_CASE("with UploadOptions::sync, uploads are stored the same") {
    UploadSite site([](UploadOptions& o) { o.sync = true; });
    const std::string bytes = random_bytes(300 * kKiB, 22);
    check_one_stored(site, roundtrip(site.port(), put("synced.bin", bytes)), "synced.bin", bytes);
    clean(site.dir);
    const std::string form = multipart({{"f", std::string("s.bin"), "", bytes}});
    check_one_stored(site, roundtrip(site.port(), post(form, Framing::chunked)), "s.bin", bytes);
}

TEST_CASE("an upload pipelined with a GET behind it in one write: both are answered, in order") {
    UploadSite site;
    const std::string bytes = random_bytes(200 * kKiB, 23);
    RawClient c(site.port());
    bound_sends(c);
    REQUIRE(c.send(put("first.bin", bytes, Framing::chunked) + http_request("GET", "/ping")));
    check_one_stored(site, c.read_response(), "first.bin", bytes);
    const auto second = c.read_response();
    REQUIRE(second);
    CHECK(second->status == 200);
    CHECK(second->body == "pong");
}

TEST_CASE("stopping the server mid-upload leaves no file") {
    UploadSite site;
    RawClient c(site.port());
    bound_sends(c);
    REQUIRE(c.send(http_request("PUT", "/upload/cut.bin", "Content-Length: 1048576\r\n") +
                   random_bytes(100 * kKiB, 24)));
    REQUIRE(wait_until([&] { return open_files_in(site.dir).size() == 1; }));
    site.server.reset();  // stops: the request in flight ends after shutdown_grace (500 ms)
    CHECK(dir_clean(site.dir));
}

TEST_CASE(
    "an upload directory that is missing is answered 500 with a JSON error that names "
    "no path") {
    UploadSite site([](UploadOptions& o) { o.dir += "/missing"; });
    const auto r = roundtrip(site.port(), put("x.bin", "bytes"));
    REQUIRE(r);
    CHECK(r->status == 500);
    const std::string error = error_of(r->body);
    CHECK_FALSE(error.empty());
    CHECK(error.find(site.dir) == std::string::npos);
    CHECK(list(site.dir).empty());
    check_serving(site.port());
}

// An upload's own limits are answered in JSON, before the body is read where the size is
// declared; a stall the engine cuts short is answered like every engine error, in plain text.
TEST_CASE("a declared size over the limit gets a JSON 413, a stall the engine's plain 408") {
    UploadSite site([](UploadOptions& o) {
        o.max_bytes = 1000;
        o.timeout = 300ms;
    });
    const auto big = roundtrip(site.port(), put("big.bin", random_bytes(5000, 17)));
    REQUIRE(big);
    CHECK(big->status == 413);
    CHECK_FALSE(error_of(big->body).empty());
    RawClient c(site.port());
    REQUIRE(c.send(http_request("PUT", "/upload/slow.bin", "Content-Length: 500\r\n") + "abc"));
    const auto slow = c.read_response();
    REQUIRE(slow);
    CHECK(slow->status == 408);
    CHECK(slow->body.find("not received in time") != std::string::npos);
    CHECK(dir_clean(site.dir));
}

// A handler that fails after its files were named: the client gets a 500, so none is kept.
TEST_CASE("a done callback that throws gets a 500 and leaves no file") {
    TempDir tmp;
    const std::string dir = tmp.at("up");
    std::filesystem::create_directory(dir);
    RoutedServer server(
        [&](Server& s) {
            s.handle_stream("PUT", "/upload/:name", [&](Context& ctx) {
                UploadOptions o;
                o.dir = dir;
                o.name = std::string(ctx.param("name"));
                ctx.receive_upload(std::move(o), [](Context&, UploadResult&) {
                    throw std::runtime_error("the database is down");
                });
            });
        },
        upload_config());
    const auto r = roundtrip(server.port(), put("kept.bin", "bytes"));
    REQUIRE(r);
    CHECK(r->status == 500);
    CHECK(dir_clean(dir));
}

}  // TEST_SUITE("integration/upload")
