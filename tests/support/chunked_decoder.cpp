#include "chunked_decoder.hpp"

#include <vstream/headers.hpp>

#include "http/token.hpp"

namespace vstream::test {

namespace {

using http::hex_digit_value;
using http::is_field_value_char;
using http::skip_ows;
using http::skip_token;

// RFC 9110 §5.6.4 quoted-string starting at s[i] == '"'; returns the index after it, or npos.
std::size_t skip_quoted(std::string_view s, std::size_t i) noexcept {
    for (++i; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '"') return i + 1;
        if (c == '\\') {
            if (++i >= s.size() || !is_field_value_char(s[i])) return std::string_view::npos;
        } else if (!is_field_value_char(c)) {
            return std::string_view::npos;
        }
    }
    return std::string_view::npos;
}

// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), RFC 9112 §7.1.1.
bool valid_extensions(std::string_view s) noexcept {
    std::size_t i = 0;
    while (true) {
        i = skip_ows(s, i);
        if (i == s.size()) return true;
        if (s[i] != ';') return false;
        i = skip_ows(s, i + 1);
        const std::size_t name_end = skip_token(s, i);
        if (name_end == i) return false;
        i = skip_ows(s, name_end);
        if (i < s.size() && s[i] == '=') {
            i = skip_ows(s, i + 1);
            if (i < s.size() && s[i] == '"') {
                i = skip_quoted(s, i);
                if (i == std::string_view::npos) return false;
            } else {
                const std::size_t end = skip_token(s, i);
                if (end == i) return false;
                i = end;
            }
        }
    }
}

}  // namespace

void ChunkedDecoder::fail(const char* why) noexcept {
    state_ = State::failed;
    error_ = why;
}

std::size_t ChunkedDecoder::step(std::string_view in) noexcept {
    switch (state_) {
        case State::data_cr:
            if (in[0] != '\r') {
                fail("chunk data not followed by CRLF");
            } else {
                state_ = State::data_lf;
            }
            return 1;
        case State::data_lf:
            if (in[0] != '\n') {
                fail("chunk data not followed by CRLF");
            } else {
                state_ = State::size_line;
            }
            return 1;
        case State::size_line:
        case State::trailer_line: break;
        case State::data:
        case State::done:
        case State::failed: return in.size();  // not reached: feed() handles these
    }
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (saw_cr_) {
            saw_cr_ = false;
            if (c != '\n') {
                fail("bare CR in a chunk line");
                return i + 1;
            }
            if (state_ == State::size_line) {
                finish_size_line();
            } else {
                finish_trailer_line();
            }
            line_.clear();
            return i + 1;
        }
        if (c == '\r') {
            saw_cr_ = true;
            continue;
        }
        if (c == '\n') {
            fail("bare LF in a chunk line");  // RFC 9112 §2.2: a smuggling vector
            return i + 1;
        }
        const bool trailer = state_ == State::trailer_line;
        if (trailer ? trailer_bytes_ + line_.size() + 2 >= limits_.max_trailer_bytes
                    : line_.size() >= limits_.max_line) {
            fail(trailer ? "trailers too large" : "chunk size line too long");
            return i + 1;
        }
        try {
            line_.push_back(c);
        } catch (...) {
            fail("out of memory");
            return i + 1;
        }
    }
    return in.size();
}

void ChunkedDecoder::finish_size_line() noexcept {
    const std::string_view s = line_;
    std::uint64_t size = 0;
    std::size_t i = 0;
    for (; i < s.size() && hex_digit_value(s[i]) >= 0; ++i) {
        if (i == 15) {
            fail("chunk size too large");  // 2^60: no body is that long
            return;
        }
        size = size * 16 + static_cast<std::uint64_t>(hex_digit_value(s[i]));
    }
    if (i == 0) return fail("invalid chunk size");
    if (!valid_extensions(s.substr(i))) return fail("invalid chunk extension");
    if (size == 0) {
        state_ = State::trailer_line;
        return;
    }
    if (size > limits_.max_body - body_) return fail("body too large");
    body_ += size;
    remaining_ = size;
    state_ = State::data;
}

void ChunkedDecoder::finish_trailer_line() noexcept {
    const std::string_view s = line_;
    if (s.empty()) {
        state_ = State::done;
        return;
    }
    trailer_bytes_ += s.size() + 2;
    if (trailers_.size() >= limits_.max_trailers) return fail("too many trailer fields");
    // RFC 9112 §5.2: a line starting with whitespace is obs-fold, rejected.
    const std::size_t name_end = skip_token(s, 0);
    if (name_end == 0 || name_end >= s.size() || s[name_end] != ':') {
        return fail("invalid trailer field");
    }
    const std::string_view value = trim_ows(s.substr(name_end + 1));
    for (const char c : value) {
        if (!is_field_value_char(c)) return fail("invalid trailer value");
    }
    try {
        trailers_.emplace_back(std::string(s.substr(0, name_end)), std::string(value));
    } catch (...) {
        fail("out of memory");
    }
}

}  // namespace vstream::test
