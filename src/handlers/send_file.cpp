// Context::send_file: a handler's own file, any path, through the server's file cache. A
// Context method defined here rather than in src/request/, because it builds its answer from
// storage, which the request core does not know.
#include <vstream/context.hpp>

#include "files/local_file_origin.hpp"
#include "handlers/file_response.hpp"
#include "http/mime_types.hpp"
#include "request/exchange.hpp"

#include <cerrno>

namespace vstream {

using request::Exchange;

void Context::send_file(std::string_view path, const FileOptions& options) {
    Exchange& x = Exchange::of(*this);
    if (x.answered) return;
    // Immutable, so safe to share between servers and threads.
    static const files::LocalFileOrigin anywhere;
    static const http::MimeTypes mime;
    files::FileRef file;
    const int rc = x.env().file_cache ? x.env().file_cache->open(anywhere, path, file) : -EIO;
    if (rc != 0) {
        handlers::respond_open_error(x, rc);
    } else {
        handlers::respond_with_file(
            x, file, options.content_type.empty() ? mime.lookup(path) : options.content_type,
            options);
    }
    x.answer();
}

}  // namespace vstream
