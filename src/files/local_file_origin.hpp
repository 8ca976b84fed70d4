#pragma once

#include "files/file_origin.hpp"

#include <string>

namespace vstream::files {

/// Files on the local disk: either anywhere (paths as given, relative to the working
/// directory), or confined below a root directory. Confined opens go through openat2 with
/// RESOLVE_BENEATH, so the kernel refuses any path, symlinks included, that would leave the
/// root, with no window for a race between a check and the open.
class LocalFileOrigin final : public FileOrigin {
public:
    /// Paths as given; symlinks followed. For Context::send_file.
    LocalFileOrigin();
    /// Files below `root` (opened now). With `follow_outside`, symlinks may lead out of it
    /// (absolute paths and ".." segments still may not).
    /// Throws Error(invalid_argument) if root is not a readable directory.
    LocalFileOrigin(const std::string& root, bool follow_outside);
    ~LocalFileOrigin() override;
    LocalFileOrigin(const LocalFileOrigin&) = delete;
    LocalFileOrigin& operator=(const LocalFileOrigin&) = delete;

    std::string_view cache_key() const noexcept override { return key_; }
    int open(std::string_view path, OpenedFile& out) const noexcept override;
    int stat(std::string_view path, FileIdentity& identity, FileKind& kind) const noexcept override;

    /// The root's descriptor (AT_FDCWD when not confined).
    int root_fd() const noexcept { return root_fd_; }

private:
    int open_confined(const char* path, int flags) const noexcept;

    int root_fd_;
    bool confined_ = false;
    std::string key_;
    std::string root_real_;  // the root's real path, for the fallback check without openat2
};

}  // namespace vstream::files
