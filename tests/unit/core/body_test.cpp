// Tests Body (src/core/body.cpp): owned and borrowed bytes, moves, and release exactly once.
#include <vstream/body.hpp>

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

using vstream::Body;

TEST_SUITE("core/body") {

TEST_CASE("a default body is empty and owned") {
    const Body b;
    CHECK(b.empty());
    CHECK(b.size() == 0);
    CHECK(b.view().empty());
    CHECK(b.owned());
}

TEST_CASE("a string body owns its bytes without copying them") {
    std::string s(1000, 'x');
    const char* data = s.data();
    const Body b(std::move(s));
    CHECK(b.owned());
    CHECK(b.size() == 1000);
    CHECK(b.view() == std::string(1000, 'x'));
    CHECK(b.view().data() == data);  // moved, not copied (heap buffer)
}

TEST_CASE("a literal body holds a copy of the text") {
    const char text[] = "hello";
    const Body b(text);
    CHECK(b.owned());
    CHECK(b.view() == "hello");
    CHECK(b.view().data() != text);
}

TEST_CASE("copy() takes its own copy of the bytes") {
    std::string src = "some bytes";
    const Body b = Body::copy(src);
    src.assign("XXXXXXXXXX");
    CHECK(b.owned());
    CHECK(b.view() == "some bytes");
    CHECK(b.view().data() != src.data());
}

TEST_CASE("copy() of an empty view is an empty owned body") {
    const Body b = Body::copy({});
    CHECK(b.empty());
    CHECK(b.owned());
}

TEST_CASE("a borrowed body views the caller's memory") {
    static const char kBytes[] = "borrowed bytes";
    const Body b = Body::borrow(std::string_view(kBytes), std::shared_ptr<const void>());
    CHECK_FALSE(b.owned());
    CHECK(b.view().data() == kBytes);
    CHECK(b.size() == sizeof kBytes - 1);
}

TEST_CASE("a borrowed body holds its shared_ptr keeper until destroyed") {
    auto keeper = std::make_shared<std::string>("kept alive");
    std::weak_ptr<std::string> weak = keeper;
    {
        const Body b = Body::borrow(*keeper, keeper);
        keeper.reset();
        REQUIRE_FALSE(weak.expired());
        CHECK(b.view() == "kept alive");
    }
    CHECK(weak.expired());
}

TEST_CASE("a borrowed body's keeper is dropped by reset()") {
    auto keeper = std::make_shared<int>(7);
    Body b = Body::borrow("abc", keeper);
    CHECK(keeper.use_count() == 2);
    b.reset();
    CHECK(keeper.use_count() == 1);
    CHECK(b.empty());
    CHECK(b.owned());
}

TEST_CASE("the release function runs exactly once, on destruction") {
    int released = 0;
    {
        const Body b = Body::borrow("data", [&released] { ++released; });
        CHECK(released == 0);
        CHECK(b.view() == "data");
    }
    CHECK(released == 1);
}

TEST_CASE("the release function runs exactly once on reset(), not again on destruction") {
    int released = 0;
    {
        Body b = Body::borrow("data", [&released] { ++released; });
        b.reset();
        CHECK(released == 1);
        CHECK(b.empty());
        b.reset();
        CHECK(released == 1);
    }
    CHECK(released == 1);
}

TEST_CASE("an empty release function is allowed") {
    { const Body b = Body::borrow("data", std::function<void()>()); }
    CHECK(true);
}

TEST_CASE("a moved borrowed body keeps the view, and the moved-from one is empty") {
    int released = 0;
    static const char kBytes[] = "borrowed";
    {
        Body a = Body::borrow(std::string_view(kBytes), [&released] { ++released; });
        Body b(std::move(a));
        CHECK(released == 0);
        CHECK(a.empty());  // NOLINT(bugprone-use-after-move): documented state
        CHECK(a.owned());  // NOLINT(bugprone-use-after-move)
        CHECK_FALSE(b.owned());
        CHECK(b.view().data() == kBytes);
        Body c;
        c = std::move(b);
        CHECK(released == 0);
        CHECK(b.empty());  // NOLINT(bugprone-use-after-move)
        CHECK(c.view() == "borrowed");
        a.reset();
        b.reset();
        CHECK(released == 0);
    }
    CHECK(released == 1);
}

TEST_CASE("a moved owned body with a short (SSO) string still views its own bytes") {
    Body a(std::string("short"));
    Body b(std::move(a));
    CHECK(b.view() == "short");
    CHECK(b.size() == 5);
    CHECK(a.empty());  // NOLINT(bugprone-use-after-move)
    // The view must point into b, not into a's (now cleared) small buffer.
    a = Body(std::string("other"));
    CHECK(b.view() == "short");

    Body c;
    c = std::move(b);
    CHECK(c.view() == "short");
    CHECK(b.empty());  // NOLINT(bugprone-use-after-move)
    b = Body(std::string("zzzzz"));
    CHECK(c.view() == "short");
}

TEST_CASE("a moved owned body with a long string views the same heap bytes") {
    std::string s(4096, 'q');
    const char* data = s.data();
    Body a(std::move(s));
    Body b(std::move(a));
    CHECK(b.view().data() == data);
    CHECK(b.size() == 4096);
    CHECK(a.size() == 0);  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("move assignment releases the target's old borrowed bytes once") {
    int old_released = 0;
    int new_released = 0;
    {
        Body target = Body::borrow("old", [&old_released] { ++old_released; });
        Body source = Body::borrow("new", [&new_released] { ++new_released; });
        target = std::move(source);
        CHECK(old_released == 1);
        CHECK(new_released == 0);
        CHECK(target.view() == "new");
    }
    CHECK(old_released == 1);
    CHECK(new_released == 1);
}

TEST_CASE("move assignment of an owned body over a borrowed one releases the borrowed bytes") {
    int released = 0;
    Body target = Body::borrow("old", [&released] { ++released; });
    target = Body(std::string("owned now"));
    CHECK(released == 1);
    CHECK(target.owned());
    CHECK(target.view() == "owned now");
}

TEST_CASE("move assignment of a borrowed body over an owned one views the borrowed bytes") {
    static const char kBytes[] = "borrowed";
    Body target(std::string(100, 'o'));
    target = Body::borrow(std::string_view(kBytes), std::shared_ptr<const void>());
    CHECK_FALSE(target.owned());
    CHECK(target.view().data() == kBytes);
}

TEST_CASE("self move assignment leaves the body intact") {
    int released = 0;
    Body b = Body::borrow("self", [&released] { ++released; });
    Body& alias = b;
    b = std::move(alias);
    CHECK(released == 0);
    CHECK(b.view() == "self");
}

TEST_CASE("moving a borrowed body transfers its keeper without adding a reference") {
    auto keeper = std::make_shared<int>(1);
    Body a = Body::borrow("x", keeper);
    Body b(std::move(a));
    CHECK(keeper.use_count() == 2);
    b.reset();
    CHECK(keeper.use_count() == 1);
}

}  // TEST_SUITE("core/body")
