// Middleware and the continuation it calls. Implemented by src/middleware/chain.cpp.
// Built-in middleware: include/vstream/middlewares.hpp.
#pragma once

#include <cstddef>
#include <functional>

namespace vstream {

class Context;
class Next;

/// A middleware: acts on the context before and after the rest of the chain, which it runs by
/// calling `next()`, or answers itself and does not call it (short-circuit). Runs on the loop
/// thread; an exception escaping it is handled like a handler's (the recovery middleware, or a
/// plain 500).
using Middleware = std::function<void(Context& ctx, Next next)>;

/// The rest of a middleware chain, ending with the route's handler. Cheap to copy.
///
/// Call it once. It may be called later, from any thread, if the middleware deferred the
/// context first (Context::defer): the rest of the chain then runs on the connection's loop
/// thread, never on the caller's. If the connection has closed by then, nothing runs.
class Next {
public:
    /// Runs the rest of the chain.
    void operator()() const;

    /// Internal: a chain position. `chain` is engine-private.
    Next(const void* chain, std::size_t index, Context* ctx) noexcept
        : chain_(chain), index_(index), ctx_(ctx) {}

private:
    const void* chain_;
    std::size_t index_;
    Context* ctx_;
};

}  // namespace vstream
