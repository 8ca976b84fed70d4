#include "files/mmap_cache.hpp"

#include "core/date_cache.hpp"

#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace vstream::files {

namespace {

std::size_t page_size() noexcept {
    const long p = ::sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<std::size_t>(p) : 4096;
}

std::size_t round_up(std::size_t n, std::size_t to) noexcept { return (n + to - 1) / to * to; }

const char* map_read_only(int fd, std::size_t length, std::uint64_t offset,
                          bool populate) noexcept {
    // A whole (small) file is populated at once: it is about to be sent, and hot files then
    // never fault again. A window is left to the hints below.
    const int flags = MAP_SHARED | (populate ? MAP_POPULATE : 0);
    void* p = ::mmap(nullptr, length, PROT_READ, flags, fd, static_cast<off_t>(offset));
    return p == MAP_FAILED ? nullptr : static_cast<const char*>(p);
}

void unmap(const char* p, std::size_t length) noexcept {
    if (p != nullptr) ::munmap(const_cast<char*>(p), length);
}

// Hints on the part a response is about to send; readahead is the kernel's business after.
void advise(const char* base, std::size_t length, std::size_t from, std::size_t want,
            bool sequential) noexcept {
    auto* p = const_cast<char*>(base);
    if (sequential) {
        ::madvise(p, length, MADV_SEQUENTIAL);
        ::madvise(p, length, MADV_WILLNEED);
        return;
    }
    // A random range: read ahead what it asks for, nothing around it.
    const std::size_t page = page_size();
    const std::size_t first = from / page * page;
    const std::size_t last = std::min(length, round_up(from + want, page));
    if (last > first) ::madvise(p + first, last - first, MADV_WILLNEED);
}

}  // namespace

// ---- CachedFile and Window ----

CachedFile::CachedFile(const OpenedFile& f, const char* data, int fd)
    : identity_(f.identity), data_(data), fd_(fd) {
    const std::uint64_t mtime_ns = static_cast<std::uint64_t>(identity_.mtime_sec) * 1000000000u +
                                   static_cast<std::uint64_t>(identity_.mtime_nsec);
    // RFC 9110 §8.8.3: a strong validator; any change of content changes one of these.
    etag_ = fmt::format("\"{:x}-{:x}-{:x}\"", identity_.inode, identity_.size, mtime_ns);
    char date[32];
    last_modified_.assign(date, core::format_http_date(mtime(), date));
}

CachedFile::~CachedFile() {
    unmap(data_, static_cast<std::size_t>(identity_.size));
    if (fd_ >= 0) ::close(fd_);
}

Window::~Window() { unmap(data_, length_); }

// ---- MmapCache ----

MmapCache::MmapCache(const FileCacheConfig& config)
    : config_(config),
      window_size_(round_up(std::max<std::size_t>(config.window_size, 1), page_size())) {}

MmapCache::~MmapCache() = default;

