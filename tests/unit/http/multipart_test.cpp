// The multipart/form-data parser (src/http/multipart.cpp): boundary extraction, part heads,
// filename* decoding, delimiters and padding, strictness, limits, callback statuses, and input
// split at every byte.
#include "http/multipart.hpp"

#include <doctest/doctest.h>

#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using vstream::http::multipart_boundary;
using vstream::http::MultipartEvents;
using vstream::http::MultipartLimits;
using vstream::http::MultipartParser;
using vstream::http::PartHead;
using Kind = MultipartParser::Result::Kind;

namespace {

struct Part {
    PartHead head;
    std::string data;
    std::size_t data_calls = 0;
    bool ended = false;
};

// Records every event; each callback returns the status set for it (0 by default).
class Recorder final : public MultipartEvents {
public:
    int on_part_begin(const PartHead& head) override {
        parts.push_back({head, {}, 0, false});
        if (throw_on_begin) throw std::runtime_error("handler bug");
        if (bad_alloc_on_begin) throw std::bad_alloc();
        return begin_status;
    }
    int on_part_data(std::string_view data) override {
        if (data.empty()) empty_data = true;
        if (first_data == nullptr) first_data = data.data();
        parts.back().data += data;
        ++parts.back().data_calls;
        return data_status;
    }
    int on_part_end() override {
        parts.back().ended = true;
        return end_status;
    }

    std::vector<Part> parts;
    bool empty_data = false;
    const char* first_data = nullptr;
    int begin_status = 0;
    int data_status = 0;
    int end_status = 0;
    bool throw_on_begin = false;
    bool bad_alloc_on_begin = false;
};

struct Parsed {
    Kind last_feed = Kind::more;     // what the last feed() returned
    MultipartParser::Result result;  // what finish() returned
    std::vector<Part> parts;
    bool empty_data = false;
};

// `body` fed in pieces cut at `cuts` (ascending), then finish().
Parsed parse(std::string_view body, const std::vector<std::size_t>& cuts = {},
             MultipartLimits limits = {}) {
    Recorder rec;
    MultipartParser p("XyZ", rec, limits);
    Parsed out;
    std::size_t from = 0;
    for (std::size_t i = 0; i <= cuts.size(); ++i) {
        const std::size_t to = i < cuts.size() ? cuts[i] : body.size();
        out.last_feed = p.feed(body.substr(from, to - from)).kind;
        from = to;
    }
    out.result = p.finish();
    out.parts = std::move(rec.parts);
    out.empty_data = rec.empty_data;
    return out;
}

Parsed parse_bytewise(std::string_view body) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < body.size(); ++i) cuts.push_back(i);
    return parse(body, cuts);
}

// Everything the events and results say, data pieces joined: what must not depend on the split.
std::string transcript(const Parsed& r) {
    std::string s;
    for (const Part& p : r.parts) {
        s += "[" + p.head.name + "|" + (p.head.filename ? "f:" + *p.head.filename : "-") + "|" +
             p.head.content_type + "]" + p.data + (p.ended ? "<end>" : "<open>");
    }
    if (r.empty_data) s += "<empty data call>";
    s += " -> " + std::to_string(static_cast<int>(r.result.kind)) + " " +
         std::to_string(r.result.status) + " " + std::string(r.result.reason);
    return s;
}

std::string field(std::string_view name, std::string_view value) {
    return "--XyZ\r\nContent-Disposition: form-data; name=\"" + std::string(name) + "\"\r\n\r\n" +
           std::string(value) + "\r\n";
}

std::string file(std::string_view name, std::string_view filename, std::string_view type,
                 std::string_view content) {
    return "--XyZ\r\nContent-Disposition: form-data; name=\"" + std::string(name) +
           "\"; filename=\"" + std::string(filename) + "\"\r\nContent-Type: " + std::string(type) +
           "\r\n\r\n" + std::string(content) + "\r\n";
}

