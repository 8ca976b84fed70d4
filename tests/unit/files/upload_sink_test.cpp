// Tests UploadDir and UploadSink (src/files/upload_sink.cpp): files appear under their final
// name only when committed, never replace an existing file unless asked, and leave nothing
// behind when discarded; both with O_TMPFILE and with the named temporary file; a full disk.
#include "files/upload_sink.hpp"

#include <vstream/error.hpp>

#include "dir_scan.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using vstream::files::kUploadTempPrefix;
using vstream::files::upload_error_status;
using vstream::files::UploadDir;
using vstream::files::UploadSink;
using vstream::test::list;
using vstream::test::open_files_in;
using vstream::test::random_bytes;
using vstream::test::read_file;
using vstream::test::TempDir;
using vstream::test::TmpfsMount;
using TempMode = UploadSink::TempMode;

namespace {

constexpr TempMode kModes[] = {TempMode::automatic, TempMode::named};

const char* mode_name(TempMode m) { return m == TempMode::automatic ? "automatic" : "named"; }

// What the directory must look like while a sink is open and before commit: nothing at all
// with O_TMPFILE, only the hidden temporary name otherwise.
void check_only_temp(const std::string& dir, const UploadSink& sink) {
    const std::vector<std::string> names = list(dir);
    if (sink.anonymous()) {
        CHECK(names.empty());
        CHECK(sink.temp_name().empty());
    } else {
        REQUIRE(names.size() == 1);
        CHECK(names[0] == sink.temp_name());
        CHECK(names[0].starts_with(kUploadTempPrefix));
        CHECK(names[0].size() == kUploadTempPrefix.size() + 32);
    }
}

// A directory to upload into, below a TempDir.
struct Fixture {
    TempDir tmp;
    std::string path = tmp.at("up");
    Fixture() { std::filesystem::create_directory(path); }
    std::string at(std::string_view name) const { return path + "/" + std::string(name); }
};

}  // namespace

TEST_SUITE("files/upload_sink") {

TEST_CASE("written bytes land under the final name on commit, exactly") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        UploadDir dir(f.path);
        UploadSink sink(dir, mode);
        REQUIRE(sink.open() == 0);
        CHECK(sink.is_open());
        CHECK(sink.anonymous() == (mode == TempMode::automatic && sink.temp_name().empty()));
        // Pieces of uneven sizes, one of them empty, one over a megabyte.
        const std::string data = random_bytes(3 * 1024 * 1024 + 17, 7);
        const std::size_t cuts[] = {0, 1, 1, 4096, 1500000, data.size()};
        for (std::size_t i = 1; i < std::size(cuts); ++i) {
            const std::size_t n = cuts[i] - cuts[i - 1];
            REQUIRE(sink.write(std::string_view(data).substr(cuts[i - 1], n)) == 0);
        }
        CHECK(sink.size() == data.size());
        REQUIRE(sink.commit("clip.mp4", false, false) == 0);
        CHECK(sink.committed());
        CHECK_FALSE(sink.is_open());
        CHECK(sink.name() == "clip.mp4");
        CHECK(read_file(f.at("clip.mp4")) == data);
        CHECK(list(f.path) == std::vector<std::string>{"clip.mp4"});
    }
}

TEST_CASE("an empty upload commits as an empty file") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        UploadDir dir(f.path);
        UploadSink sink(dir, mode);
        REQUIRE(sink.open() == 0);
        REQUIRE(sink.commit("empty", false, true) == 0);
        CHECK(read_file(f.at("empty")).empty());
    }
}

TEST_CASE("no file is visible under the final name before commit") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        UploadDir dir(f.path);
        UploadSink sink(dir, mode);
        REQUIRE(sink.open() == 0);
        check_only_temp(f.path, sink);
        REQUIRE(sink.write("partial data") == 0);
        check_only_temp(f.path, sink);
        CHECK_FALSE(std::filesystem::exists(f.at("clip.mp4")));
        REQUIRE(sink.commit("clip.mp4", false, false) == 0);
        CHECK(list(f.path) == std::vector<std::string>{"clip.mp4"});
    }
}

