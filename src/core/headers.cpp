#include <vstream/headers.hpp>

namespace vstream {

namespace {

constexpr char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

}  // namespace

std::string_view trim_ows(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

std::optional<std::string_view> HeaderMap::get(std::string_view name) const noexcept {
    for (const HeaderField& f : *this) {
        if (iequals(f.name, name)) return f.value;
    }
    return std::nullopt;
}

std::size_t HeaderMap::count(std::string_view name) const noexcept {
    std::size_t n = 0;
    for (const HeaderField& f : *this) n += iequals(f.name, name) ? 1 : 0;
    return n;
}

bool list_has_token(std::string_view list, std::string_view token) noexcept {
    while (!list.empty()) {
        const std::size_t comma = list.find(',');
        if (iequals(trim_ows(list.substr(0, comma)), token)) return true;
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
    }
    return false;
}

bool HeaderMap::has_token(std::string_view name, std::string_view token) const noexcept {
    for (const HeaderField& f : *this) {
        if (iequals(f.name, name) && list_has_token(f.value, token)) return true;
    }
    return false;
}

}  // namespace vstream
