#include <vstream/body.hpp>

#include <utility>

namespace vstream {

Body::Body(std::string bytes) noexcept : text_(std::move(bytes)) {}

Body::Body(const char* text) : text_(text) {}

Body Body::copy(std::string_view bytes) { return Body(std::string(bytes)); }

Body Body::borrow(std::string_view bytes, std::shared_ptr<const void> keeper) noexcept {
    Body b;
    b.owned_ = false;
    b.view_ = bytes;
    b.keeper_ = std::move(keeper);
    return b;
}

Body Body::borrow(std::string_view bytes, std::function<void()> release) {
    // The deleter runs exactly once, when the last holder of the keeper lets go.
    std::shared_ptr<const void> keeper(nullptr, [fn = std::move(release)](const void*) {
        if (fn) fn();
    });
    return borrow(bytes, std::move(keeper));
}

Body::Body(Body&& other) noexcept
    : text_(std::move(other.text_)),
      view_(other.view_),
      keeper_(std::move(other.keeper_)),
      owned_(other.owned_) {
    other.reset();
}

Body& Body::operator=(Body&& other) noexcept {
    if (this != &other) {
        text_ = std::move(other.text_);
        view_ = other.view_;
        keeper_ = std::move(other.keeper_);
        owned_ = other.owned_;
        other.reset();
    }
    return *this;
}

Body::~Body() = default;

void Body::reset() noexcept {
    text_.clear();
    view_ = {};
    keeper_.reset();
    owned_ = true;
}

}  // namespace vstream
