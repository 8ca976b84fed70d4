// Tests upload names (src/files/upload_name.cpp): client filenames reduced to safe basenames,
// and random names.
#include "files/upload_name.hpp"

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <string_view>

using vstream::files::generated_upload_name;
using vstream::files::kMaxUploadName;
using vstream::files::kRandomNameDigits;
using vstream::files::safe_upload_name;

namespace {

struct Row {
    std::string_view client;
    std::string_view safe;
};

// True when `name` holds only the kept characters and does not start with '.' or '-'.
bool is_safe(std::string_view name) {
    if (name.empty() || name.front() == '.' || name.front() == '-') return false;
    for (const char c : name) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                        (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

}  // namespace

TEST_SUITE("files/upload_name") {

TEST_CASE("ordinary names are kept as they are") {
    for (const std::string_view name :
         {"video.mp4", "My_Holiday-2024.final.MKV", "a", "README", "x.tar.gz", "1"}) {
        CAPTURE(name);
        CHECK(safe_upload_name(name) == name);
    }
}

TEST_CASE("only the part after the last slash or backslash is kept") {
    using namespace std::string_view_literals;
    const Row rows[] = {
        {"../../etc/passwd", "passwd"},
        {"/etc/passwd", "passwd"},
        {"..\\..\\windows\\win.ini", "win.ini"},
        {"C:\\Users\\ann\\Videos\\clip.mp4", "clip.mp4"},
        {"C:clip.mp4", "C_clip.mp4"},  // a drive-relative path: ':' is replaced
        {"\\\\server\\share\\clip.mp4", "clip.mp4"},
        {"dir/sub\\mixed/clip.mp4", "clip.mp4"},
        {"clip.mp4/", ""},
        {"clip.mp4\\", ""},
        {"/", ""},
    };
    for (const Row& r : rows) {
        CAPTURE(r.client);
        CHECK(safe_upload_name(r.client) == r.safe);
    }
}

TEST_CASE("every other byte or run of bytes becomes one underscore") {
    using namespace std::string_view_literals;
    const Row rows[] = {
        {"my video (1).mp4", "my_video_1_.mp4"},
        {"a   b", "a_b"},
        {"evil.php\0.jpg"sv, "evil.php_.jpg"},       // NUL: never cut short
        {"line\r\nbreak\t.txt", "line_break_.txt"},  // control bytes
        {"\x7f\x01"
         "del.txt",
         "_del.txt"},
        {"vid\xc3\xa9o.mp4", "vid_o.mp4"},          // UTF-8 é: one run
        {"\xe6\x97\xa5\xe6\x9c\xac.mp4", "_.mp4"},  // all non-ASCII stem
        {"a\xff\xfe"
         "b",
         "a_b"},  // invalid UTF-8
        {"semi;colon$and&more|<>:*?\"'.txt", "semi_colon_and_more_.txt"},
        {"keep__double", "keep__double"},  // literal underscores stay
        {"a_ b", "a__b"},
        {"%2e%2e%2fetc", "_2e_2e_2fetc"},  // no decoding here
    };
    for (const Row& r : rows) {
        CAPTURE(r.client);
        CHECK(safe_upload_name(r.client) == r.safe);
    }
}

TEST_CASE("no name starts with a dot or a dash: no dotfiles, no . or ..") {
    const Row rows[] = {
        {".bashrc", "bashrc"},
        {"..hidden", "hidden"},
        {".htaccess", "htaccess"},
        {".", ""},
        {"..", ""},
        {"...", ""},
        {"../..", ""},
        {"-rf", "rf"},
        {"--help.txt", "help.txt"},
        {".-.-x", "x"},
        {" .profile", "_.profile"},  // after a replaced byte, a dot is not leading
        {"a.", "a."},
        {"a..b", "a..b"},
    };
    for (const Row& r : rows) {
        CAPTURE(r.client);
        CHECK(safe_upload_name(r.client) == r.safe);
    }
}

TEST_CASE("a name with no letter or digit left gives an empty string") {
    using namespace std::string_view_literals;
    for (const std::string_view name :
         {""sv, " "sv, "\0"sv, "___"sv, "_-_.."sv, "\xe6\x97\xa5\xe6\x9c\xac"sv, "???"sv,
          "C:\\dir\\"sv, "../.."sv}) {
        CAPTURE(name);
        CHECK(safe_upload_name(name).empty());
    }
}

TEST_CASE("a very long name is cut to 128 bytes, keeping a short extension") {
    const std::string stem(300, 'a');
    const std::string mp4 = safe_upload_name(stem + ".mp4");
    CHECK(mp4.size() == kMaxUploadName);
    CHECK(mp4 == std::string(kMaxUploadName - 4, 'a') + ".mp4");

    // An extension too long to be one is cut like the rest.
    const std::string long_ext = safe_upload_name("a." + std::string(300, 'x'));
    CHECK(long_ext == "a." + std::string(kMaxUploadName - 2, 'x'));

    const std::string no_ext = safe_upload_name(stem);
    CHECK(no_ext == std::string(kMaxUploadName, 'a'));

    // Exactly at the limit: unchanged.
    const std::string exact = std::string(kMaxUploadName - 4, 'b') + ".mkv";
    CHECK(safe_upload_name(exact) == exact);

    // The limit applies to the result: a long run of replaced bytes shrinks to one '_'.
    const std::string shrinks = "a" + std::string(500, ' ') + "b.mp4";
    CHECK(safe_upload_name(shrinks) == "a_b.mp4");

    // A long client path counts only its last part.
    CHECK(safe_upload_name(std::string(1000, 'd') + "/clip.mp4") == "clip.mp4");
}

TEST_CASE("results are always safe basenames, whatever the input") {
    std::string all;
    for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
    for (std::size_t start = 0; start < all.size(); start += 7) {
        const std::string in = all.substr(start) + all.substr(0, start);
        CAPTURE(start);
        const std::string out = safe_upload_name(in);
        CHECK(out.size() <= kMaxUploadName);
        CHECK((out.empty() || is_safe(out)));
    }
}

TEST_CASE("generated names are 32 random lowercase hex digits, then the extension") {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        const std::string name = generated_upload_name();
        REQUIRE(name.size() == kRandomNameDigits);
        for (const char c : name) {
            CAPTURE(c);
            CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')));
        }
        seen.insert(name);
    }
    CHECK(seen.size() == 100);  // 128 random bits: no repeats

    const std::string mp4 = generated_upload_name(".mp4");
    CHECK(mp4.size() == kRandomNameDigits + 4);
    CHECK(mp4.ends_with(".mp4"));
    CHECK(is_safe(mp4));
}

}  // TEST_SUITE("files/upload_name")
