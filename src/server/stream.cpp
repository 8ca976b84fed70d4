#include <vstream/stream.hpp>

#include "http/chunked_encoder.hpp"
#include "http/stream_source.hpp"

namespace vstream {

bool StreamWriter::write(Body bytes) { return state_ ? state_->write(std::move(bytes)) : false; }

void StreamWriter::end(std::vector<std::pair<std::string, std::string>> trailers) {
    if (!state_) return;
    // HTTP/1.0 has no trailers: the body ends when the connection does.
    state_->end(state_->chunked() ? http::last_chunk(trailers) : std::string());
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