TEST_CASE("the forced named mode uses a hidden O_EXCL temporary file") {
    Fixture f;
    UploadDir dir(f.path);
    UploadSink a(dir, TempMode::named);
    UploadSink b(dir, TempMode::named);
    REQUIRE(a.open() == 0);
    REQUIRE(b.open() == 0);
    CHECK_FALSE(a.anonymous());
    CHECK(a.temp_name().starts_with(kUploadTempPrefix));
    CHECK(a.temp_name() != b.temp_name());
    CHECK(list(f.path).size() == 2);
    REQUIRE(a.write("a") == 0);
    REQUIRE(b.write("b") == 0);
    REQUIRE(a.commit("a", false, false) == 0);
    REQUIRE(b.commit("b", false, false) == 0);
    CHECK(list(f.path) == std::vector<std::string>{"a", "b"});
    CHECK(read_file(f.at("a")) == "a");
    CHECK(read_file(f.at("b")) == "b");
}

TEST_CASE("discard and the destructor leave the directory empty") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        UploadDir dir(f.path);
        {
            UploadSink sink(dir, mode);
            REQUIRE(sink.open() == 0);
            REQUIRE(sink.write(random_bytes(100000)) == 0);
            sink.discard();
            CHECK(list(f.path).empty());
            CHECK_FALSE(sink.is_open());
            CHECK(sink.size() == 0);
            sink.discard();  // idempotent
            CHECK(list(f.path).empty());
            // A discarded sink can be used again.
            REQUIRE(sink.open() == 0);
            REQUIRE(sink.write("again") == 0);
        }  // destroyed while open
        CHECK(list(f.path).empty());
        { UploadSink never_opened(dir, mode); }
        {
            UploadSink opened(dir, mode);
            REQUIRE(opened.open() == 0);
        }
        CHECK(list(f.path).empty());
    }
}

TEST_CASE("a committed file survives discard and destruction") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        UploadDir dir(f.path);
        {
            UploadSink sink(dir, mode);
            REQUIRE(sink.open() == 0);
            REQUIRE(sink.write("kept") == 0);
            REQUIRE(sink.commit("kept.txt", false, false) == 0);
            sink.discard();  // nothing to do once committed
        }
        CHECK(read_file(f.at("kept.txt")) == "kept");
    }
}

TEST_CASE("an existing file is not replaced unless overwrite is set") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        f.tmp.write("up/clip.mp4", "original");
        UploadDir dir(f.path);
        UploadSink sink(dir, mode);
        REQUIRE(sink.open() == 0);
        REQUIRE(sink.write("replacement") == 0);
        const int rc = sink.commit("clip.mp4", false, false);
        CHECK(rc == -EEXIST);
        CHECK(upload_error_status(rc) == 409);
        CHECK_FALSE(sink.committed());
        CHECK(read_file(f.at("clip.mp4")) == "original");
        // The temporary file is still there: commit again, now replacing.
        CHECK(sink.is_open());
        REQUIRE(sink.commit("clip.mp4", true, false) == 0);
        CHECK(read_file(f.at("clip.mp4")) == "replacement");
        CHECK(list(f.path) == std::vector<std::string>{"clip.mp4"});  // no hidden name left
    }
}

TEST_CASE("after a refused commit the file can take another name, or be discarded") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        f.tmp.write("up/taken", "original");
        UploadDir dir(f.path);
        UploadSink renamed(dir, mode);
        REQUIRE(renamed.open() == 0);
        REQUIRE(renamed.write("new") == 0);
        REQUIRE(renamed.commit("taken", false, true) == -EEXIST);
        REQUIRE(renamed.commit("free", false, true) == 0);
        CHECK(read_file(f.at("free")) == "new");

        UploadSink dropped(dir, mode);
        REQUIRE(dropped.open() == 0);
        REQUIRE(dropped.write("new") == 0);
        REQUIRE(dropped.commit("taken", false, false) == -EEXIST);
        dropped.discard();
        CHECK(list(f.path) == std::vector<std::string>{"free", "taken"});
        CHECK(read_file(f.at("taken")) == "original");
    }
}

