#include "http/byteranges.hpp"

#include "core/decimal.hpp"
#include "crypto/random.hpp"

#include <array>
#include <system_error>

namespace vstream::http {

ByteRangesPlan plan_byteranges(std::span<const ByteRange> ranges, std::uint64_t total,
                               std::string_view part_type, std::string_view boundary) {
    ByteRangesPlan plan;
    plan.content_type.reserve(31 + boundary.size());
    plan.content_type.append("multipart/byteranges; boundary=").append(boundary);

    plan.parts.reserve(ranges.size());
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        const ByteRange& r = ranges[i];
        BytePart part{.head = {}, .range = r};
        std::string& h = part.head;
        // The fixed text (109 bytes at most, three 20-digit numbers included) fits in 128.
        h.reserve(128 + boundary.size() + part_type.size());
        // RFC 2046 §5.1.1: the CRLF before "--boundary" belongs to the delimiter, not to the
        // previous part's data, so every part but the first starts with it.
        if (i > 0) h.append("\r\n");
        h.append("--").append(boundary).append("\r\n");
        if (!part_type.empty()) h.append("Content-Type: ").append(part_type).append("\r\n");
        // RFC 9110 §14.6: each part carries its own Content-Range, "bytes first-last/complete"
        // (§14.4), last being inclusive.
        h.append("Content-Range: bytes ");
        core::append_decimal(h, r.first);
        h.push_back('-');
        core::append_decimal(h, r.first + r.length - 1);
        h.push_back('/');
        core::append_decimal(h, total);
        h.append("\r\n\r\n");
        plan.content_length += h.size() + r.length;
        plan.parts.push_back(std::move(part));
    }

    // RFC 2046 §5.1.1: close-delimiter, "--boundary--", on a line of its own.
    plan.tail.reserve(2 + 2 + boundary.size() + 4);
    plan.tail.append("\r\n--").append(boundary).append("--\r\n");
    plan.content_length += plan.tail.size();
    return plan;
}

std::string random_boundary() {
    // RFC 2046 §5.1.1 forbids the boundary to occur in any part. The file bytes are not
    // searched for it (they are sent later, maybe from a huge file): with 32 characters of 62
    // (about 190 bits) a collision by chance is negligible, and drawing them from a CSPRNG
    // keeps a client who can upload a file from planting a boundary it could predict.
    static constexpr std::string_view kChars =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    // Bytes of 248 and above are dropped so that each character is equally likely
    // (248 = 4 * 62); a batch of 64 bytes almost never (p < 2^-100) keeps fewer than 32.
    constexpr unsigned kLimit = 4 * kChars.size();
    std::string out;
    out.reserve(kBoundaryLength);
    std::array<std::uint8_t, 2 * kBoundaryLength> bytes;
    while (out.size() < kBoundaryLength) {
        if (const int rc = crypto::random_bytes(bytes); rc != 0) {
            throw std::system_error(-rc, std::generic_category(), "no random source");
        }
        for (const unsigned char b : bytes) {
            if (b >= kLimit) continue;
            out.push_back(kChars[b % kChars.size()]);
            if (out.size() == kBoundaryLength) break;
        }
    }
    return out;
}

}  // namespace vstream::http
