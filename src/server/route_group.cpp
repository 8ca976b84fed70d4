#include <vstream/error.hpp>
#include <vstream/router.hpp>

#include "handlers/static_handler.hpp"
#include "router/router.hpp"

namespace vstream {

namespace {

router::Router& bound(router::Router* r) {
    if (r == nullptr) throw Error(errc::invalid_argument, "route group is not bound to a server");
    return *r;
}

}  // namespace

RouteGroup& RouteGroup::use(Middleware middleware) {
    bound(router_).use(index_, std::move(middleware));
    return *this;
}

RouteGroup& RouteGroup::handle(std::string_view method, std::string_view pattern, Handler handler,
                               std::vector<Middleware> middleware) {
    bound(router_).add_route(index_, method, pattern, std::move(handler), std::move(middleware));
    return *this;
}

RouteGroup& RouteGroup::handle_stream(std::string_view method, std::string_view pattern,
                                      Handler handler, std::vector<Middleware> middleware) {
    bound(router_).add_route(index_, method, pattern, std::move(handler), std::move(middleware),
                             true);
    return *this;
}

RouteGroup& RouteGroup::get(std::string_view p, Handler h, std::vector<Middleware> mw) {
    return handle("GET", p, std::move(h), std::move(mw));
}
RouteGroup& RouteGroup::head(std::string_view p, Handler h, std::vector<Middleware> mw) {
    return handle("HEAD", p, std::move(h), std::move(mw));
}
RouteGroup& RouteGroup::post(std::string_view p, Handler h, std::vector<Middleware> mw) {
    return handle("POST", p, std::move(h), std::move(mw));
}
RouteGroup& RouteGroup::put(std::string_view p, Handler h, std::vector<Middleware> mw) {
    return handle("PUT", p, std::move(h), std::move(mw));
}
RouteGroup& RouteGroup::patch(std::string_view p, Handler h, std::vector<Middleware> mw) {
    return handle("PATCH", p, std::move(h), std::move(mw));
}
RouteGroup& RouteGroup::del(std::string_view p, Handler h, std::vector<Middleware> mw) {
    return handle("DELETE", p, std::move(h), std::move(mw));
}
RouteGroup& RouteGroup::options(std::string_view p, Handler h, std::vector<Middleware> mw) {
    return handle("OPTIONS", p, std::move(h), std::move(mw));
}

RouteGroup& RouteGroup::any(std::string_view p, Handler h, std::vector<Middleware> mw) {
    for (const char* m : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
        handle(m, p, h, mw);
    }
    return *this;
}

RouteGroup& RouteGroup::serve_static(std::string_view prefix, const std::string& root,
                                     StaticOptions options, std::vector<Middleware> mw) {
    auto handler = std::make_shared<const handlers::StaticHandler>(root, std::move(options));
    std::string pattern(prefix);
    if (!pattern.empty() && pattern.back() == '/') pattern.pop_back();
    pattern += "/*path";
    return get(
        pattern, [handler](Context& ctx) { (*handler)(ctx); }, std::move(mw));
}

RouteGroup& RouteGroup::group(std::string_view prefix) {
    router::Router& r = bound(router_);
    return r.group(r.add_group(index_, prefix));
}

const std::string& RouteGroup::prefix() const noexcept {
    static const std::string empty;
    return router_ == nullptr ? empty : router_->prefix(index_);
}

}  // namespace vstream
