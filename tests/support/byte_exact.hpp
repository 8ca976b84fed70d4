// A byte comparison for tests that does not print megabytes when it fails.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace vstream::test {

/// Whether `got` is exactly `want`. On a difference it reports the sizes and the first
/// differing offset instead of both strings (which may be megabytes of random bytes).
inline bool byte_exact(std::string_view got, std::string_view want) {
    if (got == want) return true;
    const std::size_t n = std::min(got.size(), want.size());
    const std::size_t at = static_cast<std::size_t>(
        std::mismatch(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(n), want.begin())
            .first -
        got.begin());
    MESSAGE("got " << got.size() << " bytes, want " << want.size()
                   << "; first difference at offset " << at);
    return false;
}

}  // namespace vstream::test
