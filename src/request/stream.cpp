#include <vstream/stream.hpp>

#include "http/chunked_encoder.hpp"
#include "request/streamed_body.hpp"

namespace vstream {

bool StreamWriter::write(Body bytes) { return state_ ? state_->write(std::move(bytes)) : false; }

void StreamWriter::end(std::vector<std::pair<std::string, std::string>> trailers) {
    if (!state_) return;
    // Built (and so checked: it throws for a bad field) whatever the version, then dropped for
    // HTTP/1.0, which has no trailers: the body ends when the connection does.
    std::string last = http::last_chunk(trailers);
    state_->end(state_->chunked() ? std::move(last) : std::string());
}

void StreamWriter::on_drain(std::function<void()> fn) {
    if (state_) state_->set_drain(std::move(fn));
}

void StreamWriter::on_close(std::function<void()> fn) {
    if (state_) {
        state_->set_close(std::move(fn));
    } else if (fn) {
        fn();
    }
}

bool StreamWriter::closed() const noexcept { return !state_ || state_->closed(); }

std::size_t StreamWriter::queued() const noexcept { return state_ ? state_->queued() : 0; }

}  // namespace vstream
