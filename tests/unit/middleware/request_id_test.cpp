// middleware::request_id over a real server: request ids made, echoed or replaced; W3C Trace
// Context traceparent continued or restarted, tracestate echoed only with a valid parent;
// the handler and the access log see the same ids as the response.
#include <vstream/vstream.hpp>

#include "raw_client.hpp"
#include "test_server.hpp"

#include <doctest/doctest.h>
#include <simdjson.h>

#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

using vstream::Context;
using vstream::Error;
using vstream::Server;
using vstream::test::RawClient;
using vstream::test::Response;
using vstream::test::roundtrip;
using vstream::test::test_config;
using vstream::test::wait_until;
namespace mw = vstream::middleware;

namespace {

constexpr const char* kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kParentId = "00f067aa0ba902b7";
const std::string kValidParent = std::string("00-") + kTraceId + "-" + kParentId + "-01";

bool is_new_id(const std::string& id) { return std::regex_match(id, std::regex("[0-9a-f]{32}")); }

bool is_traceparent(const std::string& tp) {
    return std::regex_match(tp, std::regex("00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")) &&
           tp.substr(3, 32) != std::string(32, '0') && tp.substr(36, 16) != std::string(16, '0');
}

std::string trace_of(const std::string& tp) { return tp.size() >= 35 ? tp.substr(3, 32) : ""; }
std::string span_of(const std::string& tp) { return tp.size() >= 52 ? tp.substr(36, 16) : ""; }
std::string flags_of(const std::string& tp) { return tp.size() >= 55 ? tp.substr(53, 2) : ""; }

// What the handler saw: "request_id traceparent trace_id".
void show_ids(Context& c) {
    c.text(200, std::string(c.request_id()) + " " + std::string(c.traceparent()) + " " +
                    std::string(c.trace_id()));
}

// A started server with request_id(options) and show_ids on every path.
struct IdServer {
    Server server;
    explicit IdServer(mw::RequestIdOptions options = {}) : server(test_config()) {
        server.use(mw::request_id(std::move(options)));
        server.get("/ids", show_ids);
        server.start();
    }
    ~IdServer() { server.stop(); }

    // GET /ids with `extra` header lines ("Name: value\r\n" each).
    Response get(const std::string& extra = "") {
        auto r = roundtrip(server.port(), "GET /ids HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n");
        REQUIRE(r);
        REQUIRE(r->status == 200);
        return *r;
    }
};

// The handler saw exactly what the response carries.
void check_handler_agrees(const Response& r, const std::string& id_header = "x-request-id") {
    const std::string tp = r.header("traceparent");
    CHECK(r.body == r.header(id_header) + " " + tp + " " + trace_of(tp));
}

}  // namespace

