#include "tls/tls_context.hpp"

#include <vstream/error.hpp>

#include "crypto/sha256.hpp"
#include "tls/alpn.hpp"
#include "tls/openssl_error.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>
#include <utility>

namespace vstream::tls {

namespace {

using Owner = std::shared_ptr<const TlsContext>;

// Key exchange groups, in the server's order of preference: Mozilla's "intermediate"
// (X25519, P-256, P-384). OpenSSL's default list adds P-521, X448 and the finite-field
// groups, which cost a server far more per handshake for no gain with today's clients.
constexpr const char* kGroups = "X25519:P-256:P-384";

// The TlsContext a handshake's callbacks read: every SSL_CTX of one TlsContext points to it
// in its app data (ex_data slot 0), so it is found whichever SSL_CTX SNI switched to.
const TlsContext* owner_of(const SSL* ssl) noexcept {
    return static_cast<const TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
}

// An SSL made by new_ssl() holds a shared_ptr to its TlsContext in this ex_data slot, so the
// callbacks' TlsContext lives as long as the SSL, a reload notwithstanding.
void free_owner(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) noexcept {
    const std::unique_ptr<Owner> owner(static_cast<Owner*>(ptr));
}

// SSL_dup copies ex_data pointers: give the copy its own reference, or the two SSLs would
// free one.
int dup_owner(CRYPTO_EX_DATA*, const CRYPTO_EX_DATA*, void** from_d, int, long, void*) noexcept {
    const auto* from = static_cast<const Owner*>(*from_d);
    if (from == nullptr) return 1;
    *from_d = new (std::nothrow) Owner(*from);
    return *from_d != nullptr ? 1 : 0;
}

int owner_index() noexcept {
    // One index for the process, allocated once (OpenSSL's ex_data indexes are global).
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, dup_owner, free_owner);
    return index;
}

int on_server_name(SSL* ssl, int* alert, void*) noexcept {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    SSL_CTX* chosen = name != nullptr ? owner_of(ssl)->find_ctx(name) : nullptr;
    // RFC 6066 §3: a name the server does not know may abort the handshake or let it go on;
    // it goes on with the default certificate, and the name is not acknowledged.
    if (chosen == nullptr) return SSL_TLSEXT_ERR_NOACK;
    if (chosen != SSL_get_SSL_CTX(ssl) && SSL_set_SSL_CTX(ssl, chosen) == nullptr) {
        *alert = SSL_AD_INTERNAL_ERROR;
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
}

int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned int inlen, void*) noexcept {
    const std::span<const std::uint8_t> chosen =
        select_alpn(owner_of(ssl)->alpn(), std::span<const std::uint8_t>(in, inlen));
    // RFC 7301 §3.2 lets a server refuse with no_application_protocol when nothing matches;
    // going on without ALPN instead keeps clients that offer only protocols we do not speak
    // (an "h2"-only probe, an old "spdy/3" list) on HTTP/1.1, as nginx does.
    if (chosen.empty()) return SSL_TLSEXT_ERR_NOACK;
    *out = chosen.data();
    *outlen = static_cast<unsigned char>(chosen.size());
    return SSL_TLSEXT_ERR_OK;
}

int on_ticket_key(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                  EVP_MAC_CTX* mac, int enc) noexcept {
    return ticket_key_callback(*owner_of(ssl)->ticket_keys(), key_name, iv, cipher, mac, enc);
}

// Keys are never decrypted with a passphrase: without this, OpenSSL's default callback would
// prompt on the process's terminal and block the server.
int refuse_passphrase(char*, int, int, void*) noexcept { return -1; }

void check(int ok, errc code, const std::string& what) {
    if (ok != 1) throw_openssl_error(code, what);
}

struct FileClose {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};

std::string read_file(const std::string& path, const std::string& field) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
        throw Error(errc::io_error,
                    field + " '" + path + "': cannot be read: " + std::strerror(errno));
    }
    const std::unique_ptr<std::FILE, FileClose> closer(f);
    std::string bytes;
    char buffer[8192];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) bytes.append(buffer, n);
    if (std::ferror(f) != 0) {
        throw Error(errc::io_error, field + " '" + path + "': cannot be read");
    }
    return bytes;
}

// OpenSSL resumes a session only in a context with the same session id context. A resumed
// handshake skips the CertificateRequest, so a session made where no client certificate was
// needed must not resume where one is: the context is a digest of the client certificate
// settings and the CA file's bytes, the same across reloads that keep them (so tickets
// survive a certificate reload) and different once they change. 32 bytes, OpenSSL's
// SSL_MAX_SID_CTX_LENGTH.
crypto::Sha256Digest session_id_context(const TlsOptions& o) {
    crypto::Sha256 digest;
    digest.update(std::string_view("vstream TLS session context 1\n"));
    if (o.client_ca_file.empty()) {
        digest.update(std::string_view("client certificates: not asked\n"));
    } else {
        digest.update(std::string_view(o.require_client_certificate
                                           ? "client certificates: required\n"
                                           : "client certificates: optional\n"));
        digest.update(read_file(o.client_ca_file, "TlsOptions.client_ca_file"));
    }
    return digest.finish();
}

