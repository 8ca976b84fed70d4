#pragma once

#include <string>
#include <string_view>

namespace vstream::http {

/// The reason phrase for `status` ("Not Found"), or "Unknown" for an unregistered code.
std::string_view reason_phrase(int status) noexcept;

/// The plain-text body of an error answer the engine makes itself, from the table above:
/// "404 Not Found\n", or with a detail "400 Bad Request: invalid file path\n". Every canned
/// error (router, static files, body limits, the parser's refusals) is worded here, once.
std::string error_text(int status, std::string_view detail = {});

/// Whether a response with this status may carry content (RFC 9110 §6.4.1: not 1xx, 204, 304).
constexpr bool status_allows_body(int status) noexcept {
    return status >= 200 && status != 204 && status != 304;
}

}  // namespace vstream::http
