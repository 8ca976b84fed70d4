// Tests base64 (src/crypto/base64.cpp): RFC 4648 §10 vectors both ways, the url alphabet,
// strict decoding refusals, and the RFC 8941 lenient mode.
#include "crypto/base64.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using vstream::crypto::base64_decode;
using vstream::crypto::base64_decode_to;
using vstream::crypto::base64_encode;
using vstream::crypto::Base64Alphabet;
using vstream::crypto::Base64Strictness;

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

std::string encode(std::string_view s, Base64Alphabet a = Base64Alphabet::standard,
                   bool pad = true) {
    return base64_encode(bytes_of(s), a, pad);
}

// The decoded text, or "<invalid>".
std::string decode(std::string_view text, Base64Alphabet a = Base64Alphabet::standard) {
    const std::optional<std::vector<std::uint8_t>> d = base64_decode(text, a);
    return d ? std::string(d->begin(), d->end()) : "<invalid>";
}

struct Vector {
    const char* plain;
    const char* encoded;
};

// RFC 4648 §10.
constexpr Vector kRfc4648[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

}  // namespace

TEST_SUITE("crypto/base64") {

TEST_CASE("the RFC 4648 test vectors encode and decode both ways") {
    for (const Vector& v : kRfc4648) {
        CAPTURE(v.plain);
        CHECK(encode(v.plain) == v.encoded);
        CHECK(decode(v.encoded) == v.plain);
        // The url alphabet differs only in two characters, none used here.
        CHECK(encode(v.plain, Base64Alphabet::url) == v.encoded);
        CHECK(decode(v.encoded, Base64Alphabet::url) == v.plain);
    }
}

TEST_CASE("without padding the encoding stops at the last data character") {
    CHECK(encode("f", Base64Alphabet::url, false) == "Zg");
    CHECK(encode("fo", Base64Alphabet::url, false) == "Zm8");
    CHECK(encode("foo", Base64Alphabet::url, false) == "Zm9v");
    CHECK(encode("f", Base64Alphabet::standard, false) == "Zg");
}

TEST_CASE("the url alphabet uses '-' and '_' where standard uses '+' and '/'") {
    const std::vector<std::uint8_t> bytes = {0xfb, 0xff, 0xbf};
    CHECK(base64_encode(bytes) == "+/+/");
    CHECK(base64_encode(bytes, Base64Alphabet::url) == "-_-_");
    CHECK(base64_decode("-_-_", Base64Alphabet::url) == bytes);
    CHECK(base64_decode("+/+/") == bytes);
    // Each alphabet refuses the other's characters.
    CHECK_FALSE(base64_decode("-_-_").has_value());
    CHECK_FALSE(base64_decode("+/+/", Base64Alphabet::url).has_value());
}

TEST_CASE("url decoding takes complete padding or none, standard requires it") {
    CHECK(decode("Zg", Base64Alphabet::url) == "f");
    CHECK(decode("Zm8", Base64Alphabet::url) == "fo");
    CHECK(decode("Zg==", Base64Alphabet::url) == "f");
    CHECK(decode("Zg=", Base64Alphabet::url) == "<invalid>");  // half the padding
    CHECK(decode("Zg") == "<invalid>");
    CHECK(decode("Zg=") == "<invalid>");
    CHECK(decode("Zm8") == "<invalid>");
}

TEST_CASE("strict decoding refuses anything but the canonical encoding") {
    for (const std::string_view text : {
             "Zm9v!",     // a character outside the alphabet
             "Zm9v\n",    // a line break (RFC 2045 wraps; RFC 4648 §3.1 does not)
             "Zm 9v",     // a space
             " Zm9v",     // leading whitespace
             "Zm9v ",     // trailing whitespace
             "Zm9\tv",    // a tab
             "Zm=v",      // padding in the middle
             "=Zm9",      // padding first
             "Zm9v=",     // padding where none belongs
             "Zm8==",     // too much padding
             "Zg===",     // far too much
             "=",         // padding alone
             "==",        // padding alone
             "Z",         // 6 bits: not a byte
             "Zm9vY",     // 4n+1 characters
             "Zm9vY===",  // the same, padded out
             "Zh==",      // non-zero trailing bits (RFC 4648 §3.5): 'h' ends in 0001
             "Zm9=",      // non-zero trailing bits: '9' ends in 01
         }) {
        CAPTURE(text);
        CHECK_FALSE(base64_decode(text).has_value());
        CHECK_FALSE(base64_decode(text, Base64Alphabet::url).has_value());
    }
    using namespace std::string_view_literals;
    CHECK_FALSE(base64_decode("Zm9v\0"sv).has_value());        // a NUL
    CHECK_FALSE(base64_decode("Zm9v\xc3\xa9"sv).has_value());  // non-ASCII
}

TEST_CASE("every byte value round-trips in both alphabets") {
    std::vector<std::uint8_t> all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(i));
    for (std::size_t len = 0; len <= all.size(); len += 1 + len / 8) {
        CAPTURE(len);
        const std::vector<std::uint8_t> part(all.begin(), all.begin() + static_cast<long>(len));
        CHECK(base64_decode(base64_encode(part)) == part);
        CHECK(base64_decode(base64_encode(part, Base64Alphabet::url, false), Base64Alphabet::url) ==
              part);
    }
}

TEST_CASE("base64_decode_to writes only when everything fits, and reports the size") {
    std::array<std::uint8_t, 6> out{};
    CHECK(base64_decode_to("Zm9vYmFy", out) == 6u);
    CHECK(std::string(out.begin(), out.end()) == "foobar");

    std::array<std::uint8_t, 3> small = {'x', 'x', 'x'};
    CHECK(base64_decode_to("Zm9vYmFy", small) == 6u);         // the size needed
    CHECK(std::string(small.begin(), small.end()) == "xxx");  // untouched
    CHECK(base64_decode_to("Zm9vYmFy", {}) == 6u);            // validation only
    CHECK_FALSE(base64_decode_to("Zm9v!", out).has_value());
    CHECK(base64_decode_to("", {}) == 0u);
}

TEST_CASE("lenient decoding synthesises padding and ignores trailing bits (RFC 8941)") {
    std::array<std::uint8_t, 8> out{};
    const auto lenient = [&](std::string_view text) {
        return base64_decode_to(text, out, Base64Alphabet::standard, Base64Strictness::lenient);
    };
    CHECK(lenient("Zg") == 1u);
    CHECK(out[0] == 'f');
    CHECK(lenient("Zg=") == 1u);
    CHECK(lenient("Zm8") == 2u);
    CHECK(lenient("Zh==") == 1u);  // 'h' = 0b100001: the high bits still give 'f'
    CHECK(out[0] == 'f');
    CHECK(lenient("Zm9") == 2u);
    CHECK(std::string(out.begin(), out.begin() + 2) == "fo");
    // Still refused: what no padding rule can repair.
    for (const std::string_view text : {"Zm9v=", "Zm=v", "Z", "Zm9vY", "Zm9v!", "Zm 9v", "="}) {
        CAPTURE(text);
        CHECK_FALSE(lenient(text).has_value());
    }
}

}  // TEST_SUITE("crypto/base64")
