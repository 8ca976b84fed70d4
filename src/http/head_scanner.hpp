#pragma once

#include <cstddef>
#include <cstdint>

namespace vstream::http {

/// A byte-level check of a request head's framing, run on the bytes before llhttp sees them,
/// for what llhttp 8 accepts even in strict mode and the RFC does not (RFC 9112 §2.2, §3,
/// §5): a bare LF or a bare CR as a line end, a request line other than
/// `method SP target SP HTTP/d.d`, a header line that starts with whitespace (obs-fold) or
/// with ':' (an empty field name). Each of those is a classic request smuggling lever
/// between parsers that disagree.
///
/// It follows one head at a time: after the blank line that ends a head it stops looking
/// (body bytes are llhttp's), until reset() at the end of the message.
class HeadScanner {
public:
    /// Checks `data`, a continuation of what came before. Returns a static reason for the
    /// first violation found (the request must be refused with 400), or nullptr.
    const char* scan(const char* data, std::size_t len) noexcept;
    /// The message is complete: the next byte starts a new request.
    void reset() noexcept { *this = HeadScanner{}; }
    /// A chunked body's last chunk has been read: what follows is a trailer section, header
    /// lines up to a blank line (RFC 9112 §7.1.2), held to the same rules as the head's.
    void start_trailers() noexcept {
        reset();
        seen_request_line_ = true;
    }
    /// Whether the request line's first token, as far as it has arrived, is a syntactically
    /// valid method (RFC 9110 §9.1: a token): an unknown method is then 501, not 400.
    bool method_is_token() const noexcept { return method_len_ > 0 && method_ok_; }
    /// True once the blank line ending the head has been seen.
    bool head_done() const noexcept { return state_ == State::done; }

private:
    enum class State : std::uint8_t {
        line_start,    // at the start of a line (request line or header line)
        request_line,  // inside the request line
        header_line,   // inside a header line
        done,          // past the blank line
    };
    const char* end_of_line() noexcept;
    /// The index of the first byte at or after `i` that the state machine must look at.
    std::size_t skip_plain(const char* data, std::size_t i, std::size_t len) const noexcept;

    State state_ = State::line_start;
    bool seen_request_line_ = false;
    bool cr_ = false;          // the previous byte was CR (an LF must follow)
    std::uint8_t spaces_ = 0;  // SP seen in the request line
    std::uint32_t method_len_ = 0;
    bool method_ok_ = true;  // every method byte so far is a tchar
    std::uint8_t version_len_ = 0;
    char version_[8] = {};  // the bytes after the second SP, "HTTP/1.1"
    bool version_overflow_ = false;
};

}  // namespace vstream::http
