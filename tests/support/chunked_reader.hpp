// A chunked response read off a RawClient's connection as it arrives, its body decoded by the
// strict decoder, for tests that watch a streamed response in progress.
#pragma once

#include "chunked_decoder.hpp"
#include "raw_client.hpp"

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>

namespace vstream::test {

/// Reads one response from `client` (through RawClient::receive, so over TLS too, and
/// starting with what the client has buffered): the head, then a chunked body through
/// ChunkedDecoder. The bytes past the body's end are kept in `after`, to start the reader of
/// the next response. Every wait has a deadline.
class ChunkedReader {
public:
    explicit ChunkedReader(RawClient& client, std::string pending = {})
        : client_(client), pending_(std::move(pending)) {}

    /// Reads the response head (into `head`; status and headers, names lower-cased); the bytes
    /// after it start the body. False on close, timeout, a head that is not HTTP/1.1 or a
    /// decoding error.
    bool read_head(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        std::size_t end;
        while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
            if (!receive(pending_, timeout)) return false;
        }
        const std::string text = pending_.substr(0, end + 2);
        const std::string rest = pending_.substr(end + 4);
        pending_.clear();
        if (text.rfind("HTTP/1.1 ", 0) != 0) return false;
        head.status = std::atoi(text.c_str() + 9);
        for (std::size_t pos = text.find("\r\n") + 2; pos < text.size();) {
            const std::size_t eol = text.find("\r\n", pos);
            const std::string line = text.substr(pos, eol - pos);
            const std::size_t colon = line.find(':');
            if (colon != std::string::npos) {
                std::string name = line.substr(0, colon);
                for (char& ch : name)
                    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                const std::size_t v = line.find_first_not_of(' ', colon + 1);
                head.headers.emplace(name, v == std::string::npos ? "" : line.substr(v));
            }
            pos = eol + 2;
        }
        feed(rest);
        return error.empty();
    }
    /// Waits up to `timeout` for bytes and decodes them. False on close, timeout or a decoding
    /// error.
    bool step(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
        std::string bytes;
        if (!receive(bytes, timeout)) return false;
        feed(bytes);
        return error.empty();
    }
    /// Reads to the end of the body (each wait bounded as step's).
    bool read_to_end() {
        while (!done()) {
            if (!step()) return false;
        }
        return true;
    }
    /// Whether the last chunk and the trailers have come.
    bool done() const noexcept { return decoder.finished(); }

    Response head;           // status and headers; the body is in `data`
    ChunkedDecoder decoder;  // its trailers() once done
    std::string data;        // the decoded body so far
    std::string after;       // bytes past the end of the body
    std::string error;       // why decoding failed, or ""

private:
    bool receive(std::string& into, std::chrono::milliseconds timeout) {
        return client_.receive(into, timeout, 65536);
    }
    void feed(std::string_view bytes) {
        if (done()) {
            after.append(bytes);
            return;
        }
        const auto r = decoder.feed(bytes, [&](std::string_view piece) { data.append(piece); });
        if (r.status == ChunkedDecoder::Status::error) error = decoder.error();
        if (r.status == ChunkedDecoder::Status::done) after.append(bytes.substr(r.consumed));
    }

    RawClient& client_;
    std::string pending_;
};

}  // namespace vstream::test