TEST_CASE("overwrite with sync replaces the file atomically and leaves no other name") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        f.tmp.write("up/clip.mp4", "original");
        UploadDir dir(f.path);
        UploadSink sink(dir, mode);
        REQUIRE(sink.open() == 0);
        REQUIRE(sink.write("replacement") == 0);
        REQUIRE(sink.commit("clip.mp4", true, true) == 0);
        CHECK(read_file(f.at("clip.mp4")) == "replacement");
        CHECK(list(f.path) == std::vector<std::string>{"clip.mp4"});
    }
}

TEST_CASE("a directory under the final name is never replaced") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        std::filesystem::create_directory(f.at("sub"));
        UploadDir dir(f.path);
        UploadSink sink(dir, mode);
        REQUIRE(sink.open() == 0);
        REQUIRE(sink.write("data") == 0);
        CHECK(sink.commit("sub", false, false) == -EEXIST);
        CHECK(sink.commit("sub", true, false) == -EISDIR);
        CHECK(std::filesystem::is_directory(f.at("sub")));
        sink.discard();
        CHECK(list(f.path) == std::vector<std::string>{"sub"});
    }
}

TEST_CASE("commit refuses names that are not one plain path component") {
    using namespace std::string_literals;
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        UploadDir dir(f.path);
        UploadSink sink(dir, mode);
        REQUIRE(sink.open() == 0);
        REQUIRE(sink.write("data") == 0);
        for (const std::string& name : {""s, "."s, ".."s, "a/b"s, "/etc/passwd"s, "../x"s, "x/"s,
                                        "a\0b"s, "\0"s, std::string(kUploadTempPrefix) + "0123"}) {
            CAPTURE(name);
            CHECK(sink.commit(name, false, false) == -EINVAL);
            CHECK(sink.commit(name, true, false) == -EINVAL);
        }
        CHECK(sink.commit(std::string(NAME_MAX + 1, 'n'), false, false) == -ENAMETOOLONG);
        check_only_temp(f.path, sink);  // nothing created on the way
        const std::string longest(NAME_MAX, 'n');
        REQUIRE(sink.commit(longest, false, false) == 0);
        CHECK(read_file(f.at(longest)) == "data");
    }
}

TEST_CASE("uncommit removes the committed file, and only that file") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        UploadDir dir(f.path);
        UploadSink sink(dir, mode);
        CHECK(sink.uncommit() == -EINVAL);  // nothing committed
        REQUIRE(sink.open() == 0);
        REQUIRE(sink.write("first") == 0);
        CHECK(sink.uncommit() == -EINVAL);
        REQUIRE(sink.commit("first.txt", false, false) == 0);
        REQUIRE(sink.uncommit() == 0);
        CHECK_FALSE(sink.committed());
        CHECK(sink.name().empty());
        CHECK(list(f.path).empty());
        CHECK(sink.uncommit() == -EINVAL);  // once only

        // The name now belongs to another file: left alone.
        UploadSink other(dir, mode);
        REQUIRE(other.open() == 0);
        REQUIRE(other.write("second") == 0);
        REQUIRE(other.commit("second.txt", false, false) == 0);
        std::filesystem::remove(f.at("second.txt"));
        f.tmp.write("up/second.txt", "someone else's");
        CHECK(other.uncommit() == -ESTALE);
        CHECK(read_file(f.at("second.txt")) == "someone else's");

        // The name is gone already.
        UploadSink third(dir, mode);
        REQUIRE(third.open() == 0);
        REQUIRE(third.commit("third.txt", false, false) == 0);
        std::filesystem::remove(f.at("third.txt"));
        CHECK(third.uncommit() == -ENOENT);
    }
}

TEST_CASE("uncommit after an overwrite removes the new file") {
    Fixture f;
    f.tmp.write("up/clip.mp4", "original");
    UploadDir dir(f.path);
    UploadSink sink(dir);
    REQUIRE(sink.open() == 0);
    REQUIRE(sink.write("replacement") == 0);
    REQUIRE(sink.commit("clip.mp4", true, false) == 0);
    REQUIRE(sink.uncommit() == 0);
    CHECK(list(f.path).empty());  // the replaced file is not restored
}

