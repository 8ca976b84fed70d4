// libFuzzer target: the radix tree. The input is a list of lines: "+pattern" registers a
// route (conflicts and bad patterns are expected and skipped), anything else is looked up.
// A lookup must never crash, and a match must reproduce its path from its parameters.
#include <vstream/error.hpp>

#include "router/radix_tree.hpp"

#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    vstream::router::RadixTree tree;
    std::vector<std::string> patterns;
    vstream::router::ParamList params;
    int next_id = 0;
    while (!in.empty()) {
        const std::size_t nl = in.find('\n');
        const std::string_view line = in.substr(0, nl);
        in = nl == std::string_view::npos ? std::string_view{} : in.substr(nl + 1);
        if (!line.empty() && line.front() == '+') {
            try {
                tree.insert(line.substr(1), next_id);
                patterns.emplace_back(line.substr(1));
                ++next_id;
            } catch (const vstream::Error&) {
                // malformed or conflicting: reported at registration, as it should be
            }
            continue;
        }
        const int id = tree.find(line, params);
        if (id < -1 || id >= next_id) __builtin_trap();
        if (id >= 0) {
            // Rebuild the path from the pattern and the captured values.
            const std::string& p = patterns[static_cast<std::size_t>(id)];
            std::string rebuilt;
            std::size_t k = 0;
            for (std::size_t i = 0; i < p.size();) {
                if ((p[i] == ':' || p[i] == '*') && i > 0 && p[i - 1] == '/') {
                    if (k >= params.size) __builtin_trap();
                    rebuilt += params.items[k++].value;
                    i = std::min(p.find('/', i), p.size());
                } else {
                    rebuilt += p[i++];
                }
            }
            if (k != params.size || rebuilt != line) __builtin_trap();
        }
    }
    return 0;
}
