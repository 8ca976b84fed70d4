// SHA-256 (FIPS 180-4) over OpenSSL's EVP interface, fed in pieces, and lowercase hex.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header

namespace vstream::crypto {

/// A SHA-256 digest: 32 bytes.
using Sha256Digest = std::array<std::uint8_t, 32>;

/// Incremental SHA-256 over OpenSSL EVP (EVP_MD_CTX, EVP_sha256): update() any number of
/// times, in pieces of any size, then finish(). Movable, not copyable; a moved-from object may
/// only be destroyed or assigned to. One thread at a time.
class Sha256 {
public:
    /// A fresh digest. Throws std::bad_alloc if the EVP context cannot be made.
    Sha256();
    ~Sha256();
    Sha256(Sha256&& other) noexcept;
    Sha256& operator=(Sha256&& other) noexcept;
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;

    /// Adds `bytes` to the digest.
    void update(std::string_view bytes) noexcept;
    /// Adds `bytes` to the digest.
    void update(std::span<const std::uint8_t> bytes) noexcept;
    /// The digest of everything added since construction or the last finish(); the object is
    /// then reset, ready for a new digest.
    Sha256Digest finish() noexcept;

private:
    evp_md_ctx_st* ctx_;
};

/// The SHA-256 digest of `bytes`, in one call. Throws std::bad_alloc as Sha256() does.
Sha256Digest sha256(std::string_view bytes);

/// `bytes` as lowercase hex digits, two per byte.
std::string to_hex(std::span<const std::uint8_t> bytes);

/// Writes `bytes` as lowercase hex digits to `out`, which must hold 2 * bytes.size() chars
/// (no NUL is added). Never allocates.
void to_hex(std::span<const std::uint8_t> bytes, char* out) noexcept;

}  // namespace vstream::crypto