TEST_CASE("calls out of order return an error and change nothing") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        UploadDir dir(f.path);
        UploadSink sink(dir, mode);
        CHECK(sink.write("x") == -EBADF);
        CHECK(sink.commit("x", false, false) == -EBADF);
        REQUIRE(sink.open() == 0);
        CHECK(sink.open() == -EINVAL);
        REQUIRE(sink.write("x") == 0);
        REQUIRE(sink.commit("x", false, false) == 0);
        CHECK(sink.commit("y", false, false) == -EINVAL);
        CHECK(sink.write("more") == -EBADF);
        CHECK(sink.open() == -EINVAL);
        CHECK(list(f.path) == std::vector<std::string>{"x"});
        CHECK(read_file(f.at("x")) == "x");
    }
}

TEST_CASE("files are created 0644 less the umask, write-only and close-on-exec") {
    const mode_t old_mask = ::umask(027);
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        UploadDir dir(f.path);
        UploadSink sink(dir, mode);
        REQUIRE(sink.open() == 0);
        CHECK((::fcntl(sink.fd(), F_GETFD) & FD_CLOEXEC) != 0);
        CHECK((::fcntl(sink.fd(), F_GETFL) & O_ACCMODE) == O_WRONLY);
        REQUIRE(sink.commit("f", false, false) == 0);
        struct stat st {};
        REQUIRE(::stat(f.at("f").c_str(), &st) == 0);
        CHECK((st.st_mode & 07777) == 0640);
        CHECK(S_ISREG(st.st_mode));
    }
    ::umask(old_mask);
}

TEST_CASE("commits land in the directory opened, even after it was renamed") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        UploadDir dir(f.path);
        UploadSink sink(dir, mode);
        REQUIRE(sink.open() == 0);
        REQUIRE(sink.write("moved") == 0);
        std::filesystem::rename(f.path, f.tmp.at("renamed"));
        std::filesystem::create_directory(f.path);  // a new directory at the old path
        REQUIRE(sink.commit("clip", false, true) == 0);
        CHECK(read_file(f.tmp.at("renamed/clip")) == "moved");
        CHECK(list(f.path).empty());
    }
}

TEST_CASE("a moved sink keeps the file, and the moved-from one forgets it") {
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        Fixture f;
        UploadDir dir(f.path);
        UploadSink a(dir, mode);
        REQUIRE(a.open() == 0);
        REQUIRE(a.write("abc") == 0);
        UploadSink b(std::move(a));
        // The moved-from state is specified: empty, and safe to discard.
        CHECK_FALSE(a.is_open());  // NOLINT(bugprone-use-after-move)
        CHECK(a.size() == 0);
        a.discard();  // must not remove b's file
        check_only_temp(f.path, b);
        REQUIRE(b.write("def") == 0);
        CHECK(b.size() == 6);

        UploadSink c(dir, mode);
        REQUIRE(c.open() == 0);
        REQUIRE(c.write("dropped") == 0);
        c = std::move(b);  // c's own file is discarded
        check_only_temp(f.path, c);
        REQUIRE(c.commit("moved", false, false) == 0);
        CHECK(read_file(f.at("moved")) == "abcdef");
        CHECK(list(f.path) == std::vector<std::string>{"moved"});
    }
}

TEST_CASE("a moved UploadDir keeps its descriptor for the sinks made from it") {
    Fixture f;
    UploadDir first(f.path);
    const int fd = first.fd();
    UploadDir second(std::move(first));
    CHECK(second.fd() == fd);
    CHECK(second.path() == f.path);
    CHECK(first.fd() == -1);  // NOLINT(bugprone-use-after-move)
    UploadSink sink(second);
    REQUIRE(sink.open() == 0);
    REQUIRE(sink.commit("ok", false, false) == 0);
    CHECK(std::filesystem::exists(f.at("ok")));
}

TEST_CASE("UploadDir throws vstream::Error on what is not a writable directory") {
    Fixture f;
    const std::string file = f.tmp.write("file.txt", "x");
    using namespace std::string_literals;
    for (const std::string& path : {f.tmp.at("missing"), file, ""s, f.path + "\0/x"s}) {
        CAPTURE(path);
        bool threw = false;
        try {
            UploadDir dir(path);
        } catch (const vstream::Error& e) {
            threw = true;
            CHECK(e.errc_code() == vstream::errc::invalid_argument);
            CHECK(std::string(e.what()).find("upload directory") != std::string::npos);
        }
        CHECK(threw);
    }
}

