// TLS handshakes in memory, for tests: an OpenSSL client (verifying the server against a CA)
// and a server SSL, joined by a BIO pair and pumped in turn until both finish or one fails.
// No socket, no thread, no timing.
#pragma once

#include "tls/openssl_ptr.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace vstream::test {

/// How the test client connects.
struct TlsClientOptions {
    std::string server_name;         ///< SNI; empty sends none
    int min_version = 0;             ///< e.g. TLS1_VERSION; 0: OpenSSL's default
    int max_version = 0;             ///< e.g. TLS1_2_VERSION; 0: TLS 1.3
    std::vector<std::string> alpn;   ///< protocols offered, in order; empty offers none
    std::string ciphers;             ///< TLS 1.2 cipher list; empty: OpenSSL's default
    std::string cert_file;           ///< client certificate, if any
    std::string key_file;            ///< its key
    SSL_SESSION* session = nullptr;  ///< a session to resume (borrowed)
    /// Security level 0, so the client may offer what the system policy forbids (TLS 1.1).
    bool legacy = false;
};

/// The two ends of a handshake, and how it went.
struct TlsHandshake {
    tls::SslPtr client;
    tls::SslPtr server;
    bool ok = false;           ///< both ends finished their handshake
    int server_reason = 0;     ///< ERR_GET_REASON of the server's failure, 0 if none
    std::string server_error;  ///< its text
    std::string client_error;  ///< the client's failure, if it failed first

    /// Whether the server resumed a session.
    bool reused() const { return SSL_session_reused(server.get()) == 1; }
    /// The ALPN protocol the client was told, "" if none.
    std::string alpn() const {
        const unsigned char* p = nullptr;
        unsigned int n = 0;
        SSL_get0_alpn_selected(client.get(), &p, &n);
        return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
    }
    /// Whether the certificate the server presented is valid for `name` (X509_check_host).
    bool served_certificate_for(const std::string& name) const {
        X509* cert = SSL_get0_peer_certificate(client.get());
        return cert != nullptr && X509_check_host(cert, name.data(), name.size(), 0, nullptr) == 1;
    }
};

namespace detail {

// Runs one handshake step of `ssl`; true once it is done. A failure (not a wait for the
// peer) is recorded in `error` and `reason`, and sets `failed`.
inline bool tls_step(SSL* ssl, bool& failed, std::string& error, int* reason) {
    const int r = SSL_do_handshake(ssl);
    if (r == 1) return true;
    const int e = SSL_get_error(ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return false;
    failed = true;
    const unsigned long code = ERR_peek_error();
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    error = text.data();
    if (reason != nullptr) *reason = ERR_GET_REASON(code);
    ERR_clear_error();
    return false;
}

}  // namespace detail

/// A client context trusting `ca_file`, set up as `o` says.
inline tls::SslCtxPtr tls_client_ctx(const std::string& ca_file, const TlsClientOptions& o) {
    tls::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    REQUIRE(ctx);
    if (o.legacy) SSL_CTX_set_security_level(ctx.get(), 0);
    REQUIRE(SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) == 1);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    if (o.min_version != 0) REQUIRE(SSL_CTX_set_min_proto_version(ctx.get(), o.min_version) == 1);
    if (o.max_version != 0) REQUIRE(SSL_CTX_set_max_proto_version(ctx.get(), o.max_version) == 1);
    if (!o.ciphers.empty()) REQUIRE(SSL_CTX_set_cipher_list(ctx.get(), o.ciphers.c_str()) == 1);
    if (!o.cert_file.empty()) {
        REQUIRE(SSL_CTX_use_certificate_file(ctx.get(), o.cert_file.c_str(), SSL_FILETYPE_PEM) ==
                1);
        REQUIRE(SSL_CTX_use_PrivateKey_file(ctx.get(), o.key_file.c_str(), SSL_FILETYPE_PEM) == 1);
    }
    return ctx;
}

/// Runs a handshake between a test client (trusting `ca_file`) and `server` (a fresh server
/// SSL, e.g. from TlsContext::new_ssl()).
inline TlsHandshake tls_handshake(tls::SslPtr server, const std::string& ca_file,
                                  const TlsClientOptions& o = {}) {
    REQUIRE(server);
    const tls::SslCtxPtr ctx = tls_client_ctx(ca_file, o);
    TlsHandshake h;
    h.client.reset(SSL_new(ctx.get()));
    h.server = std::move(server);
    REQUIRE(h.client);
    if (!o.server_name.empty()) {
        REQUIRE(SSL_set_tlsext_host_name(h.client.get(), o.server_name.c_str()) == 1);
    }
    if (!o.alpn.empty()) {
        std::string wire;
        for (const std::string& p : o.alpn) wire += static_cast<char>(p.size()) + p;
        // SSL_set_alpn_protos returns 0 on success.
        REQUIRE(SSL_set_alpn_protos(h.client.get(),
                                    reinterpret_cast<const unsigned char*>(wire.data()),
                                    static_cast<unsigned int>(wire.size())) == 0);
    }
    if (o.session != nullptr) REQUIRE(SSL_set_session(h.client.get(), o.session) == 1);
    BIO* client_end = nullptr;
    BIO* server_end = nullptr;
    REQUIRE(BIO_new_bio_pair(&client_end, 0, &server_end, 0) == 1);
    SSL_set_bio(h.client.get(), client_end, client_end);
    SSL_set_bio(h.server.get(), server_end, server_end);
    SSL_set_connect_state(h.client.get());

    bool client_done = false;
    bool server_done = false;
    bool failed = false;
    for (int round = 0; round < 100 && !failed && !(client_done && server_done); ++round) {
        if (!client_done) {
            client_done = detail::tls_step(h.client.get(), failed, h.client_error, nullptr);
        }
        if (!server_done && !failed) {
            server_done =
                detail::tls_step(h.server.get(), failed, h.server_error, &h.server_reason);
        }
    }
    h.ok = client_done && server_done;
    return h;
}

/// After a finished handshake: the server sends a byte and the client reads it, which also
/// reads any TLS 1.3 NewSessionTicket sent after the handshake. Returns the client's session,
/// ready to resume.
inline tls::SslSessionPtr tls_session_after_data(TlsHandshake& h) {
    REQUIRE(h.ok);
    REQUIRE(SSL_write(h.server.get(), "x", 1) == 1);
    char c = 0;
    REQUIRE(SSL_read(h.client.get(), &c, 1) == 1);
    CHECK(c == 'x');
    tls::SslSessionPtr session(SSL_get1_session(h.client.get()));
    REQUIRE(session);
    return session;
}

}  // namespace vstream::test
