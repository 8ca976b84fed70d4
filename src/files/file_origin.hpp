#pragma once

#include <cstdint>
#include <string_view>

namespace vstream::files {

/// What tells one version of a file from another: any change means new content (the ETag is
/// made from it, like nginx's and h2o's).
struct FileIdentity {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::uint64_t size = 0;
    std::int64_t mtime_sec = 0;
    std::int64_t mtime_nsec = 0;
    bool operator==(const FileIdentity&) const = default;
};

enum class FileKind { regular, directory, other };

/// A file opened by a FileOrigin. The receiver owns `fd`.
struct OpenedFile {
    int fd = -1;
    FileIdentity identity;
    FileKind kind = FileKind::other;
};

/// Where the file cache gets files from. The local disk now (LocalFileOrigin); the seam for
/// other origins: an S3-compatible store would fetch an object into a local spool file and
/// hand out its descriptor, and the cache above would not change.
/// Thread: any (implementations are immutable after construction).
class FileOrigin {
public:
    virtual ~FileOrigin() = default;
    /// Tells this origin's files apart from another's in the shared cache (two origins may
    /// resolve the same relative path to different files, or under different rules).
    virtual std::string_view cache_key() const noexcept = 0;
    /// Opens `path` read-only. Returns 0, or a negative errno: -ENOENT, -EACCES, -ENOTDIR,
    /// -EXDEV or -ELOOP for a path that would leave a confined root, -ENAMETOOLONG.
    virtual int open(std::string_view path, OpenedFile& out) const noexcept = 0;
    /// The identity and kind `path` has now, without opening it (for revalidation).
    virtual int stat(std::string_view path, FileIdentity& identity,
                     FileKind& kind) const noexcept = 0;
};

}  // namespace vstream::files
