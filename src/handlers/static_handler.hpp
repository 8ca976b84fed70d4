#pragma once

#include <vstream/context.hpp>
#include <vstream/files.hpp>

#include "files/local_file_origin.hpp"
#include "http/mime_types.hpp"

#include <string>

namespace vstream::handlers {

/// Serves the files below a root directory (RouteGroup::serve_static): the route's catch-all
/// parameter "path" names the file. Paths are sanitised first (path_sanitizer: "..", NUL,
/// dotfiles) and opened confined to the root by the kernel (LocalFileOrigin); a directory
/// is redirected to its '/' form, then answered with its index file, a listing when enabled,
/// or 404. Immutable once built; any thread.
class StaticHandler {
public:
    /// Throws Error(invalid_argument) when `root` is not a readable directory, or a MIME
    /// override is invalid.
    StaticHandler(const std::string& root, StaticOptions options);

    void operator()(Context& ctx) const;

private:
    void serve_directory(Context& ctx, const std::string& relative) const;

    files::LocalFileOrigin origin_;
    StaticOptions options_;
    FileOptions file_options_;
    http::MimeTypes mime_;
};

}  // namespace vstream::handlers
