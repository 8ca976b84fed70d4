// Tests UploadReceiver (src/handlers/upload_receiver.cpp) driven directly, without a server: raw
// and multipart/form-data bodies fed in any pieces land byte-exact under their final names
// with the right SHA-256 and result; file inputs with no file are skipped; client names are
// made safe; name conflicts (409), digests (400), max_memory and max_parts (413), truncated
// bodies (400), a full disk (507), abort() and destruction all leave nothing behind: no
// name in the directory and no temporary file still open.
#include "handlers/upload_receiver.hpp"

#include <vstream/error.hpp>
#include <vstream/upload.hpp>

#include "byte_exact.hpp"
#include "crypto/sha256.hpp"
#include "dir_scan.hpp"
#include "form_data.hpp"
#include "temp_dir.hpp"

#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using vstream::UploadOptions;
using vstream::UploadResult;
using vstream::crypto::Sha256Digest;
using vstream::handlers::UploadReceiver;
using vstream::test::byte_exact;
using vstream::test::form_data;
using vstream::test::FormPart;
using vstream::test::list;
using vstream::test::open_files_in;
using vstream::test::random_bytes;
using vstream::test::read_file;
using vstream::test::TempDir;
using vstream::test::TmpfsMount;

namespace {

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * kKiB;
constexpr std::string_view kBoundary = "----vstreamBoundary7MA4YWxkTrZu0gW";

std::string sha_hex(std::string_view bytes) {
    return vstream::crypto::to_hex(vstream::crypto::sha256(bytes));
}

// Nothing of a failed or abandoned upload: no name and no open temporary file.
void check_nothing_left(const std::string& dir) {
    CHECK(list(dir).empty());
    CHECK(open_files_in(dir).empty());
}

// An upload directory below a TempDir, so that anything escaping it would show up in the
// TempDir's own listing.
struct Fixture {
    TempDir tmp;
    std::string dir = tmp.at("up");
    Fixture() { std::filesystem::create_directory(dir); }
    std::string at(std::string_view name) const { return dir + "/" + std::string(name); }
    UploadOptions options() const {
        UploadOptions o;
        o.dir = dir;
        return o;
    }
    // Removes everything in the upload directory (between runs of one test).
    void clean() const {
        for (const auto& entry : std::filesystem::directory_iterator(dir)) {
            std::filesystem::remove_all(entry.path());
        }
    }
    // The TempDir holds the upload directory and nothing else.
    void check_nothing_outside() const {
        CHECK(list(tmp.path().string()) == std::vector<std::string>{"up"});
    }
};

UploadReceiver raw_receiver(const UploadOptions& o,
                            std::optional<Sha256Digest> expected = std::nullopt) {
    return UploadReceiver(o, std::nullopt, "application/octet-stream", expected);
}

using Part = FormPart;

// A multipart/form-data body with `parts`, closed unless `close` is false.
std::string multipart(const std::vector<Part>& parts, bool close = true,
                      std::string_view boundary = kBoundary) {
    return form_data(parts, boundary, close);
}

// Feeds `body` in pieces of random sizes (from `seed`): mostly small, some up to 70 KiB.
// Returns the first nonzero status, or 0.
int feed_randomly(UploadReceiver& rx, std::string_view body, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    while (!body.empty()) {
        const std::size_t cap = rng() % 2 == 0 ? 17 : 70 * kKiB;
        const std::size_t n = std::min<std::size_t>(body.size(), 1 + rng() % cap);
        if (const int rc = rx.feed(body.substr(0, n)); rc != 0) return rc;
        body.remove_prefix(n);
    }
    return 0;
}

// The files and fields of the multipart body used by the split tests: two files (one holding
// bytes that look like the start of a delimiter), two fields, and one file input left empty.
std::vector<Part> sample_parts() {
    const std::string near_delimiter = "x\r\n--" + std::string(kBoundary.substr(0, 10)) + "y\r\n-";
    return {
        {"title", std::nullopt, "", "A holiday\r\nvideo"},
        {"video", std::string("clip.mp4"), "video/mp4", random_bytes(97, 5)},
        {"none", std::string(""), "application/octet-stream", ""},
        {"notes", std::string("notes.txt"), "text/plain", near_delimiter},
        {"tag", std::nullopt, "", ""},
    };
}

// Checks what a receiver that finished `sample_parts()` stored and reported.
void check_sample_stored(const Fixture& f, UploadReceiver& rx, const std::vector<Part>& parts) {
    const UploadResult& r = rx.result();
    REQUIRE(r.files.size() == 2);
    CHECK(r.files[0].field == "video");
    CHECK(r.files[0].filename == "clip.mp4");
    CHECK(r.files[0].name == "clip.mp4");
    CHECK(r.files[0].path == f.at("clip.mp4"));
    CHECK(r.files[0].content_type == "video/mp4");
    CHECK(r.files[0].size == parts[1].data.size());
    CHECK(r.files[0].sha256 == sha_hex(parts[1].data));
    CHECK(r.files[1].field == "notes");
    CHECK(r.files[1].name == "notes.txt");
    CHECK(r.files[1].content_type == "text/plain");
    CHECK(r.files[1].size == parts[3].data.size());
    CHECK(r.files[1].sha256 == sha_hex(parts[3].data));
    REQUIRE(r.fields.size() == 2);
    CHECK(r.fields[0] == std::pair<std::string, std::string>("title", "A holiday\r\nvideo"));
    CHECK(r.fields[1] == std::pair<std::string, std::string>("tag", ""));
    CHECK(list(f.dir) == std::vector<std::string>{"clip.mp4", "notes.txt"});
    CHECK(byte_exact(read_file(f.at("clip.mp4")), parts[1].data));
    CHECK(byte_exact(read_file(f.at("notes.txt")), parts[3].data));
    CHECK_FALSE(open_files_in(f.dir).empty());  // held until keep(), for abort()
    rx.keep();
    CHECK(open_files_in(f.dir).empty());
}

}  // namespace

