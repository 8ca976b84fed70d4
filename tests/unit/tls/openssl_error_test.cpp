// Tests take_openssl_error and throw_openssl_error (src/tls/openssl_error.cpp): the earliest
// error is reported with its detail, system failures are told apart, and the queue is emptied.
#include "tls/openssl_error.hpp"

#include <vstream/error.hpp>

#include "expect_error.hpp"

#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <string>

using vstream::errc;
using vstream::tls::OpensslError;
using vstream::tls::take_openssl_error;
using vstream::tls::throw_openssl_error;

namespace {

// Fails to open a missing file: a system error (fopen), then BIO's own.
void fail_on_a_missing_file() {
    BIO* b = BIO_new_file("/nonexistent-vstream-dir/x.pem", "r");
    REQUIRE(b == nullptr);
}

// Fails to read PEM from bytes that hold none: a parse error, no system call involved.
void fail_on_bytes_without_pem() {
    static const char kJunk[] = "this is not PEM\n";
    BIO* b = BIO_new_mem_buf(kJunk, sizeof kJunk - 1);
    REQUIRE(b != nullptr);
    X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    CHECK(x == nullptr);
    BIO_free(b);
}

}  // namespace

TEST_SUITE("tls/openssl_error") {

TEST_CASE("an empty queue says so") {
    ERR_clear_error();
    const OpensslError e = take_openssl_error();
    CHECK(e.reason == "no error reported by OpenSSL");
    CHECK_FALSE(e.system);
}

TEST_CASE("a file that cannot be opened is a system error with OpenSSL's detail") {
    fail_on_a_missing_file();
    const OpensslError e = take_openssl_error();
    CAPTURE(e.reason);
    CHECK(e.system);
    CHECK(e.reason.find("No such file or directory") != std::string::npos);
    CHECK(e.reason.find("/nonexistent-vstream-dir/x.pem") != std::string::npos);
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("a parse failure is no system error") {
    fail_on_bytes_without_pem();
    const OpensslError e = take_openssl_error();
    CAPTURE(e.reason);
    CHECK_FALSE(e.system);
    CHECK(e.reason.find("no start line") != std::string::npos);
    CHECK(ERR_peek_error() == 0);
}

TEST_CASE("throw_openssl_error keeps the given code unless a system call failed") {
    fail_on_bytes_without_pem();
    std::string what = vstream::test::expect_error(
        errc::invalid_argument, [] { throw_openssl_error(errc::invalid_argument, "reading x"); });
    CHECK(what.starts_with("reading x: error:"));
    CHECK(ERR_peek_error() == 0);

    fail_on_a_missing_file();
    what = vstream::test::expect_error(
        errc::io_error, [] { throw_openssl_error(errc::invalid_argument, "reading y"); });
    CHECK(what.starts_with("reading y: error:"));
    CHECK(ERR_peek_error() == 0);
}

}  // TEST_SUITE("tls/openssl_error")
