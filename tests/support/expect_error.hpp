// A check that a call throws vstream::Error with a given code.
#pragma once

#include <vstream/error.hpp>

#include <doctest/doctest.h>

#include <string>
#include <utility>

namespace vstream::test {

/// Checks that `fn` throws vstream::Error with `code`; returns its what(), or "" (a failed
/// check) if nothing was thrown.
template <class Fn>
std::string expect_error(errc code, Fn&& fn) {
    try {
        std::forward<Fn>(fn)();
    } catch (const Error& e) {
        CHECK(e.errc_code() == code);
        return e.what();
    }
    FAIL_CHECK("no vstream::Error thrown");
    return {};
}

}  // namespace vstream::test
