// Streamed request bodies (vs_ctx_read_body) and uploads to disk (vs_ctx_receive_upload), with
// their options and results.
#include "internal.hpp"

#include <chrono>
#include <limits>

using vstream::capi::fail;
using vstream::capi::guard;
using vstream::capi::live;
using vstream::capi::own_userdata;

namespace {

// The handle that read_body's and receive_upload's callbacks see: made now, retained by the
// reader until its last callback has run (the engine holds the request as long).
struct ReaderHandle {
    explicit ReaderHandle(vstream::Context& c) : handle(vs_ctx::make(c)) {}
    ReaderHandle(const ReaderHandle&) = delete;
    ReaderHandle& operator=(const ReaderHandle&) = delete;
    ~ReaderHandle() { handle->drop(); }
    vs_ctx_t* handle;
};

}  // namespace

extern "C" {

int vs_ctx_read_body(vs_ctx_t* ctx, vs_body_data_cb on_data, vs_body_end_cb on_end,
                     vs_body_error_cb on_error, void* userdata, vs_free_cb userdata_free,
                     std::uint64_t max_bytes, std::uint64_t timeout_ms) {
    return guard([&] {
        auto ud = own_userdata(userdata, userdata_free);
        if (on_data == nullptr || on_end == nullptr || on_error == nullptr) {
            return fail(VS_EINVAL, "on_data, on_end and on_error are required");
        }
        if (timeout_ms > (std::uint64_t{1} << 40)) return fail(VS_EINVAL, "timeout too large");
        return vstream::capi::with_live(ctx, [&](vs_ctx& h) {
            auto reader = std::make_shared<ReaderHandle>(*h.ctx);
            vstream::BodyReader r;
            r.on_data = [on_data, ud, reader](std::string_view bytes) {
                return on_data(reader->handle, bytes.data(), bytes.size(), ud->get()) == 0;
            };
            r.on_end = [on_end, ud, reader] { on_end(reader->handle, ud->get()); };
            r.on_error = [on_error, ud, reader](int status, std::string_view reason) {
                const std::string text(reason);
                on_error(reader->handle, status, text.c_str(), ud->get());
            };
            r.max_bytes = max_bytes;
            r.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_ms));
            h.ctx->read_body(std::move(r));
            return VS_OK;
        });
    });
}

int vs_ctx_resume_body(vs_ctx_t* ctx) {
    return vstream::capi::with_live(ctx, [](vs_ctx& h) {
        h.ctx->resume_body();
        return VS_OK;
    });
}

int vs_ctx_receive_upload(vs_ctx_t* ctx, const vs_upload_options_t* options, vs_upload_done_cb done,
                          void* userdata, vs_free_cb userdata_free) {
    return guard([&] {
        auto ud = own_userdata(userdata, userdata_free);
        const vs_upload_options_t* o = live(options);
        if (o == nullptr) return fail(VS_EINVAL, "not a live vs_upload_options_t");
        if (o->options.dir.empty()) return fail(VS_EINVAL, "the upload options name no directory");
        return vstream::capi::with_live(ctx, [&](vs_ctx& h) {
            std::function<void(vstream::Context&, vstream::UploadResult&)> fn;
            if (done != nullptr) {
                fn = [done, ud](vstream::Context& c, vstream::UploadResult& result) {
                    vs_upload_result_t r(result);
                    with_ctx(c, [&](vs_ctx_t* handle) { done(handle, &r, ud->get()); });
                };
            } else if (userdata_free != nullptr) {
                // Nothing calls back with it, but per-request userdata stays with the request
                // until it is over (the header's callback rule): the default answer, holding it.
                fn = [ud](vstream::Context& c, vstream::UploadResult& result) {
                    c.json(201, result.to_json());
                };
            }
            h.ctx->receive_upload(o->options, std::move(fn));
            return VS_OK;
        });
    });
}

// ---- upload options ----

int vs_upload_options_new(vs_upload_options_t** out) { return vstream::capi::new_handle(out); }

void vs_upload_options_free(vs_upload_options_t* opts) { delete live(opts); }

}  // extern "C"

namespace {
template <class F>
int with_upload_options(vs_upload_options_t* opts, F&& fn) noexcept {
    return vstream::capi::with_live(opts, [&](vs_upload_options_t& h) { return fn(h.options); });
}
}  // namespace

