#include <vstream/error.hpp>
#include <vstream/tls.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace vstream {

namespace {

void require(bool ok, const std::string& field, const char* rule) {
    if (!ok) throw Error(errc::invalid_argument, "TlsOptions." + field + " " + rule);
}

// OpenSSL takes these as C strings: a NUL would silently cut a path or a cipher list short.
void require_no_nul(std::string_view value, const std::string& field) {
    require(value.find('\0') == std::string_view::npos, field, "must not hold a NUL byte");
}

}  // namespace

void TlsOptions::validate() const {
    require(!certificates.empty(), "certificates", "must hold at least one certificate");
    for (std::size_t i = 0; i < certificates.size(); ++i) {
        const std::string field = "certificates[" + std::to_string(i) + "]";
        require(!certificates[i].cert_file.empty(), field + ".cert_file", "must not be empty");
        require(!certificates[i].key_file.empty(), field + ".key_file", "must not be empty");
        require_no_nul(certificates[i].cert_file, field + ".cert_file");
        require_no_nul(certificates[i].key_file, field + ".key_file");
    }
    require(min_version == TlsVersion::tls1_2 || min_version == TlsVersion::tls1_3, "min_version",
            "must be TlsVersion::tls1_2 or TlsVersion::tls1_3");
    // The TLS 1.2 list matters only when TLS 1.2 can be negotiated.
    require(min_version == TlsVersion::tls1_3 || !ciphers.empty(), "ciphers",
            "must not be empty while TLS 1.2 is accepted");
    require_no_nul(ciphers, "ciphers");
    require(!ciphersuites.empty(), "ciphersuites", "must not be empty");
    require_no_nul(ciphersuites, "ciphersuites");
    for (std::size_t i = 0; i < alpn.size(); ++i) {
        // RFC 7301 §3.1: a ProtocolName is 1 to 255 bytes.
        require(!alpn[i].empty() && alpn[i].size() <= 255, "alpn[" + std::to_string(i) + "]",
                "must be 1 to 255 bytes long");
    }
    require(session_cache_size <= (std::size_t{1} << 24), "session_cache_size",
            "must be at most 16777216");
    // RFC 8446 §4.6.1: a ticket lifetime above seven days is not allowed.
    constexpr std::chrono::seconds kWeek = std::chrono::hours(24 * 7);
    require(session_timeout >= std::chrono::seconds(1) && session_timeout <= kWeek,
            "session_timeout", "must be from 1 s to 7 days");
    require(ticket_key_rotation >= std::chrono::seconds(1) && ticket_key_rotation <= kWeek,
            "ticket_key_rotation", "must be from 1 s to 7 days");
    require_no_nul(client_ca_file, "client_ca_file");
    require(handshake_timeout >= std::chrono::milliseconds(1) &&
                handshake_timeout <= std::chrono::hours(1),
            "handshake_timeout", "must be from 1 ms to 1 hour");
    require(max_handshakes >= 1, "max_handshakes", "must be at least 1");
}

}  // namespace vstream
