// TLS for HTTPS listeners: certificates (chosen by SNI), protocol versions, ciphers, ALPN,
// session resumption and client certificates. Implemented by src/tls/ (tls.cpp validates the
// options; tls_context.cpp builds the OpenSSL contexts from them). See docs/tls.md.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace vstream {

/// A certificate chain and its private key, both PEM files. Plain data; the paths are read
/// when a TLS context is built from the options (at start, and at each reload), never later.
struct TlsCertificate {
    /// PEM file: the server's certificate first, then the intermediates that chain it to a
    /// root (the root itself may be left out). Required.
    std::string cert_file;
    /// PEM file: the certificate's private key, unencrypted. An encrypted key is refused
    /// rather than prompted for: a server has nobody to ask for a passphrase. Required.
    std::string key_file;
};

/// A TLS protocol version. Only these two exist here: TLS 1.0 and 1.1 are never offered
/// (RFC 8996), and TLS 1.3 is always the highest.
enum class TlsVersion {
    tls1_2,  ///< TLS 1.2 (RFC 5246)
    tls1_3,  ///< TLS 1.3 (RFC 8446)
};

/// How a listener speaks TLS. Plain data, copied by whoever takes it; no thread affinity.
/// validate() checks the fields alone; the files are read when a TLS context is built from
/// the options, which throws naming the file (see docs/tls.md). Renegotiation and TLS-level
/// compression are always off, and the server's cipher order always wins.
struct TlsOptions {
    /// Certificate/key pairs; at least one. For each handshake, SNI (RFC 6066 §3) picks the
    /// first pair whose certificate presents the client's server_name: among its
    /// subjectAltName DNS entries (its subject CN only if it has none), an exact name
    /// (ASCII case-insensitive) before any wildcard, and a wildcard "*.example.com" as the
    /// whole left-most label, matching exactly one label (RFC 6125 §6.4.3:
    /// "a.example.com", not "example.com" nor "a.b.example.com"). The first pair is the
    /// default: it answers a client that sends no server_name or one that matches nothing.
    /// Default: none.
    std::vector<TlsCertificate> certificates;
    /// TLS 1.2 cipher list, in the server's order of preference (OpenSSL cipher-list
    /// syntax; names OpenSSL does not know are skipped, but at least one must remain).
    /// Unused when min_version is tls1_3. Default: Mozilla's "intermediate" list (server-side
    /// TLS guidelines v5.7): ECDHE with ECDSA or RSA, and DHE with RSA, each with AES-GCM or
    /// ChaCha20-Poly1305, AES-128-GCM first.
    std::string ciphers =
        "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
        "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
    /// TLS 1.3 cipher suites, in the server's order of preference (OpenSSL's
    /// SSL_CTX_set_ciphersuites syntax). Default:
    /// "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256".
    std::string ciphersuites =
        "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
    /// The lowest version accepted; a client offering only older versions is refused with a
    /// protocol_version alert. Default TlsVersion::tls1_2.
    TlsVersion min_version = TlsVersion::tls1_2;
    /// ALPN protocols (RFC 7301) offered, in the server's order of preference, each 1 to 255
    /// bytes. The first one the client also offers is chosen; if the client offers none of
    /// them, the handshake goes on without ALPN (the connection then speaks HTTP/1.1), as
    /// nginx does. Empty: ALPN is ignored. Default {"http/1.1"}.
    std::vector<std::string> alpn = {"http/1.1"};
    /// Sessions kept by the server for resumption by session id (TLS 1.2), and for TLS 1.3
    /// resumption when session_tickets is off; the oldest goes when it is full. 0 keeps none.
    /// At most 16,777,216. A session takes about 1 KiB. Default 20480 (OpenSSL's default).
    std::size_t session_cache_size = 20480;
    /// How long an established session may be resumed, by ticket or from the cache (the
    /// ticket_lifetime sent to TLS 1.3 clients). From 1 s to 7 days (RFC 8446 §4.6.1).
    /// Default 300 s (nginx's ssl_session_timeout).
    std::chrono::seconds session_timeout = std::chrono::seconds(300);
    /// Session tickets (RFC 5077; TLS 1.3 PSK tickets, RFC 8446 §4.6.1), sealed with keys the
    /// server makes itself and rotates every ticket_key_rotation, so no key file is needed.
    /// Off: TLS 1.2 resumes only by session id, and TLS 1.3 tickets only name an entry of the
    /// session cache. Default true.
    bool session_tickets = true;
    /// How long a ticket key seals new tickets before a fresh one replaces it. A key still
    /// opens tickets for one more period after that, so a ticket resumes for
    /// min(session_timeout, one to two periods). The keys live in memory only and survive a
    /// reload, not a restart. From 1 s to 7 days. Default 1 hour.
    std::chrono::seconds ticket_key_rotation = std::chrono::hours(1);
    /// PEM file of the CA certificates that client certificates must chain to (mutual TLS);
    /// their names are also sent in the CertificateRequest. Empty: no client certificate is
    /// asked for. Default empty.
    std::string client_ca_file;
    /// With client_ca_file: true refuses a client that sends no certificate; false lets it
    /// in, and verifies a certificate only when one is sent. A certificate that does not
    /// verify is always refused. Default true.
    bool require_client_certificate = true;
    /// How long a client has from connecting to finishing its handshake; one that has not
    /// by then (a stalled or slow-sending client) is closed. From 1 ms to 1 hour. Default
    /// 10 s.
    std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
    /// Handshakes in progress at once, over every TLS listener and loop of the server. A
    /// connection accepted beyond it is closed at once, before any TLS byte, so a flood of
    /// handshakes (each costs a key exchange) cannot take every core; stalled ones make way
    /// after handshake_timeout. At least 1. Default 1024.
    std::size_t max_handshakes = 1024;