TEST_SUITE("handlers/upload_receiver") {

TEST_CASE(
    "a raw body of 0 B, 1 B or 1 MiB fed in random pieces is stored byte-exact, with "
    "its sha-256 and what was received") {
    for (const std::size_t size : {std::size_t{0}, std::size_t{1}, kMiB}) {
        for (const std::uint64_t seed : {1u, 2u, 3u}) {
            CAPTURE(size);
            CAPTURE(seed);
            Fixture f;
            const std::string body = random_bytes(size, seed);
            UploadOptions o = f.options();
            o.name = "movie.bin";
            UploadReceiver rx(o, std::nullopt, "video/x-raw", std::nullopt);
            REQUIRE(rx.status() == 0);
            CHECK(list(f.dir).empty());  // nothing visible before finish (O_TMPFILE)
            REQUIRE(feed_randomly(rx, body, seed) == 0);
            CHECK(list(f.dir).empty());
            REQUIRE(rx.finish() == 0);
            CHECK(rx.status() == 0);

            const UploadResult& r = rx.result();
            REQUIRE(r.files.size() == 1);
            CHECK(r.files[0].field.empty());
            CHECK(r.files[0].filename == "movie.bin");
            CHECK(r.files[0].name == "movie.bin");
            CHECK(r.files[0].path == f.at("movie.bin"));
            CHECK(r.files[0].content_type == "video/x-raw");
            CHECK(r.files[0].size == size);
            CHECK(r.files[0].sha256 == sha_hex(body));
            CHECK(r.fields.empty());
            CHECK(list(f.dir) == std::vector<std::string>{"movie.bin"});
            CHECK(byte_exact(read_file(f.at("movie.bin")), body));
            rx.keep();
            CHECK(open_files_in(f.dir).empty());
            f.check_nothing_outside();
        }
    }
}

TEST_CASE("a raw body without a name gets a generated one; an unsafe name is made safe") {
    Fixture f;
    struct Row {
        std::string given;
        std::string stored;  // "" for a generated name
    };
    const Row rows[] = {
        {"", ""},
        {"...", ""},
        {"../../etc/passwd", "passwd"},
        {"..\\..\\win.ini", "win.ini"},
        {".bashrc", "bashrc"},
        {"-rf", "rf"},
        {"my video (1).mp4", "my_video_1_.mp4"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.given);
        UploadOptions o = f.options();
        o.name = row.given;
        UploadReceiver rx = raw_receiver(o);
        REQUIRE(rx.feed("bytes") == 0);
        REQUIRE(rx.finish() == 0);
        REQUIRE(rx.result().files.size() == 1);
        const std::string name = rx.result().files[0].name;
        CHECK(rx.result().files[0].filename == row.given);
        if (row.stored.empty()) {
            CHECK(name.size() == 32);
            CHECK(name.find_first_not_of("0123456789abcdef") == std::string::npos);
        } else {
            CHECK(name == row.stored);
        }
        CHECK(list(f.dir) == std::vector<std::string>{name});
        CHECK(read_file(f.at(name)) == "bytes");
        f.check_nothing_outside();
        f.clean();
    }
}

TEST_CASE(
    "a multipart body split in two at every offset stores the same files and fields, "
    "byte-exact") {
    Fixture f;
    const std::vector<Part> parts = sample_parts();
    const std::string body = multipart(parts);
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
        CAPTURE(cut);
        {
            UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
            REQUIRE(rx.feed(std::string_view(body).substr(0, cut)) == 0);
            REQUIRE(rx.feed(std::string_view(body).substr(cut)) == 0);
            CHECK(list(f.dir).empty());
            REQUIRE(rx.finish() == 0);
            check_sample_stored(f, rx, parts);
        }
        f.clean();
        REQUIRE(list(f.dir).empty());
    }
}

