// The server's own session ticket keys (RFC 5077 §4's recommended construction, as OpenSSL
// 3.0 seals tickets: AES-256-CBC, then HMAC-SHA256), rotated on a clock, and the OpenSSL
// callback that seals and opens tickets with them.
#pragma once

#include <openssl/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>

namespace vstream::tls {

/// One ticket key: the name sent in the clear at the head of each ticket it seals, and the
/// two secrets.
struct TicketKey {
    std::array<std::uint8_t, 16> name{};
    std::array<std::uint8_t, 32> aes_key{};
    std::array<std::uint8_t, 32> hmac_key{};
    std::chrono::steady_clock::time_point created{};
};

/// The key ring: a current key seals new tickets for one rotation period; then a fresh key
/// replaces it, and the old one still opens tickets for one more period (so a ticket issued
/// just before a rotation is not lost), after which it is gone. Rotation is lazy: it happens
/// in the first call at or past the period's end, and a key more than two periods old never
/// opens anything, however long the ring sat unused. Keys are made from OpenSSL's CSPRNG on
/// first use and live in memory only.
///
/// Thread-safe: handshakes on several loop threads share one ring (every TLS context a server
/// builds, across reloads). A mutex guards the two keys; each call holds it only to rotate
/// and copy a key out, and the cipher work happens outside it. A mutex rather than an atomic
/// shared_ptr swap: libstdc++'s atomic<shared_ptr> locks too, and the mutex is uncontended.
class TicketKeys {
public:
    /// The time source; must not throw. Tests inject a manual clock.
    using Clock = std::function<std::chrono::steady_clock::time_point()>;

    /// A ring rotating every `rotation` (positive), on `clock` (default: steady_clock, so
    /// wall-clock jumps neither expire nor extend keys). Makes no key yet.
    explicit TicketKeys(std::chrono::seconds rotation, Clock clock = {});

    /// Changes the rotation period, from the next call on (a reload may change it). Any
    /// thread.
    void set_rotation(std::chrono::seconds rotation) noexcept;

    /// The key to seal a new ticket with, rotating first if the period is over. nullopt only
    /// if no key exists and none could be made (the CSPRNG failed): then no ticket is issued.
    std::optional<TicketKey> for_sealing() noexcept;

    /// A key found for opening a ticket.
    struct Found {
        TicketKey key;
        /// The ticket was sealed with the previous key: the client should get a new one.
        bool renew = false;
    };
    /// The key named `name` (the current or the previous one, still within its time), after
    /// rotating if due. nullopt: unknown or expired, so the ticket is ignored and the
    /// handshake is a full one.
    std::optional<Found> for_opening(std::span<const std::uint8_t, 16> name) noexcept;

private:
    // Rotates if the current key's period is over, and forgets a previous key past its
    // second period. Called with mutex_ held.
    void advance(std::chrono::steady_clock::time_point now) noexcept;

    Clock clock_;
    std::mutex mutex_;
    std::chrono::steady_clock::duration rotation_;
    std::optional<TicketKey> current_;
    std::optional<TicketKey> previous_;
};

/// OpenSSL's ticket key callback (SSL_CTX_set_tlsext_ticket_key_evp_cb, OpenSSL 3.0) over
/// `keys`. `enc` 1: seals a new ticket: writes the key's name to `key_name`, a random IV to
/// `iv`, and sets up `cipher` (AES-256-CBC) and `mac` (HMAC-SHA256); returns 1, or 0 to issue
/// no ticket. `enc` 0: opens the ticket named `key_name`: returns 1, 2 when the ticket should
/// be renewed (sealed with the previous key), or 0 when the ticket cannot be opened (a full
/// handshake follows). Never -1: a failure here costs a resumption, not the connection.
int ticket_key_callback(TicketKeys& keys, unsigned char* key_name, unsigned char* iv,
                        EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) noexcept;

}  // namespace vstream::tls
