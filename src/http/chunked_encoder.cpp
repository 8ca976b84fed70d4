#include "http/chunked_encoder.hpp"

#include <vstream/error.hpp>

#include "http/token.hpp"

namespace vstream::http {

std::size_t chunk_size_line(std::uint64_t size, char* out) noexcept {
    static constexpr char kHex[] = "0123456789abcdef";
    char digits[16];
    std::size_t n = 0;
    do {
        digits[n++] = kHex[size & 15];
        size >>= 4;
    } while (size != 0);
    for (std::size_t i = 0; i < n; ++i) out[i] = digits[n - 1 - i];
    out[n] = '\r';
    out[n + 1] = '\n';
    return n + 2;
}

std::string last_chunk(std::span<const std::pair<std::string, std::string>> trailers) {
    std::string out = "0\r\n";
    for (const auto& [name, value] : trailers) {
        if (!is_token(name))
            throw Error(errc::invalid_argument, "invalid trailer name '" + name + "'");
        if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
            throw Error(errc::invalid_argument, "trailer '" + name + "' value holds CR, LF or NUL");
        }
        out.append(name).append(": ").append(value).append("\r\n");
    }
    out.append("\r\n");
    return out;
}

}  // namespace vstream::http
