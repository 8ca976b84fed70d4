#include "http/uri.hpp"

#include "http/token.hpp"

#include <cstring>

namespace vstream::http {

namespace {

// Reads the escape at in[i] == '%'; returns the byte or -1 when malformed.
int escape_at(std::string_view in, std::size_t i) noexcept {
    if (i + 2 >= in.size()) return -1;
    const int hi = hex_digit_value(in[i + 1]);
    const int lo = hex_digit_value(in[i + 2]);
    return (hi < 0 || lo < 0) ? -1 : hi * 16 + lo;
}

// Removes the last segment (and its '/') from out, never the leading '/'.
void pop_segment(std::string& out) {
    const std::size_t slash = out.rfind('/');
    out.resize(slash == std::string::npos ? 0 : slash);
}

}  // namespace

bool path_needs_normalizing(std::string_view raw) noexcept {
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const char c = raw[i];
        if (c == '%') return true;
        // A segment that is "." or ".." (a '.' right after a '/').
        if (c == '.' && i > 0 && raw[i - 1] == '/') {
            const std::size_t j = i + 1;
            if (j == raw.size() || raw[j] == '/') return true;
            if (raw[j] == '.' && (j + 1 == raw.size() || raw[j + 1] == '/')) return true;
        }
    }
    return false;
}

UriStatus normalize_path(std::string_view raw, std::string& out) {
    out.clear();
    if (raw.empty() || raw.front() != '/') return UriStatus::not_absolute;
    out.reserve(raw.size());
    // One pass, segment by segment (split on literal '/' only: an encoded %2F is data).
    // Each segment is decoded as it is copied (all but %2F and %25), then RFC 3986 §5.2.4
    // remove_dot_segments is applied to it, so "%2e%2e" climbs like "..".
    std::size_t i = 0;
    while (i < raw.size()) {
        const std::size_t seg_start = out.size();
        out.push_back('/');
        std::size_t j = i + 1;
        while (j < raw.size() && raw[j] != '/') {
            const char c = raw[j];
            if (c != '%') {
                out.push_back(c);
                ++j;
                continue;
            }
            const int v = escape_at(raw, j);
            if (v < 0) return UriStatus::bad_escape;
            if (v == 0) return UriStatus::nul_byte;
            if (v != '/' && v != '%') {
                out.push_back(static_cast<char>(v));
            } else {
                // An encoded '/' is data, not a separator, and '%' must stay escaped so
                // decoding a parameter later is unambiguous: both stay encoded, in upper
                // case (RFC 3986 §6.2.2.1) so equal paths compare equal.
                out.append(v == '/' ? "%2F" : "%25");
            }
            j += 3;
        }
        const std::string_view seg = std::string_view(out).substr(seg_start + 1);
        const bool last = j >= raw.size();
        if (seg == "." || seg == "..") {
            const bool up = seg.size() == 2;
            out.resize(seg_start);
            if (up) pop_segment(out);
            if (last) out.push_back('/');  // "/a/." -> "/a/", "/a/b/.." -> "/a/"
        }
        i = j;
    }
    if (out.empty()) out.push_back('/');
    return UriStatus::ok;
}

UriStatus percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            const int v = escape_at(in, i);
            if (v < 0) return UriStatus::bad_escape;
            out.push_back(static_cast<char>(v));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return UriStatus::ok;
}

namespace {

// Escapes every byte but ASCII letters, digits and those in `keep`.
void percent_encode(std::string_view text, const char* keep, std::string& out) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    out.clear();
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        const bool kept = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || (c != 0 && std::strchr(keep, c));
        if (kept) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
}

}  // namespace

void percent_encode_path(std::string_view path, std::string& out) {
    percent_encode(path, "-._~!$&'()*+,;=:@/%", out);
}

void percent_encode_segment(std::string_view name, std::string& out) {
    percent_encode(name, "-._~!$&'()*+,;=:@", out);  // RFC 3986 pchar, '%' included
}

}  // namespace vstream::http
