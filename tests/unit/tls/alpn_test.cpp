// Tests select_alpn (src/tls/alpn.cpp): server preference, exact byte comparison, and
// malformed client lists (RFC 7301 §3.1).
#include "tls/alpn.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

using vstream::tls::select_alpn;

namespace {

// RFC 7301 §3.1 wire form of `names`.
std::vector<std::uint8_t> wire(const std::vector<std::string>& names) {
    std::vector<std::uint8_t> out;
    for (const std::string& n : names) {
        out.push_back(static_cast<std::uint8_t>(n.size()));
        out.insert(out.end(), n.begin(), n.end());
    }
    return out;
}

std::string chosen(const std::vector<std::string>& server, const std::vector<std::uint8_t>& w) {
    const auto s = select_alpn(server, w);
    if (!s.empty()) {
        // The result lies inside the client's list, right after its length byte.
        CHECK(s.data() > w.data());
        CHECK(s.data() + s.size() <= w.data() + w.size());
        CHECK(s.data()[-1] == s.size());
    }
    return std::string(s.begin(), s.end());
}

}  // namespace

TEST_SUITE("tls/alpn") {

TEST_CASE("the server's first protocol that the client offers is chosen") {
    CHECK(chosen({"http/1.1"}, wire({"h2", "http/1.1"})) == "http/1.1");
    CHECK(chosen({"h2", "http/1.1"}, wire({"http/1.1", "h2"})) == "h2");
    CHECK(chosen({"h2", "http/1.1"}, wire({"http/1.1"})) == "http/1.1");
    CHECK(chosen({"http/1.1", "h2"}, wire({"h2", "http/1.1"})) == "http/1.1");
}

TEST_CASE("nothing is chosen without an exact, case-sensitive match") {
    CHECK(chosen({"http/1.1"}, wire({"h2"})).empty());
    CHECK(chosen({"http/1.1"}, wire({"HTTP/1.1"})).empty());
    CHECK(chosen({"http/1.1"}, wire({"http/1.10", "http/1."})).empty());
    CHECK(chosen({}, wire({"http/1.1"})).empty());
    CHECK(chosen({"http/1.1"}, {}).empty());
}

TEST_CASE("a malformed client list chooses nothing") {
    std::vector<std::uint8_t> w = wire({"http/1.1"});
    std::vector<std::uint8_t> cut(w.begin(), w.end() - 1);  // the name runs past the end
    CHECK(chosen({"http/1.1"}, cut).empty());
    std::vector<std::uint8_t> empty_name = wire({"http/1.1"});
    empty_name.push_back(0);  // an empty name after a good one
    CHECK(chosen({"http/1.1"}, empty_name).empty());
    CHECK(chosen({"http/1.1"}, {0}).empty());
    std::vector<std::uint8_t> long_length = wire({"http/1.1"});
    long_length[0] = 255;
    CHECK(chosen({"http/1.1"}, long_length).empty());
}

TEST_CASE("a 255-byte protocol name is matched whole") {
    const std::string longest(255, 'p');
    CHECK(chosen({longest}, wire({"h2", longest})) == longest);
}

}  // TEST_SUITE("tls/alpn")
