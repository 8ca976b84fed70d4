#pragma once

#include <vstream/headers.hpp>

#include <ctime>
#include <optional>
#include <string_view>

namespace vstream::http {

/// The selected representation's validators (RFC 9110 §8.8), as the file layer knows them.
struct Validators {
    /// A strong entity-tag, quoted, e.g. "\"5f2-1a-17c\"". Empty when the representation has
    /// none: then no entity-tag in a condition matches it (but "*" still does). A weak or
    /// malformed value never matches a strong comparison.
    std::string_view etag;
    /// The Last-Modified instant, in seconds since the epoch. 0 means unknown (as Go's
    /// ServeContent treats the epoch): date conditions are then not evaluated, and an
    /// If-Range date never matches.
    std::time_t last_modified = 0;
};

/// The result of evaluating the preconditions of a request.
enum class Precondition {
    proceed,       ///< carry on with the request
    not_modified,  ///< answer 304 Not Modified (GET or HEAD only)
    failed,        ///< answer 412 Precondition Failed
};

/// Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the order of
/// RFC 9110 §13.2.2 against the selected representation, which exists (a "*" matches it).
///  - If-Match (strong comparison; "*" matches; fields combine into one list): no match ->
///    failed.
///  - If-Unmodified-Since, only without If-Match: last_modified after the date -> failed.
///  - If-None-Match (weak comparison; "*" matches): a match -> not_modified for GET and HEAD,
///    failed for other methods.
///  - If-Modified-Since, only without If-None-Match and for GET or HEAD: last_modified at or
///    before the date -> not_modified.
/// A date that is not a single valid HTTP-date is ignored; an entity-tag list that does not
/// parse matches nothing. `method` is case-sensitive (RFC 9110 §9.1). The caller decides
/// whether preconditions apply at all (RFC 9110 §13.2.1: only when the response would
/// otherwise be 2xx or 412, and not for CONNECT, OPTIONS or TRACE). Never allocates.
Precondition evaluate_preconditions(const vstream::HeaderMap& headers, std::string_view method,
                                    const Validators& v) noexcept;

/// If-Range (RFC 9110 §13.1.5): whether the Range header should be honoured. True when there
/// is no If-Range, or when it matches: an entity-tag by strong comparison (a weak one never
/// matches), or an HTTP-date exactly equal to a known last_modified. False, including for a
/// value that is neither, means: ignore Range and send 200 with the whole body. Never
/// allocates.
bool if_range_allows(std::optional<std::string_view> if_range, const Validators& v) noexcept;

}  // namespace vstream::http
