#include <vstream/config.hpp>
#include <vstream/error.hpp>

#include "net/address.hpp"

#include <thread>

namespace vstream {

namespace {

void require(bool ok, const char* field, const char* rule) {
    if (!ok) throw Error(errc::invalid_argument, std::string("ServerConfig.") + field + " " + rule);
}

// Numeric only: a host name would need a resolver, and "localhost" may not mean loopback.
// Checked here, so the C++ and C APIs refuse the same addresses up front.
void require_numeric(const std::string& a, const char* field) {
    require(!a.empty(), field, "holds an empty address");
    if (!net::parse_ip(a)) {
        throw Error(errc::invalid_argument, std::string("ServerConfig.") + field + " holds '" + a +
                                                "', which is not a numeric IPv4 or IPv6 address");
    }
}

// Both numeric (checked first): the same socket address however written ("::1", "0::1").
bool same_address(const std::string& a, const std::string& b) {
    const auto x = net::parse_ip(a);
    const auto y = net::parse_ip(b);
    return x->family == y->family && x->bytes == y->bytes;
}

}  // namespace

void ServerConfig::validate() const {
    if (listeners.empty()) {
        require(!addresses.empty(), "addresses", "must list at least one address");
        for (const std::string& a : addresses) require_numeric(a, "addresses");
    }
    for (std::size_t i = 0; i < listeners.size(); ++i) {
        const Listener& l = listeners[i];
        require_numeric(l.address, "listeners");
        for (std::size_t j = 0; j < i; ++j) {
            // The second bind would fail at start(); say which entry, now.
            if (l.port != 0 && listeners[j].port == l.port &&
                same_address(listeners[j].address, l.address)) {
                throw Error(errc::invalid_argument, "ServerConfig.listeners lists " + l.address +
                                                        " port " + std::to_string(l.port) +
                                                        " twice");
            }
        }
    }
    if (has_tls_listener()) tls.validate();
    require(backlog > 0, "backlog", "must be positive");
    require(threads <= 1024, "threads", "must be at most 1024");
    for (const char ch : server_name) {
        // Visible ASCII, space or obs-text (bytes >= 0x80, RFC 9110 §5.5).
        const auto c = static_cast<unsigned char>(ch);
        require(c >= 0x20 && c != 0x7f, "server_name",
                "must not hold control characters (CR, LF, NUL, ...)");
    }
    require(limits.max_request_line >= 16, "limits.max_request_line", "must be at least 16");
    require(limits.max_header_bytes >= 64, "limits.max_header_bytes", "must be at least 64");
    require(limits.max_header_count >= 1, "limits.max_header_count", "must be at least 1");
    require(limits.max_header_bytes <= (1u << 30), "limits.max_header_bytes",
            "must be below 1 GiB");
    require(limits.max_request_line <= (1u << 30), "limits.max_request_line",
            "must be below 1 GiB");
    require(limits.max_stream_body_bytes >= 1, "limits.max_stream_body_bytes",
            "must be at least 1");
    require(limits.max_connections >= 1, "limits.max_connections", "must be at least 1");
    require(limits.write_low_water <= limits.write_high_water, "limits.write_low_water",
            "must not exceed write_high_water");
    require(limits.write_high_water >= 1, "limits.write_high_water", "must be at least 1");
    require(limits.max_ranges >= 1 && limits.max_ranges <= 64, "limits.max_ranges",
            "must be from 1 to 64");
    require(file_cache.max_mapped_bytes >= 1, "file_cache.max_mapped_bytes", "must be at least 1");
    require(file_cache.max_entries >= 1, "file_cache.max_entries", "must be at least 1");
    require(file_cache.window_size >= 4096 && file_cache.window_size <= (std::size_t{1} << 30),
            "file_cache.window_size", "must be from 4 KiB to 1 GiB");
    require(file_cache.revalidate.count() >= 0, "file_cache.revalidate", "must not be negative");
    require(file_cache.idle.count() > 0, "file_cache.idle", "must be positive");
    using ms = Timeouts::ms;
    for (const auto& [value, name] :
         {std::pair{timeouts.header, "timeouts.header"},
          std::pair{timeouts.keep_alive, "timeouts.keep_alive"},
          std::pair{timeouts.body_read, "timeouts.body_read"},
          std::pair{timeouts.stream_body, "timeouts.stream_body"},
          std::pair{timeouts.write, "timeouts.write"},
          std::pair{timeouts.linger, "timeouts.linger"},
          std::pair{timeouts.shutdown_grace, "timeouts.shutdown_grace"},
          std::pair{timeouts.accept_backoff, "timeouts.accept_backoff"}}) {
        require(value > ms::zero(), name, "must be positive");
    }
}

unsigned ServerConfig::effective_threads() const noexcept {
    if (threads != 0) return threads;
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
}

bool ServerConfig::has_tls_listener() const noexcept {
    for (const Listener& l : listeners) {
        if (l.tls) return true;
    }
    return false;
}

std::vector<Listener> ServerConfig::effective_listeners() const {
    if (!listeners.empty()) return listeners;
    std::vector<Listener> out;
    out.reserve(addresses.size());
    for (const std::string& a : addresses) out.push_back(Listener{a, port});
    return out;
}

}  // namespace vstream
