// Content types by extension: the built-in table, lookups by path, host overrides.
#include "http/mime_types.hpp"

#include <vstream/error.hpp>

#include <doctest/doctest.h>

#include <string>
#include <string_view>

using vstream::http::builtin_mime_type;
using vstream::http::kDefaultMimeType;
using vstream::http::MimeTypes;

TEST_SUITE("http/mime_types") {

TEST_CASE("the built-in table knows the video, streaming and web types") {
    struct Row {
        const char* ext;
        const char* type;
    };
    const Row rows[] = {
        {"mp4", "video/mp4"},
        {"m4v", "video/x-m4v"},
        {"m4s", "video/iso.segment"},
        {"m4a", "audio/mp4"},
        {"webm", "video/webm"},
        {"mkv", "video/x-matroska"},
        {"mov", "video/quicktime"},
        {"ts", "video/mp2t"},
        {"m3u8", "application/vnd.apple.mpegurl"},
        {"mpd", "application/dash+xml"},
        {"mp3", "audio/mpeg"},
        {"aac", "audio/aac"},
        {"ogg", "audio/ogg"},
        {"ogv", "video/ogg"},
        {"oga", "audio/ogg"},
        {"opus", "audio/ogg"},
        {"flac", "audio/flac"},
        {"wav", "audio/wav"},
        {"vtt", "text/vtt"},
        {"srt", "application/x-subrip"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"png", "image/png"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"avif", "image/avif"},
        {"svg", "image/svg+xml"},
        {"ico", "image/x-icon"},
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json"},
        {"xml", "application/xml"},
        {"txt", "text/plain; charset=utf-8"},
        {"md", "text/markdown; charset=utf-8"},
        {"csv", "text/csv; charset=utf-8"},
        {"wasm", "application/wasm"},
        {"pdf", "application/pdf"},
        {"zip", "application/zip"},
        {"gz", "application/gzip"},
        {"tar", "application/x-tar"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
        {"ttf", "font/ttf"},
        {"otf", "font/otf"},
        {"map", "application/json"},
    };
    for (const Row& r : rows) {
        const std::string ext = r.ext;
        CAPTURE(ext);
        CHECK(builtin_mime_type(r.ext) == r.type);
    }
}

TEST_CASE("built-in lookups ignore ASCII case and report unknown extensions as empty") {
    CHECK(builtin_mime_type("MP4") == "video/mp4");
    CHECK(builtin_mime_type("M3u8") == "application/vnd.apple.mpegurl");
    CHECK(builtin_mime_type("WoFf2") == "font/woff2");
    CHECK(builtin_mime_type("").empty());
    CHECK(builtin_mime_type("exe").empty());
    CHECK(builtin_mime_type("mp").empty());          // a prefix of "mp3" / "mp4"
    CHECK(builtin_mime_type("mp44").empty());        // "mp4" is a prefix of it
    CHECK(builtin_mime_type("zzzz").empty());        // past the end of the table
    CHECK(builtin_mime_type("000").empty());         // before its start
    CHECK(builtin_mime_type(".mp4").empty());        // the dot is not part of the extension
    CHECK(builtin_mime_type("mp\xc4\xb4").empty());  // non-ASCII bytes match nothing
}

TEST_CASE("lookup takes the extension after the last dot of the last segment") {
    const MimeTypes types;
    struct Row {
        const char* path;
        std::string_view type;
    };
    const Row rows[] = {
        {"a.mp4", "video/mp4"},
        {"videos/Movie.MP4", "video/mp4"},
        {"/abs/path/clip.m3u8", "application/vnd.apple.mpegurl"},
        {"archive.tar.gz", "application/gzip"},
        {"seg-001.m4s", "video/iso.segment"},
        {"a.b/c", kDefaultMimeType},   // the dot is in a directory name
        {"a.mp4/", kDefaultMimeType},  // empty last segment
        {"README", kDefaultMimeType},
        {"", kDefaultMimeType},
        {".mp4", kDefaultMimeType},  // a dotfile's leading dot is not an extension
        {"dir/.mp4", kDefaultMimeType},
        {"..mp4", "video/mp4"},        // only the very first dot is exempt
        {"video.", kDefaultMimeType},  // empty extension
        {"video.unknownext", kDefaultMimeType},
    };
    for (const Row& r : rows) {
        const std::string path = r.path;
        CAPTURE(path);
        CHECK(types.lookup(r.path) == r.type);
    }
}

TEST_CASE("overrides win over the built-in table and ignore case") {
    MimeTypes types;
    types.set("mp4", "video/x-custom");
    types.set("MKV", "video/webm");
    types.set("flv", "video/x-flv");
    CHECK(types.lookup("a.mp4") == "video/x-custom");
    CHECK(types.lookup("a.MP4") == "video/x-custom");
    CHECK(types.lookup("a.mkv") == "video/webm");
    CHECK(types.lookup("a.flv") == "video/x-flv");
    CHECK(types.lookup("a.webm") == "video/webm");   // untouched built-in
    CHECK(builtin_mime_type("mp4") == "video/mp4");  // the table itself is unchanged

    SUBCASE("a later set replaces an earlier one, whatever the case of the extension") {
        types.set("Mp4", "video/mp4; codecs=avc1");
        CHECK(types.lookup("x.mp4") == "video/mp4; codecs=avc1");
    }
    SUBCASE("each object has its own overrides") {
        const MimeTypes other;
        CHECK(other.lookup("a.mp4") == "video/mp4");
    }
}

TEST_CASE("set rejects extensions that could never match and types unfit for a header") {
    MimeTypes types;
    using namespace std::string_literals;
    const auto rejects = [&](std::string_view ext, std::string type) {
        try {
            types.set(ext, std::move(type));
        } catch (const vstream::Error& e) {
            return e.errc_code() == vstream::errc::invalid_argument;
        }
        return false;
    };
    CHECK(rejects("", "video/mp4"));
    CHECK(rejects(".mp4", "video/mp4"));
    CHECK(rejects("a/b", "video/mp4"));
    CHECK(rejects("mp\0"s, "video/mp4"));
    CHECK(rejects("mp4", ""));
    CHECK(rejects("mp4", "video/mp4\r\nSet-Cookie: x=1"));
    CHECK(rejects("mp4", "video/mp4\n"));
    CHECK(rejects("mp4", "video/mp4\0"s));
    CHECK(rejects("mp4", "video/\x7fmp4"));
    CHECK(types.lookup("a.mp4") == "video/mp4");  // nothing was stored

    types.set("mp4", "video/mp4;\tcodecs=avc1");  // HTAB is allowed in a field value
    CHECK(types.lookup("a.mp4") == "video/mp4;\tcodecs=avc1");
}

}  // TEST_SUITE("http/mime_types")
