// RouteGroup::serve_static over real sockets: no request reaches outside the root (traversal
// vectors, symlinks), dotfiles, directories (redirect, index, escaped listing), odd files
// (FIFO, unreadable), method and content-type rules, and pacing.
#include "file_server.hpp"
#include "raw_client.hpp"
#include "temp_dir.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace std::chrono_literals;
using vstream::Server;
using vstream::StaticOptions;
using vstream::test::byte_exact;
using vstream::test::fetch;
using vstream::test::get;
using vstream::test::http_request;
using vstream::test::random_bytes;
using vstream::test::RawClient;
using vstream::test::Response;
using vstream::test::RoutedServer;
using vstream::test::TempDir;
using vstream::test::test_config;

namespace fs = std::filesystem;

namespace {

// base/secret            a file next to the root, never to be served
// base/outside/file.txt  a directory next to the root
// base/root/             the served root:
//   clip.mp4, a/b.txt, sub/index.html, plain/one.txt (no index), .env, .git/config,
//   sub/.hidden
struct Tree {
    TempDir base;
    std::string root = base.at("root");
    std::string secret = "TOP-SECRET-" + random_bytes(64, 3) + "-TOP-SECRET";
    std::string outside = "outside file " + random_bytes(32, 4);
    std::string clip = random_bytes(20000, 5);
    std::string b_txt = "b text\n";
    std::string index = "<!DOCTYPE html><title>sub</title>\n";
    std::string one = "one\n";
    std::string env = "PASSWORD=hunter2\n";
    std::string git_config = "[core]\n\tbare = false\n";

