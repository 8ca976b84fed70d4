#include <vstream/error.hpp>

namespace vstream {

namespace {

class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "vstream"; }
    std::string message(int code) const override {
        return error_message(static_cast<errc>(code));
    }
};

}  // namespace

const char* error_message(errc e) noexcept {
    switch (e) {
        case errc::ok: return "success";
        case errc::invalid_argument: return "invalid argument";
        case errc::no_memory: return "out of memory";
        case errc::address_in_use: return "address already in use";
        case errc::address_not_available: return "address not available";
        case errc::permission_denied: return "permission denied";
        case errc::timed_out: return "timed out";
        case errc::canceled: return "operation canceled";
        case errc::stopped: return "server stopped";
        case errc::already_running: return "server already running";
        case errc::route_conflict: return "route conflict";
        case errc::io_error: return "i/o error";
    }
    return "unknown error";
}

const std::error_category& error_category() noexcept {
    static const Category category;
    return category;
}

}  // namespace vstream
