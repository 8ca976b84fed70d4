// A temporary directory for a test, removed with everything in it on destruction.
#pragma once

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vstream::test {

class TempDir {
public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "vstream-test-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    /// The absolute path of `relative` inside the directory.
    std::string at(std::string_view relative) const { return (path_ / relative).string(); }

    /// Writes `bytes` to `relative` (parent directories created); returns its path.
    std::string write(std::string_view relative, std::string_view bytes) const {
        const std::filesystem::path p = path_ / relative;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream f(p, std::ios::binary | std::ios::trunc);
        f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!f) throw std::runtime_error("cannot write " + p.string());
        return p.string();
    }

private:
    std::filesystem::path path_;
};

/// `n` pseudo-random bytes, the same for the same seed (so a failure can be replayed).
inline std::string random_bytes(std::size_t n, std::uint64_t seed = 1) {
    std::mt19937_64 gen(seed);
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        const std::uint64_t v = gen();
        for (std::size_t k = 0; k < 8 && i + k < n; ++k)
            out[i + k] = static_cast<char>(v >> (8 * k));
    }
    return out;
}

}  // namespace vstream::test
