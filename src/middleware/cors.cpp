// middleware::cors: Access-Control-* headers and preflight answers (Fetch standard, CORS
// protocol section).
#include <vstream/context.hpp>
#include <vstream/error.hpp>
#include <vstream/headers.hpp>
#include <vstream/middleware.hpp>

#include <algorithm>
#include <memory>
#include <string>

namespace vstream::middleware {

namespace {

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& s : items) {
        if (!out.empty()) out.append(", ");
        out.append(s);
    }
    return out;
}

bool contains_ci(const std::vector<std::string>& items, std::string_view value) {
    return std::any_of(items.begin(), items.end(),
                       [&](const std::string& s) { return iequals(s, value); });
}

struct Cors {
    CorsOptions options;
    bool any_origin = false;
    std::string methods;
    std::string headers;
    std::string expose;
    std::string max_age;

    bool origin_allowed(std::string_view origin) const {
        return any_origin || std::find(options.allow_origins.begin(), options.allow_origins.end(),
                                       origin) != options.allow_origins.end();
    }

    // Every header a preflight asks for must be allowed (a comma-separated list).
    bool headers_allowed(std::string_view list) const {
        while (!list.empty()) {
            const std::size_t comma = list.find(',');
            const std::string_view item = trim_ows(list.substr(0, comma));
            if (!item.empty() && !contains_ci(options.allow_headers, item)) return false;
            if (comma == std::string_view::npos) break;
            list.remove_prefix(comma + 1);
        }
        return true;
    }

    void allow_origin(Context& ctx, std::string_view origin) const {
        // "*" cannot carry credentials: then the origin itself is echoed, and caches must
        // keep answers per Origin.
        if (any_origin && !options.allow_credentials) {
            ctx.set_header("Access-Control-Allow-Origin", "*");
        } else {
            ctx.set_header("Access-Control-Allow-Origin", origin);
            ctx.add_header("Vary", "Origin");
        }
        if (options.allow_credentials) ctx.set_header("Access-Control-Allow-Credentials", "true");
    }

    void handle(Context& ctx, const Next& next) const {
        const auto origin = ctx.header("origin");
        if (!origin) {
            next();  // not a cross-origin request
            return;
        }
        const auto request_method = ctx.header("access-control-request-method");
        const bool preflight = ctx.method() == "OPTIONS" && request_method.has_value();
        if (!origin_allowed(*origin)) {
            if (preflight) {
                ctx.text(403, "403 Forbidden: origin not allowed\n");
                return;
            }
            next();  // no CORS headers: the browser withholds the response from the page
            return;
        }
        if (preflight) {
            const auto request_headers = ctx.header("access-control-request-headers");
            if (!contains_ci(options.allow_methods, *request_method) ||
                (request_headers && !headers_allowed(*request_headers))) {
                ctx.text(403, "403 Forbidden: method or headers not allowed\n");
                return;
            }
            allow_origin(ctx, *origin);
            ctx.set_header("Access-Control-Allow-Methods", methods);
            if (!headers.empty()) ctx.set_header("Access-Control-Allow-Headers", headers);
            ctx.set_header("Access-Control-Max-Age", max_age);
            ctx.add_header("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers");
            ctx.send(204, Body{});
            return;
        }
        allow_origin(ctx, *origin);
        if (!expose.empty()) ctx.set_header("Access-Control-Expose-Headers", expose);
        next();
    }
};

}  // namespace

Middleware cors(CorsOptions options) {
    if (options.allow_origins.empty()) {
        throw Error(errc::invalid_argument, "CorsOptions.allow_origins is empty");
    }
    if (options.max_age.count() < 0) {
        throw Error(errc::invalid_argument, "CorsOptions.max_age is negative");
    }
    auto c = std::make_shared<Cors>();
    c->any_origin = std::find(options.allow_origins.begin(), options.allow_origins.end(), "*") !=
                    options.allow_origins.end();
    c->methods = join(options.allow_methods);
    c->headers = join(options.allow_headers);
    c->expose = join(options.expose_headers);
    c->max_age = std::to_string(options.max_age.count());
    c->options = std::move(options);
    return [c](Context& ctx, Next next) { c->handle(ctx, next); };
}

}  // namespace vstream::middleware
