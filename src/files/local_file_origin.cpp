#include "files/local_file_origin.hpp"

#include <vstream/error.hpp>

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vstream::files {

namespace {

// O_NONBLOCK: opening a FIFO placed under the root must not block the loop.
constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

// Whether `path` could leave the directory it is relative to by itself (not through a
// symlink): absolute, or with a ".." segment.
bool climbs(std::string_view path) noexcept {
    if (!path.empty() && path.front() == '/') return true;
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        if (path.substr(start, end - start) == "..") return true;
        start = end + 1;
    }
    return false;
}

// Copies `path` into `buf` with a terminating NUL; false if it does not fit or holds a NUL.
bool c_path(std::string_view path, char (&buf)[PATH_MAX]) noexcept {
    if (path.size() >= sizeof buf || path.find('\0') != std::string_view::npos) return false;
    std::memcpy(buf, path.data(), path.size());
    buf[path.size()] = '\0';
    return true;
}

void identity_from_stat(const struct stat& st, FileIdentity& identity, FileKind& kind) noexcept {
    identity.device = st.st_dev;
    identity.inode = st.st_ino;
    identity.size = static_cast<std::uint64_t>(st.st_size);
    identity.mtime_sec = st.st_mtim.tv_sec;
    identity.mtime_nsec = st.st_mtim.tv_nsec;
    kind = S_ISREG(st.st_mode)   ? FileKind::regular
           : S_ISDIR(st.st_mode) ? FileKind::directory
                                 : FileKind::other;
}

}  // namespace

LocalFileOrigin::LocalFileOrigin() : root_fd_(AT_FDCWD), key_("any:") {}

LocalFileOrigin::LocalFileOrigin(const std::string& root, bool follow_outside)
    : root_fd_(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)),
      confined_(!follow_outside) {
    if (root_fd_ < 0) {
        throw Error(
            errc::invalid_argument,
            "static root '" + root + "' is not a readable directory: " + std::strerror(errno));
    }
    struct stat st {};
    ::fstat(root_fd_, &st);
    // Two mounts of one directory under different rules must not share entries.
    key_ = std::string(confined_ ? "root:" : "root+links:") + std::to_string(st.st_dev) + ":" +
           std::to_string(st.st_ino) + ":";
    if (char* real = ::realpath(root.c_str(), nullptr)) {
        root_real_ = real;
        std::free(real);
    }
}

LocalFileOrigin::~LocalFileOrigin() {
    if (root_fd_ >= 0) ::close(root_fd_);
}

int LocalFileOrigin::open_confined(const char* path, int flags) const noexcept {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const long fd = ::syscall(SYS_openat2, root_fd_, path, &how, sizeof how);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return fd >= 0 ? static_cast<int>(fd) : -1;
    // No openat2 (a kernel before 5.6, or a seccomp filter): open, then check where the
    // descriptor really points.
    const int f = ::openat(root_fd_, path, flags);
    if (f < 0) return -1;
    char link[64];
    char real[PATH_MAX];
    std::snprintf(link, sizeof link, "/proc/self/fd/%d", f);
    const ssize_t n = ::readlink(link, real, sizeof real - 1);
    if (n <= 0 || root_real_.empty()) {
        ::close(f);
        errno = EXDEV;
        return -1;
    }
    const std::string_view where(real, static_cast<std::size_t>(n));
    const bool inside =
        where == root_real_ || (where.size() > root_real_.size() && where.starts_with(root_real_) &&
                                (root_real_.back() == '/' || where[root_real_.size()] == '/'));
    if (!inside) {
        ::close(f);
        errno = EXDEV;
        return -1;
    }
    return f;
}

int LocalFileOrigin::open(std::string_view path, OpenedFile& out) const noexcept {
    char buf[PATH_MAX];
    if (!c_path(path, buf)) return -ENAMETOOLONG;
    if (root_fd_ != AT_FDCWD && !confined_ && climbs(path)) return -EXDEV;  // only symlinks may
    // An empty relative path is the root itself.
    const char* p = buf[0] == '\0' ? "." : buf;
    const int fd = confined_ ? open_confined(p, kOpenFlags) : ::openat(root_fd_, p, kOpenFlags);
    if (fd < 0) return -errno;
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        return -e;
    }
    out.fd = fd;
    identity_from_stat(st, out.identity, out.kind);
    return 0;
}

int LocalFileOrigin::stat(std::string_view path, FileIdentity& identity,
                          FileKind& kind) const noexcept {
    char buf[PATH_MAX];
    if (!c_path(path, buf)) return -ENAMETOOLONG;
    if (root_fd_ != AT_FDCWD && !confined_ && climbs(path)) return -EXDEV;
    const char* p = buf[0] == '\0' ? "." : buf;
    struct stat st {};
    if (confined_) {
        // The same resolution rules as open(), through an O_PATH descriptor (no read access
        // needed, nothing opened for I/O).
        const int fd = open_confined(p, O_PATH | O_CLOEXEC);
        if (fd < 0) return -errno;
        const int rc = ::fstat(fd, &st);
        const int e = errno;
        ::close(fd);
        if (rc != 0) return -e;
    } else if (::fstatat(root_fd_, p, &st, 0) != 0) {
        return -errno;
    }
    identity_from_stat(st, identity, kind);
    return 0;
}

}  // namespace vstream::files
