// Numeric addresses (src/net/address.cpp): strict and forwarded forms, canonical text, socket
// addresses, and the client picked out of an X-Forwarded-For list.
#include "net/address.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using vstream::net::format_ip;
using vstream::net::ForwardedOutcome;
using vstream::net::IpAddress;
using vstream::net::IpBytes;
using vstream::net::parse_forwarded_ip;
using vstream::net::parse_ip;
using vstream::net::pick_forwarded_client;
using vstream::net::to_sockaddr;

namespace {

IpBytes bytes_of(std::string_view text) {
    const std::optional<IpAddress> ip = parse_ip(text);
    REQUIRE(ip);
    return ip->bytes;
}

// The canonical text of what `text` parses to in the forwarded form, or "-" when it does not.
std::string forwarded(std::string_view text) {
    const std::optional<IpAddress> ip = parse_forwarded_ip(text);
    return ip ? format_ip(ip->bytes) : "-";
}

}  // namespace

TEST_SUITE("net/address") {

TEST_CASE("numeric IPv4 and IPv6 addresses parse, with the family they were written in") {
    struct Row {
        const char* text;
        IpAddress::Family family;
        const char* canonical;
    };
    const Row rows[] = {
        {"127.0.0.1", IpAddress::Family::v4, "127.0.0.1"},
        {"0.0.0.0", IpAddress::Family::v4, "0.0.0.0"},
        {"255.255.255.255", IpAddress::Family::v4, "255.255.255.255"},
        {"::", IpAddress::Family::v6, "::"},
        {"::1", IpAddress::Family::v6, "::1"},
        {"fe80::1", IpAddress::Family::v6, "fe80::1"},
        {"2001:DB8:0:0:0:0:0:1", IpAddress::Family::v6, "2001:db8::1"},
        {"2001:db8:0:1:1:1:1:1", IpAddress::Family::v6, "2001:db8:0:1:1:1:1:1"},
        {"::ffff:10.0.0.1", IpAddress::Family::v6, "10.0.0.1"},
        {"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", IpAddress::Family::v6,
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.text);
        const std::optional<IpAddress> ip = parse_ip(row.text);
        REQUIRE(ip);
        CHECK(ip->family == row.family);
        CHECK(format_ip(ip->bytes) == row.canonical);
    }
}

TEST_CASE("anything but a bare numeric address is refused by the strict form") {
    const std::string rows[] = {
        "",
        "localhost",
        "example.com",
        "127.0.0.1:80",
        "1.2.3.4.5",
        "1.2.3",
        "256.0.0.1",
        " 127.0.0.1",
        "127.0.0.1 ",
        "\t::1",
        "[::1]",
        "[::1]:80",
        "fe80::1%eth0",
        "1:2:3:4:5:6:7:8:9",
        "::1::",
        "unknown",
        std::string("127.0.0.1\0junk", 14),
        std::string("::1\0", 4),
        "0000:0000:0000:0000:0000:0000:0000:0000:0000",  // nine groups
        std::string(4096, '1'),
    };
    for (const std::string& row : rows) {
        CAPTURE(row);
        CHECK_FALSE(parse_ip(row));
    }
}

TEST_CASE("an IPv4 address and its IPv4-mapped IPv6 spelling have the same bytes") {
    const std::optional<IpAddress> v4 = parse_ip("10.0.0.1");
    const std::optional<IpAddress> mapped = parse_ip("::ffff:10.0.0.1");
    REQUIRE(v4);
    REQUIRE(mapped);
    CHECK(v4->bytes == mapped->bytes);
    CHECK(v4->is_v4_mapped());
    CHECK(mapped->is_v4_mapped());
    CHECK(v4->family != mapped->family);
    CHECK_FALSE(parse_ip("::1")->is_v4_mapped());
    CHECK(bytes_of("2001:db8::1") == bytes_of("2001:DB8:0::1"));
}

TEST_CASE("the forwarded form also takes a port and brackets, and nothing else") {
    CHECK(forwarded("192.0.2.1") == "192.0.2.1");
    CHECK(forwarded("192.0.2.1:443") == "192.0.2.1");
    CHECK(forwarded("2001:db8::1") == "2001:db8::1");
    CHECK(forwarded("[2001:db8::1]") == "2001:db8::1");
    CHECK(forwarded("[2001:DB8::1]:443") == "2001:db8::1");
    CHECK(forwarded("[::ffff:192.0.2.1]:1") == "192.0.2.1");
    CHECK(forwarded("192.0.2.1:") == "-");
    CHECK(forwarded("192.0.2.1:https") == "-");
    CHECK(forwarded("192.0.2.1:-1") == "-");
    CHECK(forwarded("[2001:db8::1]:") == "-");
    CHECK(forwarded("[2001:db8::1]x") == "-");
    CHECK(forwarded("[2001:db8::1") == "-");
    CHECK(forwarded("[]") == "-");
    CHECK(forwarded("unknown") == "-");
    CHECK(forwarded("_hidden") == "-");
    CHECK(forwarded("proxy.example:80") == "-");
    CHECK(forwarded(" 192.0.2.1") == "-");  // the caller trims
    CHECK(forwarded("") == "-");
}

TEST_CASE("a socket address keeps the family the address was written in") {
    sockaddr_storage ss{};
    socklen_t len = to_sockaddr(*parse_ip("127.0.0.1"), 8080, ss);
    REQUIRE(len == sizeof(sockaddr_in));
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&ss);
    CHECK(v4->sin_family == AF_INET);
    CHECK(ntohs(v4->sin_port) == 8080);
    CHECK(ntohl(v4->sin_addr.s_addr) == 0x7f000001u);

    for (const char* text : {"::1", "::ffff:127.0.0.1"}) {
        CAPTURE(text);
        len = to_sockaddr(*parse_ip(text), 443, ss);
        REQUIRE(len == sizeof(sockaddr_in6));
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        CHECK(v6->sin6_family == AF_INET6);
        CHECK(ntohs(v6->sin6_port) == 443);
        CHECK(v6->sin6_scope_id == 0);
        in6_addr want{};
        REQUIRE(inet_pton(AF_INET6, text, &want) == 1);
        CHECK(std::memcmp(&v6->sin6_addr, &want, sizeof want) == 0);
    }
}