int MmapCache::open(const FileOrigin& origin, std::string_view path, FileRef& out) {
    std::string key;
    key.reserve(origin.cache_key().size() + path.size());
    key.append(origin.cache_key()).append(path);
    const Clock::time_point now = Clock::now();
    const unsigned epoch = epoch_.load(std::memory_order_relaxed);

    std::shared_ptr<CachedFile> known;
    {
        std::lock_guard lock(mutex_);
        const auto found = files_.find(key);
        if (found != files_.end()) {
            Node& n = *found->second;
            if (now - n.checked < config_.revalidate && n.epoch == epoch) {
                ++hits_;
                n.used = now;
                lru_.splice(lru_.begin(), lru_, found->second);
                out = n.file;
                return 0;
            }
            known = n.file;
        }
    }

    if (known) {
        // Due for a check: the stat runs outside the lock.
        FileIdentity identity;
        FileKind kind = FileKind::other;
        const int rc = origin.stat(path, identity, kind);
        const bool same = rc == 0 && kind == FileKind::regular && identity == known->identity();
        std::lock_guard lock(mutex_);
        const auto found = files_.find(key);
        if (found != files_.end() && found->second->file == known) {
            if (same) {
                ++hits_;
                Node& n = *found->second;
                n.checked = now;
                n.epoch = epoch;
                n.used = now;
                lru_.splice(lru_.begin(), lru_, found->second);
                out = std::move(known);
                return 0;
            }
            // Changed or gone: responses in flight keep the old version.
            const auto it = found->second;
            known.reset();
            unindex(it);
        }
        if (rc != 0) return rc;
    }
    known.reset();

    std::shared_ptr<CachedFile> file;
    const int rc = load(origin, path, file);
    if (rc != 0) return rc;

    std::unique_lock lock(mutex_);
    ++misses_;
    const auto found = files_.find(key);
    if (found != files_.end()) {
        Node& n = *found->second;
        if (n.file->identity() == file->identity()) {
            // Another thread loaded the same version meanwhile: share theirs.
            n.checked = now;
            n.epoch = epoch;
            out = n.file;
            lock.unlock();
            return 0;  // ours is released (unmapped, closed) outside the lock
        }
        unindex(found->second);
    }
    if (file->data_ != nullptr && !make_room(static_cast<std::size_t>(file->size()), lock)) {
        // The budget is taken by mappings in use: serve this one through windows.
        unmap(file->data_, static_cast<std::size_t>(file->size()));
        file->data_ = nullptr;
    } else if (file->size() == 0) {
        ::close(file->fd_);  // nothing to send from it
        file->fd_ = -1;
    }
    while (file_nodes_ >= config_.max_entries) {
        auto victim = std::find_if(lru_.rbegin(), lru_.rend(), [](const Node& n) {
            return n.file != nullptr && !n.referenced();
        });
        if (victim == lru_.rend()) break;  // all in use: go over for a while
        drop(std::prev(victim.base()));
    }
    lru_.push_front(Node{});
    Node& n = lru_.front();
    n.key = std::move(key);
    n.file = file;
    n.mapped = file->data_ != nullptr ? static_cast<std::size_t>(file->size()) : 0;
    n.used = now;
    n.checked = now;
    n.epoch = epoch;
    mapped_ += n.mapped;
    ++file_nodes_;
    files_.emplace(n.key, lru_.begin());
    if (file->windowed()) window_owner_.emplace(file.get(), lru_.begin());
    out = std::move(file);
    return 0;
}

int MmapCache::load(const FileOrigin& origin, std::string_view path,
                    std::shared_ptr<CachedFile>& out) {
    OpenedFile f;
    const int rc = origin.open(path, f);
    if (rc != 0) return rc;
    if (f.kind != FileKind::regular) {
        ::close(f.fd);
        return f.kind == FileKind::directory ? -EISDIR : -ENODEV;
    }
    const auto size = f.identity.size;
    const char* data = nullptr;
    if (size > 0 && size <= config_.window_threshold) {
        data = map_read_only(f.fd, static_cast<std::size_t>(size), 0, true);
    }
    try {
        out.reset(new CachedFile(f, data, f.fd));
    } catch (...) {
        unmap(data, static_cast<std::size_t>(size));
        ::close(f.fd);
        throw;
    }
    return 0;
}

WindowRef MmapCache::window(const FileRef& file, std::uint64_t offset, bool sequential) {
    if (!file || !file->windowed() || offset >= file->size()) return nullptr;
    const std::uint64_t index = offset / window_size_;
    const std::pair<const CachedFile*, std::uint64_t> key{file.get(), index};
    const Clock::time_point now = Clock::now();
    {
        std::lock_guard lock(mutex_);
        const auto found = windows_.find(key);
        if (found != windows_.end()) {
            ++hits_;
            found->second->used = now;
            lru_.splice(lru_.begin(), lru_, found->second);
            return found->second->window;
        }
    }
    const std::uint64_t start = index * window_size_;
    const auto length =
        static_cast<std::size_t>(std::min<std::uint64_t>(window_size_, file->size() - start));
    const char* data = map_read_only(file->fd(), length, start, false);
    if (data == nullptr) return nullptr;
    advise(data, length, static_cast<std::size_t>(offset - start), length, sequential);
    std::shared_ptr<Window> w;
    try {
        w.reset(new Window(file, data, start, length));
    } catch (...) {
        unmap(data, length);
        throw;
    }

    std::unique_lock lock(mutex_);
    ++misses_;
    const auto found = windows_.find(key);
    if (found != windows_.end()) {
        WindowRef theirs = found->second->window;
        lock.unlock();
        return theirs;  // ours is unmapped outside the lock
    }
    if (!make_room(length, lock)) return nullptr;
    const auto owner = window_owner_.find(file.get());
    if (owner == window_owner_.end()) return w;  // its entry is gone: serve it uncached
    lru_.push_front(Node{});
    Node& n = lru_.front();
    n.window = w;
    n.window_key = key;
    n.mapped = length;
    n.used = now;
    mapped_ += length;
    windows_.emplace(key, lru_.begin());
    ++owner->second->windows;
    return w;
}

