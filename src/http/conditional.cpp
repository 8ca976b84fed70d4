#include "http/conditional.hpp"

#include <vstream/headers.hpp>

#include "http/http_date.hpp"
#include "http/token.hpp"

namespace vstream::http {

namespace {

// etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3): visible bytes but DQUOTE, and
// obs-text. Note that ',' is one, so a list cannot be split on commas before parsing.
constexpr bool is_etagc(char ch) noexcept {
    const auto c = static_cast<unsigned char>(ch);
    return c == 0x21 || (c >= 0x23 && c <= 0x7E) || c >= 0x80;
}

// entity-tag = [ weak ] opaque-tag (RFC 9110 §8.8.3). `opaque` excludes the quotes.
struct EntityTag {
    bool weak = false;
    std::string_view opaque;
};

// Reads one entity-tag at the front of `s` and consumes it; false, leaving `s` as it was, if
// there is none.
bool read_entity_tag(std::string_view& s, EntityTag& out) noexcept {
    // weak = %s"W/": case-sensitive, so "w/" is malformed.
    const bool weak = s.substr(0, 2) == "W/";
    std::string_view rest = weak ? s.substr(2) : s;
    if (rest.empty() || rest.front() != '"') return false;
    std::size_t i = 1;
    while (i < rest.size() && rest[i] != '"') {
        if (!is_etagc(rest[i])) return false;
        ++i;
    }
    if (i == rest.size()) return false;  // no closing DQUOTE
    out = {weak, rest.substr(1, i - 1)};
    s = rest.substr(i + 1);
    return true;
}

// A value that is exactly one entity-tag (If-Range, or our own validator).
std::optional<EntityTag> single_entity_tag(std::string_view s) noexcept {
    s = trim_ows(s);
    EntityTag tag;
    if (!read_entity_tag(s, tag) || !s.empty()) return std::nullopt;
    return tag;
}

// RFC 9110 §8.8.3.2: strong comparison needs both tags strong and equal opaque-tags; weak
// comparison needs only equal opaque-tags.
bool tags_match(const EntityTag& a, const EntityTag& b, bool strong) noexcept {
    if (strong && (a.weak || b.weak)) return false;
    return a.opaque == b.opaque;
}

// Evaluates If-Match or If-None-Match, every field line named `name` together, as one list
// (RFC 9110 §5.3): whether "*" or one listed tag matches `current` (nullopt: the
// representation has no entity-tag, so only "*" can match).
bool list_matches(const vstream::HeaderMap& headers, std::string_view name,
                  const std::optional<EntityTag>& current, bool strong) noexcept {
    bool matched = false;
    bool valid = true;
    for (const vstream::HeaderField& field : headers) {
        if (!vstream::iequals(field.name, name)) continue;
        std::string_view value = trim_ows(field.value);
        // field = "*" / #entity-tag (RFC 9110 §13.1.1, §13.1.2). "*" matches any current
        // representation, and we always have one; it wins even beside a malformed line, so
        // "If-None-Match: *" can never be turned into "proceed" by a second field line.
        if (value == "*") return true;
        std::size_t members = 0;
        for (;;) {
            // #element: elements separated by commas with OWS, empty elements allowed
            // (RFC 9110 §5.6.1).
            while (!value.empty() && (is_ows(value.front()) || value.front() == ',')) {
                value.remove_prefix(1);
            }
            if (value.empty()) break;
            EntityTag tag;
            if (!read_entity_tag(value, tag)) {
                valid = false;
                break;
            }
            ++members;
            if (current && tags_match(tag, *current, strong)) matched = true;
            value = trim_ows(value);
            if (!value.empty() && value.front() != ',') {  // e.g. "a" "b", or "a"x
                valid = false;
                break;
            }
        }
        // An empty or comma-only value holds no entity-tag: malformed too (1#entity-tag in
        // RFC 9110 §13.1.1; the empty list is no condition a client means to send).
        if (members == 0) valid = false;
    }
    // A list that does not parse matches nothing: no guess at what a broken client meant.
    return valid && matched;
}

// The If-Modified-Since / If-Unmodified-Since date, when usable: RFC 9110 §13.1.3 and §13.1.4
// say to ignore a value that is not a valid HTTP-date, including a list of dates, so a second
// field line (a two-member list) disqualifies it too.
std::optional<std::time_t> single_date(const vstream::HeaderMap& headers,
                                       std::string_view name) noexcept {
    if (headers.count(name) != 1) return std::nullopt;
    return parse_http_date(trim_ows(*headers.get(name)));
}

}  // namespace

Precondition evaluate_preconditions(const vstream::HeaderMap& headers, std::string_view method,
                                    const Validators& v) noexcept {
    // RFC 9110 §9.1: method names are case-sensitive.
    const bool get_or_head = method == "GET" || method == "HEAD";
    const std::optional<EntityTag> current = single_entity_tag(v.etag);
    const bool dated = v.last_modified != 0;

    // RFC 9110 §13.2.2 step 1: If-Match, strong comparison (§13.1.1); false -> 412.
    if (headers.contains("If-Match")) {
        if (!list_matches(headers, "If-Match", current, true)) return Precondition::failed;
    } else if (dated) {
        // Step 2: If-Unmodified-Since only without If-Match (§13.1.4); false when the
        // representation changed after the date -> 412.
        const std::optional<std::time_t> date = single_date(headers, "If-Unmodified-Since");
        if (date && v.last_modified > *date) return Precondition::failed;
    }

    // Step 3: If-None-Match, weak comparison (§13.1.2); false (a match) -> 304 for GET and
    // HEAD, 412 otherwise.
    if (headers.contains("If-None-Match")) {
        if (list_matches(headers, "If-None-Match", current, false)) {
            return get_or_head ? Precondition::not_modified : Precondition::failed;
        }
    } else if (get_or_head && dated) {
        // Step 4: If-Modified-Since only for GET and HEAD without If-None-Match (§13.1.3);
        // false (not modified since the date) -> 304.
        const std::optional<std::time_t> date = single_date(headers, "If-Modified-Since");
        if (date && v.last_modified <= *date) return Precondition::not_modified;
    }
    return Precondition::proceed;
}

bool if_range_allows(std::optional<std::string_view> if_range, const Validators& v) noexcept {
    if (!if_range) return true;
    const std::string_view value = trim_ows(*if_range);
    // If-Range = entity-tag / HTTP-date (RFC 9110 §13.1.5); an entity-tag starts with "W/" or
    // DQUOTE, a date with a day name.
    if (value.substr(0, 1) == "\"" || value.substr(0, 2) == "W/") {
        // §13.1.5: the condition is true only for a strong match; a weak tag never matches.
        const std::optional<EntityTag> tag = single_entity_tag(value);
        const std::optional<EntityTag> current = single_entity_tag(v.etag);
        return tag && current && tags_match(*tag, *current, true);
    }
    // §13.1.5: a date matches only if it exactly equals the Last-Modified; an unknown
    // Last-Modified, or a value that is not an HTTP-date, makes the condition false.
    if (v.last_modified == 0) return false;
    const std::optional<std::time_t> date = parse_http_date(value);
    return date && *date == v.last_modified;
}

}  // namespace vstream::http
