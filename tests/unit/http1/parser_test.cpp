#include "http1/parser.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

using vstream::Limits;
using vstream::http::Request;
using vstream::http1::ParseResult;
using vstream::http1::ParserEvents;
using vstream::http1::RequestParser;

namespace {

// Collects parsed requests; copies what it needs before the next request reuses `current`.
struct Collector final : ParserEvents {
    Request current;
    std::vector<std::string> targets;
    int head_status = 0;  // what on_request_head answers
    int heads = 0;
    Request& on_request_begin() override { return current; }
    bool stream_body(Request&) override { return false; }
    int on_request_head(Request&) override {
        ++heads;
        return head_status;
    }
    int on_request_body(std::string_view) override { return 0; }
};

struct Outcome {
    ParseResult::Kind kind = ParseResult::Kind::need_more;
    int status = 0;
    std::vector<std::string> targets;
    std::vector<std::string> bodies;
};

// Feeds `input` (in pieces of `step` bytes, 0 = all at once) through a parser, following
// completes the way the connection does; stops at the first error.
Outcome parse(const std::string& input, std::size_t step = 0, Limits limits = {}) {
    Collector c;
    RequestParser p(c, limits);
    Outcome out;
    out.kind = ParseResult::Kind::need_more;
    std::string pending;
    std::size_t pos = 0;
    while (pos < input.size() || !pending.empty()) {
        if (pos < input.size()) {
            const std::size_t n =
                step == 0 ? input.size() - pos : std::min(step, input.size() - pos);
            pending.append(input, pos, n);
            pos += n;
        }
        while (!pending.empty()) {
            const ParseResult r = p.feed(pending.data(), pending.size());
            if (r.kind == ParseResult::Kind::error) {
                out.kind = r.kind;
                out.status = r.status;
                return out;
            }
            if (r.kind == ParseResult::Kind::need_more) {
                pending.clear();
                break;
            }
            out.kind = r.kind;
            out.targets.emplace_back(c.current.target);
            out.bodies.push_back(c.current.body);
            pending.erase(0, r.consumed);
        }
    }
    if (p.in_request()) out.kind = ParseResult::Kind::need_more;
    return out;
}

const std::string kChunkedHead = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";

}  // namespace

TEST_SUITE("http1/parser") {

TEST_CASE("a simple GET is parsed with its target, path, query and headers") {
    Collector c;
    RequestParser p(c, Limits{});
    const std::string req =
        "GET /videos/1?t=30&x=y HTTP/1.1\r\nHost: example\r\nX-A:  spaced  \r\n\r\n";
    const ParseResult r = p.feed(req.data(), req.size());
    REQUIRE(r.kind == ParseResult::Kind::complete);
    CHECK(r.consumed == req.size());
    CHECK(c.current.method == "GET");
    CHECK(c.current.target == "/videos/1?t=30&x=y");
    CHECK(c.current.path == "/videos/1");
    CHECK(c.current.query == "t=30&x=y");
    CHECK(c.current.headers().get("host") == "example");
    CHECK(c.current.headers().get("x-a") == "spaced");
    CHECK(c.current.keep_alive);
    CHECK(c.heads == 1);
}

TEST_CASE("pipelined requests are returned one at a time, in order") {
    std::string in;
    for (int i = 0; i < 10; ++i)
        in += "GET /r" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    const Outcome o = parse(in);
    REQUIRE(o.targets.size() == 10);
    for (int i = 0; i < 10; ++i) CHECK(o.targets[i] == "/r" + std::to_string(i));
}

TEST_CASE("a request fed one byte at a time parses the same") {
    const std::string in =
        "POST /upload?a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /next "
        "HTTP/1.1\r\nHost: x\r\n\r\n";
    const Outcome o = parse(in, 1);
    REQUIRE(o.targets.size() == 2);
    CHECK(o.targets[0] == "/upload?a=1");
    CHECK(o.bodies[0] == "hello");
    CHECK(o.targets[1] == "/next");
}

TEST_CASE("well-formed trailers pass, split anywhere") {
    const std::string in =
        kChunkedHead + "3\r\nabc\r\n0\r\nA: 1\r\nB:\r\n\r\nGET /n HTTP/1.1\r\nHost: x\r\n\r\n";
    for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{4}}) {
        CAPTURE(step);
        const Outcome o = parse(in, step);
        REQUIRE(o.targets.size() == 2);
        CHECK(o.bodies[0] == "abc");
        CHECK(o.targets[1] == "/n");
    }
}

