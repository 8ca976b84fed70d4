#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace vstream::http {

/// The boundary parameter of a multipart/form-data Content-Type value (RFC 7578, RFC 2046 §5.1.1:
/// 1-70 bchars, token or quoted-string form, case-insensitive media type and parameter name).
/// nullopt when the type is not multipart/form-data or the boundary is missing or invalid; also
/// when the value is not `type "/" subtype *( OWS ";" OWS [ parameter ] )` (RFC 9110 §8.3.1,
/// §5.6.6; BWS around "=" tolerated) or names the boundary twice. Throws only std::bad_alloc.
std::optional<std::string> multipart_boundary(std::string_view content_type);

struct MultipartLimits {
    std::size_t max_header_bytes = 8 * 1024;  // one part's header section; beyond: 400
    std::size_t max_parts = 64;               // parts in the body; beyond: 413
};

/// One part's head, from its Content-Disposition and Content-Type fields.
struct PartHead {
    std::string name;  // form field name (required; a part without it is 400)
    // filename*=UTF-8''... (RFC 8187, percent-decoded; preferred) or filename="..." (quoted-string
    // unescaped); present (maybe empty) only for file parts. Not sanitised (files/upload_name
    // does that), but never holds a NUL.
    std::optional<std::string> filename;
    std::string content_type;  // "" when absent
};

/// What a MultipartParser reports, in body order: for each part on_part_begin, zero or more
/// on_part_data, then on_part_end. Once a callback returns nonzero or the parser fails, no further
/// callback is made (a begun part then gets no on_part_end). Callbacks should not throw: an
/// exception other than std::bad_alloc is caught and stops the parser with 500.
class MultipartEvents {
public:
    /// Each returns 0 to go on, or an HTTP status (e.g. 413, 507) that stops the parser with that
    /// status.
    virtual int on_part_begin(const PartHead& head) = 0;
    /// Never empty; never contains delimiter bytes. Valid only during the call.
    virtual int on_part_data(std::string_view data) = 0;
    virtual int on_part_end() = 0;

protected:
    ~MultipartEvents() = default;
};

/// A streaming parser of a multipart/form-data body (RFC 7578, RFC 2046 §5.1.1), strict: the
/// preamble and epilogue are skipped, a delimiter is CRLF "--" boundary then transport padding and
/// CRLF (or "--" to close), and "CRLF--boundary" followed by anything else is malformed. Part
/// headers are `token ":" OWS value OWS` lines ending in CRLF (no bare LF or CR, no obs-fold);
/// Content-Disposition and Content-Type may each appear once, other fields are ignored (RFC 7578
/// §4.8). max_header_bytes counts from after the delimiter line through the empty line's CRLF.
/// Part data is handed out as views into the fed bytes; at most boundary length + 3 bytes (a
/// possible delimiter start) are held back between feeds, and handed out later as a view of the
/// delimiter itself if they prove to be data. Errors are sticky. Not thread-safe; throws only
/// std::bad_alloc (the parser is then failed with 500).
class MultipartParser {
public:
    struct Result {
        enum class Kind { more, done, error };
        Kind kind = Kind::more;
        // For error: 400 (malformed), 413 (too many parts), or what a callback returned (500 if
        // one threw).
        int status = 0;
        // For error: short static description, e.g. "multipart body truncated".
        std::string_view reason;
    };
    /// `boundary` as multipart_boundary() returns it (an invalid one makes every feed a 400);
    /// `events` must outlive the parser.
    MultipartParser(std::string boundary, MultipartEvents& events, MultipartLimits limits = {});
    /// Parses the next bytes of the body; any split of the body into feed() calls gives the same
    /// events (byte-for-byte the same concatenated data per part). After done or error, further
    /// feeds return the same result (bytes after the close delimiter — the epilogue — are
    /// ignored).
    Result feed(std::string_view data);
    /// The body ended: error 400 "multipart body truncated" unless the close delimiter was seen;
    /// done otherwise.
    Result finish();
    bool done() const noexcept;
    /// Parts begun so far (counted at their delimiter, before their headers are read).
    std::size_t parts() const noexcept { return parts_; }

private:
    enum class State {
        preamble,        // before the first delimiter: searching, nothing emitted
        data,            // in a part's data: searching, data emitted
        after_boundary,  // "CRLF--boundary" matched: padding, CRLF or "--" must follow
        close_dash,      // "CRLF--boundary-" matched: the second "-" must follow
        padding,         // transport padding (SP / HTAB) before the delimiter line's CRLF
        delimiter_lf,    // the delimiter line's CR seen: LF must follow
        headers,         // a part's header section
        done,
        failed,
    };

    void search(std::string_view in, std::size_t& pos);
    void delimiter_byte(char c);
    std::size_t header_bytes(std::string_view in);
    void header_line();
    void headers_end();
    bool emit(std::string_view data);
    bool call(std::optional<int> status);  // a callback's outcome: false if it stops the parser
    void fail(int status, std::string_view reason) noexcept;
    Result result() const noexcept;

    std::string delim_;  // "\r\n--" boundary: its only CR is the first byte
    MultipartEvents& events_;
    MultipartLimits limits_;
    State state_ = State::preamble;
    std::size_t match_ = 2;  // bytes of delim_ matched (held back); the body start counts as CRLF
    bool in_part_ = false;   // a part has begun and not yet ended
    std::size_t parts_ = 0;
    std::size_t header_bytes_ = 0;  // of the current part's header section
    bool saw_cr_ = false;           // in headers: the line's CR was the last byte
    std::string line_;              // the header line being gathered (without its CRLF)
    std::optional<std::string> disposition_;
    std::optional<std::string> content_type_;
    int status_ = 0;
    std::string_view reason_;
};

}  // namespace vstream::http