TEST_CASE("the client is the rightmost forwarded entry that is not a trusted proxy") {
    std::vector<IpBytes> trusted = {bytes_of("10.0.0.2"), bytes_of("10.0.0.1"),
                                    bytes_of("2001:db8::10")};
    std::sort(trusted.begin(), trusted.end());

    struct Row {
        const char* list;
        ForwardedOutcome outcome;
        const char* client;  // canonical text, for ForwardedOutcome::client
    };
    const Row rows[] = {
        {"203.0.113.7", ForwardedOutcome::client, "203.0.113.7"},
        {"203.0.113.7, 10.0.0.2", ForwardedOutcome::client, "203.0.113.7"},
        {"198.51.100.1, 203.0.113.7, 10.0.0.1", ForwardedOutcome::client, "203.0.113.7"},
        {"made-up, 203.0.113.7,10.0.0.1", ForwardedOutcome::client, "203.0.113.7"},
        {"\t[2001:DB8::1]:443 ,[2001:db8::10]", ForwardedOutcome::client, "2001:db8::1"},
        {"203.0.113.7:1234,,  ,10.0.0.1", ForwardedOutcome::client, "203.0.113.7"},
        {"10.0.0.1, 10.0.0.2", ForwardedOutcome::all_trusted, ""},
        {"::ffff:10.0.0.1", ForwardedOutcome::all_trusted, ""},  // same address as 10.0.0.1
        {"", ForwardedOutcome::all_trusted, ""},
        {" , ,\t", ForwardedOutcome::all_trusted, ""},
        {"unknown, 10.0.0.2", ForwardedOutcome::invalid, ""},
        {"203.0.113.7, unknown", ForwardedOutcome::invalid, ""},
        {"203.0.113.7, 10.0.0.1 10.0.0.2", ForwardedOutcome::invalid, ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.list);
        const auto c = pick_forwarded_client(row.list, trusted);
        CHECK(c.outcome == row.outcome);
        if (row.outcome == ForwardedOutcome::client) {
            CHECK(format_ip(c.address.bytes) == row.client);
        }
    }
}

TEST_CASE("with no trusted proxy, the last entry is the client") {
    const auto c = pick_forwarded_client("192.0.2.1, 192.0.2.2", {});
    REQUIRE(c.outcome == ForwardedOutcome::client);
    CHECK(format_ip(c.address.bytes) == "192.0.2.2");
}

}  // TEST_SUITE("net/address")
