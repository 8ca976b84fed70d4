#include "http/chunk_line_scanner.hpp"

#include "http/token.hpp"

namespace vstream::http {

namespace {

// RFC 9110 §5.6.4 qdtext: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text.
bool is_qdtext(char ch) noexcept {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}

// RFC 9110 §5.6.4 quoted-pair: "\" ( HTAB / SP / VCHAR / obs-text ).
bool is_quotable(char ch) noexcept {
    const auto c = static_cast<unsigned char>(ch);
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

constexpr const char* kBadExtension = "malformed chunk extension";

}  // namespace

ChunkLineScanner::Run ChunkLineScanner::next(const char* data, std::size_t len) noexcept {
    Run run;
    for (std::size_t i = 0; i < len; ++i) {
        const char c = data[i];
        State to = state_;
        bool pass = false;
        const char* problem = nullptr;
        if (c == '\n') {
            if (state_ == State::cr) {
                to = State::done;
                pass = true;
            } else {
                problem = "bare LF in a chunk-size line";
            }
        } else if (state_ == State::cr) {
            problem = "bare CR in a chunk-size line";
        } else if (c == '\r') {
            switch (state_) {
                case State::size:
                case State::name:
                case State::token_value:
                case State::quoted_end:
                    to = State::cr;
                    pass = true;
                    break;
                case State::size_start: problem = "invalid chunk size"; break;
                case State::ext_bws:
                case State::name_bws:
                    // chunk-ext has BWS only before ';' and around '=': "5 CRLF" is invalid.
                    problem = "whitespace at the end of a chunk-size line";
                    break;
                default: problem = kBadExtension; break;
            }
        } else {
            switch (state_) {
                case State::size_start:
                case State::size:
                    if (hex_digit_value(c) >= 0) {
                        to = State::size;
                        pass = true;
                    } else if (state_ == State::size_start) {
                        problem = "invalid chunk size";  // RFC 9112 §7.1: 1*HEXDIG
                    } else if (c == ';') {
                        to = State::name_start;
                    } else if (is_ows(c)) {
                        to = State::ext_bws;
                    } else {
                        problem = "invalid character in chunk size";
                    }
                    break;
                case State::ext_bws:
                    if (c == ';') {
                        to = State::name_start;
                    } else if (!is_ows(c)) {
                        problem = kBadExtension;
                    }
                    break;
                case State::name_start:
                    if (is_tchar(c)) {
                        to = State::name;
                    } else if (!is_ows(c)) {
                        problem = kBadExtension;
                    }
                    break;
                case State::name:
                case State::name_bws:
                    if (c == '=') {
                        to = State::value_start;
                    } else if (c == ';') {
                        to = State::name_start;
                    } else if (is_ows(c)) {
                        to = State::name_bws;
                    } else if (state_ == State::name_bws || !is_tchar(c)) {
                        problem = kBadExtension;
                    }
                    break;
                case State::value_start:
                    if (c == '"') {
                        to = State::quoted_value;
                    } else if (is_tchar(c)) {
                        to = State::token_value;
                    } else if (!is_ows(c)) {
                        problem = kBadExtension;
                    }
                    break;
                case State::token_value:
                case State::quoted_end:
                    if (c == ';') {
                        to = State::name_start;
                    } else if (is_ows(c)) {
                        to = State::ext_bws;
                    } else if (state_ == State::quoted_end || !is_tchar(c)) {
                        problem = kBadExtension;
                    }
                    break;
                case State::quoted_value:
                    if (c == '"') {
                        to = State::quoted_end;
                    } else if (c == '\\') {
                        to = State::quoted_pair;
                    } else if (!is_qdtext(c)) {
                        problem = kBadExtension;
                    }
                    break;
                case State::quoted_pair:
                    if (is_quotable(c)) {
                        to = State::quoted_value;
                    } else {
                        problem = kBadExtension;
                    }
                    break;
                case State::cr:
                case State::done:
                    problem = "chunk-size line read past its end";  // reset() was not called
                    break;
            }
        }
        if (problem != nullptr) {
            run.status = 400;
            run.reason = problem;
            return run;
        }
        if (i > 0 && pass != run.pass) return run;  // the byte starts the next run
        if (to != State::cr && to != State::done && ++line_bytes_ > max_line_) {
            // Extensions are not kept, but reading them without end would let one request
            // hold a connection forever; Node.js answers 413 to the same (16 KiB there).
            run.status = 413;
            run.reason = "chunk-size line too long";
            return run;
        }
        run.pass = pass;
        run.length = i + 1;
        state_ = to;
        if (to == State::done) {
            run.line_end = true;
            return run;
        }
    }
    return run;
}

}  // namespace vstream::http
