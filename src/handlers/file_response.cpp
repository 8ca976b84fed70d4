#include "handlers/file_response.hpp"

#include "handlers/file_body.hpp"
#include "http/byteranges.hpp"
#include "http/conditional.hpp"
#include "http/range.hpp"
#include "net/write_queue.hpp"
#include "request/exchange.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

namespace vstream::handlers {

namespace {

void set(request::Exchange& x, std::string_view name, std::string_view value) {
    x.set_header_line(name, value, true);
}

// The body for pieces of the file: a slice of a whole mapping when it is one short slice sent
// at full speed (it leaves with the head in one write), otherwise produced as the connection
// drains (long slices then go by sendfile, see WriteQueue::append_file).
void file_body(request::Exchange& x, const files::FileRef& file,
               std::vector<FileBody::Piece> pieces, const FileOptions& o, bool sequential) {
    if (pieces.size() == 1 && pieces[0].text.empty() && file->data() != nullptr &&
        o.limit_rate == 0 && pieces[0].length < net::WriteQueue::kSendFileMin) {
        const std::shared_ptr<const void> keeper = file;
        x.body = Body::borrow(
            {file->data() + pieces[0].first, static_cast<std::size_t>(pieces[0].length)}, keeper);
        return;
    }
    x.response_body =
        std::make_unique<FileBody>(*x.env().file_cache, file, std::move(pieces),
                                   Pacing{o.limit_rate, o.limit_rate_after}, sequential);
}

}  // namespace

void respond_with_file(request::Exchange& x, const files::FileRef& file,
                       std::string_view content_type, const FileOptions& o) {
    x.body.reset();
    x.response_body.reset();
    // The representation: the whole file, or the part the handler chose.
    const std::uint64_t size = file->size();
    const std::uint64_t offset = std::min(o.offset, size);
    const std::uint64_t length = std::min(o.length.value_or(size), size - offset);
    const bool whole = offset == 0 && length == size;

    // A part is its own representation: its tag must differ from the whole file's.
    std::string etag(file->etag());
    if (!whole) {
        etag.pop_back();
        etag.append(fmt::format("-{:x}-{:x}\"", offset, length));
    }
    set(x, "ETag", etag);
    set(x, "Last-Modified", file->last_modified());
    if (!o.cache_control.empty()) set(x, "Cache-Control", o.cache_control);
    if (o.ranges) set(x, "Accept-Ranges", "bytes");

    const bool plain_status = x.status != 200;  // a custom error page, say: send it as is
    const http::Validators validators{etag, file->mtime()};
    const std::string_view method = x.request.method;
    const HeaderMap headers = x.request.headers();
    if (!plain_status) {
        switch (http::evaluate_preconditions(headers, method, validators)) {
            case http::Precondition::not_modified:
                x.status = 304;  // RFC 9110 §15.4.5: validators, no body, no Content-Type
                return;
            case http::Precondition::failed: x.set_error(412); return;
            case http::Precondition::proceed: break;
        }
    }
    if (!content_type.empty()) set(x, "Content-Type", content_type);

    // RFC 9110 §14.2: Range is defined for GET only; HEAD answers with GET's headers.
    const bool get_like = method == "GET" || method == "HEAD";
    const auto range_header = headers.get("Range");
    if (!plain_status && o.ranges && get_like && range_header &&
        http::if_range_allows(headers.get("If-Range"), validators)) {
        const http::RangeSet set_of =
            http::parse_range(*range_header, length, http::RangeLimits{x.env().limits.max_ranges});
        switch (set_of.outcome) {
            case http::RangeOutcome::unsatisfiable:
                set(x, "Content-Range", fmt::format("bytes */{}", length));
                x.set_error(416);
                return;
            case http::RangeOutcome::partial: {
                x.status = 206;
                const auto ranges = set_of.view();
                if (ranges.size() == 1) {
                    const http::ByteRange& r = ranges[0];
                    set(x, "Content-Range",
                        fmt::format("bytes {}-{}/{}", r.first, r.first + r.length - 1, length));
                    file_body(x, file, {FileBody::Piece{{}, offset + r.first, r.length}}, o,
                              r.length > 4 * 1024 * 1024);
                    return;
                }
                http::ByteRangesPlan plan =
                    http::plan_byteranges(ranges, length, content_type, http::random_boundary());
                set(x, "Content-Type", plan.content_type);
                std::vector<FileBody::Piece> pieces;
                pieces.reserve(plan.parts.size() + 1);
                for (http::BytePart& part : plan.parts) {
                    pieces.push_back(
                        {std::move(part.head), offset + part.range.first, part.range.length});
                }
                pieces.push_back({std::move(plan.tail), 0, 0});
                x.response_body =
                    std::make_unique<FileBody>(*x.env().file_cache, file, std::move(pieces),
                                               Pacing{o.limit_rate, o.limit_rate_after}, false);
                return;
            }
            case http::RangeOutcome::ignore:
            case http::RangeOutcome::too_many: break;  // the whole representation, 200
        }
    }
    if (length == 0) return;  // an empty file: 200 with Content-Length 0
    file_body(x, file, {FileBody::Piece{{}, offset, length}}, o, true);
}

void respond_open_error(request::Exchange& x, int err) {
    x.body.reset();
    x.response_body.reset();
    switch (err) {
        case -ENOENT:
        case -ENOTDIR:
        case -EISDIR:
        case -ENODEV:
        case -EXDEV:  // would leave the root
        case -ELOOP:
        case -ENAMETOOLONG: x.set_error(404); return;
        case -EACCES:
        case -EPERM: x.set_error(403); return;
        case -EMFILE:
        case -ENFILE:
        case -ENOMEM:
            set(x, "Retry-After", "1");
            x.set_error(503, "out of file descriptors or memory");
            return;
        default: x.set_error(500); return;
    }
}

}  // namespace vstream::handlers
