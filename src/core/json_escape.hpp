#pragma once

#include <string>
#include <string_view>

namespace vstream::core {

/// Appends `text` to `out` as a JSON string literal, quotes included (RFC 8259 §7): '"', '\'
/// and control characters are escaped, and bytes that are not valid UTF-8 become U+FFFD, so
/// the result is valid JSON whatever a client sent (user agents, paths).
void append_json_string(std::string& out, std::string_view text);

}  // namespace vstream::core
