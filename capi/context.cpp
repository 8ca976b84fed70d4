// vs_ctx_t: the request, the response, asynchronous answers, middleware continuations, and the
// options of file responses.
#include "internal.hpp"

#include <limits>

using vstream::capi::fail;
using vstream::capi::guard;
using vstream::capi::live;
using vstream::capi::own_userdata;

// ---- the handle ----

void vs_ctx::retain() {
    if (!hold) hold = ctx->defer();  // the first retain; later ones come through a live hold
    retains.fetch_add(1, std::memory_order_relaxed);
    refs.fetch_add(1, std::memory_order_relaxed);
}

bool vs_ctx::release() noexcept {
    int held = retains.load(std::memory_order_relaxed);
    do {
        if (held == 0) return false;
    } while (!retains.compare_exchange_weak(held, held - 1, std::memory_order_relaxed));
    drop();
    return true;
}

void vs_ctx::drop() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    // The last reference: the hold on the request goes with the handle (an unanswered,
    // retained request is then answered 500 by the engine).
    delete this;
}

const char* vs_ctx::keep(std::string_view text, std::size_t* len) {
    if (len != nullptr) *len = text.size();
    return texts.emplace_front(text).c_str();
}

namespace {

// Returns a NUL-terminated copy of what `get(context)` views, or NULL for a bad handle.
template <class F>
const char* text_of(vs_ctx_t* ctx, std::size_t* len, F&& get) noexcept {
    if (len != nullptr) *len = 0;
    vs_ctx_t* h = live(ctx);
    if (h == nullptr) return nullptr;
    try {
        return h->keep(get(*h->ctx), len);
    } catch (...) {
        fail(VS_ENOMEM, "out of memory");
        return nullptr;
    }
}

// NULL with *len 0: what every accessor gives when it has nothing (here, a NULL name).
const char* no_text(std::size_t* len) noexcept {
    if (len != nullptr) *len = 0;
    return nullptr;
}

// Same, NULL (not "") when the value is absent.
template <class F>
const char* optional_text_of(vs_ctx_t* ctx, std::size_t* len, F&& get) noexcept {
    if (len != nullptr) *len = 0;
    vs_ctx_t* h = live(ctx);
    if (h == nullptr) return nullptr;
    try {
        const std::optional<std::string_view> v = get(*h->ctx);
        return v ? h->keep(*v, len) : nullptr;
    } catch (...) {
        fail(VS_ENOMEM, "out of memory");
        return nullptr;
    }
}

// Throws invalid_argument (which guard() turns into VS_EINVAL) for a status out of range or a
// missing body.
void check_answer(int status, const void* body, const char* what) {
    if (status < 100 || status > 999) {
        throw vstream::Error(vstream::errc::invalid_argument, "status must be from 100 to 999");
    }
    if (body == nullptr)
        throw vstream::Error(vstream::errc::invalid_argument, std::string(what) + " is NULL");
}

// Runs `answer(context)` unless the request was answered already.
template <class F>
int answer(vs_ctx_t* ctx, F&& fn) noexcept {
    return vstream::capi::with_live(ctx, [&](vs_ctx& h) {
        if (h.ctx->responded()) return fail(VS_EANSWERED, "the request was answered already");
        fn(*h.ctx);
        return VS_OK;
    });
}

int header(vs_ctx_t* ctx, const char* name, const char* value, bool replace) noexcept {
    return vstream::capi::with_live(ctx, [&](vs_ctx& h) {
        if (name == nullptr) return fail(VS_EINVAL, "name is NULL");
        if (int rc = vstream::capi::check_header_value(value); rc != VS_OK) return rc;
        if (replace) {
            h.ctx->set_header(name, value);  // throws invalid_argument for a bad name
        } else {
            h.ctx->add_header(name, value);
        }
        return VS_OK;
    });
}

}  // namespace

