// libFuzzer target for the chunk-size line scanner (http/chunk_line_scanner), which reads the
// untrusted chunk-size lines of a chunked request body, extensions included (RFC 9112 §7.1.1).
//
// Input: byte 0 chooses the line cap, byte 1 seeds the split points, the rest is the text. The
// text is read as a sequence of lines (reset() after each LF) until a refusal or its end, three
// times: whole, byte by byte, and in pieces of the lengths the seed chooses. Each piece is a heap
// copy of exactly its length, so a read past the length given is an AddressSanitizer report.
// Checks:
//  - a run never covers more than it was given, a run without a refusal covers at least a byte,
//    a refusal has a reason and is 400 or 413, and a run stops early only at the line's LF or
//    where the next byte goes the other way (passed/dropped);
//  - the three readings agree line by line: the same bytes passed and dropped, the same line
//    ends, the same refusals (status and reason);
//  - against a separate reading of the grammar (chunk-size *(BWS ";" BWS name [BWS "=" BWS
//    value]) CRLF): a line is accepted exactly when it matches and fits the cap; what is passed
//    on is the size's hex digits and the CRLF; a 413 comes only after more than the cap.
#include "http/chunk_line_scanner.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using vstream::http::ChunkLineScanner;

namespace {

// --- The grammar, read over a whole line, without the scanner's states ---------------------

bool is_hexdig(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_tchar(char c) {
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
    return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_ws(char c) { return c == ' ' || c == '\t'; }

// RFC 9110 §5.6.4.
bool is_qdtext(unsigned char c) {
    return c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5b) ||
           (c >= 0x5d && c <= 0x7e) || c >= 0x80;
}
bool is_quotable(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

// Whether `line` (up to and including its LF) is a valid chunk-size line.
bool grammar_accepts(std::string_view line) {
    if (line.size() < 2 || line.substr(line.size() - 2) != "\r\n") return false;
    const std::string_view s = line.substr(0, line.size() - 2);
    std::size_t i = 0;
    auto ws = [&] {
        while (i < s.size() && is_ws(s[i])) ++i;
    };
    auto token = [&] {
        const std::size_t start = i;
        while (i < s.size() && is_tchar(s[i])) ++i;
        return i > start;
    };
    auto quoted = [&] {
        if (i >= s.size() || s[i] != '"') return false;
        for (++i; i < s.size(); ++i) {
            const auto c = static_cast<unsigned char>(s[i]);
            if (c == '"') {
                ++i;
                return true;
            }
            if (c == '\\') {
                if (++i >= s.size() || !is_quotable(static_cast<unsigned char>(s[i]))) {
                    return false;
                }
            } else if (!is_qdtext(c)) {
                return false;
            }
        }
        return false;
    };
    const std::size_t size_start = i;
    while (i < s.size() && is_hexdig(s[i])) ++i;
    if (i == size_start) return false;
    while (i < s.size()) {
        ws();
        if (i >= s.size() || s[i] != ';') return false;
        ++i;
        ws();
        if (!token()) return false;
        const std::size_t after_name = i;
        ws();
        if (i < s.size() && s[i] == '=') {
            ++i;
            ws();
            if (!(token() || quoted())) return false;
        } else {
            i = after_name;  // the BWS belongs to the next ";" (or is refused at the end)
        }
    }
    return true;
}

// --- Reading the text through the scanner --------------------------------------------------

struct Line {
    std::size_t start = 0;  // where the line starts in the text
    std::string passed;     // bytes handed on
    std::string skipped;    // bytes dropped
    bool line_end = false;  // ended at its LF
    int status = 0;         // nonzero: refused
    const char* reason = nullptr;
};

// Splits the text into piece lengths: all at once (mode 0), a byte at a time (mode 1), or
// lengths from a small generator seeded by the input (mode 2).
std::vector<std::size_t> pieces(std::size_t size, int mode, std::uint8_t seed) {
    std::vector<std::size_t> out;
    std::uint32_t state = 0x9e3779b9u ^ (seed * 0x01000193u);
    for (std::size_t pos = 0; pos < size;) {
        std::size_t n = size - pos;
        if (mode == 1) {
            n = 1;
        } else if (mode == 2) {
            state = state * 1664525u + 1013904223u;
            const std::uint32_t r = state >> 24;
            if (r % 16 != 0) n = std::min<std::size_t>(n, 1 + r % 9);
        }
        out.push_back(n);
        pos += n;
    }
    return out;
}

std::vector<Line> read_lines(std::string_view text, std::size_t max_line,
                             const std::vector<std::size_t>& piece_lengths) {
    ChunkLineScanner scanner(max_line);
    std::vector<Line> lines(1);
    std::size_t pos = 0;
    for (const std::size_t n : piece_lengths) {
        // A copy of exactly n bytes: reading past it is a heap-buffer-overflow.
        const std::unique_ptr<char[]> piece(new char[n]);
        std::memcpy(piece.get(), text.data() + pos, n);
        std::size_t at = 0;
        bool last_pass = false;
        bool run_ended_early = false;
        while (at < n) {
            const ChunkLineScanner::Run r = scanner.next(piece.get() + at, n - at);
            if (r.length > n - at) __builtin_trap();
            Line& line = lines.back();
            if (r.status != 0) {
                if (r.reason == nullptr || (r.status != 400 && r.status != 413)) {
                    __builtin_trap();
                }
                line.status = r.status;
                line.reason = r.reason;
                return lines;
            }
            if (r.reason != nullptr || r.length == 0) __builtin_trap();
            // The run before this one stopped short of the piece's end without an LF, so
            // this byte must go the other way.
            if (run_ended_early && r.pass == last_pass) __builtin_trap();
            (r.pass ? line.passed : line.skipped).append(piece.get() + at, r.length);
            at += r.length;
            last_pass = r.pass;
            run_ended_early = !r.line_end && at < n;
            if (r.line_end) {
                if (piece[at - 1] != '\n') __builtin_trap();
                line.line_end = true;
                scanner.reset();
                lines.push_back(Line{pos + at, {}, {}, false, 0, nullptr});
                last_pass = false;
            }
        }
        pos += n;
    }
    if (pos != text.size()) __builtin_trap();
    return lines;
}

bool same(const std::vector<Line>& a, const std::vector<Line>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const Line& x = a[i];
        const Line& y = b[i];
        if (x.start != y.start || x.status != y.status || x.line_end != y.line_end) return false;
        if (x.status != 0) {
            // A refusal stops the reading: the bytes read before it depend on the splits.
            if (std::strcmp(x.reason, y.reason) != 0) return false;
        } else if (x.passed != y.passed || x.skipped != y.skipped) {
            return false;
        }
    }
    return true;
}

// Each line of the whole reading against the grammar.
void check_grammar(std::string_view text, std::size_t max_line, const std::vector<Line>& lines) {
    for (const Line& line : lines) {
        const std::string_view rest = text.substr(line.start);
        const std::size_t lf = rest.find('\n');
        const bool complete = lf != std::string_view::npos;
        const std::string_view candidate = complete ? rest.substr(0, lf + 1) : rest;
        const bool fits = complete && lf <= max_line + 1;  // lf - 1 bytes before the CR
        const bool valid = complete && grammar_accepts(candidate) && fits;

        if (line.line_end != valid) __builtin_trap();
        if (line.line_end) {
            // Exactly the line, up to its LF; passed on: the size's hex digits and the CRLF.
            if (line.passed.size() + line.skipped.size() != candidate.size()) __builtin_trap();
            std::size_t digits = 0;
            while (digits < candidate.size() && is_hexdig(candidate[digits])) ++digits;
            if (line.passed != std::string(candidate.substr(0, digits)) + "\r\n") {
                __builtin_trap();
            }
        } else if (line.status == 0) {
            // Not refused and not ended: the text ran out, every byte of it was read.
            if (complete) __builtin_trap();
            if (line.passed.size() + line.skipped.size() != rest.size()) __builtin_trap();
        } else if (line.status == 413) {
            // Only once more than the cap was read, none of it a CR or LF.
            if (rest.size() <= max_line) __builtin_trap();
            if (rest.substr(0, max_line + 1).find_first_of("\r\n") != std::string_view::npos) {
                __builtin_trap();
            }
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    // 0..127 bytes, to reach the cap often, or 16 KiB (the server's kind of cap).
    const std::size_t max_line = data[0] < 0x80 ? data[0] : 16 * 1024;
    const std::uint8_t seed = data[1];
    const std::string_view text(reinterpret_cast<const char*>(data) + 2, size - 2);

    const std::vector<Line> whole = read_lines(text, max_line, pieces(text.size(), 0, seed));
    const std::vector<Line> bytes = read_lines(text, max_line, pieces(text.size(), 1, seed));
    const std::vector<Line> split = read_lines(text, max_line, pieces(text.size(), 2, seed));
    if (!same(whole, bytes) || !same(whole, split)) __builtin_trap();
    check_grammar(text, max_line, whole);
    return 0;
}
