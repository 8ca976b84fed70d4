#pragma once

#include <cstddef>
#include <cstdint>

namespace vstream::http {

/// A byte-level reader of one chunk-size line of a chunked request body (RFC 9112 §7.1):
///
///     chunk-size [ chunk-ext ] CRLF
///     chunk-ext     = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
///     chunk-ext-val = token / quoted-string
///
/// llhttp 8.1 refuses valid extensions even in strict mode: it allows no whitespace in them,
/// after a token value it swallows the ';' of the next extension (so `5;a=b;c=d` fails at
/// `c`, "Invalid character in chunk size"), and it refuses a quoted-pair. It also lets an
/// empty name or value through, and reads a line of any length. So the request parser hands
/// llhttp only the size's hex digits and the CRLF ("pass" runs), and this scanner checks the
/// extensions and skips them ("skip" runs): RFC 9112 §7.1.1 says a recipient ignores the
/// extensions it does not understand, and this server understands none. Nothing is
/// buffered; the line's length is capped instead. Whitespace after the size that no ';'
/// follows (`5 CRLF`) is refused: BWS is part of an extension. A bare CR or LF is refused
/// too (RFC 9112 §2.2).
class ChunkLineScanner {
public:
    /// The longest run of bytes at the start of the input that are all passed on, or all
    /// skipped; or the reason the line is refused.
    struct Run {
        std::size_t length = 0;        ///< bytes of the input this run covers
        bool pass = false;             ///< feed them to llhttp (true) or drop them (false)
        bool line_end = false;         ///< the run ends with the line's LF
        int status = 0;                ///< nonzero: the request is refused with this status
        const char* reason = nullptr;  ///< for status: a short, static description
    };

    /// `max_line`: the most bytes a line may hold before its CRLF (size and extensions).
    explicit ChunkLineScanner(std::size_t max_line) noexcept : max_line_(max_line) {}

    /// A new line starts with the next byte.
    void reset() noexcept {
        state_ = State::size_start;
        line_bytes_ = 0;
    }
    /// Reads the next run from `data` (len > 0), a continuation of what came before. After
    /// a run with line_end, call reset() before the next line.
    Run next(const char* data, std::size_t len) noexcept;

private:
    enum class State : std::uint8_t {
        size_start,    // no hex digit yet
        size,          // in the hex digits
        ext_bws,       // BWS after the size or an extension: only ';' may follow
        name_start,    // after ';', BWS then a token
        name,          // in an extension name
        name_bws,      // BWS after a name: '=' or ';' follows
        value_start,   // after '=', BWS then a token or a quoted-string
        token_value,   // in a token value
        quoted_value,  // in a quoted-string
        quoted_pair,   // after '\' in a quoted-string
        quoted_end,    // after the closing DQUOTE
        cr,            // after the CR that ends the line
        done,          // after the LF
    };

    std::size_t max_line_;
    std::size_t line_bytes_ = 0;  // bytes of the line before its CR
    State state_ = State::size_start;
};

}  // namespace vstream::http
