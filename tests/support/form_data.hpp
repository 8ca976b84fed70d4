// multipart/form-data request bodies (RFC 7578) for the upload tests.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vstream::test {

/// One part of a multipart/form-data body.
struct FormPart {
    std::string name;
    std::optional<std::string> filename;  // a file part when set (maybe "")
    std::string content_type;             // no Content-Type field when ""
    std::string data;
};

/// `s` as an RFC 9110 quoted-string.
inline std::string as_quoted_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

/// A multipart/form-data body with `parts` between `boundary` delimiters, closed unless
/// `close` is false.
inline std::string form_data(const std::vector<FormPart>& parts, std::string_view boundary,
                             bool close = true) {
    std::string body;
    for (const FormPart& p : parts) {
        body.append("--").append(boundary).append("\r\n");
        body.append("Content-Disposition: form-data; name=").append(as_quoted_string(p.name));
        if (p.filename) body.append("; filename=").append(as_quoted_string(*p.filename));
        body.append("\r\n");
        if (!p.content_type.empty()) {
            body.append("Content-Type: ").append(p.content_type).append("\r\n");
        }
        body.append("\r\n").append(p.data).append("\r\n");
    }
    if (close) body.append("--").append(boundary).append("--\r\n");
    return body;
}

}  // namespace vstream::test
