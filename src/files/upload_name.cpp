#include "files/upload_name.hpp"

#include "crypto/random.hpp"
#include "crypto/sha256.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <system_error>

namespace vstream::files {

namespace {

// Longest extension (the dot included) kept whole when a long name is cut.
constexpr std::size_t kMaxKeptExtension = 16;

constexpr bool is_alnum(char c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr bool is_kept(char c) noexcept { return is_alnum(c) || c == '.' || c == '_' || c == '-'; }

}  // namespace

std::string safe_upload_name(std::string_view client_name) {
    // RFC 7578 §4.2: "do not use directory path information that may be present". Browsers
    // send a basename, but older ones and scripts send whole client paths, in either
    // convention.
    const std::size_t slash = client_name.find_last_of("/\\");
    if (slash != std::string_view::npos) client_name.remove_prefix(slash + 1);

    std::string name;
    name.reserve(client_name.size());
    bool in_run = false;  // the last byte read was replaced
    for (const char c : client_name) {
        if (!is_kept(c)) {
            // One '_' per run: a space, a NUL, control bytes and a UTF-8 sequence alike leave
            // one visible gap ("vidéo.mp4" -> "vid_o.mp4").
            if (!in_run) name.push_back('_');
            in_run = true;
            continue;
        }
        in_run = false;
        // A leading '.' would hide the file ("." and ".." are worse); a leading '-' reads as
        // an option to the tools that later handle it.
        if (name.empty() && (c == '.' || c == '-')) continue;
        name.push_back(c);
    }

    if (name.size() > kMaxUploadName) {
        // Keep a short extension ("<long title>.mp4" stays a .mp4), cut the stem.
        const std::size_t dot = name.rfind('.');
        const std::size_t ext = dot == std::string::npos ? 0 : name.size() - dot;
        if (ext > 1 && ext <= kMaxKeptExtension) {
            name.erase(kMaxUploadName - ext, name.size() - kMaxUploadName);
        } else {
            name.resize(kMaxUploadName);
        }
    }
    // "_", "_.-_" and the like name nothing: let the caller generate a name.
    if (std::none_of(name.begin(), name.end(), is_alnum)) return {};
    return name;
}

int random_name_digits(std::span<char, kRandomNameDigits> out) noexcept {
    std::array<std::uint8_t, kRandomNameDigits / 2> bytes;
    if (const int rc = crypto::random_bytes(bytes); rc != 0) return rc;
    crypto::to_hex(bytes, out.data());
    return 0;
}

std::string generated_upload_name(std::string_view extension) {
    std::string name(kRandomNameDigits, '\0');
    const int rc =
        random_name_digits(std::span<char, kRandomNameDigits>(name.data(), kRandomNameDigits));
    if (rc != 0) throw std::system_error(-rc, std::generic_category(), "no random source");
    name.append(extension);
    return name;
}

}  // namespace vstream::files
