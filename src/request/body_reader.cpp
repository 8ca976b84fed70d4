// Context::read_body and Context::resume_body: a request body read as it arrives.
#include <vstream/context.hpp>

#include "request/exchange.hpp"

#include <memory>
#include <utility>

namespace vstream {

namespace {

// A reader on its way to the loop thread, holding the context meanwhile (as defer() would),
// so the caller may drop its own ContextRef at once. If the task never runs (the connection
// closed first), the reader still hears that its body is over.
struct PendingReader {
    PendingReader(BodyReader r, ContextRef h) : reader(std::move(r)), hold(std::move(h)) {}
    PendingReader(const PendingReader&) = delete;
    PendingReader& operator=(const PendingReader&) = delete;
    ~PendingReader() {
        if (taken || !reader.on_error) return;
        try {
            reader.on_error(0, "the connection closed before the request body was read");
        } catch (...) {
            // Nothing can be answered any more; a throwing cleanup is dropped.
        }
    }
    BodyReader reader;
    ContextRef hold;
    bool taken = false;
};

}  // namespace

void Context::read_body(BodyReader reader) {
    request::Exchange& x = request::Exchange::of(*this);
    if (x.on_loop_thread()) {
        x.start_body(std::move(reader));
        return;
    }
    auto pending = std::make_shared<PendingReader>(std::move(reader), ContextRef(this));
    x.run_on_loop([&x, pending] {
        pending->taken = true;
        x.start_body(std::move(pending->reader));
        pending->hold.reset();  // start_body took its own hold, or answered
    });
}

void Context::resume_body() {
    request::Exchange& x = request::Exchange::of(*this);
    x.run_on_loop([&x] { x.resume_body(); });
}

}  // namespace vstream
