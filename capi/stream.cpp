// vs_stream_t: a StreamWriter for a streamed response body.
#include "internal.hpp"

#include <string>
#include <utility>
#include <vector>

using vstream::capi::fail;
using vstream::capi::guard;
using vstream::capi::live;
using vstream::capi::own_userdata;

namespace {

template <class F>
int with_stream(const vs_stream_t* stream, F&& fn) noexcept {
    return vstream::capi::with_live(const_cast<vs_stream_t*>(stream),
                                    [&](vs_stream_t& h) { return fn(h.writer); });
}

}  // namespace

extern "C" {

int vs_stream_write(vs_stream_t* stream, const void* data, size_t len, vs_free_cb data_free) {
    return guard([&] {
        vstream::Body b = vstream::capi::take_body(data, len, data_free);  // freed on every path
        if (data == nullptr && len != 0) return fail(VS_EINVAL, "data is NULL but len is not 0");
        return with_stream(stream, [&](vstream::StreamWriter& w) {
            if (w.closed()) return fail(VS_EPIPE, "the stream is closed");
            if (b.empty()) return VS_OK;
            return w.write(std::move(b)) ? VS_OK : (w.closed() ? VS_EPIPE : VS_EAGAIN);
        });
    });
}

int vs_stream_end(vs_stream_t* stream, const char* const* names, const char* const* values,
                  size_t count) {
    return with_stream(stream, [&](vstream::StreamWriter& w) {
        if (count != 0 && (names == nullptr || values == nullptr)) {
            return fail(VS_EINVAL, "names and values are required when count is not 0");
        }
        std::vector<std::pair<std::string, std::string>> trailers;
        trailers.reserve(count);
        for (size_t i = 0; i < count; ++i) {
            if (names[i] == nullptr || values[i] == nullptr) {
                return fail(VS_EINVAL, "a trailer name or value is NULL");
            }
            trailers.emplace_back(names[i], values[i]);
        }
        w.end(std::move(trailers));  // throws invalid_argument for a bad field, not ending
        return VS_OK;
    });
}

int vs_stream_on_drain(vs_stream_t* stream, vs_event_cb fn, void* userdata,
                       vs_free_cb userdata_free) {
    return guard([&] {
        auto ud = own_userdata(userdata, userdata_free);
        if (fn == nullptr) return fail(VS_EINVAL, "fn is NULL");
        return with_stream(stream, [&](vstream::StreamWriter& w) {
            w.on_drain([fn, ud] { fn(ud->get()); });
            return VS_OK;
        });
    });
}

int vs_stream_on_close(vs_stream_t* stream, vs_event_cb fn, void* userdata,
                       vs_free_cb userdata_free) {
    return guard([&] {
        auto ud = own_userdata(userdata, userdata_free);
        if (fn == nullptr) return fail(VS_EINVAL, "fn is NULL");
        return with_stream(stream, [&](vstream::StreamWriter& w) {
            w.on_close([fn, ud] { fn(ud->get()); });
            return VS_OK;
        });
    });
}

int vs_stream_closed(const vs_stream_t* stream) {
    return with_stream(stream, [](vstream::StreamWriter& w) { return w.closed() ? 1 : 0; });
}

uint64_t vs_stream_queued(const vs_stream_t* stream) {
    const vs_stream_t* s = live(stream);
    return s != nullptr ? s->writer.queued() : 0;
}

void vs_stream_free(vs_stream_t* stream) {
    vs_stream_t* s = live(stream);
    if (s == nullptr) return;
    try {
        s->writer.end();  // a body left open would hang its client until a timeout
    } catch (...) {
    }
    delete s;
}

}  // extern "C"
