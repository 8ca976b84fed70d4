#pragma once

#include <vstream/config.hpp>

#include "http/chunk_line_scanner.hpp"
#include "http/head_scanner.hpp"
#include "http/request.hpp"

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vstream::http1 {

/// Receives what the parser finds. Called on the loop thread, from inside feed().
class ParserEvents {
public:
    /// A new request begins; returns the Request to fill (reset by the parser).
    virtual http::Request& on_request_begin() = 0;
    /// The head is complete and passed every framing check, and it has a body: returns true
    /// to have the request dispatched now and its body streamed (feed() returns `head`, then
    /// each body span goes to on_request_body), false to buffer the body (up to
    /// Limits::max_body_bytes) and dispatch the complete request.
    virtual bool stream_body(http::Request& request) = 0;
    /// The head of a buffered request passed every limit and framing check. Returns 0 to go
    /// on, or an HTTP status to refuse the request with (e.g. 417).
    virtual int on_request_head(http::Request& request) = 0;
    /// The next span of a streamed body. Returns 0 to go on, kPauseBody to stop after it
    /// (feed() returns `paused`), or an HTTP status to fail the request with (413, 500).
    virtual int on_request_body(std::string_view bytes) = 0;
    static constexpr int kPauseBody = -1;

protected:
    ~ParserEvents() = default;
};

/// The outcome of one feed() call.
struct ParseResult {
    enum class Kind {
        need_more,  ///< every byte consumed, the request is not complete yet
        complete,   ///< a request is complete; `consumed` bytes were used, the rest is the next
        head,       ///< a streamed request's head is complete: dispatch it, then feed the rest
        paused,     ///< on_request_body asked to pause: feed the bytes past `consumed` later
        error,      ///< the request is refused with `status`; the connection must close
    };
    Kind kind = Kind::need_more;
    std::size_t consumed = 0;
    int status = 0;           ///< for error: 400, 413, 414, 431, 501, 505, ...
    std::string_view reason;  ///< for error: a short, static description
};

/// An incremental HTTP/1.1 request parser: llhttp in strict mode plus vstream's limits and
/// framing rules (request smuggling defences, RFC 9112). HeadScanner checks head and trailer
/// lines before llhttp reads them; ChunkLineScanner reads each chunk-size line and hands
/// llhttp only its size and CRLF. It stops after each complete request, so responses go out
/// strictly in request order.
/// Thread: its loop thread only.
class RequestParser {
public:
    RequestParser(ParserEvents& events, const Limits& limits) noexcept;  // copies limits
    RequestParser(const RequestParser&) = delete;
    RequestParser& operator=(const RequestParser&) = delete;

    /// Parses `data`. After `complete`, call feed() again with the bytes past `consumed` to
    /// parse the next request. After `error`, the parser is dead.
    ParseResult feed(const char* data, std::size_t len) noexcept;
    /// The peer closed its side. Returns an error if a request was cut short (400), otherwise
    /// need_more (nothing pending).
    ParseResult finish() noexcept;

    /// True between the first byte of a request and its completion.
    bool in_request() const noexcept { return in_request_; }
    /// True once the head of the current request is complete (the body is being read).
    bool in_body() const noexcept { return in_body_; }
    /// Whether the current request announced a body (chunked, or Content-Length > 0).
    /// Valid from on_request_head on.
    bool body_expected() const noexcept;
    /// Bytes of the current request's body still expected (Content-Length bodies), or 0.
    std::uint64_t body_remaining() const noexcept;
    /// The current request's Content-Length, or nullopt (chunked, or none).
    std::optional<std::uint64_t> declared_length() const noexcept;

private:
    static int on_message_begin(llhttp_t* p);
    static int on_url(llhttp_t* p, const char* at, std::size_t len);
    static int on_header_field(llhttp_t* p, const char* at, std::size_t len);
    static int on_header_value(llhttp_t* p, const char* at, std::size_t len);
    static int on_header_value_complete(llhttp_t* p);
    static int on_headers_complete(llhttp_t* p);
    static int on_body(llhttp_t* p, const char* at, std::size_t len);
    static int on_message_complete(llhttp_t* p);
    static int on_chunk_header(llhttp_t* p);
    static int on_chunk_complete(llhttp_t* p);

    int fail(int status, const char* reason) noexcept;
    int append(http::Request::Span& span, const char* at, std::size_t len) noexcept;
    int check_head() noexcept;
    int count_trailer(std::size_t len) noexcept;
    void start_chunk_line() noexcept;
    void build_views() noexcept;
    ParseResult error_result(std::size_t len, llhttp_errno_t err) noexcept;

    llhttp_t parser_{};
    llhttp_settings_t settings_{};
    ParserEvents& events_;
    const Limits limits_;  // a copy: small, and no lifetime to track
    http::HeadScanner scanner_;
    http::ChunkLineScanner chunk_line_scanner_;
    bool chunk_line_ = false;   // in a chunk-size line: chunk_line_scanner_ reads it first
    bool last_chunk_ = false;   // paused at the last chunk: trailers follow
    bool head_paused_ = false;  // paused after a streamed request's head
    bool body_paused_ = false;  // paused after a streamed body span
    bool stream_body_ = false;  // the current request's body is streamed
    http::Request* request_ = nullptr;
    std::size_t header_bytes_ = 0;
    bool in_field_ = false;  // last header callback was a field name
    bool in_request_ = false;
    bool in_body_ = false;
    bool dead_ = false;
    int error_status_ = 0;
    const char* error_reason_ = nullptr;
};

}  // namespace vstream::http1
