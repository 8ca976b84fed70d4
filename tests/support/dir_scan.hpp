// Looking at directories and files from tests: names, whole files, descriptors this process
// holds below a directory, and a tmpfs mounted for a test's lifetime (disk-full tests).
#pragma once

#include <doctest/doctest.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace vstream::test {

/// Every name in `dir`, sorted, hidden ones (a named temporary file) included.
inline std::vector<std::string> list(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

/// The files this process holds open below `dir`: an O_TMPFILE reads back as
/// "<dir>/#<inode> (deleted)", a named file as "<dir>/<name>". One left open after an upload
/// ended holds disk space nobody can see or remove.
inline std::vector<std::string> open_files_in(const std::string& dir) {
    const std::string prefix = std::filesystem::canonical(dir).string() + "/";
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        std::error_code link_ec;
        const auto target = std::filesystem::read_symlink(entry.path(), link_ec);
        if (!link_ec && target.string().starts_with(prefix)) found.push_back(target.string());
    }
    return found;
}

/// The whole file at `path` (a failed check if it cannot be opened).
inline std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    CHECK_MESSAGE(f, "cannot open " << path);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

/// A tmpfs on `path` for the test's lifetime (root or CAP_SYS_ADMIN), unmounted after.
/// mounted() is false (and error() says why) where mounting is not permitted.
class TmpfsMount {
public:
    TmpfsMount(std::string path, const char* options, unsigned long flags = 0)
        : path_(std::move(path)) {
        mounted_ = ::mount("tmpfs", path_.c_str(), "tmpfs", flags, options) == 0;
        error_ = mounted_ ? 0 : errno;
    }
    ~TmpfsMount() {
        if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    }
    TmpfsMount(const TmpfsMount&) = delete;
    TmpfsMount& operator=(const TmpfsMount&) = delete;

    bool mounted() const { return mounted_; }
    int error() const { return error_; }

private:
    std::string path_;
    bool mounted_ = false;
    int error_ = 0;
};

}  // namespace vstream::test
