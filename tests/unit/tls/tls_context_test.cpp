// Tests TlsContext (src/tls/tls_context.cpp) with real handshakes in memory against an
// OpenSSL client: versions and cipher order, SNI, ALPN, resumption by ticket and by session
// cache (across reloads and ticket key rotations), client certificates, and the errors a bad
// file gives.
#include "tls/tls_context.hpp"

#include <vstream/error.hpp>
#include <vstream/tls.hpp>

#include "expect_error.hpp"
#include "test_certs.hpp"
#include "tls/ticket_keys.hpp"
#include "tls_handshake.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

using vstream::errc;
using vstream::TlsCertificate;
using vstream::TlsOptions;
using vstream::TlsVersion;
using vstream::test::expect_error;
using vstream::test::test_certs;
using vstream::test::tls_handshake;
using vstream::test::tls_session_after_data;
using vstream::test::TlsClientOptions;
using vstream::test::TlsHandshake;
using vstream::tls::TicketKeys;
using vstream::tls::TlsContext;
using namespace std::chrono_literals;

namespace {

// The default (localhost), an exact name, a wildcard and a CN-only certificate.
TlsOptions four_certificates() {
    const auto& c = test_certs();
    TlsOptions o;
    o.certificates = {c.localhost, c.a_example, c.wild, c.cn_only};
    return o;
}

TlsOptions one_certificate() {
    TlsOptions o;
    o.certificates = {test_certs().localhost};
    return o;
}

TlsHandshake handshake(const std::shared_ptr<const TlsContext>& ctx,
                       const TlsClientOptions& o = {}) {
    return tls_handshake(ctx->new_ssl(), test_certs().ca, o);
}

std::string cipher(const TlsHandshake& h) {
    return SSL_CIPHER_get_name(SSL_get_current_cipher(h.server.get()));
}

TlsClientOptions with_version(int max_version) {
    TlsClientOptions o;
    o.max_version = max_version;
    return o;
}

TlsClientOptions resuming(SSL_SESSION* session, int max_version) {
    TlsClientOptions o = with_version(max_version);
    o.session = session;
    return o;
}

// make()'s message for `o`, checking the error code.
std::string refusal(errc code, const TlsOptions& o) {
    const std::string what = expect_error(code, [&] { TlsContext::make(o); });
    CHECK(ERR_peek_error() == 0);  // the OpenSSL queue is left empty
    return what;
}

bool mentions(const std::string& what, const std::string& part) {
    return what.find(part) != std::string::npos;
}

}  // namespace

