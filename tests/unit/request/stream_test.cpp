// StreamWriter's public face (src/request/stream.cpp): a detached writer, and the checks made
// before the shared state is reached. Streams over a connection are tested in
// tests/unit/request/streamed_body_test.cpp and tests/integration/streaming_test.cpp.
#include <vstream/error.hpp>
#include <vstream/stream.hpp>

#include <doctest/doctest.h>

TEST_SUITE("request/stream") {

TEST_CASE("a detached writer drops writes, is closed, and runs on_close at once") {
    vstream::StreamWriter w;
    CHECK_FALSE(w);
    CHECK(w.closed());
    CHECK_FALSE(w.write(vstream::Body("x")));
    CHECK(w.queued() == 0);
    bool closed = false;
    w.on_close([&] { closed = true; });
    CHECK(closed);
    w.on_drain([] {});
    w.end({{"X-Done", "1"}});  // ignored, never throws
}

}  // TEST_SUITE("request/stream")
