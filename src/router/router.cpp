#include "router/router.hpp"

#include <vstream/error.hpp>
#include <vstream/headers.hpp>

#include "http/uri.hpp"
#include "request/exchange.hpp"

#include <algorithm>

namespace vstream::router {

using request::Exchange;

namespace {

// A RouteGroup the router hands out for nested groups.
class GroupHandle final : public RouteGroup {
public:
    GroupHandle(Router* router, std::size_t index) noexcept { bind(router, index); }
};

// "/api/" + "/v1" -> "/api/v1"; "" + "/x" -> "/x". Patterns keep their trailing slash.
std::string join(std::string_view prefix, std::string_view pattern) {
    std::string out(prefix);
    while (!out.empty() && out.back() == '/') out.pop_back();
    if (pattern.empty() || pattern.front() != '/') out.push_back('/');
    out.append(pattern);
    if (out.empty()) out = "/";
    return out;
}

// RFC 9112 §3.2.2: a server must accept the absolute-form ("http://host/path"); routing
// uses its path.
std::string_view strip_absolute_form(std::string_view target) noexcept {
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
        if (target.size() >= scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
            const std::size_t slash = target.find('/', scheme.size());
            return slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        }
    }
    return target;
}

const char* uri_problem(http::UriStatus s) noexcept {
    switch (s) {
        case http::UriStatus::bad_escape: return "malformed percent-escape in the path";
        case http::UriStatus::nul_byte: return "encoded NUL in the path";
        case http::UriStatus::not_absolute: return "the path must start with '/'";
        case http::UriStatus::ok: break;
    }
    return "malformed path";
}

}  // namespace

struct Router::Group {
    std::string prefix;
    std::size_t parent = 0;
    std::vector<Middleware> middleware;
    std::unique_ptr<GroupHandle> handle;  // null for the root: the Server is that group
};

struct Router::Route {
    std::string method;
    std::string pattern;
    std::size_t group = 0;
    std::vector<Middleware> middleware;
    Handler handler;
    Chain chain;
    bool streams_body = false;
};

Router::Router(const RouterOptions& options) : options_(options) {
    groups_.push_back(std::make_unique<Group>());
}

Router::~Router() = default;

void Router::check_open() const {
    if (frozen_) throw Error(errc::already_running, "routes must be registered before start()");
}

std::size_t Router::add_group(std::size_t parent, std::string_view prefix) {
    check_open();
    if (!prefix.empty() && prefix.front() != '/') {
        throw Error(errc::invalid_argument,
                    "group prefix '" + std::string(prefix) + "' must start with '/'");
    }
    auto g = std::make_unique<Group>();
    g->prefix = join(groups_.at(parent)->prefix, prefix);
    if (g->prefix == "/") g->prefix.clear();
    g->parent = parent;
    const std::size_t index = groups_.size();
    g->handle = std::make_unique<GroupHandle>(this, index);
    groups_.push_back(std::move(g));
    return index;
}

RouteGroup& Router::group(std::size_t index) noexcept { return *groups_[index]->handle; }

const std::string& Router::prefix(std::size_t group) const noexcept {
    return groups_[group]->prefix;
}

void Router::use(std::size_t group, Middleware middleware) {
    check_open();
    if (!middleware) throw Error(errc::invalid_argument, "use() needs a middleware");
    groups_.at(group)->middleware.push_back(std::move(middleware));
}

void Router::add_route(std::size_t group, std::string_view method, std::string_view pattern,
                       Handler handler, std::vector<Middleware> middleware, bool streams_body) {
    check_open();
    if (!handler) throw Error(errc::invalid_argument, "a route needs a handler");
    if (!pattern.empty() && pattern.front() != '/') {
        throw Error(errc::invalid_argument,
                    "route pattern '" + std::string(pattern) + "' must start with '/'");
    }
    if (method.empty() || std::any_of(method.begin(), method.end(), [](char c) {
            return !(c >= 'A' && c <= 'Z') && c != '-' && c != '_';
        })) {
        throw Error(errc::invalid_argument,
                    "method '" + std::string(method) + "' must be an upper-case token such as GET");
    }
    for (const Middleware& m : middleware) {
        if (!m) throw Error(errc::invalid_argument, "a route middleware is empty");
    }
    auto r = std::make_unique<Route>();
    r->method = std::string(method);
    r->pattern = join(groups_.at(group)->prefix, pattern);
    r->group = group;
    r->middleware = std::move(middleware);
    r->handler = std::move(handler);
    r->streams_body = streams_body;

    auto it = std::find_if(trees_.begin(), trees_.end(),
                           [&](const MethodTree& t) { return t.method == method; });
    if (it == trees_.end()) {
        trees_.push_back(MethodTree{std::string(method), RadixTree()});
        it = trees_.end() - 1;
    }
    try {
        it->tree.insert(r->pattern, static_cast<int>(routes_.size()));
    } catch (const Error& e) {
        throw Error(e.errc_code(), std::string(method) + " " + std::string(e.detail()));
    }
    routes_.push_back(std::move(r));
    if (streams_body) ++streaming_routes_;
}

