#pragma once

#include <string_view>

namespace vstream::http {

/// The reason phrase for `status` ("Not Found"), or "Unknown" for an unregistered code.
std::string_view reason_phrase(int status) noexcept;

/// Whether a response with this status may carry content (RFC 9110 §6.4.1: not 1xx, 204, 304).
constexpr bool status_allows_body(int status) noexcept {
    return status >= 200 && status != 204 && status != 304;
}

}  // namespace vstream::http