// One part with the given Content-Disposition parameters (after "form-data").
std::string with_disposition(std::string_view params) {
    return "--XyZ\r\nContent-Disposition: form-data" + std::string(params) + "\r\n\r\nv\r\n--XyZ--";
}

const std::string kClose = "--XyZ--\r\n";

void check_error(const Parsed& r, int status) {
    CHECK(r.result.kind == Kind::error);
    CHECK(r.result.status == status);
    CHECK(!r.result.reason.empty());
}

}  // namespace

TEST_SUITE("http/multipart") {

TEST_CASE("the boundary comes from a multipart/form-data Content-Type in either form") {
    struct Row {
        const char* content_type;
        std::optional<std::string> boundary;
    };
    const std::string b70(70, 'b');
    const std::string b71(71, 'b');
    const Row rows[] = {
        {"multipart/form-data; boundary=XyZ", "XyZ"},
        {"Multipart/Form-Data; BOUNDARY=XyZ", "XyZ"},  // case-insensitive
        {"multipart/form-data;boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
         "----WebKitFormBoundary7MA4YWxkTrZu0gW"},
        {"multipart/form-data; boundary=\"a b:c/(d)=?,e\"", "a b:c/(d)=?,e"},  // quoted bchars
        {"multipart/form-data; boundary=\"ab\\c\"", "abc"},                    // quoted-pair
        {"multipart/form-data; charset=utf-8; boundary=abc", "abc"},           // parameter order
        {"multipart/form-data; boundary=abc; charset=\"utf-8\"", "abc"},
        {"  multipart/form-data ; boundary = abc ;  ", "abc"},  // OWS, BWS, empty param
        {"multipart/form-data; boundary=1", "1"},
        {"multipart/form-data; boundary=\"0123\'()+_,-./:=? z\"", "0123\'()+_,-./:=? z"},
        {"multipart/form-data", std::nullopt},  // missing
        {"multipart/form-data; charset=utf-8", std::nullopt},
        {"multipart/form-data; boundary=", std::nullopt},
        {"multipart/form-data; boundary=\"\"", std::nullopt},
        {"multipart/form-data; boundary", std::nullopt},
        {"multipart/form-data; boundary=ab!c", std::nullopt},  // token, not bchars
        {"multipart/form-data; boundary=\"ab@c\"", std::nullopt},
        {"multipart/form-data; boundary=\"abc \"", std::nullopt},  // ends in a space
        {"multipart/form-data; boundary=\"ab\x01\"", std::nullopt},
        {"multipart/form-data; boundary=\"abc", std::nullopt},          // unterminated
        {"multipart/form-data; boundary=a; boundary=b", std::nullopt},  // ambiguous
        {"multipart/form-data boundary=abc", std::nullopt},
        {"multipart/form-data; boundary=abc junk", std::nullopt},
        {"multipart/mixed; boundary=abc", std::nullopt},  // other types
        {"text/plain; boundary=abc", std::nullopt},
        {"multipart/form-datax; boundary=abc", std::nullopt},
        {"form-data; boundary=abc", std::nullopt},
        {"", std::nullopt},
    };
    for (const Row& row : rows) {
        CAPTURE(row.content_type);
        CHECK(multipart_boundary(row.content_type) == row.boundary);
    }
    CHECK(multipart_boundary("multipart/form-data; boundary=" + b70) == b70);
    CHECK(multipart_boundary("multipart/form-data; boundary=" + b71) == std::nullopt);
}

TEST_CASE("one field is one part with its name and data, handed out from the input") {
    const std::string body = field("title", "Hello") + kClose;
    Recorder rec;
    MultipartParser p("XyZ", rec);
    CHECK(p.feed(body).kind == Kind::done);
    CHECK(p.done());
    CHECK(p.finish().kind == Kind::done);
    REQUIRE(rec.parts.size() == 1);
    CHECK(rec.parts[0].head.name == "title");
    CHECK(!rec.parts[0].head.filename);
    CHECK(rec.parts[0].head.content_type.empty());
    CHECK(rec.parts[0].data == "Hello");
    CHECK(rec.parts[0].ended);
    CHECK(rec.first_data == body.data() + body.find("Hello"));
}

TEST_CASE("several fields and files come out in order with their heads") {
    const std::string body = field("a", "1") + file("doc", "notes.txt", "text/plain", "line\r\n") +
                             field("b", "two words") +
                             file("img", "p.png", "image/png", std::string("\x89PNG\0\r\n", 7)) +
                             kClose;
    const Parsed r = parse(body);
    CHECK(r.result.kind == Kind::done);
    REQUIRE(r.parts.size() == 4);
    CHECK(r.parts[0].head.name == "a");
    CHECK(r.parts[0].data == "1");
    CHECK(r.parts[1].head.name == "doc");
    CHECK(r.parts[1].head.filename == "notes.txt");
    CHECK(r.parts[1].head.content_type == "text/plain");
    CHECK(r.parts[1].data == "line\r\n");
    CHECK(r.parts[2].data == "two words");
    CHECK(!r.parts[2].head.filename);
    CHECK(r.parts[3].head.content_type == "image/png");
    CHECK(r.parts[3].data == std::string("\x89PNG\0\r\n", 7));
    for (const Part& part : r.parts) CHECK(part.ended);
}

TEST_CASE("an empty file part has its filename and no data call") {
    const Parsed r = parse(file("upload", "", "application/octet-stream", "") +
                           file("upload2", "empty.bin", "application/octet-stream", "") + kClose);
    CHECK(r.result.kind == Kind::done);
    REQUIRE(r.parts.size() == 2);
    CHECK(r.parts[0].head.filename == "");
    CHECK(r.parts[1].head.filename == "empty.bin");
    for (const Part& part : r.parts) {
        CHECK(part.data.empty());
        CHECK(part.data_calls == 0);
        CHECK(part.ended);
    }
    CHECK(!r.empty_data);
}

TEST_CASE("a one-byte part is delivered whole") {
    const Parsed r = parse(field("x", "1") + field("y", "\r") + kClose);
    CHECK(r.result.kind == Kind::done);
    REQUIRE(r.parts.size() == 2);
    CHECK(r.parts[0].data == "1");
    CHECK(r.parts[1].data == "\r");
}

TEST_CASE("data may hold CRLF dashes and partial boundaries that are not a delimiter") {
    const std::string data =
        "\r\n--\r\n--X\r\n--Xy\r\n-\r\n--XyQ\r\r\r\n\r\n-x--XyZ\n--XyZ\r--XyZ\r\n-\r\n--Xy";
    const std::string body = field("f", data) + field("g", "--XyZ") + kClose;
    const Parsed r = parse(body);
    CHECK(r.result.kind == Kind::done);
    REQUIRE(r.parts.size() == 2);
    CHECK(r.parts[0].data == data);
    CHECK(r.parts[1].data == "--XyZ");
    CHECK(transcript(parse_bytewise(body)) == transcript(r));
}

TEST_CASE("delimiters are found at every alignment among near misses") {
    const std::string near = "\r\n--XyQ\r\n-Z\r\r\n--XZ\r\n--Xy\nZ-\r\n--XZZ\r\nabcdZ";
    for (std::size_t k = 0; k <= 3 * near.size(); ++k) {
        CAPTURE(k);
        std::string data;
        while (data.size() < k) data += near;
        data.resize(k);
        const std::string body = field("a", data) + field("b", data + data) + kClose;
        const Parsed r = parse(body);
        CHECK(r.result.kind == Kind::done);
        REQUIRE(r.parts.size() == 2);
        CHECK(r.parts[0].data == data);
        CHECK(r.parts[1].data == data + data);
        CHECK(transcript(parse(body, {body.size() / 3, body.size() / 2})) == transcript(r));
    }
}

TEST_CASE("any split of the body gives the same events as one feed") {
    const std::string bodies[] = {
        field("a", "x\r\n--Xy") +
            field("long", std::string(40, 'l') + "\r\n--XyQ" + std::string(30, '\r')) +
            file("b", "c.txt", "text/plain", "\r\n--XyZ-\r") + kClose,
        field("a", "x\r\n--Xy") + file("b", "c.txt", "text/plain", "\r\n--XyZ-\r") + kClose,
        "pre\r\n--XyZ \t\r\ncontent-disposition: form-data; name=n; filename*=UTF-8''%e2%82%ac\r\n"
        "\r\n\r\r\n--Xy\r\n--XyZ--\t\r\n--XyZ\r\nepilogue",
        field("a", "1") + "--XyZ\r\nContent-Disposition: form-data; name=b\n\r\n",  // bare LF
        field("a", "12345") + "\r\n--XyZ--",  // truncated in data
        field("a", "1") + "\r\n--XyZx",       // malformed delimiter
    };
    for (const std::string& body : bodies) {
        CAPTURE(body);
        const std::string whole = transcript(parse(body));
        CHECK(transcript(parse_bytewise(body)) == whole);
        for (std::size_t cut = 0; cut <= body.size(); ++cut) {
            CAPTURE(cut);
            CHECK(transcript(parse(body, {cut})) == whole);
        }
    }
}

TEST_CASE("a body split at every pair of positions gives the same events") {
    const std::string body = field("a", "-\r\n--X") + field("b", "") + kClose;
    const std::string whole = transcript(parse(body));
    for (std::size_t i = 0; i <= body.size(); ++i) {
        for (std::size_t j = i; j <= body.size(); ++j) {
            CAPTURE(i);
            CAPTURE(j);
            REQUIRE(transcript(parse(body, {i, j})) == whole);
        }
    }
}

TEST_CASE("no more than a possible delimiter is held back between feeds") {
    Recorder rec;
    MultipartParser p("XyZ", rec);
    CHECK(p.feed("--XyZ\r\nContent-Disposition: form-data; name=f\r\n\r\nhello\r\n--Xy").kind ==
          Kind::more);
    REQUIRE(rec.parts.size() == 1);
    CHECK(rec.parts[0].data == "hello");
    CHECK(p.feed("Q").kind == Kind::more);  // not a delimiter after all
    CHECK(rec.parts[0].data == "hello\r\n--XyQ");
    CHECK(p.feed("\r\n--XyZ").kind == Kind::more);
    CHECK(rec.parts[0].data == "hello\r\n--XyQ");
    CHECK(!rec.parts[0].ended);
    CHECK(p.feed("--").kind == Kind::done);
    CHECK(rec.parts[0].ended);
}

TEST_CASE("the preamble and the epilogue are ignored") {
    Parsed r = parse("preamble --XyZ not at a line start\r\n" + field("a", "1") + kClose +
                     "epilogue\r\n--XyZ\r\nnot a part");
    CHECK(r.last_feed == Kind::done);
    CHECK(r.result.kind == Kind::done);
    REQUIRE(r.parts.size() == 1);
    CHECK(r.parts[0].data == "1");

    r = parse("\r\n" + field("a", "1") + "--XyZ--");  // an empty preamble, no final CRLF
    CHECK(r.result.kind == Kind::done);
    CHECK(r.parts.size() == 1);

    r = parse("a\n--XyZx\r\n" + field("a", "1") + kClose);  // after a bare LF: not a delimiter
    CHECK(r.result.kind == Kind::done);
    CHECK(r.parts.size() == 1);

    // RFC 2046 §5.1.1: the boundary may not occur in the preamble either.
    r = parse("preamble with \r\n--XyZx inside\r\n" + field("a", "1") + kClose);
    check_error(r, 400);
    CHECK(r.parts.empty());
}

TEST_CASE("transport padding may follow a boundary") {
    const Parsed r = parse(
        "--XyZ \t \r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n"
        "--XyZ\t\r\nContent-Disposition: form-data; name=b\r\n\r\n2\r\n"
        "--XyZ--  trailing");
    CHECK(r.result.kind == Kind::done);
    REQUIRE(r.parts.size() == 2);
    CHECK(r.parts[0].data == "1");
    CHECK(r.parts[1].data == "2");
}

TEST_CASE("a close delimiter alone is an empty form") {
    const Parsed r = parse("--XyZ--\r\n");
    CHECK(r.result.kind == Kind::done);
    CHECK(r.parts.empty());
}

TEST_CASE("filename* is percent-decoded UTF-8 and preferred over filename") {
    struct Row {
        const char* params;
        const char* filename;
    };
    const Row rows[] = {
        {"; name=f; filename*=UTF-8''%e2%82%ac%20rates.txt", "\xe2\x82\xac rates.txt"},
        {"; name=f; filename*=utf-8'en-GB'na%C3%AFve.txt", "na\xc3\xafve.txt"},
        {"; name=f; filename=\"fallback.txt\"; filename*=UTF-8''real.txt", "real.txt"},
        {"; name=f; filename*=UTF-8''real.txt; filename=\"fallback.txt\"", "real.txt"},
        {"; name=f; filename=\"a.txt\"; filename*=UTF-8''%zz", "a.txt"},       // bad escape
        {"; name=f; filename=\"a.txt\"; filename*=UTF-8''%e", "a.txt"},        // short escape
        {"; name=f; filename*=ISO-8859-1''%e9.txt; filename=e.txt", "e.txt"},  // other charset
        {"; name=f; filename*=\"UTF-8''q.txt\"; filename=p.txt", "p.txt"},     // quoted
        {"; name=f; filename*=UTF-8'x.txt; filename=p.txt", "p.txt"},          // one quote
        {"; name=f; filename*=UTF-8'e_n'x; filename=p.txt", "p.txt"},          // language
        {"; name=f; filename*=UTF-8''a'b; filename=p.txt", "p.txt"},           // not attr-char
        {"; name=f; FILENAME*=UTF-8''%41.txt", "A.txt"},                       // parameter case
        {"; name=f; filename*=UTF-8''", ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.params);
        const Parsed r = parse(with_disposition(row.params));
        CHECK(r.result.kind == Kind::done);
        REQUIRE(r.parts.size() == 1);
        CHECK(r.parts[0].head.filename == row.filename);
    }
}

TEST_CASE("an invalid filename* without a filename, or a NUL in the name, is malformed") {
    for (const char* params : {
             "; name=f; filename*=UTF-8''%zz",
             "; name=f; filename*=UTF-16''abc",
             "; name=f; filename*=''abc",
             "; name=f; filename*=UTF-8''a%00b",
             "; name=f; filename*=UTF-8''a%00b; filename=ok.txt",
         }) {
        CAPTURE(params);
        const Parsed r = parse(with_disposition(params));
        check_error(r, 400);
        CHECK(r.parts.empty());
    }
}

TEST_CASE("quoted-string values are unescaped and tokens taken as they are") {
    const Parsed r = parse(with_disposition(
        "; name=\"a\\\"b\\\\c\"; filename=\"C:\\\\dir\\\\x \\\"y\\\".txt\"; unknown=1"));
    CHECK(r.result.kind == Kind::done);
    REQUIRE(r.parts.size() == 1);
    CHECK(r.parts[0].head.name == "a\"b\\c");
    CHECK(r.parts[0].head.filename == "C:\\dir\\x \"y\".txt");

    const Parsed t = parse(with_disposition(";name=plain;filename=x.bin"));
    REQUIRE(t.parts.size() == 1);
    CHECK(t.parts[0].head.name == "plain");
    CHECK(t.parts[0].head.filename == "x.bin");
}

TEST_CASE("header names are case-insensitive, values trimmed, other fields ignored") {
    const Parsed r = parse(
        "--XyZ\r\nX-Other: 1\r\ncontent-TYPE:   text/csv; charset=utf-8 \t\r\n"
        "CONTENT-DISPOSITION:Form-Data ; NAME=\"n\"\r\n"
        "Content-Transfer-Encoding: binary\r\n\r\na,b\r\n--XyZ--");
    CHECK(r.result.kind == Kind::done);
    REQUIRE(r.parts.size() == 1);
    CHECK(r.parts[0].head.name == "n");
    CHECK(r.parts[0].head.content_type == "text/csv; charset=utf-8");
    CHECK(r.parts[0].data == "a,b");
}

TEST_CASE("a part without a usable Content-Disposition is malformed") {
    for (const char* head : {
             "Content-Type: text/plain\r\n",        // none
             "",                                    // no headers at all
             "Content-Disposition: form-data\r\n",  // no name
             "Content-Disposition: form-data; filename=a.txt\r\n",
             "Content-Disposition: attachment; name=a\r\n",  // not form-data
             "Content-Disposition: ; name=a\r\n",
             "Content-Disposition: form-data; name=\"a\r\n",  // unterminated
             "Content-Disposition: form-data; name=a b\r\n",
             "Content-Disposition: form-data; name=\r\n",
             "Content-Disposition: form-data; name=a; name=b\r\n",  // ambiguous
             "Content-Disposition: form-data; name=a; filename=x; filename=y\r\n",
             "Content-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=b\r\n",
             "Content-Disposition: form-data; name=a\r\nContent-Type: a/b\r\nContent-Type: c/d\r\n",
         }) {
        CAPTURE(head);
        const Parsed r = parse(std::string("--XyZ\r\n") + head + "\r\nv\r\n--XyZ--");
        check_error(r, 400);
        CHECK(r.parts.empty());
    }
}

TEST_CASE("malformed header lines are rejected") {
    const std::string cd = "Content-Disposition: form-data; name=a";
    for (const std::string& head : {
             cd + "\nX: 1\r\n",  // bare LF
             cd + "\r\nX: 1\n\r\n",
             cd + "\r\n\n",           // bare LF ends the section
             cd + "\rX: 1\r\n",       // bare CR
             cd + "\r\n folded\r\n",  // obs-fold
             cd + "\r\n\tfolded\r\n",
             cd + "\r\nNo colon\r\n",
             cd + "\r\nX : 1\r\n",                              // space before the colon
             cd + "\r\n: 1\r\n",                                // empty name
             cd + "\r\nX: a" + std::string(1, '\0') + "b\r\n",  // NUL
             cd + "\r\nX: a\x7f\r\n",
         }) {
        CAPTURE(head);
        const Parsed r = parse("--XyZ\r\n" + head + "\r\nv\r\n--XyZ--");
        check_error(r, 400);
        CHECK(r.parts.empty());
    }
}

TEST_CASE("malformed delimiters are rejected") {
    for (const std::string& body : {
             field("a", "1") + "--XyZ-x",
             field("a", "1") + "--XyZx\r\n",     // boundary text running on
             field("a", "1") + "--XyZ \tx\r\n",  // junk after padding
             field("a", "1") + "--XyZ \r\r\n",   // bare CR
             field("a", "1") + "--XyZ\n",        // bare LF
             field("a", "1") + "--XyZ --",       // padding before "--"
             "--XyZ\n" + field("a", "1") + kClose,
             "--XyZZ\r\n" + field("a", "1") + kClose,
         }) {
        CAPTURE(body);
        const Parsed r = parse(body);
        check_error(r, 400);
    }
}

TEST_CASE("a header section over the limit is malformed") {
    MultipartLimits limits;
    limits.max_header_bytes = 64;
    const std::string cd = "Content-Disposition: form-data; name=a\r\n";  // 40 bytes
    // The section counts every byte through the empty line's CRLF: exactly 64 passes.
    const std::string fits = cd + "X: " + std::string(64 - 40 - 3 - 4, 'x') + "\r\n\r\n";
    REQUIRE(fits.size() == 64);
    const Parsed ok = parse("--XyZ\r\n" + fits + "v\r\n--XyZ--", {}, limits);
    CHECK(ok.result.kind == Kind::done);

    const std::string over = cd + "X: " + std::string(64 - 40 - 3 - 3, 'x') + "\r\n\r\n";
    const Parsed r = parse("--XyZ\r\n" + over + "v\r\n--XyZ--", {}, limits);
    check_error(r, 400);
    CHECK(r.result.reason == "part headers too large");

    // A single endless line stops at the limit rather than growing.
    Recorder rec;
    MultipartParser p("XyZ", rec, limits);
    const auto res = p.feed("--XyZ\r\nX-Junk: " + std::string(10000, 'j'));
    CHECK(res.kind == Kind::error);
    CHECK(res.reason == "part headers too large");

    const Parsed big =
        parse("--XyZ\r\n" + cd + "X: " + std::string(8000, 'x') + "\r\n\r\nv\r\n--XyZ--");
    CHECK(big.result.kind == Kind::done);  // the 8 KiB default
    const Parsed too_big =
        parse("--XyZ\r\n" + cd + "X: " + std::string(8200, 'x') + "\r\n\r\nv\r\n--XyZ--");
    check_error(too_big, 400);
}

TEST_CASE("a body that ends before the close delimiter is truncated") {
    const std::string one = field("a", "1");
    for (const std::string& body : {
             std::string(),
             std::string("no delimiter at all"),
             std::string("--XyZ"),
             std::string("--XyZ \t"),
             std::string("--XyZ\r"),
             std::string("--XyZ-"),
             std::string("--XyZ\r\nContent-Disposition: form-data; name=a"),  // in headers
             std::string("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r"),
             std::string("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\npartial"),
             one,  // after data
             one + "--XyZ",
             one + "--XyZ\r\n",
             field("a", "1\r\n--Xy"),  // held back
             one.substr(0, one.size() - 3),
         }) {
        CAPTURE(body);
        Recorder rec;
        MultipartParser p("XyZ", rec);
        CHECK(p.feed(body).kind == Kind::more);
        const auto r = p.finish();
        CHECK(r.kind == Kind::error);
        CHECK(r.status == 400);
        CHECK(r.reason == "multipart body truncated");
        CHECK(p.feed(kClose).kind == Kind::error);  // sticky
    }
}

TEST_CASE("parts beyond the limit are refused with 413") {
    MultipartLimits limits;
    limits.max_parts = 2;
    const Parsed ok = parse(field("a", "1") + field("b", "2") + kClose, {}, limits);
    CHECK(ok.result.kind == Kind::done);

    const Parsed r =
        parse(field("a", "1") + field("b", "2") + field("c", "3") + kClose, {}, limits);
    check_error(r, 413);
    CHECK(r.result.reason == "too many parts");
    REQUIRE(r.parts.size() == 2);
    CHECK(r.parts[1].ended);  // the parts before the limit are complete

    const Parsed def = parse([] {
        std::string body;
        for (int i = 0; i < 65; ++i) body += field("f" + std::to_string(i), "v");
        return body + kClose;
    }());
    check_error(def, 413);
    CHECK(def.parts.size() == 64);
}

TEST_CASE("a callback's status stops the parser with that status") {
    const std::string body = field("a", "data") + field("b", "more") + kClose;
    {
        Recorder rec;
        rec.begin_status = 507;
        MultipartParser p("XyZ", rec);
        const auto r = p.feed(body);
        CHECK(r.kind == Kind::error);
        CHECK(r.status == 507);
        REQUIRE(rec.parts.size() == 1);
        CHECK(rec.parts[0].data_calls == 0);
        CHECK(!rec.parts[0].ended);
    }
    {
        Recorder rec;
        rec.data_status = 413;
        MultipartParser p("XyZ", rec);
        CHECK(p.feed(body).status == 413);
        REQUIRE(rec.parts.size() == 1);
        CHECK(rec.parts[0].data == "data");
        CHECK(!rec.parts[0].ended);
        CHECK(p.finish().status == 413);
    }
    {
        Recorder rec;
        rec.end_status = 500;
        MultipartParser p("XyZ", rec);
        CHECK(p.feed(body).status == 500);
        CHECK(rec.parts.size() == 1);
    }
    {
        Recorder rec;  // the last part's end comes with the close delimiter
        rec.end_status = 422;
        MultipartParser p("XyZ", rec);
        const auto r = p.feed(field("a", "1") + "--XyZ--");
        CHECK(r.status == 422);
        CHECK(!p.done());
    }
    {
        Recorder rec;
        rec.throw_on_begin = true;
        MultipartParser p("XyZ", rec);
        const auto r = p.feed(body);
        CHECK(r.kind == Kind::error);
        CHECK(r.status == 500);
    }
    {
        Recorder rec;  // std::bad_alloc goes through, and leaves the parser failed
        rec.bad_alloc_on_begin = true;
        MultipartParser p("XyZ", rec);
        CHECK_THROWS_AS(p.feed(body), std::bad_alloc);
        CHECK(p.feed(body).status == 500);
        CHECK(p.finish().reason == "out of memory");
    }
}

TEST_CASE("feeding after done or an error returns the same result and makes no call") {
    Recorder rec;
    MultipartParser p("XyZ", rec);
    CHECK(p.feed(field("a", "1") + kClose).kind == Kind::done);
    CHECK(p.feed(field("b", "2") + kClose).kind == Kind::done);
    CHECK(p.finish().kind == Kind::done);
    CHECK(rec.parts.size() == 1);

    Recorder bad;
    MultipartParser q("XyZ", bad);
    const auto first = q.feed("--XyZ\r\nContent-Disposition: form-data\r\n\r\n");
    CHECK(first.kind == Kind::error);
    CHECK(first.status == 400);
    const auto again = q.feed(field("a", "1") + kClose);
    CHECK(again.kind == Kind::error);
    CHECK(again.status == 400);
    CHECK(again.reason == first.reason);
    CHECK(q.finish().reason == first.reason);
    CHECK(bad.parts.empty());
}

TEST_CASE("an invalid boundary makes every feed an error") {
    for (const std::string& b : {std::string(), std::string("a\r\nb"), std::string(71, 'b')}) {
        Recorder rec;
        MultipartParser p(b, rec);
        CHECK(p.feed("--" + b + "--").status == 400);
        CHECK(p.finish().status == 400);
    }
}

TEST_CASE("a large part goes out in one piece from the input, whatever its bytes") {
    std::string data(1 << 20, 'd');
    for (std::size_t i = 0; i < data.size(); i += 97) data[i] = '\r';
    for (std::size_t i = 1; i < data.size(); i += 389) data[i] = '\n';
    const std::string b = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
    const std::string body = "--" + b + "\r\nContent-Disposition: form-data; name=big\r\n\r\n" +
                             data + "\r\n--" + b + "--\r\n";
    Recorder rec;
    MultipartParser p(b, rec);
    CHECK(p.feed(body).kind == Kind::done);
    REQUIRE(rec.parts.size() == 1);
    CHECK(rec.parts[0].data_calls == 1);
    CHECK(rec.parts[0].data == data);
    CHECK(rec.first_data == body.data() + body.find("\r\n\r\n") + 4);
}

}  // TEST_SUITE("http/multipart")
