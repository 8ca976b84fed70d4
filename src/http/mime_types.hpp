#pragma once

#include <map>
#include <string>
#include <string_view>

namespace vstream::http {

/// The Content-Type sent when a file's extension is unknown: arbitrary binary data
/// (RFC 2046 §4.5.1), which a client offers to save rather than render.
inline constexpr std::string_view kDefaultMimeType = "application/octet-stream";

/// The built-in lookup alone (no overrides): the type for the extension `ext` (without the
/// dot, ASCII case-insensitive), or "" when unknown. Text types whose definition leaves the
/// charset open carry "; charset=utf-8" (text/vtt is UTF-8 by definition, so it has none).
/// Never allocates; the result points into static storage.
std::string_view builtin_mime_type(std::string_view ext) noexcept;

/// Content types by file extension: a built-in table, plus overrides a host adds.
/// Copyable. Not thread-safe: configure it with set() before the server starts, then only
/// lookup() from any number of threads.
class MimeTypes {
public:
    /// The built-in table only.
    MimeTypes() = default;

    /// Adds or replaces the type for `ext` (without the dot, ASCII case-insensitive), which
    /// then wins over the built-in table. Throws vstream::Error(errc::invalid_argument) when
    /// `ext` is empty or holds '.', '/' or a NUL (it could never match a lookup), or when
    /// `type` is empty or holds a control character other than HTAB (CR, LF and NUL would
    /// split or end the header, RFC 9110 §5.5). Throws std::bad_alloc.
    void set(std::string_view ext, std::string type);

    /// The type for `path`'s extension: the bytes after the last '.' of the last '/'-separated
    /// segment, ASCII case-insensitive. A segment's leading dot does not start an extension
    /// (".mp4" has none), nor does a trailing one ("a." has none). Overrides first, then the
    /// built-in table, then kDefaultMimeType. The view is valid until the next set() or the
    /// destruction of this object. Never allocates.
    std::string_view lookup(std::string_view path) const noexcept;

private:
    // ASCII case-insensitive ordering; transparent, so lookup() finds a string_view key
    // without building a std::string.
    struct CaseInsensitiveLess {
        using is_transparent = void;
        bool operator()(std::string_view a, std::string_view b) const noexcept;
    };

    std::map<std::string, std::string, CaseInsensitiveLess> overrides_;
};

}  // namespace vstream::http
