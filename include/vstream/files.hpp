// Files: the mmap file cache's settings and counters, and the options of file responses and
// static directories. Implemented by src/files/ (mmap_cache.cpp, file_response.cpp,
// static_handler.cpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vstream {

/// The file cache: files are mapped read-only and shared by every response that sends them.
/// One per Server, shared by its loop threads. Part of ServerConfig.
struct FileCacheConfig {
    /// Bytes mapped at once, whole files and windows together. Unreferenced mappings are
    /// evicted (least recently used first) to stay below it; when every mapping is in use,
    /// further responses map 64 KiB pieces on their own, uncached (so memory stays bounded).
    /// Default 256 MiB.
    std::size_t max_mapped_bytes = 256 * 1024 * 1024;
    /// Cached files (each keeps one descriptor open while it is windowed). Default 1024.
    std::size_t max_entries = 1024;
    /// Files larger than this are mapped in windows, never whole. Default 8 MiB.
    std::size_t window_threshold = 8 * 1024 * 1024;
    /// Size of a window, rounded up to the page size. Default 2 MiB.
    std::size_t window_size = 2 * 1024 * 1024;
    /// How long a cached file is trusted before stat() checks it again (inode, size, mtime),
    /// like nginx's open_file_cache_valid. Default 1 s.
    std::chrono::milliseconds revalidate = std::chrono::seconds(1);
    /// Unused mappings are released after this long, like open_file_cache's inactive.
    /// Default 60 s.
    std::chrono::milliseconds idle = std::chrono::seconds(60);
};

/// File cache counters. Any thread (a snapshot).
struct FileCacheStats {
    std::uint64_t hits = 0;          ///< lookups served by a cached file or window
    std::uint64_t misses = 0;        ///< lookups that opened or mapped
    std::uint64_t evictions = 0;     ///< mappings released to make room or after idling
    std::uint64_t mapped_bytes = 0;  ///< bytes mapped now
    std::uint64_t open_entries = 0;  ///< files cached now
};

/// How Context::send_file answers. Every file response carries a strong ETag (from inode,
/// size and mtime), Last-Modified and Accept-Ranges, and honours conditional requests
/// (RFC 9110 §13) and Range (§14) for GET and HEAD.
struct FileOptions {
    /// Content-Type; empty: from the file name's extension (see StaticOptions::mime_types).
    std::string content_type;
    /// Serve only [offset, offset + length) of the file, as if it were the whole
    /// representation (Range applies within it). Default: the whole file.
    std::uint64_t offset = 0;
    std::optional<std::uint64_t> length;
    /// Pacing: bytes per second once `limit_rate_after` bytes have gone out (nginx's
    /// limit_rate and limit_rate_after). 0 = unlimited (default).
    std::uint64_t limit_rate = 0;
    /// Bytes sent at full speed before pacing starts. Default 0.
    std::uint64_t limit_rate_after = 0;
    /// A Cache-Control value to send ("" sends none, the default).
    std::string cache_control;
    /// Honour Range requests. Default true.
    bool ranges = true;
};

/// How RouteGroup::serve_static answers.
struct StaticOptions {
    /// A file served for a directory request ("" for none). Default "index.html".
    std::string index = "index.html";
    /// HTML listing of a directory without index file. Default false (404).
    bool listing = false;
    /// Serve names starting with '.' (.git, .env). Default false (404).
    bool dotfiles = false;
    /// Follow symlinks that lead outside the root. Default false: such a request gets 404.
    bool symlinks_outside_root = false;
    /// Extra or replacing content types by extension: {"mkv", "video/webm"}.
    std::vector<std::pair<std::string, std::string>> mime_types;
    /// Per-response pacing, as in FileOptions.
    std::uint64_t limit_rate = 0;
    std::uint64_t limit_rate_after = 0;
    /// A Cache-Control value for every file ("" sends none, the default).
    std::string cache_control;
};

}  // namespace vstream
