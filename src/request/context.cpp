#include <vstream/config.hpp>
#include <vstream/context.hpp>
#include <vstream/error.hpp>

#include "http/token.hpp"
#include "request/exchange.hpp"
#include "request/streamed_body.hpp"

#include <cerrno>
#include <cstring>
#include <utility>

namespace vstream {

namespace {

using http::is_token;
using request::Exchange;

void check_field(std::string_view name, std::string_view value) {
    if (!is_token(name)) {
        throw Error(errc::invalid_argument, "invalid header name '" + std::string(name) + "'");
    }
    for (const char c : value) {
        // RFC 9110 §5.5: CR, LF and NUL are never allowed in a field value.
        if (c == '\r' || c == '\n' || c == '\0') {
            throw Error(errc::invalid_argument,
                        "header '" + std::string(name) + "' value holds CR, LF or NUL");
        }
    }
}

// Returns true when the engine owns this field and the handler's value is not stored.
bool engine_field(Exchange& x, std::string_view name, std::string_view value) noexcept {
    if (iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
        iequals(name, "date")) {
        return true;
    }
    if (iequals(name, "server")) x.server_set = true;  // replaces the configured one
    if (iequals(name, "connection")) {
        if (list_has_token(value, "close")) x.close_requested = true;
        return true;
    }
    return false;
}

}  // namespace

std::string_view Context::method() const noexcept { return Exchange::of(*this).request.method; }
std::string_view Context::target() const noexcept { return Exchange::of(*this).request.target; }
std::string_view Context::path() const noexcept { return Exchange::of(*this).request.path; }
std::string_view Context::query_string() const noexcept {
    return Exchange::of(*this).request.query;
}
int Context::http_minor() const noexcept { return Exchange::of(*this).request.http_minor; }
HeaderMap Context::headers() const noexcept { return Exchange::of(*this).request.headers(); }
std::optional<std::string_view> Context::header(std::string_view name) const noexcept {
    return headers().get(name);
}
std::string_view Context::body() const noexcept { return Exchange::of(*this).request.body; }
std::string_view Context::peer_address() const noexcept {
    return Exchange::of(*this).peer_address();
}
std::uint16_t Context::peer_port() const noexcept { return Exchange::of(*this).peer_port(); }

std::string_view Context::route() const noexcept { return Exchange::of(*this).match.pattern; }
std::string_view Context::route_path() const noexcept {
    const Exchange& x = Exchange::of(*this);
    return x.match.path.empty() ? x.request.path : x.match.path;
}

std::string_view Context::param(std::string_view name) const noexcept {
    for (const Param& p : params()) {
        if (p.name == name) return p.value;
    }
    return {};
}

std::span<const Param> Context::params() const noexcept {
    const Exchange& x = Exchange::of(*this);
    return {x.match.params.data(), x.match.param_count};
}

namespace {

const http::QueryPairs& query_pairs(const Context& c) {
    // Parsed lazily: most requests never look at their query.
    auto& x = const_cast<Exchange&>(Exchange::of(c));
    if (!x.query_parsed) {
        http::parse_query(x.request.query, x.query_pairs);
        x.query_parsed = true;
    }
    return x.query_pairs;
}

}  // namespace

std::optional<std::string_view> Context::query(std::string_view key) const {
    for (const auto& [k, v] : query_pairs(*this)) {
        if (k == key) return std::string_view(v);
    }
    return std::nullopt;
}

std::vector<std::string_view> Context::query_all(std::string_view key) const {
    std::vector<std::string_view> out;
    for (const auto& [k, v] : query_pairs(*this)) {
        if (k == key) out.emplace_back(v);
    }
    return out;
}

std::string_view Context::request_id() const noexcept { return Exchange::of(*this).request_id; }
std::string_view Context::traceparent() const noexcept { return Exchange::of(*this).traceparent; }
std::string_view Context::trace_id() const noexcept {
    const std::string_view tp = traceparent();
    return tp.size() >= 35 ? tp.substr(3, 32) : std::string_view{};  // "00-" trace-id "-"
}
void Context::set_trace(std::string request_id, std::string traceparent) {
    Exchange& x = Exchange::of(*this);
    x.request_id = std::move(request_id);
    x.traceparent = std::move(traceparent);
}

std::size_t Context::response_size() const noexcept { return Exchange::of(*this).response_size; }

void Context::on_finish(std::function<void(Context&)> fn) {
    if (fn) Exchange::of(*this).finish_hooks.push_back(std::move(fn));
}

Context& Context::status(int code) noexcept {
    Exchange::of(*this).status = code;
    return *this;
}

int Context::response_status() const noexcept { return Exchange::of(*this).status; }

Context& Context::set_header(std::string_view name, std::string_view value) {
    check_field(name, value);
    Exchange& x = Exchange::of(*this);
    if (!engine_field(x, name, value)) x.set_header_line(name, value, true);
    return *this;
}

Context& Context::add_header(std::string_view name, std::string_view value) {
    check_field(name, value);
    Exchange& x = Exchange::of(*this);
    if (!engine_field(x, name, value)) x.set_header_line(name, value, false);
    return *this;
}

void Context::send(Body body) {
    Exchange& x = Exchange::of(*this);
    if (x.answered) return;
    x.body = std::move(body);
    x.answer();
}

void Context::send(int code, Body body) {
    if (responded()) return;  // the answer is fixed: change nothing of it
    status(code);
    send(std::move(body));
}

void Context::json(int code, Body json) {
    if (responded()) return;
    set_header("Content-Type", "application/json");
    send(code, std::move(json));
}

void Context::text(int code, Body text) {
    if (responded()) return;
    set_header("Content-Type", "text/plain; charset=utf-8");
    send(code, std::move(text));
}

StreamWriter Context::stream(int code) {
    Exchange& x = Exchange::of(*this);
    if (x.answered) return {};
    auto state = std::make_shared<request::StreamState>(x, x.request.http_minor >= 1,
                                                        x.env().limits.write_high_water);
    if (x.cancelled()) {
        state->close_unsent();  // the client is gone: a closed writer, nothing to send
        return StreamWriter(std::move(state));
    }
    x.status = code;
    x.body.reset();
    x.response_body = std::make_unique<request::StreamedBody>(state);
    x.answer();
    return StreamWriter(std::move(state));
}

bool Context::responded() const noexcept { return Exchange::of(*this).answered; }

ContextRef Context::defer() {
    Exchange::of(*this).deferred = true;
    return ContextRef(this);
}

ContextRef::ContextRef(Context* ctx) noexcept : ctx_(ctx) {
    Exchange& x = Exchange::of(*ctx_);
    x.add_ref();
    x.holder_added();
}

ContextRef::ContextRef(const ContextRef& other) noexcept : ctx_(other.ctx_) {
    if (ctx_ != nullptr) {
        Exchange& x = Exchange::of(*ctx_);
        x.add_ref();
        x.holder_added();
    }
}

ContextRef::ContextRef(ContextRef&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

ContextRef& ContextRef::operator=(ContextRef other) noexcept {
    std::swap(ctx_, other.ctx_);
    return *this;
}

ContextRef::~ContextRef() { reset(); }

void ContextRef::reset() noexcept {
    if (ctx_ == nullptr) return;
    Exchange& x = Exchange::of(*std::exchange(ctx_, nullptr));
    x.holder_dropped();
    x.release();
}

bool Context::cancelled() const noexcept { return Exchange::of(*this).cancelled(); }

void Context::on_cancel(std::function<void()> fn) { Exchange::of(*this).on_cancel(std::move(fn)); }

bool Context::on_loop_thread() const noexcept { return Exchange::of(*this).on_loop_thread(); }

bool ContextRef::cancelled() const noexcept {
    return ctx_ != nullptr && Exchange::of(*ctx_).cancelled();
}

void ContextRef::on_cancel(std::function<void()> fn) {
    if (ctx_ != nullptr) Exchange::of(*ctx_).on_cancel(std::move(fn));
}

}  // namespace vstream
