#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vstream::files {

/// What sanitize_path decided; the caller maps it to a status.
enum class PathVerdict {
    ok,           ///< SanitizedPath::relative names a file or directory below the root
    bad_request,  ///< 400: a NUL or another control character, never part of a served name
    not_found,    ///< 404: tries to leave the root, names a hidden file, or is too long
};

/// The result of sanitize_path.
struct SanitizedPath {
    /// The decision; relative and trailing_slash are meaningful only when it is ok.
    PathVerdict verdict = PathVerdict::not_found;
    /// "videos/a.mp4": the kept segments joined by '/', with no leading or trailing '/', no
    /// empty, "." or ".." segment; "" for the root itself.
    std::string relative;
    /// The input ended with '/' (a directory was asked for: redirect or index decisions).
    bool trailing_slash = false;
};

/// Per-mount policy for sanitize_path.
struct SanitizeOptions {
    /// Serve segments starting with '.' (".well-known", but also ".git", ".env"). Default
    /// false. Warning: turning it on publishes whatever dot-directories lie below the root.
    bool allow_dotfiles = false;
    /// Longest input accepted, in bytes; longer gives not_found. Default 4096 (PATH_MAX).
    std::size_t max_length = 4096;
    /// Longest segment accepted, in bytes; longer gives not_found. Default 255 (NAME_MAX).
    std::size_t max_segment = 255;
};

/// Checks `decoded`, the percent-decoded rest of a request path below a static mount
/// ("videos/a.mp4", "/videos//a.mp4"), and turns it into a path relative to the mount's root.
///
/// Segments are split on '/' only; empty and "." segments are dropped. Verdicts:
///  - bad_request when any byte is NUL or another control character (0x01-0x1F, 0x7F),
///    wherever it is: this wins over every not_found reason, so the verdict does not depend
///    on the order of the segments;
///  - not_found when the input is longer than `o.max_length`, a segment is longer than
///    `o.max_segment`, a segment is ".." (never resolved: the router already removed dot
///    segments from the raw path, so a ".." here came from an encoded slash such as "..%2F"
///    and is an attack), or a segment starts with '.' and `o.allow_dotfiles` is false;
///  - ok otherwise. Any other byte is data: a backslash is an ordinary character in a POSIX
///    name, and names need not be UTF-8.
///
/// This is the first line of defence only: the file opener also confines every open to the
/// root in the kernel (openat2 with RESOLVE_BENEATH), which covers symlinks as well.
/// Allocates only for `relative`; on std::bad_alloc the verdict is not_found.
SanitizedPath sanitize_path(std::string_view decoded, const SanitizeOptions& o = {}) noexcept;

}  // namespace vstream::files
