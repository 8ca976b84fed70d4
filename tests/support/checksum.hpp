// A short checksum of a body, for tests that compare large bodies by value or send one as a
// trailer.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace vstream::test {

/// FNV-1a, 64 bits, as 16 lower-case hex digits.
inline std::string checksum(std::string_view bytes) {
    std::uint64_t h = 14695981039346656037ull;
    for (const char c : bytes) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    char out[17];
    std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
    return out;
}

}  // namespace vstream::test
