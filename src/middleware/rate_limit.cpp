// rate_limit(): a token bucket per client key, shared by every loop thread, in a bounded,
// sharded table that forgets the least recently seen clients.
#include <vstream/context.hpp>
#include <vstream/error.hpp>
#include <vstream/headers.hpp>
#include <vstream/middleware.hpp>

#include "net/address.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vstream::middleware {

namespace {

using Clock = std::chrono::steady_clock;

// Shards of the client table: each has its own lock, so loop threads serving different
// clients rarely wait for each other.
constexpr std::size_t kShards = 16;

// RFC 9111 §1.2.2: a delay that does not fit is sent as 2^31; a client is long gone by then.
constexpr double kMaxRetryAfter = 2147483648.0;

// Addresses as 16 bytes, IPv4 mapped into IPv6 (net/address.hpp): a dual-stack listener's
// "::ffff:10.0.0.1" and a configured "10.0.0.1" are the same address. Addresses are read as
// proxies write them (net::parse_forwarded_ip: a port or brackets may come with them), and a
// bucket's key is net::format_ip's canonical text, so spellings of one address
// ("2001:DB8:0::1", "2001:db8::1") share one bucket, and a key is at most 45 bytes whatever
// the header held.
using net::IpBytes;

// One client's bucket. The key lives here; the shard's index holds views of it (a list
// node never moves).
struct Bucket {
    std::string key;
    double tokens = 0;
    Clock::time_point refilled;
};

// What a request gets from its bucket.
struct Verdict {
    bool allowed = false;
    double wait_seconds = 0;  // when refused: until one token is back
};

// The client table: kShards independent LRU maps, each bounded. A key always lands in the
// same shard, so its bucket is only ever touched under that shard's lock.
//
// Forgetting a client is safe. A bucket that is full again (idle for burst / rate seconds) is
// indistinguishable from a new one, so forgetting it changes nothing; forgetting any other
// bucket only hands its client a fresh burst, never more than a newcomer starts with. And
// pushing a client out takes a shard's worth of more recently seen keys, each with a full
// bucket of its own: whoever can send from that many addresses already has those bursts, so
// eviction gains a flood nothing, while memory stays bounded by max_clients.
class BucketTable {
public:
    BucketTable(double rate, double burst, std::size_t max_clients)
        : rate_(rate),
          burst_(burst),
          shard_count_(std::min(kShards, max_clients)),
          shards_(std::make_unique<Shard[]>(shard_count_)) {
        // Split max_clients exactly, so the whole table never holds more.
        for (std::size_t i = 0; i < shard_count_; ++i) {
            shards_[i].capacity =
                max_clients / shard_count_ + (i < max_clients % shard_count_ ? 1 : 0);
        }
    }

    // Takes one token from `key`'s bucket, creating it (full) if the client is new.
    Verdict take(std::string_view key) {
        Shard& shard = shards_[std::hash<std::string_view>{}(key) % shard_count_];
        const std::lock_guard<std::mutex> lock(shard.mutex);
        // Read under the lock: the clock then never goes backwards within one shard.
        const Clock::time_point now = Clock::now();

        Bucket* b = nullptr;
        if (auto it = shard.index.find(key); it != shard.index.end()) {
            shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
            b = &shard.lru.front();
            const double elapsed = std::chrono::duration<double>(now - b->refilled).count();
            if (elapsed > 0) b->tokens = std::min(burst_, b->tokens + elapsed * rate_);
            b->refilled = std::max(b->refilled, now);
        } else {
            if (shard.index.size() >= shard.capacity) {
                // Reuse the least recently seen client's node for the newcomer.
                shard.index.erase(shard.lru.back().key);
                shard.lru.splice(shard.lru.begin(), shard.lru, std::prev(shard.lru.end()));
                shard.lru.front().key.assign(key);
            } else {
                shard.lru.emplace_front(Bucket{std::string(key), 0, {}});
            }
            b = &shard.lru.front();
            b->tokens = burst_;
            b->refilled = now;
            shard.index.emplace(b->key, shard.lru.begin());
        }

        if (b->tokens >= 1) {
            b->tokens -= 1;
            return {true, 0};
        }
        return {false, (1 - b->tokens) / rate_};
    }

private:
    struct alignas(64) Shard {
        std::mutex mutex;
        std::size_t capacity = 0;
        std::list<Bucket> lru;  // most recently seen first
        std::unordered_map<std::string_view, std::list<Bucket>::iterator> index;  // keys view lru
    };

