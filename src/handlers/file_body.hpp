#pragma once

#include "files/mmap_cache.hpp"
#include "request/response_body.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vstream::handlers {

/// Pacing of one response (nginx's limit_rate / limit_rate_after): after `burst` bytes at full
/// speed, at most `rate` bytes per second on average since the response began.
struct Pacing {
    std::uint64_t rate = 0;  // bytes/s; 0 = unpaced
    std::uint64_t burst = 0;
};

/// A response body made of pieces: literal text (multipart heads) or byte ranges of a cached
/// file. File bytes are sent from the file's mapping or from its windows, by reference
/// (never copied in user space); when every mapping the cache allows is in use, 64 KiB pieces
/// are mapped on their own, uncached. Produced as the connection drains, so a 50 GiB file
/// holds one or two windows at a time.
class FileBody final : public request::ResponseBody {
public:
    struct Piece {
        std::string text;         // sent first, if any
        std::uint64_t first = 0;  // then `length` file bytes from `first`
        std::uint64_t length = 0;
    };

    /// `sequential`: the pieces stream through the file (readahead pays), as opposed to a
    /// random range.
    FileBody(files::MmapCache& cache, files::FileRef file, std::vector<Piece> pieces, Pacing pacing,
             bool sequential);

    std::uint64_t length() const noexcept override { return length_; }
    request::Pull pull(net::WriteQueue& out, std::uint64_t now) noexcept override;

    /// Bytes read into buffers because not even a piece could be mapped (for tests).
    std::uint64_t copied() const noexcept { return copied_; }

private:
    class PieceMapper;
    std::uint64_t allowance(std::uint64_t now) const noexcept;
    bool append_file_bytes(net::WriteQueue& out, std::uint64_t pos, std::uint64_t& n);

    files::MmapCache& cache_;
    files::FileRef file_;
    std::vector<Piece> pieces_;
    Pacing pacing_;
    bool sequential_;
    std::uint64_t length_ = 0;
    std::size_t piece_ = 0;         // current piece
    bool text_sent_ = false;        // of the current piece
    std::uint64_t piece_done_ = 0;  // file bytes of the current piece sent
    std::uint64_t sent_ = 0;
    std::uint64_t started_ = 0;  // loop time of the first pull
    bool started_set_ = false;
    std::uint64_t copied_ = 0;
    std::shared_ptr<PieceMapper> mapper_;  // for ranges sent unmapped (made on first use)
};

}  // namespace vstream::handlers