    Tree() {
        base.write("secret", secret);
        base.write("outside/file.txt", outside);
        base.write("root/clip.mp4", clip);
        base.write("root/a/b.txt", b_txt);
        base.write("root/sub/index.html", index);
        base.write("root/sub/.hidden", "hidden\n");
        base.write("root/plain/one.txt", one);
        base.write("root/.env", env);
        base.write("root/.git/config", git_config);
    }
    std::string at(const std::string& relative) const { return root + "/" + relative; }
};

// Registers serve_static(prefix, root, options) and GET /ping.
std::function<void(Server&)> statics(const std::string& prefix, const std::string& root,
                                     StaticOptions options = {}) {
    return [prefix, root, options](Server& s) {
        s.get("/ping", vstream::test::hello_handler);
        s.serve_static(prefix, root, options);
    };
}

// Checks that a traversal attempt was refused (400 or 404) and revealed nothing from outside
// the root: not the secret, not the outside directory, not /etc/passwd.
void check_refused(const std::optional<Response>& r, const Tree& tree) {
    REQUIRE(r.has_value());
    CHECK((r->status == 400 || r->status == 404));
    CHECK(r->body.find("TOP-SECRET") == std::string::npos);
    CHECK(r->body.find(tree.secret.substr(11, 16)) == std::string::npos);
    CHECK(r->body.find("outside file") == std::string::npos);
    CHECK(r->body.find("root:") == std::string::npos);  // /etc/passwd
}

// Sends a raw request target (no normalisation by any client library).
std::optional<Response> get_raw(std::uint16_t port, const std::string& target) {
    RawClient c(port, 5s);
    if (!c.send("GET " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")) {
        return std::nullopt;
    }
    return c.read_response();
}

// Traversal vectors below `prefix` ("/media" or ""); each must give 400 or 404.
std::vector<std::string> traversal_vectors(const std::string& prefix) {
    const char* const tails[] = {
        "/../secret",
        "/./../secret",
        "/a/../../secret",
        "/%2e%2e/secret",
        "/%2E%2E/secret",
        "/.%2e/secret",
        "/%2e./secret",
        "/..%2fsecret",
        "/..%2Fsecret",
        "/%2e%2e%2fsecret",
        "/%2e%2e%2f%2e%2e%2fsecret",
        "/a/..%2F..%2Fsecret",
        "/sub/..%2f..%2fsecret",
        "/..%2f..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/%2fetc%2fpasswd",
        "//etc/passwd",
        "/%00",
        "/a%00.mp4",
        "/clip.mp4%00",
        "/clip.mp4%00.txt",
        "/%252e%252e/secret",
        "/%252e%252e%252fsecret",
        "/..\\secret",
        "/..%5csecret",
        "/%5c..%5csecret",
        "/a\\..\\..\\secret",
        "/....//secret",
        "/..;/secret",
        "/..%c0%afsecret",
        "/%c0%ae%c0%ae/secret",
        "/outside/file.txt",
        "/../outside/file.txt",
        "/..%2foutside%2ffile.txt",
        "/%2e%2e",
        "/..%2f",
    };
    std::vector<std::string> out;
    for (const char* tail : tails) out.push_back(prefix + tail);
    return out;
}

// Runs `fn` as an unprivileged user in a child process when we are root (root reads files
// whatever their mode) and directly otherwise; returns what it returned, or -1.
int as_unprivileged(const std::function<int()>& fn) {
    if (::geteuid() != 0) return fn();
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        int result = -1;
        if (::setgid(65534) == 0 && ::setuid(65534) == 0) {
            try {
                result = fn();
            } catch (...) {
                result = -2;
            }
        }
        (void)!::write(fds[1], &result, sizeof result);
        ::_exit(0);
    }
    ::close(fds[1]);
    int result = -1;
    if (::read(fds[0], &result, sizeof result) != static_cast<ssize_t>(sizeof result)) result = -1;
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return result;
}

// The href values of a listing page, with the HTML escapes of attribute values undone.
std::vector<std::string> hrefs(const std::string& page) {
    std::vector<std::string> out;
    const std::regex href("href=\"([^\"]*)\"");
    for (auto it = std::sregex_iterator(page.begin(), page.end(), href);
         it != std::sregex_iterator(); ++it) {
        std::string h = (*it)[1].str();
        for (const auto& [from, to] : {std::pair<std::string, std::string>{"&quot;", "\""},
                                       {"&#39;", "'"},
                                       {"&lt;", "<"},
                                       {"&gt;", ">"},
                                       {"&amp;", "&"}}) {
            for (std::size_t at; (at = h.find(from)) != std::string::npos;) {
                h.replace(at, from.size(), to);
            }
        }
        out.push_back(h);
    }
    return out;
}

}  // namespace

TEST_SUITE("integration/files_static") {

TEST_CASE("files below the root are served with Range and validators") {
    Tree tree;
    RoutedServer server(statics("/media", tree.root));
    const auto r = get(server.port(), "/media/clip.mp4");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->header("content-type") == "video/mp4");
    CHECK(r->header("accept-ranges") == "bytes");
    CHECK_FALSE(r->header("etag").empty());
    CHECK_FALSE(r->header("last-modified").empty());
    CHECK(byte_exact(r->body, tree.clip));

    const auto nested = get(server.port(), "/media/a/b.txt");
    REQUIRE(nested.has_value());
    CHECK(nested->status == 200);
    CHECK(nested->body == tree.b_txt);

    const auto ranged = get(server.port(), "/media/clip.mp4", "Range: bytes=100-199\r\n");
    REQUIRE(ranged.has_value());
    CHECK(ranged->status == 206);
    CHECK(byte_exact(ranged->body, std::string_view(tree.clip).substr(100, 100)));

    const auto head = fetch(server.port(), "HEAD", "/media/clip.mp4");
    REQUIRE(head.has_value());
    CHECK(head->status == 200);
    CHECK(head->header("content-length") == std::to_string(tree.clip.size()));

    const auto missing = get(server.port(), "/media/nope.mp4");
    REQUIRE(missing.has_value());
    CHECK(missing->status == 404);
}

