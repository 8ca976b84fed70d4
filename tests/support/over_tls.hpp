// Whether the integration suite runs over TLS: tests/meson.build registers the integration
// binary twice, the second time with VSTREAM_TEST_TLS=1, and the support layer (test_config,
// RawClient, curl) follows this switch, so every case runs once over plain TCP and once over
// TLS without being written twice.
#pragma once

#include <cstdlib>
#include <cstring>

namespace vstream::test {

/// True when the environment says VSTREAM_TEST_TLS=1: servers made from test_config() then
/// listen with TLS, and RawClient and curl speak TLS to them. Read once per process.
inline bool over_tls() {
    static const bool on = [] {
        const char* v = std::getenv("VSTREAM_TEST_TLS");
        return v != nullptr && std::strcmp(v, "1") == 0;
    }();
    return on;
}

}  // namespace vstream::test
