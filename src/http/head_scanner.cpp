#include "http/head_scanner.hpp"

#include "http/token.hpp"

namespace vstream::http {

namespace {

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

const char* HeadScanner::end_of_line() noexcept {
    if (state_ == State::request_line) {
        // RFC 9112 §3: method SP request-target SP HTTP-version, nothing more.
        if (spaces_ != 2 || version_overflow_ || version_len_ != 8) return "malformed request line";
        const char* v = version_;
        if (v[0] != 'H' || v[1] != 'T' || v[2] != 'T' || v[3] != 'P' || v[4] != '/' ||
            !is_digit(v[5]) || v[6] != '.' || !is_digit(v[7])) {
            return "malformed HTTP version";
        }
        seen_request_line_ = true;
        state_ = State::line_start;
        return nullptr;
    }
    if (state_ == State::line_start) {
        // An empty line: before the request line it is tolerated (RFC 9112 §2.2); after it,
        // it ends the head.
        if (seen_request_line_) state_ = State::done;
        return nullptr;
    }
    state_ = State::line_start;  // end of a header line
    return nullptr;
}

std::size_t HeadScanner::skip_plain(const char* data, std::size_t i,
                                    std::size_t len) const noexcept {
    // Most of a head is field values and the target, where only line ends (and, in the
    // target, the SP before the version) matter: a tight loop over them instead of the
    // state machine.
    if (cr_) return i;
    if (state_ == State::header_line) {
        while (i < len && data[i] != '\r' && data[i] != '\n') ++i;
    } else if (state_ == State::request_line && spaces_ == 1) {
        while (i < len && data[i] != '\r' && data[i] != '\n' && data[i] != ' ' && data[i] != '\t')
            ++i;
    }
    return i;
}

const char* HeadScanner::scan(const char* data, std::size_t len) noexcept {
    for (std::size_t i = 0; i < len && state_ != State::done; ++i) {
        i = skip_plain(data, i, len);
        if (i == len) break;
        const char c = data[i];
        if (cr_) {
            if (c != '\n') return "bare CR in the request head";
            cr_ = false;
            if (const char* problem = end_of_line()) return problem;
            continue;
        }
        if (c == '\r') {
            cr_ = true;
            continue;
        }
        if (c == '\n') return "bare LF in the request head";
        switch (state_) {
            case State::line_start:
                if (!seen_request_line_) {
                    state_ = State::request_line;
                    if (c == ' ' || c == '\t') return "malformed request line";
                    ++method_len_;
                    method_ok_ = is_tchar(c);
                    break;
                }
                if (c == ' ' || c == '\t') return "obsolete line folding in a header";
                if (c == ':') return "empty header field name";
                state_ = State::header_line;
                break;
            case State::request_line:
                if (c == '\t') return "malformed request line";
                if (c == ' ') {
                    if (++spaces_ > 2) return "malformed request line";
                } else if (spaces_ == 0) {
                    ++method_len_;
                    method_ok_ = method_ok_ && is_tchar(c);
                } else if (spaces_ == 2) {
                    if (version_len_ < sizeof version_) {
                        version_[version_len_++] = c;
                    } else {
                        version_overflow_ = true;
                    }
                }
                break;
            case State::header_line:
            case State::done: break;
        }
    }
    return nullptr;
}

}  // namespace vstream::http
