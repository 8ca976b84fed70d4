#include "handlers/file_body.hpp"

#include "net/write_queue.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

namespace vstream::handlers {

namespace {

// The most the bounded-memory path (no room for a window) maps or reads at once.
constexpr std::uint64_t kPieceChunk = 64 * 1024;

}  // namespace

// Maps pieces of the file when the write queue needs them in memory.
class FileBody::PieceMapper final : public net::FileMapper {
public:
    PieceMapper(files::MmapCache& cache, files::FileRef file) noexcept
        : cache_(cache), file_(std::move(file)) {}
    Body map(std::uint64_t offset, std::size_t length) noexcept override {
        try {
            files::WindowRef piece = cache_.map_piece(file_, offset, length);
            if (!piece) return {};
            const char* data = piece->data() + (offset - piece->offset());
            return Body::borrow({data, length}, std::shared_ptr<const void>(std::move(piece)));
        } catch (...) {
            return {};
        }
    }

private:
    files::MmapCache& cache_;
    files::FileRef file_;  // keeps the descriptor open for sendfile
};

FileBody::FileBody(files::MmapCache& cache, files::FileRef file, std::vector<Piece> pieces,
                   Pacing pacing, bool sequential)
    : cache_(cache),
      file_(std::move(file)),
      pieces_(std::move(pieces)),
      pacing_(pacing),
      sequential_(sequential) {
    for (const Piece& p : pieces_) length_ += p.text.size() + p.length;
}

std::uint64_t FileBody::allowance(std::uint64_t now) const noexcept {
    if (pacing_.rate == 0) return UINT64_MAX;
    // nginx's rule: burst plus rate times the time since the response began.
    const std::uint64_t elapsed = now - started_;
    const std::uint64_t allowed = pacing_.burst + pacing_.rate * elapsed / 1000;
    return allowed > sent_ ? allowed - sent_ : 0;
}

request::Pull FileBody::pull(net::WriteQueue& out, std::uint64_t now) noexcept {
    if (!started_set_) {
        started_ = now;
        started_set_ = true;
    }
    try {
        std::uint64_t budget = allowance(now);
        bool appended = false;
        while (piece_ < pieces_.size()) {
            Piece& p = pieces_[piece_];
            if (!text_sent_) {
                // Heads are a few dozen bytes: never worth pacing on their own.
                sent_ += p.text.size();
                budget -= std::min(budget, static_cast<std::uint64_t>(p.text.size()));
                out.append(Body(std::move(p.text)));
                text_sent_ = true;
                appended = true;
            }
            if (piece_done_ == p.length) {
                ++piece_;
                text_sent_ = false;
                piece_done_ = 0;
                continue;
            }
            if (budget == 0) break;
            std::uint64_t n = std::min(budget, p.length - piece_done_);
            if (!append_file_bytes(out, p.first + piece_done_, n)) {
                return {request::Pull::Kind::fail};
            }
            piece_done_ += n;
            sent_ += n;
            // One file segment per pull: the connection pulls again while it is below its
            // low-water mark, so windows are mapped only as fast as the client reads.
            return {request::Pull::Kind::more};
        }
        if (piece_ == pieces_.size()) return {request::Pull::Kind::done};
        if (appended) return {request::Pull::Kind::more};
        // Paced out: come back when a useful amount is allowed again (a tenth of a second's
        // worth, or what is left).
        const std::uint64_t left = length_ - sent_;
        const std::uint64_t want = std::min(left, std::max<std::uint64_t>(pacing_.rate / 10, 1));
        const std::uint64_t allowed_now = sent_ + allowance(now);
        const std::uint64_t need = sent_ + want - std::min(allowed_now, sent_ + want);
        const std::uint64_t wait_ms = (need * 1000 + pacing_.rate - 1) / pacing_.rate;
        return {request::Pull::Kind::wait, now + std::max<std::uint64_t>(wait_ms, 1)};
    } catch (...) {
        return {request::Pull::Kind::fail};  // out of memory: cut this response short
    }
}

bool FileBody::append_file_bytes(net::WriteQueue& out, std::uint64_t pos, std::uint64_t& n) {
    const files::CachedFile& f = *file_;
    if (pos + n > f.size()) return false;  // never past the size the entry was made with
    if (f.data() != nullptr) {
        const std::shared_ptr<const void> keeper = file_;
        out.append_file(Body::borrow({f.data() + pos, static_cast<std::size_t>(n)}, keeper), f.fd(),
                        pos);
        return true;
    }
    if (!sequential_ && n >= net::WriteQueue::kSendFileMin && out.sends_files()) {
        // A range (a seek): sendfile sends it straight from the file, so no window is mapped
        // (and unmapped) for it; the mapper maps a piece only if the socket fills up.
        n = std::min<std::uint64_t>(n, cache_.window_size());
        if (!mapper_) mapper_ = std::make_shared<PieceMapper>(cache_, file_);
        out.append_file_unmapped(mapper_, f.fd(), pos, static_cast<std::size_t>(n));
        return true;
    }
    if (files::WindowRef w = cache_.window(file_, pos, sequential_)) {
        const std::uint64_t in_window = pos - w->offset();
        n = std::min<std::uint64_t>(n, w->length() - in_window);
        const char* data = w->data() + in_window;
        // The window's keeper holds the file, and so its descriptor, too.
        out.append_file(Body::borrow({data, static_cast<std::size_t>(n)},
                                     std::shared_ptr<const void>(std::move(w))),
                        f.fd(), pos);
        return true;
    }
    // Every mapping the budget allows is in use: map just this piece, uncached (as much memory
    // as a read buffer, without the copy); read it only if even that fails.
    n = std::min(n, kPieceChunk);
    struct stat st {};
    if (::fstat(f.fd(), &st) != 0 || static_cast<std::uint64_t>(st.st_size) < pos + n) {
        cache_.recheck_all();  // the file shrank: cut the response, drop the entry
        return false;
    }
    if (files::WindowRef piece = cache_.map_piece(file_, pos, static_cast<std::size_t>(n))) {
        const char* data = piece->data() + (pos - piece->offset());
        out.append_file(Body::borrow({data, static_cast<std::size_t>(n)},
                                     std::shared_ptr<const void>(std::move(piece))),
                        f.fd(), pos);
        return true;
    }
    std::string buf(static_cast<std::size_t>(n), '\0');
    std::size_t got = 0;
    while (got < buf.size()) {
        const ssize_t r =
            ::pread(f.fd(), buf.data() + got, buf.size() - got, static_cast<off_t>(pos + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            // An error, or the file shrank: the response is cut short, and the cache checks
            // its files again before serving them (as after a fault on a mapping).
            cache_.recheck_all();
            return false;
        }
        got += static_cast<std::size_t>(r);
    }
    copied_ += n;
    out.append(Body(std::move(buf)));
    return true;
}

}  // namespace vstream::handlers