TEST_CASE("a chunked body is de-chunked, extensions and trailers skipped") {
    const std::string in =
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer-A: 1\r\n\r\n";
    const Outcome o = parse(in, 3);
    REQUIRE(o.targets.size() == 1);
    CHECK(o.bodies[0] == "hello world");
}

TEST_CASE("valid chunk extensions are skipped, split anywhere, and the next request follows") {
    // RFC 9112 §7.1.1: several extensions, BWS before ';' and around '=', token or
    // quoted-string values. llhttp 8.1 alone refuses all but the last (AWS SigV4's form).
    const std::vector<std::string> lines = {
        "5;a=b;c=d",
        "5 ;a=b",
        "5\t; a = b ; c",
        "5;a;b=1;c",
        "5;a=\"x;y\\\"z\";b=t",
        "5;a=\"\" ;b",
        "5;aws-chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    };
    for (const std::string& line : lines) {
        CAPTURE(line);
        const std::string in = kChunkedHead + line + "\r\nhello\r\n6" + line.substr(1) +
                               "\r\n world\r\n0" + line.substr(1) +
                               "\r\nT: 1\r\n\r\nGET /n HTTP/1.1\r\nHost: x\r\n\r\n";
        for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{5}}) {
            CAPTURE(step);
            const Outcome o = parse(in, step);
            REQUIRE(o.targets.size() == 2);
            CHECK(o.bodies[0] == "hello world");
            CHECK(o.targets[1] == "/n");
        }
    }
}

TEST_CASE("a streamed chunked body with extensions reaches its consumer without them") {
    struct Streamer final : ParserEvents {
        Request r;
        std::string body;
        bool pause = false;
        Request& on_request_begin() override { return r; }
        bool stream_body(Request&) override { return true; }
        int on_request_head(Request&) override { return 0; }
        int on_request_body(std::string_view bytes) override {
            body.append(bytes);
            pause = !pause;
            return pause ? ParserEvents::kPauseBody : 0;
        }
    } ev;
    RequestParser p(ev, Limits{});
    const std::string req = kChunkedHead + "3 ;a=b;c=\"d\"\r\nabc\r\n2;x\r\nde\r\n0;end\r\n\r\n" +
                            "GET /n HTTP/1.1\r\nHost: x\r\n\r\n";
    std::size_t pos = 0;
    ParseResult r = p.feed(req.data(), req.size());
    REQUIRE(r.kind == ParseResult::Kind::head);
    CHECK(r.consumed == kChunkedHead.size());
    for (int i = 0; i < 10 && r.kind != ParseResult::Kind::complete; ++i) {
        pos += r.consumed;
        r = p.feed(req.data() + pos, req.size() - pos);
        REQUIRE(r.kind != ParseResult::Kind::error);
    }
    REQUIRE(r.kind == ParseResult::Kind::complete);
    CHECK(ev.body == "abcde");
    CHECK(pos + r.consumed == req.find("GET"));
}

TEST_CASE("HTTP/1.0 is not kept alive unless it asks") {
    Collector c;
    RequestParser p(c, Limits{});
    std::string req = "GET / HTTP/1.0\r\n\r\n";
    REQUIRE(p.feed(req.data(), req.size()).kind == ParseResult::Kind::complete);
    CHECK_FALSE(c.current.keep_alive);
    CHECK(c.current.http_minor == 0);

    Collector c2;
    RequestParser p2(c2, Limits{});
    req = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
    REQUIRE(p2.feed(req.data(), req.size()).kind == ParseResult::Kind::complete);
    CHECK(c2.current.keep_alive);
}