TEST_SUITE("tls/tls_context") {

TEST_CASE("TLS 1.3 is negotiated, with the server's suite order") {
    const auto ctx = TlsContext::make(one_certificate());
    const TlsHandshake h = handshake(ctx);
    REQUIRE(h.ok);
    CHECK(SSL_version(h.server.get()) == TLS1_3_VERSION);
    // OpenSSL's client lists TLS_AES_256_GCM_SHA384 first; the server's first suite wins.
    CHECK(cipher(h) == "TLS_AES_128_GCM_SHA256");
}

TEST_CASE("TLS 1.2 is negotiated with a client that goes no higher, server order first") {
    const auto ctx = TlsContext::make(one_certificate());
    const TlsHandshake h = handshake(ctx, with_version(TLS1_2_VERSION));
    REQUIRE(h.ok);
    CHECK(SSL_version(h.server.get()) == TLS1_2_VERSION);
    // The client prefers AES-256; the first of the Mozilla list that fits an ECDSA key wins.
    CHECK(cipher(h) == "ECDHE-ECDSA-AES128-GCM-SHA256");
}

TEST_CASE("a TLS 1.2 client that lists ChaCha20 first gets it") {
    const auto ctx = TlsContext::make(one_certificate());
    TlsClientOptions o = with_version(TLS1_2_VERSION);
    o.ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256";
    const TlsHandshake h = handshake(ctx, o);
    REQUIRE(h.ok);
    CHECK(cipher(h) == "ECDHE-ECDSA-CHACHA20-POLY1305");
}

TEST_CASE("a client offering at most TLS 1.1 is refused") {
    const auto ctx = TlsContext::make(one_certificate());
    TlsClientOptions o;
    o.legacy = true;
    o.min_version = TLS1_VERSION;
    o.max_version = TLS1_1_VERSION;
    const TlsHandshake h = handshake(ctx, o);
    CHECK_FALSE(h.ok);
    CAPTURE(h.server_error);
    CHECK(h.server_reason == SSL_R_UNSUPPORTED_PROTOCOL);
}

TEST_CASE("min_version tls1_3 refuses a TLS 1.2 client") {
    TlsOptions options = one_certificate();
    options.min_version = TlsVersion::tls1_3;
    options.ciphers = "";
    const auto ctx = TlsContext::make(options);
    const TlsHandshake h = handshake(ctx, with_version(TLS1_2_VERSION));
    CHECK_FALSE(h.ok);
    CHECK(h.server_reason == SSL_R_UNSUPPORTED_PROTOCOL);
    CHECK(handshake(ctx).ok);
}

TEST_CASE("kernel_tls_available agrees with the kernel's list of upper-layer protocols") {
    // The list names "tls" once the module is loaded; the probe also finds a module that can be
    // loaded, so a kernel that lists it must be found to have it.
    std::ifstream ulp("/proc/sys/net/ipv4/tcp_available_ulp");
    std::string list;
    std::getline(ulp, list);
    if (list.find("tls") != std::string::npos) CHECK(vstream::tls::kernel_tls_available());
    CHECK(vstream::tls::kernel_tls_available() == vstream::tls::kernel_tls_available());
}

TEST_CASE("every context carries the fixed options and modes") {
    const auto ctx = TlsContext::make(four_certificates());
    for (const char* name : {"localhost", "a.example.test", "x.wild.example.test"}) {
        CAPTURE(name);
        SSL_CTX* c = ctx->find_ctx(name);
        REQUIRE(c != nullptr);
        const std::uint64_t options = SSL_CTX_get_options(c);
        for (const std::uint64_t bit :
             {SSL_OP_NO_COMPRESSION, SSL_OP_NO_RENEGOTIATION, SSL_OP_CIPHER_SERVER_PREFERENCE,
              SSL_OP_PRIORITIZE_CHACHA}) {
            CHECK((options & bit) == bit);
        }
        // Kernel TLS is asked for exactly where the kernel has it.
        CHECK(((options & SSL_OP_ENABLE_KTLS) != 0) == vstream::tls::kernel_tls_available());
        CHECK((options & SSL_OP_NO_TICKET) == 0);
        CHECK((options & SSL_OP_ALLOW_CLIENT_RENEGOTIATION) == 0);
        const long modes = SSL_CTX_get_mode(c);
        for (const long bit : {SSL_MODE_RELEASE_BUFFERS, SSL_MODE_ENABLE_PARTIAL_WRITE,
                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER}) {
            CHECK((modes & bit) == bit);
        }
        CHECK(SSL_CTX_get_min_proto_version(c) == TLS1_2_VERSION);
        CHECK(SSL_CTX_get_max_proto_version(c) == TLS1_3_VERSION);
        CHECK(SSL_CTX_get_timeout(c) == 300);
        CHECK(SSL_CTX_sess_get_cache_size(c) == 20480);
        CHECK(SSL_CTX_get_session_cache_mode(c) == SSL_SESS_CACHE_SERVER);
        CHECK(SSL_CTX_get_verify_mode(c) == SSL_VERIFY_NONE);
    }
}

TEST_CASE("new_ssl gives a server SSL on the default context") {
    const auto ctx = TlsContext::make(four_certificates());
    const vstream::tls::SslPtr ssl = ctx->new_ssl();
    REQUIRE(ssl);
    CHECK(SSL_is_server(ssl.get()) == 1);
    CHECK(SSL_get_SSL_CTX(ssl.get()) == ctx->default_ctx());
}

TEST_CASE("SNI picks the certificate whose names match, else the default") {
    const auto ctx = TlsContext::make(four_certificates());
    struct Row {
        const char* server_name;
        const char* served;  // a name the served certificate is valid for
    };
    const Row rows[] = {
        {"", "localhost"},  // no SNI
        {"localhost", "localhost"},
        {"a.example.test", "a.example.test"},
        {"A.EXAMPLE.test", "a.example.test"},
        {"x.wild.example.test", "x.wild.example.test"},
        {"other.WILD.example.test", "other.wild.example.test"},
        {"a.b.wild.example.test", "localhost"},  // a wildcard covers one label only
        {"wild.example.test", "localhost"},      // ... and not the bare parent
        {"cn.example.test", "cn.example.test"},  // no subjectAltName: the CN counts
        {"unknown.example.test", "localhost"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.server_name);
        TlsClientOptions o;
        o.server_name = row.server_name;
        const TlsHandshake h = handshake(ctx, o);
        REQUIRE(h.ok);
        CHECK(h.served_certificate_for(row.served));
    }
    CHECK(ctx->find_ctx("unknown.example.test") == nullptr);
    CHECK(ctx->find_ctx("localhost") == ctx->default_ctx());
}

TEST_CASE("ALPN picks the server's first protocol the client offers, or none") {
    struct Row {
        std::vector<std::string> server;
        std::vector<std::string> client;
        const char* chosen;
    };
    const Row rows[] = {
        {{"http/1.1"}, {"h2", "http/1.1"}, "http/1.1"},
        {{"http/1.1"}, {"h2"}, ""},  // no overlap: the handshake goes on without ALPN
        {{"h2", "http/1.1"}, {"http/1.1", "h2"}, "h2"},
        {{"h2", "http/1.1"}, {"http/1.1"}, "http/1.1"},
        {{}, {"http/1.1"}, ""},
        {{"http/1.1"}, {}, ""},
    };
    for (const Row& row : rows) {
        CAPTURE(row.chosen);
        TlsOptions options = one_certificate();
        options.alpn = row.server;
        const auto ctx = TlsContext::make(options);
        for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
            CAPTURE(version);
            TlsClientOptions o = with_version(version);
            o.alpn = row.client;
            const TlsHandshake h = handshake(ctx, o);
            REQUIRE(h.ok);
            CHECK(h.alpn() == row.chosen);
        }
    }
}