TEST_CASE("a multipart body fed a byte at a time, or in random pieces, is stored byte-exact") {
    Fixture f;
    const std::vector<Part> parts = sample_parts();
    const std::string body = multipart(parts);
    SUBCASE("a byte at a time") {
        UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
        for (const char c : body) REQUIRE(rx.feed(std::string_view(&c, 1)) == 0);
        REQUIRE(rx.finish() == 0);
        check_sample_stored(f, rx, parts);
    }
    SUBCASE("random pieces, with 1 MiB files") {
        std::vector<Part> big = parts;
        big[1].data = random_bytes(kMiB, 11);
        big[3].data = random_bytes(kMiB + 1, 12);
        const std::string big_body = multipart(big);
        for (const std::uint64_t seed : {21u, 22u, 23u}) {
            CAPTURE(seed);
            {
                UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
                REQUIRE(feed_randomly(rx, big_body, seed) == 0);
                REQUIRE(rx.finish() == 0);
                check_sample_stored(f, rx, big);
            }
            f.clean();
        }
    }
    f.check_nothing_outside();
}

TEST_CASE("a file input with no file chosen (filename=\"\") is skipped, even with bytes") {
    Fixture f;
    const std::string body = multipart({
        {"empty", std::string(""), "application/octet-stream", "ignored bytes"},
        {"real", std::string("real.txt"), "text/plain", "kept"},
        {"also_empty", std::string(""), "", ""},
    });
    UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
    REQUIRE(rx.feed(body) == 0);
    REQUIRE(rx.finish() == 0);
    REQUIRE(rx.result().files.size() == 1);
    CHECK(rx.result().files[0].field == "real");
    CHECK(rx.result().fields.empty());
    CHECK(list(f.dir) == std::vector<std::string>{"real.txt"});
    CHECK(read_file(f.at("real.txt")) == "kept");
}

