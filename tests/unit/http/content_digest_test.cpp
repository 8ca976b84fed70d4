// Tests Content-Digest / Repr-Digest parsing and formatting (src/http/content_digest.cpp):
// RFC 9530's examples, the sha-256 member among others, and RFC 8941 Dictionary syntax.
#include "http/content_digest.hpp"

#include "crypto/sha256.hpp"

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

using vstream::crypto::Sha256Digest;
using vstream::http::DigestField;
using vstream::http::format_sha256_digest;
using vstream::http::parse_digest_field;
using Kind = DigestField::Kind;

namespace {

// RFC 9530's running example: the content {"hello": "world"}, and the same with a final LF.
constexpr std::string_view kHelloB64 = "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=";
constexpr std::string_view kHelloHex =
    "5f8f04f6a3a892aaabbddb6cf273894493773960d4a325b105fee46eef4304f1";
constexpr std::string_view kHelloLfB64 = "RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=";
constexpr std::string_view kHelloSha512 =
    "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJw"
    "ew==:";

std::string sha256_member(std::string_view b64) { return "sha-256=:" + std::string(b64) + ":"; }

const char* name(Kind k) {
    switch (k) {
        case Kind::none: return "none";
        case Kind::sha256: return "sha256";
        case Kind::malformed: return "malformed";
    }
    return "?";
}

// The kind, and for sha256 the digest in hex: "sha256 5f8f...".
std::string describe(std::string_view value) {
    const DigestField f = parse_digest_field(value);
    std::string s = name(f.kind);
    if (f.kind == Kind::sha256) s += " " + vstream::crypto::to_hex(f.sha256);
    if (f.kind != Kind::sha256 && f.sha256 != Sha256Digest{}) s += " (digest not zeroed)";
    return s;
}

const std::string kHello = "sha256 " + std::string(kHelloHex);

}  // namespace

