#include "crypto/sha256.hpp"

#include <openssl/evp.h>

#include <new>
#include <utility>

namespace vstream::crypto {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (ctx_ == nullptr) throw std::bad_alloc();
    if (EVP_DigestInit_ex2(ctx_, EVP_sha256(), nullptr) != 1) {
        // Only when no provider offers SHA-256, or out of memory while fetching it.
        EVP_MD_CTX_free(ctx_);
        throw std::bad_alloc();
    }
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(ctx_);  // null-safe
}

Sha256::Sha256(Sha256&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

Sha256& Sha256::operator=(Sha256&& other) noexcept {
    if (this != &other) {
        EVP_MD_CTX_free(ctx_);
        ctx_ = std::exchange(other.ctx_, nullptr);
    }
    return *this;
}

void Sha256::update(std::string_view bytes) noexcept {
    // EVP_DigestUpdate cannot fail for SHA-256 once initialised: there is nothing to report.
    if (ctx_ != nullptr && !bytes.empty()) EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
}

void Sha256::update(std::span<const std::uint8_t> bytes) noexcept {
    if (ctx_ != nullptr && !bytes.empty()) EVP_DigestUpdate(ctx_, bytes.data(), bytes.size());
}

Sha256Digest Sha256::finish() noexcept {
    Sha256Digest d{};
    if (ctx_ == nullptr) return d;
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, d.data(), &n);
    // A null type reuses the digest already fetched into the context (OpenSSL 3.0
    // EVP_DigestInit_ex2): no second provider lookup per file.
    EVP_DigestInit_ex2(ctx_, nullptr, nullptr);
    return d;
}

Sha256Digest sha256(std::string_view bytes) {
    Sha256 h;
    h.update(bytes);
    return h.finish();
}

void to_hex(std::span<const std::uint8_t> bytes, char* out) noexcept {
    static constexpr char kHex[] = "0123456789abcdef";
    for (const std::uint8_t b : bytes) {
        *out++ = kHex[b >> 4];
        *out++ = kHex[b & 0x0f];
    }
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
    std::string s(2 * bytes.size(), '\0');
    to_hex(bytes, s.data());
    return s;
}

}  // namespace vstream::crypto