TEST_CASE("unsafe client filenames are stored under safe names inside the directory") {
    Fixture f;
    // A file the climb "../../x" would reach from the upload directory (tmp/a/b/up).
    const std::string deep = f.tmp.at("a/b/up");
    std::filesystem::create_directories(deep);
    UploadOptions o = f.options();
    o.dir = deep;
    const std::string body = multipart({
        {"f1", std::string("../../x"), "", "one"},
        {"f2", std::string("C:\\Users\\me\\evil name.txt"), "", "two"},
        {"f3", std::string(".htaccess"), "", "three"},
        {"f4", std::string("/etc/cron.d/job"), "", "four"},
        {"f5", std::string("vid\xc3\xa9o.mp4"), "", "five"},
        {"f6", std::string(".."), "", "six"},
    });
    UploadReceiver rx(o, std::string(kBoundary), "", std::nullopt);
    REQUIRE(rx.feed(body) == 0);
    REQUIRE(rx.finish() == 0);
    const UploadResult& r = rx.result();
    REQUIRE(r.files.size() == 6);
    CHECK(r.files[0].filename == "../../x");  // reported as sent (display only)
    CHECK(r.files[0].name == "x");
    CHECK(r.files[1].name == "evil_name.txt");
    CHECK(r.files[2].name == "htaccess");
    CHECK(r.files[3].name == "job");
    CHECK(r.files[4].name == "vid_o.mp4");
    CHECK(r.files[5].name.size() == 32);  // nothing usable: a generated name
    std::vector<std::string> names;
    for (const auto& file : r.files) {
        CAPTURE(file.name);
        CHECK(file.path == deep + "/" + file.name);
        CHECK(file.name.find('/') == std::string::npos);
        CHECK_FALSE(file.name.starts_with("."));
        names.push_back(file.name);
    }
    std::sort(names.begin(), names.end());
    CHECK(list(deep) == names);
    CHECK(read_file(deep + "/x") == "one");
    // Nothing landed outside tmp/a/b/up: tmp holds "a" (and the unused "up"), a holds "b".
    CHECK(list(f.tmp.path().string()) == std::vector<std::string>{"a", "up"});
    CHECK(list(f.tmp.at("a")) == std::vector<std::string>{"b"});
    CHECK(list(f.tmp.at("a/b")) == std::vector<std::string>{"up"});
    CHECK(list(f.dir).empty());
}

TEST_CASE("two parts with the same filename fail with 409 at finish and leave no file") {
    Fixture f;
    const std::string body = multipart({
        {"a", std::string("first.txt"), "", "first"},
        {"b", std::string("same.txt"), "", "one"},
        {"c", std::string("dir/same.txt"), "", "two"},
    });
    UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
    REQUIRE(rx.feed(body) == 0);
    CHECK(rx.finish() == 409);
    CHECK(rx.status() == 409);
    CHECK(rx.reason().find("same.txt") != std::string::npos);
    CHECK(rx.result().files.empty());
    check_nothing_left(f.dir);
}

TEST_CASE(
    "an existing file is not replaced without overwrite (409, original intact), and is "
    "with it") {
    Fixture f;
    f.tmp.write("up/taken.txt", "the original");
    const std::string body = multipart({
        {"a", std::string("free.txt"), "", "free"},  // committed first, then rolled back
        {"b", std::string("taken.txt"), "", "the new one"},
    });

    SUBCASE("multipart, overwrite false") {
        UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
        REQUIRE(rx.feed(body) == 0);
        CHECK(rx.finish() == 409);
        CHECK(list(f.dir) == std::vector<std::string>{"taken.txt"});
        CHECK(read_file(f.at("taken.txt")) == "the original");
        CHECK(open_files_in(f.dir).empty());
    }
    SUBCASE("raw, overwrite false") {
        UploadOptions o = f.options();
        o.name = "taken.txt";
        UploadReceiver rx = raw_receiver(o);
        CHECK(rx.status() == 409);  // known before a byte of the body is read
        CHECK(rx.feed("the new one") == 409);
        CHECK(rx.finish() == 409);
        CHECK(list(f.dir) == std::vector<std::string>{"taken.txt"});
        CHECK(read_file(f.at("taken.txt")) == "the original");
        CHECK(open_files_in(f.dir).empty());
    }
    SUBCASE("multipart, overwrite true") {
        UploadOptions o = f.options();
        o.overwrite = true;
        UploadReceiver rx(o, std::string(kBoundary), "", std::nullopt);
        REQUIRE(rx.feed(body) == 0);
        REQUIRE(rx.finish() == 0);
        CHECK(list(f.dir) == std::vector<std::string>{"free.txt", "taken.txt"});
        CHECK(read_file(f.at("taken.txt")) == "the new one");
        CHECK(read_file(f.at("free.txt")) == "free");
        rx.keep();
        CHECK(open_files_in(f.dir).empty());
    }
    SUBCASE("raw, overwrite true") {
        UploadOptions o = f.options();
        o.name = "taken.txt";
        o.overwrite = true;
        UploadReceiver rx = raw_receiver(o);
        REQUIRE(rx.feed("the new one") == 0);
        REQUIRE(rx.finish() == 0);
        CHECK(list(f.dir) == std::vector<std::string>{"taken.txt"});
        CHECK(read_file(f.at("taken.txt")) == "the new one");
    }
}

