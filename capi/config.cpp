// vs_config_t: a ServerConfig behind typed setters, each checking its own value's rule (rules
// between two values wait for vs_server_new, which runs ServerConfig::validate()).
#include "internal.hpp"

#include <chrono>
#include <limits>
#include <string>

using vstream::capi::fail;
using vstream::capi::guard;
using vstream::capi::live;

namespace {

constexpr std::uint64_t kMaxTimeoutMs = std::uint64_t{1} << 40;  // ~35 years: no overflow

// The field behind a VS_LIMIT_* value, with the smallest and largest value it takes.
struct LimitField {
    std::uint64_t min;
    std::uint64_t max;
    std::size_t* size = nullptr;
    std::uint64_t* u64 = nullptr;
};

bool limit_field(vstream::ServerConfig& c, int limit, LimitField& out) noexcept {
    constexpr std::uint64_t kMax = std::numeric_limits<std::size_t>::max();
    constexpr std::uint64_t kGiB = std::uint64_t{1} << 30;
    auto& l = c.limits;
    auto& f = c.file_cache;
    switch (limit) {
        case VS_LIMIT_MAX_REQUEST_LINE: out = {16, kGiB, &l.max_request_line}; return true;
        case VS_LIMIT_MAX_HEADER_BYTES: out = {64, kGiB, &l.max_header_bytes}; return true;
        case VS_LIMIT_MAX_HEADER_COUNT: out = {1, 1u << 20, &l.max_header_count}; return true;
        case VS_LIMIT_MAX_BODY_BYTES: out = {0, kMax, &l.max_body_bytes}; return true;
        case VS_LIMIT_MAX_STREAM_BODY_BYTES:
            out = {1, std::numeric_limits<std::uint64_t>::max(), nullptr, &l.max_stream_body_bytes};
            return true;
        case VS_LIMIT_MAX_CONNECTIONS: out = {1, kMax, &l.max_connections}; return true;
        case VS_LIMIT_WRITE_HIGH_WATER: out = {1, kMax, &l.write_high_water}; return true;
        case VS_LIMIT_WRITE_LOW_WATER: out = {0, kMax, &l.write_low_water}; return true;
        case VS_LIMIT_MAX_RANGES: out = {1, 64, &l.max_ranges}; return true;
        case VS_LIMIT_CACHE_MAX_MAPPED_BYTES: out = {1, kMax, &f.max_mapped_bytes}; return true;
        case VS_LIMIT_CACHE_MAX_ENTRIES: out = {1, kMax, &f.max_entries}; return true;
        case VS_LIMIT_CACHE_WINDOW_THRESHOLD: out = {0, kMax, &f.window_threshold}; return true;
        case VS_LIMIT_CACHE_WINDOW_SIZE: out = {4096, kGiB, &f.window_size}; return true;
        default: return false;
    }
}

std::chrono::milliseconds* timeout_field(vstream::ServerConfig& c, int timeout,
                                         bool& zero_ok) noexcept {
    auto& t = c.timeouts;
    zero_ok = false;
    switch (timeout) {
        case VS_TIMEOUT_HEADER: return &t.header;
        case VS_TIMEOUT_KEEP_ALIVE: return &t.keep_alive;
        case VS_TIMEOUT_BODY_READ: return &t.body_read;
        case VS_TIMEOUT_STREAM_BODY: return &t.stream_body;
        case VS_TIMEOUT_WRITE: return &t.write;
        case VS_TIMEOUT_LINGER: return &t.linger;
        case VS_TIMEOUT_SHUTDOWN_GRACE: return &t.shutdown_grace;
        case VS_TIMEOUT_CACHE_REVALIDATE: zero_ok = true; return &c.file_cache.revalidate;
        case VS_TIMEOUT_CACHE_IDLE: return &c.file_cache.idle;
        case VS_TIMEOUT_ACCEPT_BACKOFF: return &t.accept_backoff;
        default: return nullptr;
    }
}

bool* flag_field(vstream::ServerConfig& c, int flag) noexcept {
    switch (flag) {
        case VS_FLAG_REDIRECT_TRAILING_SLASH: return &c.router.redirect_trailing_slash;
        case VS_FLAG_METHOD_NOT_ALLOWED: return &c.router.method_not_allowed;
        case VS_FLAG_AUTO_OPTIONS: return &c.router.auto_options;
        case VS_FLAG_RAISE_FD_LIMIT: return &c.raise_fd_limit;
        default: return nullptr;
    }
}

// Runs `fn(config)` on a live handle.
template <class F>
int with_config(vs_config_t* cfg, F&& fn) noexcept {
    return vstream::capi::with_live(cfg, [&](vs_config_t& h) { return fn(h.config); });
}

// The header promises numeric addresses only, checked at the setter rather than at start().
// The rule is ServerConfig::validate()'s, so the C and C++ APIs accept the same addresses: a
// config holding defaults (which are valid) and this one address is validated, and its
// Error (invalid_argument, naming the address) becomes VS_EINVAL in guard().
int check_address(const char* address) {
    if (address == nullptr) return fail(VS_EINVAL, "address is NULL");
    vstream::ServerConfig probe;
    probe.addresses = {address};
    probe.validate();
    return VS_OK;
}

}  // namespace

