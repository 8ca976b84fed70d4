#pragma once

#include "router/match.hpp"

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vstream::router {

/// A radix (compressed prefix) tree of route patterns for one method.
///
/// Patterns start with '/'. A segment ":name" matches one non-empty path segment; a last
/// segment "*name" matches the rest of the path (possibly empty). ':' and '*' elsewhere are
/// literal. Matching prefers static text, then a parameter, then a catch-all, and backtracks:
/// with "/users/new" and "/users/:id/edit", "/users/new/edit" finds the second.
///
/// Thread: insert() before serving; find() from any number of threads after.
class RadixTree {
public:
    RadixTree();
    ~RadixTree();
    RadixTree(RadixTree&&) noexcept;
    RadixTree& operator=(RadixTree&&) noexcept;

    /// Adds `pattern` with route id `id` (>= 0). Throws Error(errc::invalid_argument) for a
    /// malformed pattern, Error(errc::route_conflict) when it clashes with an earlier one (the
    /// same pattern, or a parameter of another name at the same place); the message names both.
    void insert(std::string_view pattern, int id);

    /// The id of the route matching `path`, or -1. Fills `params` with views into `path` and
    /// into the tree. No allocation. Thread: any, once insertion is over.
    int find(std::string_view path, ParamList& params) const noexcept;

    /// True when no route was inserted.
    bool empty() const noexcept;

private:
    struct Node;
    static bool match(const Node& n, std::string_view path, ParamList& params, int& route) noexcept;
    static std::size_t child_index(const Node& n, char c) noexcept;
    static void index_children(Node& n);
    static void refresh(Node& n) noexcept;
    std::unique_ptr<Node> root_;
};

}  // namespace vstream::router
