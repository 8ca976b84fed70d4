#include "http/query.hpp"

#include "http/uri.hpp"

namespace vstream::http {

namespace {

std::string decode_or_keep(std::string_view text) {
    std::string out;
    if (percent_decode(text, out, true) != UriStatus::ok) {
        // Keep what the client sent, only '+' turned into a space.
        out.assign(text);
        for (char& c : out) {
            if (c == '+') c = ' ';
        }
    }
    return out;
}

}  // namespace

void parse_query(std::string_view raw, QueryPairs& out) {
    out.clear();
    while (!raw.empty()) {
        const std::size_t amp = raw.find('&');
        const std::string_view item = raw.substr(0, amp);
        raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
        if (item.empty()) continue;
        const std::size_t eq = item.find('=');
        const std::string_view key = item.substr(0, eq);
        const std::string_view value =
            eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
        out.emplace_back(decode_or_keep(key), decode_or_keep(value));
    }
}

}  // namespace vstream::http
