// libFuzzer target: sanitize_path on arbitrary decoded paths. Checks what the static file
// handler relies on: an ok path stays below the root and names no hidden file.
#include "files/path_sanitizer.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using vstream::files::PathVerdict;
using vstream::files::SanitizedPath;
using vstream::files::SanitizeOptions;

namespace {

// Traps unless `rel` is a clean relative path: no NUL or control byte, no leading or trailing
// '/', no empty, "." or ".." segment, no segment over the limit, and (without allow_dotfiles)
// no segment starting with '.'.
void check_relative(std::string_view rel, const SanitizeOptions& o) {
    if (rel.empty()) return;  // the root itself
    if (rel.front() == '/' || rel.back() == '/') __builtin_trap();
    for (const char ch : rel) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f) __builtin_trap();
    }
    std::size_t start = 0;
    for (;;) {
        std::size_t end = rel.find('/', start);
        if (end == std::string_view::npos) end = rel.size();
        const std::string_view seg = rel.substr(start, end - start);
        if (seg.empty() || seg == "." || seg == "..") __builtin_trap();
        if (seg.front() == '.' && !o.allow_dotfiles) __builtin_trap();
        if (seg.size() > o.max_segment) __builtin_trap();
        if (end == rel.size()) break;
        start = end + 1;
    }
}

void check(std::string_view in, const SanitizeOptions& o) {
    const SanitizedPath r = vstream::files::sanitize_path(in, o);
    if (r.verdict != PathVerdict::ok) {
        if (!r.relative.empty()) __builtin_trap();
        return;
    }
    check_relative(r.relative, o);
    if (r.relative.size() > in.size()) __builtin_trap();
    if (r.trailing_slash != (!in.empty() && in.back() == '/')) __builtin_trap();
    // Stable: the result sanitizes to itself.
    const SanitizedPath again = vstream::files::sanitize_path(r.relative, o);
    if (again.verdict != PathVerdict::ok || again.relative != r.relative) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    check(in, SanitizeOptions{});
    // With dotfiles allowed ".." must still never pass; small limits exercise both bounds.
    check(in, SanitizeOptions{.allow_dotfiles = true, .max_length = 64, .max_segment = 8});
    return 0;
}