extern "C" {

// ---- the request ----

const char* vs_ctx_method(vs_ctx_t* ctx, size_t* len) {
    return text_of(ctx, len, [](vstream::Context& c) { return c.method(); });
}
const char* vs_ctx_target(vs_ctx_t* ctx, size_t* len) {
    return text_of(ctx, len, [](vstream::Context& c) { return c.target(); });
}
const char* vs_ctx_path(vs_ctx_t* ctx, size_t* len) {
    return text_of(ctx, len, [](vstream::Context& c) { return c.path(); });
}
const char* vs_ctx_query_string(vs_ctx_t* ctx, size_t* len) {
    return text_of(ctx, len, [](vstream::Context& c) { return c.query_string(); });
}
int vs_ctx_http_minor(vs_ctx_t* ctx) {
    return vstream::capi::with_live(ctx, [](vs_ctx& h) { return h.ctx->http_minor(); });
}
const char* vs_ctx_header(vs_ctx_t* ctx, const char* name, size_t* len) {
    if (name == nullptr) return no_text(len);
    return optional_text_of(ctx, len, [&](vstream::Context& c) { return c.header(name); });
}
size_t vs_ctx_header_count(vs_ctx_t* ctx) {
    vs_ctx_t* h = live(ctx);
    return h != nullptr ? h->ctx->headers().size() : 0;
}
int vs_ctx_header_at(vs_ctx_t* ctx, size_t index, const char** name, const char** value) {
    return vstream::capi::with_live(ctx, [&](vs_ctx& h) {
        const vstream::HeaderMap headers = h.ctx->headers();
        if (index >= headers.size()) return fail(VS_ENOENT, "no header field at that index");
        const vstream::HeaderField& f = headers.begin()[index];
        if (name != nullptr) *name = h.keep(f.name, nullptr);
        if (value != nullptr) *value = h.keep(f.value, nullptr);
        return VS_OK;
    });
}
const void* vs_ctx_body(vs_ctx_t* ctx, size_t* len) {
    if (len != nullptr) *len = 0;
    vs_ctx_t* h = live(ctx);
    if (h == nullptr) return nullptr;
    const std::string_view body = h->ctx->body();
    if (body.empty()) return nullptr;
    if (len != nullptr) *len = body.size();
    return body.data();
}
const char* vs_ctx_peer_address(vs_ctx_t* ctx, size_t* len) {
    return text_of(ctx, len, [](vstream::Context& c) { return c.peer_address(); });
}
int vs_ctx_peer_port(vs_ctx_t* ctx) {
    return vstream::capi::with_live(ctx,
                                    [](vs_ctx& h) { return static_cast<int>(h.ctx->peer_port()); });
}
const char* vs_ctx_route(vs_ctx_t* ctx, size_t* len) {
    return text_of(ctx, len, [](vstream::Context& c) { return c.route(); });
}
const char* vs_ctx_route_path(vs_ctx_t* ctx, size_t* len) {
    return text_of(ctx, len, [](vstream::Context& c) { return c.route_path(); });
}
const char* vs_ctx_param(vs_ctx_t* ctx, const char* name, size_t* len) {
    if (name == nullptr) return no_text(len);
    return optional_text_of(ctx, len, [&](vstream::Context& c) -> std::optional<std::string_view> {
        for (const vstream::Param& p : c.params()) {
            if (p.name == name) return p.value;
        }
        return std::nullopt;
    });
}
size_t vs_ctx_param_count(vs_ctx_t* ctx) {
    vs_ctx_t* h = live(ctx);
    return h != nullptr ? h->ctx->params().size() : 0;
}
int vs_ctx_param_at(vs_ctx_t* ctx, size_t index, const char** name, const char** value) {
    return vstream::capi::with_live(ctx, [&](vs_ctx& h) {
        const auto params = h.ctx->params();
        if (index >= params.size()) return fail(VS_ENOENT, "no route parameter at that index");
        if (name != nullptr) *name = h.keep(params[index].name, nullptr);
        if (value != nullptr) *value = h.keep(params[index].value, nullptr);
        return VS_OK;
    });
}
const char* vs_ctx_query(vs_ctx_t* ctx, const char* key, size_t index, size_t* len) {
    if (key == nullptr) return no_text(len);
    return optional_text_of(ctx, len, [&](vstream::Context& c) -> std::optional<std::string_view> {
        if (index == 0) return c.query(key);
        const std::vector<std::string_view> all = c.query_all(key);
        if (index >= all.size()) return std::nullopt;
        return all[index];
    });
}
const char* vs_ctx_request_id(vs_ctx_t* ctx, size_t* len) {
    return text_of(ctx, len, [](vstream::Context& c) { return c.request_id(); });
}
const char* vs_ctx_trace_id(vs_ctx_t* ctx, size_t* len) {
    return text_of(ctx, len, [](vstream::Context& c) { return c.trace_id(); });
}

// ---- the response ----

int vs_ctx_set_status(vs_ctx_t* ctx, int status) {
    return vstream::capi::with_live(ctx, [&](vs_ctx& h) {
        if (status < 100 || status > 999) return fail(VS_EINVAL, "status must be from 100 to 999");
        h.ctx->status(status);
        return VS_OK;
    });
}

int vs_ctx_set_header(vs_ctx_t* ctx, const char* name, const char* value) {
    return header(ctx, name, value, true);
}

int vs_ctx_add_header(vs_ctx_t* ctx, const char* name, const char* value) {
    return header(ctx, name, value, false);
}

int vs_ctx_send(vs_ctx_t* ctx, int status, const void* body, size_t len, vs_free_cb body_free) {
    return guard([&] {
        // The body is ours from here on every path, so that body_free runs exactly once.
        vstream::Body b = vstream::capi::take_body(body, len, body_free);
        if (body == nullptr && len != 0) return fail(VS_EINVAL, "body is NULL but len is not 0");
        if (status < 100 || status > 999) return fail(VS_EINVAL, "status must be from 100 to 999");
        return answer(ctx, [&](vstream::Context& c) { c.send(status, std::move(b)); });
    });
}

int vs_ctx_send_json(vs_ctx_t* ctx, int status, const char* json) {
    return answer(ctx, [&](vstream::Context& c) {
        check_answer(status, json, "json");
        c.json(status, vstream::Body::copy(json));
    });
}

int vs_ctx_send_text(vs_ctx_t* ctx, int status, const char* text) {
    return answer(ctx, [&](vstream::Context& c) {
        check_answer(status, text, "text");
        c.text(status, vstream::Body::copy(text));
    });
}

int vs_ctx_send_file(vs_ctx_t* ctx, const char* path, const vs_file_options_t* options) {
    if (path == nullptr || *path == '\0') return fail(VS_EINVAL, "path is empty");
    if (options != nullptr && live(options) == nullptr) {
        return fail(VS_EINVAL, "not a live vs_file_options_t");
    }
    return answer(ctx, [&](vstream::Context& c) {
        c.send_file(path, options != nullptr ? options->options : vstream::FileOptions{});
    });
}

int vs_ctx_send_file_range(vs_ctx_t* ctx, const char* path, std::uint64_t offset,
                           std::uint64_t length) {
    if (path == nullptr || *path == '\0') return fail(VS_EINVAL, "path is empty");
    return answer(ctx, [&](vstream::Context& c) {
        vstream::FileOptions o;
        o.offset = offset;
        if (length != std::numeric_limits<std::uint64_t>::max()) o.length = length;
        c.send_file(path, o);
    });
}

int vs_ctx_stream(vs_ctx_t* ctx, int status, vs_stream_t** out) {
    if (out == nullptr) return fail(VS_EINVAL, "out is NULL");
    *out = nullptr;
    if (status < 100 || status > 999) return fail(VS_EINVAL, "status must be from 100 to 999");
    return answer(ctx, [&](vstream::Context& c) {
        auto s = std::make_unique<vs_stream_t>();
        s->writer = c.stream(status);
        *out = s.release();
    });
}

int vs_ctx_responded(vs_ctx_t* ctx) {
    return vstream::capi::with_live(ctx, [](vs_ctx& h) { return h.ctx->responded() ? 1 : 0; });
}

int vs_ctx_response_status(vs_ctx_t* ctx) {
    return vstream::capi::with_live(ctx, [](vs_ctx& h) { return h.ctx->response_status(); });
}

uint64_t vs_ctx_response_size(vs_ctx_t* ctx) {
    vs_ctx_t* h = live(ctx);
    return h != nullptr ? h->ctx->response_size() : 0;
}

int vs_ctx_on_finish(vs_ctx_t* ctx, vs_handler_cb fn, void* userdata, vs_free_cb userdata_free) {
    return guard([&] {
        auto ud = own_userdata(userdata, userdata_free);
        if (fn == nullptr) return fail(VS_EINVAL, "fn is NULL");
        return vstream::capi::with_live(ctx, [&](vs_ctx& h) {
            // The hooks are the loop's: it runs them when the request ends, unlocked.
            if (!h.ctx->on_loop_thread()) {
                return fail(VS_EINVAL, "vs_ctx_on_finish off the loop thread");
            }
            h.ctx->on_finish(vstream::capi::make_handler(fn, std::move(ud)));
            return VS_OK;
        });
    });
}

// ---- asynchronous answers ----

int vs_ctx_retain(vs_ctx_t* ctx) {
    return vstream::capi::with_live(ctx, [](vs_ctx& h) {
        h.retain();
        return VS_OK;
    });
}

int vs_ctx_release(vs_ctx_t* ctx) {
    vs_ctx_t* h = live(ctx);
    if (h == nullptr) return fail(VS_EINVAL, "not a live vs_ctx_t");
    if (!h->release()) return fail(VS_EINVAL, "vs_ctx_release without a vs_ctx_retain");
    return VS_OK;
}

int vs_ctx_cancelled(vs_ctx_t* ctx) {
    return vstream::capi::with_live(ctx, [](vs_ctx& h) { return h.ctx->cancelled() ? 1 : 0; });
}

int vs_ctx_on_cancel(vs_ctx_t* ctx, vs_event_cb fn, void* userdata, vs_free_cb userdata_free) {
    return guard([&] {
        auto ud = own_userdata(userdata, userdata_free);
        if (fn == nullptr) return fail(VS_EINVAL, "fn is NULL");
        return vstream::capi::with_live(ctx, [&](vs_ctx& h) {
            h.ctx->on_cancel([fn, ud] { fn(ud->get()); });
            return VS_OK;
        });
    });
}

// ---- middleware ----

int vs_next_call(vs_next_t* next) {
    return guard([&] {
        vs_next_t* n = live(next);
        if (n == nullptr) return fail(VS_EINVAL, "not a live vs_next_t");
        if (n->called) return fail(VS_EINVAL, "next was called already");
        n->called = true;
        n->next();
        return VS_OK;
    });
}

// ---- file response options ----

int vs_file_options_new(vs_file_options_t** out) { return vstream::capi::new_handle(out); }

void vs_file_options_free(vs_file_options_t* opts) { delete live(opts); }

}  // extern "C"