TEST_CASE(
    "a body matching the expected digest is stored; a mismatch is 400 and leaves no "
    "file") {
    Fixture f;
    const std::string raw = random_bytes(300 * kKiB, 31);
    const std::string form = multipart({
        {"f", std::string("a.bin"), "", random_bytes(1000, 32)},
        {"g", std::string("b.bin"), "", random_bytes(1001, 33)},
        {"k", std::nullopt, "", "v"},
    });
    Sha256Digest wrong = vstream::crypto::sha256(raw);
    wrong[31] ^= 1;

    SUBCASE("raw, matching") {
        UploadOptions o = f.options();
        o.name = "raw.bin";
        UploadReceiver rx = raw_receiver(o, vstream::crypto::sha256(raw));
        REQUIRE(feed_randomly(rx, raw, 1) == 0);
        REQUIRE(rx.finish() == 0);
        CHECK(list(f.dir) == std::vector<std::string>{"raw.bin"});
        CHECK(byte_exact(read_file(f.at("raw.bin")), raw));
    }
    SUBCASE("raw, mismatching") {
        UploadOptions o = f.options();
        o.name = "raw.bin";
        UploadReceiver rx = raw_receiver(o, wrong);
        REQUIRE(feed_randomly(rx, raw, 1) == 0);
        CHECK(rx.finish() == 400);
        CHECK(rx.reason().find("digest") != std::string::npos);
        CHECK(rx.result().files.empty());
        check_nothing_left(f.dir);
    }
    SUBCASE("multipart, matching the whole body") {
        UploadReceiver rx(f.options(), std::string(kBoundary), "", vstream::crypto::sha256(form));
        REQUIRE(feed_randomly(rx, form, 2) == 0);
        REQUIRE(rx.finish() == 0);
        CHECK(list(f.dir) == std::vector<std::string>{"a.bin", "b.bin"});
    }
    SUBCASE("multipart, mismatching") {
        UploadReceiver rx(f.options(), std::string(kBoundary), "", wrong);
        REQUIRE(feed_randomly(rx, form, 2) == 0);
        CHECK(rx.finish() == 400);
        check_nothing_left(f.dir);
    }
    SUBCASE("multipart, the digest of one file instead of the body") {
        UploadReceiver rx(f.options(), std::string(kBoundary), "",
                          vstream::crypto::sha256(random_bytes(1000, 32)));
        REQUIRE(rx.feed(form) == 0);
        CHECK(rx.finish() == 400);
        check_nothing_left(f.dir);
    }
}