    /// Checks every field; throws vstream::Error(errc::invalid_argument) naming the first
    /// invalid one ("TlsOptions.alpn[1] ..."). Reads no file. Any thread.
    void validate() const;
};

/// What a server's TLS listeners have done since start (Server::tls_stats()). Counted per
/// loop without locks and summed when asked, so the sum may lag a request or two. Every
/// handshake that began ends in exactly one of: completed, a failure, or still in progress.
struct TlsStats {
    std::uint64_t handshakes = 0;   ///< handshakes completed
    std::uint64_t resumed = 0;      ///< of them, sessions resumed (ticket or session cache)
    std::uint64_t in_progress = 0;  ///< handshakes under way now
    /// Handshakes that failed, by reason:
    std::uint64_t failed_timeout = 0;      ///< not done within TlsOptions::handshake_timeout
    std::uint64_t failed_version = 0;      ///< the client offered no version or cipher we accept
    std::uint64_t failed_certificate = 0;  ///< a client certificate missing or not verified
    std::uint64_t failed_plain_http = 0;   ///< plain HTTP on a TLS port (answered with 400)
    std::uint64_t failed_closed = 0;       ///< the client closed or reset mid-handshake
    std::uint64_t failed_protocol = 0;     ///< anything else: bytes that are not TLS, bad records
    /// Connections closed unhandshaken because TlsOptions::max_handshakes were under way.
    std::uint64_t refused_busy = 0;
    /// Which write path served each connection once its handshake was done: kernel TLS,
    /// with file bodies sent by SSL_sendfile, or OpenSSL encrypting in user space (file
    /// bodies read from their mapping). See docs/tls.md.
    std::uint64_t ktls_connections = 0;
    std::uint64_t userspace_connections = 0;
    std::uint64_t ktls_sendfile_bytes = 0;  ///< file bytes sent by SSL_sendfile (kernel TLS)
    /// Responses cut short because their file shrank while OpenSSL read it from the mapping
    /// (SIGBUS recovered; the connection was closed).
    std::uint64_t truncated_reads = 0;
};

}  // namespace vstream
