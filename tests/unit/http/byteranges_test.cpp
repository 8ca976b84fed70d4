// multipart/byteranges bodies (RFC 9110 §14.6, RFC 2046 §5.1.1) and their boundaries.
#include "http/byteranges.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

using vstream::http::ByteRange;
using vstream::http::ByteRangesPlan;
using vstream::http::kBoundaryLength;
using vstream::http::plan_byteranges;
using vstream::http::random_boundary;

namespace {

// The body a sender writes for `plan`, with the part bytes taken from `file`.
std::string render(const ByteRangesPlan& plan, std::string_view file) {
    std::string body;
    for (const auto& part : plan.parts) {
        body += part.head;
        body += file.substr(part.range.first, part.range.length);
    }
    body += plan.tail;
    return body;
}

struct ParsedPart {
    std::string headers;  // the header block, each field ending in CRLF
    std::string data;
};

// An independent reading of RFC 2046 §5.1.1, as a client would do it: the body is a
// dash-boundary line, then parts each ended by a delimiter (CRLF "--" boundary), the last one
// followed by "--" and a CRLF. Returns false on any deviation.
bool parse_multipart(std::string_view body, std::string_view boundary,
                     std::vector<ParsedPart>& parts) {
    const std::string first = "--" + std::string(boundary) + "\r\n";
    const std::string delimiter = "\r\n--" + std::string(boundary);
    if (body.substr(0, first.size()) != first) return false;
    std::size_t pos = first.size();
    for (;;) {
        const std::size_t head_end = body.find("\r\n\r\n", pos);
        if (head_end == std::string_view::npos) return false;
        const std::size_t data_start = head_end + 4;
        const std::size_t next = body.find(delimiter, data_start);
        if (next == std::string_view::npos) return false;
        parts.push_back({std::string(body.substr(pos, head_end + 2 - pos)),
                         std::string(body.substr(data_start, next - data_start))});
        pos = next + delimiter.size();
        if (body.substr(pos) == "--\r\n") return true;  // close-delimiter, nothing after
        if (body.substr(pos, 2) != "\r\n") return false;
        pos += 2;
    }
}

// The value of header `name` (exact case) in a header block, or "" when absent.
std::string header_value(std::string_view headers, std::string_view name) {
    const std::string key = std::string(name) + ": ";
    std::size_t at = 0;
    while (at < headers.size()) {
        const std::size_t eol = headers.find("\r\n", at);
        const std::string_view line = headers.substr(at, eol - at);
        if (line.substr(0, key.size()) == key) return std::string(line.substr(key.size()));
        at = eol + 2;
    }
    return {};
}

bool is_boundary_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

}  // namespace

