// The chunk-size line scanner: which bytes reach llhttp (the size and CRLF), which are dropped
// (extensions, RFC 9112 §7.1.1), what is refused, the length cap, and split input.
#include "http/chunk_line_scanner.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using vstream::http::ChunkLineScanner;

namespace {

struct Scanned {
    std::string passed;   // the bytes handed on, in order
    std::string skipped;  // the bytes dropped
    int status = 0;       // nonzero: refused
    bool line_end = false;
    std::size_t used = 0;  // input bytes covered by the runs
};

// Runs `input` through a scanner in pieces of `step` bytes (0: all at once), stopping at the
// end of the line or at a refusal.
Scanned scan(const std::string& input, std::size_t step = 0, std::size_t max_line = 64) {
    ChunkLineScanner s(max_line);
    Scanned out;
    if (step == 0) step = input.size();
    for (std::size_t pos = 0; pos < input.size();) {
        const std::size_t piece_end = std::min(input.size(), pos + step);
        while (pos < piece_end) {
            const ChunkLineScanner::Run r = s.next(input.data() + pos, piece_end - pos);
            if (r.status != 0) {
                REQUIRE(r.reason != nullptr);
                out.status = r.status;
                return out;
            }
            REQUIRE(r.length > 0);
            REQUIRE(r.length <= piece_end - pos);
            (r.pass ? out.passed : out.skipped).append(input, pos, r.length);
            pos += r.length;
            out.used = pos;
            if (r.line_end) {
                out.line_end = true;
                return out;
            }
        }
    }
    return out;
}

}  // namespace

TEST_SUITE("http/chunk_line_scanner") {

TEST_CASE("valid lines hand on the size and CRLF and drop the extensions, split anywhere") {
    struct Row {
        std::string line;
        std::string passed;
    };
    const std::vector<Row> rows = {
        {"5\r\n", "5\r\n"},
        {"0\r\n", "0\r\n"},
        {"00fF\r\n", "00fF\r\n"},
        {"5;a\r\n", "5\r\n"},
        {"5;a=b\r\n", "5\r\n"},
        // RFC 9112 §7.1.1: any number of extensions, BWS before ';' and around '='.
        {"5;a=b;c=d\r\n", "5\r\n"},
        {"5 ;a=b\r\n", "5\r\n"},
        {"5\t; a = b ;c\r\n", "5\r\n"},
        {"5;a;b;c=1\r\n", "5\r\n"},
        {"5;a=\"quoted ; \\\" value\";b=t\r\n", "5\r\n"},
        {"5;a=\"\"\r\n", "5\r\n"},
        {"5;a=\"obs-text \xe9\"\r\n", "5\r\n"},
        {"5;a=\"x\" ;b\r\n", "5\r\n"},
        {"5;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~\r\n", "5\r\n"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.line);
        for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
            CAPTURE(step);
            const Scanned s = scan(row.line + "hello", step);
            CHECK(s.status == 0);
            CHECK(s.line_end);
            CHECK(s.used == row.line.size());  // stops at the LF: the chunk data is not read
            CHECK(s.passed == row.passed);
            CHECK(s.passed.size() + s.skipped.size() == row.line.size());
        }
    }
}

TEST_CASE("malformed lines are refused with 400, split anywhere") {
    const std::vector<std::string> rows = {
        "\r\n",      // no size
        ";a=b\r\n",  // no size before the extension
        " 5\r\n",    // whitespace before the size
        "0x5\r\n",   // RFC 9112 §7.1: 1*HEXDIG
        "-5\r\n",
        "+5\r\n",
        "5 \r\n",  // BWS belongs to an extension: no ';', no BWS
        "5\t\r\n",
        "5;a=b \r\n",  // nor after the last extension
        "5;a \r\n",
        "5;\r\n",  // an extension needs a name
        "5;;a\r\n",
        "5;a=b;\r\n",
        "5;=b\r\n",
        "5;a=\r\n",  // '=' needs a value
        "5;a=b c\r\n",
        "5;a=b\"c\"\r\n",
        "5;a b\r\n",
        "5;a=\"open\r\n",  // an unterminated quoted-string
        "5;a=\"x\"y\r\n",
        "5;a=\"\x01\"\r\n",  // controls are not qdtext
        "5;a=\"\\\x7f\"\r\n",
        "5;a@b\r\n",  // '@' is not a tchar
        "5;a=b,c\r\n",
        "5\n",  // RFC 9112 §2.2: bare LF or CR
        "5;a=b\n",
        "5\r\r\n",
        "5\rx\n",
        "5;a\r5\n",
        std::string("5;a=\0\r\n", 7),
        std::string("5\0\r\n", 4),
    };
    for (const std::string& line : rows) {
        CAPTURE(line);
        for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{2}}) {
            CAPTURE(step);
            const Scanned s = scan(line, step);
            CHECK(s.status == 400);
            CHECK_FALSE(s.line_end);
        }
    }
}

TEST_CASE("a line longer than the cap is refused with 413, one at the cap passes") {
    const std::size_t cap = 32;
    const std::string at_cap = "5;a=" + std::string(cap - 4, 'x') + "\r\n";
    CHECK(scan(at_cap, 0, cap).line_end);
    CHECK(scan(at_cap, 1, cap).line_end);
    const std::string over = "5;a=" + std::string(cap - 3, 'x') + "\r\n";
    CHECK(scan(over, 0, cap).status == 413);
    CHECK(scan(over, 1, cap).status == 413);
    // Leading zeros count too: llhttp would read them without end.
    CHECK(scan(std::string(cap + 1, '0') + "5\r\n", 7, cap).status == 413);
    // A never-ending extension is refused once past the cap, not buffered.
    CHECK(scan("5;" + std::string(10000, 'a'), 100, cap).status == 413);
}

TEST_CASE("runs alternate between passed and dropped bytes and end at the LF") {
    ChunkLineScanner s(64);
    const std::string line = "1a ;x=y\r\nrest";
    ChunkLineScanner::Run r = s.next(line.data(), line.size());
    CHECK(r.pass);
    CHECK(r.length == 2);  // "1a"
    CHECK_FALSE(r.line_end);
    r = s.next(line.data() + 2, line.size() - 2);
    CHECK_FALSE(r.pass);
    CHECK(r.length == 5);  // " ;x=y"
    r = s.next(line.data() + 7, line.size() - 7);
    CHECK(r.pass);
    CHECK(r.length == 2);  // CRLF
    CHECK(r.line_end);
    s.reset();
    r = s.next("0\r\n", 3);
    CHECK(r.pass);
    CHECK(r.length == 3);
    CHECK(r.line_end);
}

}  // TEST_SUITE("http/chunk_line_scanner")