TEST_CASE("a session resumes by ticket, with TLS 1.3 and 1.2, under SNI too") {
    const auto ctx = TlsContext::make(four_certificates());
    for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        for (const char* name : {"", "a.example.test"}) {
            CAPTURE(version);
            CAPTURE(name);
            TlsClientOptions o = with_version(version);
            o.server_name = name;
            TlsHandshake first = handshake(ctx, o);
            const auto session = tls_session_after_data(first);
            CHECK_FALSE(first.reused());
            o.session = session.get();
            const TlsHandshake again = handshake(ctx, o);
            REQUIRE(again.ok);
            CHECK(again.reused());
            CHECK(SSL_session_reused(again.client.get()) == 1);
        }
    }
}

TEST_CASE("without tickets a session resumes from the session cache") {
    TlsOptions options = one_certificate();
    options.session_tickets = false;
    const auto ctx = TlsContext::make(options);
    CHECK((SSL_CTX_get_options(ctx->default_ctx()) & SSL_OP_NO_TICKET) != 0);
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        CAPTURE(version);
        TlsHandshake first = handshake(ctx, with_version(version));
        const auto session = tls_session_after_data(first);
        const TlsHandshake again = handshake(ctx, resuming(session.get(), version));
        REQUIRE(again.ok);
        CHECK(again.reused());
    }
}

TEST_CASE("with tickets and no session cache a session still resumes by ticket") {
    TlsOptions options = one_certificate();
    options.session_cache_size = 0;
    const auto ctx = TlsContext::make(options);
    CHECK(SSL_CTX_get_session_cache_mode(ctx->default_ctx()) == SSL_SESS_CACHE_OFF);
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        CAPTURE(version);
        TlsHandshake first = handshake(ctx, with_version(version));
        const auto session = tls_session_after_data(first);
        const TlsHandshake again = handshake(ctx, resuming(session.get(), version));
        REQUIRE(again.ok);
        CHECK(again.reused());
    }
}

TEST_CASE("with neither tickets nor a session cache nothing resumes") {
    TlsOptions options = one_certificate();
    options.session_tickets = false;
    options.session_cache_size = 0;
    const auto ctx = TlsContext::make(options);
    CHECK(SSL_CTX_get_num_tickets(ctx->default_ctx()) == 0);
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        CAPTURE(version);
        TlsHandshake first = handshake(ctx, with_version(version));
        const auto session = tls_session_after_data(first);
        const TlsHandshake again = handshake(ctx, resuming(session.get(), version));
        REQUIRE(again.ok);
        CHECK_FALSE(again.reused());
    }
}

