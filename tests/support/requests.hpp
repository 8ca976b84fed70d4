// The text of simple requests that tests send over a RawClient.
#pragma once

#include <string>

namespace vstream::test {

/// "GET path HTTP/1.1" with Host: t and no body: one request, ready to send or to pipeline.
inline std::string get_request(const std::string& path) {
    return "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

}  // namespace vstream::test
