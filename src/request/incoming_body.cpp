#include "request/incoming_body.hpp"

#include <utility>

namespace vstream::request {

void IncomingBody::reset() noexcept {
    reader_ = BodyReader{};
    held_.clear();
    declared_ = kUnknownLength;
    received_ = 0;
    max_bytes_ = 0;
    timeout_ = std::chrono::milliseconds{0};
    expected_ = false;
    has_reader_ = false;
    finished_ = false;
    paused_ = false;
    in_callback_ = false;
    resumed_in_callback_ = false;
}

void IncomingBody::expect(std::uint64_t declared) noexcept {
    expected_ = true;
    declared_ = declared;
    paused_ = true;  // until a reader comes
}

bool IncomingBody::set_reader(BodyReader reader, std::uint64_t default_max,
                              std::chrono::milliseconds default_timeout) {
    reader_ = std::move(reader);
    has_reader_ = true;
    max_bytes_ = reader_.max_bytes != 0 ? reader_.max_bytes : default_max;
    timeout_ = reader_.timeout.count() > 0 ? reader_.timeout : default_timeout;
    if (held_.empty()) paused_ = false;  // otherwise deliver_held() hands them over first
    return declared_ == kUnknownLength || declared_ <= max_bytes_;
}

IncomingBody::Feed IncomingBody::hand_over(std::string_view bytes) {
    if (bytes.empty()) return Feed::more;
    if (!reader_.on_data) return Feed::more;  // a reader that only waits for the end
    in_callback_ = true;
    resumed_in_callback_ = false;
    bool more = false;
    try {
        more = reader_.on_data(bytes);
    } catch (...) {
        in_callback_ = false;
        throw;
    }
    in_callback_ = false;
    if (!more && !resumed_in_callback_) {
        paused_ = true;
        return Feed::pause;
    }
    return Feed::more;
}

IncomingBody::Feed IncomingBody::data(std::string_view bytes) {
    if (finished_) return Feed::more;  // the reader is gone: the rest is dropped
    received_ += bytes.size();
    if (!has_reader_) {
        held_.append(bytes);
        paused_ = true;
        return Feed::pause;
    }
    if (received_ > max_bytes_) return Feed::too_large;
    return hand_over(bytes);
}

IncomingBody::Feed IncomingBody::deliver_held() {
    paused_ = false;
    if (received_ > max_bytes_) return Feed::too_large;
    std::string held;
    held.swap(held_);
    return hand_over(held);
}

bool IncomingBody::resume() noexcept {
    if (in_callback_) {
        resumed_in_callback_ = true;
        return false;
    }
    if (!paused_ || !has_reader_ || finished_) return false;
    paused_ = false;
    return true;
}

void IncomingBody::end() {
    if (finished_) return;
    finished_ = true;
    paused_ = false;
    // The reader goes with its last callback: what it captures (a StreamWriter, a ContextRef)
    // may hold the exchange, which holds this.
    const BodyReader reader = std::move(reader_);
    reader_ = BodyReader{};
    if (reader.on_end) reader.on_end();
}

void IncomingBody::fail(int status, std::string_view reason) noexcept {
    if (finished_) return;
    finished_ = true;
    const BodyReader reader = std::move(reader_);  // released with its last callback
    reader_ = BodyReader{};
    if (!has_reader_ || !reader.on_error) return;
    try {
        reader.on_error(status, reason);
    } catch (...) {
        // The request is over either way; a throwing cleanup must not take the loop down.
    }
}

}  // namespace vstream::request