TEST_CASE("serve_static at / serves the whole tree") {
    Tree tree;
    RoutedServer server(statics("/", tree.root));
    const auto r = get(server.port(), "/clip.mp4");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(byte_exact(r->body, tree.clip));
    const auto index = get(server.port(), "/sub/");
    REQUIRE(index.has_value());
    CHECK(index->status == 200);
    CHECK(index->body == tree.index);
    // The explicit route still wins over the catch-all.
    const auto ping = get(server.port(), "/ping");
    REQUIRE(ping.has_value());
    CHECK(ping->body == R"({"message":"pong"})");
}

TEST_CASE("traversal vectors give 400 or 404 and never a byte from outside the root") {
    Tree tree;
    for (const bool links : {false, true}) {
        StaticOptions options;
        options.symlinks_outside_root = links;
        CAPTURE(links);
        for (const std::string prefix : {"/media", ""}) {
            CAPTURE(prefix);
            RoutedServer server(statics(prefix.empty() ? "/" : prefix, tree.root, options));
            for (const std::string& target : traversal_vectors(prefix)) {
                CAPTURE(target);
                check_refused(get_raw(server.port(), target), tree);
            }
            // The server is unharmed.
            const auto r = get(server.port(), prefix + "/clip.mp4");
            REQUIRE(r.has_value());
            CHECK(r->status == 200);
        }
    }
}

TEST_CASE("a symlink leading outside the root gives 404 unless symlinks_outside_root is set") {
    Tree tree;
    fs::create_symlink(tree.base.at("secret"), tree.at("abs_out"));
    fs::create_symlink("../secret", tree.at("rel_out"));
    fs::create_symlink(tree.base.at("outside"), tree.at("dir_out"));
    fs::create_symlink("../../secret", tree.at("a/deep_out"));
    struct Row {
        std::string target;
        const std::string* content;
    };
    const Row rows[] = {{"/media/abs_out", &tree.secret},
                        {"/media/rel_out", &tree.secret},
                        {"/media/dir_out/file.txt", &tree.outside},
                        {"/media/a/deep_out", &tree.secret}};

    SUBCASE("refused by default") {
        RoutedServer server(statics("/media", tree.root));
        for (const Row& row : rows) {
            CAPTURE(row.target);
            const auto r = get(server.port(), row.target);
            REQUIRE(r.has_value());
            CHECK(r->status == 404);
            CHECK(r->body.find("TOP-SECRET") == std::string::npos);
            CHECK(r->body.find("outside file") == std::string::npos);
        }
    }
    SUBCASE("followed when symlinks_outside_root is true") {
        StaticOptions options;
        options.symlinks_outside_root = true;
        RoutedServer server(statics("/media", tree.root, options));
        for (const Row& row : rows) {
            CAPTURE(row.target);
            const auto r = get(server.port(), row.target);
            REQUIRE(r.has_value());
            CHECK(r->status == 200);
            CHECK(r->body == *row.content);
        }
    }
}

TEST_CASE("a symlink that stays inside the root is served") {
    Tree tree;
    fs::create_symlink("clip.mp4", tree.at("in_link.mp4"));
    fs::create_symlink("../clip.mp4", tree.at("a/up_link.mp4"));
    fs::create_symlink("sub", tree.at("sub_link"));
    RoutedServer server(statics("/media", tree.root));
    for (const std::string target : {"/media/in_link.mp4", "/media/a/up_link.mp4"}) {
        CAPTURE(target);
        const auto r = get(server.port(), target);
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        CHECK(r->header("content-type") == "video/mp4");
        CHECK(byte_exact(r->body, tree.clip));
    }
    const auto index = get(server.port(), "/media/sub_link/index.html");
    REQUIRE(index.has_value());
    CHECK(index->status == 200);
    CHECK(index->body == tree.index);
}

