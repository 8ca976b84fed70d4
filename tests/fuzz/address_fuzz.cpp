// libFuzzer target: numeric addresses (net/address) on arbitrary bytes. Checks what the
// listener, ServerConfig::validate and rate_limit rely on: parse_ip accepts only short,
// NUL-free text whose canonical form parses back to the same bytes; the forwarded form accepts
// at least what parse_ip does, with a port or brackets too; and pick_forwarded_client never
// names a trusted proxy and reads the list right to left.
//
// Input: "<trusted entries, comma-separated>\n<X-Forwarded-For list>"; without a newline, all of
// it is the list and nothing is trusted. Every entry and the whole input also go through the
// parsers on their own.
#include <vstream/headers.hpp>

#include "net/address.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using vstream::net::ForwardedClient;
using vstream::net::ForwardedOutcome;
using vstream::net::IpAddress;
using vstream::net::IpBytes;

namespace {

bool same(const ForwardedClient& a, const ForwardedClient& b) {
    return a.outcome == b.outcome &&
           (a.outcome != ForwardedOutcome::client || a.address.bytes == b.address.bytes);
}

void check_address(std::string_view text) {
    const std::optional<IpAddress> ip = vstream::net::parse_ip(text);
    const std::optional<IpAddress> fwd = vstream::net::parse_forwarded_ip(text);
    if (!ip) return;
    if (text.empty() || text.size() > 45 || text.find('\0') != std::string_view::npos) {
        __builtin_trap();
    }
    if (ip->family == IpAddress::Family::v4 && !ip->is_v4_mapped()) __builtin_trap();
    // What parse_ip accepts, the forwarded form accepts alike, bare or with a port.
    if (!fwd || fwd->bytes != ip->bytes) __builtin_trap();
    const std::string with_port = ip->family == IpAddress::Family::v4
                                      ? std::string(text) + ":8080"
                                      : "[" + std::string(text) + "]:8080";
    const std::optional<IpAddress> ported = vstream::net::parse_forwarded_ip(with_port);
    if (!ported || ported->bytes != ip->bytes) __builtin_trap();
    if (ip->family == IpAddress::Family::v6) {
        const std::optional<IpAddress> bracketed =
            vstream::net::parse_forwarded_ip("[" + std::string(text) + "]");
        if (!bracketed || bracketed->bytes != ip->bytes) __builtin_trap();
    }
    // The canonical text is short, parses back to the same bytes, and is a fixed point.
    const std::string canonical = vstream::net::format_ip(ip->bytes);
    if (canonical.empty() || canonical.size() > 45) __builtin_trap();
    const std::optional<IpAddress> back = vstream::net::parse_ip(canonical);
    if (!back || back->bytes != ip->bytes) __builtin_trap();
    if (vstream::net::format_ip(back->bytes) != canonical) __builtin_trap();
    // A socket address of the family it was written in.
    sockaddr_storage ss{};
    const socklen_t len = vstream::net::to_sockaddr(*ip, 80, ss);
    const int want = ip->family == IpAddress::Family::v4 ? AF_INET : AF_INET6;
    if (ss.ss_family != want || len == 0 || len > sizeof ss) __builtin_trap();
}

// Splits on ',' (keeping empty entries).
std::vector<std::string_view> split(std::string_view s) {
    std::vector<std::string_view> out;
    for (;;) {
        const std::size_t comma = s.find(',');
        out.push_back(s.substr(0, comma));
        if (comma == std::string_view::npos) return out;
        s.remove_prefix(comma + 1);
    }
}

void check_pick(std::string_view list, const std::vector<IpBytes>& trusted) {
    const ForwardedClient c = vstream::net::pick_forwarded_client(list, trusted);
    if (!same(vstream::net::pick_forwarded_client(list, trusted), c)) __builtin_trap();
    const std::string text(list);
    if (c.outcome == ForwardedOutcome::client) {
        if (std::binary_search(trusted.begin(), trusted.end(), c.address.bytes)) __builtin_trap();
        if (list.find(',') == std::string_view::npos) {
            const auto only = vstream::net::parse_forwarded_ip(vstream::trim_ows(list));
            if (!only || only->bytes != c.address.bytes) __builtin_trap();
        }
    }
    // Read right to left: what stands left of a decision does not change it, ...
    if (c.outcome != ForwardedOutcome::all_trusted) {
        if (!same(vstream::net::pick_forwarded_client("unknown, 192.0.2.1," + text, trusted), c)) {
            __builtin_trap();
        }
    }
    // ... a trusted proxy appended on the right is skipped, ...
    if (!trusted.empty()) {
        const std::string proxy = vstream::net::format_ip(trusted.front());
        if (!same(vstream::net::pick_forwarded_client(text + ", " + proxy, trusted), c)) {
            __builtin_trap();
        }
    }
    // ... and an untrusted address appended on the right is the client.
    IpBytes other{};
    other.fill(0x20);  // 2020:2020:...: not mapped, and trusted only if the input says so
    if (!std::binary_search(trusted.begin(), trusted.end(), other)) {
        const ForwardedClient d = vstream::net::pick_forwarded_client(
            text + "," + vstream::net::format_ip(other), trusted);
        if (d.outcome != ForwardedOutcome::client || d.address.bytes != other) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    check_address(input);

    const std::size_t nl = input.find('\n');
    const std::string_view list = nl == std::string_view::npos ? input : input.substr(nl + 1);
    std::vector<IpBytes> trusted;
    if (nl != std::string_view::npos) {
        for (const std::string_view entry : split(input.substr(0, nl))) {
            check_address(entry);
            if (const auto ip = vstream::net::parse_forwarded_ip(vstream::trim_ows(entry))) {
                trusted.push_back(ip->bytes);
            }
        }
    }
    std::sort(trusted.begin(), trusted.end());
    for (const std::string_view entry : split(list)) {
        check_address(entry);
        check_address(vstream::trim_ows(entry));
    }
    check_pick(list, trusted);
    return 0;
}
