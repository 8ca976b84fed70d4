#include "files/upload_sink.hpp"

#include <vstream/error.hpp>

#include "files/upload_name.hpp"

#include <fcntl.h>
#include <stdio.h>  // renameat2, RENAME_NOREPLACE (glibc 2.28, _GNU_SOURCE)
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <span>
#include <utility>

namespace vstream::files {

namespace {

constexpr mode_t kFileMode = 0644;  // less the umask
// Tries at a free random name before giving up with -EEXIST: with 128 random bits a clash
// means the random source is broken, not bad luck.
constexpr int kNameAttempts = 4;

constexpr std::size_t kPrefixSize = kUploadTempPrefix.size();

// Fills `buf` (kUploadTempPrefix, 32 hex digits, NUL) with a fresh random temporary name.
int make_temp_name(std::span<char, kPrefixSize + kRandomNameDigits + 1> buf) noexcept {
    std::memcpy(buf.data(), kUploadTempPrefix.data(), kPrefixSize);
    const int rc = random_name_digits(buf.subspan<kPrefixSize, kRandomNameDigits>());
    buf[buf.size() - 1] = '\0';
    return rc;
}

// commit()'s name rules: one path component that is neither ours nor a directory alias.
int check_name(std::string_view name) noexcept {
    if (name.empty() || name == "." || name == ".." ||
        name.find_first_of(std::string_view("/\0", 2)) != std::string_view::npos ||
        name.starts_with(kUploadTempPrefix)) {
        return -EINVAL;
    }
    return name.size() > NAME_MAX ? -ENAMETOOLONG : 0;
}

// renameat2 with RENAME_NOREPLACE: atomic, fails with EEXIST on a taken name. Filesystems
// without it (EINVAL; ENOSYS on old kernels) get link + unlink, as atomic for the new name
// (link(2) never replaces), only leaving both names for a moment.
int rename_noreplace(int dir, const char* from, const char* to) noexcept {
    if (::renameat2(dir, from, dir, to, RENAME_NOREPLACE) == 0) return 0;
    if (errno != EINVAL && errno != ENOSYS) return -errno;
    if (::linkat(dir, from, dir, to, 0) != 0) return -errno;
    ::unlinkat(dir, from, 0);
    return 0;
}

}  // namespace

UploadDir::UploadDir(std::string path) : path_(std::move(path)) {
    const auto fail = [this](int e) {
        throw Error(
            errc::invalid_argument,
            "upload directory '" + path_ + "' is not a writable directory: " + std::strerror(e));
    };
    if (path_.find('\0') != std::string::npos) fail(EINVAL);
    fd_ = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd_ < 0) fail(errno);
    // Write and search permission for the effective ids (root passes, except on a read-only
    // mount: EROFS), checked now so a misconfiguration fails at setup, not on the first upload.
    if (::faccessat(fd_, ".", W_OK | X_OK, AT_EACCESS) != 0) {
        const int e = errno;
        ::close(std::exchange(fd_, -1));
        fail(e);
    }
}

UploadDir::~UploadDir() {
    if (fd_ >= 0) ::close(fd_);
}

UploadDir::UploadDir(UploadDir&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

UploadDir& UploadDir::operator=(UploadDir&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        path_ = std::move(other.path_);
    }
    return *this;
}

UploadSink::UploadSink(const UploadDir& dir, TempMode mode) noexcept
    : dir_fd_(dir.fd()), mode_(mode) {}

UploadSink::~UploadSink() { release(); }

void UploadSink::release() noexcept {
    if (committed_) {
        ::close(std::exchange(fd_, -1));
        anonymous_ = false;
        committed_ = false;
        name_[0] = '\0';
        size_ = 0;
    } else {
        discard();
    }
}

UploadSink::UploadSink(UploadSink&& other) noexcept
    : dir_fd_(other.dir_fd_),
      mode_(other.mode_),
      fd_(std::exchange(other.fd_, -1)),
      anonymous_(std::exchange(other.anonymous_, false)),
      committed_(std::exchange(other.committed_, false)),
      size_(std::exchange(other.size_, 0)) {
    std::memcpy(temp_, other.temp_, sizeof temp_);
    std::memcpy(name_, other.name_, sizeof name_);
    other.temp_[0] = '\0';
    other.name_[0] = '\0';
}

UploadSink& UploadSink::operator=(UploadSink&& other) noexcept {
    if (this != &other) {
        release();
        dir_fd_ = other.dir_fd_;
        mode_ = other.mode_;
        fd_ = std::exchange(other.fd_, -1);
        anonymous_ = std::exchange(other.anonymous_, false);
        committed_ = std::exchange(other.committed_, false);
        size_ = std::exchange(other.size_, 0);
        std::memcpy(temp_, other.temp_, sizeof temp_);
        std::memcpy(name_, other.name_, sizeof name_);
        other.temp_[0] = '\0';
        other.name_[0] = '\0';
    }
    return *this;
}

int UploadSink::open() noexcept {
    if (fd_ >= 0 || committed_) return -EINVAL;
    size_ = 0;
    if (mode_ == TempMode::automatic) {
        const int fd = ::openat(dir_fd_, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, kFileMode);
        if (fd >= 0) {
            fd_ = fd;
            anonymous_ = true;
            return 0;
        }
        // open(2): EOPNOTSUPP from a filesystem without O_TMPFILE (NFS, many FUSE), EISDIR
        // from a kernel before 3.11 (which sees only O_DIRECTORY), EINVAL from some others.
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) return -errno;
    }
    return open_named();
}