TEST_CASE("UploadDir refuses a directory it cannot write to") {
    Fixture f;
    if (::geteuid() != 0) {
        REQUIRE(::chmod(f.path.c_str(), 0555) == 0);
        CHECK_THROWS_AS(UploadDir(f.path), vstream::Error);
        ::chmod(f.path.c_str(), 0755);
        return;
    }
    // Root writes through permission bits, but not to a read-only mount.
    TmpfsMount ro(f.path, "size=64k", MS_RDONLY);
    if (!ro.mounted()) {
        MESSAGE("skipped the read-only case: mounting a tmpfs failed ("
                << std::string(std::strerror(ro.error())) << "); it needs CAP_SYS_ADMIN");
        return;
    }
    CHECK_THROWS_AS(UploadDir(f.path), vstream::Error);
}

TEST_CASE("a full disk gives -ENOSPC, status 507, and discard frees the space") {
    Fixture f;
    TmpfsMount small(f.path, "size=1m,mode=0755");
    if (!small.mounted()) {
        MESSAGE("skipped: mounting a 1 MiB tmpfs failed ("
                << std::string(std::strerror(small.error()))
                << "); this test needs root or CAP_SYS_ADMIN");
        return;
    }
    UploadDir dir(f.path);
    struct statvfs empty {};
    REQUIRE(::statvfs(f.path.c_str(), &empty) == 0);
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        UploadSink sink(dir, mode);
        REQUIRE(sink.open() == 0);
        if (mode == TempMode::automatic) CHECK(sink.anonymous());  // tmpfs has O_TMPFILE
        const std::string chunk = random_bytes(100 * 1024, 3);
        int rc = 0;
        for (int i = 0; i < 40 && rc == 0; ++i) rc = sink.write(chunk);  // up to 4 MB
        CHECK(rc == -ENOSPC);
        CHECK(upload_error_status(rc) == 507);
        CHECK(sink.size() > 0);
        CHECK(sink.size() <= 1024 * 1024);
        sink.discard();
        CHECK(list(f.path).empty());
        struct statvfs after {};
        REQUIRE(::statvfs(f.path.c_str(), &after) == 0);
        CHECK(after.f_bfree == empty.f_bfree);
    }
}

TEST_CASE("a file size limit gives -EFBIG and status 413, counting what was written") {
    // RLIMIT_FSIZE, with SIGXFSZ ignored so that write(2) fails instead of killing us.
    struct rlimit old_limit {};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old_limit) == 0);
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    Fixture f;
    UploadDir dir(f.path);
    for (const TempMode mode : kModes) {
        CAPTURE(mode_name(mode));
        UploadSink sink(dir, mode);
        REQUIRE(sink.open() == 0);
        struct rlimit limit = old_limit;
        limit.rlim_cur = 64 * 1024;
        REQUIRE(::setrlimit(RLIMIT_FSIZE, &limit) == 0);
        const int rc = sink.write(random_bytes(100 * 1024));
        ::setrlimit(RLIMIT_FSIZE, &old_limit);
        CHECK(rc == -EFBIG);
        CHECK(upload_error_status(rc) == 413);
        CHECK(sink.size() == 64 * 1024);  // the short write before the error
        sink.discard();
        CHECK(list(f.path).empty());
    }
    std::signal(SIGXFSZ, old_handler);
}

TEST_CASE("errors map to HTTP statuses") {
    CHECK(upload_error_status(-ENOSPC) == 507);
    CHECK(upload_error_status(-EDQUOT) == 507);
    CHECK(upload_error_status(-EEXIST) == 409);
    CHECK(upload_error_status(-EFBIG) == 413);
    CHECK(upload_error_status(-EIO) == 500);
    CHECK(upload_error_status(-EACCES) == 500);
    CHECK(upload_error_status(-EINVAL) == 500);
    CHECK(upload_error_status(0) == 500);
}

}  // TEST_SUITE("files/upload_sink")
