// Receiving uploaded files: a destination directory, and one file written to a temporary file
// there and given its final name only when complete.
#pragma once

#include "files/upload_name.hpp"

#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vstream::files {

/// The prefix of UploadSink's named temporary files (then 32 hex digits). Such files are
/// left behind only if the process dies while writing one; anything with this prefix and an
/// old mtime may be removed. safe_upload_name() never returns a name starting with '.'.
inline constexpr std::string_view kUploadTempPrefix = ".vstream-upload-";

/// A destination directory for uploads, opened once (O_DIRECTORY), so later renames stay in it
/// even if its path changes. Movable, not copyable; must outlive the UploadSinks made from it.
/// Any thread may use it once made.
class UploadDir {
public:
    /// Opens `path`. Throws vstream::Error(errc::invalid_argument) when path is not a
    /// directory this process can write to (missing, not a directory, no write or search
    /// permission, a read-only mount).
    explicit UploadDir(std::string path);
    ~UploadDir();
    UploadDir(UploadDir&& other) noexcept;
    UploadDir& operator=(UploadDir&& other) noexcept;
    UploadDir(const UploadDir&) = delete;
    UploadDir& operator=(const UploadDir&) = delete;

    /// The directory's descriptor (O_RDONLY | O_DIRECTORY | O_CLOEXEC); -1 once moved from.
    int fd() const noexcept { return fd_; }
    /// The path it was opened with (for messages: renames never go through it).
    const std::string& path() const noexcept { return path_; }

private:
    int fd_ = -1;
    std::string path_;
};

/// One file being received: written to a temporary file in the destination directory, given
/// its final name only by commit(); removed on discard() or destruction if not committed, so no
/// partial file ever appears under the final name.
///
/// The temporary file is an O_TMPFILE where the filesystem supports it: it has no name at all
/// until linked, so nothing is left even if the process dies. Elsewhere (EOPNOTSUPP, EISDIR,
/// EINVAL) it is a named hidden file, kUploadTempPrefix + 32 random hex digits, created with
/// O_EXCL. Files are created mode 0644 less the umask, close-on-exec.
///
/// Nothing here throws or allocates. Loop-thread use (one thread at a time); movable. The
/// UploadDir must outlive the sink.
class UploadSink {
public:
    /// How the temporary file is made.
    enum class TempMode {
        automatic,  ///< O_TMPFILE, or the named file where O_TMPFILE is not supported
        named,      ///< always the named file (the fallback, forced: for tests)
    };

    /// Keeps `dir`'s descriptor; nothing opened yet.
    explicit UploadSink(const UploadDir& dir, TempMode mode = TempMode::automatic) noexcept;
    /// Calls discard() unless committed; closes the descriptor either way.
    ~UploadSink();
    UploadSink(UploadSink&& other) noexcept;
    /// Lets go of what this sink held (as the destructor does), then takes `other`'s file.
    UploadSink& operator=(UploadSink&& other) noexcept;
    UploadSink(const UploadSink&) = delete;
    UploadSink& operator=(const UploadSink&) = delete;

    /// Creates the temporary file. 0 or -errno: -EINVAL if already open or committed, else
    /// from openat (-ENOSPC, -EACCES, -EMFILE...).
    int open() noexcept;
    /// Writes all of `bytes` (loops on short writes and EINTR). 0 or -errno: -EBADF when not
    /// open, else from write (-ENOSPC, -EDQUOT, -EFBIG, -EIO...). After an error, size() counts
    /// the bytes written before it.
    int write(std::string_view bytes) noexcept;
    /// Bytes written since open().
    std::uint64_t size() const noexcept { return size_; }

    /// Optionally fdatasync()s the data, then gives the file `name` (a safe basename) in the
    /// directory: atomically, and without replacing an existing file unless `overwrite` (then
    /// it replaces it atomically by rename). fsyncs the directory too when `sync`; if that
    /// fails, the new name is removed again (with `overwrite`, the replaced file stays lost).
    /// 0 or -errno: -EINVAL for a name that is not one path component ("", ".", "..", a '/' or
    /// NUL in it, or a temporary name), -ENAMETOOLONG over NAME_MAX, -EEXIST if taken and not
    /// `overwrite`, -EBADF when not open, -EINVAL when already committed, else from the system
    /// (-EISDIR, -ENOSPC, -EIO...). On error the temporary file is still there for discard()
    /// (or another commit()). On success the descriptor stays open, unused, until uncommit()
    /// or destruction: holding the inode keeps its number from being reused, which is how
    /// uncommit() tells this file from a later one under the same name.
    int commit(std::string_view name, bool overwrite, bool sync) noexcept;
    /// Removes the temporary file (or unlinks nothing for O_TMPFILE: closing it frees it).
    /// Idempotent; does nothing once committed. The sink may then be opened again.
    void discard() noexcept;
    /// Removes a file this sink committed (rollback when a later file of the same request
    /// fails), and closes its descriptor. With `overwrite`, the file it replaced is not
    /// restored. 0 or -errno: -EINVAL if not committed, -ENOENT if the name is gone, -ESTALE if
    /// it now names another file (which is left alone); on error the sink stays committed.
    int uncommit() noexcept;
    /// Whether commit() succeeded (and no uncommit() followed).
    bool committed() const noexcept { return committed_; }

    /// Whether a temporary file is open for writing (between open() and commit() or discard()).
    bool is_open() const noexcept { return fd_ >= 0 && !committed_; }
    /// Whether the open file is an O_TMPFILE, with no name in the directory.
    bool anonymous() const noexcept { return anonymous_; }
    /// The file's descriptor (write-only), from open() until discard(), uncommit() or
    /// destruction; -1 when none.
    int fd() const noexcept { return fd_; }
    /// The named temporary file's name in the directory; "" when anonymous or not open.
    std::string_view temp_name() const noexcept { return temp_; }
    /// The committed file's name; "" unless committed.
    std::string_view name() const noexcept { return name_; }

private:
    int open_named() noexcept;
    int link_under(const char* target) noexcept;
    void release() noexcept;

    // kUploadTempPrefix, the random digits, NUL.
    static constexpr std::size_t kTempNameSize = kUploadTempPrefix.size() + kRandomNameDigits + 1;

    int dir_fd_;
    TempMode mode_;
    int fd_ = -1;
    bool anonymous_ = false;
    bool committed_ = false;
    std::uint64_t size_ = 0;
    char temp_[kTempNameSize] = {};
    char name_[NAME_MAX + 1] = {};
};

/// The HTTP status for a failed write or commit: 507 for ENOSPC and EDQUOT, 409 for EEXIST,
/// 413 for EFBIG, 500 otherwise.
int upload_error_status(int negative_errno) noexcept;

}  // namespace vstream::files
