// A blocking loopback client that speaks raw bytes, inside TLS when the suite runs over TLS,
// with a deadline on every wait.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
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

/// How a RawClient connects, beyond where to.
struct ClientOptions {
    /// How long every read (and over TLS the handshake) waits at most. Default 10 s.
    std::chrono::milliseconds timeout = std::chrono::seconds(10);
    /// SO_RCVBUF in bytes, set before connecting (0: the system's), so the window the client
    /// advertises never outgrows it; see RawClient::set_receive_buffer. Default 0.
    int receive_buffer = 0;
};

/// A TCP connection to 127.0.0.1:port, or to address:port (numeric IPv4 or IPv6). Every read
/// waits at most `timeout`.
///
/// Over TLS (over_tls(), the suite's switch) the constructor also runs a TLS handshake, as a
/// client that trusts test_certs().ca and checks that the server's certificate is for
/// "localhost" (also sent as SNI), and every byte goes through that session: send() sends
/// exactly the bytes given, as application data in records of at most 16 KiB, so a test still
/// chooses every byte and where its sends end; reads see the decrypted bytes. What differs:
/// - a handshake that fails (the server closed, or sent what is not TLS) throws nothing:
///   the client is then closed (send() false, reads see the end) and handshake_error() says
///   why. Only a failed connect throws, as over plain TCP;
/// - fd() is the TCP socket under the session, made non-blocking: socket options (SO_LINGER,
///   SO_RCVBUF, SO_SNDBUF, SO_SNDTIMEO through bound_sends) and kernel state (SIOCOUTQ) apply
///   to it as before, but its bytes are records: read them with receive() and readable(),
///   never with recv() or poll() on fd();
/// - shutdown_write() sends close_notify, then the FIN: the server reads the end of the
///   stream either way;
/// - the destructor closes the socket without close_notify, as a plain close sends a FIN and
///   nothing more; with SO_LINGER 0 set on fd() it still resets the connection.
/// Thread: one thread may send while another reads (the session is locked around each
/// OpenSSL call, never across a wait); reads themselves belong to one thread.
class RawClient {
public:
    explicit RawClient(std::uint16_t port,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
    RawClient(const std::string& address, std::uint16_t port,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));
    /// To 127.0.0.1:port, as `options` say.
    RawClient(std::uint16_t port, const ClientOptions& options);
    ~RawClient();
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    /// Sends every byte (blocking, or bounded by bound_sends). Returns false if the peer is
    /// gone.
    bool send(std::string_view bytes);
    /// Reads one response (Content-Length or close-delimited body; no body for HEAD when
    /// `head` is set, nor for 1xx/204/304). nullopt on timeout, close or garbage.
    std::optional<Response> read_response(bool head = false);
    /// Reads until the peer closes (or timeout); returns all bytes received.
    std::string read_until_close();
    /// True if the peer closed the connection (EOF or reset) within the timeout, reading and
    /// discarding any bytes that come first.
    bool wait_closed();
    /// Appends to `into` what was received and not yet consumed (buffered()) or, when nothing
    /// is, waits up to `timeout` for bytes and appends what has come, at most `max` bytes.
    /// False if nothing came: the peer closed, or the time ran out. For tests that read a
    /// response piece by piece, at their own pace.
    bool receive(std::string& into, std::chrono::milliseconds timeout, std::size_t max = 65536);
    /// Whether bytes, or the close, can be read within `timeout` (0: now), as poll(POLLIN)
    /// tells of a plain socket. Over TLS, records that carry no bytes (session tickets) do not
    /// count; the bytes read to find out are kept for the next read.
    bool readable(std::chrono::milliseconds timeout);
    /// Whether a read has seen the end of the connection (EOF or reset; over TLS also a
    /// close_notify, or a handshake that failed).
    bool closed() const { return closed_; }
    /// Half-closes our side (FIN; over TLS close_notify first).
    void shutdown_write();
    /// Shrinks the receive buffer now (the slow-reader tests). The window already advertised
    /// stays (TCP never takes it back), so the server may still send past the new size. A
    /// client that also sends while it reads nothing should set ClientOptions::receive_buffer
    /// instead: once what arrives passes its buffer, its kernel drops the server's segments,
    /// and with them the window updates its own sends wait for (seen on Linux 6.18 over TLS:
    /// both directions stalled).
    void set_receive_buffer(int bytes);
    int fd() const { return fd_; }
    /// The client's own port (the server sees it as the peer's).
    std::uint16_t local_port() const;
    /// Bytes received but not yet consumed by read_response.
    const std::string& buffered() const { return buf_; }
    /// Over TLS, why the handshake failed ("" if it did not, and always over plain TCP).
    const std::string& handshake_error() const { return handshake_error_; }

private:
    struct Tls;

    void open(const std::string& address, std::uint16_t port, int receive_buffer);
    bool fill();  // reads more into buf_; false on close/timeout
    // Reads into `into` (at most `max` bytes), waiting until `deadline` for the first ones.
    bool read_some(std::string& into, std::size_t max,
                   std::chrono::steady_clock::time_point deadline);
    void start_tls();

    int fd_ = -1;
    std::chrono::milliseconds timeout_;
    std::string buf_;
    bool closed_ = false;
    std::unique_ptr<Tls> tls_;  // over TLS only
    std::string handshake_error_;
};

/// Bounds a blocking send() on the client's socket (SO_SNDTIMEO), so a server that stopped
/// reading cannot hang a test. Over TLS, RawClient::send reads it and bounds each wait with it.
void bound_sends(RawClient& c, std::chrono::milliseconds timeout = std::chrono::seconds(10));

/// Sends `request` on a fresh connection and reads one response.
std::optional<Response> roundtrip(std::uint16_t port, std::string_view request);
/// The same, to address:port.
std::optional<Response> roundtrip(std::uint16_t port, std::string_view request,
                                  const std::string& address);

}  // namespace vstream::test
