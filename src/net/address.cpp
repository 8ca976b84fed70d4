#include "net/address.hpp"

#include <vstream/headers.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace vstream::net {

namespace {

constexpr std::array<std::uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool all_digits(std::string_view s) noexcept {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool IpAddress::is_v4_mapped() const noexcept {
    return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes.begin());
}

std::optional<IpAddress> parse_ip(std::string_view text) noexcept {
    // inet_pton reads a C string: the longest numeric address is 45 characters, and an
    // embedded NUL would end it early ("127.0.0.1\0junk" is not an address).
    char buf[INET6_ADDRSTRLEN] = {};
    if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
    if (text.find('\0') != std::string_view::npos) return std::nullopt;
    std::memcpy(buf, text.data(), text.size());

    IpAddress ip;
    in_addr v4{};
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        ip.family = IpAddress::Family::v4;
        std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), ip.bytes.begin());
        std::memcpy(ip.bytes.data() + 12, &v4, 4);
        return ip;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, buf, &v6) == 1) {
        ip.family = IpAddress::Family::v6;
        std::memcpy(ip.bytes.data(), &v6, 16);
        return ip;
    }
    return std::nullopt;
}

std::optional<IpAddress> parse_forwarded_ip(std::string_view text) noexcept {
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const std::string_view rest = text.substr(close + 1);
        if (!rest.empty() && !(rest.front() == ':' && all_digits(rest.substr(1)))) {
            return std::nullopt;
        }
        text = text.substr(1, close - 1);
    } else if (const std::size_t colon = text.find(':');
               colon != std::string_view::npos && text.rfind(':') == colon) {
        // One colon: IPv4 with a port (an IPv6 address has at least two).
        if (!all_digits(text.substr(colon + 1))) return std::nullopt;
        text = text.substr(0, colon);
    }
    return parse_ip(text);
}

std::string format_ip(const IpBytes& bytes) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), bytes.begin())) {
        inet_ntop(AF_INET, bytes.data() + 12, buf, sizeof buf);
    } else {
        inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
    }
    return buf;
}

socklen_t to_sockaddr(const IpAddress& ip, std::uint16_t port, sockaddr_storage& out) noexcept {
    out = {};
    if (ip.family == IpAddress::Family::v4) {
        auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        std::memcpy(&v4->sin_addr, ip.bytes.data() + 12, 4);
        return sizeof(sockaddr_in);
    }
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    std::memcpy(&v6->sin6_addr, ip.bytes.data(), 16);
    return sizeof(sockaddr_in6);
}

ForwardedClient pick_forwarded_client(std::string_view list,
                                      std::span<const IpBytes> trusted_sorted) noexcept {
    while (!list.empty()) {
        const std::size_t comma = list.rfind(',');
        const std::string_view entry =
            trim_ows(comma == std::string_view::npos ? list : list.substr(comma + 1));
        list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
        if (entry.empty()) continue;  // RFC 9110 §5.6.1: empty list elements don't count
        const std::optional<IpAddress> ip = parse_forwarded_ip(entry);
        if (!ip) return {ForwardedOutcome::invalid, {}};
        if (!std::binary_search(trusted_sorted.begin(), trusted_sorted.end(), ip->bytes)) {
            return {ForwardedOutcome::client, *ip};
        }
    }
    return {ForwardedOutcome::all_trusted, {}};
}

}  // namespace vstream::net
