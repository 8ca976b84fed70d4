// libFuzzer target: arbitrary bytes through the request parser (llhttp strict mode plus
// vstream's limits and framing checks), split into reads at fuzzer-chosen points and
// following pipelined requests the way the connection does.
#include "http1/parser.hpp"

#include <cstdint>
#include <cstring>
#include <string>

namespace {

using vstream::http::Request;
using vstream::http1::ParseResult;

struct Events final : vstream::http1::ParserEvents {
    Request request;
    bool streaming = false;  // stream every body, pausing after every other span
    bool pause = false;
    std::size_t streamed = 0;
    Request& on_request_begin() override { return request; }
    bool stream_body(Request&) override { return streaming; }
    int on_request_body(std::string_view bytes) override {
        streamed += bytes.size();
        pause = !pause;
        return pause ? vstream::http1::ParserEvents::kPauseBody : 0;
    }
    int on_request_head(Request& r) override {
        // Touch every view: they must point into live memory (ASan checks).
        std::size_t sum = r.method.size() + r.target.size() + r.path.size() + r.query.size();
        for (const auto& f : r.fields) sum += f.name.size() + f.value.size();
        return sum == 0 ? 0 : 0;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    // The first byte picks the read size and whether bodies are streamed; small limits make
    // every limit reachable.
    const std::size_t step = 1 + data[0] % 64;
    const bool streaming = (data[0] & 0x80) != 0;
    vstream::Limits limits;
    limits.max_request_line = 256;
    limits.max_header_bytes = 512;
    limits.max_header_count = 8;
    limits.max_body_bytes = 1024;
    Events ev;
    ev.streaming = streaming;
    vstream::http1::RequestParser parser(ev, limits);
    std::string pending;
    for (std::size_t pos = 1; pos < size;) {
        const std::size_t n = std::min(step, size - pos);
        pending.append(reinterpret_cast<const char*>(data) + pos, n);
        pos += n;
        while (!pending.empty()) {
            const ParseResult r = parser.feed(pending.data(), pending.size());
            if (r.kind == ParseResult::Kind::error) {
                if (r.status < 400 || r.status > 505 || r.reason.empty()) __builtin_trap();
                return 0;
            }
            if (r.kind == ParseResult::Kind::need_more) {
                pending.clear();
                break;
            }
            // A streamed body is never buffered; a paused one goes on with an empty feed too.
            if (streaming && !ev.request.body.empty()) __builtin_trap();
            if (r.consumed > pending.size()) __builtin_trap();
            if (ev.request.body.size() > limits.max_body_bytes) __builtin_trap();
            pending.erase(0, r.consumed);
        }
    }
    parser.finish();
    return 0;
}
