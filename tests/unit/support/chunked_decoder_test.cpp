// The test support's chunked transfer coding decoder (tests/support/chunked_decoder.cpp), which
// the tests trust to read the server's chunked responses: sizes, extensions, trailers,
// strictness, limits, and input split at every byte.
#include "chunked_decoder.hpp"

#include <doctest/doctest.h>

#include <string>

using vstream::test::ChunkedDecoder;
using Status = ChunkedDecoder::Status;

namespace {

struct Decoded {
    Status status = Status::more;
    std::string data;
    std::size_t consumed = 0;
};

Decoded decode(std::string_view in, ChunkedDecoder& d) {
    Decoded out;
    const auto r = d.feed(in, [&](std::string_view piece) { out.data += piece; });
    out.status = r.status;
    out.consumed = r.consumed;
    return out;
}

Decoded decode(std::string_view in) {
    ChunkedDecoder d;
    return decode(in, d);
}

}  // namespace

TEST_SUITE("support/chunked_decoder") {

TEST_CASE("chunks decode to their data and the last chunk ends the body") {
    ChunkedDecoder d;
    const std::string in = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\nNEXT";
    const Decoded r = decode(in, d);
    CHECK(r.status == Status::done);
    CHECK(r.data == "hello, world");
    CHECK(r.consumed == in.size() - 4);  // stops at the end of the body
    CHECK(d.body_bytes() == 12);
    CHECK(d.trailers().empty());
}

TEST_CASE("input split at every byte decodes the same") {
    const std::string in =
        "A;name=\"va\\\"l\";x\r\n0123456789\r\n1\r\nz\r\n000;ext\r\nExpires: never\r\nX-Sum: 1 "
        "\r\n\r\n";
    for (std::size_t cut = 0; cut <= in.size(); ++cut) {
        CAPTURE(cut);
        ChunkedDecoder d;
        std::string data;
        auto sink = [&](std::string_view p) { data += p; };
        const auto a = d.feed(std::string_view(in).substr(0, cut), sink);
        REQUIRE(a.status == (cut == in.size() ? Status::done : Status::more));
        const auto b = d.feed(std::string_view(in).substr(cut), sink);
        CHECK(b.status == Status::done);
        CHECK(data == "0123456789z");
        REQUIRE(d.trailers().size() == 2);
        CHECK(d.trailers()[0].first == "Expires");
        CHECK(d.trailers()[0].second == "never");
        CHECK(d.trailers()[1].second == "1");
    }
}

TEST_CASE("chunk extensions are accepted when well-formed and skipped") {
    for (const char* ext : {";a", ";a=b", " ; a = b ", ";a=\"q s\"", ";a;b=c;d=\"\""}) {
        CAPTURE(ext);
        const Decoded r = decode(std::string("3") + ext + "\r\nabc\r\n0\r\n\r\n");
        CHECK(r.status == Status::done);
        CHECK(r.data == "abc");
    }
}

TEST_CASE("malformed input is an error") {
    for (const char* in : {
             "\r\n",                     // no size
             "x\r\n",                    // not hex
             "-1\r\n",                   // sign
             "0x5\r\nhello\r\n",         // prefix
             "5\nhello\r\n0\r\n\r\n",    // bare LF in the size line
             "5\r\nhello\n0\r\n\r\n",    // data without CRLF
             "5\r\nhelloXX0\r\n\r\n",    // data longer than its size
             "5\r\rhello",               // bare CR
             "3;\r\nabc\r\n",            // empty extension
             "3;a=\r\nabc\r\n",          // empty extension value
             "3;a=\"open\r\nabc\r\n",    // unterminated quoted string
             "3 x\r\nabc\r\n",           // garbage after the size
             "1000000000000000\r\n",     // 2^60: too large
             "0\r\n: v\r\n\r\n",         // empty trailer name
             "0\r\nName v\r\n\r\n",      // no colon
             "0\r\nName : v\r\n\r\n",    // space before the colon
             "0\r\n folded\r\n\r\n",     // obs-fold
             "0\r\nA: b\nC: d\r\n\r\n",  // bare LF in trailers
         }) {
        CAPTURE(in);
        const Decoded r = decode(in);
        CHECK(r.status == Status::error);
    }
}

TEST_CASE("an error reports why and consumes no further input") {
    ChunkedDecoder d;
    CHECK(decode("zz\r\n", d).status == Status::error);
    CHECK(std::string(d.error()) == "invalid chunk size");
    CHECK(decode("5\r\nhello\r\n0\r\n\r\n", d).status == Status::error);
}

TEST_CASE("limits bound the size line, the trailers and the body") {
    ChunkedDecoder::Limits l;
    l.max_line = 8;
    l.max_trailer_bytes = 32;
    l.max_trailers = 1;
    l.max_body = 10;
    {
        ChunkedDecoder d(l);
        CHECK(decode("3;abcdefgh\r\nabc\r\n0\r\n\r\n", d).status == Status::error);
    }
    {
        ChunkedDecoder d(l);
        CHECK(decode("0\r\nA: 0123456789012345678901234567890\r\n\r\n", d).status == Status::error);
    }
    {
        ChunkedDecoder d(l);
        CHECK(decode("0\r\nA: 1\r\nB: 2\r\n\r\n", d).status == Status::error);
    }
    {
        ChunkedDecoder d(l);
        CHECK(decode("a\r\n0123456789\r\n0\r\n\r\n", d).status == Status::done);
    }
    {
        ChunkedDecoder d(l);
        CHECK(decode("a\r\n0123456789\r\n1\r\nx\r\n", d).status == Status::error);
        CHECK(std::string(d.error()) == "body too large");
    }
}

TEST_CASE("a large chunk is handed out without copying, as views into the input") {
    const std::string payload(100000, 'p');
    const std::string in = "186a0\r\n" + payload + "\r\n0\r\n\r\n";
    ChunkedDecoder d;
    std::size_t pieces = 0;
    const char* first = nullptr;
    d.feed(in, [&](std::string_view p) {
        if (pieces++ == 0) first = p.data();
    });
    CHECK(d.finished());
    CHECK(pieces == 1);
    CHECK(first == in.data() + 7);
}

}  // TEST_SUITE("support/chunked_decoder")
