// Unpredictable bytes, for names and boundaries a client must not guess.
#pragma once

#include <cstdint>
#include <span>

namespace vstream::crypto {

/// Fills `out` from OpenSSL's CSPRNG (RAND_bytes), or from the kernel (getrandom(2)) should
/// OpenSSL fail to seed itself. 0 or -errno (from getrandom; never seen in practice). Any
/// thread; never allocates.
int random_bytes(std::span<std::uint8_t> out) noexcept;

}  // namespace vstream::crypto
