// libFuzzer target for the chunked decoder: any bytes, fed whole and split in two at a point the
// input chooses, must decode the same, never read outside the input, and respect the limits.
#include "http/chunked_decoder.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using vstream::http::ChunkedDecoder;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::size_t cut = data[0] % (size);
    const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
    ChunkedDecoder::Limits limits;
    limits.max_body = 1 << 20;
    limits.max_trailer_bytes = 512;
    limits.max_line = 64;

    ChunkedDecoder whole(limits);
    std::string a;
    const auto ra = whole.feed(in, [&](std::string_view p) { a += p; });

    ChunkedDecoder split(limits);
    std::string b;
    auto sink = [&](std::string_view p) { b += p; };
    const std::size_t k = cut < in.size() ? cut : in.size();
    auto rb = split.feed(in.substr(0, k), sink);
    std::size_t consumed = rb.consumed;
    if (rb.status == ChunkedDecoder::Status::more) {
        rb = split.feed(in.substr(k), sink);
        consumed = k + rb.consumed;
    }
    if (ra.status != rb.status) __builtin_trap();
    if (ra.status != ChunkedDecoder::Status::error) {
        if (a != b || ra.consumed != consumed) __builtin_trap();
    }
    if (ra.consumed > in.size() || whole.body_bytes() > limits.max_body) __builtin_trap();
    if (ra.status == ChunkedDecoder::Status::done && whole.trailers().size() > limits.max_trailers) {
        __builtin_trap();
    }
    return 0;
}
