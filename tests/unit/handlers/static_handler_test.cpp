// Tests StaticHandler (src/handlers/static_handler.cpp) through a real Server with serve_static:
// a few answers of each kind. Traversal in depth is in tests/integration/files_*_test.cpp.
#include "handlers/static_handler.hpp"

#include <vstream/error.hpp>

#include "raw_client.hpp"
#include "temp_dir.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>

using vstream::StaticOptions;
using vstream::handlers::StaticHandler;
using vstream::test::Response;
using vstream::test::roundtrip;
using vstream::test::TempDir;

namespace {

// root/{a.txt, .env, sub/index.html, bare/x.txt} served at `prefix`.
class StaticServer {
public:
    explicit StaticServer(StaticOptions options = {}, std::string prefix = "/files") {
        dir_.write("root/a.txt", "hello, file\n");
        dir_.write("root/.env", "SECRET=1\n");
        dir_.write("root/sub/index.html", "<p>index</p>\n");
        dir_.write("root/bare/x.txt", "x\n");
        server_ = std::make_unique<vstream::Server>(vstream::test::test_config());
        server_->serve_static(prefix, dir_.at("root"), std::move(options));
        server_->start();
    }
    ~StaticServer() { server_->stop(); }
    StaticServer(const StaticServer&) = delete;
    StaticServer& operator=(const StaticServer&) = delete;

    Response request(const std::string& method, const std::string& target,
                     const std::string& headers = "") {
        const std::optional<Response> r =
            roundtrip(server_->port(), method + " " + target + " HTTP/1.1\r\nHost: test\r\n" +
                                           headers + "Connection: close\r\n\r\n");
        REQUIRE(r);
        return *r;
    }
    Response get(const std::string& target) { return request("GET", target); }
    std::uint16_t port() const { return server_->port(); }

private:
    TempDir dir_;
    std::unique_ptr<vstream::Server> server_;
};

}  // namespace

TEST_SUITE("handlers/static_handler") {

TEST_CASE("a file below the root is served with its type and validators") {
    StaticServer s;
    const Response r = s.get("/files/a.txt");
    CHECK(r.status == 200);
    CHECK(r.body == "hello, file\n");
    CHECK(r.header("content-type").rfind("text/plain", 0) == 0);
    CHECK(r.header("content-length") == "12");
    CHECK(r.header("accept-ranges") == "bytes");
    CHECK_FALSE(r.header("etag").empty());
    CHECK_FALSE(r.header("last-modified").empty());
}

TEST_CASE("a range of a file answers 206 and HEAD answers without a body") {
    StaticServer s;
    const Response r = s.request("GET", "/files/a.txt", "Range: bytes=0-4\r\n");
    CHECK(r.status == 206);
    CHECK(r.body == "hello");
    CHECK(r.header("content-range") == "bytes 0-4/12");

    vstream::test::RawClient c(s.port());
    REQUIRE(c.send("HEAD /files/a.txt HTTP/1.1\r\nHost: test\r\n\r\n"));
    const std::optional<Response> h = c.read_response(true);
    REQUIRE(h);
    CHECK(h->status == 200);
    CHECK(h->header("content-length") == "12");
    CHECK(h->body.empty());
}

TEST_CASE("a dotfile answers 404 unless dotfiles are allowed") {
    {
        StaticServer s;
        CHECK(s.get("/files/.env").status == 404);
    }
    StaticOptions o;
    o.dotfiles = true;
    StaticServer s(o);
    const Response r = s.get("/files/.env");
    CHECK(r.status == 200);
    CHECK(r.body == "SECRET=1\n");
}

TEST_CASE("a missing file answers 404") {
    StaticServer s;
    CHECK(s.get("/files/missing.txt").status == 404);
    CHECK(s.get("/files/sub/missing/deeper.txt").status == 404);
}

TEST_CASE("a directory without its slash redirects 301 to the slash form, keeping the query") {
    StaticServer s;
    const Response r = s.get("/files/sub");
    CHECK(r.status == 301);
    CHECK(r.header("location") == "/files/sub/");
    const Response q = s.get("/files/sub?lang=en&x=1");
    CHECK(q.status == 301);
    CHECK(q.header("location") == "/files/sub/?lang=en&x=1");
}

TEST_CASE("a directory with its slash serves its index file") {
    StaticServer s;
    const Response r = s.get("/files/sub/");
    CHECK(r.status == 200);
    CHECK(r.body == "<p>index</p>\n");
    CHECK(r.header("content-type").rfind("text/html", 0) == 0);
    const Response root = s.get("/files/");
    CHECK(root.status == 404);  // the root has no index.html, and listing is off
}

TEST_CASE("a directory without an index answers 404 when listing is off") {
    StaticServer s;
    CHECK(s.get("/files/bare/").status == 404);
    StaticOptions o;
    o.index = "";
    StaticServer no_index(o);
    CHECK(no_index.get("/files/sub/").status == 404);
}

TEST_CASE("a directory without an index is listed when listing is on") {
    StaticOptions o;
    o.listing = true;
    StaticServer s(o);
    const Response r = s.get("/files/bare/");
    CHECK(r.status == 200);
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
    CHECK(r.body.find("<a href=\"./x.txt\">x.txt</a>") != std::string::npos);
    const Response root = s.get("/files/");
    CHECK(root.status == 200);
    CHECK(root.body.find("./sub/") != std::string::npos);
    CHECK(root.body.find(".env") == std::string::npos);  // dotfiles stay hidden
}

TEST_CASE("a file name with a trailing slash answers 404") {
    StaticServer s;
    CHECK(s.get("/files/a.txt/").status == 404);
}

TEST_CASE("a NUL byte or a climb out of the root in the path answers 400 or 404") {
    StaticServer s;
    CHECK(s.get("/files/a.txt%00.jpg").status == 400);
    const int climb = s.get("/files/%2e%2e/%2e%2e/etc/passwd").status;
    CAPTURE(climb);
    CHECK((climb == 400 || climb == 404));
}

TEST_CASE("StaticHandler throws vstream::Error for a root that is not a directory") {
    TempDir dir;
    const std::string file = dir.write("f.txt", "x");
    CHECK_THROWS_AS(StaticHandler(dir.at("missing"), StaticOptions{}), vstream::Error);
    CHECK_THROWS_AS(StaticHandler(file, StaticOptions{}), vstream::Error);
}

TEST_CASE("a directory redirect never points at another host") {
    for (const std::string prefix : {"/files", "/"}) {
        CAPTURE(prefix);
        StaticServer s(StaticOptions{}, prefix);
        const std::string base = prefix == "/" ? "" : prefix;
        for (const std::string& target :
             {"//evil.com/%2e%2e/%2e%2e" + base + "/sub", "//evil.com/../.." + base + "/sub",
              base + "//evil.com/%2e%2e/sub"}) {
            CAPTURE(target);
            const Response r = s.get(target);
            if (r.status != 301) continue;  // refusing such a path is fine too
            const std::string location = r.header("location");
            CAPTURE(location);
            CHECK(location.rfind("//", 0) != 0);
            CHECK(location == base + "/sub/");
        }
    }
}

}  // TEST_SUITE("handlers/static_handler")
