// A strict decoder of the chunked transfer coding, for tests that read the server's chunked
// responses. Not part of the engine: it decodes chunked request bodies with llhttp and
// src/http/chunk_line_scanner (see src/http1/parser.cpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vstream::test {

/// An incremental decoder of the chunked transfer coding (RFC 9112 §7.1), strict: chunk sizes
/// are 1*HEXDIG below 2^60, every line ends in CRLF (a bare LF or CR is an error), extensions
/// must be well-formed (`;name` or `;name=token` or `;name="quoted"`, BWS allowed around `;`
/// and `=`) and are skipped, trailer fields are `token ":" OWS value OWS` without obs-fold.
/// Data is handed out as views into the fed bytes, never copied.
/// Not thread-safe; noexcept throughout (allocation failure of the trailer list is an error).
class ChunkedDecoder {
public:
    struct Limits {
        std::size_t max_line = 4096;            ///< a chunk-size line with its extensions
        std::size_t max_trailer_bytes = 32768;  ///< all trailer lines together
        std::size_t max_trailers = 100;
        std::uint64_t max_body = UINT64_MAX;  ///< the decoded data, in total
    };
    enum class Status {
        more,   ///< everything fed was consumed; feed more
        done,   ///< the last chunk and trailers are complete; `consumed` says where it ended
        error,  ///< malformed or over a limit; error() says why
    };
    struct Result {
        Status status = Status::more;
        std::size_t consumed = 0;  ///< bytes of the input used (all of it unless done/error)
    };
    using Trailers = std::vector<std::pair<std::string, std::string>>;

    ChunkedDecoder() noexcept = default;
    explicit ChunkedDecoder(const Limits& limits) noexcept : limits_(limits) {}

    /// Decodes `in`, calling `on_data(std::string_view)` for each piece of chunk data.
    template <class OnData>
    Result feed(std::string_view in, OnData&& on_data) noexcept {
        std::size_t pos = 0;
        while (pos < in.size()) {
            if (state_ == State::data) {
                const std::size_t n =
                    static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - pos));
                on_data(in.substr(pos, n));
                pos += n;
                remaining_ -= n;
                if (remaining_ == 0) state_ = State::data_cr;
                continue;
            }
            if (state_ == State::done || state_ == State::failed) break;
            pos += step(in.substr(pos));
        }
        if (state_ == State::failed) return {Status::error, pos};
        if (state_ == State::done) return {Status::done, pos};
        return {Status::more, pos};
    }

    /// Why decoding failed ("" if it did not).
    const char* error() const noexcept { return error_; }
    /// The trailer fields, once done.
    const Trailers& trailers() const noexcept { return trailers_; }
    /// Decoded data bytes so far.
    std::uint64_t body_bytes() const noexcept { return body_; }
    bool finished() const noexcept { return state_ == State::done; }

private:
    enum class State { size_line, data, data_cr, data_lf, trailer_line, done, failed };

    // Consumes bytes of a line-based state; returns how many. Lines are gathered in line_.
    std::size_t step(std::string_view in) noexcept;
    void finish_size_line() noexcept;
    void finish_trailer_line() noexcept;
    void fail(const char* why) noexcept;

    Limits limits_;
    State state_ = State::size_line;
    std::string line_;  // the line being gathered (without its CRLF)
    bool saw_cr_ = false;
    std::uint64_t remaining_ = 0;  // of the current chunk's data
    std::uint64_t body_ = 0;
    std::size_t trailer_bytes_ = 0;
    Trailers trailers_;
    const char* error_ = "";
};

}  // namespace vstream::test
