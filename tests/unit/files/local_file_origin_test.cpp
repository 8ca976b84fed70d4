// Tests LocalFileOrigin (src/files/local_file_origin.cpp): confinement to a root by the kernel
// (openat2 RESOLVE_BENEATH), symlinks, identities, cache keys and refusals.
#include "files/local_file_origin.hpp"

#include <vstream/error.hpp>

#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <filesystem>
#include <string>
#include <string_view>

using vstream::files::FileIdentity;
using vstream::files::FileKind;
using vstream::files::LocalFileOrigin;
using vstream::files::OpenedFile;
using vstream::test::TempDir;

namespace {

// Opens `path` in `src`; returns the result and closes the descriptor, keeping what it saw.
struct Opened {
    int rc = 0;
    FileIdentity identity;
    FileKind kind = FileKind::other;
};
Opened open_in(const LocalFileOrigin& src, std::string_view path) {
    OpenedFile f;
    Opened o;
    o.rc = src.open(path, f);
    if (o.rc == 0) {
        CHECK(f.fd >= 0);
        o.identity = f.identity;
        o.kind = f.kind;
        ::close(f.fd);
    }
    return o;
}

FileIdentity identity_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    FileIdentity id;
    id.device = st.st_dev;
    id.inode = st.st_ino;
    id.size = static_cast<std::uint64_t>(st.st_size);
    id.mtime_sec = st.st_mtim.tv_sec;
    id.mtime_nsec = st.st_mtim.tv_nsec;
    return id;
}

// dir/root/{a.txt, sub/b.txt} and dir/outside.txt, next to the root.
struct Tree {
    TempDir dir;
    std::string root = dir.at("root");
    std::string outside = dir.at("outside.txt");
    Tree() {
        dir.write("root/a.txt", "inside");
        dir.write("root/sub/b.txt", "deeper");
        dir.write("outside.txt", "secret outside the root");
    }
    void link(const std::string& target, const std::string& relative) const {
        REQUIRE(::symlink(target.c_str(), dir.at("root/" + relative).c_str()) == 0);
    }
};

}  // namespace

