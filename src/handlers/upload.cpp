// Context::receive_upload and UploadResult::to_json: uploads to disk through read_body().
#include <vstream/context.hpp>
#include <vstream/error.hpp>
#include <vstream/headers.hpp>
#include <vstream/upload.hpp>

#include "core/decimal.hpp"
#include "core/json_escape.hpp"
#include "handlers/upload_receiver.hpp"
#include "http/content_digest.hpp"
#include "http/multipart.hpp"
#include "request/exchange.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <utility>

namespace vstream {

namespace {

// The engine's own refusal of an upload (see request::Exchange::engine_error).
void json_error(Context& ctx, int status, std::string_view reason) {
    request::Exchange::of(ctx).engine_error = true;
    std::string body = "{\"error\":";
    core::append_json_string(body, reason);
    body.append("}");
    ctx.json(status, std::move(body));
}

bool is_multipart_form(std::string_view content_type) {
    const std::size_t semi = content_type.find(';');
    const std::string_view type = trim_ows(content_type.substr(0, semi));
    return iequals(type, "multipart/form-data");
}

// The sha-256 the client asks us to check (RFC 9530): Content-Digest covers the bytes sent,
// Repr-Digest the representation, which for an upload without content coding is the same.
// Returns false (and answers 400) when a field is malformed.
bool expected_digest(Context& ctx, std::optional<crypto::Sha256Digest>& out) {
    for (const std::string_view name : {"content-digest", "repr-digest"}) {
        const auto value = ctx.header(name);
        if (!value) continue;
        const http::DigestField f = http::parse_digest_field(*value);
        if (f.kind == http::DigestField::Kind::malformed) {
            json_error(ctx, 400, std::string("malformed ") + std::string(name) + " header");
            return false;
        }
        if (f.kind != http::DigestField::Kind::sha256) continue;
        if (out && *out != f.sha256) {
            json_error(ctx, 400, "Content-Digest and Repr-Digest disagree");
            return false;
        }
        out = f.sha256;
    }
    return true;
}

}  // namespace

std::string UploadResult::to_json() const {
    std::string out = "{\"files\":[";
    for (std::size_t i = 0; i < files.size(); ++i) {
        const UploadedFile& f = files[i];
        if (i > 0) out.push_back(',');
        out.append("{\"field\":");
        core::append_json_string(out, f.field);
        out.append(",\"filename\":");
        core::append_json_string(out, f.filename);
        out.append(",\"name\":");
        core::append_json_string(out, f.name);
        out.append(",\"size\":");
        core::append_decimal(out, f.size);
        out.append(",\"sha256\":");
        core::append_json_string(out, f.sha256);
        out.append(",\"content_type\":");
        core::append_json_string(out, f.content_type);
        out.push_back('}');
    }
    out.append("],\"fields\":{");
    bool first = true;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        // A repeated field keeps its last value: JSON names should be unique (RFC 8259 §4).
        const bool repeated =
            std::any_of(fields.begin() + static_cast<std::ptrdiff_t>(i) + 1, fields.end(),
                        [&](const auto& later) { return later.first == fields[i].first; });
        if (repeated) continue;
        if (!first) out.push_back(',');
        first = false;
        core::append_json_string(out, fields[i].first);
        out.push_back(':');
        core::append_json_string(out, fields[i].second);
    }
    out.append("}}");
    return out;
}

void Context::receive_upload(UploadOptions options,
                             std::function<void(Context&, UploadResult&)> done) {
    const std::string_view content_type = header("content-type").value_or("");
    std::optional<std::string> boundary;
    if (is_multipart_form(content_type)) {
        boundary = http::multipart_boundary(content_type);
        if (!boundary) {
            json_error(*this, 400, "multipart/form-data without a valid boundary");
            return;
        }
    }
    std::optional<crypto::Sha256Digest> expected;
    if (!expected_digest(*this, expected)) return;

    const std::uint64_t max_bytes = options.max_bytes;
    // The engine would refuse it too (413 in plain text); an upload client gets its JSON.
    const std::uint64_t limit =
        max_bytes != 0 ? max_bytes
                       : request::Exchange::of(*this).env().limits.max_stream_body_bytes;
    if (const auto length = header("content-length")) {
        std::uint64_t n = 0;
        const auto r = std::from_chars(length->data(), length->data() + length->size(), n);
        if (r.ec == std::errc() && limit != 0 && n > limit) {
            json_error(*this, 413, "the upload is larger than the limit");
            return;
        }
    }
    const std::chrono::milliseconds timeout = options.timeout;
    std::shared_ptr<handlers::UploadReceiver> rx;
    try {
        rx = std::make_shared<handlers::UploadReceiver>(std::move(options), std::move(boundary),
                                                        std::string(content_type), expected);
    } catch (const Error& e) {
        // A configuration problem, not the client's: logged, and a 500 that reveals no path.
        std::fprintf(stderr, "vstream: receive_upload: %s\n", e.what());
        json_error(*this, 500, "the upload directory is not available");
        return;
    }
    if (rx->status() != 0) {
        json_error(*this, rx->status(), rx->reason());
        return;
    }

    BodyReader reader;
    reader.max_bytes = max_bytes;
    reader.timeout = timeout;
    reader.on_data = [this, rx](std::string_view bytes) {
        if (rx->feed(bytes) == 0) return true;
        // Nothing of it is kept; the rest of the body is not read (the connection closes).
        json_error(*this, rx->status(), rx->reason());
        return false;
    };
    reader.on_end = [this, rx, done = std::move(done)] {
        if (rx->finish() != 0) {
            json_error(*this, rx->status(), rx->reason());
            return;
        }
        if (!done) {
            json(201, rx->result().to_json());
            rx->keep();
            return;
        }
        try {
            done(*this, rx->result());
        } catch (...) {
            rx->abort();  // the handler failed: the client gets a 500, so keep nothing
            throw;
        }
        rx->keep();
    };
    reader.on_error = [rx](int, std::string_view) { rx->abort(); };
    read_body(std::move(reader));
}

}  // namespace vstream
