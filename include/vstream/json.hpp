// A read-only view of a parsed JSON document (request bodies). Implemented by
// src/request/json.cpp over simdjson's DOM.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace vstream {

/// One value of a parsed JSON document. Cheap to copy (16 bytes); valid as long as the
/// Context it came from (see Context::json_body). Lookups never throw: a missing member,
/// an index out of range or a wrong type gives an invalid value or nullopt.
class JsonValue {
public:
    enum class Type { invalid, null, boolean, number, string, array, object };

    /// An invalid value (what a failed lookup returns).
    JsonValue() noexcept = default;

    Type type() const noexcept;
    /// False for the invalid value.
    explicit operator bool() const noexcept { return type() != Type::invalid; }
    bool is_null() const noexcept { return type() == Type::null; }

    std::optional<std::string_view> as_string() const noexcept;
    /// Integers that fit in 64 bits (signed or unsigned within int64 range).
    std::optional<std::int64_t> as_int() const noexcept;
    /// Any number.
    std::optional<double> as_double() const noexcept;
    std::optional<bool> as_bool() const noexcept;

    /// The member `key` of an object (the first, if repeated); invalid if absent.
    JsonValue operator[](std::string_view key) const noexcept;
    /// The element `index` of an array; invalid if out of range.
    JsonValue operator[](std::size_t index) const noexcept;
    /// Elements of an array or members of an object; 0 otherwise.
    std::size_t size() const noexcept;
    /// The key of member `index` of an object ("" otherwise).
    std::string_view key_at(std::size_t index) const noexcept;
    /// The value of member `index` of an object (invalid otherwise).
    JsonValue value_at(std::size_t index) const noexcept;

    /// Internal: wraps an engine-private element.
    static JsonValue from_storage(const void* element) noexcept;

private:
    alignas(8) unsigned char storage_[16] = {};
    bool valid_ = false;
};

}  // namespace vstream
