// Tests the SNI name rules (src/tls/sni_names.cpp): which patterns are usable, exact and
// wildcard matching (RFC 6125 §6.4.3), the names read from certificates (subjectAltName,
// else CN), and SniTable's choice among certificates.
#include "tls/sni_names.hpp"

#include "test_certs.hpp"
#include "tls/openssl_ptr.hpp"

#include <doctest/doctest.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

using vstream::tls::certificate_names;
using vstream::tls::is_usable_pattern;
using vstream::tls::name_matches;
using vstream::tls::SniTable;
using vstream::tls::X509Ptr;
using Names = std::vector<std::string>;

namespace {

X509Ptr read_certificate(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "r");
    REQUIRE(f != nullptr);
    X509Ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    REQUIRE(cert);
    return cert;
}

// A bare certificate (never signed: only its names are read) with a subject CN, if given, and
// a subjectAltName of `dns` entries (bytes as given, NULs included) and `ips`.
X509Ptr certificate_with(const char* cn, const Names& dns, const Names& ips = {}) {
    X509Ptr cert(X509_new());
    REQUIRE(cert);
    if (cn != nullptr) {
        REQUIRE(X509_NAME_add_entry_by_NID(
                    X509_get_subject_name(cert.get()), NID_commonName, MBSTRING_UTF8,
                    reinterpret_cast<const unsigned char*>(cn), -1, -1, 0) == 1);
    }
    if (dns.empty() && ips.empty()) return cert;
    const vstream::tls::GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
    REQUIRE(names);
    const auto add = [&](int type, const std::string& bytes) {
        GENERAL_NAME* name = GENERAL_NAME_new();
        ASN1_STRING* value = type == GEN_DNS ? ASN1_IA5STRING_new() : ASN1_OCTET_STRING_new();
        REQUIRE(ASN1_STRING_set(value, bytes.data(), static_cast<int>(bytes.size())) == 1);
        GENERAL_NAME_set0_value(name, type, value);
        REQUIRE(sk_GENERAL_NAME_push(names.get(), name) > 0);
    };
    for (const std::string& d : dns) add(GEN_DNS, d);
    for (const std::string& ip : ips) add(GEN_IPADD, ip);
    REQUIRE(X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, names.get(), 0,
                              X509V3_ADD_DEFAULT) == 1);
    return cert;
}

// What SniTable::find must give: the first certificate with an exact match, else the first
// with a wildcard match.
std::optional<std::size_t> brute_force(const std::vector<Names>& table, const std::string& host) {
    for (int wildcard = 0; wildcard < 2; ++wildcard) {
        for (std::size_t i = 0; i < table.size(); ++i) {
            for (const std::string& p : table[i]) {
                if ((p.starts_with("*.") == (wildcard == 1)) && name_matches(p, host)) return i;
            }
        }
    }
    return std::nullopt;
}

}  // namespace