void Router::freeze(Handler fallback) {
    fallback_ = std::move(fallback);
    for (auto& r : routes_) {
        // Global (root) middleware first, then each group from the outermost in, then the
        // route's own.
        std::vector<std::size_t> path;
        for (std::size_t g = r->group; g != 0; g = groups_[g]->parent) path.push_back(g);
        path.push_back(0);
        r->chain.middleware.clear();
        for (auto g = path.rbegin(); g != path.rend(); ++g) {
            for (const Middleware& m : groups_[*g]->middleware) r->chain.middleware.push_back(&m);
        }
        for (const Middleware& m : r->middleware) r->chain.middleware.push_back(&m);
        r->chain.handler = &r->handler;
    }
    unmatched_ = [this](Context& ctx) { answer_unmatched(ctx, Exchange::of(ctx).match.path); };
    unmatched_chain_.middleware.clear();
    for (const Middleware& m : groups_[0]->middleware) unmatched_chain_.middleware.push_back(&m);
    unmatched_chain_.handler = &unmatched_;
    frozen_ = true;
}

const Router::MethodTree* Router::tree_for(std::string_view method) const noexcept {
    for (const MethodTree& t : trees_) {
        if (t.method == method) return &t;
    }
    return nullptr;
}

std::string Router::allowed_methods(std::string_view path) const {
    ParamList scratch;
    std::string allow;
    bool get = false;
    bool head = false;
    bool options = false;
    for (const MethodTree& t : trees_) {
        if (path != "*" && t.tree.find(path, scratch) < 0) continue;
        get = get || t.method == "GET";
        head = head || t.method == "HEAD";
        options = options || t.method == "OPTIONS";
        if (!allow.empty()) allow.append(", ");
        allow.append(t.method);
    }
    if (allow.empty()) return allow;
    if (get && !head) allow.append(", HEAD");  // GET routes answer HEAD
    if (options_.auto_options && !options) allow.append(", OPTIONS");
    return allow;
}

int Router::resolve(Exchange& x) const {
    const std::string_view raw = strip_absolute_form(x.request.path);
    std::string_view path = raw;
    x.match.error = nullptr;
    if (raw == "*") {
        // "OPTIONS *" (RFC 9110 §9.3.7) asks about the server as a whole.
    } else if (raw.empty() || raw.front() != '/' || http::path_needs_normalizing(raw)) {
        const http::UriStatus st = http::normalize_path(raw, x.match.path_buffer);
        if (st != http::UriStatus::ok) x.match.error = uri_problem(st);
        path = x.match.path_buffer;
    }
    x.match.path = path;

    int id = -1;
    if (x.match.error == nullptr) {
        const std::string_view method = x.request.method;
        if (const MethodTree* t = tree_for(method)) id = t->tree.find(path, x.match.raw);
        if (id < 0 && method == "HEAD") {
            if (const MethodTree* t = tree_for("GET")) id = t->tree.find(path, x.match.raw);
        }
    }
    return id;
}

bool Router::streams_body(Exchange& x) const {
    if (streaming_routes_ == 0) return false;
    x.match.route_id = resolve(x);
    x.match.resolved = true;
    return x.match.route_id >= 0 &&
           routes_[static_cast<std::size_t>(x.match.route_id)]->streams_body;
}

void Router::dispatch(Exchange& x) const {
    Context& ctx = x;
    const int id = x.match.resolved ? x.match.route_id : resolve(x);
    if (id < 0) {
        Next(&unmatched_chain_, 0, &ctx)();
        return;
    }

    const Route& route = *routes_[static_cast<std::size_t>(id)];
    x.match.param_count = x.match.raw.size;
    for (std::size_t i = 0; i < x.match.raw.size; ++i) {
        const ParamView& p = x.match.raw.items[i];
        std::string_view value = p.value;
        // Escapes left in a normalised path are %2F and %25 only, decoded now that the path
        // has been split, so an encoded slash stays inside its parameter.
        if (value.find('%') != std::string_view::npos &&
            http::percent_decode(value, x.match.param_buffers[i]) == http::UriStatus::ok) {
            value = x.match.param_buffers[i];
        }
        x.match.params[i] = Param{p.name, value};
    }
    x.match.pattern = route.pattern;
    Next(&route.chain, 0, &ctx)();
}

void Router::answer_unmatched(Context& ctx, std::string_view path) const {
    Exchange& x = Exchange::of(ctx);
    if (x.match.error != nullptr) {
        x.refuse(400, x.match.error);
        return;
    }
    const std::string_view method = x.request.method;
    if (method == "OPTIONS" && options_.auto_options) {
        const std::string allow = allowed_methods(path);
        if (!allow.empty()) {
            ctx.set_header("Allow", allow);
            ctx.send(204, Body{});
            return;
        }
    }
    if (options_.redirect_trailing_slash && path.size() > 1 && path != "*") {
        std::string alt(path);
        if (alt.back() == '/') {
            alt.pop_back();
        } else {
            alt.push_back('/');
        }
        const MethodTree* t = tree_for(method == "HEAD" ? std::string_view("GET") : method);
        ParamList scratch;
        if (t != nullptr && t->tree.find(alt, scratch) >= 0) {
            std::string location;
            http::percent_encode_path(alt, location);
            if (!x.request.query.empty()) location.append("?").append(x.request.query);
            ctx.set_header("Location", location);
            // 301 may turn a POST into a GET in browsers; 308 keeps the method and body.
            const int code = (method == "GET" || method == "HEAD") ? 301 : 308;
            ctx.text(code, "Redirecting to " + location + "\n");
            return;
        }
    }
    if (options_.method_not_allowed && path != "*") {
        const std::string allow = allowed_methods(path);
        if (!allow.empty()) {
            ctx.set_header("Allow", allow);
            x.refuse(405);
            return;
        }
    }
    if (fallback_) {
        fallback_(ctx);
        return;
    }
    x.refuse(404);
}

}  // namespace vstream::router
