// The real curl client: GET, HTTP/1.0, HEAD, a 1 MiB upload, Expect: 100-continue, reuse.
#include "curl.hpp"

#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

namespace {

using namespace vstream::test;
using vstream::Context;

// A file in the temporary directory, removed on scope exit.
class TempFile {
public:
    TempFile() {
        const char* dir = std::getenv("TMPDIR");
        std::string tmpl =
            std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/vstream-curl-XXXXXX";
        const int fd = ::mkstemp(tmpl.data());
        REQUIRE(fd >= 0);
        ::close(fd);
        path_ = tmpl;
    }
    ~TempFile() { ::unlink(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    const std::string& path() const { return path_; }
    void write(const std::string& bytes) const {
        std::ofstream f(path_, std::ios::binary | std::ios::trunc);
        f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    std::string read() const {
        std::ifstream f(path_, std::ios::binary);
        return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
    }

private:
    std::string path_;
};

// Splits "curl -i" output into status code, head and body.
struct Parsed {
    int status = 0;
    std::string head;
    std::string body;
};

Parsed parse_include(const std::string& out) {
    Parsed p;
    const std::size_t end = out.find("\r\n\r\n");
    if (out.rfind("HTTP/", 0) != 0 || end == std::string::npos) return p;
    p.status = std::atoi(out.c_str() + out.find(' ') + 1);
    p.head = out.substr(0, end + 4);
    p.body = out.substr(end + 4);
    return p;
}

void version_handler(Context& ctx) {
    if (ctx.path() == "/version") {
        ctx.text(200, ctx.http_minor() == 0 ? "1.0" : "1.1");
    } else {
        hello_handler(ctx);
    }
}

}  // namespace

TEST_SUITE("integration/curl") {

TEST_CASE("curl GET /ping gets 200 and the pong body") {
    if (!have_curl()) {
        MESSAGE("skipped: curl is not installed");
        return;
    }
    TestServer server(hello_handler);
    const Run r = run(curl(server.port(), "-i", "/ping"));
    REQUIRE(r.exit_code == 0);
    const Parsed p = parse_include(r.out);
    CHECK(p.status == 200);
    CHECK(p.body == R"({"message":"pong"})");
    CHECK(p.head.find("Content-Type: application/json\r\n") != std::string::npos);
    CHECK(p.head.find("Server: vstream\r\n") != std::string::npos);

    const Run missing = run(curl(server.port(), "-o /dev/null -w '%{http_code}'", "/missing"));
    REQUIRE(missing.exit_code == 0);
    CHECK(missing.out == "404");
    // Over TLS, each run was an HTTPS connection.
    CHECK(server.server().tls_stats().handshakes == (over_tls() ? 2u : 0u));
}

TEST_CASE("curl --http1.0 is answered and the connection closes") {
    if (!have_curl()) {
        MESSAGE("skipped: curl is not installed");
        return;
    }
    TestServer server(version_handler);
    const Run r = run(curl(server.port(), "-i --http1.0", "/version"));
    REQUIRE(r.exit_code == 0);
    const Parsed p = parse_include(r.out);
    CHECK(p.status == 200);
    CHECK(p.body == "1.0");
    CHECK(p.head.find("Connection: close\r\n") != std::string::npos);
    CHECK(wait_until([&] { return server.server().stats().connections_open == 0; }));
}

TEST_CASE("curl -I sends HEAD and gets the GET headers without a body") {
    if (!have_curl()) {
        MESSAGE("skipped: curl is not installed");
        return;
    }
    TestServer server(hello_handler);
    const Run r = run(curl(server.port(), "-I", "/ping"));
    REQUIRE(r.exit_code == 0);
    const Parsed p = parse_include(r.out);
    CHECK(p.status == 200);
    CHECK(p.head.find("Content-Length: 18\r\n") != std::string::npos);
    CHECK(p.head.find("Content-Type: application/json\r\n") != std::string::npos);
    CHECK(p.body.empty());
}

TEST_CASE("curl POSTs 1 MiB with --data-binary to /echo and gets the identical bytes back") {
    if (!have_curl()) {
        MESSAGE("skipped: curl is not installed");
        return;
    }
    TestServer server(hello_handler);
    std::string payload(1024 * 1024, '\0');
    std::mt19937 rng(12345);
    for (char& ch : payload) ch = static_cast<char>(rng() & 0xff);
    TempFile in;
    TempFile out;
    in.write(payload);

    const Run r = run(curl(server.port(),
                           "-o '" + out.path() +
                               "' -w '%{http_code} %{size_upload}' "
                               "-H 'Content-Type: application/octet-stream' --data-binary '@" +
                               in.path() + "'",
                           "/echo"));
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.rfind("200 ", 0) == 0);
    const std::string echoed = out.read();
    CHECK(echoed.size() == payload.size());
    CHECK(echoed == payload);
}

TEST_CASE("curl with Expect: 100-continue receives 100 Continue and uploads its body") {
    if (!have_curl()) {
        MESSAGE("skipped: curl is not installed");
        return;
    }
    TestServer server(hello_handler);
    TempFile out;
    // -v writes the exchange to stderr; fold it into the output to see the interim response.
    const Run r = run(curl(server.port(),
                           "-v -o '" + out.path() +
                               "' -H 'Expect: 100-continue' "
                               "--data-binary 'hello, continue'",
                           "/echo") +
                      " 2>&1");
    REQUIRE(r.exit_code == 0);
    CAPTURE(r.out);
    CHECK(r.out.find("> Expect: 100-continue") != std::string::npos);
    CHECK(r.out.find("< HTTP/1.1 100 Continue") != std::string::npos);
    CHECK(r.out.find("< HTTP/1.1 200 OK") != std::string::npos);
    CHECK(out.read() == "hello, continue");
}

TEST_CASE("curl reuses one connection for several URLs") {
    if (!have_curl()) {
        MESSAGE("skipped: curl is not installed");
        return;
    }
    TestServer server(hello_handler);
    // Three URLs on one command line: the first two as arguments before the third.
    const std::string url = "'" + base_url(server.port()) + "/ping'";
    const Run r = run(curl(server.port(), url + " " + url, "/ping"));
    REQUIRE(r.exit_code == 0);
    CHECK(r.out ==
          std::string(R"({"message":"pong"})") + R"({"message":"pong"})" + R"({"message":"pong"})");
    CHECK(server.server().stats().requests == 3);
    CHECK(server.server().stats().connections_accepted == 1);
}

}  // TEST_SUITE("integration/curl")
