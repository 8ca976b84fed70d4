// Micro-benchmarks of the chunked coding: encoding size lines and last chunks, and decoding a
// stream of chunks of various sizes (bytes/s reported).
#include "http/chunked_decoder.hpp"
#include "http/chunked_encoder.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

using vstream::http::ChunkedDecoder;

void BM_ChunkSizeLine(benchmark::State& state) {
    char buf[vstream::http::kMaxChunkSizeLine];
    std::uint64_t n = 1;
    for (auto _ : state) {
        benchmark::DoNotOptimize(vstream::http::chunk_size_line(n, buf));
        n = n * 7 + 1;
    }
}
BENCHMARK(BM_ChunkSizeLine);

std::string encoded(std::size_t chunk, std::size_t total) {
    std::string wire;
    char buf[vstream::http::kMaxChunkSizeLine];
    const std::string data(chunk, 'x');
    for (std::size_t sent = 0; sent < total; sent += chunk) {
        wire.append(buf, vstream::http::chunk_size_line(chunk, buf)).append(data).append("\r\n");
    }
    wire += vstream::http::last_chunk();
    return wire;
}

void BM_Decode(benchmark::State& state) {
    const std::string wire = encoded(static_cast<std::size_t>(state.range(0)), 1 << 20);
    for (auto _ : state) {
        ChunkedDecoder d;
        std::size_t bytes = 0;
        d.feed(wire, [&](std::string_view p) { bytes += p.size(); });
        benchmark::DoNotOptimize(bytes);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * (1 << 20));
}
BENCHMARK(BM_Decode)->Arg(16)->Arg(1024)->Arg(64 * 1024);

}  // namespace

BENCHMARK_MAIN();