TEST_CASE("tickets resume after a reload that passes the previous context, not without it") {
    const auto before = TlsContext::make(one_certificate());
    // The reload changes the certificates: a.example.test becomes the default.
    TlsOptions reloaded = four_certificates();
    std::swap(reloaded.certificates[0], reloaded.certificates[1]);
    const auto after = TlsContext::make(reloaded, before.get());
    CHECK(after->ticket_keys() == before->ticket_keys());
    const auto unrelated = TlsContext::make(one_certificate());
    CHECK(unrelated->ticket_keys() != before->ticket_keys());
    for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        CAPTURE(version);
        TlsHandshake first = handshake(before, with_version(version));
        const auto session = tls_session_after_data(first);
        const TlsHandshake again = handshake(after, resuming(session.get(), version));
        REQUIRE(again.ok);
        CHECK(again.reused());
        const TlsHandshake elsewhere = handshake(unrelated, resuming(session.get(), version));
        REQUIRE(elsewhere.ok);
        CHECK_FALSE(elsewhere.reused());
    }
}

TEST_CASE("tickets resume after one key rotation and not after two") {
    std::chrono::steady_clock::time_point now{};
    const auto keys = std::make_shared<TicketKeys>(1h, [&now] { return now; });
    const auto ctx = TlsContext::make(one_certificate(), keys);
    for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        CAPTURE(version);
        TlsHandshake first = handshake(ctx, with_version(version));
        const auto session = tls_session_after_data(first);
        now += 1h;  // one rotation: the ticket's key is now the previous one
        const TlsHandshake once = handshake(ctx, resuming(session.get(), version));
        REQUIRE(once.ok);
        CHECK(once.reused());
        now += 1h;  // two: the ticket's key is gone
        const TlsHandshake twice = handshake(ctx, resuming(session.get(), version));
        REQUIRE(twice.ok);
        CHECK_FALSE(twice.reused());
    }
}

TEST_CASE("changing the client certificate settings on reload stops old sessions resuming") {
    const auto before = TlsContext::make(one_certificate());
    TlsOptions reloaded = one_certificate();
    reloaded.client_ca_file = test_certs().ca;
    reloaded.require_client_certificate = false;
    const auto after = TlsContext::make(reloaded, before.get());
    TlsHandshake first = handshake(before);
    const auto session = tls_session_after_data(first);
    // A resumed handshake would skip the CertificateRequest the new settings ask for.
    const TlsHandshake again = handshake(after, resuming(session.get(), 0));
    REQUIRE(again.ok);
    CHECK_FALSE(again.reused());
}

TEST_CASE("an SSL from new_ssl() outlives the context that made it") {
    auto ctx = TlsContext::make(four_certificates());
    vstream::tls::SslPtr ssl = ctx->new_ssl();
    ctx.reset();  // a reload dropped it; the SSL keeps it alive for its callbacks
    TlsClientOptions o;
    o.server_name = "a.example.test";
    o.alpn = {"http/1.1"};
    TlsHandshake h = tls_handshake(std::move(ssl), test_certs().ca, o);
    REQUIRE(h.ok);
    CHECK(h.served_certificate_for("a.example.test"));
    CHECK(h.alpn() == "http/1.1");
    const auto session = tls_session_after_data(h);
    CHECK(session.get() != nullptr);
}

TEST_CASE("a required client certificate: none is refused, the CA's is accepted") {
    TlsOptions options = one_certificate();
    options.client_ca_file = test_certs().ca;
    const auto ctx = TlsContext::make(options);
    CHECK(SSL_CTX_get_verify_mode(ctx->default_ctx()) ==
          (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT));
    for (const int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
        CAPTURE(version);
        const TlsHandshake without = handshake(ctx, with_version(version));
        CHECK_FALSE(without.ok);
        CAPTURE(without.server_error);
        CHECK(without.server_reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE);

        TlsClientOptions o = with_version(version);
        o.cert_file = test_certs().client.cert_file;
        o.key_file = test_certs().client.key_file;
        const TlsHandshake with = handshake(ctx, o);
        REQUIRE(with.ok);
        CHECK(SSL_get0_peer_certificate(with.server.get()) != nullptr);
        CHECK(SSL_get_verify_result(with.server.get()) == X509_V_OK);

        o.cert_file = test_certs().rogue_client.cert_file;
        o.key_file = test_certs().rogue_client.key_file;
        const TlsHandshake rogue = handshake(ctx, o);
        CHECK_FALSE(rogue.ok);
        CAPTURE(rogue.server_error);
        CHECK(rogue.server_reason == SSL_R_CERTIFICATE_VERIFY_FAILED);
    }
}

