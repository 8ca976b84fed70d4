// Decimal appending (src/core/decimal.hpp): zero, every digit count, the largest value.
#include "core/decimal.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

using vstream::core::append_decimal;

TEST_SUITE("core/decimal") {

TEST_CASE("numbers are appended in decimal after what the string holds") {
    struct Row {
        std::uint64_t n;
        const char* text;
    };
    const Row rows[] = {
        {0, "0"},
        {7, "7"},
        {10, "10"},
        {200, "200"},
        {416, "416"},
        {1000000, "1000000"},
        {std::numeric_limits<std::uint32_t>::max(), "4294967295"},
        {std::numeric_limits<std::uint64_t>::max(), "18446744073709551615"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.n);
        std::string out = "n=";
        append_decimal(out, row.n);
        CHECK(out == std::string("n=") + row.text);
    }
}

TEST_CASE("appending twice concatenates, with no separator") {
    std::string out;
    append_decimal(out, 12);
    append_decimal(out, 0);
    append_decimal(out, 34);
    CHECK(out == "12034");
}

}  // TEST_SUITE("core/decimal")