TEST_CASE("fields beyond max_memory fail with 413 while feeding and leave no file") {
    Fixture f;
    UploadOptions o = f.options();
    o.max_memory = 100;
    SUBCASE("one large value after a file") {
        const std::string body = multipart({
            {"file", std::string("a.bin"), "", random_bytes(50 * kKiB, 41)},
            {"big", std::nullopt, "", std::string(101, 'v')},
            {"file2", std::string("b.bin"), "", "later"},
        });
        UploadReceiver rx(o, std::string(kBoundary), "", std::nullopt);
        CHECK(feed_randomly(rx, body, 4) == 413);
        CHECK(rx.status() == 413);
        CHECK(rx.reason().find("memory") != std::string::npos);
        check_nothing_left(f.dir);
        CHECK(rx.feed("more") == 413);  // sticky
        CHECK(rx.finish() == 413);
        check_nothing_left(f.dir);
    }
    SUBCASE("many small fields, names counted too") {
        std::vector<Part> parts = {{"file", std::string("a.bin"), "", "data"}};
        for (int i = 0; i < 20; ++i) {
            parts.push_back({"field" + std::to_string(i), std::nullopt, "", "12345"});
        }
        UploadReceiver rx(o, std::string(kBoundary), "", std::nullopt);
        CHECK(rx.feed(multipart(parts)) == 413);
        CHECK(rx.finish() == 413);
        check_nothing_left(f.dir);
    }
    SUBCASE("exactly max_memory is accepted") {
        // "k" + 99 bytes of value: 100 bytes kept.
        const std::string body = multipart({
            {"file", std::string("a.bin"), "", "data"},
            {"k", std::nullopt, "", std::string(99, 'v')},
        });
        UploadReceiver rx(o, std::string(kBoundary), "", std::nullopt);
        REQUIRE(rx.feed(body) == 0);
        REQUIRE(rx.finish() == 0);
        CHECK(list(f.dir) == std::vector<std::string>{"a.bin"});
    }
}

TEST_CASE("more parts than max_parts fail with 413 and leave no file") {
    Fixture f;
    UploadOptions o = f.options();
    o.max_parts = 2;
    const std::string three = multipart({
        {"a", std::string("a.bin"), "", random_bytes(10 * kKiB, 51)},
        {"b", std::string("b.bin"), "", random_bytes(10 * kKiB, 52)},
        {"c", std::string("c.bin"), "", "c"},
    });
    UploadReceiver rx(o, std::string(kBoundary), "", std::nullopt);
    CHECK(feed_randomly(rx, three, 5) == 413);
    CHECK(rx.status() == 413);
    CHECK(rx.finish() == 413);
    check_nothing_left(f.dir);

    // Two parts are within the limit.
    const std::string two = multipart({
        {"a", std::string("a.bin"), "", "a"},
        {"b", std::string("b.bin"), "", "b"},
    });
    UploadReceiver ok(o, std::string(kBoundary), "", std::nullopt);
    REQUIRE(ok.feed(two) == 0);
    REQUIRE(ok.finish() == 0);
    CHECK(list(f.dir) == std::vector<std::string>{"a.bin", "b.bin"});
}

TEST_CASE("a truncated multipart body fails with 400 at finish and leaves no file") {
    Fixture f;
    const std::string full = multipart({
        {"a", std::string("a.bin"), "", random_bytes(20 * kKiB, 61)},
        {"b", std::string("b.bin"), "", random_bytes(20 * kKiB, 62)},
    });
    // Cut: inside the second file, inside the close delimiter, before its final "--", and
    // right before the last CRLF after it (which the parser does not need).
    const std::size_t close_at = full.size() - (kBoundary.size() + 8);  // "\r\n--" B "--\r\n"
    for (const std::size_t cut :
         {full.size() / 2, full.size() - 10, close_at + 2, full.size() - 4, std::size_t{0}}) {
        CAPTURE(cut);
        {
            UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
            REQUIRE(rx.feed(std::string_view(full).substr(0, cut)) == 0);
            CHECK(rx.finish() == 400);
            CHECK(rx.status() == 400);
            CHECK_FALSE(rx.reason().empty());
            CHECK(rx.result().files.empty());
            check_nothing_left(f.dir);
        }
        check_nothing_left(f.dir);
    }
    // The close delimiter without its trailing CRLF is complete.
    UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
    REQUIRE(rx.feed(std::string_view(full).substr(0, full.size() - 2)) == 0);
    REQUIRE(rx.finish() == 0);
    CHECK(list(f.dir) == std::vector<std::string>{"a.bin", "b.bin"});
}

