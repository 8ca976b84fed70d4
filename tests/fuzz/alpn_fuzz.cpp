// libFuzzer target: ALPN selection (tls/alpn) on an arbitrary client ProtocolNameList. Checks
// that select_alpn answers what a plain reading of RFC 7301 §3.1 gives: nothing for a
// malformed list, else the server's first protocol that the list holds, as a span inside the
// client's bytes.
//
// Input: the client's list in wire form, offered to three server lists, the last one made of
// the input's own first name (so matches happen beyond the usual names).
#include "tls/alpn.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

using vstream::tls::select_alpn;

namespace {

// The client's names, or nullopt if the list is malformed.
std::optional<std::vector<std::string>> parse(std::span<const std::uint8_t> wire) {
    std::vector<std::string> names;
    std::size_t i = 0;
    while (i < wire.size()) {
        const std::size_t n = wire[i];
        if (n == 0 || i + 1 + n > wire.size()) return std::nullopt;
        names.emplace_back(reinterpret_cast<const char*>(wire.data() + i + 1), n);
        i += 1 + n;
    }
    return names;
}

void check(const std::vector<std::string>& server, std::span<const std::uint8_t> wire) {
    const std::span<const std::uint8_t> got = select_alpn(server, wire);
    std::string expected;
    if (const auto client = parse(wire)) {
        for (const std::string& s : server) {
            bool offered = false;
            for (const std::string& c : *client) offered = offered || c == s;
            if (offered && !s.empty()) {
                expected = s;
                break;
            }
        }
    }
    if (std::string(got.begin(), got.end()) != expected) __builtin_trap();
    if (!got.empty()) {
        if (got.data() <= wire.data() || got.data() + got.size() > wire.data() + wire.size()) {
            __builtin_trap();
        }
        if (got.data()[-1] != got.size()) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> wire(data, size);
    check({"h2", "http/1.1"}, wire);
    check({"http/1.1"}, wire);
    std::vector<std::string> own;
    if (size > 1) {
        own.emplace_back(reinterpret_cast<const char*>(data + 1),
                         std::min<std::size_t>(data[0], size - 1));
    }
    own.emplace_back("http/1.1");
    check(own, wire);
    return 0;
}
