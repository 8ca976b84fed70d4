#include "http1/parser.hpp"

#include <vstream/headers.hpp>

#include <cstring>

namespace vstream::http1 {

namespace {

RequestParser& self(llhttp_t* p) { return *static_cast<RequestParser*>(p->data); }

}  // namespace

RequestParser::RequestParser(ParserEvents& events, const Limits& limits) noexcept
    : events_(events), limits_(limits), chunk_line_scanner_(limits.max_request_line) {
    llhttp_settings_init(&settings_);
    settings_.on_message_begin = &on_message_begin;
    settings_.on_url = &on_url;
    settings_.on_header_field = &on_header_field;
    settings_.on_header_value = &on_header_value;
    settings_.on_header_value_complete = &on_header_value_complete;
    settings_.on_headers_complete = &on_headers_complete;
    settings_.on_body = &on_body;
    settings_.on_message_complete = &on_message_complete;
    settings_.on_chunk_header = &on_chunk_header;
    settings_.on_chunk_complete = &on_chunk_complete;
    // Strict mode is compiled in (LLHTTP_STRICT_MODE). The only lenient flag is the version
    // one: llhttp 8 refuses HTTP/1.2, which RFC 9112 §2.3 says to serve as 1.1; the version's
    // syntax is checked by the head scanner and its value by check_head(). The other lenient
    // flags each reopen a request smuggling vector (llhttp's warnings at llhttp_set_lenient_*).
    llhttp_init(&parser_, HTTP_REQUEST, &settings_);
    parser_.lenient_flags |= LENIENT_VERSION;
    parser_.data = this;
}

bool RequestParser::body_expected() const noexcept {
    return (parser_.flags & F_CHUNKED) != 0 ||
           ((parser_.flags & F_CONTENT_LENGTH) != 0 && parser_.content_length > 0);
}

std::optional<std::uint64_t> RequestParser::declared_length() const noexcept {
    if ((parser_.flags & F_CONTENT_LENGTH) == 0 || (parser_.flags & F_CHUNKED) != 0) {
        return std::nullopt;
    }
    return parser_.content_length;
}

std::uint64_t RequestParser::body_remaining() const noexcept {
    return (in_body_ && (parser_.flags & F_CONTENT_LENGTH) != 0) ? parser_.content_length : 0;
}

int RequestParser::fail(int status, const char* reason) noexcept {
    if (error_status_ == 0) {
        error_status_ = status;
        error_reason_ = reason;
    }
    return HPE_USER;
}

int RequestParser::append(http::Request::Span& span, const char* at, std::size_t len) noexcept {
    std::string& arena = request_->arena;
    if (span.length == 0) span.offset = static_cast<std::uint32_t>(arena.size());
    arena.append(at, len);
    span.length += static_cast<std::uint32_t>(len);
    return 0;
}

int RequestParser::count_trailer(std::size_t len) noexcept {
    // Chunked trailer fields count against the header limit but are not kept: the head's
    // views are already built, and nothing here reads trailers yet.
    header_bytes_ += len;
    if (header_bytes_ > limits_.max_header_bytes) return fail(431, "trailer section too large");
    return 0;
}

void RequestParser::start_chunk_line() noexcept {
    chunk_line_ = true;
    chunk_line_scanner_.reset();
}

int RequestParser::on_message_begin(llhttp_t* p) {
    RequestParser& s = self(p);
    s.request_ = &s.events_.on_request_begin();
    s.request_->reset();
    s.header_bytes_ = 0;
    s.in_field_ = false;
    s.in_request_ = true;
    s.in_body_ = false;
    s.stream_body_ = false;
    s.chunk_line_ = false;
    return 0;
}

int RequestParser::on_url(llhttp_t* p, const char* at, std::size_t len) {
    RequestParser& s = self(p);
    const std::size_t method_len =
        std::strlen(llhttp_method_name(static_cast<llhttp_method_t>(p->method)));
    // method SP target SP "HTTP/1.1" (RFC 9112 §3)
    const std::size_t line = method_len + 1 + s.request_->target_span.length + len + 9;
    if (line > s.limits_.max_request_line) return s.fail(414, "request line too long");
    return s.append(s.request_->target_span, at, len);
}

int RequestParser::on_header_field(llhttp_t* p, const char* at, std::size_t len) {
    RequestParser& s = self(p);
    http::Request& r = *s.request_;
    if (s.in_body_) return s.count_trailer(len);
    if (!s.in_field_) {
        if (r.field_spans.size() >= s.limits_.max_header_count) {
            return s.fail(431, "too many header fields");
        }
        r.field_spans.emplace_back();
        s.in_field_ = true;
        s.header_bytes_ += 4;  // ": " and CRLF
    }
    s.header_bytes_ += len;
    if (s.header_bytes_ > s.limits_.max_header_bytes)
        return s.fail(431, "header section too large");
    return s.append(r.field_spans.back().name, at, len);
}

int RequestParser::on_header_value(llhttp_t* p, const char* at, std::size_t len) {
    RequestParser& s = self(p);
    // RFC 9112 §5.2: obs-fold must be rejected (or replaced). llhttp 8 joins a folded line
    // into the value, handing the continuation as a span that starts right after the LF.
    if (s.in_body_) return s.count_trailer(len);
    s.header_bytes_ += len;
    if (s.header_bytes_ > s.limits_.max_header_bytes)
        return s.fail(431, "header section too large");
    return s.append(s.request_->field_spans.back().value, at, len);
}

int RequestParser::on_header_value_complete(llhttp_t* p) {
    self(p).in_field_ = false;
    return 0;
}

void RequestParser::build_views() noexcept {
    http::Request& r = *request_;
    const char* base = r.arena.data();
    r.target = std::string_view(base + r.target_span.offset, r.target_span.length);
    const std::size_t q = r.target.find('?');
    r.path = r.target.substr(0, q);
    r.query = q == std::string_view::npos ? std::string_view{} : r.target.substr(q + 1);
    r.fields.clear();
    r.fields.reserve(r.field_spans.size());
    for (const http::Request::FieldSpan& f : r.field_spans) {
        r.fields.push_back(
            HeaderField{std::string_view(base + f.name.offset, f.name.length),
                        // llhttp leaves out leading OWS; this drops the trailing OWS (RFC 9112 §5).
                        trim_ows(std::string_view(base + f.value.offset, f.value.length))});
    }
}

int RequestParser::check_head() noexcept {
    http::Request& r = *request_;
    const HeaderMap headers = r.headers();
    // RFC 9112 §2.5: only HTTP/1.x is spoken here; a later 1.x minor is treated as 1.1.
    if (r.http_major != 1) return fail(505, "HTTP version not supported");
    // RFC 9112 §3.2: exactly one Host in HTTP/1.1; never more than one.
    const std::size_t hosts = headers.count("host");
    if (hosts > 1) return fail(400, "more than one Host header");
    if (hosts == 0 && r.http_minor >= 1) return fail(400, "missing Host header");
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request means broken framing.
    if (r.http_minor == 0 && headers.contains("transfer-encoding")) {
        return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    }
    // RFC 9110 §10.1.1: 100-continue is the only expectation defined.
    if (const auto expect = headers.get("expect")) {
        if (!iequals(*expect, "100-continue")) return fail(417, "unsupported expectation");
        r.expect_continue = r.http_minor >= 1;
    }
    return 0;
}

int RequestParser::on_headers_complete(llhttp_t* p) {
    RequestParser& s = self(p);
    http::Request& r = *s.request_;
    s.in_body_ = true;
    r.http_major = p->http_major;
    // RFC 9112 §2.3: a later minor version of HTTP/1 is served as HTTP/1.1.
    r.http_minor = p->http_minor > 1 ? 1 : p->http_minor;
    r.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
    r.is_head = p->method == HTTP_HEAD;
    // An upgrade (or CONNECT) is not followed: this response is the connection's last.
    r.keep_alive = llhttp_should_keep_alive(p) != 0 && p->upgrade == 0;
    s.build_views();
    if (s.check_head() != 0) return -1;
    // llhttp reads a chunked body, except a CONNECT's: it ends that message at the head
    // (llhttp__after_headers_complete), and what follows is data after an upgrade.
    const bool chunked = (p->flags & F_CHUNKED) != 0 && p->method != HTTP_CONNECT;
    if (s.body_expected() && s.events_.stream_body(r)) {
        // Its handler runs now and reads the body itself, under its own limit.
        s.stream_body_ = true;
        s.head_paused_ = true;
        if (chunked) s.start_chunk_line();
        return HPE_PAUSED;
    }
    // 413 from Content-Length, before a byte of the body is read.
    if ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > s.limits_.max_body_bytes) {
        s.fail(413, "request body too large");
        return -1;
    }
    if (const int status = s.events_.on_request_head(r); status != 0) {
        s.fail(status, "request refused");
        return -1;
    }
    if (chunked) {
        // Pause where the first chunk-size line starts, for feed() to hand it to the scanner.
        s.start_chunk_line();
        return HPE_PAUSED;
    }
    return 0;
}

