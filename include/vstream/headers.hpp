// Read-only, case-insensitive view over a message's header fields.
// Implemented by src/core/headers.cpp.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace vstream {

/// One header field as received: name and value, without surrounding whitespace.
struct HeaderField {
    std::string_view name;
    std::string_view value;
};

/// ASCII case-insensitive equality (field names are case-insensitive, RFC 9110 §5.1).
bool iequals(std::string_view a, std::string_view b) noexcept;

/// `s` without leading and trailing whitespace (OWS: SP and HTAB, RFC 9110 §5.6.3), as a
/// list element or a field value is read. Never allocates.
std::string_view trim_ows(std::string_view s) noexcept;

/// Whether the comma-separated `list` (a field value such as "keep-alive, Upgrade") holds
/// `token`, compared case-insensitively after trimming whitespace (RFC 9110 §5.6.1).
bool list_has_token(std::string_view list, std::string_view token) noexcept;

/// The request's header fields in the order received. Views stay valid for the request's
/// lifetime (see Context). Lookups are linear, which beats hashing for the handful of fields
/// a request carries.
class HeaderMap {
public:
    HeaderMap() = default;
    explicit HeaderMap(const std::vector<HeaderField>* fields) noexcept : fields_(fields) {}

    /// The first field named `name` (case-insensitive), if any.
    std::optional<std::string_view> get(std::string_view name) const noexcept;
    /// How many fields are named `name`.
    std::size_t count(std::string_view name) const noexcept;
    /// True when a field named `name` is present.
    bool contains(std::string_view name) const noexcept { return count(name) > 0; }
    /// Whether the comma-separated list in any `name` field holds `token` (case-insensitive),
    /// e.g. has_token("Connection", "close").
    bool has_token(std::string_view name, std::string_view token) const noexcept;

    std::size_t size() const noexcept { return fields_ ? fields_->size() : 0; }
    bool empty() const noexcept { return size() == 0; }
    const HeaderField* begin() const noexcept { return fields_ ? fields_->data() : nullptr; }
    const HeaderField* end() const noexcept { return begin() + size(); }

private:
    const std::vector<HeaderField>* fields_ = nullptr;
};

}  // namespace vstream
