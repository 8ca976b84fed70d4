// Micro-benchmarks of the chunked coding as the engine does it: encoding size lines (the
// responses' framing), and reading chunked request bodies of various chunk sizes through the
// HTTP/1.1 request parser (llhttp strict mode, with ChunkLineScanner reading each chunk-size
// line), fed in 64 KiB reads as a connection feeds it. Bytes/s are decoded body bytes; a
// Content-Length body of the same size gives the parser's ceiling without chunk framing.
// Run: build-release/benchmarks/chunked_bench
#include "http/chunked_encoder.hpp"
#include "http/request.hpp"
#include "http1/parser.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

using vstream::http1::ParseResult;
using vstream::http1::ParserEvents;
using vstream::http1::RequestParser;

constexpr std::size_t kBody = 1 << 20;
// A connection hands the parser what one socket read returned: at most the loop's read slab,
// 64 KiB (net::ReadSlab::kSize).
constexpr std::size_t kRead = 64 * 1024;

void BM_ChunkSizeLine(benchmark::State& state) {
    char buf[vstream::http::kMaxChunkSizeLine];
    std::uint64_t n = 1;
    for (auto _ : state) {
        benchmark::DoNotOptimize(vstream::http::chunk_size_line(n, buf));
        n = n * 7 + 1;
    }
}
BENCHMARK(BM_ChunkSizeLine);

// A POST whose body is `total` bytes in chunks of `chunk` bytes, framed by the engine's own
// encoder; or with Content-Length when `chunk` is 0.
std::string request(std::size_t chunk, std::size_t total) {
    std::string wire = "POST /upload HTTP/1.1\r\nHost: bench\r\n";
    if (chunk == 0) {
        wire += "Content-Length: " + std::to_string(total) + "\r\n\r\n";
        wire.append(total, 'x');
        return wire;
    }
    wire += "Transfer-Encoding: chunked\r\n\r\n";
    char buf[vstream::http::kMaxChunkSizeLine];
    for (std::size_t sent = 0; sent < total; sent += chunk) {
        const std::size_t n = std::min(chunk, total - sent);
        wire.append(buf, vstream::http::chunk_size_line(n, buf)).append(n, 'x').append("\r\n");
    }
    wire += vstream::http::last_chunk();
    return wire;
}

// What the parser reports, as the connection would take it: a streamed body (a handle_stream
// route) is counted span by span, a buffered one is kept in the request.
struct Events final : ParserEvents {
    vstream::http::Request request;
    bool stream = true;
    std::size_t streamed = 0;
    vstream::http::Request& on_request_begin() override { return request; }
    bool stream_body(vstream::http::Request&) override { return stream; }
    int on_request_head(vstream::http::Request&) override { return 0; }
    int on_request_body(std::string_view bytes) override {
        streamed += bytes.size();
        return 0;
    }
};

// Parses one request from `wire` in reads of kRead bytes, following a streamed head the way
// the connection does. Returns the body bytes delivered, or 0 on any error.
std::size_t parse(const std::string& wire, Events& ev) {
    RequestParser parser(ev, vstream::Limits{});
    ev.streamed = 0;
    for (std::size_t pos = 0; pos < wire.size();) {
        const std::size_t n = std::min(kRead, wire.size() - pos);
        const char* read = wire.data() + pos;
        pos += n;
        for (std::size_t off = 0; off < n;) {
            const ParseResult r = parser.feed(read + off, n - off);
            if (r.kind == ParseResult::Kind::error) return 0;
            if (r.kind == ParseResult::Kind::need_more) break;
            if (r.kind == ParseResult::Kind::complete) {
                return ev.stream ? ev.streamed : ev.request.body.size();
            }
            off += r.consumed;  // past the head of a streamed body: the rest follows
        }
    }
    return 0;
}

// Arguments: the chunk size (0: a Content-Length body instead), and whether the body is
// buffered (a handle route) rather than streamed (a handle_stream route).
void BM_ParseBody(benchmark::State& state) {
    const std::string wire = request(static_cast<std::size_t>(state.range(0)), kBody);
    Events ev;
    ev.stream = state.range(1) == 0;
    if (parse(wire, ev) != kBody) {
        state.SkipWithError("the parser did not deliver the whole body");
        return;
    }
    for (auto _ : state) {
        benchmark::DoNotOptimize(parse(wire, ev));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                            static_cast<std::int64_t>(kBody));
}
BENCHMARK(BM_ParseBody)
    ->ArgNames({"chunk", "buffered"})
    ->ArgsProduct({{16, 1024, 64 * 1024, 0}, {0, 1}});

}  // namespace

BENCHMARK_MAIN();