TEST_SUITE("http/byteranges") {

TEST_CASE("a two-part plan has the exact bytes of RFC 9110 §14.6") {
    const ByteRange ranges[] = {{0, 5}, {10, 3}};
    const ByteRangesPlan plan = plan_byteranges(ranges, 20, "video/mp4", "B0und");
    CHECK(plan.content_type == "multipart/byteranges; boundary=B0und");
    REQUIRE(plan.parts.size() == 2);
    CHECK(plan.parts[0].head ==
          "--B0und\r\n"
          "Content-Type: video/mp4\r\n"
          "Content-Range: bytes 0-4/20\r\n"
          "\r\n");
    CHECK(plan.parts[0].range.first == 0);
    CHECK(plan.parts[0].range.length == 5);
    CHECK(plan.parts[1].head ==
          "\r\n--B0und\r\n"
          "Content-Type: video/mp4\r\n"
          "Content-Range: bytes 10-12/20\r\n"
          "\r\n");
    CHECK(plan.parts[1].range.first == 10);
    CHECK(plan.parts[1].range.length == 3);
    CHECK(plan.tail == "\r\n--B0und--\r\n");

    const std::string file = "0123456789abcdefghij";
    CHECK(render(plan, file) ==
          "--B0und\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-4/20\r\n\r\n"
          "01234"
          "\r\n--B0und\r\nContent-Type: video/mp4\r\nContent-Range: bytes 10-12/20\r\n\r\n"
          "abc"
          "\r\n--B0und--\r\n");
}

TEST_CASE("content_length is the sum of the heads, the ranges and the tail") {
    const ByteRange ranges[] = {{0, 1}, {100, 900}, {5000, 12345}, {99999, 1}};
    const ByteRangesPlan plan = plan_byteranges(ranges, 100000, "video/webm", random_boundary());
    std::uint64_t sum = plan.tail.size();
    for (const auto& part : plan.parts) sum += part.head.size() + part.range.length;
    CHECK(plan.content_length == sum);

    const std::string file(100000, 'v');
    CHECK(render(plan, file).size() == plan.content_length);
}

TEST_CASE("an empty part type leaves the Content-Type out of every part") {
    const ByteRange ranges[] = {{2, 2}, {6, 1}};
    const ByteRangesPlan plan = plan_byteranges(ranges, 8, "", "b");
    REQUIRE(plan.parts.size() == 2);
    CHECK(plan.parts[0].head == "--b\r\nContent-Range: bytes 2-3/8\r\n\r\n");
    CHECK(plan.parts[1].head == "\r\n--b\r\nContent-Range: bytes 6-6/8\r\n\r\n");
}

TEST_CASE("64-bit offsets are written in full") {
    const std::uint64_t total = UINT64_MAX;
    const ByteRange ranges[] = {{0, 1}, {total - 2, 2}};
    const ByteRangesPlan plan = plan_byteranges(ranges, total, "", "b");
    REQUIRE(plan.parts.size() == 2);
    CHECK(plan.parts[1].head ==
          "\r\n--b\r\nContent-Range: bytes 18446744073709551613-18446744073709551614"
          "/18446744073709551615\r\n\r\n");
}

TEST_CASE("a client parser splits a produced body back into the planned parts") {
    std::string file;
    for (int i = 0; i < 5000; ++i) file += static_cast<char>('a' + i % 26);
    // Part data that looks like multipart framing must not confuse the reader.
    file.replace(1000, 12, "\r\n--\r\n\r\n--\r\n");
    const ByteRange ranges[] = {{0, 10}, {990, 30}, {2000, 1}, {4990, 10}};
    const std::string boundary = random_boundary();
    const ByteRangesPlan plan = plan_byteranges(ranges, file.size(), "text/plain", boundary);
    const std::string body = render(plan, file);
    REQUIRE(body.size() == plan.content_length);

    std::vector<ParsedPart> parts;
    REQUIRE(parse_multipart(body, boundary, parts));
    REQUIRE(parts.size() == std::size(ranges));
    for (std::size_t i = 0; i < parts.size(); ++i) {
        CAPTURE(i);
        const ByteRange& r = ranges[i];
        CHECK(header_value(parts[i].headers, "Content-Type") == "text/plain");
        CHECK(header_value(parts[i].headers, "Content-Range") ==
              "bytes " + std::to_string(r.first) + "-" + std::to_string(r.first + r.length - 1) +
                  "/5000");
        CHECK(parts[i].data == file.substr(r.first, r.length));
    }
}

TEST_CASE("boundaries are letters and digits, and fresh on every call") {
    std::set<std::string> seen;
    for (int i = 0; i < 2000; ++i) {
        const std::string b = random_boundary();
        CAPTURE(b);
        REQUIRE(b.size() == kBoundaryLength);
        CHECK(b.size() >= 24);
        CHECK(std::all_of(b.begin(), b.end(), is_boundary_char));
        seen.insert(b);
    }
    CHECK(seen.size() == 2000);
}

TEST_CASE("boundaries drawn on several threads are all distinct") {
    constexpr int kThreads = 4;
    constexpr int kEach = 500;
    std::vector<std::vector<std::string>> drawn(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&drawn, t] {
            for (int i = 0; i < kEach; ++i) drawn[t].push_back(random_boundary());
        });
    }
    for (auto& th : threads) th.join();
    std::set<std::string> seen;
    for (const auto& v : drawn) seen.insert(v.begin(), v.end());
    CHECK(seen.size() == kThreads * kEach);
}

TEST_CASE("boundary characters are spread evenly") {
    // 62 symbols, 62 * 32 * 100 draws: each is expected 3200 times, with a standard deviation
    // near 57. A plain byte-modulo draw would give the first 8 symbols about 3875 each; the
    // bounds of +-10% catch that and are more than 5.6 deviations wide.
    std::vector<int> counts(128, 0);
    for (int i = 0; i < 62 * 100; ++i) {
        for (const char c : random_boundary()) ++counts[static_cast<unsigned char>(c)];
    }
    for (int c = 0; c < 128; ++c) {
        if (!is_boundary_char(static_cast<char>(c))) continue;
        CAPTURE(c);
        CHECK(counts[c] > 2880);
        CHECK(counts[c] < 3520);
    }
}

}  // TEST_SUITE("http/byteranges")