TEST_SUITE("middleware/request_id") {

TEST_CASE("a request without ids gets a new request id and a new unsampled trace") {
    IdServer s;
    const Response r = s.get();
    const std::string id = r.header("x-request-id");
    const std::string tp = r.header("traceparent");
    CHECK(is_new_id(id));
    CHECK(is_traceparent(tp));
    CHECK(flags_of(tp) == "00");
    CHECK_FALSE(r.has_header("tracestate"));
    check_handler_agrees(r);
}

TEST_CASE("new request ids, trace ids and span ids do not repeat") {
    IdServer s;
    RawClient c(s.server.port());
    std::set<std::string> ids;
    std::set<std::string> traces;
    std::set<std::string> spans;
    constexpr int kRequests = 100;
    for (int i = 0; i < kRequests; ++i) {
        REQUIRE(c.send("GET /ids HTTP/1.1\r\nHost: t\r\n\r\n"));
        auto r = c.read_response();
        REQUIRE(r);
        ids.insert(r->header("x-request-id"));
        traces.insert(trace_of(r->header("traceparent")));
        spans.insert(span_of(r->header("traceparent")));
    }
    CHECK(ids.size() == kRequests);
    CHECK(traces.size() == kRequests);
    CHECK(spans.size() == kRequests);
}

TEST_CASE("a well-formed incoming request id is echoed and exposed") {
    IdServer s;
    const std::vector<std::string> rows = {"abc", "A-b_c.d:e", "0", std::string(128, 'z'),
                                           "7f1c0d1e-2b3a-4c5d-8e9f-001122334455"};
    for (const std::string& incoming : rows) {
        CAPTURE(incoming);
        const Response r = s.get("X-Request-ID: " + incoming + "\r\n");
        CHECK(r.header("x-request-id") == incoming);
        check_handler_agrees(r);
    }
}

TEST_CASE("a malformed incoming request id is replaced by a new one") {
    IdServer s;
    const std::vector<std::string> rows = {
        std::string(129, 'a'),  // too long
        "has space",            // bad characters
        "semi;colon",          "slash/id", "caf\xc3\xa9",
    };
    for (const std::string& incoming : rows) {
        CAPTURE(incoming);
        const Response r = s.get("X-Request-ID: " + incoming + "\r\n");
        CHECK(r.header("x-request-id") != incoming);
        CHECK(is_new_id(r.header("x-request-id")));
        check_handler_agrees(r);
    }
    // Two ids are ambiguous: neither is picked.
    const Response r = s.get("X-Request-ID: one\r\nX-Request-ID: two\r\n");
    CHECK(is_new_id(r.header("x-request-id")));
}

TEST_CASE("with trust_incoming off, a well-formed incoming id is replaced too") {
    mw::RequestIdOptions options;
    options.trust_incoming = false;
    IdServer s(options);
    const Response r = s.get("X-Request-ID: abc-123\r\n");
    CHECK(r.header("x-request-id") != "abc-123");
    CHECK(is_new_id(r.header("x-request-id")));
    check_handler_agrees(r);
}

TEST_CASE("a custom header name is read and echoed instead of X-Request-ID") {
    mw::RequestIdOptions options;
    options.header = "X-Correlation-ID";
    IdServer s(options);
    const Response r = s.get("X-Correlation-ID: corr-7\r\nX-Request-ID: ignored\r\n");
    CHECK(r.header("x-correlation-id") == "corr-7");
    CHECK_FALSE(r.has_header("x-request-id"));
    check_handler_agrees(r, "x-correlation-id");
}

TEST_CASE("a header name that is not a token is refused at setup") {
    for (const std::string name : {"", "X Request", "X-Id:", "X-Id\r\n"}) {
        CAPTURE(name);
        mw::RequestIdOptions options;
        options.header = name;
        CHECK_THROWS_AS(mw::request_id(options), Error);
    }
}

TEST_CASE("a valid traceparent keeps its trace id and flags and gets a new span id") {
    IdServer s;
    for (const std::string flags : {"01", "00", "03"}) {
        CAPTURE(flags);
        const std::string incoming = std::string("00-") + kTraceId + "-" + kParentId + "-" + flags;
        const Response r = s.get("traceparent: " + incoming + "\r\n");
        const std::string tp = r.header("traceparent");
        CHECK(is_traceparent(tp));
        CHECK(trace_of(tp) == kTraceId);
        CHECK(flags_of(tp) == flags);
        CHECK(span_of(tp) != kParentId);
        CHECK(r.body.substr(r.body.rfind(' ') + 1) == kTraceId);  // Context::trace_id
        check_handler_agrees(r);
    }
}

TEST_CASE("a higher traceparent version is read for its version 00 fields and answered as 00") {
    IdServer s;
    const std::string base = std::string("-") + kTraceId + "-" + kParentId + "-01";
    for (const std::string& incoming :
         {"cc" + base, "cc" + base + "-what-the-future-holds", "01" + base + "-"}) {
        CAPTURE(incoming);
        const Response r = s.get("traceparent: " + incoming + "\r\n");
        const std::string tp = r.header("traceparent");
        CHECK(tp.substr(0, 3) == "00-");
        CHECK(trace_of(tp) == kTraceId);
        CHECK(flags_of(tp) == "01");
        CHECK(is_traceparent(tp));
    }
}

TEST_CASE("an invalid traceparent starts a new trace") {
    IdServer s;
    const std::string t = kTraceId;
    const std::string p = kParentId;
    const std::vector<std::string> rows = {
        "00-" + std::string(32, '0') + "-" + p + "-01",      // all-zero trace id
        "00-" + t + "-" + std::string(16, '0') + "-01",      // all-zero parent id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + p + "-01",  // uppercase trace id
        "00-" + t + "-00F067AA0BA902B7-01",                  // uppercase parent id
        "00-" + t + "-" + p + "-0A",                         // uppercase flags
        "00-" + t + "-" + p + "-1",                          // too short
        "00-" + t + "-" + p + "-01-",                        // version 00 is exactly 55
        "00-" + t + "-" + p + "-01x",                        // version 00 is exactly 55
        "ff-" + t + "-" + p + "-01",                         // version ff
        "0g-" + t + "-" + p + "-01",                         // non-hex version
        "00-4bf92f3577b34da6a3ce929d0e0e473g-" + p + "-01",  // non-hex trace id
        "00-" + t + "-00f067aa0ba902bz-01",                  // non-hex parent id
        "00-" + t + "-" + p + "-zz",                         // non-hex flags
        "00_" + t + "_" + p + "_01",                         // wrong separators
        "cc-" + t + "-" + p + "-01x",                        // higher version, no '-' after
        "00-" + t.substr(1) + "0-" + p.substr(1) + "-01",    // parent id one digit short
        "garbage",
    };
    for (const std::string& incoming : rows) {
        CAPTURE(incoming);
        const Response r = s.get("traceparent: " + incoming + "\r\ntracestate: vendor=opaque\r\n");
        const std::string tp = r.header("traceparent");
        CHECK(is_traceparent(tp));
        CHECK(trace_of(tp) != kTraceId);
        CHECK(flags_of(tp) == "00");
        CHECK_FALSE(r.has_header("tracestate"));  // it belonged to the invalid parent
        check_handler_agrees(r);
    }
    // Two traceparent fields cannot both be the parent.
    const Response r =
        s.get("traceparent: " + kValidParent + "\r\ntraceparent: " + kValidParent + "\r\n");
    CHECK(trace_of(r.header("traceparent")) != kTraceId);
}

TEST_CASE("an empty request id or traceparent is replaced like any malformed one") {
    IdServer s;
    const Response r = s.get("X-Request-ID:\r\ntraceparent:\r\ntracestate: a=b\r\n");
    CHECK(is_new_id(r.header("x-request-id")));
    CHECK(is_traceparent(r.header("traceparent")));
    CHECK(flags_of(r.header("traceparent")) == "00");
    CHECK_FALSE(r.has_header("tracestate"));
}

TEST_CASE("tracestate is echoed unchanged only with a valid traceparent") {
    IdServer s;
    const std::string state = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
    Response r = s.get("traceparent: " + kValidParent + "\r\ntracestate: " + state + "\r\n");
    CHECK(r.header("tracestate") == state);

    // Several tracestate fields are one list (W3C Trace Context §3.3.1.1).
    r = s.get("traceparent: " + kValidParent +
              "\r\ntracestate: congo=t61rcWkgMzE\r\ntracestate: rojo=00f067aa0ba902b7\r\n");
    CHECK(r.header("tracestate") == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");

    r = s.get("tracestate: " + state + "\r\n");  // no traceparent at all
    CHECK_FALSE(r.has_header("tracestate"));

    r = s.get("traceparent: " + kValidParent + "\r\n");  // nothing to echo
    CHECK_FALSE(r.has_header("tracestate"));
}

TEST_CASE("the access log, registered before request_id, logs the same ids as the response") {
    std::mutex m;
    std::vector<std::string> lines;
    std::vector<Response> responses;
    {
        Server server(test_config());
        server.use(mw::access_log({[&](std::string_view line) {
            std::lock_guard g(m);
            lines.emplace_back(line);
        }}));
        server.use(mw::request_id());
        server.get("/ids", show_ids);
        server.start();
        const std::string with_ids =
            "GET /ids HTTP/1.1\r\nHost: t\r\nX-Request-ID: req-123\r\n"
            "traceparent: " +
            kValidParent + "\r\n\r\n";
        auto r = roundtrip(server.port(), with_ids);
        REQUIRE(r);
        responses.push_back(*r);
        r = roundtrip(server.port(), "GET /ids HTTP/1.1\r\nHost: t\r\n\r\n");
        REQUIRE(r);
        responses.push_back(*r);
        // A request no route matches still passes through both (global middleware).
        r = roundtrip(server.port(), "GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n");
        REQUIRE(r);
        CHECK(r->status == 404);
        responses.push_back(*r);
        CHECK(wait_until([&] {
            std::lock_guard g(m);
            return lines.size() >= 3;
        }));
    }
    REQUIRE(lines.size() == 3);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        CAPTURE(lines[i]);
        simdjson::dom::parser parser;
        simdjson::dom::object obj;
        REQUIRE(parser.parse(lines[i]).get_object().get(obj) == simdjson::SUCCESS);
        std::string_view request_id;
        std::string_view trace_id;
        REQUIRE(obj["request_id"].get_string().get(request_id) == simdjson::SUCCESS);
        REQUIRE(obj["trace_id"].get_string().get(trace_id) == simdjson::SUCCESS);
        CHECK(request_id == responses[i].header("x-request-id"));
        CHECK(trace_id == trace_of(responses[i].header("traceparent")));
    }
    CHECK(responses[0].header("x-request-id") == "req-123");
    CHECK(trace_of(responses[0].header("traceparent")) == kTraceId);
    CHECK(is_new_id(responses[1].header("x-request-id")));
    CHECK(is_new_id(responses[2].header("x-request-id")));
}

}  // TEST_SUITE("middleware/request_id")