int RequestParser::on_body(llhttp_t* p, const char* at, std::size_t len) {
    RequestParser& s = self(p);
    if (s.stream_body_) {
        const int rc = s.events_.on_request_body(std::string_view(at, len));
        if (rc == 0) return 0;
        if (rc == ParserEvents::kPauseBody) {
            s.body_paused_ = true;
            return HPE_PAUSED;
        }
        return s.fail(rc, rc == 413 ? "request body too large" : "request body refused");
    }
    std::string& body = s.request_->body;
    // Chunked bodies have no length up front: the limit is enforced as bytes arrive.
    if (body.size() + len > s.limits_.max_body_bytes) return s.fail(413, "request body too large");
    body.append(at, len);
    return 0;
}

int RequestParser::on_chunk_header(llhttp_t* p) {
    if (p->content_length != 0) return 0;
    // The last chunk: pause so feed() can put the trailer bytes through the scanner before
    // llhttp reads them (llhttp 8 is as lax in trailers as in heads).
    self(p).last_chunk_ = true;
    return HPE_PAUSED;
}

int RequestParser::on_chunk_complete(llhttp_t* p) {
    // llhttp 8 calls this after each chunk's data and, for the last chunk, after the trailer
    // section; only the former is followed by a chunk-size line.
    if ((p->flags & F_TRAILING) != 0) return 0;
    self(p).start_chunk_line();
    return HPE_PAUSED;
}

