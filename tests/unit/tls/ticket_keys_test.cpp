// Tests TicketKeys and ticket_key_callback (src/tls/ticket_keys.cpp): rotation on an injected
// clock, the previous key opening tickets for one more period, lazy expiry, and the OpenSSL
// callback sealing and opening with real EVP contexts.
#include "tls/ticket_keys.hpp"

#include "tls/openssl_ptr.hpp"

#include <doctest/doctest.h>
#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

using vstream::tls::ticket_key_callback;
using vstream::tls::TicketKey;
using vstream::tls::TicketKeys;
using namespace std::chrono_literals;
using Name = std::array<std::uint8_t, 16>;

namespace {

// A ring on a clock the test moves.
struct ManualRing {
    std::chrono::steady_clock::time_point now{};
    TicketKeys keys{1h, [this] { return now; }};

    Name sealing_name() {
        const auto k = keys.for_sealing();
        REQUIRE(k);
        return k->name;
    }
};

struct Evp {
    vstream::tls::EvpCipherCtxPtr cipher{EVP_CIPHER_CTX_new()};
    vstream::tls::EvpMacPtr hmac{EVP_MAC_fetch(nullptr, "HMAC", nullptr)};
    vstream::tls::EvpMacCtxPtr mac{EVP_MAC_CTX_new(hmac.get())};
};

}  // namespace