extern "C" {

int vs_config_new(vs_config_t** out) { return vstream::capi::new_handle(out); }

void vs_config_free(vs_config_t* cfg) { delete live(cfg); }

int vs_config_set_port(vs_config_t* cfg, unsigned port) {
    return with_config(cfg, [&](vstream::ServerConfig& c) {
        if (port > 65535) return fail(VS_EINVAL, "port must be from 0 to 65535");
        c.port = static_cast<std::uint16_t>(port);
        return VS_OK;
    });
}

int vs_config_set_address(vs_config_t* cfg, const char* address) {
    return with_config(cfg, [&](vstream::ServerConfig& c) {
        if (int rc = check_address(address); rc != VS_OK) return rc;
        c.addresses = {address};
        return VS_OK;
    });
}

int vs_config_add_address(vs_config_t* cfg, const char* address) {
    return with_config(cfg, [&](vstream::ServerConfig& c) {
        if (int rc = check_address(address); rc != VS_OK) return rc;
        c.addresses.emplace_back(address);
        return VS_OK;
    });
}

int vs_config_add_listener(vs_config_t* cfg, const char* address, unsigned port, unsigned flags) {
    return with_config(cfg, [&](vstream::ServerConfig& c) {
        if (int rc = check_address(address); rc != VS_OK) return rc;
        if (port > 65535) return fail(VS_EINVAL, "port must be from 0 to 65535");
        if ((flags & ~unsigned{VS_LISTEN_TLS}) != 0) {
            return fail(VS_EINVAL, "listener flags must be 0 or VS_LISTEN_TLS");
        }
        // Validated with the listeners already there, so a duplicate fails here, not at start
        // (as plain listeners: the TLS settings are checked by vs_server_new).
        vstream::ServerConfig probe;
        probe.listeners = c.listeners;
        probe.listeners.push_back(vstream::Listener{address, static_cast<std::uint16_t>(port)});
        for (vstream::Listener& l : probe.listeners) l.tls = false;
        probe.validate();
        c.listeners.push_back(vstream::Listener{address, static_cast<std::uint16_t>(port),
                                                (flags & VS_LISTEN_TLS) != 0});
        return VS_OK;
    });
}

int vs_config_set_threads(vs_config_t* cfg, unsigned threads) {
    return with_config(cfg, [&](vstream::ServerConfig& c) {
        if (threads > 1024) return fail(VS_EINVAL, "threads must be at most 1024");
        c.threads = threads;
        return VS_OK;
    });
}

int vs_config_set_backlog(vs_config_t* cfg, int backlog) {
    return with_config(cfg, [&](vstream::ServerConfig& c) {
        if (backlog < 1) return fail(VS_EINVAL, "backlog must be positive");
        c.backlog = backlog;
        return VS_OK;
    });
}

int vs_config_set_server_name(vs_config_t* cfg, const char* name) {
    return with_config(cfg, [&](vstream::ServerConfig& c) {
        if (name == nullptr) return fail(VS_EINVAL, "name is NULL");
        for (const char* p = name; *p != '\0'; ++p) {
            const auto ch = static_cast<unsigned char>(*p);
            if (ch < 0x20 || ch == 0x7f) {
                return fail(VS_EINVAL, "server name must not hold control characters");
            }
        }
        c.server_name = name;
        return VS_OK;
    });
}

int vs_config_set_limit(vs_config_t* cfg, int limit, std::uint64_t value) {
    return with_config(cfg, [&](vstream::ServerConfig& c) {
        LimitField f{};
        if (!limit_field(c, limit, f)) return fail(VS_EINVAL, "unknown VS_LIMIT_* value");
        if (value < f.min || value > f.max) {
            return fail(VS_EINVAL, "limit value out of range (" + std::to_string(f.min) + ".." +
                                       std::to_string(f.max) + ")");
        }
        if (f.size != nullptr) *f.size = static_cast<std::size_t>(value);
        if (f.u64 != nullptr) *f.u64 = value;
        return VS_OK;
    });
}

int vs_config_get_limit(const vs_config_t* cfg, int limit, std::uint64_t* out) {
    return with_config(const_cast<vs_config_t*>(cfg), [&](vstream::ServerConfig& c) {
        LimitField f{};
        if (!limit_field(c, limit, f)) return fail(VS_EINVAL, "unknown VS_LIMIT_* value");
        if (out == nullptr) return fail(VS_EINVAL, "out is NULL");
        *out = f.size != nullptr ? *f.size : *f.u64;
        return VS_OK;
    });
}

int vs_config_set_timeout(vs_config_t* cfg, int timeout, std::uint64_t ms) {
    return with_config(cfg, [&](vstream::ServerConfig& c) {
        bool zero_ok = false;
        auto* field = timeout_field(c, timeout, zero_ok);
        if (field == nullptr) return fail(VS_EINVAL, "unknown VS_TIMEOUT_* value");
        if ((ms == 0 && !zero_ok) || ms > kMaxTimeoutMs) {
            return fail(VS_EINVAL, zero_ok ? "timeout too large"
                                           : "timeout must be positive (and below 2^40 ms)");
        }
        *field = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
        return VS_OK;
    });
}

int vs_config_get_timeout(const vs_config_t* cfg, int timeout, std::uint64_t* out) {
    return with_config(const_cast<vs_config_t*>(cfg), [&](vstream::ServerConfig& c) {
        bool zero_ok = false;
        auto* field = timeout_field(c, timeout, zero_ok);
        if (field == nullptr) return fail(VS_EINVAL, "unknown VS_TIMEOUT_* value");
        if (out == nullptr) return fail(VS_EINVAL, "out is NULL");
        *out = static_cast<std::uint64_t>(field->count());
        return VS_OK;
    });
}

int vs_config_set_flag(vs_config_t* cfg, int flag, int on) {
    return with_config(cfg, [&](vstream::ServerConfig& c) {
        bool* field = flag_field(c, flag);
        if (field == nullptr) return fail(VS_EINVAL, "unknown VS_FLAG_* value");
        *field = on != 0;
        return VS_OK;
    });
}

int vs_config_get_flag(const vs_config_t* cfg, int flag) {
    return with_config(const_cast<vs_config_t*>(cfg), [&](vstream::ServerConfig& c) {
        bool* field = flag_field(c, flag);
        if (field == nullptr) return fail(VS_EINVAL, "unknown VS_FLAG_* value");
        return *field ? 1 : 0;
    });
}

}  // extern "C"
