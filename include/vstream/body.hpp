// A response body: owned bytes, or borrowed bytes released after they are written.
// Implemented by src/core/body.cpp.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace vstream {

/// Bytes to send. Either owns a std::string, or borrows memory the caller keeps alive until
/// vstream releases it (zero-copy): the keeper is dropped, or the release function called,
/// exactly once, after the bytes have been written or the connection has failed.
/// Move-only. Not thread-safe; a Body may be handed to another thread as a whole.
class Body {
public:
    /// An empty body.
    Body() noexcept = default;
    /// Takes ownership of `bytes` (no copy).
    Body(std::string bytes) noexcept;  // NOLINT(google-explicit-constructor): ergonomic
    /// Copies a literal.
    Body(const char* text);  // NOLINT(google-explicit-constructor)

    /// Copies `bytes` now.
    static Body copy(std::string_view bytes);
    /// Borrows `bytes`; `keeper` is released once they are no longer needed.
    static Body borrow(std::string_view bytes, std::shared_ptr<const void> keeper) noexcept;
    /// Borrows `bytes`; `release` runs exactly once (on the loop thread) when they are no
    /// longer needed, including when the response is never sent.
    static Body borrow(std::string_view bytes, std::function<void()> release);

    Body(Body&& other) noexcept;
    Body& operator=(Body&& other) noexcept;
    Body(const Body&) = delete;
    Body& operator=(const Body&) = delete;
    ~Body();

    /// The bytes. Valid while this Body lives and is not moved from.
    std::string_view view() const noexcept { return owned_ ? std::string_view(text_) : view_; }
    std::size_t size() const noexcept { return view().size(); }
    bool empty() const noexcept { return size() == 0; }
    /// True when the bytes are owned (a std::string) rather than borrowed.
    bool owned() const noexcept { return owned_; }
    /// Drops the bytes (running the release for borrowed ones); leaves an empty body.
    void reset() noexcept;

private:
    std::string text_;
    std::string_view view_;
    std::shared_ptr<const void> keeper_;
    bool owned_ = true;
};

}  // namespace vstream
