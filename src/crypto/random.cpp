#include "crypto/random.hpp"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <sys/random.h>

#include <cerrno>
#include <cstddef>

namespace vstream::crypto {

int random_bytes(std::span<std::uint8_t> out) noexcept {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) == 1) return 0;
    // RAND_bytes fails only when it cannot seed itself: ask the kernel directly.
    ERR_clear_error();  // no stale error for the next OpenSSL caller on this thread
    std::size_t got = 0;
    while (got < out.size()) {
        const ssize_t n = ::getrandom(out.data() + got, out.size() - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        got += static_cast<std::size_t>(n);
    }
    return 0;
}

}  // namespace vstream::crypto
