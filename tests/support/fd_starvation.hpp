// Runs this process out of file descriptors on purpose (EMFILE), and gives them back.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace vstream::test {

/// The highest descriptor number open in this process, or -1.
inline int highest_open_fd() {
    int highest = -1;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (const dirent* e = ::readdir(d)) {
            if (e->d_name[0] != '.') highest = std::max(highest, std::atoi(e->d_name));
        }
        ::closedir(d);
    }
    return highest;
}

/// Lowers the soft RLIMIT_NOFILE so that exactly `spare` descriptors can still be opened: the
/// limit goes just above the highest open descriptor, and the holes below it (descriptors
/// inherited from outside may sit high) are filled with /dev/null. The destructor, or
/// release(), closes the fillers and restores the limit. Process-wide: for a child process, or
/// a test whose other threads open nothing meanwhile. Under UBSan, keep doctest's CAPTURE out
/// of the starved stretch: the vptr check probes memory through a pipe, and with no
/// descriptor left it reports a valid object as "invalid vptr" (a server starved on purpose
/// may show the same false report in a sanitizer build).
class FdStarvation {
public:
    explicit FdStarvation(int spare) {
        if (::getrlimit(RLIMIT_NOFILE, &old_) != 0) return;
        const int highest = highest_open_fd();
        rlimit rl = old_;
        rl.rlim_cur = static_cast<rlim_t>(highest + 1 + spare);
        if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return;
        lowered_ = true;
        for (;;) {
            const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (fd < 0) break;
            if (fd > highest) {  // past the holes: this is one of the spare ones
                ::close(fd);
                break;
            }
            fillers_.push_back(fd);
        }
    }
    ~FdStarvation() { release(); }
    FdStarvation(const FdStarvation&) = delete;
    FdStarvation& operator=(const FdStarvation&) = delete;

    /// Whether the limit could be lowered.
    bool ok() const { return lowered_; }
    /// Closes the fillers and restores the limit. Idempotent.
    void release() {
        for (const int fd : fillers_) ::close(fd);
        fillers_.clear();
        if (lowered_) ::setrlimit(RLIMIT_NOFILE, &old_);
        lowered_ = false;
    }

private:
    rlimit old_{};
    std::vector<int> fillers_;
    bool lowered_ = false;
};

}  // namespace vstream::test