TEST_CASE("Connection: close ends keep-alive") {
    Collector c;
    RequestParser p(c, Limits{});
    const std::string req = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    REQUIRE(p.feed(req.data(), req.size()).kind == ParseResult::Kind::complete);
    CHECK_FALSE(c.current.keep_alive);
}

TEST_CASE("limits and malformed requests map to their status") {
    Limits small;
    small.max_request_line = 64;
    small.max_header_bytes = 128;
    small.max_header_count = 3;
    small.max_body_bytes = 10;
    struct Row {
        const char* name;
        std::string input;
        int status;
    };
    const std::string long_url(100, 'a');
    const std::vector<Row> rows = {
        {"request line too long", "GET /" + long_url + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
        {"header bytes",
         "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(200, 'b') + "\r\n\r\n", 431},
        {"header count", "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 431},
        {"content-length over limit", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n",
         413},
        {"chunked over limit",
         "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
         "chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n",
         413},
        {"unknown method", "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 501},
        {"garbage method", "\x01\x02 / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        {"missing host", "GET / HTTP/1.1\r\n\r\n", 400},
        {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        {"unknown expectation", "GET / HTTP/1.1\r\nHost: x\r\nExpect: tea\r\n\r\n", 417},
        {"CL and TE",
         "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: "
         "chunked\r\n\r\n0\r\n\r\n",
         400},
        {"differing CLs",
         "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
        {"TE not ending in chunked",
         "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
        {"TE gzip only", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc", 400},
        {"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        {"invalid chunk size",
         "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        {"chunk size overflow",
         "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
         400},
        {"bare LF in headers", "GET / HTTP/1.1\nHost: x\n\n", 400},
        {"bare LF after header", "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400},
        {"NUL in header value", std::string("GET / HTTP/1.1\r\nHost: x\r\nX: a\0b\r\n\r\n", 36),
         400},
        {"NUL in target", std::string("GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n", 31), 400},
        {"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n  b\r\n\r\n", 400},
        {"space before colon", "GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 0\r\n\r\n", 400},
        {"CR alone in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400},
        {"space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        {"bare LF ending trailers", kChunkedHead + "0\r\n\n", 400},
        {"bare LF after a trailer", kChunkedHead + "0\r\nX: a\r\n\n", 400},
        {"obs-fold in a trailer", kChunkedHead + "0\r\nX: a\r\n b\r\n\r\n", 400},
        {"empty trailer name", kChunkedHead + "0\r\n: a\r\n\r\n", 400},
        // RFC 9112 §7.1.1: BWS belongs to an extension, so whitespace alone ends no size.
        {"space after the chunk size", kChunkedHead + "5 \r\nhello\r\n0\r\n\r\n", 400},
        {"space after an extension", kChunkedHead + "5;a=b \r\nhello\r\n0\r\n\r\n", 400},
        {"space after the last chunk", kChunkedHead + "0 \r\n\r\n", 400},
        {"extension without a name", kChunkedHead + "5;\r\nhello\r\n0\r\n\r\n", 400},
        {"extension with an empty value", kChunkedHead + "5;a=\r\nhello\r\n0\r\n\r\n", 400},
        {"trailing ';' after a value", kChunkedHead + "5;a=b;\r\nhello\r\n0\r\n\r\n", 400},
        {"unterminated quoted value", kChunkedHead + "5;a=\"b\r\nhello\r\n0\r\n\r\n", 400},
        {"bare LF after an extension", kChunkedHead + "5;a=b\nhello\r\n0\r\n\r\n", 400},
        {"bare CR after an extension", kChunkedHead + "5;a\rhello\r\n0\r\n\r\n", 400},
        {"bare LF inside an extension", kChunkedHead + "2;\nxx\r\n0\r\n\r\n", 400},
        {"chunk-size line over max_request_line",
         kChunkedHead + "5;a=" + std::string(64, 'x') + "\r\nhello\r\n0\r\n\r\n", 413},
        {"leading zeros over max_request_line", kChunkedHead + std::string(65, '0') + "5\r\n", 413},
    };
    for (const Row& row : rows) {
        const std::string name = row.name;
        CAPTURE(name);
        for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
            CAPTURE(step);
            const Outcome o = parse(row.input, step, small);
            CHECK(o.kind == ParseResult::Kind::error);
            CHECK(o.status == row.status);
            CHECK(o.targets.empty());
        }
    }
}

TEST_CASE("empty header values are valid, and are not mistaken for a fold") {
    Collector c;
    RequestParser p(c, Limits{});
    const std::string req = "GET / HTTP/1.1\r\nHost: x\r\nX-A:\r\nX-B: \r\nX-C:\t\r\n\r\n";
    for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
        CAPTURE(step);
        const Outcome o = parse(req, step);
        REQUIRE(o.targets.size() == 1);
    }
    REQUIRE(p.feed(req.data(), req.size()).kind == ParseResult::Kind::complete);
    CHECK(c.current.headers().get("x-a") == "");
    CHECK(c.current.headers().get("x-b") == "");
    CHECK(c.current.headers().get("x-c") == "");
}

TEST_CASE("header values lose leading and trailing SP and HTAB, and keep inner whitespace") {
    const std::string req = "GET / HTTP/1.1\r\nHost: x\r\nX-A: \t a \t b\t \r\nX-B:\t\tc\r\n\r\n";
    for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
        CAPTURE(step);
        Collector c;
        RequestParser p(c, Limits{});
        for (std::size_t pos = 0; pos < req.size();) {
            const std::size_t n = step == 0 ? req.size() : std::min(step, req.size() - pos);
            const ParseResult r = p.feed(req.data() + pos, n);
            REQUIRE(r.kind != ParseResult::Kind::error);
            if (r.kind == ParseResult::Kind::complete) break;
            REQUIRE(r.kind == ParseResult::Kind::need_more);
            pos += n;
        }
        CHECK(c.current.headers().get("x-a") == "a \t b");
        CHECK(c.current.headers().get("x-b") == "c");
    }
}

TEST_CASE("a request line exactly at the limit is accepted") {
    Limits l;
    l.max_request_line = 64;
    // "GET " + target + " HTTP/1.1" == 64 bytes
    const std::string target = "/" + std::string(64 - 4 - 9 - 1, 'a');
    const Outcome o = parse("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n", 0, l);
    REQUIRE(o.targets.size() == 1);
    CHECK(o.targets[0] == target);
    const Outcome over = parse("GET " + target + "a HTTP/1.1\r\nHost: x\r\n\r\n", 0, l);
    CHECK(over.status == 414);
}

TEST_CASE("the head handler can refuse a request with a status") {
    Collector c;
    c.head_status = 403;
    RequestParser p(c, Limits{});
    const std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    const ParseResult r = p.feed(req.data(), req.size());
    CHECK(r.kind == ParseResult::Kind::error);
    CHECK(r.status == 403);
}

TEST_CASE("end of input in the middle of a request is an error, between requests it is not") {
    Collector c;
    RequestParser p(c, Limits{});
    const std::string part = "GET / HTTP/1.1\r\nHo";
    CHECK(p.feed(part.data(), part.size()).kind == ParseResult::Kind::need_more);
    CHECK(p.in_request());
    CHECK(p.finish().kind == ParseResult::Kind::error);

    Collector c2;
    RequestParser p2(c2, Limits{});
    CHECK(p2.finish().kind == ParseResult::Kind::need_more);
}

TEST_CASE("a parser refuses everything after an error") {
    Collector c;
    RequestParser p(c, Limits{});
    const std::string bad = "GET / HTTP/1.1\nHost: x\n\n";
    CHECK(p.feed(bad.data(), bad.size()).kind == ParseResult::Kind::error);
    const std::string good = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    CHECK(p.feed(good.data(), good.size()).kind == ParseResult::Kind::error);
}

TEST_CASE("body_expected and expect_continue reflect the head") {
    struct Events final : ParserEvents {
        Request r;
        RequestParser* p = nullptr;
        bool expected = false;
        Request& on_request_begin() override { return r; }
        bool stream_body(Request&) override { return false; }
        int on_request_head(Request&) override {
            expected = p->body_expected();
            return 0;
        }
        int on_request_body(std::string_view) override { return 0; }
    } ev;
    RequestParser p(ev, Limits{});
    ev.p = &p;
    const std::string req =
        "PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    CHECK(p.feed(req.data(), req.size()).kind == ParseResult::Kind::need_more);
    CHECK(ev.expected);
    CHECK(ev.r.expect_continue);
    CHECK(p.in_body());
    CHECK(p.body_remaining() == 2);
}

TEST_CASE("a streamed body: head first, then spans, pausing where asked") {
    struct Streamer final : ParserEvents {
        Request r;
        std::string body;
        int heads = 0;
        bool pause = false;
        Request& on_request_begin() override { return r; }
        bool stream_body(Request&) override { return true; }
        int on_request_head(Request&) override {
            ++heads;  // only for buffered bodies
            return 0;
        }
        int on_request_body(std::string_view bytes) override {
            body.append(bytes);
            return pause ? ParserEvents::kPauseBody : 0;
        }
    } ev;
    Limits limits;
    limits.max_body_bytes = 4;  // does not apply to a streamed body
    RequestParser p(ev, limits);
    const std::string req =
        "PUT /u HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789GET / HTTP/1.1\r\n";
    const std::size_t head_len = req.find("0123");
    ParseResult r = p.feed(req.data(), req.size());
    REQUIRE(r.kind == ParseResult::Kind::head);
    CHECK(r.consumed == head_len);
    CHECK(ev.heads == 0);
    CHECK(p.declared_length() == std::optional<std::uint64_t>(10));
    ev.pause = true;
    std::size_t pos = r.consumed;
    r = p.feed(req.data() + pos, 3);
    REQUIRE(r.kind == ParseResult::Kind::paused);
    CHECK(r.consumed == 3);
    CHECK(ev.body == "012");
    pos += 3;
    ev.pause = false;
    r = p.feed(req.data() + pos, req.size() - pos);
    REQUIRE(r.kind == ParseResult::Kind::complete);
    CHECK(ev.body == "0123456789");
    CHECK(pos + r.consumed == req.find("GET"));
    CHECK(ev.r.body.empty());  // never buffered
}

TEST_CASE("a paused body reaches its end with an empty feed") {
    struct Streamer final : ParserEvents {
        Request r;
        std::string body;
        Request& on_request_begin() override { return r; }
        bool stream_body(Request&) override { return true; }
        int on_request_head(Request&) override { return 0; }
        int on_request_body(std::string_view bytes) override {
            body.append(bytes);
            return ParserEvents::kPauseBody;
        }
    } ev;
    RequestParser p(ev, Limits{});
    const std::string req = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok";
    ParseResult r = p.feed(req.data(), req.size());
    REQUIRE(r.kind == ParseResult::Kind::head);
    r = p.feed(req.data() + r.consumed, 2);
    REQUIRE(r.kind == ParseResult::Kind::paused);
    CHECK(ev.body == "ok");
    r = p.feed(nullptr, 0);
    CHECK(r.kind == ParseResult::Kind::complete);
}

TEST_CASE("a streamed body refused by its consumer fails with that status") {
    struct Refuser final : ParserEvents {
        Request r;
        Request& on_request_begin() override { return r; }
        bool stream_body(Request&) override { return true; }
        int on_request_head(Request&) override { return 0; }
        int on_request_body(std::string_view) override { return 413; }
    } ev;
    RequestParser p(ev, Limits{});
    const std::string req =
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    ParseResult r = p.feed(req.data(), req.size());
    REQUIRE(r.kind == ParseResult::Kind::head);
    r = p.feed(req.data() + r.consumed, req.size() - r.consumed);
    CHECK(r.kind == ParseResult::Kind::error);
    CHECK(r.status == 413);
}

}  // TEST_SUITE("http1/parser")
