#pragma once

#include <vstream/headers.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vstream::http {

/// A parsed request. The parser appends the target and header bytes to one arena so a head
/// costs no allocation once the arena has grown to fit; views are built when the head is
/// complete, since appending may move the arena.
struct Request {
    struct Span {
        std::uint32_t offset = 0;
        std::uint32_t length = 0;
    };
    struct FieldSpan {
        Span name;
        Span value;
    };

    static constexpr std::size_t kKeepCapacity = 64 * 1024;

    std::string arena;  // target bytes, then each header name and value
    Span target_span;
    std::vector<FieldSpan> field_spans;

    // Views into `arena`, valid once the head is complete.
    std::string_view method;  // static storage (llhttp's method table)
    std::string_view target;
    std::string_view path;
    std::string_view query;
    std::vector<HeaderField> fields;

    std::string body;
    int http_major = 1;
    int http_minor = 1;
    bool keep_alive = true;        // decided by llhttp at message end
    bool expect_continue = false;  // "Expect: 100-continue"
    bool is_head = false;

    /// Clears for the next request, keeping capacity.
    void reset() noexcept {
        // Keep capacity for the next request, but not a large body's or head's.
        if (body.capacity() > kKeepCapacity) std::string().swap(body);
        if (arena.capacity() > kKeepCapacity) std::string().swap(arena);
        arena.clear();
        target_span = {};
        field_spans.clear();
        method = target = path = query = {};
        fields.clear();
        body.clear();
        http_major = http_minor = 1;
        keep_alive = true;
        expect_continue = false;
        is_head = false;
    }
    HeaderMap headers() const noexcept { return HeaderMap(&fields); }
};

}  // namespace vstream::http