void configure_protocol(SSL_CTX* ctx, const TlsOptions& o) {
    const int min = o.min_version == TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
    check(static_cast<int>(SSL_CTX_set_min_proto_version(ctx, min)), errc::invalid_argument,
          "TlsOptions.min_version: OpenSSL refuses it");
    check(static_cast<int>(SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION)),
          errc::invalid_argument, "TLS 1.3: OpenSSL refuses it");
    // CRIME (CVE-2012-4929): compressed records leak secrets. TLS 1.3 has no compression.
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
    // Renegotiation (TLS 1.2) lets a client make the server redo its costliest work at will,
    // and was the root of CVE-2009-3555; HTTP/1.1 never needs it. TLS 1.3 has none.
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    // The server's order decides, so a client cannot steer to the weakest suite listed;
    // except that ChaCha20 wins when the client lists it first, which is how a client
    // without AES hardware (a phone) asks for the cipher that is fast for it.
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
    // Kernel TLS once the transport hands OpenSSL the socket (records then leave by
    // sendfile); harmless with memory BIOs. Not asked for on a kernel without it, where every
    // handshake would end with two setsockopt calls that fail.
    if (kernel_tls_available()) SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS);
    // An idle connection holds no read and write buffers (about 34 KiB together): 10,000
    // idle keep-alive connections would otherwise pin 340 MB.
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    // The non-blocking transport writes what the socket takes, and retries the rest later,
    // possibly from a buffer that has moved.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (o.min_version == TlsVersion::tls1_2) {
        check(SSL_CTX_set_cipher_list(ctx, o.ciphers.c_str()), errc::invalid_argument,
              "TlsOptions.ciphers '" + o.ciphers + "': OpenSSL refuses it");
    }
    check(SSL_CTX_set_ciphersuites(ctx, o.ciphersuites.c_str()), errc::invalid_argument,
          "TlsOptions.ciphersuites '" + o.ciphersuites + "': OpenSSL refuses it");
    check(static_cast<int>(SSL_CTX_set1_groups_list(ctx, kGroups)), errc::invalid_argument,
          std::string("TLS key exchange groups '") + kGroups + "': OpenSSL refuses them");
    // The DHE suites of the cipher list use the RFC 7919 group sized to the certificate's key
    // (ffdhe2048 and up), not a parameter file.
    check(static_cast<int>(SSL_CTX_set_dh_auto(ctx, 1)), errc::invalid_argument,
          "TLS DHE parameters: OpenSSL refuses them");
    SSL_CTX_set_default_passwd_cb(ctx, refuse_passphrase);
}

void configure_sessions(SSL_CTX* ctx, const TlsOptions& o, const crypto::Sha256Digest& sid) {
    check(SSL_CTX_set_session_id_context(ctx, sid.data(), static_cast<unsigned int>(sid.size())),
          errc::invalid_argument, "TLS session id context: OpenSSL refuses it");
    [[maybe_unused]] const long previous_timeout =
        SSL_CTX_set_timeout(ctx, static_cast<long>(o.session_timeout.count()));
    if (o.session_cache_size == 0) {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    } else {
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
        SSL_CTX_sess_set_cache_size(ctx, static_cast<long>(o.session_cache_size));
    }
    if (o.session_tickets) {
        check(SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, on_ticket_key), errc::invalid_argument,
              "TLS session tickets: OpenSSL refuses the key callback");
    } else {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        // Without tickets, a TLS 1.3 "ticket" only names a session cache entry; with no
        // cache either, it could never resume anything: send none.
        if (o.session_cache_size == 0) {
            check(SSL_CTX_set_num_tickets(ctx, 0), errc::invalid_argument,
                  "TLS 1.3 tickets: OpenSSL refuses to turn them off");
        }
    }
}

void configure_client_certificates(SSL_CTX* ctx, const TlsOptions& o) {
    if (o.client_ca_file.empty()) return;
    const std::string what = "TlsOptions.client_ca_file '" + o.client_ca_file + "'";
    check(SSL_CTX_load_verify_locations(ctx, o.client_ca_file.c_str(), nullptr),
          errc::invalid_argument, what + ": cannot load the CA certificates");
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca_file.c_str());
    if (names == nullptr) {
        throw_openssl_error(errc::invalid_argument, what + ": holds no CA certificate");
    }
    SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    SSL_CTX_set_verify(
        ctx, SSL_VERIFY_PEER | (o.require_client_certificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
        nullptr);
}