TEST_CASE("dotfiles give 404 unless dotfiles is set") {
    Tree tree;
    struct Row {
        std::string target;
        std::string content;
    };
    const Row rows[] = {{"/media/.env", tree.env},
                        {"/media/.git/config", tree.git_config},
                        {"/media/sub/.hidden", "hidden\n"},
                        {"/media/%2eenv", tree.env}};
    SUBCASE("hidden by default") {
        RoutedServer server(statics("/media", tree.root));
        for (const Row& row : rows) {
            CAPTURE(row.target);
            const auto r = get(server.port(), row.target);
            REQUIRE(r.has_value());
            CHECK(r->status == 404);
            CHECK(r->body.find("hunter2") == std::string::npos);
        }
        const auto dir = get(server.port(), "/media/.git/");
        REQUIRE(dir.has_value());
        CHECK(dir->status == 404);
    }
    SUBCASE("served with dotfiles = true") {
        StaticOptions options;
        options.dotfiles = true;
        RoutedServer server(statics("/media", tree.root, options));
        for (const Row& row : rows) {
            CAPTURE(row.target);
            const auto r = get(server.port(), row.target);
            REQUIRE(r.has_value());
            CHECK(r->status == 200);
            CHECK(r->body == row.content);
        }
    }
}

TEST_CASE("a directory without its trailing slash redirects with 301, keeping the query") {
    Tree tree;
    for (const std::string prefix : {"/media", ""}) {
        CAPTURE(prefix);
        RoutedServer server(statics(prefix.empty() ? "/" : prefix, tree.root));
        const std::string p = prefix;
        struct Row {
            std::string target;
            std::string location;
        };
        const Row rows[] = {{p + "/sub", p + "/sub/"},
                            {p + "/sub?", p + "/sub/"},
                            {p + "/sub?a=1&b=2", p + "/sub/?a=1&b=2"},
                            {p + "/a", p + "/a/"}};
        for (const Row& row : rows) {
            CAPTURE(row.target);
            const auto r = get(server.port(), row.target);
            REQUIRE(r.has_value());
            CHECK(r->status == 301);
            const std::string location = r->header("location");
            CAPTURE(location);
            CHECK(location == row.location);
        }
    }
}

// The Location is built from the normalised path: a raw one would turn
// "GET //evil.example/../sub" (normalised to /sub, a directory) into
// "Location: //evil.example/../sub/", a network-path reference to another host.
TEST_CASE("a directory redirect points at the normalised path on this host") {
    Tree tree;
    struct Row {
        std::string prefix;
        std::string target;
        std::string location;
    };
    const Row rows[] = {
        {"/", "//evil.example/../sub", "/sub/"},
        {"/", "//sub", "/sub/"},
        {"/", "//evil.example/%2e%2e/sub", "/sub/"},
        {"/", "///evil.example/../sub", "/sub/"},
        {"/", "/%2fevil.example/../sub", "/sub/"},
        {"/", "/a/../sub", "/sub/"},
        {"/media", "//evil.example/../../media/sub", "/media/sub/"},
        {"/media", "/media/sub_x/../plain", "/media/plain/"},
        {"/media", "/media/./sub", "/media/sub/"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.prefix);
        CAPTURE(row.target);
        RoutedServer server(statics(row.prefix, tree.root));
        const auto r = get_raw(server.port(), row.target);
        REQUIRE(r.has_value());
        CHECK(r->status == 301);
        const std::string location = r->header("location");
        CAPTURE(location);
        CHECK(location.rfind("//", 0) == std::string::npos);
        CHECK(location == row.location);
    }
}

