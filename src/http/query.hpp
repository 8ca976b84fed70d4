#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vstream::http {

/// Decoded query parameters, in order, repeated keys kept.
using QueryPairs = std::vector<std::pair<std::string, std::string>>;

/// Parses an application/x-www-form-urlencoded query ("a=1&b=x+y&a=%2F") into `out`
/// (cleared first): pairs split on '&', key and value split on the first '=', '+' is a
/// space and %XX escapes are decoded. A malformed escape is kept as literal text rather than
/// failing the request (the path, not the query, decides routing). Empty items are skipped;
/// "k" alone is the pair ("k", "").
void parse_query(std::string_view raw, QueryPairs& out);

}  // namespace vstream::http