WindowRef MmapCache::map_piece(const FileRef& file, std::uint64_t offset, std::size_t length) {
    if (!file || file->fd() < 0 || length == 0) return nullptr;
    const std::uint64_t start = offset / page_size() * page_size();
    const auto span = static_cast<std::size_t>(offset + length - start);
    const char* data = map_read_only(file->fd(), span, start, false);
    if (data == nullptr) return nullptr;
    advise(data, span, static_cast<std::size_t>(offset - start), length, false);
    try {
        return WindowRef(new Window(file, data, start, span));
    } catch (...) {
        unmap(data, span);
        throw;
    }
}

bool MmapCache::make_room(std::size_t bytes, std::unique_lock<std::mutex>& lock) {
    (void)lock;  // held by the caller
    if (bytes > config_.max_mapped_bytes) return false;
    while (mapped_ + bytes > config_.max_mapped_bytes) {
        auto victim = std::find_if(lru_.rbegin(), lru_.rend(),
                                   [](const Node& n) { return n.mapped > 0 && !n.referenced(); });
        if (victim == lru_.rend()) return false;
        drop(std::prev(victim.base()));
    }
    return true;
}

void MmapCache::unindex(NodeList::iterator it) {
    Node& n = *it;
    if (n.indexed) {
        files_.erase(n.key);
        n.indexed = false;
    }
    if (!n.referenced()) drop(it);
    // Otherwise it stays in the list, still counted, until its last response lets go.
}

void MmapCache::drop(NodeList::iterator it) {
    Node& n = *it;
    if (n.file) {
        // Its cached windows go with it (those a response still sends from live on, uncounted
        // here, until it lets go).
        const CachedFile* f = n.file.get();
        for (auto w = windows_.lower_bound({f, 0}); w != windows_.end() && w->first.first == f;) {
            const auto next = std::next(w);
            Node& wn = *w->second;
            mapped_ -= wn.mapped;
            ++evictions_;
            lru_.erase(w->second);
            windows_.erase(w);
            w = next;
        }
        window_owner_.erase(f);
        if (n.indexed) files_.erase(n.key);
        --file_nodes_;
    } else {
        windows_.erase(n.window_key);
        const auto owner = window_owner_.find(n.window_key.first);
        if (owner != window_owner_.end()) --owner->second->windows;
    }
    mapped_ -= n.mapped;
    ++evictions_;
    lru_.erase(it);  // unmaps (and closes) unless a response still holds it
}

void MmapCache::expire() {
    const Clock::time_point now = Clock::now();
    std::lock_guard lock(mutex_);
    // Windows first (they are released here, under the lock: this runs once a second), so a
    // file whose windows all went is free to go in the second pass.
    for (const bool files : {false, true}) {
        for (auto it = lru_.begin(); it != lru_.end();) {
            const auto next = std::next(it);
            const bool idle = !it->indexed || now - it->used >= config_.idle;
            // A file still holding windows (recently used ones) stays; dropping it would drop
            // them, elsewhere in this list.
            if ((it->file != nullptr) == files && idle && !it->referenced() && it->windows == 0) {
                drop(it);
            }
            it = next;
        }
    }
}

FileCacheStats MmapCache::stats() const {
    std::lock_guard lock(mutex_);
    FileCacheStats s;
    s.hits = hits_;
    s.misses = misses_;
    s.evictions = evictions_;
    s.mapped_bytes = mapped_;
    s.open_entries = file_nodes_;
    return s;
}

}  // namespace vstream::files