extern "C" {

int vs_upload_options_set_dir(vs_upload_options_t* opts, const char* dir) {
    return with_upload_options(opts, [&](vstream::UploadOptions& o) {
        if (dir == nullptr || *dir == '\0') return fail(VS_EINVAL, "dir is empty");
        o.dir = dir;
        return VS_OK;
    });
}

int vs_upload_options_set_name(vs_upload_options_t* opts, const char* name) {
    return with_upload_options(opts, [&](vstream::UploadOptions& o) {
        if (name == nullptr) return fail(VS_EINVAL, "name is NULL");
        o.name = name;
        return VS_OK;
    });
}

int vs_upload_options_set_overwrite(vs_upload_options_t* opts, int on) {
    return with_upload_options(opts, [&](vstream::UploadOptions& o) {
        o.overwrite = on != 0;
        return VS_OK;
    });
}

int vs_upload_options_set_max_bytes(vs_upload_options_t* opts, std::uint64_t bytes) {
    return with_upload_options(opts, [&](vstream::UploadOptions& o) {
        o.max_bytes = bytes;
        return VS_OK;
    });
}

int vs_upload_options_set_max_memory(vs_upload_options_t* opts, std::uint64_t bytes) {
    return with_upload_options(opts, [&](vstream::UploadOptions& o) {
        if (bytes > std::numeric_limits<std::size_t>::max()) return fail(VS_EINVAL, "too large");
        o.max_memory = static_cast<std::size_t>(bytes);
        return VS_OK;
    });
}

int vs_upload_options_set_max_parts(vs_upload_options_t* opts, std::uint64_t parts) {
    return with_upload_options(opts, [&](vstream::UploadOptions& o) {
        if (parts == 0 || parts > std::numeric_limits<std::size_t>::max()) {
            return fail(VS_EINVAL, "parts must be at least 1");
        }
        o.max_parts = static_cast<std::size_t>(parts);
        return VS_OK;
    });
}

int vs_upload_options_set_max_part_header_bytes(vs_upload_options_t* opts, std::uint64_t bytes) {
    return with_upload_options(opts, [&](vstream::UploadOptions& o) {
        if (bytes < 64 || bytes > (std::uint64_t{1} << 30)) {
            return fail(VS_EINVAL, "part header bytes must be from 64 to 1 GiB");
        }
        o.max_part_header_bytes = static_cast<std::size_t>(bytes);
        return VS_OK;
    });
}

int vs_upload_options_set_timeout(vs_upload_options_t* opts, std::uint64_t ms) {
    return with_upload_options(opts, [&](vstream::UploadOptions& o) {
        if (ms > (std::uint64_t{1} << 40)) return fail(VS_EINVAL, "timeout too large");
        o.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
        return VS_OK;
    });
}

int vs_upload_options_set_sync(vs_upload_options_t* opts, int on) {
    return with_upload_options(opts, [&](vstream::UploadOptions& o) {
        o.sync = on != 0;
        return VS_OK;
    });
}

// ---- upload results ----

size_t vs_upload_result_file_count(const vs_upload_result_t* result) {
    const vs_upload_result_t* r = live(result);
    return r != nullptr ? r->result->files.size() : 0;
}

const char* vs_upload_result_file(const vs_upload_result_t* result, size_t index, int what) {
    const vs_upload_result_t* r = live(result);
    if (r == nullptr || index >= r->result->files.size()) return nullptr;
    const vstream::UploadedFile& f = r->result->files[index];
    switch (what) {
        case VS_UPLOAD_FIELD: return f.field.c_str();
        case VS_UPLOAD_FILENAME: return f.filename.c_str();
        case VS_UPLOAD_NAME: return f.name.c_str();
        case VS_UPLOAD_PATH: return f.path.c_str();
        case VS_UPLOAD_CONTENT_TYPE: return f.content_type.c_str();
        case VS_UPLOAD_SHA256: return f.sha256.c_str();
        default: return nullptr;
    }
}

uint64_t vs_upload_result_file_size(const vs_upload_result_t* result, size_t index) {
    const vs_upload_result_t* r = live(result);
    if (r == nullptr || index >= r->result->files.size()) return 0;
    return r->result->files[index].size;
}

size_t vs_upload_result_field_count(const vs_upload_result_t* result) {
    const vs_upload_result_t* r = live(result);
    return r != nullptr ? r->result->fields.size() : 0;
}

int vs_upload_result_field(const vs_upload_result_t* result, size_t index, const char** name,
                           const char** value) {
    const vs_upload_result_t* r = live(result);
    if (r == nullptr) return fail(VS_EINVAL, "not a live vs_upload_result_t");
    if (index >= r->result->fields.size()) return fail(VS_ENOENT, "no field at that index");
    if (name != nullptr) *name = r->result->fields[index].first.c_str();
    if (value != nullptr) *value = r->result->fields[index].second.c_str();
    return VS_OK;
}

const char* vs_upload_result_json(const vs_upload_result_t* result) {
    const vs_upload_result_t* r = live(result);
    if (r == nullptr) return nullptr;
    try {
        if (r->json.empty()) r->json = r->result->to_json();
        return r->json.c_str();
    } catch (...) {
        fail(VS_ENOMEM, "out of memory");
        return nullptr;
    }
}

}  // extern "C"
