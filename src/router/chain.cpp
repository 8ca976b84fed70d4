#include <vstream/context.hpp>
#include <vstream/middleware.hpp>

#include "request/exchange.hpp"
#include "router/router.hpp"

namespace vstream {

void Next::operator()() const {
    request::Exchange& x = request::Exchange::of(*ctx_);
    if (!x.on_loop_thread()) {
        // Called later from another thread: the rest of the chain runs on the loop, and not
        // at all if the connection has gone.
        // The hold keeps the request open until the rest of the chain has run.
        x.run_on_loop([next = *this, hold = ContextRef(ctx_)] { next(); });
        return;
    }
    // The connection has gone (or the server with it): nothing of the chain may run, and the
    // router it points into may be gone too.
    if (!x.attached()) return;
    const auto& chain = *static_cast<const router::Chain*>(chain_);
    if (index_ < chain.middleware.size()) {
        (*chain.middleware[index_])(*ctx_, Next(chain_, index_ + 1, ctx_));
    } else {
        (*chain.handler)(*ctx_);
    }
}

}  // namespace vstream
