// Conditional requests (RFC 9110 §13.1, §13.2.2): If-Match, If-Unmodified-Since,
// If-None-Match, If-Modified-Since, If-Range.
#include "http/conditional.hpp"

#include <vstream/headers.hpp>

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

using vstream::HeaderField;
using vstream::HeaderMap;
using vstream::http::evaluate_preconditions;
using vstream::http::if_range_allows;
using vstream::http::Precondition;
using vstream::http::Validators;

namespace {

// The representation: Last-Modified is RFC 9110's example date.
constexpr std::time_t kModified = 784111777;
constexpr const char* kAt = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr const char* kAtRfc850 = "Sunday, 06-Nov-94 08:49:37 GMT";
constexpr const char* kAtAsctime = "Sun Nov  6 08:49:37 1994";
constexpr const char* kBefore = "Sun, 06 Nov 1994 08:49:36 GMT";
constexpr const char* kAfter = "Sun, 06 Nov 1994 08:49:38 GMT";

const Validators kV{"\"v1\"", kModified};
const Validators kNoDate{"\"v1\"", 0};
const Validators kNoTag{"", kModified};

const char* name(Precondition p) {
    switch (p) {
        case Precondition::proceed: return "proceed";
        case Precondition::not_modified: return "not_modified";
        case Precondition::failed: return "failed";
    }
    return "?";
}

struct Row {
    std::vector<HeaderField> fields;
    const char* method;
    Validators v;
    Precondition expected;
};

std::string describe(const Row& r) {
    std::string s = std::string(r.method) + " etag=" + std::string(r.v.etag) +
                    " last_modified=" + std::to_string(r.v.last_modified);
    for (const HeaderField& f : r.fields) {
        s += " | " + std::string(f.name) + ": " + std::string(f.value);
    }
    return s;
}

void check_rows(const std::vector<Row>& rows) {
    for (const Row& r : rows) {
        const std::string row = describe(r);
        CAPTURE(row);
        const HeaderMap headers(&r.fields);
        CHECK(std::string(name(evaluate_preconditions(headers, r.method, r.v))) ==
              name(r.expected));
    }
}

constexpr Precondition kProceed = Precondition::proceed;
constexpr Precondition kNotModified = Precondition::not_modified;
constexpr Precondition kFailed = Precondition::failed;

}  // namespace

