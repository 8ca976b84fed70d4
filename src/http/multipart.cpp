#include "http/multipart.hpp"

#include <vstream/headers.hpp>

#include "http/token.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

namespace vstream::http {

namespace {

constexpr std::size_t kMaxBoundary = 70;  // RFC 2046 §5.1.1

// RFC 2046 §5.1.1: bchars := bcharsnospace / " ".
bool is_bchar(char c) noexcept {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    switch (c) {
        case '\'':
        case '(':
        case ')':
        case '+':
        case '_':
        case ',':
        case '-':
        case '.':
        case '/':
        case ':':
        case '=':
        case '?':
        case ' ': return true;
        default: return false;
    }
}

// RFC 2046 §5.1.1: boundary := 0*69<bchars> bcharsnospace. Being bchars also guarantees that the
// delimiter holds a single CR, which the search relies on.
bool valid_boundary(std::string_view b) noexcept {
    if (b.empty() || b.size() > kMaxBoundary || b.back() == ' ') return false;
    return std::all_of(b.begin(), b.end(), is_bchar);
}

// RFC 8187 §3.2.1 attr-char: a token character other than "*", "'" and "%".
bool is_attr_char(char c) noexcept { return is_tchar(c) && c != '*' && c != '\'' && c != '%'; }

struct Param {
    std::string_view name;
    std::string value;    // unquoted
    bool quoted = false;  // the value was a quoted-string
};

// RFC 9110 §5.6.4 quoted-string starting at s[i] == '"': appends its content, quoted-pairs
// unescaped, to `out`; returns the index after the closing quote, or npos.
std::size_t read_quoted(std::string_view s, std::size_t i, std::string& out) {
    for (++i; i < s.size(); ++i) {
        char c = s[i];
        if (c == '"') return i + 1;
        if (c == '\\') {
            if (++i >= s.size()) return std::string_view::npos;
            c = s[i];
        }
        if (!is_field_value_char(c)) return std::string_view::npos;
        out.push_back(c);
    }
    return std::string_view::npos;
}

// parameters = *( OWS ";" OWS [ parameter ] ), parameter = token "=" ( token / quoted-string )
// (RFC 9110 §5.6.6), with BWS around "=" as RFC 6266 §4.1's implied LWS allows. Calls
// on_param(Param&) for each; false on a syntax error or when on_param returns false.
template <class OnParam>
bool parse_params(std::string_view s, OnParam&& on_param) {
    Param p;
    std::size_t i = 0;
    while (true) {
        i = skip_ows(s, i);
        if (i == s.size()) return true;
        if (s[i] != ';') return false;
        i = skip_ows(s, i + 1);
        if (i == s.size() || s[i] == ';') continue;  // an empty parameter
        const std::size_t name_end = skip_token(s, i);
        if (name_end == i) return false;
        p.name = s.substr(i, name_end - i);
        i = skip_ows(s, name_end);
        if (i == s.size() || s[i] != '=') return false;
        i = skip_ows(s, i + 1);
        p.value.clear();
        p.quoted = i < s.size() && s[i] == '"';
        if (p.quoted) {
            i = read_quoted(s, i, p.value);
            if (i == std::string_view::npos) return false;
        } else {
            const std::size_t end = skip_token(s, i);
            if (end == i) return false;
            p.value.assign(s.substr(i, end - i));
            i = end;
        }
        if (!on_param(p)) return false;
    }
}

// RFC 8187 §3.2.1 ext-value = charset "'" [ language ] "'" value-chars, value-chars
// percent-decoded into `out`. Only charset UTF-8 is taken: RFC 7578 §4.2 tells senders not to use
// filename* at all, so it comes only from clients that follow RFC 6266, and those send UTF-8
// (ISO-8859-1, which RFC 8187 also allows, falls back to filename). The bytes are not checked as
// UTF-8: the upload name sanitiser judges the decoded name.
bool decode_ext_value(std::string_view v, std::string& out) {
    const std::size_t q1 = v.find('\'');
    if (q1 == std::string_view::npos || !iequals(v.substr(0, q1), "utf-8")) return false;
    const std::size_t q2 = v.find('\'', q1 + 1);
    if (q2 == std::string_view::npos) return false;
    for (std::size_t i = q1 + 1; i < q2; ++i) {  // language: a BCP 47 tag, ignored
        const char c = v[i];
        if (!(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z'))) {
            return false;
        }
    }
    for (std::size_t i = q2 + 1; i < v.size(); ++i) {
        const char c = v[i];
        if (c == '%') {
            if (v.size() - i < 3) return false;
            const int hi = hex_digit_value(v[i + 1]);
            const int lo = hex_digit_value(v[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (is_attr_char(c)) {
            out.push_back(c);
        } else {
            return false;
        }
    }
    return true;
}

// Fills `head` from a Content-Disposition value: "form-data" with a name (RFC 7578 §4.2), a
// filename from filename* (RFC 8187, preferred as RFC 6266 §4.3 says) or filename. Returns why it
// is invalid, or "".
std::string_view parse_disposition(std::string_view v, PartHead& head) {
    const std::size_t type_end = skip_token(v, 0);
    if (!iequals(v.substr(0, type_end), "form-data")) return "Content-Disposition not form-data";
    bool has_name = false;
    bool has_ext = false;
    std::optional<std::string> plain;
    std::optional<std::string> ext;  // a valid filename*
    // A parameter given twice is ambiguous (two parsers may pick different ones): malformed.
    const bool ok = parse_params(v.substr(type_end), [&](Param& p) {
        if (iequals(p.name, "name")) {
            if (has_name) return false;
            has_name = true;
            head.name = std::move(p.value);
        } else if (iequals(p.name, "filename")) {
            if (plain) return false;
            plain = std::move(p.value);
        } else if (iequals(p.name, "filename*")) {
            if (has_ext) return false;
            has_ext = true;
            std::string decoded;
            // RFC 8187 §3.2.1: an ext-value is never quoted.
            if (!p.quoted && decode_ext_value(p.value, decoded)) ext = std::move(decoded);
        }
        return true;  // RFC 7578 §4.2: other parameters (name* included) are not used
    });
    if (!ok) return "invalid Content-Disposition";
    if (!has_name) return "part without a name";
    if (ext) {
        head.filename = std::move(ext);
    } else if (plain) {
        head.filename = std::move(plain);  // also the fallback for an invalid filename*
    } else if (has_ext) {
        return "invalid filename*";
    }
    // A NUL can come only from a percent-escape; no file system takes it, and C callers would
    // see a shorter name than was checked.
    if (head.filename && head.filename->find('\0') != std::string::npos) {
        return "NUL in filename";
    }
    return {};
}

// Whether a[0, n) == b[0, n). A byte loop rather than memcmp: survivors can come every few
// bytes, and most fail at once. The bytes a survivor matches hold no CR but its first, so no
// other survivor starts among them: the comparisons of a whole scan add up to about one a byte.
bool matches(const char* a, const char* b, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return false;
    }
    return true;
}

// The first whole `delim` (CRLF "--" boundary, at least 5 bytes) in [p, end), or nullptr.
// Sixteen candidate positions at a time keep only those with CR, LF and the delimiter's last byte
// in place (the filter of SIMD substring search, written with GCC vector extensions, which clang
// also has and which lower to SSE2 or NEON); each survivor is then compared. memchr on CR alone
// would stop at every byte of a body of CRs (about 0.1 GB/s), an upload a client may send on
// purpose; here no data pattern brings the scan much below 1 GB/s (several GB/s on real data).
const char* find_delimiter(const char* p, const char* end, std::string_view delim) noexcept {
    using Bytes = unsigned char __attribute__((vector_size(16)));
    const std::size_t m = delim.size();
    const auto last = static_cast<unsigned char>(delim.back());
    auto load = [](const char* at) {
        Bytes v;
        std::memcpy(&v, at, sizeof v);
        return v;
    };
    // Windows p .. p + 15 all fit when p + 15 + m <= end.
    for (; static_cast<std::size_t>(end - p) >= m + 15; p += 16) {
        const auto hits = (load(p) == '\r') & (load(p + 1) == '\n') & (load(p + m - 1) == last);
        std::uint64_t words[2];
        std::memcpy(words, &hits, sizeof words);
        for (std::size_t half = 0; half < 2; ++half) {
            // Each hit is a 0xff byte; take them in address order.
            for (std::uint64_t w = words[half]; w != 0;) {
                const int bit = std::endian::native == std::endian::little ? std::countr_zero(w)
                                                                           : std::countl_zero(w);
                const int byte = bit / 8;
                const char* const at = p + half * 8 + static_cast<std::size_t>(byte);
                if (matches(at + 2, delim.data() + 2, m - 3)) return at;
                w &= ~(std::uint64_t{0xff}
                       << (std::endian::native == std::endian::little ? 8 * byte : 56 - 8 * byte));
            }
        }
    }
    for (; static_cast<std::size_t>(end - p) >= m; ++p) {
        if (*p == '\r' && std::memcmp(p, delim.data(), m) == 0) return p;
    }
    return nullptr;
}

// Runs a callback: its status, or nullopt if it threw. std::bad_alloc propagates.
template <class F>
std::optional<int> guarded(F&& f) {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        throw;
    } catch (...) {
        return std::nullopt;
    }
}

}  // namespace

std::optional<std::string> multipart_boundary(std::string_view content_type) {
    // RFC 9110 §8.3.1: media-type = type "/" subtype parameters, case-insensitive.
    const std::string_view s = trim_ows(content_type);
    const std::size_t type_end = skip_token(s, 0);
    if (type_end == 0 || type_end == s.size() || s[type_end] != '/') return std::nullopt;
    const std::size_t subtype_end = skip_token(s, type_end + 1);
    if (!iequals(s.substr(0, subtype_end), "multipart/form-data")) return std::nullopt;
    std::optional<std::string> boundary;
    const bool ok = parse_params(s.substr(subtype_end), [&](Param& p) {
        if (!iequals(p.name, "boundary")) return true;
        if (boundary) return false;  // twice: ambiguous
        boundary = std::move(p.value);
        return true;
    });
    if (!ok || !boundary || !valid_boundary(*boundary)) return std::nullopt;
    return boundary;
}

MultipartParser::MultipartParser(std::string boundary, MultipartEvents& events,
                                 MultipartLimits limits)
    : events_(events), limits_(limits) {
    if (!valid_boundary(boundary)) {
        fail(400, "invalid multipart boundary");
        return;
    }
    delim_.reserve(4 + boundary.size());
    delim_.append("\r\n--").append(boundary);
}

MultipartParser::Result MultipartParser::feed(std::string_view data) {
    try {
        std::size_t pos = 0;
        while (pos < data.size()) {
            switch (state_) {
                case State::preamble:
                case State::data: search(data, pos); break;
                case State::after_boundary:
                case State::close_dash:
                case State::padding:
                case State::delimiter_lf: delimiter_byte(data[pos++]); break;
                case State::headers: pos += header_bytes(data.substr(pos)); break;
                case State::done:    // RFC 2046 §5.1.1: the epilogue is ignored
                case State::failed:  // sticky
                    return result();
            }
        }
    } catch (const std::bad_alloc&) {
        fail(500, "out of memory");
        throw;
    }
    return result();
}

MultipartParser::Result MultipartParser::finish() {
    if (state_ != State::done && state_ != State::failed) fail(400, "multipart body truncated");
    return result();
}

bool MultipartParser::done() const noexcept { return state_ == State::done; }

// Finds the next delimiter in the preamble or a part's data, emitting the data before it. The
// delimiter's only CR is its first byte (bchars hold none), so a delimiter can start only at a CR,
// and a possible delimiter cut by the end of the input starts at the last CR.
void MultipartParser::search(std::string_view in, std::size_t& pos) {
    const bool emitting = state_ == State::data;
    if (match_ > 0) {
        // The last feed ended inside a possible delimiter (or this is the body start, which
        // counts as its CRLF: RFC 2046 §5.1.1 lets the first delimiter open the body).
        std::size_t i = pos;
        while (i < in.size() && match_ < delim_.size() && in[i] == delim_[match_]) {
            ++i;
            ++match_;
        }
        pos = i;
        if (match_ == delim_.size()) {
            match_ = 0;
            state_ = State::after_boundary;
            return;
        }
        if (i == in.size()) return;  // still possible: hold on
        // Not a delimiter: the bytes held back (equal to the delimiter's start) are data, and
        // the search goes on at the mismatching byte.
        const std::size_t held = match_;
        match_ = 0;
        if (emitting) emit(std::string_view(delim_).substr(0, held));
        return;
    }
    const char* const end = in.data() + in.size();
    const char* const start = in.data() + pos;
    if (const char* const found = find_delimiter(start, end, delim_)) {
        pos = static_cast<std::size_t>(found + delim_.size() - in.data());
        state_ = State::after_boundary;
        if (emitting && found != start) emit({start, static_cast<std::size_t>(found - start)});
        return;
    }
    pos = in.size();
    // The input may end inside a delimiter: then at its last CR, with fewer than delim_.size()
    // bytes after it. Those bytes are held back (they are delim_'s start: match_ says how many).
    const char* held = end;
    const char* const tail =
        end - std::min(static_cast<std::size_t>(end - start), delim_.size() - 1);
    for (const char* c = end; c != tail;) {
        if (*--c == '\r') {
            if (std::memcmp(c, delim_.data(), static_cast<std::size_t>(end - c)) == 0) {
                held = c;
                match_ = static_cast<std::size_t>(end - c);
            }
            break;
        }
    }
    if (emitting && held != start) emit({start, static_cast<std::size_t>(held - start)});
}

// RFC 2046 §5.1.1: after the boundary, transport-padding CRLF opens a part, "--" closes the
// body. The boundary must not occur in data, so anything else is malformed, not data.
void MultipartParser::delimiter_byte(char c) {
    switch (state_) {
        case State::after_boundary:
            if (c == '-') {
                state_ = State::close_dash;
            } else if (is_ows(c)) {
                state_ = State::padding;
            } else if (c == '\r') {
                state_ = State::delimiter_lf;
            } else {
                fail(400, "boundary not followed by CRLF or \"--\"");
            }
            return;
        case State::close_dash:
            if (c != '-') return fail(400, "boundary not followed by CRLF or \"--\"");
            state_ = State::done;
            if (in_part_) {
                in_part_ = false;
                call(guarded([&] { return events_.on_part_end(); }));
            }
            return;
        case State::padding:
            if (c == '\r') {
                state_ = State::delimiter_lf;
            } else if (!is_ows(c)) {
                fail(400, "invalid transport padding");
            }
            return;
        case State::delimiter_lf:
            if (c != '\n') return fail(400, "bare CR after a boundary");
            if (in_part_) {
                in_part_ = false;
                if (!call(guarded([&] { return events_.on_part_end(); }))) return;
            }
            if (parts_ >= limits_.max_parts) return fail(413, "too many parts");
            ++parts_;
            state_ = State::headers;
            header_bytes_ = 0;
            saw_cr_ = false;
            line_.clear();
            disposition_.reset();
            content_type_.reset();
            return;
        case State::preamble:
        case State::data:
        case State::headers:
        case State::done:
        case State::failed: return;  // not reached: feed() handles these
    }
}

// Consumes header-section bytes; returns how many. Lines are gathered in line_.
std::size_t MultipartParser::header_bytes(std::string_view in) {
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (++header_bytes_ > limits_.max_header_bytes) {
            fail(400, "part headers too large");
            return i + 1;
        }
        if (saw_cr_) {
            saw_cr_ = false;
            if (c != '\n') {
                fail(400, "bare CR in part headers");
                return i + 1;
            }
            if (line_.empty()) {
                headers_end();
                return i + 1;
            }
            header_line();
            line_.clear();
            if (state_ == State::failed) return i + 1;
            continue;
        }
        if (c == '\r') {
            saw_cr_ = true;
        } else if (c == '\n') {
            fail(400, "bare LF in part headers");  // RFC 9112 §2.2: a smuggling vector
            return i + 1;
        } else {
            line_.push_back(c);
        }
    }
    return in.size();
}

void MultipartParser::header_line() {
    const std::string_view s = line_;
    // RFC 9112 §5.2: a line starting with whitespace is obs-fold, rejected.
    if (is_ows(s[0])) return fail(400, "obs-fold in part headers");
    const std::size_t colon = s.find(':');
    if (colon == std::string_view::npos || !is_token(s.substr(0, colon))) {
        return fail(400, "invalid part header");
    }
    const std::string_view value = trim_ows(s.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), is_field_value_char)) {
        return fail(400, "invalid part header");  // NUL, CR and other controls
    }
    const std::string_view name = s.substr(0, colon);
    std::optional<std::string>* field = nullptr;
    if (iequals(name, "content-disposition")) {
        field = &disposition_;
    } else if (iequals(name, "content-type")) {
        field = &content_type_;
    } else {
        return;  // RFC 7578 §4.8: other fields are ignored
    }
    if (field->has_value()) return fail(400, "duplicate part header");
    field->emplace(value);
}