int RequestParser::on_message_complete(llhttp_t* p) {
    RequestParser& s = self(p);
    s.scanner_.reset();  // the next byte starts a new head
    s.chunk_line_ = false;
    s.in_request_ = false;
    s.in_body_ = false;
    // Stop here: the next pipelined request waits until this one is answered.
    return HPE_PAUSED;
}

ParseResult RequestParser::feed(const char* data, std::size_t len) noexcept {
    static constexpr char kNothing = 0;
    if (data == nullptr) data = &kNothing;  // an empty feed, to let a paused body finish
    if (dead_) return {ParseResult::Kind::error, 0, 400, "request after a parse error"};
    // The scanner sees the head's bytes before llhttp does, so a head it refuses is never
    // dispatched. It stops at the end of the head; body bytes are llhttp's alone.
    if (const char* problem = scanner_.scan(data, len)) {
        dead_ = true;
        return {ParseResult::Kind::error, len, 400, problem};
    }
    std::size_t offset = 0;
    for (;;) {
        std::size_t end = len;
        if (chunk_line_) {
            // A chunk-size line: llhttp sees its size and CRLF, the scanner checks and drops
            // its extensions (RFC 9112 §7.1.1), which llhttp 8.1 would misread.
            if (offset == len) return {ParseResult::Kind::need_more, len, 0, {}};
            const http::ChunkLineScanner::Run run =
                chunk_line_scanner_.next(data + offset, len - offset);
            if (run.status != 0) {
                dead_ = true;
                return {ParseResult::Kind::error, len, run.status, run.reason};
            }
            if (!run.pass) {
                offset += run.length;
                continue;
            }
            end = offset + run.length;
            if (run.line_end) chunk_line_ = false;
        }
        const llhttp_errno_t err = llhttp_execute(&parser_, data + offset, end - offset);
        if (err == HPE_OK) {
            if (end == len) return {ParseResult::Kind::need_more, len, 0, {}};
            offset = end;
            continue;
        }
        if (err != HPE_PAUSED) return error_result(len, err);
        const auto pos = static_cast<std::size_t>(llhttp_get_error_pos(&parser_) - data);
        llhttp_resume(&parser_);
        if (head_paused_) {
            head_paused_ = false;
            return {ParseResult::Kind::head, pos, 0, {}};
        }
        if (body_paused_) {
            body_paused_ = false;
            return {ParseResult::Kind::paused, pos, 0, {}};
        }
        if (chunk_line_) {
            offset = pos;  // paused where a chunk-size line starts
            continue;
        }
        if (!last_chunk_) return {ParseResult::Kind::complete, pos, 0, {}};
        last_chunk_ = false;
        scanner_.start_trailers();
        if (const char* problem = scanner_.scan(data + pos, len - pos)) {
            dead_ = true;
            return {ParseResult::Kind::error, len, 400, problem};
        }
        offset = pos;
    }
}

ParseResult RequestParser::finish() noexcept {
    if (!in_request_ || dead_) return {ParseResult::Kind::need_more, 0, 0, {}};
    dead_ = true;
    return {ParseResult::Kind::error, 0, 400, "connection closed before the request was complete"};
}

ParseResult RequestParser::error_result(std::size_t len, llhttp_errno_t err) noexcept {
    dead_ = true;
    ParseResult r{ParseResult::Kind::error, len, 400, "malformed request"};
    if (error_status_ != 0) {
        r.status = error_status_;
        r.reason = error_reason_;
        return r;
    }
    switch (err) {
        case HPE_INVALID_METHOD:
            if (scanner_.method_is_token()) {
                r.status = 501;
                r.reason = "method not implemented";
                return r;
            }
            break;
        case HPE_INVALID_VERSION:
            r.reason = "malformed HTTP version";  // its syntax; unsupported values get 505
            return r;
        case HPE_PAUSED_UPGRADE: r.reason = "data after an upgrade request"; return r;
        default: break;
    }
    if (const char* reason = llhttp_get_error_reason(&parser_); reason != nullptr) {
        r.reason = reason;
    }
    return r;
}

}  // namespace vstream::http1