    double rate_;
    double burst_;
    std::size_t shard_count_;
    std::unique_ptr<Shard[]> shards_;
};

// The middleware's shared state: options, parsed once, and the table.
class RateLimiter {
public:
    explicit RateLimiter(RateLimitOptions options)
        : key_header_(std::move(options.key_header)),
          table_(options.rate, options.burst, options.max_clients) {
        for (const std::string& p : options.trusted_proxies) {
            const std::optional<net::IpAddress> ip = net::parse_forwarded_ip(trim_ows(p));
            if (!ip) {
                throw Error(errc::invalid_argument,
                            "rate_limit: trusted_proxies entry '" + p + "' is not an IP address");
            }
            trusted_.push_back(ip->bytes);
        }
        std::sort(trusted_.begin(), trusted_.end());
        trusted_.erase(std::unique(trusted_.begin(), trusted_.end()), trusted_.end());
    }

    void operator()(Context& ctx, const Next& next) {
        const Verdict v = table_.take(client_key(ctx));
        if (v.allowed) {
            next();
            return;
        }
        // RFC 6585 §4 (429) and RFC 9110 §10.2.3 (Retry-After in whole seconds): round up,
        // so a client that waits that long finds a token, and never say 0.
        const double wait = std::min(std::max(std::ceil(v.wait_seconds), 1.0), kMaxRetryAfter);
        const std::string seconds = std::to_string(static_cast<std::uint64_t>(wait));
        ctx.set_header("Retry-After", seconds);
        ctx.json(429, R"({"error":"too many requests","retry_after":)" + seconds + "}");
    }

private:
    bool trusted(const IpBytes& ip) const noexcept {
        return std::binary_search(trusted_.begin(), trusted_.end(), ip);
    }

    // The peer address, or, when the peer is a trusted proxy, the client it reports in
    // key_header.
    std::string client_key(const Context& ctx) const {
        const std::string_view peer = ctx.peer_address();
        const std::optional<net::IpAddress> peer_ip = net::parse_forwarded_ip(peer);
        if (!peer_ip) return std::string(peer);
        if (key_header_.empty() || !trusted(peer_ip->bytes)) return net::format_ip(peer_ip->bytes);
        if (std::optional<IpBytes> client = forwarded_client(ctx.headers())) {
            return net::format_ip(*client);
        }
        return net::format_ip(peer_ip->bytes);
    }

    // The rightmost address in key_header that is not a trusted proxy (see
    // net::pick_forwarded_client). Several fields of that name form one list, in order
    // (RFC 9110 §5.3), so the last field's last entry is the nearest hop. nullopt when there
    // is no such entry, or when it is not an address: then the proxy itself is the key, which
    // can only limit more, never less.
    std::optional<IpBytes> forwarded_client(const HeaderMap& headers) const noexcept {
        for (const HeaderField* f = headers.end(); f != headers.begin();) {
            --f;
            if (!iequals(f->name, key_header_)) continue;
            const net::ForwardedClient c = net::pick_forwarded_client(f->value, trusted_);
            if (c.outcome == net::ForwardedOutcome::client) return c.address.bytes;
            if (c.outcome == net::ForwardedOutcome::invalid) return std::nullopt;
        }
        return std::nullopt;
    }

    std::string key_header_;
    std::vector<IpBytes> trusted_;  // sorted, for binary_search
    BucketTable table_;
};

}  // namespace

Middleware rate_limit(RateLimitOptions options) {
    // Non-finite values are refused too: an infinite rate makes inf * 0 = NaN tokens.
    if (!(options.rate > 0) || !std::isfinite(options.rate)) {
        throw Error(errc::invalid_argument, "rate_limit: rate must be a finite number above 0");
    }
    if (!(options.burst >= 1) || !std::isfinite(options.burst)) {
        throw Error(errc::invalid_argument,
                    "rate_limit: burst must be a finite number of at least 1");
    }
    if (options.max_clients < 1) {
        throw Error(errc::invalid_argument, "rate_limit: max_clients must be at least 1");
    }
    auto limiter = std::make_shared<RateLimiter>(std::move(options));
    return [limiter](Context& ctx, Next next) { (*limiter)(ctx, next); };
}

}  // namespace vstream::middleware
