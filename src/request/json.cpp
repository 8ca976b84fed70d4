#include <vstream/context.hpp>
#include <vstream/json.hpp>

#include "core/json_escape.hpp"
#include "request/exchange.hpp"

#include <simdjson.h>

#include <cstring>

namespace vstream {

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

static_assert(sizeof(element) <= 16, "JsonValue's storage must hold a simdjson element");
static_assert(alignof(element) <= 8);

}  // namespace

JsonValue JsonValue::from_storage(const void* e) noexcept {
    JsonValue v;
    std::memcpy(v.storage_, e, sizeof(element));
    v.valid_ = true;
    return v;
}

namespace {

const element& el(const unsigned char* storage) noexcept {
    return *reinterpret_cast<const element*>(storage);
}

JsonValue wrap(const element& e) noexcept { return JsonValue::from_storage(&e); }

}  // namespace

JsonValue::Type JsonValue::type() const noexcept {
    if (!valid_) return Type::invalid;
    switch (el(storage_).type()) {
        case element_type::NULL_VALUE: return Type::null;
        case element_type::BOOL: return Type::boolean;
        case element_type::INT64:
        case element_type::UINT64:
        case element_type::DOUBLE: return Type::number;
        case element_type::STRING: return Type::string;
        case element_type::ARRAY: return Type::array;
        case element_type::OBJECT: return Type::object;
    }
    return Type::invalid;
}

std::optional<std::string_view> JsonValue::as_string() const noexcept {
    std::string_view s;
    if (!valid_ || el(storage_).get_string().get(s) != simdjson::SUCCESS) return std::nullopt;
    return s;
}

std::optional<std::int64_t> JsonValue::as_int() const noexcept {
    std::int64_t i = 0;
    if (!valid_ || el(storage_).get_int64().get(i) != simdjson::SUCCESS) return std::nullopt;
    return i;
}

std::optional<double> JsonValue::as_double() const noexcept {
    double d = 0;
    if (!valid_ || el(storage_).get_double().get(d) != simdjson::SUCCESS) return std::nullopt;
    return d;
}

std::optional<bool> JsonValue::as_bool() const noexcept {
    bool b = false;
    if (!valid_ || el(storage_).get_bool().get(b) != simdjson::SUCCESS) return std::nullopt;
    return b;
}

JsonValue JsonValue::operator[](std::string_view key) const noexcept {
    simdjson::dom::object o;
    if (!valid_ || el(storage_).get_object().get(o) != simdjson::SUCCESS) return {};
    element e;
    if (o.at_key(key).get(e) != simdjson::SUCCESS) return {};
    return wrap(e);
}

JsonValue JsonValue::operator[](std::size_t index) const noexcept {
    simdjson::dom::array a;
    if (!valid_ || el(storage_).get_array().get(a) != simdjson::SUCCESS) return {};
    element e;
    if (a.at(index).get(e) != simdjson::SUCCESS) return {};
    return wrap(e);
}

std::size_t JsonValue::size() const noexcept {
    if (!valid_) return 0;
    simdjson::dom::array a;
    if (el(storage_).get_array().get(a) == simdjson::SUCCESS) return a.size();
    simdjson::dom::object o;
    if (el(storage_).get_object().get(o) == simdjson::SUCCESS) return o.size();
    return 0;
}

std::string_view JsonValue::key_at(std::size_t index) const noexcept {
    simdjson::dom::object o;
    if (!valid_ || el(storage_).get_object().get(o) != simdjson::SUCCESS) return {};
    std::size_t i = 0;
    for (const auto field : o) {
        if (i++ == index) return field.key;
    }
    return {};
}

JsonValue JsonValue::value_at(std::size_t index) const noexcept {
    simdjson::dom::object o;
    if (!valid_ || el(storage_).get_object().get(o) != simdjson::SUCCESS) return {};
    std::size_t i = 0;
    for (const auto field : o) {
        if (i++ == index) return wrap(field.value);
    }
    return {};
}

namespace request {

struct JsonDocument {
    simdjson::dom::parser parser;
};

void JsonDocumentDeleter::operator()(JsonDocument* d) const noexcept {
    std::default_delete<JsonDocument>()(d);
}

}  // namespace request

std::optional<JsonValue> Context::json_body() {
    request::Exchange& x = request::Exchange::of(*this);
    if (!x.json)
        x.json.reset(new request::JsonDocument());  // kept for the connection's next requests
    element root;
    // parse() copies into padded memory when the body has no simdjson padding after it.
    const auto err = x.json->parser.parse(x.request.body.data(), x.request.body.size()).get(root);
    if (err != simdjson::SUCCESS) {
        std::string body = "{\"error\":";
        core::append_json_string(body,
                                 std::string("invalid JSON body: ") + simdjson::error_message(err));
        body.push_back('}');
        x.engine_error = true;
        json(400, std::move(body));
        return std::nullopt;
    }
    return wrap(root);
}

}  // namespace vstream
