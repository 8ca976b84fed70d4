#include "handlers/static_handler.hpp"

#include "files/path_sanitizer.hpp"
#include "handlers/directory_listing.hpp"
#include "handlers/file_response.hpp"
#include "http/uri.hpp"
#include "request/exchange.hpp"

#include <cerrno>

namespace vstream::handlers {

StaticHandler::StaticHandler(const std::string& root, StaticOptions options)
    : origin_(root, options.symlinks_outside_root), options_(std::move(options)) {
    for (const auto& [ext, type] : options_.mime_types) mime_.set(ext, type);
    file_options_.limit_rate = options_.limit_rate;
    file_options_.limit_rate_after = options_.limit_rate_after;
    file_options_.cache_control = options_.cache_control;
}

void StaticHandler::operator()(Context& ctx) const {
    request::Exchange& x = request::Exchange::of(ctx);
    if (x.answered) return;
    if (!x.env().file_cache) {
        x.refuse(500);
        return;
    }
    files::SanitizeOptions so;
    so.allow_dotfiles = options_.dotfiles;
    const files::SanitizedPath p = files::sanitize_path(ctx.param("path"), so);
    if (p.verdict == files::PathVerdict::bad_request) {
        x.refuse(400, "invalid file path");
        return;
    }
    if (p.verdict != files::PathVerdict::ok) {
        x.refuse(404);
        return;
    }
    files::FileRef file;
    const int rc = x.env().file_cache->open(origin_, p.relative, file);
    if (rc == -EISDIR) {
        if (!p.trailing_slash && !p.relative.empty()) {
            // Relative links in an index page resolve against the directory only with the '/'.
            // Built from the normalised path, never the raw one: "//evil.com/%2e%2e/dir" must
            // not become a Location that leaves this host.
            std::string encoded;
            http::percent_encode_path(ctx.route_path(), encoded);
            std::string location;  // runs of '/' collapsed: it can never start with "//"
            for (const char c : encoded) {
                if (c != '/' || location.empty() || location.back() != '/') location.push_back(c);
            }
            if (location.empty() || location.front() != '/') location.insert(0, 1, '/');
            if (location.back() != '/') location.push_back('/');
            if (!ctx.query_string().empty()) location.append("?").append(ctx.query_string());
            ctx.set_header("Location", location);
            ctx.text(301, "301 Moved Permanently\n");
            return;
        }
        serve_directory(ctx, p.relative);
        return;
    }
    if (rc == 0 && p.trailing_slash) {
        x.refuse(404);  // "file.mp4/" names no file (as nginx has it)
        return;
    }
    if (rc != 0) {
        respond_open_error(x, rc);
    } else {
        respond_with_file(x, file, mime_.lookup(p.relative), file_options_);
    }
    x.answer();
}

void StaticHandler::serve_directory(Context& ctx, const std::string& relative) const {
    request::Exchange& x = request::Exchange::of(ctx);
    if (!options_.index.empty()) {
        const std::string index =
            relative.empty() ? options_.index : relative + "/" + options_.index;
        files::FileRef file;
        const int rc = x.env().file_cache->open(origin_, index, file);
        if (rc == 0) {
            respond_with_file(x, file, mime_.lookup(index), file_options_);
            x.answer();
            return;
        }
        if (rc != -ENOENT) {
            respond_open_error(x, rc);
            x.answer();
            return;
        }
    }
    if (!options_.listing) {
        x.refuse(404);
        return;
    }
    files::OpenedFile dir;
    int rc = origin_.open(relative, dir);
    std::vector<ListingEntry> entries;
    if (rc == 0) rc = read_directory(dir.fd, options_.dotfiles, entries);
    if (rc == 0) {
        // A symlink is listed only if it may be served: stat'ed under the root's rules, so one
        // leading outside is not shown (nor its target's size).
        std::erase_if(entries, [&](ListingEntry& e) {
            if (!e.symlink) return false;
            files::FileIdentity id;
            files::FileKind kind = files::FileKind::other;
            const std::string path = relative.empty() ? e.name : relative + "/" + e.name;
            return origin_.stat(path, id, kind) != 0;
        });
    }
    if (rc != 0) {
        respond_open_error(x, rc);
        x.answer();
        return;
    }
    ctx.set_header("Content-Type", "text/html; charset=utf-8");
    ctx.send(200, render_listing(ctx.path(), entries));
}

}  // namespace vstream::handlers