TEST_CASE("a directory with an index file serves the index") {
    Tree tree;
    RoutedServer server(statics("/media", tree.root));
    const auto r = get(server.port(), "/media/sub/");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->header("content-type") == "text/html; charset=utf-8");
    CHECK(r->body == tree.index);
    CHECK_FALSE(r->header("etag").empty());

    SUBCASE("another index name") {
        tree.base.write("root/plain/start.txt", "start\n");
        StaticOptions options;
        options.index = "start.txt";
        RoutedServer other(statics("/media", tree.root, options));
        const auto s = get(other.port(), "/media/plain/");
        REQUIRE(s.has_value());
        CHECK(s->status == 200);
        CHECK(s->body == "start\n");
        const auto sub = get(other.port(), "/media/sub/");  // no start.txt there
        REQUIRE(sub.has_value());
        CHECK(sub->status == 404);
    }
}

TEST_CASE("a directory without index gives 404 when listing is off") {
    Tree tree;
    RoutedServer server(statics("/media", tree.root));
    const auto r = get(server.port(), "/media/plain/");
    REQUIRE(r.has_value());
    CHECK(r->status == 404);
    CHECK(r->body.find("one.txt") == std::string::npos);
}

TEST_CASE("a directory listing escapes names and percent-encodes its links") {
    Tree tree;
    const std::string script = "<script>alert(1)<script>.mp4";
    const std::string amp = "a&b\"c.txt";
    const std::string quote = "it's.txt";
    const std::string space = "my clip.mp4";
    const std::string percent = "100%.txt";
    const std::string query = "q?x#y.txt";
    const std::string scheme = "javascript:alert(1)";
    for (const std::string* name : {&script, &amp, &quote, &space, &percent, &query, &scheme}) {
        tree.base.write("root/plain/" + *name, "content of " + *name);
    }
    tree.base.write("root/plain/.dotfile", "hidden");
    fs::create_directories(tree.at("plain/<b>dir"));
    StaticOptions options;
    options.listing = true;
    RoutedServer server(statics("/media", tree.root, options));

    const auto r = get(server.port(), "/media/plain/");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->header("content-type") == "text/html; charset=utf-8");
    const std::string& page = r->body;
    CAPTURE(page);
    CHECK(page.find("<script>") == std::string::npos);
    CHECK(page.find("<b>") == std::string::npos);
    CHECK(page.find("&lt;script&gt;alert(1)&lt;script&gt;.mp4") != std::string::npos);
    CHECK(page.find("a&amp;b&quot;c.txt") != std::string::npos);
    CHECK(page.find("it&#39;s.txt") != std::string::npos);
    CHECK(page.find("&lt;b&gt;dir/") != std::string::npos);
    CHECK(page.find("one.txt") != std::string::npos);
    CHECK(page.find(".dotfile") == std::string::npos);
    CHECK(page.find("%3Cscript%3E") != std::string::npos);
    CHECK(page.find("my%20clip.mp4") != std::string::npos);
    CHECK(page.find("100%25.txt") != std::string::npos);
    CHECK(page.find("q%3Fx%23y.txt") != std::string::npos);

    // Every link leads back to its entry.
    const std::vector<std::string> links = hrefs(page);
    CHECK(links.size() == 10);  // ../, <b>dir/ and eight files
    for (const std::string& link : links) {
        CAPTURE(link);
        if (link == "../") continue;
        REQUIRE(link.rfind("./", 0) == 0);
        CHECK(link.find_first_of(" <>\"#?") == std::string::npos);
        const auto entry = get(server.port(), "/media/plain/" + link.substr(2));
        REQUIRE(entry.has_value());
        CHECK(entry->status == 200);
        if (link.back() != '/') CHECK_FALSE(entry->body.empty());
    }
    for (const std::string* name : {&script, &amp, &quote, &space, &percent, &query, &scheme}) {
        CAPTURE(*name);
        bool found = false;
        for (const std::string& link : links) {
            if (link.back() == '/') continue;
            const auto entry = get(server.port(), "/media/plain/" + link.substr(2));
            if (entry && entry->body == "content of " + *name) found = true;
        }
        CHECK(found);
    }
}

