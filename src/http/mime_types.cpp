#include "http/mime_types.hpp"

#include <vstream/error.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <utility>

namespace vstream::http {

namespace {

struct Entry {
    std::string_view ext;  // lower case
    std::string_view type;
};

// Values from nginx's conf/mime.types and the IANA media type registry; where they differ the
// IANA registration wins (m4a audio/mp4 per RFC 4337, js text/javascript per RFC 9239, xml
// application/xml per RFC 7303). Text formats whose charset their definition leaves open say
// utf-8, so a browser does not guess one (RFC 2046 §4.1.2 would even mean US-ASCII); JSON
// (RFC 8259 §11) and WebVTT are UTF-8 by definition, XML declares its own. Sorted by ext for
// the binary search, which the static_assert below checks.
constexpr auto kTable = std::to_array<Entry>({
    {"3gp", "video/3gpp"},
    {"aac", "audio/aac"},
    {"avi", "video/x-msvideo"},
    {"avif", "image/avif"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"flac", "audio/flac"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/x-icon"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"m3u8", "application/vnd.apple.mpegurl"},
    {"m4a", "audio/mp4"},
    {"m4s", "video/iso.segment"},
    {"m4v", "video/x-m4v"},
    {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mkv", "video/x-matroska"},
    {"mov", "video/quicktime"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"mpd", "application/dash+xml"},
    {"mpeg", "video/mpeg"},
    {"mpg", "video/mpeg"},
    {"oga", "audio/ogg"},
    {"ogg", "audio/ogg"},
    {"ogv", "video/ogg"},
    {"opus", "audio/ogg"},  // RFC 7845 §9: Ogg Opus files are audio/ogg
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"srt", "application/x-subrip"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"ts", "video/mp2t"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"vtt", "text/vtt"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"weba", "audio/webm"},
    {"webm", "video/webm"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xml", "application/xml"},
    {"zip", "application/zip"},
});

constexpr char ascii_lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// <0, 0, >0 as a is below, equal to or above b, ignoring ASCII case (bytes compare unsigned).
constexpr int compare_nocase(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = std::min(a.size(), b.size());
    for (std::size_t i = 0; i < n; ++i) {
        const auto x = static_cast<unsigned char>(ascii_lower(a[i]));
        const auto y = static_cast<unsigned char>(ascii_lower(b[i]));
        if (x != y) return x < y ? -1 : 1;
    }
    return a.size() == b.size() ? 0 : (a.size() < b.size() ? -1 : 1);
}

static_assert(std::is_sorted(kTable.begin(), kTable.end(),
                             [](const Entry& a, const Entry& b) {
                                 return compare_nocase(a.ext, b.ext) < 0;
                             }),
              "kTable must stay sorted by ext for the binary search");

// The extension of the last segment of `path`, or "" when it has none.
std::string_view extension_of(std::string_view path) noexcept {
    const std::size_t slash = path.rfind('/');
    const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    const std::size_t dot = name.rfind('.');
    // A leading dot names a hidden file (".mp4"), it does not start an extension.
    if (dot == std::string_view::npos || dot == 0) return {};
    return name.substr(dot + 1);
}

}  // namespace

std::string_view builtin_mime_type(std::string_view ext) noexcept {
    const auto it = std::lower_bound(
        kTable.begin(), kTable.end(), ext,
        [](const Entry& e, std::string_view key) { return compare_nocase(e.ext, key) < 0; });
    if (it == kTable.end() || compare_nocase(it->ext, ext) != 0) return {};
    return it->type;
}

bool MimeTypes::CaseInsensitiveLess::operator()(std::string_view a,
                                                std::string_view b) const noexcept {
    return compare_nocase(a, b) < 0;
}

void MimeTypes::set(std::string_view ext, std::string type) {
    if (ext.empty() || ext.find_first_of(std::string_view("./\0", 3)) != std::string_view::npos) {
        throw Error(errc::invalid_argument,
                    "mime type extension must be non-empty, without '.', '/' or NUL");
    }
    // RFC 9110 §5.5: CR, LF and NUL in a field value are invalid and dangerous (response
    // splitting); other controls but HTAB are not allowed by the field-value grammar either.
    const bool has_ctl = std::any_of(type.begin(), type.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return (c < 0x20 && c != '\t') || c == 0x7f;
    });
    if (type.empty() || has_ctl) {
        throw Error(errc::invalid_argument,
                    "mime type for '" + std::string(ext) +
                        "' must be non-empty and free of control characters");
    }
    const auto it = overrides_.find(ext);
    if (it != overrides_.end()) {
        it->second = std::move(type);
    } else {
        overrides_.emplace(std::string(ext), std::move(type));
    }
}

std::string_view MimeTypes::lookup(std::string_view path) const noexcept {
    const std::string_view ext = extension_of(path);
    if (ext.empty()) return kDefaultMimeType;
    if (!overrides_.empty()) {
        const auto it = overrides_.find(ext);
        if (it != overrides_.end()) return it->second;
    }
    const std::string_view type = builtin_mime_type(ext);
    return type.empty() ? kDefaultMimeType : type;
}

}  // namespace vstream::http
