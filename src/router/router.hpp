#pragma once

#include <vstream/context.hpp>
#include <vstream/middleware.hpp>
#include <vstream/router.hpp>

#include "request/dispatcher.hpp"
#include "router/radix_tree.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vstream::router {

/// A flattened middleware chain ending in a handler: what Next walks.
struct Chain {
    std::vector<const Middleware*> middleware;
    const Handler* handler = nullptr;
};

/// Routes and groups, then, frozen, the dispatcher every request goes through. Registration
/// happens before the server starts; dispatch() runs on loop threads, concurrently, and only
/// reads.
class Router final : public request::Dispatcher {
public:
    explicit Router(const RouterOptions& options);
    ~Router();
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;

    // ---- registration (before freeze) ----
    /// A new group under `parent`; returns its index.
    std::size_t add_group(std::size_t parent, std::string_view prefix);
    RouteGroup& group(std::size_t index) noexcept;
    const std::string& prefix(std::size_t group) const noexcept;
    void use(std::size_t group, Middleware middleware);
    /// `streams_body`: the handler runs at the head and reads the body itself (handle_stream).
    void add_route(std::size_t group, std::string_view method, std::string_view pattern,
                   Handler handler, std::vector<Middleware> middleware, bool streams_body = false);
    /// Builds the chains. `fallback` answers requests no route matches (null: 404). After
    /// this, registration throws Error(errc::already_running).
    void freeze(Handler fallback);
    bool frozen() const noexcept { return frozen_; }

    // ---- serving ----
    /// Routes one request: normalises the path, finds the route, decodes its parameters and
    /// runs the chain; or answers 400/404/405/OPTIONS/redirect through the global middleware.
    void dispatch(request::Exchange& x) const override;
    /// Resolves the route of a request whose head has arrived (kept in the exchange's match
    /// for dispatch()) and tells whether it streams its body; false at once when no route
    /// streams. Loop threads.
    bool streams_body(request::Exchange& x) const override;
    /// Whether any route streams its body.
    bool has_streaming_routes() const noexcept { return streaming_routes_ > 0; }

    /// The methods with a route for `path` (normalised), for an Allow header.
    std::string allowed_methods(std::string_view path) const;

private:
    struct Group;
    struct Route;
    struct MethodTree {
        std::string method;
        RadixTree tree;
    };

    void check_open() const;
    const MethodTree* tree_for(std::string_view method) const noexcept;
    void answer_unmatched(Context& ctx, std::string_view path) const;
    int resolve(request::Exchange& x) const;

    RouterOptions options_;
    std::vector<std::unique_ptr<Group>> groups_;  // [0] is the root (the Server)
    std::vector<std::unique_ptr<Route>> routes_;
    std::vector<MethodTree> trees_;
    Handler fallback_;
    Handler unmatched_;  // answers what no route matched, after the global middleware
    Chain unmatched_chain_;
    bool frozen_ = false;
    std::size_t streaming_routes_ = 0;
};

}  // namespace vstream::router
