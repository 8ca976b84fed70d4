#include "router/radix_tree.hpp"

#include <vstream/error.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace vstream::router {

struct RadixTree::Node {
    // What a lookup reads, packed at the front (about one cache line), copied from the
    // owning members below by refresh() after every insertion.
    struct Hot {
        const char* prefix = nullptr;
        std::uint32_t prefix_len = 0;
        std::int32_t route = -1;
        const Node* param = nullptr;
        const Node* catch_all = nullptr;
        const char* indices = nullptr;
        std::uint32_t children = 0;
        std::uint32_t name_len = 0;
        const std::unique_ptr<Node>* statics = nullptr;
        const char* name = nullptr;
        const std::array<std::uint8_t, 256>* table = nullptr;
    } hot;

    std::string prefix;   // static bytes matched by this node (empty for param nodes)
    std::string indices;  // first byte of each static child, in the same order
    std::vector<std::unique_ptr<Node>> statics;
    // For nodes with many children: first byte -> child index + 1 (0: none), so a lookup
    // is one load instead of a scan. Built once children reach kTableFrom.
    std::unique_ptr<std::array<std::uint8_t, 256>> table;
    std::unique_ptr<Node> param;      // ":name" child
    std::unique_ptr<Node> catch_all;  // "*name" child
    std::string name;                 // parameter name, for param and catch-all nodes
    int route = -1;
    std::string pattern;  // the pattern that ends here, for conflict messages
    std::string origin;   // param and catch-all nodes: the pattern that made it (ditto)
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
    throw Error(errc::invalid_argument, "route pattern '" + std::string(pattern) + "': " + why);
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
            if (end != pattern.size())
                bad_pattern(pattern, "a catch-all '*' must be the last segment");
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
                    index_children(*node);
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
        std::unique_ptr<Node>& slot =
            piece.kind == Piece::Kind::param ? node->param : node->catch_all;
        const char sigil = piece.kind == Piece::Kind::param ? ':' : '*';
        if (!slot) {
            slot = std::make_unique<Node>();
            slot->name = std::string(piece.text);
            slot->origin = std::string(pattern);
        } else if (slot->name != piece.text) {
            throw Error(errc::route_conflict,
                        "route '" + std::string(pattern) + "': parameter " + sigil +
                            std::string(piece.text) + " conflicts with " + sigil + slot->name +
                            " at the same place in route '" + slot->origin + "'");
        }
        node = slot.get();
    }
    if (node->route >= 0) {
        throw Error(errc::route_conflict, "route '" + std::string(pattern) +
                                              "' is already registered as '" + node->pattern + "'");
    }
    node->route = id;
    node->pattern = std::string(pattern);
    refresh(*root_);  // insertions may have moved strings and vectors: re-point the hot copies
}

namespace {

// Small, inlined scans: the strings compared here are a few bytes long, where a call into
// libc's memcmp/memchr costs more than the work (the lookup budget is tens of nanoseconds).
inline bool has_prefix_bytes(const char* a, const char* b, std::size_t n) noexcept {
    // Eight bytes at a time (memcpy compiles to one unaligned load), then the tail.
    while (n >= 8) {
        std::uint64_t x;
        std::uint64_t y;
        std::memcpy(&x, a, 8);
        std::memcpy(&y, b, 8);
        if (x != y) return false;
        a += 8;
        b += 8;
        n -= 8;
    }
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

constexpr std::size_t kTableFrom = 6;

}  // namespace

std::size_t RadixTree::child_index(const Node& n, char c) noexcept {
    const Node::Hot& h = n.hot;
    if (h.table != nullptr) {
        const std::uint8_t slot = (*h.table)[static_cast<unsigned char>(c)];
        return slot == 0 ? std::string::npos : slot - 1u;
    }
    for (std::uint32_t i = 0; i < h.children; ++i) {
        if (h.indices[i] == c) return i;
    }
    return std::string::npos;
}

void RadixTree::refresh(Node& n) noexcept {
    Node::Hot& h = n.hot;
    h.prefix = n.prefix.data();
    h.prefix_len = static_cast<std::uint32_t>(n.prefix.size());
    h.route = n.route;
    h.param = n.param.get();
    h.catch_all = n.catch_all.get();
    h.indices = n.indices.data();
    h.children = static_cast<std::uint32_t>(n.statics.size());
    h.statics = n.statics.data();
    h.name = n.name.data();
    h.name_len = static_cast<std::uint32_t>(n.name.size());
    h.table = n.table.get();
    for (auto& c : n.statics) refresh(*c);
    if (n.param) refresh(*n.param);
    if (n.catch_all) refresh(*n.catch_all);
}

void RadixTree::index_children(Node& n) {
    if (n.indices.size() < kTableFrom) return;
    if (!n.table) n.table = std::make_unique<std::array<std::uint8_t, 256>>();
    n.table->fill(0);
    for (std::size_t i = 0; i < n.indices.size(); ++i) {
        (*n.table)[static_cast<unsigned char>(n.indices[i])] = static_cast<std::uint8_t>(i + 1);
    }
}

namespace {

inline bool has_prefix(std::string_view path, const char* prefix, std::uint32_t len) noexcept {
    return path.size() >= len && has_prefix_bytes(path.data(), prefix, len);
}

}  // namespace

bool RadixTree::match(const Node& start, std::string_view path, ParamList& params,
                      int& route) noexcept {
    // The catch-all takes the rest of the path (maybe empty), if it ends a route.
    const auto take_rest = [&](const Node::Hot& h) noexcept {
        if (h.catch_all == nullptr || h.catch_all->hot.route < 0) return false;
        const Node::Hot& c = h.catch_all->hot;
        params.items[params.size++] = {{c.name, c.name_len}, path};
        route = c.route;
        return true;
    };
    const Node* n = &start;
    for (;;) {
        const Node::Hot& h = n->hot;
        if (path.empty()) {
            if (h.route >= 0) {
                route = h.route;
                return true;
            }
            return take_rest(h);
        }
        // Static first.
        const Node* child = nullptr;
        if (const std::size_t idx = child_index(*n, path.front()); idx != std::string::npos) {
            child = h.statics[idx].get();
            if (!has_prefix(path, child->hot.prefix, child->hot.prefix_len)) child = nullptr;
        }
        if (h.param == nullptr && h.catch_all == nullptr) {
            // Nothing to fall back to at this level: descend without recursing.
            if (child == nullptr) return false;
            path.remove_prefix(child->hot.prefix_len);
            n = child;
            continue;
        }
        if (child != nullptr) {
            const std::size_t saved = params.size;
            if (match(*child, path.substr(child->hot.prefix_len), params, route)) return true;
            params.size = saved;  // drop what the failed branch captured
        }
        // Then one whole segment as a parameter.
        if (h.param != nullptr) {
            const std::size_t end = segment_end(path);
            if (end > 0) {
                const Node::Hot& p = h.param->hot;
                const std::size_t saved = params.size;
                params.items[params.size++] = {{p.name, p.name_len}, path.substr(0, end)};
                if (child == nullptr && h.catch_all == nullptr) {
                    // The only way on: continue in the parameter's subtree without recursing
                    // (on failure the caller restores the parameter count).
                    path.remove_prefix(end);
                    n = h.param;
                    continue;
                }
                if (match(*h.param, path.substr(end), params, route)) return true;
                params.size = saved;
            }
        }
        // Then the rest of the path.
        return take_rest(h);
    }
}

int RadixTree::find(std::string_view path, ParamList& params) const noexcept {
    params.clear();
    int route = -1;
    return match(*root_, path, params, route) ? route : -1;
}

}  // namespace vstream::router