// BUG (minor): read_directory() stats entries with fstatat(..., 0), following symlinks
// anywhere, so with listing on and symlinks_outside_root off a link to a file outside the
// root is listed with that file's size (its existence and size leak), while requesting it
// gives 404. Listing only what would be served (or the link itself, lstat) avoids both.
TEST_CASE("a listing shows no entry that leads outside the root") {
    Tree tree;
    fs::create_symlink(tree.base.at("secret"), tree.at("plain/abs_out"));
    StaticOptions options;
    options.listing = true;
    RoutedServer server(statics("/media", tree.root, options));
    const auto link = get(server.port(), "/media/plain/abs_out");
    REQUIRE(link.has_value());
    CHECK(link->status == 404);
    const auto r = get(server.port(), "/media/plain/");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->body.find("one.txt") != std::string::npos);
    CHECK(r->body.find("abs_out") == std::string::npos);
    CHECK(r->body.find(" " + std::to_string(tree.secret.size()) + "<") == std::string::npos);
}

TEST_CASE("the listing of a directory asked for with raw markup in its path is escaped") {
    Tree tree;
    fs::create_directories(tree.at("plain/<b>dir"));
    tree.base.write("root/plain/<b>dir/x.txt", "x");
    StaticOptions options;
    options.listing = true;
    RoutedServer server(statics("/media", tree.root, options));
    for (const std::string target : {"/media/plain/<b>dir/", "/media/plain/%3Cb%3Edir/"}) {
        CAPTURE(target);
        const auto r = get_raw(server.port(), target);
        REQUIRE(r.has_value());
        if (r->status != 200) {
            CHECK(r->status == 400);  // the parser may refuse raw '<' in a target
            continue;
        }
        CHECK(r->body.find("<b>") == std::string::npos);
        CHECK(r->body.find("x.txt") != std::string::npos);
    }
}

TEST_CASE("the listing of a root mount lists the root without a parent link") {
    Tree tree;
    StaticOptions options;
    options.listing = true;
    RoutedServer server(statics("/", tree.root, options));
    const auto r = get(server.port(), "/");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(r->body.find("href=\"./clip.mp4\"") != std::string::npos);
    CHECK(r->body.find("href=\"./sub/\"") != std::string::npos);
    CHECK(r->body.find("href=\"../\"") == std::string::npos);
    CHECK(r->body.find(".env") == std::string::npos);
}

TEST_CASE("the bare prefix redirects to the mount's root directory") {
    Tree tree;
    StaticOptions options;
    options.listing = true;
    RoutedServer server(statics("/media", tree.root, options));
    const auto r = get(server.port(), "/media");
    REQUIRE(r.has_value());
    CHECK(r->status == 301);
    CHECK(r->header("location") == "/media/");
    const auto listing = get(server.port(), "/media/");
    REQUIRE(listing.has_value());
    CHECK(listing->status == 200);
    CHECK(listing->body.find("clip.mp4") != std::string::npos);
}

TEST_CASE("a query string does not change which file is served") {
    Tree tree;
    RoutedServer server(statics("/media", tree.root));
    const auto r = get(server.port(), "/media/clip.mp4?v=2&x=../../secret");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(byte_exact(r->body, tree.clip));
}

TEST_CASE("symlink loops, overlong names and special files give 404") {
    Tree tree;
    fs::create_symlink("loop_b", tree.at("loop_a"));
    fs::create_symlink("loop_a", tree.at("loop_b"));
    fs::create_symlink("missing_target", tree.at("dangling"));
    REQUIRE(::mkfifo(tree.at("fifo").c_str(), 0644) == 0);
    fs::create_symlink("fifo", tree.at("fifo_link"));
    RoutedServer server(statics("/media", tree.root));
    const std::string rows[] = {
        "/media/loop_a",
        "/media/loop_a/x",
        "/media/dangling",
        "/media/fifo_link",
        "/media/" + std::string(300, 'n'),
        "/media/" + std::string(300, 'n') + "/x",
        "/media/" +
            [] {
                std::string deep;
                for (int i = 0; i < 2000; ++i) deep += "d/";
                return deep;
            }() +
            "x",
    };
    for (const std::string& target : rows) {
        CAPTURE(target.substr(0, 60));
        const auto r = get(server.port(), target);
        REQUIRE(r.has_value());
        CHECK((r->status == 404 || r->status == 414 || r->status == 431));
    }
    const auto ping = get(server.port(), "/ping");
    REQUIRE(ping.has_value());
    CHECK(ping->status == 200);
}

