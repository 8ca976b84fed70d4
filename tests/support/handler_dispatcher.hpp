// A request::Dispatcher made of a plain Handler (and, optionally, which requests stream their
// body), for tests that drive a Connection or a Worker without a Router.
#pragma once

#include <vstream/middleware.hpp>

#include "request/dispatcher.hpp"
#include "request/exchange.hpp"

#include <functional>

namespace vstream::test {

struct HandlerDispatcher : request::Dispatcher {
    Handler handler;                                       // empty: 404
    std::function<bool(request::Exchange&)> stream_probe;  // empty: no body streams

    HandlerDispatcher() = default;
    explicit HandlerDispatcher(Handler h) : handler(std::move(h)) {}

    HandlerDispatcher(const HandlerDispatcher&) = delete;
    HandlerDispatcher& operator=(const HandlerDispatcher&) = delete;
    virtual ~HandlerDispatcher() = default;

    bool streams_body(request::Exchange& x) const override {
        return stream_probe && stream_probe(x);
    }
    void dispatch(request::Exchange& x) const override {
        if (handler) {
            handler(x);
        } else {
            x.refuse(404);
        }
    }
};

}  // namespace vstream::test