TEST_SUITE("http/content_digest") {

TEST_CASE("RFC 9530's examples give their sha-256 digest") {
    CHECK(describe(sha256_member(kHelloB64)) == kHello);
    CHECK(describe(sha256_member(kHelloLfB64)) ==
          "sha256 44aff4ab2d7c3250525675a08f0cfa9591168cffe51791c5f5bbc417c15a6c38");
    CHECK(describe(sha256_member(kHelloB64) + ", " + std::string(kHelloSha512)) == kHello);
}

TEST_CASE("the sha-256 member is found among several algorithms, in any position") {
    const std::string ours = sha256_member(kHelloB64);
    for (const std::string& value : std::vector<std::string>{
             std::string(kHelloSha512) + ", " + ours,
             std::string(kHelloSha512) + "," + ours + ",unixsum=:AAAA:",
             "md5=:AAAAAAAAAAAAAAAAAAAAAA==:, " + ours + ", sha-512=:AA==:",
             "adler=:AAAA:, " + ours,
         }) {
        CAPTURE(value);
        CHECK(describe(value) == kHello);
    }
}

TEST_CASE("a field without a sha-256 member is valid but has none") {
    for (const std::string_view value : std::vector<std::string_view>{
             kHelloSha512,
             "sha-512=:AA==:, md5=:AAAA:",
             "",     // an empty Dictionary (RFC 8941 §3.2)
             "   ",  // only SP
             "sha=:AAAA:",
             "sha-2560=:AAAA:",
             "xsha-256=:AAAA:",
         }) {
        CAPTURE(value);
        CHECK(describe(value) == "none");
    }
}

TEST_CASE("other algorithms may hold values of any type: they are ignored") {
    const std::string ours = sha256_member(kHelloB64);
    for (const std::string& value : std::vector<std::string>{
             "foo=1, " + ours, "foo=-1.5, " + ours, "foo=\"a \\\"quoted\\\" \\\\ string\", " + ours,
             "foo=tok/en:x, " + ours, "foo=*tok, " + ours, "foo=?0, " + ours,
             "foo, " + ours,                    // a bare key is Boolean true
             "foo;a=1;b, " + ours,              // with parameters
             "foo=(1 2 :AA==:);p=?1, " + ours,  // an Inner List
             "foo=(), " + ours, "*foo=1, " + ours, "a.b_c-d*9=1, " + ours,
             "foo=123456789012345, " + ours,   // 15 digits, the most for an Integer
             "foo=123456789012.123, " + ours,  // the most for a Decimal
         }) {
        CAPTURE(value);
        CHECK(describe(value) == kHello);
    }
}

TEST_CASE("parameters after the sha-256 member are allowed and ignored") {
    const std::string ours = sha256_member(kHelloB64);
    for (const std::string& value : std::vector<std::string>{
             ours + ";a",
             ours + ";a=1;b=?0;c=\"x\";d=:AA==:;e=tok",
             ours + "; a=1",  // SP is allowed after ';'
             ours + ";a=1, sha-512=:AA==:;b",
         }) {
        CAPTURE(value);
        CHECK(describe(value) == kHello);
    }
}

TEST_CASE("a sha-256 value that is not a 32-byte Byte Sequence is malformed") {
    for (const std::string& value : std::vector<std::string>{
             sha256_member(""),                                               // empty
             sha256_member("AAAA"),                                           // 3 bytes
             sha256_member("X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBA=="),   // 31 bytes
             sha256_member(std::string(kHelloB64.substr(0, 43)) + "AAAA"),    // 35 bytes
             std::string("sha-256=:") + std::string(kHelloSha512.substr(9)),  // 64 bytes
             std::string("sha-256=\"") + std::string(kHelloB64) + "\"",       // a String
             std::string("sha-256=") + std::string(kHelloHex),                // hex: an Integer...
             "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE",           // ...a Token
             "sha-256",                                                       // Boolean true
             "sha-256;a=1", "sha-256=?1", "sha-256=1",
             "sha-256=(" + sha256_member(kHelloB64).substr(8) + ")",  // an Inner List
         }) {
        CAPTURE(value);
        CHECK(describe(value) == "malformed");
    }
}

TEST_CASE("bad base64 in a Byte Sequence makes the field malformed") {
    for (const std::string& value : std::vector<std::string>{
             sha256_member("X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE!"),  // '!'
             sha256_member("X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9D-PE="),  // url alphabet
             sha256_member("X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9D_PE="),
             sha256_member("X48E9qOokqqrvdts8nOJRJN3OWDUoy=xBf7kbu9DBPE="),   // '=' inside
             sha256_member("X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=="),  // too much padding
             sha256_member(std::string(kHelloB64.substr(0, 43)) + "AA"),      // 4n+1 characters
             sha256_member("X48E9qOokqqrvdts8nOJ RJN3OWDUoyWxBf7kbu9DBPE="),  // a space inside
             "sha-512=:A!==:, " + sha256_member(kHelloB64),  // in another member too
         }) {
        CAPTURE(value);
        CHECK(describe(value) == "malformed");
    }
}

TEST_CASE("missing padding and non-zero trailing bits are accepted (RFC 8941 §4.2.7)") {
    CHECK(describe(sha256_member(kHelloB64.substr(0, 43))) == kHello);  // no '='
    // 'E' = 0b000100 ends in 00; 'F' ends in 01: the 2 bits that carry no data.
    CHECK(describe(sha256_member("X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPF=")) == kHello);
}

TEST_CASE("a repeated sha-256 key takes its last value (RFC 8941 §4.2.2)") {
    const std::string ours = sha256_member(kHelloB64);
    const std::string other = sha256_member(kHelloLfB64);
    CHECK(describe(other + ", " + ours) == kHello);
    CHECK(describe("sha-256=:AAAA:, " + ours) == kHello);  // a bad value overwritten
    CHECK(describe(ours + ", sha-256=:AAAA:") == "malformed");
    CHECK(describe(ours + ", sha-256") == "malformed");
}

TEST_CASE("malformed Dictionary syntax makes the whole field malformed") {
    const std::string ours = sha256_member(kHelloB64);
    for (const std::string& value : std::vector<std::string>{
             "SHA-256=:" + std::string(kHelloB64) + ":",  // keys are lowercase
             "Sha-256=:" + std::string(kHelloB64) + ":",
             ours + ",",  // a trailing comma
             ours + ", ",
             "," + ours,                            // a leading comma
             ours + ",," + ours,                    // an empty member
             ours + " " + ours,                     // no comma
             ours + "; ",                           // ';' without a key
             ours + ";A=1",                         // an upper-case parameter key
             ours + ";a=",                          // '=' without a value
             "sha-256=:" + std::string(kHelloB64),  // no closing ':'
             "sha-256=",                            // '=' without a value
             "=:" + std::string(kHelloB64) + ":",   // no key
             "1abc=1, " + ours,                     // a key starting with a digit
             "-abc=1, " + ours,
             "foo=\"unterminated, " + ours,
             "foo=\"bad \\escape\", " + ours,
             "foo=\"tab\tinside\", " + ours,
             "foo=1234567890123456, " + ours,  // 16 digits
             "foo=1234567890123.1, " + ours,   // 13 integer digits in a Decimal
             "foo=1.1234, " + ours,            // 4 fraction digits
             "foo=1., " + ours,                // no fraction digit
             "foo=-, " + ours,
             "foo=-a, " + ours,
             "foo=?2, " + ours,
             "foo=?, " + ours,
             "foo=(1 2, " + ours,  // an unclosed Inner List
             "foo=(1,2), " + ours,
             "foo=@1659578233, " + ours,  // a Date: RFC 9651, not RFC 8941
             "foo=%\"x\", " + ours,       // a Display String, likewise
             "foo=&, " + ours,
             ours + "\xc3\xa9",  // non-ASCII
         }) {
        CAPTURE(value);
        CHECK(describe(value) == "malformed");
    }
}

TEST_CASE("whitespace follows RFC 8941: SP around the value, OWS around commas only") {
    const std::string ours = sha256_member(kHelloB64);
    const std::string sha512(kHelloSha512);
    // Allowed.
    for (const std::string& value : std::vector<std::string>{
             "  " + ours,              // leading SP (§4.2)
             ours + "   ",             // trailing SP
             ours + "\t",              // trailing HTAB: OWS after a member (§4.2.2)
             sha512 + " ,\t " + ours,  // OWS on both sides of ','
             sha512 + "\t,\t" + ours,
             "foo=(1  2   3), " + ours,  // several SP inside an Inner List
             "foo=( 1 2 ), " + ours,
         }) {
        CAPTURE(value);
        CHECK(describe(value) == kHello);
    }
    // Refused.
    for (const std::string& value : std::vector<std::string>{
             "\t" + ours,                                  // leading HTAB: only SP (§4.2)
             "sha-256 =:" + std::string(kHelloB64) + ":",  // SP before '='
             "sha-256= :" + std::string(kHelloB64) + ":",  // SP after '='
             ours + " ;a=1",                               // SP before ';'
             ours + ";a =1",
             ours + ";a= 1",
             "foo=(1\t2), " + ours,  // HTAB inside an Inner List
             "foo=(1 2) ;a, " + ours,
             "\n" + ours,
             ours + "\r\n",
         }) {
        CAPTURE(value);
        CHECK(describe(value) == "malformed");
    }
}

TEST_CASE("a NUL byte anywhere makes the field malformed, not cut short") {
    using namespace std::string_literals;
    CHECK(describe(sha256_member(kHelloB64) + "\0"s) == "malformed");
    CHECK(describe("sha-256=:\0"s + std::string(kHelloB64) + ":") == "malformed");
}

TEST_CASE("format_sha256_digest writes a member that parses back") {
    const Sha256Digest d = vstream::crypto::sha256("{\"hello\": \"world\"}");
    CHECK(format_sha256_digest(d) == sha256_member(kHelloB64));
    CHECK(parse_digest_field(format_sha256_digest(d)).sha256 == d);
    const Sha256Digest zero{};
    CHECK(format_sha256_digest(zero) == "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:");
    const DigestField f = parse_digest_field(format_sha256_digest(zero));
    CHECK(f.kind == Kind::sha256);
    CHECK(f.sha256 == zero);
}

}  // TEST_SUITE("http/content_digest")
