#include "files/path_sanitizer.hpp"

#include <algorithm>
#include <new>

namespace vstream::files {

namespace {

// NUL ends a C string early (the name opened would not be the one checked) and no other
// control byte belongs in a name a web client asks for; both point at a forged request.
bool is_control(char ch) noexcept {
    const auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == 0x7f;
}

// Calls `f` on each segment of `path` that names something (not empty, not "."), in order,
// until `f` returns false; returns false if it did.
template <class F>
bool for_each_segment(std::string_view path, F&& f) {
    for (std::size_t i = 0; i <= path.size();) {
        std::size_t end = path.find('/', i);
        if (end == std::string_view::npos) end = path.size();
        const std::string_view seg = path.substr(i, end - i);
        i = end + 1;
        if (!seg.empty() && seg != "." && !f(seg)) return false;
    }
    return true;
}

SanitizedPath verdict_only(PathVerdict v) noexcept {
    SanitizedPath r;
    r.verdict = v;
    return r;
}

}  // namespace

SanitizedPath sanitize_path(std::string_view decoded, const SanitizeOptions& o) noexcept {
    if (std::any_of(decoded.begin(), decoded.end(), is_control)) {
        return verdict_only(PathVerdict::bad_request);
    }
    if (decoded.size() > o.max_length) return verdict_only(PathVerdict::not_found);

    // Check every segment before building anything, so a rejected path costs no allocation.
    PathVerdict verdict = PathVerdict::ok;
    std::size_t kept_bytes = 0;
    for_each_segment(decoded, [&](std::string_view seg) noexcept {
        if (seg == "..") {
            // Not a file name: it survived the router's RFC 3986 §5.2.4 pass only because it
            // was glued to an encoded slash ("..%2F"), so it is refused, never resolved.
            verdict = PathVerdict::not_found;
        } else if (seg.front() == '.' && !o.allow_dotfiles) {
            // Hidden files and dot-directories (".git/config", ".env") are private by
            // convention; 404 rather than 403 does not even confirm they exist.
            verdict = PathVerdict::not_found;
        } else if (seg.size() > o.max_segment) {
            verdict = PathVerdict::not_found;
        }
        kept_bytes += seg.size() + 1;
        return verdict == PathVerdict::ok;
    });
    if (verdict != PathVerdict::ok) return verdict_only(verdict);

    SanitizedPath r;
    try {
        r.relative.reserve(kept_bytes);
        for_each_segment(decoded, [&](std::string_view seg) {
            if (!r.relative.empty()) r.relative.push_back('/');
            r.relative.append(seg);
            return true;
        });
    } catch (const std::bad_alloc&) {
        return verdict_only(PathVerdict::not_found);
    }
    r.verdict = PathVerdict::ok;
    r.trailing_slash = !decoded.empty() && decoded.back() == '/';
    return r;
}

}  // namespace vstream::files
