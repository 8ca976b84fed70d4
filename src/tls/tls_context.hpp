// The OpenSSL server contexts built from TlsOptions: one SSL_CTX per certificate, configured
// alike, with SNI choosing among them, ALPN, the session cache, session tickets sealed with
// the server's own rotating keys, and optional client certificate verification.
#pragma once

#include <vstream/tls.hpp>

#include "tls/openssl_ptr.hpp"
#include "tls/sni_names.hpp"
#include "tls/ticket_keys.hpp"

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vstream::tls {

/// Whether the kernel can take over TLS records (kTLS: Linux with CONFIG_TLS), asked once per
/// process. Without it the contexts do not ask OpenSSL for kernel TLS at all. Any thread.
bool kernel_tls_available() noexcept;

/// Everything a TLS listener needs to start handshakes, immutable once made: any thread may
/// use it at once (OpenSSL's contexts are safe to share once configured; the ticket key ring
/// has its own lock).
///
/// Reload: build a new context with make(options, old.get()) and swap the shared_ptr the
/// listener holds. New handshakes use the new certificates; an SSL made before keeps its own
/// context alive (see new_ssl()), so connections in flight are untouched. The ticket key ring
/// passes from the old context to the new one, so tickets issued before a reload still
/// resume after it; the session cache does not (session-id resumption starts empty). A
/// failed make() changes nothing: the old context stays in use.
class TlsContext : public std::enable_shared_from_this<TlsContext> {
    struct Private {};

public:
    /// Validates `options` (TlsOptions::validate), then reads every certificate, key and the
    /// client CA file, and builds the contexts. `previous` (may be null): the context this one
    /// replaces, whose ticket key ring is shared with the new one. Throws
    /// Error(invalid_argument) naming the option and the file for a bad file (not PEM, a key
    /// that does not match its certificate, an encrypted key, a cipher list OpenSSL refuses),
    /// Error(io_error) for a file that cannot be read, Error(no_memory) if OpenSSL cannot
    /// allocate. Any thread.
    static std::shared_ptr<const TlsContext> make(const TlsOptions& options,
                                                  const TlsContext* previous = nullptr);
    /// As above, with the ticket key ring given (non-null), e.g. one on a test's clock. The
    /// ring's rotation is set to options.ticket_key_rotation.
    static std::shared_ptr<const TlsContext> make(const TlsOptions& options,
                                                  std::shared_ptr<TicketKeys> keys);

    TlsContext(Private, std::shared_ptr<TicketKeys> keys, std::vector<std::string> alpn);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    /// The default certificate's context (the first of TlsOptions::certificates), where
    /// every handshake starts. Borrowed: valid while this object lives. An SSL made from it
    /// by other means than new_ssl() must not outlive this object (its callbacks read it).
    SSL_CTX* default_ctx() const noexcept;

    /// A fresh server-side SSL (accept state) on the default context, with no I/O attached:
    /// the transport sets its BIOs or descriptor. The SSL holds a reference to this
    /// TlsContext, released by SSL_free, so it stays valid across reloads. nullptr if OpenSSL
    /// cannot allocate (the error queue is cleared). Never throws.
    SslPtr new_ssl() const noexcept;

    /// The context of the certificate that answers `server_name` (SNI rule: see
    /// TlsOptions::certificates), or nullptr when none does (the default answers). Never
    /// allocates.
    SSL_CTX* find_ctx(std::string_view server_name) const noexcept;

    /// The ALPN protocols, in the server's order of preference.
    std::span<const std::string> alpn() const noexcept { return alpn_; }

    /// The ticket key ring, shared with the contexts this one replaced or is replaced by.
    const std::shared_ptr<TicketKeys>& ticket_keys() const noexcept { return keys_; }

private:
    std::shared_ptr<TicketKeys> keys_;
    std::vector<std::string> alpn_;
    std::vector<SslCtxPtr> ctxs_;  // one per certificate, in the options' order
    SniTable sni_;
};

}  // namespace vstream::tls