TEST_CASE("malformed multipart fails with 400 while feeding and leaves no file") {
    Fixture f;
    const std::string good_part = multipart({{"a", std::string("a.bin"), "", "aaaa"}}, false);
    SUBCASE("a delimiter followed by garbage") {
        UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
        const int rc = rx.feed(good_part + "--" + std::string(kBoundary) + "xx\r\n");
        CHECK(rc == 400);
    }
    SUBCASE("part headers over max_part_header_bytes") {
        UploadOptions o = f.options();
        o.max_part_header_bytes = 200;
        UploadReceiver rx(o, std::string(kBoundary), "", std::nullopt);
        const std::string body = good_part + "--" + std::string(kBoundary) +
                                 "\r\nContent-Disposition: form-data; name=\"b\"; "
                                 "filename=\"b\"\r\nX-Pad: " +
                                 std::string(300, 'p') + "\r\n\r\nbbbb\r\n";
        CHECK(rx.feed(body) == 400);
        CHECK(rx.finish() == 400);
    }
    SUBCASE("a part without Content-Disposition") {
        UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
        const std::string body =
            good_part + "--" + std::string(kBoundary) + "\r\nContent-Type: text/plain\r\n\r\nx\r\n";
        CHECK(rx.feed(body) == 400);
    }
    check_nothing_left(f.dir);
}

TEST_CASE("abort() after partial writes leaves the directory empty, and is idempotent") {
    Fixture f;
    SUBCASE("raw") {
        UploadOptions o = f.options();
        o.name = "partial.bin";
        UploadReceiver rx = raw_receiver(o);
        REQUIRE(feed_randomly(rx, random_bytes(700 * kKiB, 71), 7) == 0);
        CHECK(open_files_in(f.dir).size() == 1);  // the O_TMPFILE being written
        rx.abort();
        check_nothing_left(f.dir);
        rx.abort();
        check_nothing_left(f.dir);
    }
    SUBCASE("multipart: one whole file and one half written") {
        const std::string body = multipart({
            {"a", std::string("a.bin"), "", random_bytes(100 * kKiB, 72)},
            {"b", std::string("b.bin"), "", random_bytes(100 * kKiB, 73)},
        });
        UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
        REQUIRE(rx.feed(std::string_view(body).substr(0, body.size() - 50 * kKiB)) == 0);
        CHECK(open_files_in(f.dir).size() == 2);
        rx.abort();
        check_nothing_left(f.dir);
        rx.abort();
        check_nothing_left(f.dir);
    }
}

TEST_CASE("a receiver destroyed without finish leaves nothing") {
    Fixture f;
    {
        UploadOptions o = f.options();
        o.name = "never.bin";
        UploadReceiver rx = raw_receiver(o);
        REQUIRE(rx.feed(random_bytes(200 * kKiB, 81)) == 0);
    }
    check_nothing_left(f.dir);
    {
        const std::string body = multipart({
            {"a", std::string("a.bin"), "", random_bytes(30 * kKiB, 82)},
            {"k", std::nullopt, "", "v"},
            {"b", std::string("b.bin"), "", random_bytes(30 * kKiB, 83)},
        });
        UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
        REQUIRE(rx.feed(std::string_view(body).substr(0, body.size() - 100)) == 0);
    }
    check_nothing_left(f.dir);
    {
        // Not even fed.
        UploadReceiver rx(f.options(), std::nullopt, "", std::nullopt);
    }
    check_nothing_left(f.dir);
}

