#pragma once

#include <vstream/files.hpp>

#include "files/file_origin.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace vstream::files {

/// One version of a file in the cache: its identity, validators, and either a read-only
/// mapping of the whole file or (for a large file) the descriptor its windows map from.
/// Immutable once made; shared by the cache and every response that sends it.
class CachedFile {
public:
    ~CachedFile();
    CachedFile(const CachedFile&) = delete;
    CachedFile& operator=(const CachedFile&) = delete;

    const FileIdentity& identity() const noexcept { return identity_; }
    std::uint64_t size() const noexcept { return identity_.size; }
    /// The whole file mapped, or nullptr when it is windowed (or empty).
    const char* data() const noexcept { return data_; }
    bool windowed() const noexcept { return data_ == nullptr && identity_.size > 0; }
    // A whole mapping keeps its descriptor too (sendfile), so a cached file costs one.
    /// The open file: windows map from it, and long bodies go out of it with sendfile
    /// (-1 for an empty file).
    int fd() const noexcept { return fd_; }
    /// Strong entity tag, quoted: "\"<inode>-<size>-<mtime ns>\"" in hex.
    std::string_view etag() const noexcept { return etag_; }
    /// Last-Modified as an IMF-fixdate.
    std::string_view last_modified() const noexcept { return last_modified_; }
    std::time_t mtime() const noexcept { return static_cast<std::time_t>(identity_.mtime_sec); }

private:
    friend class MmapCache;
    CachedFile(const OpenedFile& f, const char* data, int fd);

    FileIdentity identity_;
    const char* data_ = nullptr;
    int fd_ = -1;
    std::string etag_;
    std::string last_modified_;
};
using FileRef = std::shared_ptr<const CachedFile>;

/// A mapped piece of a windowed file: [offset, offset + length).
class Window {
public:
    ~Window();
    Window(const Window&) = delete;
    Window& operator=(const Window&) = delete;
    const char* data() const noexcept { return data_; }
    std::uint64_t offset() const noexcept { return offset_; }
    std::size_t length() const noexcept { return length_; }

private:
    friend class MmapCache;
    Window(FileRef file, const char* data, std::uint64_t offset, std::size_t length) noexcept
        : file_(std::move(file)), data_(data), offset_(offset), length_(length) {}
    FileRef file_;  // the descriptor and identity it belongs to
    const char* data_;
    std::uint64_t offset_;
    std::size_t length_;
};
using WindowRef = std::shared_ptr<const Window>;

/// The mmap file cache (h2o's filecache, nginx's open_file_cache): one mapping per file
/// version, shared by every response and connection of a server; refcounted, so a mapping
/// lives while any response still sends from it; bounded by mapped bytes and entries, with
/// least-recently-used eviction of unreferenced mappings; revalidated by stat at most every
/// FileCacheConfig::revalidate. A changed or deleted file gets a new entry while responses in
/// flight finish on the old one. Large files are mapped in windows, themselves cached.
///
/// Thread: any; one mutex guards the index. Opening and mapping happen outside it.
class MmapCache {
public:
    explicit MmapCache(const FileCacheConfig& config);
    ~MmapCache();
    MmapCache(const MmapCache&) = delete;
    MmapCache& operator=(const MmapCache&) = delete;

    /// The file at `path` in `origin`. Returns 0, -EISDIR for a directory (not cached), or
    /// another negative errno from the origin (-ENOENT, -EACCES, -EXDEV, ...), or -ENODEV
    /// for a file that is neither regular nor a directory (devices, FIFOs, sockets).
    int open(const FileOrigin& origin, std::string_view path, FileRef& out);

    /// The window of windowed `file` that holds `offset`, mapped with a readahead hint
    /// (sequential for a stream, none for a random range). nullptr when every mapping the
    /// budget allows is in use, or mapping failed: read the bytes instead.
    WindowRef window(const FileRef& file, std::uint64_t offset, bool sequential);

    /// Maps [offset, offset + length) of `file` on its own, uncached and outside the budget:
    /// for when window() has no room. The memory it costs is what a read buffer of the same
    /// size would, without the copy. nullptr if mapping fails.
    WindowRef map_piece(const FileRef& file, std::uint64_t offset, std::size_t length);

    /// A write from a mapping faulted (a file shrank under it): every entry is stat'ed again
    /// on its next lookup, so the broken one is dropped at once.
    void recheck_all() noexcept { epoch_.fetch_add(1, std::memory_order_relaxed); }

    /// Releases mappings unused for longer than FileCacheConfig::idle. Call now and then.
    void expire();

    FileCacheStats stats() const;
    std::size_t window_size() const noexcept { return window_size_; }

private:
    using Clock = std::chrono::steady_clock;
    struct Node {
        std::string key;                   // file nodes: origin key + path
        std::shared_ptr<CachedFile> file;  // a file node
        std::shared_ptr<Window> window;    // or a window node
        std::pair<const CachedFile*, std::uint64_t> window_key{nullptr, 0};
        std::size_t mapped = 0;
        Clock::time_point used;
        Clock::time_point checked;  // file nodes: last stat
        unsigned epoch = 0;         // file nodes: recheck_all() count when checked
        bool indexed = true;        // file nodes: still the current version of key
        std::size_t windows = 0;    // file nodes: its windows cached (each holds a ref)
        // Whether a response holds it. A file's cached windows hold refs too, but not for a
        // response: they do not count.
        bool referenced() const noexcept {
            return file ? file.use_count() > static_cast<long>(1 + windows)
                        : window.use_count() > 1;
        }
    };
    using NodeList = std::list<Node>;

    int load(const FileOrigin& origin, std::string_view path, std::shared_ptr<CachedFile>& out);
    bool make_room(std::size_t bytes, std::unique_lock<std::mutex>& lock);
    void drop(NodeList::iterator it);
    void unindex(NodeList::iterator it);

    const FileCacheConfig config_;
    const std::size_t window_size_;
    std::atomic<unsigned> epoch_{0};

    mutable std::mutex mutex_;
    NodeList lru_;  // front: most recently used
    std::unordered_map<std::string, NodeList::iterator> files_;
    // Ordered, so one file's windows are adjacent (dropped with it).
    std::map<std::pair<const CachedFile*, std::uint64_t>, NodeList::iterator> windows_;
    std::unordered_map<const CachedFile*, NodeList::iterator> window_owner_;  // file -> its node
    std::size_t mapped_ = 0;
    std::size_t file_nodes_ = 0;
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
    std::uint64_t evictions_ = 0;
};

}  // namespace vstream::files