TEST_CASE("a file name with a trailing slash gives 404") {
    Tree tree;
    RoutedServer server(statics("/media", tree.root));
    for (const std::string target : {"/media/clip.mp4/", "/media/a/b.txt/", "/media/clip.mp4/x"}) {
        CAPTURE(target);
        const auto r = get(server.port(), target);
        REQUIRE(r.has_value());
        CHECK(r->status == 404);
        CHECK(r->body.find(tree.clip.substr(0, 16)) == std::string::npos);
    }
}

TEST_CASE("a method other than GET or HEAD gives 405 with Allow") {
    Tree tree;
    RoutedServer server(statics("/media", tree.root));
    for (const std::string method : {"POST", "PUT", "DELETE"}) {
        CAPTURE(method);
        RawClient c(server.port());
        REQUIRE(c.send(method + " /media/clip.mp4 HTTP/1.1\r\nHost: test\r\n"
                                "Content-Length: 0\r\n\r\n"));
        const auto r = c.read_response();
        REQUIRE(r.has_value());
        CHECK(r->status == 405);
        const std::string allow = r->header("allow");
        CHECK(allow.find("GET") != std::string::npos);
        CHECK(allow.find("HEAD") != std::string::npos);
        CHECK(r->body.find(tree.clip.substr(0, 16)) == std::string::npos);
    }
}

TEST_CASE("a FIFO in the root gives 404 without hanging the server") {
    Tree tree;
    REQUIRE(::mkfifo(tree.at("pipe.mp4").c_str(), 0644) == 0);
    RoutedServer server(statics("/media", tree.root));
    RawClient c(server.port(), 5s);
    REQUIRE(c.send(http_request("GET", "/media/pipe.mp4")));
    const auto r = c.read_response();
    REQUIRE(r.has_value());
    CHECK(r->status == 404);
    // The loop is free: the same connection and a new one are answered.
    REQUIRE(c.send(http_request("GET", "/ping")));
    const auto ping = c.read_response();
    REQUIRE(ping.has_value());
    CHECK(ping->status == 200);
    const auto clip = get(server.port(), "/media/clip.mp4");
    REQUIRE(clip.has_value());
    CHECK(clip->status == 200);
}

TEST_CASE("an unreadable file gives 403") {
    // Root reads any file whatever its mode: the check then runs as nobody in a child.
    Tree tree;
    tree.base.write("root/locked.mp4", "locked");
    ::chmod(tree.at("locked.mp4").c_str(), 0);
    ::chmod(tree.base.path().c_str(), 0755);
    for (const char* dir : {"", "/a", "/sub", "/plain"}) ::chmod((tree.root + dir).c_str(), 0755);
    const std::string root = tree.root;
    const int status = as_unprivileged([&root]() {
        RoutedServer server(statics("/media", root));
        const auto r = get(server.port(), "/media/locked.mp4");
        const auto ok = get(server.port(), "/media/a/b.txt");
        if (!r || !ok || ok->status != 200 || r->body.find("locked") != std::string::npos) {
            return -3;
        }
        return r->status;
    });
    CHECK(status == 403);
}

