// Tests vstream::errc, its error category and Error (src/core/error.cpp).
#include <vstream/error.hpp>

#include <doctest/doctest.h>

#include <cerrno>
#include <cstring>
#include <ostream>  // doctest prints std::error_code through operator<<
#include <string>
#include <system_error>
#include <type_traits>

using vstream::errc;
using vstream::Error;

// The values are ABI (the C API uses them): negated Linux errno where one fits.
static_assert(static_cast<int>(errc::ok) == 0);
static_assert(static_cast<int>(errc::invalid_argument) == -EINVAL);
static_assert(static_cast<int>(errc::no_memory) == -ENOMEM);
static_assert(static_cast<int>(errc::address_in_use) == -EADDRINUSE);
static_assert(static_cast<int>(errc::address_not_available) == -EADDRNOTAVAIL);
static_assert(static_cast<int>(errc::permission_denied) == -EACCES);
static_assert(static_cast<int>(errc::timed_out) == -ETIMEDOUT);
static_assert(static_cast<int>(errc::canceled) == -ECANCELED);
static_assert(static_cast<int>(errc::io_error) == -EIO);
static_assert(static_cast<int>(errc::stopped) == -4000);
static_assert(static_cast<int>(errc::already_running) == -4001);
static_assert(std::is_error_code_enum_v<errc>);
static_assert(std::is_base_of_v<std::system_error, Error>);

namespace {

constexpr errc kAll[] = {errc::ok,
                         errc::invalid_argument,
                         errc::no_memory,
                         errc::address_in_use,
                         errc::address_not_available,
                         errc::permission_denied,
                         errc::timed_out,
                         errc::canceled,
                         errc::stopped,
                         errc::already_running,
                         errc::io_error};

}  // namespace

TEST_SUITE("core/error") {

TEST_CASE("every code has a non-empty message, the same through the category") {
    for (const errc e : kAll) {
        CAPTURE(static_cast<int>(e));
        const char* msg = vstream::error_message(e);
        REQUIRE(msg != nullptr);
        CHECK(std::strlen(msg) > 0);
        CHECK(std::string(msg) != "unknown error");
        CHECK(vstream::error_category().message(static_cast<int>(e)) == msg);
    }
}

TEST_CASE("every code's message is distinct") {
    for (const errc a : kAll) {
        for (const errc b : kAll) {
            if (a == b) continue;
            CAPTURE(static_cast<int>(a));
            CAPTURE(static_cast<int>(b));
            CHECK(std::string(vstream::error_message(a)) != vstream::error_message(b));
        }
    }
}

TEST_CASE("a value outside the enum still has a message") {
    const char* msg = vstream::error_message(static_cast<errc>(-9999));
    REQUIRE(msg != nullptr);
    CHECK(std::string(msg) == "unknown error");
    CHECK(vstream::error_category().message(12345) == "unknown error");
}

TEST_CASE("messages name the condition") {
    CHECK(std::string(vstream::error_message(errc::address_in_use)) == "address already in use");
    CHECK(std::string(vstream::error_message(errc::invalid_argument)) == "invalid argument");
    CHECK(std::string(vstream::error_message(errc::ok)) == "success");
}

TEST_CASE("the category is named vstream and is a single object") {
    CHECK(std::string(vstream::error_category().name()) == "vstream");
    CHECK(&vstream::error_category() == &vstream::error_category());
}

TEST_CASE("make_error_code carries the value and the vstream category") {
    const std::error_code ec = vstream::make_error_code(errc::address_in_use);
    CHECK(ec.value() == -EADDRINUSE);
    CHECK(&ec.category() == &vstream::error_category());
    CHECK(ec.message() == "address already in use");
    CHECK(static_cast<bool>(ec));
    CHECK_FALSE(static_cast<bool>(vstream::make_error_code(errc::ok)));
}

TEST_CASE("an errc converts implicitly to std::error_code") {
    const std::error_code ec = errc::timed_out;
    CHECK(ec.value() == -ETIMEDOUT);
    CHECK(std::string(ec.category().name()) == "vstream");
    CHECK(ec == errc::timed_out);
    CHECK(ec != errc::canceled);
    // Not the generic category: a vstream code is not std::errc::timed_out.
    CHECK(ec != std::make_error_code(std::errc::timed_out));
}

TEST_CASE("Error carries its code and message") {
    const Error e(errc::address_in_use, "bind 127.0.0.1 port 80");
    CHECK(e.errc_code() == errc::address_in_use);
    CHECK(e.code() == errc::address_in_use);
    CHECK(&e.code().category() == &vstream::error_category());
    const std::string what = e.what();
    CHECK(what.find("bind 127.0.0.1 port 80") != std::string::npos);
}

TEST_CASE("detail() is the constructor's message, without the code's text after it") {
    const Error e(errc::route_conflict, "GET route '/a' is already registered");
    CHECK(std::string(e.what()) == "GET route '/a' is already registered: route conflict");
    CHECK(e.detail() == "GET route '/a' is already registered");
    const Error empty(errc::stopped, "");
    CHECK(empty.detail() == "");
    // A message that merely ends like the code's text keeps it.
    const Error odd(errc::stopped, "server stopped");
    CHECK(odd.detail() == "server stopped");
}

TEST_CASE("Error is catchable as std::system_error and std::exception") {
    bool caught = false;
    try {
        throw Error(errc::stopped, "stopped!");
    } catch (const std::system_error& e) {
        caught = true;
        CHECK(e.code() == errc::stopped);
        CHECK(std::string(e.what()).find("stopped!") != std::string::npos);
    }
    CHECK(caught);
    CHECK_THROWS_AS(throw Error(errc::io_error, "x"), std::exception);
}

}  // TEST_SUITE("core/error")
