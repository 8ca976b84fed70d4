#include "tls/alpn.hpp"

#include <cstring>

namespace vstream::tls {

namespace {

// RFC 7301 §3.1: every name is 1 to 255 bytes and the list holds whole names only.
bool well_formed(std::span<const std::uint8_t> wire) noexcept {
    std::size_t i = 0;
    while (i < wire.size()) {
        const std::size_t n = wire[i];
        if (n == 0 || n > wire.size() - i - 1) return false;
        i += 1 + n;
    }
    return true;
}

}  // namespace

std::span<const std::uint8_t> select_alpn(std::span<const std::string> server,
                                          std::span<const std::uint8_t> client_wire) noexcept {
    if (!well_formed(client_wire)) return {};
    for (const std::string& wanted : server) {
        for (std::size_t i = 0; i < client_wire.size(); i += 1 + client_wire[i]) {
            const std::span<const std::uint8_t> offered =
                client_wire.subspan(i + 1, client_wire[i]);
            if (!wanted.empty() && offered.size() == wanted.size() &&
                std::memcmp(offered.data(), wanted.data(), wanted.size()) == 0) {
                return offered;
            }
        }
    }
    return {};
}

}  // namespace vstream::tls