TEST_SUITE("files/local_file_origin") {

TEST_CASE("a confined root opens the files below it with their identity") {
    Tree t;
    LocalFileOrigin src(t.root, false);
    const Opened a = open_in(src, "a.txt");
    REQUIRE(a.rc == 0);
    CHECK(a.kind == FileKind::regular);
    CHECK(a.identity == identity_of(t.root + "/a.txt"));
    const Opened b = open_in(src, "sub/b.txt");
    REQUIRE(b.rc == 0);
    CHECK(b.identity.size == 6);
    const Opened sub = open_in(src, "sub");
    REQUIRE(sub.rc == 0);
    CHECK(sub.kind == FileKind::directory);
}

TEST_CASE("a confined root refuses paths that climb out with ..") {
    Tree t;
    LocalFileOrigin src(t.root, false);
    for (const std::string path : {"../outside.txt", "sub/../../outside.txt", "..", "sub/../.."}) {
        CAPTURE(path);
        CHECK(open_in(src, path).rc == -EXDEV);
    }
    CHECK(open_in(src, "sub/../a.txt").rc == 0);  // climbing within the root is fine
}

TEST_CASE("a confined root refuses absolute paths") {
    Tree t;
    LocalFileOrigin src(t.root, false);
    CHECK(open_in(src, "/etc/passwd").rc == -EXDEV);
    CHECK(open_in(src, t.outside).rc == -EXDEV);
    CHECK(open_in(src, "/").rc == -EXDEV);
}

TEST_CASE("a symlink leading outside is refused when confined and followed with follow_outside") {
    Tree t;
    t.link("../outside.txt", "relative-out");
    t.link(t.outside, "absolute-out");
    t.link("/etc", "etc");
    LocalFileOrigin confined(t.root, false);
    LocalFileOrigin links(t.root, true);
    for (const std::string path : {"relative-out", "absolute-out", "etc/passwd"}) {
        CAPTURE(path);
        CHECK(open_in(confined, path).rc == -EXDEV);
    }
    for (const std::string path : {"relative-out", "absolute-out"}) {
        CAPTURE(path);
        const Opened o = open_in(links, path);
        REQUIRE(o.rc == 0);
        CHECK(o.kind == FileKind::regular);
        CHECK(o.identity == identity_of(t.outside));
    }
}

TEST_CASE("symlinks that stay inside the root are followed when confined") {
    Tree t;
    t.link("a.txt", "to-a");
    t.link("../a.txt", "sub/up-to-a");
    t.link("sub", "to-sub");
    LocalFileOrigin src(t.root, false);
    const FileIdentity a = identity_of(t.root + "/a.txt");
    for (const std::string path : {"to-a", "sub/up-to-a"}) {
        CAPTURE(path);
        const Opened o = open_in(src, path);
        REQUIRE(o.rc == 0);
        CHECK(o.identity == a);
    }
    const Opened b = open_in(src, "to-sub/b.txt");
    REQUIRE(b.rc == 0);
    CHECK(b.identity == identity_of(t.root + "/sub/b.txt"));
}

TEST_CASE("a symlink loop gives -ELOOP") {
    Tree t;
    t.link("loop2", "loop1");
    t.link("loop1", "loop2");
    LocalFileOrigin src(t.root, false);
    CHECK(open_in(src, "loop1").rc == -ELOOP);
}

TEST_CASE("stat() reports the identity and kind open() sees") {
    Tree t;
    LocalFileOrigin src(t.root, false);
    for (const std::string path : {"a.txt", "sub/b.txt", "sub", ""}) {
        CAPTURE(path);
        const Opened o = open_in(src, path);
        REQUIRE(o.rc == 0);
        FileIdentity id;
        FileKind kind = FileKind::other;
        REQUIRE(src.stat(path, id, kind) == 0);
        CHECK(id == o.identity);
        CHECK(kind == o.kind);
    }
    FileIdentity id;
    FileKind kind = FileKind::other;
    CHECK(src.stat("missing", id, kind) == -ENOENT);
}

TEST_CASE("stat() of a confined origin refuses what open() refuses") {
    Tree t;
    t.link("../outside.txt", "relative-out");
    LocalFileOrigin src(t.root, false);
    for (const std::string path : {"../outside.txt", "/etc/passwd", "relative-out"}) {
        CAPTURE(path);
        FileIdentity id;
        FileKind kind = FileKind::other;
        CHECK(src.stat(path, id, kind) != 0);  // is 0, with the outside file's identity
    }
}

TEST_CASE("with follow_outside, .. and absolute paths still cannot leave the root") {
    Tree t;
    LocalFileOrigin links(t.root, true);
    CHECK(open_in(links, "../outside.txt").rc != 0);  // is 0
    CHECK(open_in(links, t.outside).rc != 0);         // is 0
}

TEST_CASE("cache keys tell sources apart by root and by rules") {
    Tree t;
    TempDir other;
    LocalFileOrigin confined(t.root, false);
    LocalFileOrigin confined_again(t.root, false);
    LocalFileOrigin links(t.root, true);
    LocalFileOrigin other_root(other.path().string(), false);
    LocalFileOrigin anywhere;
    CHECK(confined.cache_key() == confined_again.cache_key());
    CHECK(confined.cache_key() != links.cache_key());
    CHECK(confined.cache_key() != other_root.cache_key());
    CHECK(anywhere.cache_key() != confined.cache_key());
    CHECK(anywhere.cache_key() != links.cache_key());
    CHECK_FALSE(confined.cache_key().empty());
}

TEST_CASE("the same root reached by another path has the same cache key") {
    Tree t;
    REQUIRE(::symlink(t.root.c_str(), t.dir.at("alias").c_str()) == 0);
    LocalFileOrigin direct(t.root, false);
    LocalFileOrigin alias(t.dir.at("alias"), false);
    CHECK(direct.cache_key() == alias.cache_key());
}

TEST_CASE("the constructor throws vstream::Error on a missing root or a regular file") {
    Tree t;
    for (const std::string& root : {t.dir.at("missing"), t.root + "/a.txt", std::string()}) {
        CAPTURE(root);
        bool threw = false;
        try {
            LocalFileOrigin src(root, false);
        } catch (const vstream::Error& e) {
            threw = true;
            CHECK(e.errc_code() == vstream::errc::invalid_argument);
        }
        CHECK(threw);
    }
}

TEST_CASE("an over-long path gives -ENAMETOOLONG") {
    Tree t;
    LocalFileOrigin src(t.root, false);
    const std::string too_long(PATH_MAX, 'a');
    const std::string long_name(NAME_MAX + 1, 'b');
    for (const std::string& path : {too_long, long_name, "sub/" + long_name}) {
        CAPTURE(path.size());
        CHECK(open_in(src, path).rc == -ENAMETOOLONG);
        FileIdentity id;
        FileKind kind = FileKind::other;
        CHECK(src.stat(path, id, kind) == -ENAMETOOLONG);
    }
}

TEST_CASE("a path holding a NUL byte is refused, not cut short") {
    Tree t;
    LocalFileOrigin src(t.root, false);
    using namespace std::string_literals;
    const std::string path = "a.txt\0.jpg"s;
    CHECK(open_in(src, path).rc < 0);
    FileIdentity id;
    FileKind kind = FileKind::other;
    CHECK(src.stat(path, id, kind) < 0);
}

TEST_CASE("an empty path opens the root itself, as a directory") {
    Tree t;
    LocalFileOrigin src(t.root, false);
    const Opened o = open_in(src, "");
    REQUIRE(o.rc == 0);
    CHECK(o.kind == FileKind::directory);
    CHECK(o.identity == identity_of(t.root));
    const Opened dot = open_in(src, ".");
    REQUIRE(dot.rc == 0);
    CHECK(dot.identity == o.identity);
}

TEST_CASE("a FIFO below the root opens at once as kind other") {
    Tree t;
    REQUIRE(::mkfifo((t.root + "/pipe").c_str(), 0600) == 0);
    LocalFileOrigin src(t.root, false);
    const Opened o = open_in(src, "pipe");  // O_NONBLOCK: no writer needed
    REQUIRE(o.rc == 0);
    CHECK(o.kind == FileKind::other);
}

TEST_CASE("a path through a regular file gives -ENOTDIR") {
    Tree t;
    LocalFileOrigin src(t.root, false);
    CHECK(open_in(src, "a.txt/x").rc == -ENOTDIR);
}

TEST_CASE("the unconfined origin opens paths as given") {
    Tree t;
    LocalFileOrigin anywhere;
    CHECK(anywhere.root_fd() == AT_FDCWD);
    const Opened o = open_in(anywhere, t.outside);
    REQUIRE(o.rc == 0);
    CHECK(o.identity == identity_of(t.outside));
    FileIdentity id;
    FileKind kind = FileKind::other;
    REQUIRE(anywhere.stat(t.outside, id, kind) == 0);
    CHECK(id == o.identity);
}

TEST_CASE("opened descriptors are read-only and close-on-exec") {
    Tree t;
    LocalFileOrigin src(t.root, false);
    OpenedFile f;
    REQUIRE(src.open("a.txt", f) == 0);
    const int flags = ::fcntl(f.fd, F_GETFL);
    CHECK((flags & O_ACCMODE) == O_RDONLY);
    CHECK((::fcntl(f.fd, F_GETFD) & FD_CLOEXEC) != 0);
    ::close(f.fd);
}

}  // TEST_SUITE("files/local_file_origin")
