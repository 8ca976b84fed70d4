// libFuzzer target: SNI name matching (tls/sni_names) on arbitrary bytes. Checks that
// SniTable::find, which binary-searches sorted tables, picks what a plain reading of the rule
// picks (the first certificate with an exact match, else the first with a wildcard match), and
// that matching is ASCII case-blind and never accepts an unusable pattern.
//
// Input: "<host>\n<pattern>\n<pattern>..."; pattern k belongs to certificate k % 3.
#include "tls/sni_names.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using vstream::tls::is_usable_pattern;
using vstream::tls::name_matches;
using vstream::tls::SniTable;

namespace {

std::optional<std::size_t> brute_force(const std::vector<std::vector<std::string>>& table,
                                       std::string_view host) {
    if (host.size() > 253) return std::nullopt;
    for (const bool wildcard : {false, true}) {
        for (std::size_t i = 0; i < table.size(); ++i) {
            for (const std::string& p : table[i]) {
                if (p.starts_with("*.") == wildcard && name_matches(p, host)) return i;
            }
        }
    }
    return std::nullopt;
}

std::string flip_case(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'a' && c <= 'z') {
            c = static_cast<char>(c - 32);
        } else if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c + 32);
        }
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t nl = input.find('\n');
    const std::string_view host = input.substr(0, nl);
    std::vector<std::vector<std::string>> table(3);
    if (nl != std::string_view::npos) {
        std::string_view rest = input.substr(nl + 1);
        for (std::size_t k = 0;; ++k) {
            const std::size_t end = rest.find('\n');
            table[k % 3].emplace_back(rest.substr(0, end));
            if (end == std::string_view::npos) break;
            rest.remove_prefix(end + 1);
        }
    }
    const std::string flipped = flip_case(host);
    for (const auto& names : table) {
        for (const std::string& p : names) {
            const bool m = name_matches(p, host);
            if (m && !is_usable_pattern(p)) __builtin_trap();
            if (m != name_matches(p, flipped)) __builtin_trap();
            if (m != name_matches(flip_case(p), host)) __builtin_trap();
        }
    }
    const SniTable sni(table);
    const std::optional<std::size_t> found = sni.find(host);
    if (found != brute_force(table, host)) __builtin_trap();
    if (found != sni.find(flipped)) __builtin_trap();
    if (found && *found >= table.size()) __builtin_trap();
    return 0;
}
