#pragma once

#include <vstream/files.hpp>

#include "files/mmap_cache.hpp"

#include <string_view>

namespace vstream::request {
class Exchange;
}

namespace vstream::handlers {

/// Fills in `x`'s response (status, headers, body) from `file`, as RFC 9110 has it:
/// preconditions first (§13.2.2: 304 or 412), then Range for GET and HEAD (§14: 206 with one
/// range, 206 multipart/byteranges with several, 416 when none is satisfiable, 200 with the
/// whole representation when the header is invalid, If-Range does not match, or the ranges
/// are too many or add up to more than the file). Every answer carries ETag, Last-Modified
/// and Accept-Ranges. A status other than 200 set before (a custom 404 page, say) is kept,
/// and then neither preconditions nor Range apply. Does not mark the exchange answered.
void respond_with_file(request::Exchange& x, const files::FileRef& file,
                       std::string_view content_type, const FileOptions& options);

/// Fills in the answer to a file that could not be opened (`err` a negative errno): 404 for
/// what does not exist or may not be reached, 403 for a permission refused, 503 when out of
/// descriptors, 500 otherwise.
void respond_open_error(request::Exchange& x, int err);

}  // namespace vstream::handlers
