// libFuzzer target: path normalisation, percent-decoding and query parsing on arbitrary bytes.
// Checks the invariants routing and file serving rely on.
#include "http/query.hpp"
#include "http/uri.hpp"

#include <cstdint>
#include <string>

using vstream::http::UriStatus;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string out;
    if (vstream::http::normalize_path(in, out) == UriStatus::ok) {
        // A normalised path is absolute, has no dot segment left, and is stable.
        if (out.empty() || out.front() != '/') __builtin_trap();
        if (vstream::http::path_needs_normalizing(out)) {
            // Only %2F / %25 escapes may remain; they are stable under normalisation.
            std::string again;
            if (vstream::http::normalize_path(out, again) != UriStatus::ok || again != out) {
                __builtin_trap();
            }
        }
        for (std::size_t i = 0; i + 1 < out.size(); ++i) {
            if (out[i] == '/' && out[i + 1] == '.' &&
                (i + 2 == out.size() || out[i + 2] == '/' ||
                 (out[i + 2] == '.' && (i + 3 == out.size() || out[i + 3] == '/')))) {
                __builtin_trap();  // a "." or ".." segment survived
            }
        }
        std::string encoded;
        vstream::http::percent_encode_path(out, encoded);
        std::string decoded;
        if (vstream::http::percent_decode(encoded, decoded) != UriStatus::ok) __builtin_trap();
    }
    std::string decoded;
    vstream::http::percent_decode(in, decoded, true);
    if (decoded.size() > in.size()) __builtin_trap();
    vstream::http::QueryPairs pairs;
    vstream::http::parse_query(in, pairs);
    return 0;
}