namespace {
template <class F>
int with_file_options(vs_file_options_t* opts, F&& fn) noexcept {
    return vstream::capi::with_live(opts, [&](vs_file_options_t& h) { return fn(h.options); });
}
}  // namespace

extern "C" {

int vs_file_options_set_content_type(vs_file_options_t* opts, const char* type) {
    return with_file_options(opts, [&](vstream::FileOptions& o) {
        if (int rc = vstream::capi::check_header_value(type); rc != VS_OK) return rc;
        o.content_type = type;
        return VS_OK;
    });
}

int vs_file_options_set_part(vs_file_options_t* opts, std::uint64_t offset, std::uint64_t length) {
    return with_file_options(opts, [&](vstream::FileOptions& o) {
        o.offset = offset;
        if (length == std::numeric_limits<std::uint64_t>::max()) {
            o.length.reset();
        } else {
            o.length = length;
        }
        return VS_OK;
    });
}

int vs_file_options_set_limit_rate(vs_file_options_t* opts, std::uint64_t rate,
                                   std::uint64_t after) {
    return with_file_options(opts, [&](vstream::FileOptions& o) {
        o.limit_rate = rate;
        o.limit_rate_after = after;
        return VS_OK;
    });
}

int vs_file_options_set_cache_control(vs_file_options_t* opts, const char* value) {
    return with_file_options(opts, [&](vstream::FileOptions& o) {
        if (int rc = vstream::capi::check_header_value(value); rc != VS_OK) return rc;
        o.cache_control = value;
        return VS_OK;
    });
}

int vs_file_options_set_ranges(vs_file_options_t* opts, int on) {
    return with_file_options(opts, [&](vstream::FileOptions& o) {
        o.ranges = on != 0;
        return VS_OK;
    });
}

}  // extern "C"
