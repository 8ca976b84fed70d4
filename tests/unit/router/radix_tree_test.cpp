// The radix tree: the GitHub API route set, priorities, backtracking, conflicts, patterns.
#include "router/radix_tree.hpp"

#include <vstream/error.hpp>

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <string>
#include <vector>

using vstream::errc;
using vstream::Error;
using vstream::router::ParamList;
using vstream::router::RadixTree;

namespace {

struct Route {
    std::string method;
    std::string pattern;
};

std::vector<Route> github_routes() {
    std::ifstream in(VSTREAM_TEST_DATA "/github-api-routes.txt");
    std::vector<Route> routes;
    std::string method, pattern;
    while (in >> method >> pattern) routes.push_back({method, pattern});
    return routes;
}

// A concrete path for a pattern: each ":name" becomes "v-name", "*name" becomes "a/b".
std::string instantiate(const std::string& pattern) {
    std::string out;
    for (std::size_t i = 0; i < pattern.size();) {
        if ((pattern[i] == ':' || pattern[i] == '*') && i > 0 && pattern[i - 1] == '/') {
            const std::size_t end = std::min(pattern.find('/', i), pattern.size());
            out += pattern[i] == ':' ? "v-" + pattern.substr(i + 1, end - i - 1) : "a/b";
            i = end;
        } else {
            out += pattern[i++];
        }
    }
    return out;
}

std::string param(const ParamList& p, std::string_view name) {
    for (std::size_t i = 0; i < p.size; ++i) {
        if (p.items[i].name == name) return std::string(p.items[i].value);
    }
    return "<none>";
}

}  // namespace

TEST_SUITE("router/radix_tree") {

TEST_CASE("every GitHub API route resolves to itself with the right parameters") {
    const std::vector<Route> routes = github_routes();
    REQUIRE(routes.size() == 203);
    std::map<std::string, RadixTree> trees;
    for (std::size_t i = 0; i < routes.size(); ++i) {
        trees[routes[i].method].insert(routes[i].pattern, static_cast<int>(i));
    }
    ParamList params;
    for (std::size_t i = 0; i < routes.size(); ++i) {
        const std::string path = instantiate(routes[i].pattern);
        CAPTURE(routes[i].pattern);
        CHECK(trees[routes[i].method].find(path, params) == static_cast<int>(i));
        for (std::size_t k = 0; k < params.size; ++k) {
            CHECK(params.items[k].value == "v-" + std::string(params.items[k].name));
        }
    }
}

TEST_CASE("static beats parameter beats catch-all") {
    RadixTree t;
    t.insert("/files/new", 1);
    t.insert("/files/:name", 2);
    t.insert("/files/*path", 3);
    ParamList p;
    CHECK(t.find("/files/new", p) == 1);
    CHECK(t.find("/files/old", p) == 2);
    CHECK(param(p, "name") == "old");
    CHECK(t.find("/files/a/b/c", p) == 3);
    CHECK(param(p, "path") == "a/b/c");
    CHECK(t.find("/files/", p) == 3);
    CHECK(param(p, "path") == "");
}

TEST_CASE("a failed static branch falls back to the parameter") {
    RadixTree t;
    t.insert("/users/new", 1);
    t.insert("/users/:id/edit", 2);
    ParamList p;
    CHECK(t.find("/users/new/edit", p) == 2);
    CHECK(param(p, "id") == "new");
    CHECK(p.size == 1);
}

TEST_CASE("unmatched paths find nothing") {
    RadixTree t;
    t.insert("/a/:x/b", 1);
    ParamList p;
    CHECK(t.find("/a/1/c", p) == -1);
    CHECK(t.find("/a//b", p) == -1);  // an empty segment is no parameter
    CHECK(t.find("/a/1/b/", p) == -1);
    CHECK(t.find("", p) == -1);
    CHECK(t.find("/", p) == -1);
}

TEST_CASE("conflicts are reported at registration with both routes named") {
    RadixTree t;
    t.insert("/videos/:id", 1);
    try {
        t.insert("/videos/:video_id/stream", 2);
        FAIL("no conflict reported");
    } catch (const Error& e) {
        CHECK(e.errc_code() == errc::route_conflict);
        CHECK(std::string(e.what()).find(":video_id") != std::string::npos);
        CHECK(std::string(e.what()).find(":id") != std::string::npos);
    }
    try {
        t.insert("/videos/:id", 3);
        FAIL("no conflict reported");
    } catch (const Error& e) {
        CHECK(e.errc_code() == errc::route_conflict);
        CHECK(std::string(e.what()).find("already registered") != std::string::npos);
    }
}

TEST_CASE("malformed patterns are refused") {
    const char* bad[] = {"",
                         "nope",
                         "/a/:",
                         "/a/*",
                         "/a/*rest/more",
                         "/a/:x/:x",
                         "/a/:x y",
                         "/:a/:b/:c/:d/:e/:f/:g/:h/:i/:j/:k/:l/:m/:n/:o/:p/:q"};
    for (const char* pattern : bad) {
        CAPTURE(pattern);
        RadixTree t;
        CHECK_THROWS_AS(t.insert(pattern, 1), Error);
    }
}

TEST_CASE("':' and '*' inside a segment are literal") {
    RadixTree t;
    t.insert("/v1/things:batch", 1);
    t.insert("/a*b", 2);
    ParamList p;
    CHECK(t.find("/v1/things:batch", p) == 1);
    CHECK(t.find("/a*b", p) == 2);
    CHECK(t.find("/v1/things:other", p) == -1);
}

TEST_CASE("prefix splits keep every earlier route reachable") {
    RadixTree t;
    const char* patterns[] = {"/search", "/support", "/s", "/se", "/sea/:q", "/"};
    for (int i = 0; i < 6; ++i) t.insert(patterns[i], i);
    ParamList p;
    for (int i = 0; i < 6; ++i) {
        CAPTURE(patterns[i]);
        CHECK(t.find(i == 4 ? "/sea/x" : patterns[i], p) == i);
    }
}

}  // TEST_SUITE("router/radix_tree")

TEST_SUITE("router/radix_tree") {

TEST_CASE("parameters captured on a failed branch do not leak into the match found after it") {
    RadixTree t;
    t.insert("/a/:x/b/:y/c", 1);
    t.insert("/a/:x", 2);
    t.insert("/a/*rest", 3);
    ParamList p;
    CHECK(t.find("/a/1/b/2/d", p) == 3);
    REQUIRE(p.size == 1);
    CHECK(p.items[0].name == "rest");
    CHECK(p.items[0].value == "1/b/2/d");
    CHECK(t.find("/a/1", p) == 2);
    REQUIRE(p.size == 1);
    CHECK(p.items[0].value == "1");
}

TEST_CASE("a static branch that fails deep falls back with a clean parameter list") {
    RadixTree t;
    t.insert("/u/new/:a/x", 1);
    t.insert("/u/:id/:b/y", 2);
    t.insert("/v/:id", 3);
    ParamList p;
    CHECK(t.find("/u/new/q/y", p) == 2);
    REQUIRE(p.size == 2);
    CHECK(p.items[0].name == "id");
    CHECK(p.items[0].value == "new");
    CHECK(p.items[1].name == "b");
    CHECK(p.items[1].value == "q");
}

}  // TEST_SUITE("router/radix_tree")
