// crypto::random_bytes: fills any size, and two draws differ.
#include "crypto/random.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <vector>

TEST_SUITE("crypto/random") {

TEST_CASE("random_bytes fills the span, and two draws differ") {
    std::array<std::uint8_t, 32> a{};
    std::array<std::uint8_t, 32> b{};
    REQUIRE(vstream::crypto::random_bytes(a) == 0);
    REQUIRE(vstream::crypto::random_bytes(b) == 0);
    CHECK(a != b);  // equal with probability 2^-256
    std::vector<std::uint8_t> big(1 << 20, 0);
    REQUIRE(vstream::crypto::random_bytes(big) == 0);
    std::size_t zeros = 0;
    for (const std::uint8_t x : big) zeros += x == 0 ? 1 : 0;
    CHECK(zeros < big.size() / 128);  // about 1/256 of the bytes are zero
}

TEST_CASE("an empty span is fine") { CHECK(vstream::crypto::random_bytes({}) == 0); }

}  // TEST_SUITE("crypto/random")