int UploadSink::open_named() noexcept {
    for (int attempt = 0; attempt < kNameAttempts; ++attempt) {
        if (const int rc = make_temp_name(temp_); rc != 0) {
            temp_[0] = '\0';
            return rc;
        }
        // O_EXCL: never an existing file, nor a symlink planted under the name.
        const int fd = ::openat(dir_fd_, temp_, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, kFileMode);
        if (fd >= 0) {
            fd_ = fd;
            anonymous_ = false;
            return 0;
        }
        if (errno != EEXIST) break;
    }
    const int e = errno;
    temp_[0] = '\0';
    return -e;
}

int UploadSink::write(std::string_view bytes) noexcept {
    if (fd_ < 0 || committed_) return -EBADF;
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;  // never for a regular file; do not spin if it happens
        bytes.remove_prefix(static_cast<std::size_t>(n));
        size_ += static_cast<std::uint64_t>(n);
    }
    return 0;
}

// Gives the open O_TMPFILE file the name `target` in the directory; link(2) never replaces.
int UploadSink::link_under(const char* target) noexcept {
    // Through /proc with AT_SYMLINK_FOLLOW, which needs no capability (linkat(2), O_TMPFILE
    // in open(2)); AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH, so it is only the fallback for a
    // process without /proc (ENOENT) or with /proc hidden from it.
    char proc[32];
    std::snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd_);
    if (::linkat(AT_FDCWD, proc, dir_fd_, target, AT_SYMLINK_FOLLOW) == 0) return 0;
    const int e = errno;
    if (e != ENOENT && e != EACCES && e != EPERM) return -e;
    if (::linkat(fd_, "", dir_fd_, target, AT_EMPTY_PATH) == 0) return 0;
    return errno == ENOENT ? -e : -errno;  // ENOENT here: no capability; say why /proc failed
}

int UploadSink::commit(std::string_view name, bool overwrite, bool sync) noexcept {
    if (committed_) return -EINVAL;
    if (fd_ < 0) return -EBADF;
    if (const int rc = check_name(name); rc != 0) return rc;
    char target[NAME_MAX + 1];
    std::memcpy(target, name.data(), name.size());
    target[name.size()] = '\0';

    // fdatasync covers the size too, which is all the metadata reading the data back needs.
    if (sync && ::fdatasync(fd_) != 0) return -errno;

    if (anonymous_ && !overwrite) {
        if (const int rc = link_under(target); rc != 0) return rc;
    } else if (anonymous_) {
        // link(2) cannot replace: link under a hidden name, then rename over the target.
        char hidden[kTempNameSize];
        int rc = -EEXIST;
        for (int attempt = 0; attempt < kNameAttempts && rc == -EEXIST; ++attempt) {
            rc = make_temp_name(hidden);
            if (rc == 0) rc = link_under(hidden);
        }
        if (rc != 0) return rc;
        if (::renameat(dir_fd_, hidden, dir_fd_, target) != 0) {
            const int e = errno;
            ::unlinkat(dir_fd_, hidden, 0);  // the open descriptor still holds the data
            return -e;
        }
    } else if (!overwrite) {
        if (const int rc = rename_noreplace(dir_fd_, temp_, target); rc != 0) return rc;
    } else if (::renameat(dir_fd_, temp_, dir_fd_, target) != 0) {
        return -errno;
    }

    // The new directory entry is durable only once the directory itself is (fsync(2)).
    if (sync && ::fsync(dir_fd_) != 0) {
        const int e = errno;
        // Undo, so that an error always means "not under the final name". The named file
        // goes back to its temporary name; if even that fails it loses every name, and the
        // open descriptor keeps the data until discard().
        if (anonymous_ || ::renameat(dir_fd_, target, dir_fd_, temp_) != 0) {
            ::unlinkat(dir_fd_, target, 0);
            temp_[0] = '\0';
        }
        return -e;
    }

    temp_[0] = '\0';
    std::memcpy(name_, target, name.size() + 1);
    committed_ = true;
    return 0;
}

void UploadSink::discard() noexcept {
    if (committed_) return;
    if (temp_[0] != '\0') {
        ::unlinkat(dir_fd_, temp_, 0);
        temp_[0] = '\0';
    }
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    anonymous_ = false;
    size_ = 0;
}

int UploadSink::uncommit() noexcept {
    if (!committed_) return -EINVAL;
    // Only the file we committed: the name may have been replaced since. Comparing inode
    // numbers is sound because our open descriptor keeps ours from being freed and reused.
    struct stat ours {};
    struct stat named {};
    if (::fstat(fd_, &ours) != 0) return -errno;
    if (::fstatat(dir_fd_, name_, &named, AT_SYMLINK_NOFOLLOW) != 0) return -errno;
    if (named.st_dev != ours.st_dev || named.st_ino != ours.st_ino) return -ESTALE;
    if (::unlinkat(dir_fd_, name_, 0) != 0) return -errno;
    release();
    return 0;
}

int upload_error_status(int negative_errno) noexcept {
    switch (-negative_errno) {
        case ENOSPC:
        case EDQUOT: return 507;  // RFC 4918 §11.5 Insufficient Storage
        case EEXIST: return 409;  // RFC 9110 §15.5.10 Conflict
        case EFBIG: return 413;   // RFC 9110 §15.5.14 Content Too Large
        default: return 500;
    }
}

}  // namespace vstream::files