TEST_CASE("an optional client certificate: none is let in, one sent is verified") {
    TlsOptions options = one_certificate();
    options.client_ca_file = test_certs().ca;
    options.require_client_certificate = false;
    const auto ctx = TlsContext::make(options);
    const TlsHandshake without = handshake(ctx);
    REQUIRE(without.ok);
    CHECK(SSL_get0_peer_certificate(without.server.get()) == nullptr);

    TlsClientOptions o;
    o.cert_file = test_certs().client.cert_file;
    o.key_file = test_certs().client.key_file;
    const TlsHandshake with = handshake(ctx, o);
    REQUIRE(with.ok);
    CHECK(SSL_get0_peer_certificate(with.server.get()) != nullptr);

    o.cert_file = test_certs().rogue_client.cert_file;
    o.key_file = test_certs().rogue_client.key_file;
    CHECK_FALSE(handshake(ctx, o).ok);
}

TEST_CASE("bad files are refused naming the option and the file") {
    const auto& c = test_certs();
    SUBCASE("a missing certificate file") {
        TlsOptions o = one_certificate();
        o.certificates[0].cert_file = c.junk + ".missing";
        const std::string what = refusal(errc::io_error, o);
        CHECK(mentions(what, "TlsOptions.certificates[0].cert_file '" + c.junk + ".missing'"));
        CHECK(mentions(what, "No such file or directory"));
    }
    SUBCASE("a certificate file that is not PEM, in the second pair") {
        TlsOptions o = one_certificate();
        o.certificates.push_back({c.junk, c.a_example.key_file});
        const std::string what = refusal(errc::invalid_argument, o);
        CHECK(mentions(what, "TlsOptions.certificates[1].cert_file '" + c.junk + "'"));
    }
    SUBCASE("a key file that is not PEM") {
        TlsOptions o = one_certificate();
        o.certificates[0].key_file = c.junk;
        const std::string what = refusal(errc::invalid_argument, o);
        CHECK(mentions(what, "TlsOptions.certificates[0].key_file '" + c.junk + "'"));
    }
    SUBCASE("a key that is not the certificate's") {
        TlsOptions o = one_certificate();
        o.certificates[0].key_file = c.a_example.key_file;
        const std::string what = refusal(errc::invalid_argument, o);
        CHECK(mentions(what, "TlsOptions.certificates[0].key_file '" + c.a_example.key_file));
    }
    SUBCASE("an encrypted key, refused without asking for a passphrase") {
        TlsOptions o = one_certificate();
        o.certificates[0] = {c.a_example.cert_file, c.encrypted_key};
        const std::string what = refusal(errc::invalid_argument, o);
        CHECK(mentions(
            what, "TlsOptions.certificates[0].key_file '" + c.encrypted_key + "': is encrypted"));
    }
    SUBCASE("a missing client CA file") {
        TlsOptions o = one_certificate();
        o.client_ca_file = c.junk + ".missing";
        const std::string what = refusal(errc::io_error, o);
        CHECK(mentions(what, "TlsOptions.client_ca_file '" + c.junk + ".missing'"));
    }
    SUBCASE("a client CA file that is not PEM") {
        TlsOptions o = one_certificate();
        o.client_ca_file = c.junk;
        const std::string what = refusal(errc::invalid_argument, o);
        CHECK(mentions(what, "TlsOptions.client_ca_file '" + c.junk + "'"));
    }
    SUBCASE("a cipher list OpenSSL knows nothing of") {
        TlsOptions o = one_certificate();
        o.ciphers = "NO-SUCH-CIPHER";
        CHECK(mentions(refusal(errc::invalid_argument, o), "TlsOptions.ciphers 'NO-SUCH-CIPHER'"));
    }
    SUBCASE("TLS 1.3 suites OpenSSL knows nothing of") {
        TlsOptions o = one_certificate();
        o.ciphersuites = "TLS_NO_SUCH_SUITE";
        CHECK(mentions(refusal(errc::invalid_argument, o), "TlsOptions.ciphersuites"));
    }
    SUBCASE("invalid options, before any file is read") {
        CHECK(mentions(refusal(errc::invalid_argument, TlsOptions{}), "TlsOptions.certificates"));
    }
}

}  // TEST_SUITE("tls/tls_context")
