#pragma once

#include <ctime>
#include <optional>
#include <string_view>

namespace vstream::http {

/// Parses an HTTP-date (RFC 9110 §5.6.7) into seconds since the Unix epoch (UTC). Accepts the
/// three forms a recipient must accept, exactly as the grammar spells them (names and "GMT"
/// are case-sensitive, no surrounding whitespace):
///  - IMF-fixdate   "Sun, 06 Nov 1994 08:49:37 GMT"
///  - rfc850-date   "Sunday, 06-Nov-94 08:49:37 GMT"  (obsolete; two-digit year, see below)
///  - asctime-date  "Sun Nov  6 08:49:37 1994"         (obsolete)
/// Returns nullopt for anything else: unknown day or month name, a field out of range (day
/// beyond the month's length, hour > 23, minute > 59, second > 60), trailing bytes. The day
/// name must be a valid name but is not checked against the date, as other servers do.
/// A two-digit rfc850 year is the latest year with those last two digits that is at most 50
/// years after the current year (RFC 9110 §5.6.7), the current year being that of
/// std::time(nullptr). Independent of locale and TZ; never allocates.
std::optional<std::time_t> parse_http_date(std::string_view text) noexcept;

/// As parse_http_date(text), with `now` (seconds since the epoch) as the reference instant for
/// two-digit rfc850 years, so the result does not depend on the clock (tests, replays).
std::optional<std::time_t> parse_http_date(std::string_view text, std::time_t now) noexcept;

}  // namespace vstream::http