TEST_SUITE("tls/ticket_keys") {

TEST_CASE("one key seals for a whole period; a fresh one after it") {
    ManualRing r;
    const Name first = r.sealing_name();
    r.now += 59min;
    CHECK(r.sealing_name() == first);
    r.now += 1min;
    const Name second = r.sealing_name();
    CHECK(second != first);
    CHECK(r.sealing_name() == second);
}

TEST_CASE("the previous key opens for one more period, asking for renewal") {
    ManualRing r;
    const Name first = r.sealing_name();
    auto found = r.keys.for_opening(first);
    REQUIRE(found);
    CHECK_FALSE(found->renew);
    r.now += 1h;  // rotated: first is the previous key
    found = r.keys.for_opening(first);
    REQUIRE(found);
    CHECK(found->renew);
    CHECK(found->key.name == first);
    r.now += 1h;  // rotated again: first is gone
    CHECK_FALSE(r.keys.for_opening(first));
}

TEST_CASE("an unknown key name opens nothing") {
    ManualRing r;
    r.sealing_name();
    Name unknown{};
    unknown.fill(0xab);
    CHECK_FALSE(r.keys.for_opening(unknown));
}

TEST_CASE("after a long idle spell no old key opens anything") {
    ManualRing r;
    const Name first = r.sealing_name();
    r.now += 150min;  // 2.5 periods without a call
    CHECK_FALSE(r.keys.for_opening(first));
    CHECK(r.sealing_name() != first);
}

TEST_CASE("a changed rotation applies from the next call") {
    ManualRing r;
    const Name first = r.sealing_name();
    r.keys.set_rotation(10s);
    r.now += 10s;
    CHECK(r.sealing_name() != first);
}

TEST_CASE("keys are random and distinct") {
    ManualRing r;
    const auto a = r.keys.for_sealing();
    REQUIRE(a);
    CHECK(a->aes_key != a->hmac_key);
    std::set<Name> names;
    for (int i = 0; i < 20; ++i) {
        names.insert(r.sealing_name());
        r.now += 1h;
    }
    CHECK(names.size() == 20);
}

TEST_CASE("the callback seals, then opens with the same key and IV") {
    ManualRing r;
    Evp seal;
    Evp open;
    REQUIRE(seal.cipher);
    REQUIRE(seal.mac);
    REQUIRE(open.mac);
    Name name{};
    std::array<unsigned char, EVP_MAX_IV_LENGTH> iv{};
    REQUIRE(ticket_key_callback(r.keys, name.data(), iv.data(), seal.cipher.get(), seal.mac.get(),
                                1) == 1);
    CHECK(name == r.sealing_name());
    CHECK(iv != std::array<unsigned char, EVP_MAX_IV_LENGTH>{});

    // Seal a message, then open it the way OpenSSL would.
    const std::array<unsigned char, 5> message{'h', 'e', 'l', 'l', 'o'};
    std::array<unsigned char, 64> sealed{};
    int n = 0;
    int tail = 0;
    REQUIRE(EVP_EncryptUpdate(seal.cipher.get(), sealed.data(), &n, message.data(),
                              static_cast<int>(message.size())) == 1);
    REQUIRE(EVP_EncryptFinal_ex(seal.cipher.get(), sealed.data() + n, &tail) == 1);
    const int sealed_size = n + tail;
    REQUIRE(EVP_MAC_init(seal.mac.get(), nullptr, 0, nullptr) == 1);
    REQUIRE(EVP_MAC_update(seal.mac.get(), sealed.data(), static_cast<std::size_t>(sealed_size)) ==
            1);
    std::array<unsigned char, 32> tag{};
    std::size_t tag_size = 0;
    REQUIRE(EVP_MAC_final(seal.mac.get(), tag.data(), &tag_size, tag.size()) == 1);

    REQUIRE(ticket_key_callback(r.keys, name.data(), iv.data(), open.cipher.get(), open.mac.get(),
                                0) == 1);
    REQUIRE(EVP_MAC_init(open.mac.get(), nullptr, 0, nullptr) == 1);
    REQUIRE(EVP_MAC_update(open.mac.get(), sealed.data(), static_cast<std::size_t>(sealed_size)) ==
            1);
    std::array<unsigned char, 32> again{};
    std::size_t again_size = 0;
    REQUIRE(EVP_MAC_final(open.mac.get(), again.data(), &again_size, again.size()) == 1);
    CHECK(again == tag);
    std::array<unsigned char, 64> opened{};
    REQUIRE(EVP_DecryptUpdate(open.cipher.get(), opened.data(), &n, sealed.data(), sealed_size) ==
            1);
    REQUIRE(EVP_DecryptFinal_ex(open.cipher.get(), opened.data() + n, &tail) == 1);
    CHECK(n + tail == 5);
    CHECK(std::equal(message.begin(), message.end(), opened.begin()));
}

TEST_CASE("the callback asks for renewal with the previous key and refuses unknown names") {
    ManualRing r;
    Evp evp;
    Name name{};
    std::array<unsigned char, EVP_MAX_IV_LENGTH> iv{};
    REQUIRE(ticket_key_callback(r.keys, name.data(), iv.data(), evp.cipher.get(), evp.mac.get(),
                                1) == 1);
    r.now += 1h;
    CHECK(ticket_key_callback(r.keys, name.data(), iv.data(), evp.cipher.get(), evp.mac.get(), 0) ==
          2);
    r.now += 1h;
    CHECK(ticket_key_callback(r.keys, name.data(), iv.data(), evp.cipher.get(), evp.mac.get(), 0) ==
          0);
}

TEST_CASE("threads sealing and opening at once always see a current or previous key") {
    std::atomic<std::int64_t> seconds{0};
    TicketKeys keys(1s, [&seconds] {
        return std::chrono::steady_clock::time_point{} + std::chrono::seconds(seconds.load());
    });
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 2000; ++i) {
                const std::int64_t before = seconds.load();
                const auto k = keys.for_sealing();
                const bool opened = k && keys.for_opening(k->name);
                // A key sealing at `before` is under one period old, so it opens until at
                // least one period later; a slower thread may see it expire, fairly.
                if (!opened && seconds.load() - before <= 1) ++failures;
            }
        });
    }
    // The clock advances meanwhile.
    for (int i = 0; i < 200; ++i) {
        seconds.fetch_add(1);
        std::this_thread::yield();
    }
    for (std::thread& t : threads) t.join();
    CHECK(failures.load() == 0);
}

}  // TEST_SUITE("tls/ticket_keys")
