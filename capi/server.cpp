// vs_server_t: a Server, its root group and the nested groups C has been handed.
#include "internal.hpp"

#include <uv.h>

#include <iterator>

using vstream::capi::fail;
using vstream::capi::guard;
using vstream::capi::live;

static_assert(sizeof(uv_loop_t) > 0 && std::is_same_v<uv_loop_t, uv_loop_s>,
              "vs_server_attach's struct uv_loop_s is libuv's uv_loop_t");

namespace {

template <class F>
int with_server(const vs_server_t* srv, F&& fn) noexcept {
    return vstream::capi::with_live(const_cast<vs_server_t*>(srv),
                                    [&](vs_server_t& h) { return fn(*h.server); });
}

}  // namespace

extern "C" {

int vs_server_new(vs_server_t** out, const vs_config_t* cfg) {
    return guard([&] {
        if (out == nullptr) return fail(VS_EINVAL, "out is NULL");
        *out = nullptr;
        if (cfg != nullptr && live(cfg) == nullptr)
            return fail(VS_EINVAL, "not a live vs_config_t");
        auto s = std::make_unique<vs_server_t>();
        s->server = std::make_unique<vstream::Server>(cfg != nullptr ? cfg->config
                                                                     : vstream::ServerConfig{});
        s->root.server = s.get();
        s->root.group = s->server.get();
        *out = s.release();
        return VS_OK;
    });
}

int vs_server_free(vs_server_t* srv) {
    if (srv == nullptr) return VS_OK;
    return guard([&] {
        vs_server_t* s = live(srv);
        if (s == nullptr) return fail(VS_EINVAL, "not a live vs_server_t");
        if (s->server->inside_loop()) {
            return fail(VS_EBUSY, "a server cannot be freed from its own callbacks");
        }
        if (s->freeing.exchange(true)) {
            return fail(VS_EBUSY, "the server is being freed already (from a callback of it?)");
        }
        delete s;  // stops, joins, and frees every route's userdata
        return VS_OK;
    });
}

int vs_server_start(vs_server_t* srv) {
    return with_server(srv, [](vstream::Server& s) {
        s.start();
        return VS_OK;
    });
}

int vs_server_run(vs_server_t* srv) {
    return with_server(srv, [](vstream::Server& s) {
        s.run();
        return VS_OK;
    });
}

int vs_server_attach(vs_server_t* srv, struct uv_loop_s* loop) {
    return with_server(srv, [&](vstream::Server& s) {
        if (loop == nullptr) return fail(VS_EINVAL, "loop is NULL");
        s.attach(loop);
        return VS_OK;
    });
}

int vs_server_stop(vs_server_t* srv) {
    return with_server(srv, [](vstream::Server& s) {
        s.stop();
        return VS_OK;
    });
}

int vs_server_wait(vs_server_t* srv) {
    return with_server(srv, [](vstream::Server& s) {
        // From a handler the wait would hold up the very loop that has to finish the stop.
        if (s.inside_loop()) return fail(VS_EBUSY, "vs_server_wait from the server's own callback");
        s.wait();
        return VS_OK;
    });
}

int vs_server_port(const vs_server_t* srv) {
    return with_server(srv, [](vstream::Server& s) { return static_cast<int>(s.port()); });
}

int vs_server_listener_port(const vs_server_t* srv, size_t index) {
    return with_server(srv, [&](vstream::Server& s) {
        const std::vector<std::uint16_t> ports = s.ports();
        if (ports.empty()) return 0;  // nothing bound yet
        if (index >= ports.size()) return fail(VS_ENOENT, "no listener with that index");
        return static_cast<int>(ports[index]);
    });
}

int vs_server_running(const vs_server_t* srv) {
    return with_server(srv, [](vstream::Server& s) { return s.running() ? 1 : 0; });
}

int vs_server_stat(const vs_server_t* srv, int stat, std::uint64_t* out) {
    return with_server(srv, [&](vstream::Server& s) {
        if (out == nullptr) return fail(VS_EINVAL, "out is NULL");
        if (stat >= VS_STAT_CACHE_HITS && stat <= VS_STAT_CACHE_OPEN_ENTRIES) {
            const vstream::FileCacheStats f = s.file_cache_stats();
            switch (stat) {
                case VS_STAT_CACHE_HITS: *out = f.hits; break;
                case VS_STAT_CACHE_MISSES: *out = f.misses; break;
                case VS_STAT_CACHE_EVICTIONS: *out = f.evictions; break;
                case VS_STAT_CACHE_MAPPED_BYTES: *out = f.mapped_bytes; break;
                default: *out = f.open_entries; break;
            }
            return VS_OK;
        }
        if (stat >= VS_STAT_TLS_HANDSHAKES && stat <= VS_STAT_TLS_TRUNCATED_READS) {
            const vstream::TlsStats t = s.tls_stats();
            const std::uint64_t values[] = {
                t.handshakes,          t.resumed,          t.in_progress,
                t.failed_timeout,      t.failed_version,   t.failed_certificate,
                t.failed_plain_http,   t.failed_closed,    t.failed_protocol,
                t.refused_busy,        t.ktls_connections, t.userspace_connections,
                t.ktls_sendfile_bytes, t.truncated_reads};
            static_assert(std::size(values) ==
                          VS_STAT_TLS_TRUNCATED_READS - VS_STAT_TLS_HANDSHAKES + 1);
            *out = values[stat - VS_STAT_TLS_HANDSHAKES];
            return VS_OK;
        }
        const vstream::ServerStats st = s.stats();
        switch (stat) {
            case VS_STAT_CONNECTIONS_ACCEPTED: *out = st.connections_accepted; return VS_OK;
            case VS_STAT_CONNECTIONS_REJECTED: *out = st.connections_rejected; return VS_OK;
            case VS_STAT_CONNECTIONS_OPEN: *out = st.connections_open; return VS_OK;
            case VS_STAT_REQUESTS: *out = st.requests; return VS_OK;
            case VS_STAT_CONNECTIONS_REFUSED: *out = st.connections_refused; return VS_OK;
            default: return fail(VS_EINVAL, "unknown VS_STAT_* value");
        }
    });
}

int vs_server_reload_tls(vs_server_t* srv, const vs_config_t* cfg) {
    return with_server(srv, [&](vstream::Server& s) {
        if (cfg == nullptr) {
            s.reload_tls();
            return VS_OK;
        }
        const vs_config_t* c = live(cfg);
        if (c == nullptr) return fail(VS_EINVAL, "not a live vs_config_t");
        s.reload_tls(c->config.tls);
        return VS_OK;
    });
}

vs_group_t* vs_server_root(vs_server_t* srv) {
    vs_server_t* s = live(srv);
    return s != nullptr ? &s->root : nullptr;
}

int vs_server_set_fallback(vs_server_t* srv, vs_handler_cb handler, void* userdata,
                           vs_free_cb userdata_free) {
    return guard([&] {
        auto ud = vstream::capi::own_userdata(userdata, userdata_free);
        vs_server_t* s = live(srv);
        if (s == nullptr) return fail(VS_EINVAL, "not a live vs_server_t");
        if (handler == nullptr) return fail(VS_EINVAL, "handler is NULL");
        s->server->handle(vstream::capi::make_handler(handler, std::move(ud)));
        return VS_OK;
    });
}

}  // extern "C"