void MultipartParser::headers_end() {
    // RFC 7578 §4.2: each part has a Content-Disposition of type form-data, with a name.
    if (!disposition_) return fail(400, "part without Content-Disposition");
    PartHead head;
    const std::string_view why = parse_disposition(*disposition_, head);
    if (!why.empty()) return fail(400, why);
    if (content_type_) head.content_type = std::move(*content_type_);
    state_ = State::data;
    in_part_ = true;
    call(guarded([&] { return events_.on_part_begin(head); }));
}

bool MultipartParser::emit(std::string_view data) {
    return call(guarded([&] { return events_.on_part_data(data); }));
}

bool MultipartParser::call(std::optional<int> status) {
    if (!status) {
        fail(500, "part callback threw");
        return false;
    }
    if (*status != 0) {
        fail(*status, "stopped by a part callback");
        return false;
    }
    return true;
}

void MultipartParser::fail(int status, std::string_view reason) noexcept {
    state_ = State::failed;
    status_ = status;
    reason_ = reason;
}

MultipartParser::Result MultipartParser::result() const noexcept {
    switch (state_) {
        case State::done: return {Result::Kind::done, 0, {}};
        case State::failed: return {Result::Kind::error, status_, reason_};
        default: return {};
    }
}

}  // namespace vstream::http
