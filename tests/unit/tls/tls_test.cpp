// Tests TlsOptions (src/tls/tls.cpp): the documented defaults, and validate() refusing each
// bad field by name.
#include <vstream/error.hpp>
#include <vstream/tls.hpp>

#include "expect_error.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

using vstream::errc;
using vstream::TlsOptions;
using vstream::TlsVersion;
using vstream::test::expect_error;
using namespace std::chrono_literals;

namespace {

// Valid options: one certificate (validate() reads no file, so the paths need not exist).
TlsOptions valid() {
    TlsOptions o;
    o.certificates = {{"/etc/vstream/server.pem", "/etc/vstream/server.key"}};
    return o;
}

// validate()'s message for `o`, checking it is an invalid_argument.
std::string refusal(const TlsOptions& o) {
    return expect_error(errc::invalid_argument, [&] { o.validate(); });
}

}  // namespace

TEST_SUITE("tls/tls") {

TEST_CASE("the defaults are the documented ones") {
    const TlsOptions o;
    CHECK(o.certificates.empty());
    CHECK(o.ciphers ==
          "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
          "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
          "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
          "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305");
    CHECK(o.ciphersuites ==
          "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
    CHECK(o.min_version == TlsVersion::tls1_2);
    CHECK(o.alpn == std::vector<std::string>{"http/1.1"});
    CHECK(o.session_cache_size == 20480);
    CHECK(o.session_timeout == 300s);
    CHECK(o.session_tickets);
    CHECK(o.ticket_key_rotation == 1h);
    CHECK(o.client_ca_file.empty());
    CHECK(o.require_client_certificate);
}

TEST_CASE("the defaults with one certificate are valid") { CHECK_NOTHROW(valid().validate()); }

TEST_CASE("the defaults without a certificate are refused") {
    CHECK(refusal(TlsOptions{}).find("TlsOptions.certificates must hold at least one") !=
          std::string::npos);
}

TEST_CASE("boundary values that are allowed validate") {
    TlsOptions o = valid();
    o.min_version = TlsVersion::tls1_3;
    o.ciphers = "";  // unused without TLS 1.2
    o.alpn = {};
    o.session_cache_size = 0;
    o.session_timeout = 1s;
    o.ticket_key_rotation = 1s;
    CHECK_NOTHROW(o.validate());
    o.alpn = {std::string(255, 'p'), "h2", "http/1.1"};
    o.session_cache_size = std::size_t{1} << 24;
    o.session_timeout = 7 * 24h;
    o.ticket_key_rotation = 7 * 24h;
    o.session_tickets = false;
    o.client_ca_file = "/etc/vstream/clients.pem";
    o.require_client_certificate = false;
    CHECK_NOTHROW(o.validate());
}

TEST_CASE("each invalid field is refused by name") {
    struct Row {
        const char* what;
        void (*spoil)(TlsOptions&);
        const char* message;
    };
    const Row rows[] = {
        {"empty cert file", [](TlsOptions& o) { o.certificates[0].cert_file = ""; },
         "TlsOptions.certificates[0].cert_file must not be empty"},
        {"empty key file of the second pair",
         [](TlsOptions& o) {
             o.certificates.push_back({"/b.pem", ""});
         },
         "TlsOptions.certificates[1].key_file must not be empty"},
        {"NUL in a cert path",
         [](TlsOptions& o) { o.certificates[0].cert_file = std::string("/a\0b", 4); },
         "TlsOptions.certificates[0].cert_file must not hold a NUL byte"},
        {"NUL in a key path",
         [](TlsOptions& o) { o.certificates[0].key_file = std::string("/a\0b", 4); },
         "TlsOptions.certificates[0].key_file must not hold a NUL byte"},
        {"a min_version that is no TlsVersion",
         [](TlsOptions& o) { o.min_version = static_cast<TlsVersion>(7); },
         "TlsOptions.min_version must be"},
        {"empty TLS 1.2 ciphers", [](TlsOptions& o) { o.ciphers = ""; },
         "TlsOptions.ciphers must not be empty"},
        {"NUL in ciphers", [](TlsOptions& o) { o.ciphers = std::string("HIGH\0x", 6); },
         "TlsOptions.ciphers must not hold a NUL byte"},
        {"empty ciphersuites", [](TlsOptions& o) { o.ciphersuites = ""; },
         "TlsOptions.ciphersuites must not be empty"},
        {"NUL in ciphersuites",
         [](TlsOptions& o) { o.ciphersuites = std::string("TLS_AES_128_GCM_SHA256\0", 23); },
         "TlsOptions.ciphersuites must not hold a NUL byte"},
        {"an empty ALPN entry",
         [](TlsOptions& o) {
             o.alpn = {"h2", ""};
         },
         "TlsOptions.alpn[1] must be 1 to 255 bytes long"},
        {"an ALPN entry of 256 bytes", [](TlsOptions& o) { o.alpn = {std::string(256, 'p')}; },
         "TlsOptions.alpn[0] must be 1 to 255 bytes long"},
        {"a session cache above 2^24",
         [](TlsOptions& o) { o.session_cache_size = (std::size_t{1} << 24) + 1; },
         "TlsOptions.session_cache_size must be at most"},
        {"a zero session timeout", [](TlsOptions& o) { o.session_timeout = 0s; },
         "TlsOptions.session_timeout must be from 1 s to 7 days"},
        {"a session timeout above 7 days", [](TlsOptions& o) { o.session_timeout = 7 * 24h + 1s; },
         "TlsOptions.session_timeout must be from 1 s to 7 days"},
        {"a negative ticket key rotation", [](TlsOptions& o) { o.ticket_key_rotation = -1s; },
         "TlsOptions.ticket_key_rotation must be from 1 s to 7 days"},
        {"a ticket key rotation above 7 days",
         [](TlsOptions& o) { o.ticket_key_rotation = 8 * 24h; },
         "TlsOptions.ticket_key_rotation must be from 1 s to 7 days"},
        {"NUL in the client CA path",
         [](TlsOptions& o) { o.client_ca_file = std::string("/ca\0", 4); },
         "TlsOptions.client_ca_file must not hold a NUL byte"},
    };
    for (const Row& row : rows) {
        CAPTURE(row.what);
        TlsOptions o = valid();
        row.spoil(o);
        const std::string what = refusal(o);
        CHECK(what.find(row.message) != std::string::npos);
    }
}

}  // TEST_SUITE("tls/tls")
