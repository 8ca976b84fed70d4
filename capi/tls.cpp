// The TLS settings of vs_config_t (TlsOptions behind typed setters), each checking its own
// value's rule; the files are read by vs_server_new and vs_server_reload_tls.
#include "internal.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

using vstream::capi::fail;

namespace {

template <class F>
int with_tls(vs_config_t* cfg, F&& fn) noexcept {
    return vstream::capi::with_live(cfg, [&](vs_config_t& h) { return fn(h.config.tls); });
}

constexpr std::uint64_t kWeekSeconds = 7 * 24 * 3600;

// "h2,http/1.1" -> {"h2", "http/1.1"}; "" -> {}. Empty entries are refused.
int parse_alpn(std::string_view text, std::vector<std::string>& out) {
    out.clear();
    if (text.empty()) return VS_OK;
    for (std::size_t start = 0;;) {
        const std::size_t comma = text.find(',', start);
        const std::string_view item = text.substr(start, comma - start);
        if (item.empty() || item.size() > 255) {
            return fail(VS_EINVAL, "VS_TLS_ALPN: each protocol must be 1 to 255 bytes");
        }
        out.emplace_back(item);
        if (comma == std::string_view::npos) return VS_OK;
        start = comma + 1;
    }
}

}  // namespace

extern "C" {

int vs_config_add_tls_certificate(vs_config_t* cfg, const char* cert_file, const char* key_file) {
    return with_tls(cfg, [&](vstream::TlsOptions& t) {
        if (cert_file == nullptr || *cert_file == '\0')
            return fail(VS_EINVAL, "cert_file is empty");
        if (key_file == nullptr || *key_file == '\0') return fail(VS_EINVAL, "key_file is empty");
        t.certificates.push_back({cert_file, key_file});
        return VS_OK;
    });
}

int vs_config_clear_tls_certificates(vs_config_t* cfg) {
    return with_tls(cfg, [&](vstream::TlsOptions& t) {
        t.certificates.clear();
        return VS_OK;
    });
}

int vs_config_set_tls_text(vs_config_t* cfg, int setting, const char* value) {
    return with_tls(cfg, [&](vstream::TlsOptions& t) {
        if (value == nullptr) return fail(VS_EINVAL, "value is NULL");
        switch (setting) {
            case VS_TLS_CIPHERS: t.ciphers = value; return VS_OK;
            case VS_TLS_CIPHERSUITES:
                if (*value == '\0') return fail(VS_EINVAL, "VS_TLS_CIPHERSUITES must not be empty");
                t.ciphersuites = value;
                return VS_OK;
            case VS_TLS_ALPN: return parse_alpn(value, t.alpn);
            case VS_TLS_CLIENT_CA_FILE: t.client_ca_file = value; return VS_OK;
            default: return fail(VS_EINVAL, "unknown VS_TLS_* text setting");
        }
    });
}

int vs_config_set_tls_value(vs_config_t* cfg, int setting, std::uint64_t value) {
    return with_tls(cfg, [&](vstream::TlsOptions& t) {
        const auto in = [&](std::uint64_t lo, std::uint64_t hi, const char* name) {
            return value >= lo && value <= hi
                       ? VS_OK
                       : fail(VS_EINVAL, std::string(name) + " must be from " + std::to_string(lo) +
                                             " to " + std::to_string(hi));
        };
        int rc = VS_OK;
        switch (setting) {
            case VS_TLS_MIN_VERSION:
                if (value != 12 && value != 13) {
                    return fail(VS_EINVAL, "VS_TLS_MIN_VERSION must be 12 or 13");
                }
                t.min_version =
                    value == 12 ? vstream::TlsVersion::tls1_2 : vstream::TlsVersion::tls1_3;
                return VS_OK;
            case VS_TLS_SESSION_CACHE_SIZE:
                if ((rc = in(0, std::uint64_t{1} << 24, "VS_TLS_SESSION_CACHE_SIZE")) == VS_OK) {
                    t.session_cache_size = static_cast<std::size_t>(value);
                }
                return rc;
            case VS_TLS_SESSION_TIMEOUT_S:
                if ((rc = in(1, kWeekSeconds, "VS_TLS_SESSION_TIMEOUT_S")) == VS_OK) {
                    t.session_timeout = std::chrono::seconds(value);
                }
                return rc;
            case VS_TLS_SESSION_TICKETS:
                if ((rc = in(0, 1, "VS_TLS_SESSION_TICKETS")) == VS_OK) t.session_tickets = value;
                return rc;
            case VS_TLS_TICKET_KEY_ROTATION_S:
                if ((rc = in(1, kWeekSeconds, "VS_TLS_TICKET_KEY_ROTATION_S")) == VS_OK) {
                    t.ticket_key_rotation = std::chrono::seconds(value);
                }
                return rc;
            case VS_TLS_REQUIRE_CLIENT_CERT:
                if ((rc = in(0, 1, "VS_TLS_REQUIRE_CLIENT_CERT")) == VS_OK) {
                    t.require_client_certificate = value;
                }
                return rc;
            case VS_TLS_HANDSHAKE_TIMEOUT_MS:
                if ((rc = in(1, 3600 * 1000, "VS_TLS_HANDSHAKE_TIMEOUT_MS")) == VS_OK) {
                    t.handshake_timeout = std::chrono::milliseconds(value);
                }
                return rc;
            case VS_TLS_MAX_HANDSHAKES:
                if ((rc = in(1, SIZE_MAX, "VS_TLS_MAX_HANDSHAKES")) == VS_OK) {
                    t.max_handshakes = static_cast<std::size_t>(value);
                }
                return rc;
            default: return fail(VS_EINVAL, "unknown VS_TLS_* value setting");
        }
    });
}

int vs_config_get_tls_value(const vs_config_t* cfg, int setting, std::uint64_t* out) {
    return with_tls(const_cast<vs_config_t*>(cfg), [&](vstream::TlsOptions& t) {
        if (out == nullptr) return fail(VS_EINVAL, "out is NULL");
        switch (setting) {
            case VS_TLS_MIN_VERSION:
                *out = t.min_version == vstream::TlsVersion::tls1_2 ? 12 : 13;
                return VS_OK;
            case VS_TLS_SESSION_CACHE_SIZE: *out = t.session_cache_size; return VS_OK;
            case VS_TLS_SESSION_TIMEOUT_S:
                *out = static_cast<std::uint64_t>(t.session_timeout.count());
                return VS_OK;
            case VS_TLS_SESSION_TICKETS: *out = t.session_tickets ? 1 : 0; return VS_OK;
            case VS_TLS_TICKET_KEY_ROTATION_S:
                *out = static_cast<std::uint64_t>(t.ticket_key_rotation.count());
                return VS_OK;
            case VS_TLS_REQUIRE_CLIENT_CERT:
                *out = t.require_client_certificate ? 1 : 0;
                return VS_OK;
            case VS_TLS_HANDSHAKE_TIMEOUT_MS:
                *out = static_cast<std::uint64_t>(t.handshake_timeout.count());
                return VS_OK;
            case VS_TLS_MAX_HANDSHAKES: *out = t.max_handshakes; return VS_OK;
            default: return fail(VS_EINVAL, "unknown VS_TLS_* value setting");
        }
    });
}

}  // extern "C"
