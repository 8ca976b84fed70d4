// rate_limit(): a token bucket per client key, shared by every loop thread, in a bounded,
// sharded table that forgets the least recently seen clients.
#include <vstream/middleware.hpp>

#include <vstream/context.hpp>
#include <vstream/error.hpp>
#include <vstream/headers.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
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

// An IP address as 16 bytes: IPv4 is held as IPv4-mapped IPv6 (::ffff:a.b.c.d), so a
// dual-stack listener's "::ffff:10.0.0.1" and a configured "10.0.0.1" are the same address.
using IpBytes = std::array<unsigned char, 16>;

constexpr std::array<unsigned char, 12> kV4MappedPrefix = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_v4_mapped(const IpBytes& ip) noexcept {
    return std::equal(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), ip.begin());
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool all_digits(std::string_view s) noexcept {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Parses a numeric address as proxies write it in X-Forwarded-For and its kin: "192.0.2.1",
// "2001:db8::1", and with a port, "192.0.2.1:443" or "[2001:db8::1]:443". Anything else
// (hostnames, "unknown", zone ids) is not an address.
std::optional<IpBytes> parse_ip(std::string_view text) noexcept {
    if (!text.empty() && text.front() == '[') {
        const std::size_t close = text.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const std::string_view rest = text.substr(close + 1);
        if (!rest.empty() && !(rest.front() == ':' && all_digits(rest.substr(1)))) {
            return std::nullopt;
        }
        text = text.substr(1, close - 1);
    } else if (const std::size_t colon = text.find(':');
               colon != std::string_view::npos && text.rfind(':') == colon) {
        // One colon: IPv4 with a port (an IPv6 address has at least two).
        if (!all_digits(text.substr(colon + 1))) return std::nullopt;
        text = text.substr(0, colon);
    }
    char buf[INET6_ADDRSTRLEN] = {};
    if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
    std::memcpy(buf, text.data(), text.size());

    IpBytes ip{};
    in_addr v4{};
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        std::copy(kV4MappedPrefix.begin(), kV4MappedPrefix.end(), ip.begin());
        std::memcpy(ip.data() + 12, &v4, 4);
        return ip;
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, buf, &v6) == 1) {
        std::memcpy(ip.data(), &v6, 16);
        return ip;
    }
    return std::nullopt;
}

// The canonical text of an address, used as the bucket key: dotted quad for IPv4 (mapped or
// not), RFC 5952 form for IPv6. Spellings of one address ("2001:DB8:0::1", "2001:db8::1")
// share one bucket, and a key is at most 45 bytes whatever the header held.
std::string ip_text(const IpBytes& ip) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (is_v4_mapped(ip)) {
        inet_ntop(AF_INET, ip.data() + 12, buf, sizeof buf);
    } else {
        inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
    }
    return buf;
}

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
        : rate_(rate), burst_(burst), shard_count_(std::min(kShards, max_clients)),
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
            const std::optional<IpBytes> ip = parse_ip(trim(p));
            if (!ip) {
                throw Error(errc::invalid_argument,
                            "rate_limit: trusted_proxies entry '" + p + "' is not an IP address");
            }
            trusted_.push_back(*ip);
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
        const std::optional<IpBytes> peer_ip = parse_ip(peer);
        if (!peer_ip) return std::string(peer);
        if (key_header_.empty() || !trusted(*peer_ip)) return ip_text(*peer_ip);
        if (std::optional<IpBytes> client = forwarded_client(ctx.headers())) {
            return ip_text(*client);
        }
        return ip_text(*peer_ip);
    }

    // The rightmost address in key_header that is not a trusted proxy. Each proxy appends
    // the address it saw, so entries right of the first untrusted one were written by
    // proxies we trust, and anything left of it may have been made up by the client. Several
    // fields of that name form one list, in order (RFC 9110 §5.3), so the last field's last
    // entry is the nearest hop. nullopt when there is no such entry, or when it is not an
    // address: then the proxy itself is the key, which can only limit more, never less.
    std::optional<IpBytes> forwarded_client(const HeaderMap& headers) const noexcept {
        for (const HeaderField* f = headers.end(); f != headers.begin();) {
            --f;
            if (!iequals(f->name, key_header_)) continue;
            std::string_view list = f->value;
            while (!list.empty()) {
                const std::size_t comma = list.rfind(',');
                const std::string_view entry =
                    trim(comma == std::string_view::npos ? list : list.substr(comma + 1));
                list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
                if (entry.empty()) continue;  // RFC 9110 §5.6.1: empty list elements don't count
                const std::optional<IpBytes> ip = parse_ip(entry);
                if (!ip) return std::nullopt;
                if (!trusted(*ip)) return ip;
            }
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
