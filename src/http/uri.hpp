#pragma once

#include <string>
#include <string_view>

namespace vstream::http {

/// The outcome of normalising or decoding a piece of a URI.
enum class UriStatus {
    ok,
    bad_escape,    ///< '%' not followed by two hex digits
    not_absolute,  ///< the path does not start with '/'
    nul_byte,      ///< a decoded NUL (%00), never valid in a path
};

/// Normalises a request path for routing, into `out`:
///  - percent-escapes are decoded, so "%2e%2e" is "..", "/us%65rs" is "/users" and
///    "/caf%C3%A9" is "/café", except %2F and %25, which stay encoded (upper-cased): an
///    encoded slash never splits a segment, and a parameter can be decoded after splitting;
///  - dot segments are removed (RFC 3986 §5.2.4); ".." never climbs above the root.
/// Returns bad_escape for a malformed escape, not_absolute if the path does not start with
/// '/', nul_byte for %00. Allocates only when `out` must grow (keep it across requests).
UriStatus normalize_path(std::string_view raw, std::string& out);

/// Whether normalize_path would change `raw` (it holds '%' or a dot segment). Lets the hot
/// path skip the copy for the usual clean path.
bool path_needs_normalizing(std::string_view raw) noexcept;

/// Decodes every %XX escape of `in` into `out` (cleared first); with `plus_is_space`, '+'
/// becomes ' ' (application/x-www-form-urlencoded, for query strings). Returns bad_escape on
/// a malformed escape.
UriStatus percent_decode(std::string_view in, std::string& out, bool plus_is_space = false);

/// Percent-encodes a normalised path for a Location header into `out`: bytes outside RFC 3986
/// pchar and '/' are escaped; existing escapes (%2F, %25) are kept as they are.
void percent_encode_path(std::string_view path, std::string& out);

/// Percent-encodes one path segment (a file name) into `out`: everything outside RFC 3986
/// pchar is escaped, '/' and '%' included.
void percent_encode_segment(std::string_view name, std::string& out);

}  // namespace vstream::http
