#include "http/content_digest.hpp"

#include "crypto/base64.hpp"
#include "http/token.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace vstream::http {

namespace {

// An RFC 8941 §4.2 parser over the front of `in`, consuming what it reads. Each function
// returns false where the RFC says "fail parsing"; the field is then malformed. No function
// recurses into itself, so input size bounds the work (linear) and the stack (constant).

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_lcalpha(char c) noexcept { return c >= 'a' && c <= 'z'; }
constexpr bool is_alpha(char c) noexcept { return is_lcalpha(c) || (c >= 'A' && c <= 'Z'); }

bool starts_with(std::string_view in, char c) noexcept { return !in.empty() && in.front() == c; }

void skip_sp(std::string_view& in) noexcept {
    while (starts_with(in, ' ')) in.remove_prefix(1);
}

// §4.2.3.3: lcalpha or '*', then lcalpha, DIGIT, '_', '-', '.' or '*'. Upper case is not a
// key character, so "SHA-256=..." fails the whole field rather than missing the member.
bool parse_key(std::string_view& in, std::string_view& key) noexcept {
    if (in.empty() || !(is_lcalpha(in.front()) || in.front() == '*')) return false;
    std::size_t n = 1;
    while (n < in.size()) {
        const char c = in[n];
        if (!(is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.' || c == '*')) break;
        ++n;
    }
    key = in.substr(0, n);
    in.remove_prefix(n);
    return true;
}

// §4.2.4: Integer (at most 15 digits) or Decimal (at most 12 integer and 3 fraction digits).
bool parse_number(std::string_view& in) noexcept {
    if (starts_with(in, '-')) in.remove_prefix(1);
    if (in.empty() || !is_digit(in.front())) return false;
    std::size_t len = 0;  // input_number's length, the '.' included
    std::size_t dot = 0;  // where the '.' is in it, 0 for an Integer
    while (!in.empty()) {
        const char c = in.front();
        if (is_digit(c)) {
            ++len;
        } else if (c == '.' && dot == 0) {
            if (len > 12) return false;
            dot = len;
            ++len;
        } else {
            break;
        }
        in.remove_prefix(1);
        if (dot == 0 ? len > 15 : len > 16) return false;
    }
    if (dot != 0) {
        const std::size_t fraction = len - dot - 1;
        if (fraction == 0 || fraction > 3) return false;
    }
    return true;
}

// §4.2.5: '"', printable ASCII with '\' escaping only '"' and '\', '"'.
bool parse_string(std::string_view& in) noexcept {
    in.remove_prefix(1);  // the opening DQUOTE
    while (!in.empty()) {
        const auto c = static_cast<unsigned char>(in.front());
        in.remove_prefix(1);
        if (c == '\\') {
            if (in.empty() || (in.front() != '"' && in.front() != '\\')) return false;
            in.remove_prefix(1);
        } else if (c == '"') {
            return true;
        } else if (c < 0x20 || c >= 0x7f) {
            return false;
        }
    }
    return false;  // no closing DQUOTE
}

// §4.2.6: ALPHA or '*', then tchar (RFC 9110 §5.6.2), ':' or '/'.
bool parse_token(std::string_view& in) noexcept {
    std::size_t n = 1;  // the first character was checked by the caller
    while (n < in.size() && (is_tchar(in[n]) || in[n] == ':' || in[n] == '/')) ++n;
    in.remove_prefix(n);
    return true;
}

// §4.2.7: ':' base64 ':'. Decodes into `out` when it fits (see base64_decode_to); `size` gets
// the decoded length.
bool parse_byte_sequence(std::string_view& in, std::span<std::uint8_t> out,
                         std::size_t& size) noexcept {
    in.remove_prefix(1);  // the opening ':'
    const std::size_t end = in.find(':');
    if (end == std::string_view::npos) return false;
    const std::string_view b64 = in.substr(0, end);
    in.remove_prefix(end + 1);
    for (const char c : b64) {
        if (!(is_alpha(c) || is_digit(c) || c == '+' || c == '/' || c == '=')) return false;
    }
    // §4.2.7: parsers SHOULD NOT fail on missing padding or non-zero pad bits.
    const std::optional<std::size_t> n = crypto::base64_decode_to(
        b64, out, crypto::Base64Alphabet::standard, crypto::Base64Strictness::lenient);
    if (!n) return false;
    size = *n;
    return true;
}

// What a bare item was, for the one member we read.
struct BareItem {
    bool bytes = false;    // a Byte Sequence
    std::size_t size = 0;  // its decoded length
};

// §4.2.3.1: dispatch on the first character. `out` receives a Byte Sequence's bytes when they
// fit.
bool parse_bare_item(std::string_view& in, std::span<std::uint8_t> out, BareItem& item) noexcept {
    item = {};
    if (in.empty()) return false;
    const char c = in.front();
    if (c == '-' || is_digit(c)) return parse_number(in);
    if (c == '"') return parse_string(in);
    if (c == '*' || is_alpha(c)) return parse_token(in);
    if (c == ':') {
        item.bytes = true;
        return parse_byte_sequence(in, out, item.size);
    }
    if (c == '?') {  // §4.2.8 Boolean
        if (in.size() < 2 || (in[1] != '0' && in[1] != '1')) return false;
        in.remove_prefix(2);
        return true;
    }
    return false;
}

// §4.2.3.2: any number of ';' SP* key ['=' bare-item]; read and ignored (RFC 9530 defines no
// parameters).
bool parse_parameters(std::string_view& in) noexcept {
    while (starts_with(in, ';')) {
        in.remove_prefix(1);
        skip_sp(in);
        std::string_view key;
        if (!parse_key(in, key)) return false;
        if (starts_with(in, '=')) {
            in.remove_prefix(1);
            BareItem ignored;
            if (!parse_bare_item(in, {}, ignored)) return false;
        }
    }
    return true;
}

// §4.2.1.2: '(' SP* (item (SP+ item)*)? SP* ')' parameters.
bool parse_inner_list(std::string_view& in) noexcept {
    in.remove_prefix(1);  // '('
    while (!in.empty()) {
        skip_sp(in);
        if (starts_with(in, ')')) {
            in.remove_prefix(1);
            return parse_parameters(in);
        }
        BareItem ignored;
        if (!parse_bare_item(in, {}, ignored) || !parse_parameters(in)) return false;
        if (!starts_with(in, ' ') && !starts_with(in, ')')) return false;
    }
    return false;  // no closing ')'
}

}  // namespace

DigestField parse_digest_field(std::string_view value) noexcept {
    constexpr std::string_view kSha256 = "sha-256";
    DigestField malformed;
    malformed.kind = DigestField::Kind::malformed;

    // The last sha-256 member seen (§4.2.2: a repeated key's later value overwrites).
    DigestField result;
    std::string_view in = value;
    skip_sp(in);  // §4.2: leading SP only
    // §4.2.2, parsing a Dictionary. Trailing whitespace is eaten by the OWS after each
    // member, and the loop ends only on an empty input, so nothing can be left over.
    while (!in.empty()) {
        std::string_view key;
        if (!parse_key(in, key)) return malformed;
        const bool ours = key == kSha256;
        crypto::Sha256Digest digest{};
        BareItem item;  // a bare key is Boolean true: not a Byte Sequence
        if (starts_with(in, '=')) {
            in.remove_prefix(1);
            if (starts_with(in, '(')) {
                if (!parse_inner_list(in)) return malformed;
            } else if (!parse_bare_item(in, ours ? std::span(digest) : std::span<std::uint8_t>(),
                                        item) ||
                       !parse_parameters(in)) {
                return malformed;
            }
        } else if (!parse_parameters(in)) {
            return malformed;
        }
        if (ours) {
            // RFC 9530 §2: the value is the digest as a Byte Sequence; for sha-256, 32 bytes.
            if (item.bytes && item.size == digest.size()) {
                result.kind = DigestField::Kind::sha256;
                result.sha256 = digest;
            } else {
                result.kind = DigestField::Kind::malformed;
                result.sha256 = {};
            }
        }
        in.remove_prefix(skip_ows(in, 0));  // OWS (RFC 9110 §5.6.3) around ','
        if (in.empty()) break;
        if (in.front() != ',') return malformed;
        in.remove_prefix(1);
        in.remove_prefix(skip_ows(in, 0));
        if (in.empty()) return malformed;  // a trailing ','
    }
    return result;
}

std::string format_sha256_digest(const crypto::Sha256Digest& d) {
    std::string s = "sha-256=:";
    s += crypto::base64_encode(d);
    s += ':';
    return s;
}

}  // namespace vstream::http
