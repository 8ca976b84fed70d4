// libFuzzer target: Content-Digest / Repr-Digest parsing and base64 on arbitrary bytes.
// Checks what the upload path relies on: parse_digest_field never crashes and is consistent
// with RFC 8941's Dictionary rules, format_sha256_digest output always parses back (on the
// input's first 32 bytes as a digest), and strict base64 accepts only canonical encodings.
#include "crypto/base64.hpp"
#include "crypto/sha256.hpp"
#include "http/content_digest.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using vstream::crypto::Base64Alphabet;
using vstream::crypto::Base64Strictness;
using vstream::crypto::Sha256Digest;
using vstream::http::DigestField;
using vstream::http::format_sha256_digest;
using vstream::http::parse_digest_field;
using Kind = DigestField::Kind;

namespace {

bool same(const DigestField& a, const DigestField& b) {
    return a.kind == b.kind && a.sha256 == b.sha256;
}

// The parse of `value`, checked for what every result must satisfy.
DigestField parse(std::string_view value) {
    const DigestField f = parse_digest_field(value);
    if (f.kind != Kind::sha256 && f.sha256 != Sha256Digest{}) __builtin_trap();
    if (f.kind == Kind::sha256 && value.find("sha-256") == std::string_view::npos) {
        __builtin_trap();  // a digest out of nowhere
    }
    return f;
}

void check_digest_field(std::string_view text) {
    const DigestField f = parse(text);
    if (!same(parse(text), f)) __builtin_trap();  // no hidden state

    // A well-formed, non-empty Dictionary stays one with another member after it, and a
    // sha-256 member before it counts only if the text has none (RFC 8941 §4.2.2: the last
    // value of a key wins).
    const bool non_empty = text.find_first_not_of(' ') != std::string_view::npos;
    if (f.kind != Kind::malformed && non_empty) {
        const std::string text_str(text);
        if (!same(parse(text_str + ", sha-512=:AA==:"), f)) __builtin_trap();
        Sha256Digest other{};
        other.fill(0xa5);
        const std::string member = format_sha256_digest(other);
        const DigestField after = parse(text_str + "," + member);
        if (after.kind != Kind::sha256 || after.sha256 != other) __builtin_trap();
        const DigestField before = parse(member + ", " + text_str);
        if (f.kind == Kind::sha256 ? !same(before, f)
                                   : before.kind != Kind::sha256 || before.sha256 != other) {
            __builtin_trap();
        }
    }
    // What follows a malformed field cannot repair it: neither a syntax error nor a bad
    // sha-256 value (a later sha-256 member could replace that one, but "a=1" is none).
    if (f.kind == Kind::malformed && parse(std::string(text) + ", a=1").kind != Kind::malformed) {
        __builtin_trap();
    }
}

// format_sha256_digest -> parse round-trips on any 32 bytes.
void check_round_trip(const std::uint8_t* data, std::size_t size) {
    Sha256Digest d{};
    if (size > 0) std::memcpy(d.data(), data, std::min(size, d.size()));
    const std::string member = format_sha256_digest(d);
    const DigestField f = parse(member);
    if (f.kind != Kind::sha256 || f.sha256 != d) __builtin_trap();
    // With surrounding SP and another member, still the same digest.
    const DigestField g = parse("  sha-512=:AA==:;p=1 ,\t" + member + ";q  ");
    if (g.kind != Kind::sha256 || g.sha256 != d) __builtin_trap();
}

// Strict decoding accepts exactly the canonical encodings: what it decodes encodes back to
// the same text; lenient decoding accepts a superset with the same bytes.
void check_base64(std::string_view text, std::span<const std::uint8_t> bytes) {
    for (const Base64Alphabet a : {Base64Alphabet::standard, Base64Alphabet::url}) {
        const std::optional<std::vector<std::uint8_t>> strict =
            vstream::crypto::base64_decode(text, a);
        if (strict) {
            const bool padded = text.find('=') != std::string_view::npos;
            if (vstream::crypto::base64_encode(*strict, a,
                                               padded || a == Base64Alphabet::standard) != text) {
                __builtin_trap();
            }
            std::vector<std::uint8_t> out(strict->size());
            const std::optional<std::size_t> lenient =
                vstream::crypto::base64_decode_to(text, out, a, Base64Strictness::lenient);
            if (lenient != strict->size() || out != *strict) __builtin_trap();
        }
        // Encoding any bytes decodes back to them, padded or (url) not.
        if (vstream::crypto::base64_decode(vstream::crypto::base64_encode(bytes, a), a) !=
            std::vector<std::uint8_t>(bytes.begin(), bytes.end())) {
            __builtin_trap();
        }
    }
    const std::string unpadded = vstream::crypto::base64_encode(bytes, Base64Alphabet::url, false);
    const std::optional<std::vector<std::uint8_t>> back =
        vstream::crypto::base64_decode(unpadded, Base64Alphabet::url);
    if (!back || !std::equal(back->begin(), back->end(), bytes.begin(), bytes.end())) {
        __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    check_digest_field(text);
    check_round_trip(data, size);
    check_base64(text, std::span<const std::uint8_t>(data, size));
    return 0;
}
