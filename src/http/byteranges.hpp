#pragma once

#include "http/range.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vstream::http {

/// One part of a multipart/byteranges body: its delimiter and headers, then `range` of the file.
struct BytePart {
    /// Sent before the part's bytes: "--B\r\n" for the first part and "\r\n--B\r\n" for the
    /// others, then the part's header fields and the empty line.
    std::string head;
    /// The bytes of the file sent after `head`.
    ByteRange range;
};

/// The whole multipart/byteranges body (RFC 9110 §14.6), planned before any byte is sent, so
/// Content-Length is known.
struct ByteRangesPlan {
    /// The response's Content-Type: "multipart/byteranges; boundary=<b>".
    std::string content_type;
    /// For each part in order: its head, then the file bytes of its range.
    std::vector<BytePart> parts;
    /// Sent after the last part's bytes: "\r\n--<b>--\r\n".
    std::string tail;
    /// The response's Content-Length: the sum of the heads, the range lengths and the tail.
    std::uint64_t content_length = 0;
};

/// Plans the multipart/byteranges body of a 206 with several ranges (RFC 9110 §14.6, §15.3.7.2).
/// `ranges` are the parts to send, in order (as RangeSet::view() gives them): each must be
/// non-empty and lie within [0, total), and their lengths must add up to no more than `total`.
/// `total` is the file length, written in every Content-Range. `part_type` is the file's
/// Content-Type, repeated in each part; when empty, parts carry no Content-Type. `boundary` is
/// 1 to 70 characters of RFC 2046 §5.1.1 bchars that are also token characters (RFC 9110
/// §5.6.2), so the parameter needs no quoting: random_boundary() gives one.
/// Throws std::bad_alloc only.
ByteRangesPlan plan_byteranges(std::span<const ByteRange> ranges, std::uint64_t total,
                               std::string_view part_type, std::string_view boundary);

/// Length of the boundaries random_boundary() makes.
inline constexpr std::size_t kBoundaryLength = 32;

/// A fresh random boundary: kBoundaryLength letters and digits (bchars of RFC 2046 §5.1.1 that
/// are also token characters), from crypto::random_bytes (OpenSSL's CSPRNG, or the kernel's).
/// Any thread. Throws std::bad_alloc, or std::system_error when no random source works.
std::string random_boundary();

}  // namespace vstream::http
