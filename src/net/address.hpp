// Numeric IP addresses: parsing (strict, as a listen address is written, or as proxies write a
// client in X-Forwarded-For), canonical text, socket addresses, and picking the client out of
// an X-Forwarded-For list. The one place vstream reads an address from text.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vstream::net {

/// An IP address as 16 bytes in network order. IPv4 is held IPv4-mapped (::ffff:a.b.c.d,
/// RFC 4291 §2.5.5.2), so a dual-stack socket's "::ffff:10.0.0.1" and "10.0.0.1" are the same
/// bytes and compare equal.
using IpBytes = std::array<std::uint8_t, 16>;

/// A parsed numeric address: its bytes and the family its text was written in.
struct IpAddress {
    enum class Family : std::uint8_t { v4, v6 };

    /// How the text spelled it: "10.0.0.1" is v4, "::ffff:10.0.0.1" is v6 (same bytes).
    Family family = Family::v4;
    /// The address, IPv4 mapped into IPv6 whatever the family.
    IpBytes bytes{};

    /// Whether the bytes are an IPv4-mapped address (an IPv4 address, written either way).
    bool is_v4_mapped() const noexcept;
};

/// Parses a numeric IPv4 address (dotted quad, four decimal parts of at most 255) or IPv6
/// address (RFC 4291 §2.2 text forms, an embedded dotted quad included), exactly as inet_pton
/// reads them. Nothing else: no surrounding whitespace, brackets, port, zone id ("fe80::1%eth0"),
/// NUL byte or host name. Never allocates.
std::optional<IpAddress> parse_ip(std::string_view text) noexcept;

/// Parses an address as proxies write it in X-Forwarded-For and its kin: parse_ip's forms,
/// plus "[v6]", "[v6]:port" and "v4:port" (port: one or more digits, not range-checked).
/// Anything else ("unknown", host names, obfuscated RFC 7239 identifiers, zone ids) is not an
/// address. The caller trims surrounding whitespace. Never allocates.
std::optional<IpAddress> parse_forwarded_ip(std::string_view text) noexcept;

/// The canonical text of `bytes`: a dotted quad for an IPv4(-mapped) address, the RFC 5952
/// form for any other IPv6 address ("2001:DB8:0::1" gives "2001:db8::1"). At most 45 bytes.
std::string format_ip(const IpBytes& bytes);

/// Fills `out` with `ip` and `port` (host order): sockaddr_in for a v4 family, sockaddr_in6
/// (scope 0) for v6, as the text was written. Returns the length to pass to bind().
socklen_t to_sockaddr(const IpAddress& ip, std::uint16_t port, sockaddr_storage& out) noexcept;

/// What pick_forwarded_client found in one X-Forwarded-For-style list.
enum class ForwardedOutcome {
    /// `address` is the rightmost entry that is not trusted.
    client,
    /// Every entry is trusted (or the list holds none): the client is in an earlier field.
    all_trusted,
    /// An entry that is not an address came before any untrusted one: no client can be named.
    invalid,
};

/// The result of pick_forwarded_client.
struct ForwardedClient {
    ForwardedOutcome outcome = ForwardedOutcome::all_trusted;
    IpAddress address{};  ///< meaningful for ForwardedOutcome::client only
};

/// Reads the comma-separated `list` (one X-Forwarded-For field value) right to left: each
/// proxy appends the address it saw, so entries right of the first untrusted one were written
/// by proxies we trust, and anything left of it may have been made up by the client. Entries
/// are trimmed of SP and HTAB and empty ones skipped (RFC 9110 §5.6.1); each is read with
/// parse_forwarded_ip. `trusted_sorted` holds the trusted proxies' bytes in ascending order.
/// Never allocates.
ForwardedClient pick_forwarded_client(std::string_view list,
                                      std::span<const IpBytes> trusted_sorted) noexcept;

}  // namespace vstream::net
