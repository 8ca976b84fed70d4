// A blocking loopback client that speaks raw bytes, with a deadline on every wait.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace vstream::test {

/// One parsed HTTP/1.1 response.
struct Response {
    int status = 0;
    std::string reason;
    std::multimap<std::string, std::string> headers;  // names lower-cased
    std::string body;
    /// The first header of that (lower-case) name, or "".
    std::string header(const std::string& name) const;
    bool has_header(const std::string& name) const { return headers.count(name) > 0; }
};

/// A TCP connection to 127.0.0.1:port, or to address:port (numeric IPv4 or IPv6). Every read
/// waits at most `timeout`.
class RawClient {
public:
    explicit RawClient(std::uint16_t port,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
    RawClient(const std::string& address, std::uint16_t port,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~RawClient();
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    /// Sends every byte (blocking). Returns false if the peer is gone.
    bool send(std::string_view bytes);
    /// Reads one response (Content-Length or close-delimited body; no body for HEAD when
    /// `head` is set, nor for 1xx/204/304). nullopt on timeout, close or garbage.
    std::optional<Response> read_response(bool head = false);
    /// Reads until the peer closes (or timeout); returns all bytes received.
    std::string read_until_close();
    /// True if the peer closed the connection (EOF or reset) within the timeout, reading and
    /// discarding any bytes that come first.
    bool wait_closed();
    /// Half-closes our side (FIN).
    void shutdown_write();
    /// Sets the receive buffer small before connecting is not possible here; this shrinks it
    /// now (used by the slow-reader tests).
    void set_receive_buffer(int bytes);
    int fd() const { return fd_; }
    /// The client's own port (the server sees it as the peer's).
    std::uint16_t local_port() const;
    /// Bytes received but not yet consumed by read_response.
    const std::string& buffered() const { return buf_; }

private:
    bool fill();  // reads more into buf_; false on close/timeout

    int fd_ = -1;
    std::chrono::milliseconds timeout_;
    std::string buf_;
    bool closed_ = false;
};

/// Bounds a blocking send() on the client's socket (SO_SNDTIMEO), so a server that stopped
/// reading cannot hang a test.
void bound_sends(RawClient& c, std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Sends `request` on a fresh connection and reads one response.
std::optional<Response> roundtrip(std::uint16_t port, std::string_view request);
/// The same, to address:port.
std::optional<Response> roundtrip(std::uint16_t port, std::string_view request,
                                  const std::string& address);

}  // namespace vstream::test