TEST_CASE("a full disk fails with 507 while feeding and leaves the disk as it was") {
    Fixture f;
    TmpfsMount small(f.dir, "size=1m,mode=0755");
    if (!small.mounted()) {
        MESSAGE("skipped: mounting a 1 MiB tmpfs failed (" << std::strerror(small.error())
                                                           << "); this test needs root or "
                                                              "CAP_SYS_ADMIN");
        return;
    }
    struct statvfs empty {};
    REQUIRE(::statvfs(f.dir.c_str(), &empty) == 0);
    SUBCASE("raw") {
        UploadOptions o = f.options();
        o.name = "big.bin";
        UploadReceiver rx = raw_receiver(o);
        CHECK(feed_randomly(rx, random_bytes(4 * kMiB, 91), 9) == 507);
        CHECK(rx.status() == 507);
        CHECK(rx.finish() == 507);
    }
    SUBCASE("multipart: a small file stored, then a large one") {
        const std::string body = multipart({
            {"a", std::string("a.bin"), "", "small"},
            {"b", std::string("b.bin"), "", random_bytes(4 * kMiB, 92)},
        });
        UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
        CHECK(feed_randomly(rx, body, 9) == 507);
        CHECK(rx.finish() == 507);
    }
    check_nothing_left(f.dir);
    struct statvfs after {};
    REQUIRE(::statvfs(f.dir.c_str(), &after) == 0);
    CHECK(after.f_bfree == empty.f_bfree);
}

TEST_CASE("with sync, files are stored the same") {
    Fixture f;
    UploadOptions o = f.options();
    o.sync = true;
    const std::vector<Part> parts = sample_parts();
    UploadReceiver rx(o, std::string(kBoundary), "", std::nullopt);
    REQUIRE(feed_randomly(rx, multipart(parts), 3) == 0);
    REQUIRE(rx.finish() == 0);
    check_sample_stored(f, rx, parts);
}

TEST_CASE("a destination that is not a writable directory throws vstream::Error") {
    Fixture f;
    UploadOptions missing = f.options();
    missing.dir += "/missing";
    CHECK_THROWS_AS(UploadReceiver(missing, std::nullopt, "", std::nullopt), vstream::Error);
    UploadOptions file = f.options();
    file.dir = f.tmp.write("plain.txt", "x");
    CHECK_THROWS_AS(UploadReceiver(file, std::string(kBoundary), "", std::nullopt), vstream::Error);
}

TEST_CASE("UploadResult::to_json lists the stored files and the fields") {
    Fixture f;
    const std::string body = multipart({
        {"doc", std::string("my \"doc\".txt"), "text/plain", "hello"},
        {"k", std::nullopt, "", "v \"q\""},
    });
    UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
    REQUIRE(rx.feed(body) == 0);
    REQUIRE(rx.finish() == 0);
    CHECK(rx.result().to_json() ==
          R"({"files":[{"field":"doc","filename":"my \"doc\".txt","name":"my_doc_.txt",)"
          R"("size":5,"sha256":")" +
              sha_hex("hello") + R"(","content_type":"text/plain"}],"fields":{"k":"v \"q\""}})");
}

// A repeated field keeps its last value: JSON names should be unique (RFC 8259 §4), and a
// parser that keeps the first occurrence (simdjson's find_field) would read "1".
TEST_CASE("a repeated field appears once in to_json, with its last value") {
    Fixture f;
    const std::string body = multipart({
        {"k", std::nullopt, "", "1"},
        {"k", std::nullopt, "", "2"},
    });
    UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
    REQUIRE(rx.feed(body) == 0);
    REQUIRE(rx.finish() == 0);
    CHECK(rx.result().fields.size() == 2);  // the result itself keeps both, in order
    CHECK(rx.result().to_json() == "{\"files\":[],\"fields\":{\"k\":\"2\"}}");
}

// abort() removes every file of the request, named or not: receive_upload relies on it when
// its `done` callback throws (the client gets a 500, so nothing is kept).
TEST_CASE("abort() after a successful finish removes the files it stored") {
    Fixture f;
    const std::string body = multipart({
        {"a", std::string("a.bin"), "", "aaa"},
        {"b", std::string("b.bin"), "", "bbb"},
    });
    UploadReceiver rx(f.options(), std::string(kBoundary), "", std::nullopt);
    REQUIRE(rx.feed(body) == 0);
    REQUIRE(rx.finish() == 0);
    REQUIRE(list(f.dir) == std::vector<std::string>{"a.bin", "b.bin"});
    rx.abort();
    check_nothing_left(f.dir);
}

}  // TEST_SUITE("handlers/upload_receiver")