void load_certificate(SSL_CTX* ctx, const TlsCertificate& c, std::size_t index) {
    const std::string field = "TlsOptions.certificates[" + std::to_string(index) + "]";
    check(SSL_CTX_use_certificate_chain_file(ctx, c.cert_file.c_str()), errc::invalid_argument,
          field + ".cert_file '" + c.cert_file + "': cannot load the certificate chain");
    if (SSL_CTX_use_PrivateKey_file(ctx, c.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
        // refuse_passphrase's refusal is reported as "interrupted or cancelled": say why.
        const bool encrypted = ERR_GET_REASON(ERR_peek_error()) == ERR_R_INTERRUPTED_OR_CANCELLED;
        throw_openssl_error(errc::invalid_argument,
                            field + ".key_file '" + c.key_file +
                                (encrypted ? "': is encrypted, and no passphrase can be asked for"
                                           : "': cannot load the private key"));
    }
    check(SSL_CTX_check_private_key(ctx), errc::invalid_argument,
          field + ".key_file '" + c.key_file + "': does not match the certificate in '" +
              c.cert_file + "'");
}

}  // namespace

TlsContext::TlsContext(Private, std::shared_ptr<TicketKeys> keys, std::vector<std::string> alpn)
    : keys_(std::move(keys)), alpn_(std::move(alpn)) {}

TlsContext::~TlsContext() = default;

std::shared_ptr<const TlsContext> TlsContext::make(const TlsOptions& options,
                                                   const TlsContext* previous) {
    return make(options, previous != nullptr
                             ? previous->keys_
                             : std::make_shared<TicketKeys>(options.ticket_key_rotation));
}

std::shared_ptr<const TlsContext> TlsContext::make(const TlsOptions& options,
                                                   std::shared_ptr<TicketKeys> keys) {
    options.validate();
    if (!keys) throw Error(errc::invalid_argument, "TlsContext::make: no ticket key ring");
    ERR_clear_error();  // no stale error from an earlier caller is blamed on a file here
    const crypto::Sha256Digest sid = session_id_context(options);
    auto self = std::make_shared<TlsContext>(Private{}, keys, options.alpn);
    std::vector<std::vector<std::string>> names;
    for (std::size_t i = 0; i < options.certificates.size(); ++i) {
        SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
        if (!ctx) throw_openssl_error(errc::no_memory, "TLS: cannot make an SSL_CTX");
        check(SSL_CTX_set_ex_data(ctx.get(), 0, self.get()), errc::no_memory,
              "TLS: cannot set the SSL_CTX's app data");
        configure_protocol(ctx.get(), options);
        configure_sessions(ctx.get(), options, sid);
        // Every context has the ALPN callback: OpenSSL asks the one SNI switched to.
        if (!options.alpn.empty()) SSL_CTX_set_alpn_select_cb(ctx.get(), on_alpn, nullptr);
        configure_client_certificates(ctx.get(), options);
        load_certificate(ctx.get(), options.certificates[i], i);
        names.push_back(certificate_names(SSL_CTX_get0_certificate(ctx.get())));
        self->ctxs_.push_back(std::move(ctx));
    }
    self->sni_ = SniTable(names);
    // SNI is read where every handshake starts, on the default context.
    SSL_CTX_set_tlsext_servername_callback(self->default_ctx(), on_server_name);
    // Last, so a make() that throws leaves the shared ring as it was.
    keys->set_rotation(options.ticket_key_rotation);
    return self;
}

SSL_CTX* TlsContext::default_ctx() const noexcept { return ctxs_.front().get(); }

bool kernel_tls_available() noexcept {
    static const bool available = [] {
        // Attaching the "tls" upper-layer protocol (what OpenSSL does after a handshake) to a
        // fresh, unconnected socket: ENOENT when the kernel has no TLS (nor a module it can
        // load), ENOTCONN once the protocol was found (it wants an established connection).
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return true;  // cannot tell: let OpenSSL try
        const int rc = ::setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof "tls");
        const int err = errno;
        ::close(fd);
        return rc == 0 || err != ENOENT;
    }();
    return available;
}

SslPtr TlsContext::new_ssl() const noexcept {
    const int index = owner_index();
    SslPtr ssl(SSL_new(default_ctx()));
    std::unique_ptr<Owner> owner;
    if (Owner self = weak_from_this().lock(); self && ssl && index >= 0) {
        owner.reset(new (std::nothrow) Owner(std::move(self)));
    }
    if (!owner || SSL_set_ex_data(ssl.get(), index, owner.get()) != 1) {
        ERR_clear_error();
        return nullptr;
    }
    static_cast<void>(owner.release());  // now freed by free_owner, with the SSL
    SSL_set_accept_state(ssl.get());
    return ssl;
}

SSL_CTX* TlsContext::find_ctx(std::string_view server_name) const noexcept {
    const std::optional<std::size_t> i = sni_.find(server_name);
    return i ? ctxs_[*i].get() : nullptr;
}

}  // namespace vstream::tls
