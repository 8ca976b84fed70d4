#pragma once

#include <vstream/context.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace vstream::router {

/// Most parameters one route may have.
inline constexpr std::size_t kMaxParams = 16;

/// A matched parameter: its name (from the pattern) and its raw value (from the path).
struct ParamView {
    std::string_view name;
    std::string_view value;
};

/// The parameters of one match, in a fixed array: a lookup allocates nothing.
struct ParamList {
    std::array<ParamView, kMaxParams> items{};
    std::size_t size = 0;
    void clear() noexcept { size = 0; }
};

/// Where routing put one request: the path it used, the route it found and its parameters.
/// Written only by the router (Router::streams_body at the head, Router::dispatch after);
/// read by the Context accessors (route, route_path, params). A leaf: the request core holds
/// one per exchange without knowing the router.
struct Match {
    std::string path_buffer;      // the normalised path, when it differs from the raw one
    std::string_view path;        // the path routing used ("" until routed)
    const char* error = nullptr;  // why the path could not be routed (answered 400)
    bool resolved = false;        // the route was looked up at the head (a body follows)
    int route_id = -1;            // the route found, or -1
    std::string_view pattern;     // the route's pattern ("" when none matched)
    ParamList raw;                // parameters as matched, views into the path
    std::array<Param, kMaxParams> params{};  // their decoded values, in pattern order
    std::size_t param_count = 0;
    std::array<std::string, kMaxParams> param_buffers;  // storage for decoded values

    /// Forgets the last request's match (keeps the buffers' capacity).
    void reset() noexcept {
        path = {};
        error = nullptr;
        resolved = false;
        route_id = -1;
        pattern = {};
        raw.clear();
        param_count = 0;
    }
};

}  // namespace vstream::router
