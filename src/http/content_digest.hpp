// Content-Digest and Repr-Digest field values (RFC 9530 §2, §3): the sha-256 member of an
// RFC 8941 Dictionary, read and written.
#pragma once

#include "crypto/sha256.hpp"

#include <string>
#include <string_view>

namespace vstream::http {

/// A Content-Digest or Repr-Digest field value (RFC 9530: an RFC 8941 Dictionary of byte
/// sequences, e.g. `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:...:`).
struct DigestField {
    /// none: valid but no sha-256 member (other algorithms are ignored, RFC 9530 §3);
    /// sha256: `sha256` holds the member's value; malformed: not a Dictionary, or its sha-256
    /// member is not a 32-byte Byte Sequence.
    enum class Kind { none, sha256, malformed };
    Kind kind = Kind::none;
    /// The sha-256 member's value when kind is sha256; zeros otherwise.
    crypto::Sha256Digest sha256{};
};

/// Reads `value` as an RFC 8941 §4.2.2 Dictionary (the whole field value: several field lines
/// joined with ", " first) and picks its sha-256 member. Strict about the Dictionary's syntax,
/// whatever the member (the whole field is malformed otherwise, RFC 8941 §4.2): keys are
/// lowercase, SP may lead or trail the value, SP and HTAB may surround ',', and no other
/// whitespace is allowed (none around '=', none before ';'). Parameters after members are
/// allowed and ignored; when a key repeats, its last value counts (§4.2.2). Byte Sequences
/// may omit '=' padding and carry non-zero trailing bits (§4.2.7's advice to parsers). An
/// empty value is an empty Dictionary: kind none. Never allocates.
DigestField parse_digest_field(std::string_view value) noexcept;

/// "sha-256=:<base64>:", the value for a Content-Digest or Repr-Digest field.
std::string format_sha256_digest(const crypto::Sha256Digest& d);

}  // namespace vstream::http
