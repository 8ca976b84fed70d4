// Tests Sha256 (src/crypto/sha256.cpp): FIPS 180-4 example vectors, pieces of any size, reuse
// after finish(), moves, and hex output.
#include "crypto/sha256.hpp"

#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using vstream::crypto::Sha256;
using vstream::crypto::Sha256Digest;
using vstream::crypto::to_hex;

namespace {

std::string hex_of(std::string_view bytes) { return to_hex(vstream::crypto::sha256(bytes)); }

// The FIPS 180-4 / NIST CSRC example messages.
const std::string kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr std::string_view k448Bits = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const std::string k448BitsHex = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
constexpr std::string_view k896Bits =
    "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmn"
    "opqrsmnopqrstnopqrstu";
const std::string k896BitsHex = "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1";
const std::string kMillionA = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

}  // namespace

TEST_SUITE("crypto/sha256") {

TEST_CASE("the FIPS 180-4 example messages give their published digests") {
    CHECK(hex_of("") == kEmpty);
    CHECK(hex_of("abc") == kAbc);
    CHECK(hex_of(k448Bits) == k448BitsHex);
    CHECK(hex_of(k896Bits) == k896BitsHex);
}

TEST_CASE("one million 'a' fed in uneven pieces equals the one-shot digest") {
    const std::string million(1000000, 'a');
    const Sha256Digest one_shot = vstream::crypto::sha256(million);
    CHECK(to_hex(one_shot) == kMillionA);

    // Pieces of 0, 1, 2, ... 999 bytes, cycling: every offset modulo the 64-byte block.
    Sha256 h;
    std::size_t done = 0;
    for (std::size_t piece = 0; done < million.size(); piece = (piece + 1) % 1000) {
        const std::size_t n = std::min(piece, million.size() - done);
        h.update(std::string_view(million).substr(done, n));
        done += n;
    }
    CHECK(h.finish() == one_shot);
}

TEST_CASE("a message fed byte by byte equals the one-shot digest") {
    Sha256 h;
    for (const char c : k896Bits) h.update(std::string_view(&c, 1));
    CHECK(to_hex(h.finish()) == k896BitsHex);
}

TEST_CASE("update accepts bytes as a span too") {
    const std::vector<std::uint8_t> abc = {'a', 'b', 'c'};
    Sha256 h;
    h.update(std::span<const std::uint8_t>(abc));
    CHECK(to_hex(h.finish()) == kAbc);
}

TEST_CASE("finish resets the object for a new digest") {
    Sha256 h;
    h.update("abc");
    CHECK(to_hex(h.finish()) == kAbc);
    CHECK(to_hex(h.finish()) == kEmpty);  // nothing added since
    h.update(k448Bits.substr(0, 10));
    h.update(k448Bits.substr(10));
    CHECK(to_hex(h.finish()) == k448BitsHex);
}

TEST_CASE("a moved-to object carries on the digest in progress") {
    Sha256 a;
    a.update("ab");
    Sha256 b(std::move(a));
    b.update("c");
    CHECK(to_hex(b.finish()) == kAbc);

    Sha256 c;
    c.update("unrelated");
    c = std::move(b);
    c.update("abc");
    CHECK(to_hex(c.finish()) == kAbc);
}

TEST_CASE("to_hex writes two lowercase digits per byte") {
    const std::vector<std::uint8_t> bytes = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    CHECK(to_hex(bytes) == "00017f80abff");
    CHECK(to_hex(std::span<const std::uint8_t>()).empty());
    char out[4] = {'x', 'x', 'x', 'x'};
    to_hex(std::span(bytes).first(1), out);
    CHECK(std::string_view(out, 4) == "00xx");  // exactly two chars written
}

}  // TEST_SUITE("crypto/sha256")
