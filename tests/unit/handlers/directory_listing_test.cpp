// Tests read_directory, render_listing and html_escape (src/handlers/directory_listing.cpp):
// order, hidden and special files, and names that must stay data in the page.
#include "handlers/directory_listing.hpp"

#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

using vstream::handlers::html_escape;
using vstream::handlers::ListingEntry;
using vstream::handlers::read_directory;
using vstream::handlers::render_listing;
using vstream::test::TempDir;

namespace {

int open_dir(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    return fd;
}

std::vector<std::string> names(const std::vector<ListingEntry>& entries) {
    std::vector<std::string> out;
    for (const ListingEntry& e : entries) out.push_back(e.name + (e.directory ? "/" : ""));
    return out;
}

// A directory with files, subdirectories, hidden names and things that are neither.
struct Listing {
    TempDir dir;
    Listing() {
        dir.write("b.txt", "bbb");
        dir.write("a.txt", "a");
        dir.write("B.txt", "");
        dir.write("zdir/x", "x");
        dir.write("adir/y", "y");
        dir.write(".hidden", "h");
        dir.write(".git/config", "c");
        REQUIRE(::mkfifo(dir.at("pipe").c_str(), 0600) == 0);
        REQUIRE(::symlink("nowhere", dir.at("dead-link").c_str()) == 0);
        REQUIRE(::symlink("a.txt", dir.at("link-to-a").c_str()) == 0);
    }
};

}  // namespace

TEST_SUITE("handlers/directory_listing") {

TEST_CASE("entries are sorted directories first, then by name, and dotfiles are hidden") {
    Listing l;
    std::vector<ListingEntry> entries;
    REQUIRE(read_directory(open_dir(l.dir.path().string()), false, entries) == 0);
    const std::vector<std::string> want = {"adir/", "zdir/", "B.txt",
                                           "a.txt", "b.txt", "link-to-a"};
    CHECK(names(entries) == want);
    for (const ListingEntry& e : entries) {
        CAPTURE(e.name);
        if (e.name == "b.txt") CHECK(e.size == 3);
        if (e.name == "link-to-a") CHECK(e.size == 1);  // the target's size
        if (e.name == "B.txt") CHECK(e.size == 0);
    }
}

TEST_CASE("dotfiles are listed when asked for") {
    Listing l;
    std::vector<ListingEntry> entries;
    REQUIRE(read_directory(open_dir(l.dir.path().string()), true, entries) == 0);
    const std::vector<std::string> want = {".git/", "adir/", "zdir/", ".hidden",
                                           "B.txt", "a.txt", "b.txt", "link-to-a"};
    CHECK(names(entries) == want);
}

TEST_CASE("FIFOs and dead symlinks are skipped, never listed") {
    Listing l;
    std::vector<ListingEntry> entries;
    REQUIRE(read_directory(open_dir(l.dir.path().string()), true, entries) == 0);
    for (const ListingEntry& e : entries) {
        CAPTURE(e.name);
        CHECK(e.name != "pipe");
        CHECK(e.name != "dead-link");
        CHECK(e.name != ".");
        CHECK(e.name != "..");
    }
}

TEST_CASE("an empty directory gives no entries, and earlier contents of out are cleared") {
    TempDir dir;
    std::vector<ListingEntry> entries = {{"stale", false, 1}};
    REQUIRE(read_directory(open_dir(dir.path().string()), true, entries) == 0);
    CHECK(entries.empty());
}

TEST_CASE("a descriptor that is not a directory gives a negative errno") {
    TempDir dir;
    const std::string file = dir.write("f", "x");
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    std::vector<ListingEntry> entries;
    CHECK(read_directory(fd, false, entries) == -ENOTDIR);
}

TEST_CASE("html_escape replaces & < > \" and ' and keeps every other byte") {
    struct Row {
        const char* in;
        const char* out;
    };
    const Row rows[] = {
        {"", ""},
        {"plain name.mp4", "plain name.mp4"},
        {"&", "&amp;"},
        {"<", "&lt;"},
        {">", "&gt;"},
        {"\"", "&quot;"},
        {"'", "&#39;"},
        {"<script>alert('x&y')</script>", "&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;"},
        {"&amp;", "&amp;amp;"},  // escaped again: the input is text, not markup
        {"caf\xc3\xa9 %20", "caf\xc3\xa9 %20"},
    };
    for (const Row& r : rows) {
        const std::string in = r.in;
        CAPTURE(in);
        CHECK(html_escape(in) == r.out);
    }
}

TEST_CASE("a name like <script> is escaped in the text and percent-encoded in the link") {
    const std::vector<ListingEntry> entries = {
        {"<script>", false, 5},
        {"a&b \"q\"", false, 7},
        {"it's", true, 0},
    };
    const std::string page = render_listing("/files/", entries);
    CHECK(page.find("<script>") == std::string::npos);
    CHECK(page.find("<li><a href=\"./%3Cscript%3E\">&lt;script&gt;</a> 5</li>") !=
          std::string::npos);
    CHECK(page.find("<li><a href=\"./a&amp;b%20%22q%22\">a&amp;b &quot;q&quot;</a> 7</li>") !=
          std::string::npos);
    CHECK(page.find("<li><a href=\"./it&#39;s/\">it&#39;s/</a></li>") != std::string::npos);
}

TEST_CASE("files show their size, directories a trailing slash") {
    const std::vector<ListingEntry> entries = {{"sub", true, 4096}, {"movie.mp4", false, 123456}};
    const std::string page = render_listing("/media/", entries);
    CHECK(page.find("<li><a href=\"./sub/\">sub/</a></li>") != std::string::npos);
    CHECK(page.find("<li><a href=\"./movie.mp4\">movie.mp4</a> 123456</li>") != std::string::npos);
    CHECK(page.find("4096") == std::string::npos);
    CHECK(page.find("sub/") < page.find("movie.mp4"));  // in the order given
}

TEST_CASE("the parent link is absent for / and present below it") {
    const std::string root = render_listing("/", {});
    CHECK(root.find("../") == std::string::npos);
    const std::string below = render_listing("/a/b/", {});
    CHECK(below.find("<li><a href=\"../\">../</a></li>") != std::string::npos);
}

TEST_CASE("the title is the escaped request path") {
    const std::string page = render_listing("/x<y>&\"/", {});
    CHECK(page.find("<title>Index of /x&lt;y&gt;&amp;&quot;/</title>") != std::string::npos);
    CHECK(page.find("<h1>Index of /x&lt;y&gt;&amp;&quot;/</h1>") != std::string::npos);
    CHECK(page.find("x<y>") == std::string::npos);
}

TEST_CASE("a listing is a complete UTF-8 HTML page") {
    const std::string page = render_listing("/", {{"f", false, 1}});
    CHECK(page.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(page.find("<meta charset=\"utf-8\">") != std::string::npos);
    CHECK(page.size() >= 14);
    CHECK(page.substr(page.size() - 15) == "</body></html>\n");
}

}  // TEST_SUITE("handlers/directory_listing")
