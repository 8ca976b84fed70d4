#include "crypto/base64.hpp"

#include <array>

namespace vstream::crypto {

namespace {

constexpr char kStandard[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Character -> 6-bit value, or -1 for anything outside the alphabet ('=' included).
using DecodeTable = std::array<std::int8_t, 256>;

constexpr DecodeTable make_table(const char (&alphabet)[65]) {
    DecodeTable t{};
    t.fill(-1);
    for (int i = 0; i < 64; ++i)
        t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    return t;
}

constexpr DecodeTable kStandardTable = make_table(kStandard);
constexpr DecodeTable kUrlTable = make_table(kUrl);

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> bytes, Base64Alphabet a, bool pad) {
    const char* alphabet = a == Base64Alphabet::url ? kUrl : kStandard;
    const std::size_t full = bytes.size() / 3;
    const std::size_t rest = bytes.size() % 3;
    std::string out;
    out.reserve(4 * full + (rest == 0 ? 0 : 4));
    for (std::size_t i = 0; i < full; ++i) {
        const std::uint32_t v = std::uint32_t{bytes[3 * i]} << 16 |
                                std::uint32_t{bytes[3 * i + 1]} << 8 | bytes[3 * i + 2];
        out.push_back(alphabet[v >> 18]);
        out.push_back(alphabet[(v >> 12) & 0x3f]);
        out.push_back(alphabet[(v >> 6) & 0x3f]);
        out.push_back(alphabet[v & 0x3f]);
    }
    if (rest != 0) {
        std::uint32_t v = std::uint32_t{bytes[3 * full]} << 16;
        if (rest == 2) v |= std::uint32_t{bytes[3 * full + 1]} << 8;
        out.push_back(alphabet[v >> 18]);
        out.push_back(alphabet[(v >> 12) & 0x3f]);
        if (rest == 2) out.push_back(alphabet[(v >> 6) & 0x3f]);
        if (pad) out.append(rest == 1 ? "==" : "=");
    }
    return out;
}

std::optional<std::size_t> base64_decode_to(std::string_view text, std::span<std::uint8_t> out,
                                            Base64Alphabet a, Base64Strictness s) noexcept {
    const DecodeTable& table = a == Base64Alphabet::url ? kUrlTable : kStandardTable;
    const bool strict = s == Base64Strictness::strict;

    // Split off the padding: at most two '=', and only at the end (RFC 4648 §3.2).
    std::size_t pads = 0;
    while (pads < 2 && pads < text.size() && text[text.size() - 1 - pads] == '=') ++pads;
    const std::string_view data = text.substr(0, text.size() - pads);
    // 4n+1 characters carry 6 bits too few for a whole byte: no valid encoding has them.
    const std::size_t tail = data.size() % 4;
    if (tail == 1) return std::nullopt;
    const std::size_t missing = tail == 0 ? 0 : 4 - tail;  // the '=' a padded text has
    if (pads > missing) return std::nullopt;               // "Zm9v=", "Zm8==", "=="
    if (strict && pads != missing && (a == Base64Alphabet::standard || pads != 0)) {
        return std::nullopt;  // standard needs it all; url takes all or nothing, never "Zg="
    }

    const std::size_t size = data.size() / 4 * 3 + (tail == 0 ? 0 : tail - 1);
    const bool write = size <= out.size();
    std::uint32_t acc = 0;
    std::size_t n = 0;
    for (std::size_t i = 0; i < data.size(); ++i) {
        const int v = table[static_cast<unsigned char>(data[i])];
        if (v < 0) return std::nullopt;  // outside the alphabet: '=', whitespace, the other 62/63
        acc = acc << 6 | static_cast<std::uint32_t>(v);
        if (i % 4 == 3) {
            if (write) {
                out[n] = static_cast<std::uint8_t>(acc >> 16);
                out[n + 1] = static_cast<std::uint8_t>(acc >> 8);
                out[n + 2] = static_cast<std::uint8_t>(acc);
            }
            n += 3;
            acc = 0;
        }
    }
    if (tail == 2) {
        // 12 bits: one byte, 4 bits left over (RFC 4648 §3.5: zero in a canonical encoding).
        if (strict && (acc & 0x0f) != 0) return std::nullopt;
        if (write) out[n] = static_cast<std::uint8_t>(acc >> 4);
    } else if (tail == 3) {
        // 18 bits: two bytes, 2 bits left over.
        if (strict && (acc & 0x03) != 0) return std::nullopt;
        if (write) {
            out[n] = static_cast<std::uint8_t>(acc >> 10);
            out[n + 1] = static_cast<std::uint8_t>(acc >> 2);
        }
    }
    return size;
}

std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text, Base64Alphabet a) {
    // Validate first, so a long invalid text costs no allocation.
    const std::optional<std::size_t> size = base64_decode_to(text, {}, a);
    if (!size) return std::nullopt;
    std::vector<std::uint8_t> bytes(*size);
    base64_decode_to(text, bytes, a);
    return bytes;
}

}  // namespace vstream::crypto
