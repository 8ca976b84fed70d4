#include "router/radix_tree.hpp"

#include <vstream/error.hpp>

#include <algorithm>

namespace vstream::router {

struct RadixTree::Node {
    std::string prefix;   // static bytes matched by this node (empty for param nodes)
    std::string indices;  // first byte of each static child, in the same order
    std::vector<std::unique_ptr<Node>> statics;
    std::unique_ptr<Node> param;      // ":name" child
    std::unique_ptr<Node> catch_all;  // "*name" child
    std::string name;                 // parameter name, for param and catch-all nodes
    int route = -1;
    std::string pattern;  // the pattern that ends here, for conflict messages
};

namespace {

struct Piece {
    enum class Kind { text, param, catch_all } kind;
    std::string_view text;  // static text, or the parameter's name
};

bool valid_name(std::string_view n) noexcept {
    if (n.empty()) return false;
    return std::all_of(n.begin(), n.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

[[noreturn]] void bad_pattern(std::string_view pattern, const std::string& why) {
    throw Error(errc::invalid_argument,
                "route pattern '" + std::string(pattern) + "': " + why);
}

// Splits a pattern into static text runs, parameters and a final catch-all.
std::vector<Piece> split(std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/') bad_pattern(pattern, "must start with '/'");
    std::vector<Piece> pieces;
    std::size_t params = 0;
    std::size_t text_start = 0;
    std::size_t i = 0;
    while (i < pattern.size()) {
        const bool segment_start = i > 0 && pattern[i - 1] == '/';
        const char c = pattern[i];
        if (!segment_start || (c != ':' && c != '*')) {
            ++i;
            continue;
        }
        if (i > text_start) {
            pieces.push_back({Piece::Kind::text, pattern.substr(text_start, i - text_start)});
        }
        std::size_t end = pattern.find('/', i);
        if (end == std::string_view::npos) end = pattern.size();
        const std::string_view name = pattern.substr(i + 1, end - i - 1);
        if (!valid_name(name)) {
            bad_pattern(pattern, "parameter '" + std::string(pattern.substr(i, end - i)) +
                                     "' needs a name of letters, digits, '_' or '-'");
        }
        if (++params > kMaxParams) {
            bad_pattern(pattern, "more than " + std::to_string(kMaxParams) + " parameters");
        }
        if (c == '*') {
            if (end != pattern.size()) bad_pattern(pattern, "a catch-all '*' must be the last segment");
            pieces.push_back({Piece::Kind::catch_all, name});
        } else {
            pieces.push_back({Piece::Kind::param, name});
        }
        for (const Piece& p : pieces) {
            if (p.kind != Piece::Kind::text && &p != &pieces.back() && p.text == name) {
                bad_pattern(pattern, "parameter name '" + std::string(name) + "' used twice");
            }
        }
        i = end;
        text_start = end;
    }
    if (text_start < pattern.size()) {
        pieces.push_back({Piece::Kind::text, pattern.substr(text_start)});
    }
    return pieces;
}

std::size_t common_prefix(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = std::min(a.size(), b.size());
    std::size_t i = 0;
    while (i < n && a[i] == b[i]) ++i;
    return i;
}

}  // namespace

RadixTree::RadixTree() : root_(std::make_unique<Node>()) {}
RadixTree::~RadixTree() = default;
RadixTree::RadixTree(RadixTree&&) noexcept = default;
RadixTree& RadixTree::operator=(RadixTree&&) noexcept = default;

bool RadixTree::empty() const noexcept {
    return root_->statics.empty() && !root_->param && !root_->catch_all && root_->route < 0;
}

void RadixTree::insert(std::string_view pattern, int id) {
    const std::vector<Piece> pieces = split(pattern);
    Node* node = root_.get();
    for (const Piece& piece : pieces) {
        if (piece.kind == Piece::Kind::text) {
            std::string_view text = piece.text;
            while (!text.empty()) {
                const std::size_t idx = node->indices.find(text.front());
                if (idx == std::string::npos) {
                    auto child = std::make_unique<Node>();
                    child->prefix = std::string(text);
                    node->indices.push_back(text.front());
                    node->statics.push_back(std::move(child));
                    node = node->statics.back().get();
                    break;
                }
                Node* child = node->statics[idx].get();
                const std::size_t common = common_prefix(child->prefix, text);
                if (common < child->prefix.size()) {
                    // Split: a new node holds the shared part, the old child the rest.
                    auto mid = std::make_unique<Node>();
                    mid->prefix = child->prefix.substr(0, common);
                    std::unique_ptr<Node> old = std::move(node->statics[idx]);
                    old->prefix.erase(0, common);
                    mid->indices.push_back(old->prefix.front());
                    mid->statics.push_back(std::move(old));
                    node->statics[idx] = std::move(mid);
                    child = node->statics[idx].get();
                }
                text.remove_prefix(common);
                node = child;
            }
            continue;
        }
        std::unique_ptr<Node>& slot = piece.kind == Piece::Kind::param ? node->param : node->catch_all;
        const char sigil = piece.kind == Piece::Kind::param ? ':' : '*';
        if (!slot) {
            slot = std::make_unique<Node>();
            slot->name = std::string(piece.text);
        } else if (slot->name != piece.text) {
            throw Error(errc::route_conflict,
                        "route '" + std::string(pattern) + "': parameter " + sigil +
                            std::string(piece.text) + " conflicts with " + sigil + slot->name +
                            " at the same place in an earlier route");
        }
        node = slot.get();
    }
    if (node->route >= 0) {
        throw Error(errc::route_conflict, "route '" + std::string(pattern) +
                                              "' is already registered as '" + node->pattern + "'");
    }
    node->route = id;
    node->pattern = std::string(pattern);
}

namespace {

// Small, inlined scans: the strings compared here are a few bytes long, where a call into
// libc's memcmp/memchr costs more than the work (the lookup budget is tens of nanoseconds).
inline bool has_prefix(std::string_view path, const std::string& prefix) noexcept {
    const std::size_t n = prefix.size();
    if (path.size() < n) return false;
    const char* a = path.data();
    const char* b = prefix.data();
    for (std::size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return false;
    }
    return true;
}

inline std::size_t segment_end(std::string_view path) noexcept {
    std::size_t i = 0;
    while (i < path.size() && path[i] != '/') ++i;
    return i;
}

inline std::size_t child_index(const std::string& indices, char c) noexcept {
    for (std::size_t i = 0; i < indices.size(); ++i) {
        if (indices[i] == c) return i;
    }
    return std::string::npos;
}

}  // namespace

bool RadixTree::match(const Node& start, std::string_view path, ParamList& params,
                      int& route) noexcept {
    const Node* n = &start;
    for (;;) {
        if (path.empty()) {
            if (n->route >= 0) {
                route = n->route;
                return true;
            }
            if (n->catch_all && n->catch_all->route >= 0) {
                params.items[params.size++] = {n->catch_all->name, path};
                route = n->catch_all->route;
                return true;
            }
            return false;
        }
        // Static first.
        const Node* child = nullptr;
        if (const std::size_t idx = child_index(n->indices, path.front()); idx != std::string::npos) {
            child = n->statics[idx].get();
            if (!has_prefix(path, child->prefix)) child = nullptr;
        }
        if (!n->param && !n->catch_all) {
            // Nothing to fall back to at this level: descend without recursing.
            if (child == nullptr) return false;
            path.remove_prefix(child->prefix.size());
            n = child;
            continue;
        }
        if (child != nullptr) {
            const std::size_t saved = params.size;
            if (match(*child, path.substr(child->prefix.size()), params, route)) return true;
            params.size = saved;  // drop what the failed branch captured
        }
        // Then one whole segment as a parameter.
        if (n->param) {
            const std::size_t end = segment_end(path);
            if (end > 0) {
                const std::size_t saved = params.size;
                params.items[params.size++] = {n->param->name, path.substr(0, end)};
                if (child == nullptr && !n->catch_all) {
                    // The only way on: continue in the parameter's subtree without recursing
                    // (on failure the caller restores the parameter count).
                    path.remove_prefix(end);
                    n = n->param.get();
                    continue;
                }
                if (match(*n->param, path.substr(end), params, route)) return true;
                params.size = saved;
            }
        }
        // Then the rest of the path.
        if (n->catch_all && n->catch_all->route >= 0) {
            params.items[params.size++] = {n->catch_all->name, path};
            route = n->catch_all->route;
            return true;
        }
        return false;
    }
}

int RadixTree::find(std::string_view path, ParamList& params) const noexcept {
    params.clear();
    int route = -1;
    return match(*root_, path, params, route) ? route : -1;
}

}  // namespace vstream::router