TEST_CASE("serve_static throws vstream::Error when the root is not a readable directory") {
    Tree tree;
    Server server(test_config());
    CHECK_THROWS_AS(server.serve_static("/missing", tree.base.at("nope")), vstream::Error);
    CHECK_THROWS_AS(server.serve_static("/file", tree.base.at("secret")), vstream::Error);
    try {
        server.serve_static("/missing", tree.base.at("nope"));
    } catch (const vstream::Error& e) {
        CHECK(e.errc_code() == vstream::errc::invalid_argument);
    }
}

TEST_CASE("StaticOptions::mime_types adds and replaces content types by extension") {
    Tree tree;
    tree.base.write("root/v.mkv", "mkv");
    tree.base.write("root/f.xyz", "xyz");
    struct Row {
        std::string target;
        std::string builtin;
        std::string overridden;
    };
    const Row rows[] = {{"/media/v.mkv", "video/x-matroska", "video/webm"},
                        {"/media/f.xyz", "application/octet-stream", "application/x-test"},
                        {"/media/clip.mp4", "video/mp4", "video/mp4"}};
    StaticOptions options;
    options.mime_types = {{"mkv", "video/webm"}, {"xyz", "application/x-test"}};
    RoutedServer plain(statics("/media", tree.root));
    RoutedServer custom(statics("/media", tree.root, options));
    for (const Row& row : rows) {
        CAPTURE(row.target);
        const auto a = get(plain.port(), row.target);
        const auto b = get(custom.port(), row.target);
        REQUIRE(a.has_value());
        REQUIRE(b.has_value());
        CHECK(a->header("content-type") == row.builtin);
        CHECK(b->header("content-type") == row.overridden);
    }
    // Parts of a multipart response carry the overridden type too.
    const auto m = get(custom.port(), "/media/v.mkv", "Range: bytes=0-0,2-2\r\n");
    REQUIRE(m.has_value());
    CHECK(m->status == 206);
    CHECK(m->body.find("Content-Type: video/webm\r\n") != std::string::npos);
}

TEST_CASE("StaticOptions::cache_control is sent with every file") {
    Tree tree;
    StaticOptions options;
    options.cache_control = "public, max-age=60";
    RoutedServer server(statics("/media", tree.root, options));
    for (const std::string target : {"/media/clip.mp4", "/media/sub/"}) {
        CAPTURE(target);
        const auto r = get(server.port(), target);
        REQUIRE(r.has_value());
        CHECK(r->status == 200);
        CHECK(r->header("cache-control") == "public, max-age=60");
    }
}

TEST_CASE("a rate-limited file still arrives byte-exact") {
    Tree tree;
    const std::string paced = random_bytes(300 * 1024, 9);
    tree.base.write("root/paced.mp4", paced);
    StaticOptions options;
    options.limit_rate = 1024 * 1024;  // 1 MiB/s: about 0.3 s for the file
    options.limit_rate_after = 0;
    RoutedServer server(statics("/media", tree.root, options));
    const auto r = get(server.port(), "/media/paced.mp4");
    REQUIRE(r.has_value());
    CHECK(r->status == 200);
    CHECK(byte_exact(r->body, paced));
    const auto ranged = get(server.port(), "/media/paced.mp4", "Range: bytes=1000-99999\r\n");
    REQUIRE(ranged.has_value());
    CHECK(ranged->status == 206);
    CHECK(byte_exact(ranged->body, std::string_view(paced).substr(1000, 99000)));
    // HEAD sends the head only, paced or not, and the connection goes on.
    RawClient c(server.port());
    REQUIRE(c.send(http_request("HEAD", "/media/paced.mp4") + http_request("GET", "/ping")));
    const auto head = c.read_response(true);
    REQUIRE(head.has_value());
    CHECK(head->status == 200);
    CHECK(head->header("content-length") == std::to_string(paced.size()));
    const auto ping = c.read_response();
    REQUIRE(ping.has_value());
    CHECK(ping->status == 200);
    CHECK(ping->body == R"({"message":"pong"})");
}

}  // TEST_SUITE("integration/files_static")