TEST_SUITE("tls/sni_names") {

TEST_CASE("usable patterns: plain names, and a wildcard as a whole first label over two") {
    for (const char* p : {"localhost", "a.example.test", "*.example.test", "*.a.b.c", "x_y.test",
                          "xn--bcher-kva.example"}) {
        CAPTURE(p);
        CHECK(is_usable_pattern(p));
    }
    const std::string longest = std::string(249, 'a') + ".com";
    CHECK(is_usable_pattern(longest));
    CHECK_FALSE(is_usable_pattern(longest + "m"));  // 254 bytes
    for (const char* p : {"", "*", "*.", "*.com", "f*.example.test", "a.*.example.test",
                          "*.*.example.test", "**.example.test", ".example.test", "example.test.",
                          "a..test", "*..test", "*.test.", "*example.test"}) {
        CAPTURE(p);
        CHECK_FALSE(is_usable_pattern(p));
    }
}

TEST_CASE("exact names match ignoring ASCII case only") {
    CHECK(name_matches("a.example.test", "a.example.test"));
    CHECK(name_matches("a.example.test", "A.EXAMPLE.TEST"));
    CHECK(name_matches("A.Example.Test", "a.example.test"));
    CHECK_FALSE(name_matches("a.example.test", "a.example.test."));
    CHECK_FALSE(name_matches("a.example.test", "b.example.test"));
    CHECK_FALSE(name_matches("a.example.test", "aa.example.test"));
    CHECK_FALSE(name_matches("a.example.test", ""));
}

TEST_CASE("a wildcard matches exactly one non-empty label") {
    struct Row {
        const char* host;
        bool matches;
    };
    const Row rows[] = {
        {"x.wild.example.test", true},       {"X.WILD.Example.TEST", true},
        {"xn--abc.wild.example.test", true}, {"a.b.wild.example.test", false},
        {"wild.example.test", false},        {".wild.example.test", false},
        {"x.wild.example.tes", false},       {"x.mild.example.test", false},
        {"xwild.example.test", false},       {"", false},
    };
    for (const Row& row : rows) {
        CAPTURE(row.host);
        CHECK(name_matches("*.wild.example.test", row.host) == row.matches);
    }
    CHECK_FALSE(name_matches("*.com", "example.com"));  // not usable
    CHECK_FALSE(name_matches("f*.example.test", "foo.example.test"));
}

TEST_CASE("the test certificates present their subjectAltName DNS names, lowercased") {
    const auto& c = vstream::test::test_certs();
    CHECK(certificate_names(read_certificate(c.localhost.cert_file).get()) == Names{"localhost"});
    CHECK(certificate_names(read_certificate(c.a_example.cert_file).get()) ==
          Names{"a.example.test"});
    CHECK(certificate_names(read_certificate(c.wild.cert_file).get()) ==
          Names{"*.wild.example.test"});
    CHECK(certificate_names(read_certificate(c.cn_only.cert_file).get()) ==
          Names{"cn.example.test"});
}

TEST_CASE("the CN counts only when there is no DNS subjectAltName") {
    CHECK(certificate_names(certificate_with("cn.test", {"San.Test", "*.Wild.Test"}).get()) ==
          Names{"san.test", "*.wild.test"});
    CHECK(certificate_names(certificate_with("CN.Test", {}).get()) == Names{"cn.test"});
    CHECK(certificate_names(
              certificate_with("cn.test", {}, {std::string("\x7f\0\0\x01", 4)}).get()) ==
          Names{"cn.test"});  // an IP-only subjectAltName
    CHECK(certificate_names(certificate_with(nullptr, {}).get()).empty());
    // A DNS entry that is unusable still rules the CN out.
    CHECK(certificate_names(certificate_with("cn.test", {"*.com"}).get()).empty());
}

TEST_CASE("names with a NUL byte or unusable patterns are dropped") {
    const std::string with_nul("good.test\0.evil.test", 20);
    CHECK(certificate_names(
              certificate_with(nullptr, {with_nul, "ok.test", "a.*.test", "*.two.test"}).get()) ==
          Names{"ok.test", "*.two.test"});
}

TEST_CASE("the table prefers an exact name, then the first certificate") {
    const std::vector<Names> table = {
        {"localhost"},
        {"*.example.test", "shared.test"},
        {"a.example.test", "shared.test", "*.example.test"},
        {"*.b.example.test"},
        {"Upper.Test"},
    };
    const SniTable sni(table);
    struct Row {
        const char* host;
        std::optional<std::size_t> chosen;
    };
    const Row rows[] = {
        {"localhost", 0},
        {"a.example.test", 2},    // exact beats the earlier wildcard
        {"z.example.test", 1},    // the first wildcard
        {"shared.test", 1},       // the first exact
        {"x.b.example.test", 3},  // one label under *.b.example.test
        {"b.example.test", 1},    // and b itself is one label under *.example.test
        {"upper.test", 4},
        {"UPPER.TEST", 4},
        {"example.test", std::nullopt},
        {"x.y.example.test", std::nullopt},
        {"", std::nullopt},
        {"nothing", std::nullopt},
    };
    for (const Row& row : rows) {
        CAPTURE(row.host);
        CHECK(sni.find(row.host) == row.chosen);
        CHECK(brute_force(table, row.host) == row.chosen);
    }
    CHECK_FALSE(sni.find(std::string(254, 'a')).has_value());
    CHECK_FALSE(SniTable().find("localhost").has_value());
}

}  // TEST_SUITE("tls/sni_names")