TEST_SUITE("http/conditional") {

TEST_CASE("without preconditions the request proceeds") {
    check_rows({
        {{}, "GET", kV, kProceed},
        {{}, "POST", kV, kProceed},
        {{{"Range", "bytes=0-1"}, {"If-Range", "\"v2\""}}, "GET", kV, kProceed},
    });
}

TEST_CASE("If-Match uses strong comparison and fails with 412") {
    check_rows({
        {{{"If-Match", "\"v1\""}}, "GET", kV, kProceed},
        {{{"If-Match", "\"v1\""}}, "PUT", kV, kProceed},
        {{{"If-Match", "\"v2\""}}, "GET", kV, kFailed},
        {{{"If-Match", "\"v2\""}}, "PUT", kV, kFailed},
        {{{"if-match", "\"v2\""}}, "PUT", kV, kFailed},    // field names: any case
        {{{"If-Match", "W/\"v1\""}}, "GET", kV, kFailed},  // weak never matches strongly
        {{{"If-Match", "\"V1\""}}, "GET", kV, kFailed},    // opaque-tags: case-sensitive
        {{{"If-Match", "*"}}, "GET", kV, kProceed},        // the representation exists
        {{{"If-Match", "*"}}, "DELETE", kNoTag, kProceed},
        {{{"If-Match", "\"v2\", \"v1\""}}, "GET", kV, kProceed},
        {{{"If-Match", "\"v2\",\"v1\""}}, "GET", kV, kProceed},
        {{{"If-Match", " \"x\" ,\t\"v1\" "}}, "GET", kV, kProceed},
        {{{"If-Match", ", ,\"v1\",,"}}, "GET", kV, kProceed},  // empty elements
        {{{"If-Match", "\"a\", \"b\""}}, "GET", kV, kFailed},
        // Several field lines form one list (RFC 9110 §5.3).
        {{{"If-Match", "\"a\""}, {"If-Match", "\"v1\""}}, "GET", kV, kProceed},
        {{{"If-Match", "\"a\""}, {"If-Match", "\"b\""}}, "GET", kV, kFailed},
        // No entity-tag on the representation: only "*" matches.
        {{{"If-Match", "\"v1\""}}, "GET", kNoTag, kFailed},
        {{{"If-Match", "\"\""}}, "GET", kNoTag, kFailed},
    });
}

TEST_CASE("an If-Match list that does not parse matches nothing") {
    check_rows({
        {{{"If-Match", "v1"}}, "GET", kV, kFailed},
        {{{"If-Match", "\"v1"}}, "GET", kV, kFailed},
        {{{"If-Match", ""}}, "GET", kV, kFailed},
        {{{"If-Match", " , "}}, "GET", kV, kFailed},
        {{{"If-Match", "\"v1\" \"v2\""}}, "GET", kV, kFailed},
        {{{"If-Match", "\"v1\"x"}}, "GET", kV, kFailed},
        {{{"If-Match", "\"v1\", *"}}, "GET", kV, kFailed},
        {{{"If-Match", "\"v1\", garbage"}}, "GET", kV, kFailed},
        {{{"If-Match", "w/\"v1\""}}, "GET", kV, kFailed},
        {{{"If-Match", "\"v 1\""}}, "GET", {"\"v 1\"", kModified}, kFailed},  // SP not etagc
        {{{"If-Match", "\"v1\""}, {"If-Match", "junk"}}, "GET", kV, kFailed},
    });
}

TEST_CASE("entity-tags may hold commas and obs-text") {
    const Validators comma{"\"a,b\"", kModified};
    const Validators high{"\"caf\xc3\xa9\"", kModified};
    check_rows({
        {{{"If-Match", "\"a,b\""}}, "GET", comma, kProceed},
        {{{"If-Match", "\"a\", \"b\""}}, "GET", comma, kFailed},
        {{{"If-None-Match", "\"x\", \"a,b\""}}, "GET", comma, kNotModified},
        {{{"If-Match", "\"caf\xc3\xa9\""}}, "GET", high, kProceed},
    });
}

TEST_CASE("If-Unmodified-Since fails when the representation changed after the date") {
    check_rows({
        {{{"If-Unmodified-Since", kAt}}, "PUT", kV, kProceed},
        {{{"If-Unmodified-Since", kAfter}}, "PUT", kV, kProceed},
        {{{"If-Unmodified-Since", kBefore}}, "PUT", kV, kFailed},
        {{{"If-Unmodified-Since", kBefore}}, "GET", kV, kFailed},
        {{{"If-Unmodified-Since", "Sun Nov  6 08:49:36 1994"}}, "PUT", kV, kFailed},
        // Ignored: with If-Match (which decides alone), not a date, a list, an unknown date.
        {{{"If-Match", "\"v1\""}, {"If-Unmodified-Since", kBefore}}, "PUT", kV, kProceed},
        {{{"If-Match", "*"}, {"If-Unmodified-Since", kBefore}}, "PUT", kV, kProceed},
        {{{"If-Unmodified-Since", "yesterday"}}, "PUT", kV, kProceed},
        {{{"If-Unmodified-Since", ""}}, "PUT", kV, kProceed},
        {{{"If-Unmodified-Since", std::string_view(kBefore).substr(0, 20)}}, "PUT", kV, kProceed},
        {{{"If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:36 GMT, Sun, 06 Nov 1994 08:49:36 GMT"}},
         "PUT",
         kV,
         kProceed},
        {{{"If-Unmodified-Since", kBefore}, {"If-Unmodified-Since", kBefore}}, "PUT", kV, kProceed},
        {{{"If-Unmodified-Since", kBefore}}, "PUT", kNoDate, kProceed},
    });
}

TEST_CASE("If-None-Match uses weak comparison: 304 for GET and HEAD, 412 otherwise") {
    check_rows({
        {{{"If-None-Match", "\"v1\""}}, "GET", kV, kNotModified},
        {{{"If-None-Match", "\"v1\""}}, "HEAD", kV, kNotModified},
        {{{"If-None-Match", "\"v1\""}}, "POST", kV, kFailed},
        {{{"If-None-Match", "\"v1\""}}, "get", kV, kFailed},  // methods are case-sensitive
        {{{"If-None-Match", "W/\"v1\""}}, "GET", kV, kNotModified},
        {{{"If-None-Match", "W/\"v1\""}}, "DELETE", kV, kFailed},
        {{{"If-None-Match", "\"a\", W/\"v1\""}}, "GET", kV, kNotModified},
        {{{"If-None-Match", "\"a\""}, {"If-None-Match", "\"v1\""}}, "GET", kV, kNotModified},
        {{{"If-None-Match", "*"}}, "GET", kV, kNotModified},
        {{{"If-None-Match", "*"}}, "PUT", kV, kFailed},
        {{{"If-None-Match", "*"}}, "PUT", kNoTag, kFailed},
        {{{"If-None-Match", "\"v2\""}}, "GET", kV, kProceed},
        {{{"If-None-Match", "\"v2\""}}, "PUT", kV, kProceed},
        {{{"If-None-Match", "\"v1\""}}, "GET", kNoTag, kProceed},
        {{{"If-None-Match", "\"v1\""}}, "GET", {"W/\"v1\"", kModified}, kNotModified},
    });
}

TEST_CASE("a malformed If-None-Match matches nothing, but a \"*\" line always matches") {
    check_rows({
        {{{"If-None-Match", "v1"}}, "GET", kV, kProceed},
        {{{"If-None-Match", "\"v1\", garbage"}}, "GET", kV, kProceed},
        {{{"If-None-Match", "w/\"v1\""}}, "GET", kV, kProceed},
        {{{"If-None-Match", "W/ \"v1\""}}, "GET", kV, kProceed},
        {{{"If-None-Match", "\"v1\"\"v1\""}}, "GET", kV, kProceed},
        {{{"If-None-Match", ""}}, "GET", kV, kProceed},
        {{{"If-None-Match", "**"}}, "GET", kV, kProceed},
        {{{"If-None-Match", "\"v1\""}, {"If-None-Match", "junk"}}, "GET", kV, kProceed},
        // A "*" line is never undone by a broken neighbour (create-only PUT stays safe).
        {{{"If-None-Match", "*"}, {"If-None-Match", "junk"}}, "PUT", kV, kFailed},
        {{{"If-None-Match", "junk"}, {"If-None-Match", "*"}}, "GET", kV, kNotModified},
    });
}

TEST_CASE("If-Modified-Since gives 304 for GET and HEAD when not modified since the date") {
    check_rows({
        {{{"If-Modified-Since", kAt}}, "GET", kV, kNotModified},
        {{{"If-Modified-Since", kAt}}, "HEAD", kV, kNotModified},
        {{{"If-Modified-Since", kAfter}}, "GET", kV, kNotModified},
        {{{"If-Modified-Since", kBefore}}, "GET", kV, kProceed},
        {{{"If-Modified-Since", kAtRfc850}}, "GET", kV, kNotModified},
        {{{"If-Modified-Since", kAtAsctime}}, "GET", kV, kNotModified},
        {{{"if-modified-since", kAt}}, "GET", kV, kNotModified},
        // Ignored: other methods, with If-None-Match, not a date, a list, an unknown date.
        {{{"If-Modified-Since", kAt}}, "POST", kV, kProceed},
        {{{"If-Modified-Since", kAt}}, "get", kV, kProceed},
        {{{"If-None-Match", "\"v2\""}, {"If-Modified-Since", kAfter}}, "GET", kV, kProceed},
        {{{"If-None-Match", "junk"}, {"If-Modified-Since", kAfter}}, "GET", kV, kProceed},
        {{{"If-Modified-Since", "not a date"}}, "GET", kV, kProceed},
        {{{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT; length=12"}}, "GET", kV, kProceed},
        {{{"If-Modified-Since", kAt}, {"If-Modified-Since", kAt}}, "GET", kV, kProceed},
        {{{"If-Modified-Since", kAt}}, "GET", kNoDate, kProceed},
    });
}

TEST_CASE("preconditions are evaluated in the order of RFC 9110 §13.2.2") {
    check_rows({
        // Step 1 before step 3: a failed If-Match wins over a matching If-None-Match.
        {{{"If-None-Match", "\"v1\""}, {"If-Match", "\"v2\""}}, "GET", kV, kFailed},
        {{{"If-Match", "\"v1\""}, {"If-None-Match", "\"v1\""}}, "GET", kV, kNotModified},
        {{{"If-Match", "*"}, {"If-None-Match", "*"}}, "GET", kV, kNotModified},
        {{{"If-Match", "\"v1\""}, {"If-None-Match", "\"v2\""}}, "PUT", kV, kProceed},
        // Step 2 before step 3 and 4.
        {{{"If-Unmodified-Since", kBefore}, {"If-None-Match", "\"v1\""}}, "GET", kV, kFailed},
        {{{"If-Unmodified-Since", kBefore}, {"If-Modified-Since", kAt}}, "GET", kV, kFailed},
        {{{"If-Unmodified-Since", kAt}, {"If-Modified-Since", kAt}}, "GET", kV, kNotModified},
        {{{"If-Unmodified-Since", kAt}, {"If-None-Match", "\"v1\""}}, "PUT", kV, kFailed},
        // Step 3 decides alone over step 4: a match is 304 whatever the date says.
        {{{"If-None-Match", "\"v1\""}, {"If-Modified-Since", kBefore}}, "GET", kV, kNotModified},
        // All four, all passing.
        {{{"If-Match", "\"v1\""},
          {"If-Unmodified-Since", kAfter},
          {"If-None-Match", "\"v2\""},
          {"If-Modified-Since", kBefore}},
         "GET",
         kV,
         kProceed},
    });
}

TEST_CASE("If-Range allows the range only on an exact strong match") {
    struct IfRangeRow {
        std::optional<std::string_view> if_range;
        Validators v;
        bool expected;
    };
    const IfRangeRow rows[] = {
        {std::nullopt, kV, true},
        {std::nullopt, Validators{}, true},
        {"\"v1\"", kV, true},
        {" \"v1\" ", kV, true},
        {"\"v2\"", kV, false},
        {"\"V1\"", kV, false},
        {"W/\"v1\"", kV, false},                       // weak: never
        {"W/\"v1\"", {"W/\"v1\"", kModified}, false},  // not even against a weak validator
        {"\"v1\"", {"W/\"v1\"", kModified}, false},
        {"\"v1\"", kNoTag, false},
        {"\"v1\", \"v2\"", kV, false},  // one entity-tag, not a list
        {"\"v1", kV, false},
        {"*", kV, false},
        {"", kV, false},
        {"garbage", kV, false},
        {kAt, kV, true},
        {kAtRfc850, kV, true},
        {kAtAsctime, kV, true},
        {kBefore, kV, false},  // exactly equal, not "not after"
        {kAfter, kV, false},
        {kAt, kNoDate, false},  // unknown Last-Modified
        {"Sun, 06 Nov 1994 08:49:37 GMT junk", kV, false},
        {"Wed, 21 Oct 2015 07:28:00 GMT", kV, false},  // 'W' but not "W/"
    };
    for (const IfRangeRow& r : rows) {
        const std::string if_range = r.if_range ? std::string(*r.if_range) : "(none)";
        CAPTURE(if_range);
        CAPTURE(r.v.etag);
        CAPTURE(r.v.last_modified);
        CHECK(if_range_allows(r.if_range, r.v) == r.expected);
    }
}

}  // TEST_SUITE("http/conditional")
