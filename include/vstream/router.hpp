// Route registration: groups, methods, patterns, middleware. Implemented by
// src/server/route_group.cpp over src/router/router.cpp.
#pragma once

#include <vstream/files.hpp>
#include <vstream/middleware.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace vstream {

class Context;
using Handler = std::function<void(Context&)>;

namespace router {
class Router;
}

/// Registers routes under a path prefix, with middleware of its own. The Server is the root
/// group; group() makes nested ones. Patterns: static text, ":name" for one path segment,
/// a final "*name" for the rest of the path (see Context::param).
///
/// Middleware order for a request: the server's (global) middleware, then each enclosing
/// group's from the outermost in, then the route's own, each in registration order; then the
/// handler. A group's middleware applies to all its routes, whenever they were registered.
///
/// Thread: before Server::start() only. Registration errors throw Error: invalid_argument for
/// a malformed pattern, route_conflict for a clash (the message names both routes),
/// already_running after start().
class RouteGroup {
public:
    RouteGroup(const RouteGroup&) = delete;
    RouteGroup& operator=(const RouteGroup&) = delete;

    /// Adds middleware to this group (for the Server: to every request, matched or not).
    RouteGroup& use(Middleware middleware);

    /// Registers `handler` for `method` and `pattern` (relative to the group's prefix), with
    /// optional per-route middleware. GET routes also answer HEAD (unless a HEAD route exists).
    RouteGroup& handle(std::string_view method, std::string_view pattern, Handler handler,
                       std::vector<Middleware> middleware = {});
    RouteGroup& get(std::string_view pattern, Handler handler, std::vector<Middleware> mw = {});
    RouteGroup& head(std::string_view pattern, Handler handler, std::vector<Middleware> mw = {});
    RouteGroup& post(std::string_view pattern, Handler handler, std::vector<Middleware> mw = {});
    RouteGroup& put(std::string_view pattern, Handler handler, std::vector<Middleware> mw = {});
    RouteGroup& patch(std::string_view pattern, Handler handler, std::vector<Middleware> mw = {});
    /// DELETE (`delete` is a keyword).
    RouteGroup& del(std::string_view pattern, Handler handler, std::vector<Middleware> mw = {});
    RouteGroup& options(std::string_view pattern, Handler handler, std::vector<Middleware> mw = {});
    /// Registers a streaming route: `handler` (after its middleware) runs as soon as the
    /// request head has arrived, before the body, which it reads with Context::read_body()
    /// or Context::receive_upload() (uploads to disk), so a large body is never held in
    /// memory and a request refused by middleware (401, 429) is never read at all. The
    /// buffered-body limit (Limits::max_body_bytes) does not apply; the reader's does. A
    /// response sent before the body was read closes the connection after it.
    RouteGroup& handle_stream(std::string_view method, std::string_view pattern, Handler handler,
                              std::vector<Middleware> middleware = {});
    /// The same handler for GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS.
    RouteGroup& any(std::string_view pattern, Handler handler, std::vector<Middleware> mw = {});

    /// Serves the files below directory `root` at `prefix` ("/media": /media/a.mp4 is
    /// root/a.mp4; "/" serves the whole tree), for GET and HEAD, through the server's mmap
    /// file cache, with Range and conditional requests (see StaticOptions and FileOptions).
    /// No request can reach outside root: "..", encoded slashes and NUL are refused, and
    /// files are opened confined to root by the kernel, symlinks included (unless allowed).
    /// Dotfiles give 404 unless allowed. A directory redirects to its '/' form, then serves
    /// its index file, a listing if enabled, or 404. Registers prefix + "/*path".
    /// Throws Error(invalid_argument) if root is not a readable directory.
    RouteGroup& serve_static(std::string_view prefix, const std::string& root,
                             StaticOptions options = {}, std::vector<Middleware> mw = {});

    /// A nested group at `prefix` below this one ("/api" then "/v1" is "/api/v1"). The
    /// reference stays valid as long as the Server.
    RouteGroup& group(std::string_view prefix);

    /// The group's full prefix ("" for the root).
    const std::string& prefix() const noexcept;

protected:
    RouteGroup() noexcept = default;
    ~RouteGroup() = default;
    /// Binds to the router and group index that hold this group's state.
    void bind(router::Router* router, std::size_t index) noexcept {
        router_ = router;
        index_ = index;
    }

private:
    friend class router::Router;
    router::Router* router_ = nullptr;
    std::size_t index_ = 0;
};

/// How the router answers requests that match no route. Part of ServerConfig.
struct RouterOptions {
    /// Redirect /a/ to /a (or /a to /a/) when only the other form has a route: 301 for GET
    /// and HEAD, 308 otherwise (so the method and body are kept). Default true.
    bool redirect_trailing_slash = true;
    /// Answer 405 with an Allow header when the path has routes for other methods only.
    /// Default true.
    bool method_not_allowed = true;
    /// Answer OPTIONS for a path with 204 and an Allow header when no OPTIONS route exists
    /// (and "OPTIONS *" with every method). Default true.
    bool auto_options = true;
};

}  // namespace vstream
