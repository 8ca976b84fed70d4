// unique_ptr aliases that free OpenSSL objects with their own free functions, so no path
// (a throw while a context is being built included) leaks one.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace vstream::tls {

/// Deleter calling `Free` (an OpenSSL *_free function, all of which accept null).
template <auto Free>
struct OpensslFree {
    template <class T>
    void operator()(T* p) const noexcept {
        Free(p);
    }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, OpensslFree<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, OpensslFree<SSL_free>>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, OpensslFree<SSL_SESSION_free>>;
using X509Ptr = std::unique_ptr<X509, OpensslFree<X509_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, OpensslFree<GENERAL_NAMES_free>>;
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, OpensslFree<EVP_CIPHER_CTX_free>>;
using EvpMacPtr = std::unique_ptr<EVP_MAC, OpensslFree<EVP_MAC_free>>;
using EvpMacCtxPtr = std::unique_ptr<EVP_MAC_CTX, OpensslFree<EVP_MAC_CTX_free>>;

}  // namespace vstream::tls
