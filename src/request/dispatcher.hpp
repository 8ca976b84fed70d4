#pragma once

namespace vstream::request {

class Exchange;

/// What a protocol (http1/, later http2/) hands its requests to: the one upward dependency of
/// a connection. Implemented by the router. Thread: the connection's loop thread; the
/// implementation only reads its own state, so one serves every loop at once.
class Dispatcher {
public:
    /// A request's head has arrived and a body follows: returns true to run its handler now,
    /// reading the body as it arrives (a streaming route), false to buffer the body and
    /// dispatch the complete request. May remember what it resolved in `x` for dispatch().
    virtual bool streams_body(Exchange& x) const = 0;
    /// Runs the handler chain for `x`: a complete request, or the head of a streamed one.
    /// Exceptions from handler code propagate; the protocol answers 500 for them.
    virtual void dispatch(Exchange& x) const = 0;

protected:
    ~Dispatcher() = default;
};

}  // namespace vstream::request
