#include "tls/ticket_keys.hpp"

#include "crypto/random.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>
#include <utility>

namespace vstream::tls {

namespace {

using std::chrono::steady_clock;

std::optional<TicketKey> make_key(steady_clock::time_point now) noexcept {
    TicketKey k;
    if (crypto::random_bytes(k.name) != 0 || crypto::random_bytes(k.aes_key) != 0 ||
        crypto::random_bytes(k.hmac_key) != 0) {
        return std::nullopt;
    }
    k.created = now;
    return k;
}

// Wipes a copy of a key's secrets once it has been handed to OpenSSL.
struct Wipe {
    TicketKey& key;
    ~Wipe() { OPENSSL_cleanse(&key, sizeof key); }
};

bool set_hmac_key(EVP_MAC_CTX* mac, TicketKey& key) noexcept {
    char digest[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac_key.data(),
                                          key.hmac_key.size()),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    return EVP_MAC_CTX_set_params(mac, params) == 1;
}

}  // namespace

TicketKeys::TicketKeys(std::chrono::seconds rotation, Clock clock)
    : clock_(clock ? std::move(clock) : Clock([] { return steady_clock::now(); })),
      rotation_(rotation) {}

void TicketKeys::set_rotation(std::chrono::seconds rotation) noexcept {
    const std::lock_guard lock(mutex_);
    rotation_ = rotation;
}

void TicketKeys::advance(steady_clock::time_point now) noexcept {
    if (!current_ || now - current_->created >= rotation_) {
        if (std::optional<TicketKey> fresh = make_key(now)) {
            previous_ = std::exchange(current_, std::move(fresh));
        }
        // Else the CSPRNG failed: keep sealing with the old key rather than issue nothing.
    }
    // A key opens tickets for two periods from its creation at most: one sealing, one more.
    if (previous_ && now - previous_->created >= 2 * rotation_) previous_.reset();
    if (current_ && now - current_->created >= 2 * rotation_) current_.reset();
}

std::optional<TicketKey> TicketKeys::for_sealing() noexcept {
    const steady_clock::time_point now = clock_();
    const std::lock_guard lock(mutex_);
    advance(now);
    return current_;
}

std::optional<TicketKeys::Found> TicketKeys::for_opening(
    std::span<const std::uint8_t, 16> name) noexcept {
    const steady_clock::time_point now = clock_();
    const std::lock_guard lock(mutex_);
    advance(now);
    const auto named = [&](const std::optional<TicketKey>& k) {
        return k && std::equal(name.begin(), name.end(), k->name.begin());
    };
    if (named(current_)) return Found{*current_, false};
    if (named(previous_)) return Found{*previous_, true};
    return std::nullopt;
}

int ticket_key_callback(TicketKeys& keys, unsigned char* key_name, unsigned char* iv,
                        EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) noexcept {
    const EVP_CIPHER* aes = EVP_aes_256_cbc();
    const auto iv_length = static_cast<std::size_t>(EVP_CIPHER_get_iv_length(aes));
    if (enc == 1) {
        std::optional<TicketKey> key = keys.for_sealing();
        if (!key) return 0;
        const Wipe wipe{*key};
        // RFC 5077 §4: a fresh IV per ticket.
        if (crypto::random_bytes(std::span<std::uint8_t>(iv, iv_length)) != 0) return 0;
        std::memcpy(key_name, key->name.data(), key->name.size());
        if (EVP_EncryptInit_ex(cipher, aes, nullptr, key->aes_key.data(), iv) != 1 ||
            !set_hmac_key(mac, *key)) {
            ERR_clear_error();
            return 0;
        }
        return 1;
    }
    std::optional<TicketKeys::Found> found =
        keys.for_opening(std::span<const std::uint8_t, 16>(key_name, 16));
    if (!found) return 0;
    const Wipe wipe{found->key};
    if (!set_hmac_key(mac, found->key) ||
        EVP_DecryptInit_ex(cipher, aes, nullptr, found->key.aes_key.data(), iv) != 1) {
        ERR_clear_error();
        return 0;
    }
    return found->renew ? 2 : 1;
}

}  // namespace vstream::tls
