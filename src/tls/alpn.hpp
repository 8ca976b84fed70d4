// ALPN (RFC 7301): the protocol a server picks from what a client offers.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace vstream::tls {

/// The protocol for a connection: the first of `server` (the server's order of preference)
/// that the client's list also holds. `client_wire` is the client's ProtocolNameList as
/// RFC 7301 §3.1 writes it (each name a length byte, then that many bytes) and is untrusted.
/// Returns the chosen name's bytes inside `client_wire`, or an empty span when nothing
/// matches or the list is malformed (an empty name, or one running past the end). Server
/// preference rather than the client's (OpenSSL's SSL_select_next_proto): the server knows
/// which of its protocols it serves best ("h2" before "http/1.1"). Never allocates.
std::span<const std::uint8_t> select_alpn(std::span<const std::string> server,
                                          std::span<const std::uint8_t> client_wire) noexcept;

}  // namespace vstream::tls
