// vs_group_t: routes, nested groups, middleware (C and built-in) and static directories.
#include "internal.hpp"

#include <string>
#include <vector>

using vstream::capi::fail;
using vstream::capi::guard;
using vstream::capi::live;
using vstream::capi::own_userdata;
using vstream::capi::SharedUserdata;

namespace vstream::capi {

Handler make_handler(vs_handler_cb fn, SharedUserdata ud) {
    return [fn, ud = std::move(ud)](Context& c) {
        with_ctx(c, [&](vs_ctx_t* h) { fn(h, ud->get()); });
    };
}

}  // namespace vstream::capi

namespace {

// Runs `fn(group)` on a live group handle. `ud` (if any) is owned first, so that it is freed
// once whichever way registration ends.
template <class F>
int with_group(vs_group_t* group, F&& fn) noexcept {
    return guard([&] {
        vs_group_t* g = live(group);
        if (g == nullptr || live(g->server) == nullptr)
            return fail(VS_EINVAL, "not a live vs_group_t");
        return fn(*g->group);
    });
}

// "GET, POST" -> {"GET", "POST"}: comma-separated, whitespace trimmed, empty items dropped.
std::vector<std::string> split_list(const char* list) {
    std::vector<std::string> out;
    std::string_view rest = vstream::capi::view(list);
    while (!rest.empty()) {
        const std::size_t comma = rest.find(',');
        const std::string_view item = vstream::trim_ows(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (!item.empty()) out.emplace_back(item);
    }
    return out;
}

vstream::middleware::LogSink make_sink(vs_log_cb fn, SharedUserdata ud) {
    if (fn == nullptr) return {};
    return [fn, ud = std::move(ud)](std::string_view line) {
        const std::string text(line);  // NUL-terminated for C
        fn(text.c_str(), text.size(), ud->get());
    };
}

// A built-in middleware given no callback (a NULL sink: stderr) holds no userdata itself; the
// contract still frees userdata with the server, never earlier, so the middleware keeps it.
vstream::Middleware holding(vstream::Middleware m, SharedUserdata ud) {
    return [m = std::move(m), ud = std::move(ud)](vstream::Context& c, vstream::Next next) {
        m(c, next);
    };
}

int add_route(vs_group_t* group, const char* method, const char* pattern, vs_handler_cb handler,
              void* userdata, vs_free_cb userdata_free, bool streaming) {
    return guard([&] {
        auto ud = own_userdata(userdata, userdata_free);
        return with_group(group, [&](vstream::RouteGroup& g) {
            if (method == nullptr || pattern == nullptr || handler == nullptr) {
                return fail(VS_EINVAL, "method, pattern and handler are required");
            }
            auto h = vstream::capi::make_handler(handler, std::move(ud));
            if (streaming) {
                g.handle_stream(method, pattern, std::move(h));
            } else {
                g.handle(method, pattern, std::move(h));
            }
            return VS_OK;
        });
    });
}

}  // namespace

extern "C" {

int vs_group_nested(vs_group_t* parent, const char* prefix, vs_group_t** out) {
    return with_group(parent, [&](vstream::RouteGroup& g) {
        if (prefix == nullptr || out == nullptr)
            return fail(VS_EINVAL, "prefix and out are required");
        vstream::RouteGroup& child = g.group(prefix);
        vs_group_t& handle = parent->server->groups.emplace_back();
        handle.server = parent->server;
        handle.group = &child;
        *out = &handle;
        return VS_OK;
    });
}

const char* vs_group_prefix(const vs_group_t* group) {
    const vs_group_t* g = live(group);
    return g != nullptr ? g->group->prefix().c_str() : nullptr;
}

int vs_group_use(vs_group_t* group, vs_middleware_cb middleware, void* userdata,
                 vs_free_cb userdata_free) {
    return guard([&] {
        auto ud = own_userdata(userdata, userdata_free);
        return with_group(group, [&](vstream::RouteGroup& g) {
            if (middleware == nullptr) return fail(VS_EINVAL, "middleware is NULL");
            g.use([middleware, ud](vstream::Context& c, vstream::Next next) {
                with_ctx(c, [&](vs_ctx_t* h) { middleware(h, h->add_next(next), ud->get()); });
            });
            return VS_OK;
        });
    });
}

int vs_group_route(vs_group_t* group, const char* method, const char* pattern,
                   vs_handler_cb handler, void* userdata, vs_free_cb userdata_free) {
    return add_route(group, method, pattern, handler, userdata, userdata_free, false);
}

int vs_group_route_stream(vs_group_t* group, const char* method, const char* pattern,
                          vs_handler_cb handler, void* userdata, vs_free_cb userdata_free) {
    return add_route(group, method, pattern, handler, userdata, userdata_free, true);
}

int vs_group_static(vs_group_t* group, const char* prefix, const char* root,
                    const vs_static_options_t* options) {
    return with_group(group, [&](vstream::RouteGroup& g) {
        if (prefix == nullptr || root == nullptr)
            return fail(VS_EINVAL, "prefix and root are required");
        if (options != nullptr && live(options) == nullptr) {
            return fail(VS_EINVAL, "not a live vs_static_options_t");
        }
        g.serve_static(prefix, root,
                       options != nullptr ? options->options : vstream::StaticOptions{});
        return VS_OK;
    });
}

int vs_group_use_access_log(vs_group_t* group, size_t queue_lines, vs_log_cb sink, void* userdata,
                            vs_free_cb userdata_free) {
    return guard([&] {
        auto ud = own_userdata(userdata, userdata_free);
        return with_group(group, [&](vstream::RouteGroup& g) {
            vstream::middleware::AccessLogOptions o;
            o.sink = make_sink(sink, ud);
            if (queue_lines != 0) o.queue_lines = queue_lines;
            auto mw = vstream::middleware::access_log(std::move(o));
            g.use(sink == nullptr ? holding(std::move(mw), std::move(ud)) : std::move(mw));
            return VS_OK;
        });
    });
}

int vs_group_use_request_id(vs_group_t* group, const char* header, int trust_incoming) {
    return with_group(group, [&](vstream::RouteGroup& g) {
        vstream::middleware::RequestIdOptions o;
        if (header != nullptr) {
            if (*header == '\0') return fail(VS_EINVAL, "header is empty");
            o.header = header;
        }
        o.trust_incoming = trust_incoming != 0;
        g.use(vstream::middleware::request_id(std::move(o)));
        return VS_OK;
    });
}

int vs_group_use_recovery(vs_group_t* group, vs_log_cb log, void* userdata,
                          vs_free_cb userdata_free) {
    return guard([&] {
        auto ud = own_userdata(userdata, userdata_free);
        return with_group(group, [&](vstream::RouteGroup& g) {
            vstream::middleware::RecoveryOptions o;
            o.log = make_sink(log, ud);
            auto mw = vstream::middleware::recovery(std::move(o));
            g.use(log == nullptr ? holding(std::move(mw), std::move(ud)) : std::move(mw));
            return VS_OK;
        });
    });
}

int vs_group_use_rate_limit(vs_group_t* group, double rate, double burst, size_t max_clients,
                            const char* key_header, const char* trusted_proxies) {
    return with_group(group, [&](vstream::RouteGroup& g) {
        // NaN fails both comparisons, so it is refused too.
        if (!(rate > 0) || !(burst >= 1)) return fail(VS_EINVAL, "rate must be > 0 and burst >= 1");
        vstream::middleware::RateLimitOptions o;
        o.rate = rate;
        o.burst = burst;
        if (max_clients != 0) o.max_clients = max_clients;
        if (key_header != nullptr) o.key_header = key_header;
        o.trusted_proxies = split_list(trusted_proxies);
        g.use(vstream::middleware::rate_limit(std::move(o)));
        return VS_OK;
    });
}

int vs_group_use_cors(vs_group_t* group, const char* allow_origins, const char* allow_methods,
                      const char* allow_headers, const char* expose_headers, int allow_credentials,
                      long max_age_s) {
    return with_group(group, [&](vstream::RouteGroup& g) {
        vstream::middleware::CorsOptions o;
        if (allow_origins != nullptr) o.allow_origins = split_list(allow_origins);
        if (allow_methods != nullptr) o.allow_methods = split_list(allow_methods);
        if (allow_headers != nullptr) o.allow_headers = split_list(allow_headers);
        if (expose_headers != nullptr) o.expose_headers = split_list(expose_headers);
        o.allow_credentials = allow_credentials != 0;
        if (max_age_s >= 0) o.max_age = std::chrono::seconds(max_age_s);
        g.use(vstream::middleware::cors(std::move(o)));
        return VS_OK;
    });
}

// ---- static directory options ----

int vs_static_options_new(vs_static_options_t** out) { return vstream::capi::new_handle(out); }

void vs_static_options_free(vs_static_options_t* opts) { delete live(opts); }

}  // extern "C"

namespace {
template <class F>
int with_static(vs_static_options_t* opts, F&& fn) noexcept {
    return vstream::capi::with_live(opts, [&](vs_static_options_t& h) { return fn(h.options); });
}
}  // namespace

extern "C" {

int vs_static_options_set_index(vs_static_options_t* opts, const char* index) {
    return with_static(opts, [&](vstream::StaticOptions& o) {
        if (index == nullptr) return fail(VS_EINVAL, "index is NULL");
        if (std::string_view(index).find('/') != std::string_view::npos) {
            return fail(VS_EINVAL, "index must be a file name, without '/'");
        }
        o.index = index;
        return VS_OK;
    });
}

int vs_static_options_set_listing(vs_static_options_t* opts, int on) {
    return with_static(opts, [&](vstream::StaticOptions& o) {
        o.listing = on != 0;
        return VS_OK;
    });
}

int vs_static_options_set_dotfiles(vs_static_options_t* opts, int on) {
    return with_static(opts, [&](vstream::StaticOptions& o) {
        o.dotfiles = on != 0;
        return VS_OK;
    });
}

int vs_static_options_set_symlinks_outside_root(vs_static_options_t* opts, int on) {
    return with_static(opts, [&](vstream::StaticOptions& o) {
        o.symlinks_outside_root = on != 0;
        return VS_OK;
    });
}

int vs_static_options_add_mime_type(vs_static_options_t* opts, const char* ext,
                                    const char* content_type) {
    return with_static(opts, [&](vstream::StaticOptions& o) {
        if (ext == nullptr || *ext == '\0' || content_type == nullptr || *content_type == '\0') {
            return fail(VS_EINVAL, "ext and content_type are required");
        }
        o.mime_types.emplace_back(ext, content_type);
        return VS_OK;
    });
}

int vs_static_options_set_limit_rate(vs_static_options_t* opts, std::uint64_t rate,
                                     std::uint64_t after) {
    return with_static(opts, [&](vstream::StaticOptions& o) {
        o.limit_rate = rate;
        o.limit_rate_after = after;
        return VS_OK;
    });
}

int vs_static_options_set_cache_control(vs_static_options_t* opts, const char* value) {
    return with_static(opts, [&](vstream::StaticOptions& o) {
        if (int rc = vstream::capi::check_header_value(value); rc != VS_OK) {
            return rc;
        }
        o.cache_control = value;
        return VS_OK;
    });
}

}  // extern "C"
