// IncomingBody: bytes held until a reader comes, pause and resume (also from inside on_data),
// the size limit, and exactly one ending.
#include "request/incoming_body.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {

using vstream::BodyReader;
using vstream::request::IncomingBody;
using Feed = IncomingBody::Feed;
using namespace std::chrono_literals;

struct Log {
    std::string data;
    int ends = 0;
    std::vector<int> errors;
};

BodyReader logging_reader(Log& log, bool more = true) {
    BodyReader r;
    r.on_data = [&log, more](std::string_view b) {
        log.data.append(b);
        return more;
    };
    r.on_end = [&log] { ++log.ends; };
    r.on_error = [&log](int status, std::string_view) { log.errors.push_back(status); };
    return r;
}

}  // namespace

TEST_SUITE("request/incoming_body") {

TEST_CASE("bytes that come before the reader are held and handed over first") {
    IncomingBody s;
    s.expect(10);
    CHECK(s.paused());
    CHECK(s.data("hello") == Feed::pause);
    Log log;
    CHECK(s.set_reader(logging_reader(log), 100, 1s));
    CHECK(s.paused());  // the held bytes go first
    CHECK(s.deliver_held() == Feed::more);
    CHECK(log.data == "hello");
    CHECK(s.data("world") == Feed::more);
    s.end();
    CHECK(log.data == "helloworld");
    CHECK(log.ends == 1);
    CHECK(log.errors.empty());
}

TEST_CASE("a reader set before any byte is not paused") {
    IncomingBody s;
    s.expect(IncomingBody::kUnknownLength);
    Log log;
    CHECK(s.set_reader(logging_reader(log), 100, 1s));
    CHECK_FALSE(s.paused());
}

TEST_CASE("on_data returning false pauses until resume") {
    IncomingBody s;
    s.expect(IncomingBody::kUnknownLength);
    Log log;
    s.set_reader(logging_reader(log, false), 100, 1s);
    CHECK(s.data("ab") == Feed::pause);
    CHECK(s.paused());
    CHECK(s.resume());
    CHECK_FALSE(s.paused());
    CHECK_FALSE(s.resume());  // not paused: nothing to do
}

TEST_CASE("a resume from inside on_data counts as returning true") {
    IncomingBody s;
    s.expect(IncomingBody::kUnknownLength);
    BodyReader r;
    r.on_data = [&s](std::string_view) {
        CHECK_FALSE(s.resume());  // inside the callback: noted, not acted on
        return false;
    };
    s.set_reader(std::move(r), 100, 1s);
    CHECK(s.data("x") == Feed::more);
    CHECK_FALSE(s.paused());
}

TEST_CASE("a declared length over the limit is refused before reading") {
    IncomingBody s;
    s.expect(101);
    Log log;
    CHECK_FALSE(s.set_reader(logging_reader(log), 100, 1s));
    IncomingBody ok;
    ok.expect(100);
    CHECK(ok.set_reader(logging_reader(log), 100, 1s));
}

TEST_CASE("a chunked body is counted against the limit as it arrives") {
    IncomingBody s;
    s.expect(IncomingBody::kUnknownLength);
    Log log;
    BodyReader r = logging_reader(log);
    r.max_bytes = 5;
    s.set_reader(std::move(r), 100, 1s);
    CHECK(s.max_bytes() == 5);
    CHECK(s.data("12345") == Feed::more);
    CHECK(s.data("6") == Feed::too_large);
    CHECK(log.data == "12345");
}

TEST_CASE("held bytes over the limit are refused when handed over") {
    IncomingBody s;
    s.expect(IncomingBody::kUnknownLength);
    CHECK(s.data("123456") == Feed::pause);
    Log log;
    BodyReader r = logging_reader(log);
    r.max_bytes = 5;
    s.set_reader(std::move(r), 100, 1s);
    CHECK(s.deliver_held() == Feed::too_large);
    CHECK(log.data.empty());
}

TEST_CASE("the reader's timeout and limit default to the server's") {
    IncomingBody s;
    s.expect(1);
    Log log;
    s.set_reader(logging_reader(log), 42, 7s);
    CHECK(s.max_bytes() == 42);
    CHECK(s.timeout() == 7s);
    IncomingBody t;
    t.expect(1);
    BodyReader r = logging_reader(log);
    r.timeout = 3s;
    t.set_reader(std::move(r), 42, 7s);
    CHECK(t.timeout() == 3s);
}

TEST_CASE("exactly one of on_end and on_error runs") {
    Log log;
    IncomingBody s;
    s.expect(1);
    s.set_reader(logging_reader(log), 100, 1s);
    s.fail(408, "stalled");
    s.end();
    s.fail(400, "again");
    CHECK(log.ends == 0);
    CHECK(log.errors == std::vector<int>{408});
    CHECK(s.finished());

    Log log2;
    IncomingBody t;
    t.expect(1);
    t.set_reader(logging_reader(log2), 100, 1s);
    t.end();
    t.fail(0, "late");
    CHECK(log2.ends == 1);
    CHECK(log2.errors.empty());
}

TEST_CASE("a failure before any reader is remembered without a callback") {
    IncomingBody s;
    s.expect(1);
    s.fail(0, "gone");
    CHECK(s.finished());
    CHECK_FALSE(s.has_reader());
}

TEST_CASE("a throwing on_error is contained") {
    IncomingBody s;
    s.expect(1);
    BodyReader r;
    r.on_error = [](int, std::string_view) { throw 1; };
    s.set_reader(std::move(r), 100, 1s);
    s.fail(400, "bad");  // must not throw
    CHECK(s.finished());
}

TEST_CASE("reset forgets everything of the last request") {
    IncomingBody s;
    s.expect(3);
    s.data("abc");
    s.reset();
    CHECK_FALSE(s.expected());
    CHECK_FALSE(s.paused());
    CHECK_FALSE(s.has_reader());
    CHECK_FALSE(s.finished());
}

}  // TEST_SUITE("request/incoming_body")
