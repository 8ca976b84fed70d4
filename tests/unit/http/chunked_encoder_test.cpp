// The chunked transfer coding encoder (src/http/chunked_encoder.cpp), checked against the test
// support's strict decoder (tests/support/chunked_decoder.hpp).
#include "http/chunked_encoder.hpp"

#include <vstream/error.hpp>

#include "chunked_decoder.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace vstream::http;
using vstream::test::ChunkedDecoder;

TEST_SUITE("http/chunked_encoder") {

TEST_CASE("chunk size lines are lowercase hex with CRLF") {
    char buf[kMaxChunkSizeLine];
    for (const auto& row :
         std::vector<std::pair<std::uint64_t, std::string>>{{1, "1\r\n"},
                                                            {15, "f\r\n"},
                                                            {16, "10\r\n"},
                                                            {4096, "1000\r\n"},
                                                            {UINT64_MAX, "ffffffffffffffff\r\n"}}) {
        CAPTURE(row.first);
        CHECK(std::string(buf, chunk_size_line(row.first, buf)) == row.second);
    }
}

TEST_CASE("the last chunk carries the trailers and an empty line") {
    CHECK(last_chunk() == "0\r\n\r\n");
    const std::vector<std::pair<std::string, std::string>> t = {{"Digest", "sha-256=:x:"},
                                                                {"X-N", ""}};
    CHECK(last_chunk(t) == "0\r\nDigest: sha-256=:x:\r\nX-N: \r\n\r\n");
}

TEST_CASE("invalid trailer fields are refused") {
    using P = std::pair<std::string, std::string>;
    for (const P& bad : {P{"", "v"}, P{"a b", "v"}, P{"a:b", "v"}, P{"ok", "a\r\nb"},
                         P{"ok", std::string("a\0b", 3)}}) {
        CAPTURE(bad.first);
        const std::vector<P> t = {bad};
        CHECK_THROWS_AS(last_chunk(t), vstream::Error);
    }
}

TEST_CASE("what the encoder writes, the decoder reads back") {
    std::string wire;
    std::string expect;
    char buf[kMaxChunkSizeLine];
    for (std::size_t n : {1u, 2u, 17u, 4096u, 70000u}) {
        const std::string data(n, static_cast<char>('a' + n % 26));
        wire.append(buf, chunk_size_line(n, buf)).append(data).append(kChunkEnd);
        expect += data;
    }
    const std::vector<std::pair<std::string, std::string>> t = {{"X-Count", "5"}};
    wire += last_chunk(t);
    ChunkedDecoder d;
    std::string got;
    const auto r = d.feed(wire, [&](std::string_view p) { got += p; });
    CHECK(r.status == ChunkedDecoder::Status::done);
    CHECK(got == expect);
    REQUIRE(d.trailers().size() == 1);
    CHECK(d.trailers()[0].second == "5");
}

}  // TEST_SUITE("http/chunked_encoder")
