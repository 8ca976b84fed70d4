// What one loop's TLS connections count (the metrics seam): written by that loop alone,
// read by any thread when the server sums them into TlsStats.
#pragma once

#include <vstream/tls.hpp>

#include <atomic>
#include <cstdint>

namespace vstream::tls {

/// Why a handshake did not complete (TlsStats' failed_* fields).
enum class HandshakeFailure { timeout, version, certificate, plain_http, closed, protocol };

/// One loop's counters. Relaxed atomics: one writer, and readers only sum.
struct TlsCounters {
    std::atomic<std::uint64_t> handshakes{0};
    std::atomic<std::uint64_t> resumed{0};
    std::atomic<std::uint64_t> in_progress{0};
    std::atomic<std::uint64_t> failed[6] = {};  // by HandshakeFailure
    std::atomic<std::uint64_t> refused_busy{0};
    std::atomic<std::uint64_t> ktls_connections{0};
    std::atomic<std::uint64_t> userspace_connections{0};
    std::atomic<std::uint64_t> ktls_sendfile_bytes{0};
    std::atomic<std::uint64_t> truncated_reads{0};

    static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
        c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void failure(HandshakeFailure why) noexcept { bump(failed[static_cast<int>(why)]); }

    /// Adds these counters to `into`.
    void add_to(TlsStats& into) const noexcept;
};

}  // namespace vstream::tls
