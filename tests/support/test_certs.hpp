// Test certificates, made at test time with the `openssl` command (never checked in): a CA,
// server certificates it signs, and client certificates. Made once per test process (a
// function-static) in a temporary directory removed at exit.
#pragma once

#include <vstream/tls.hpp>

#include "temp_dir.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace vstream::test {

/// Paths of the test certificates. All keys are EC P-256, unencrypted, valid ten years.
struct TestCerts {
    std::string ca;      ///< the CA's certificate ("vstream test CA")
    std::string ca_key;  ///< its key
    /// DNS:localhost and IP:127.0.0.1; serverAuth.
    TlsCertificate localhost;
    /// DNS:a.example.test; its cert_file holds the chain (the certificate, then the CA's).
    TlsCertificate a_example;
    /// DNS:*.wild.example.test.
    TlsCertificate wild;
    /// No subjectAltName; subject CN=cn.example.test.
    TlsCertificate cn_only;
    /// CN=vstream test client, clientAuth, signed by the CA.
    TlsCertificate client;
    /// CN=rogue client: self-signed, not from the CA.
    TlsCertificate rogue_client;
    /// The key of a_example, encrypted with the passphrase "secret".
    std::string encrypted_key;
    /// A file that is not PEM at all.
    std::string junk;
};

namespace detail {

inline std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
}

// Runs `command` in a shell; throws with its output if it fails.
inline void run_openssl(const TempDir& dir, const std::string& command) {
    const std::string log = dir.at("openssl.log");
    const std::string full =
        "cd '" + dir.path().string() + "' && " + command + " >'" + log + "' 2>&1";
    if (std::system(full.c_str()) != 0) {
        throw std::runtime_error("test certificate: `" + command + "` failed: " + read_text(log));
    }
}

// A key and a CSR for `subject`, then a certificate signed by the CA with `extensions`.
inline TlsCertificate make_leaf(const TempDir& dir, const std::string& name,
                                const std::string& subject, const std::string& extensions) {
    dir.write(name + ".ext", extensions);
    run_openssl(dir,
                "openssl req -new -config req.cnf -newkey ec -pkeyopt "
                "ec_paramgen_curve:P-256 -nodes -keyout " +
                    name + ".key -out " + name + ".csr -subj '" + subject + "'");
    run_openssl(dir, "openssl x509 -req -in " + name +
                         ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 -out " + name +
                         ".pem -extfile " + name + ".ext");
    return {dir.at(name + ".pem"), dir.at(name + ".key")};
}

inline TestCerts make_test_certs(const TempDir& dir) {
    // A minimal request config, so the system's openssl.cnf plays no part.
    dir.write("req.cnf",
              "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n"
              "[ca]\nbasicConstraints = critical, CA:TRUE\n"
              "keyUsage = critical, keyCertSign, cRLSign\nsubjectKeyIdentifier = hash\n");
    run_openssl(dir,
                "openssl req -x509 -new -config req.cnf -extensions ca -newkey ec -pkeyopt "
                "ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem -days 3650 "
                "-subj '/CN=vstream test CA'");
    const std::string server =
        "basicConstraints = CA:FALSE\n"
        "keyUsage = critical, digitalSignature\n"
        "extendedKeyUsage = serverAuth\n";
    TestCerts c;
    c.ca = dir.at("ca.pem");
    c.ca_key = dir.at("ca.key");
    c.localhost = make_leaf(dir, "localhost", "/CN=localhost",
                            server + "subjectAltName = DNS:localhost, IP:127.0.0.1\n");
    c.a_example = make_leaf(dir, "a_example", "/CN=a.example.test",
                            server + "subjectAltName = DNS:a.example.test\n");
    c.a_example.cert_file =
        dir.write("a_example_chain.pem", read_text(dir.at("a_example.pem")) + read_text(c.ca));
    c.wild = make_leaf(dir, "wild", "/CN=wild.example.test",
                       server + "subjectAltName = DNS:*.wild.example.test\n");
    c.cn_only = make_leaf(dir, "cn_only", "/CN=cn.example.test", server);
    c.client = make_leaf(dir, "client", "/CN=vstream test client",
                         "basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature\n"
                         "extendedKeyUsage = clientAuth\n");
    run_openssl(dir,
                "openssl req -x509 -new -config req.cnf -newkey ec -pkeyopt "
                "ec_paramgen_curve:P-256 -nodes -keyout rogue.key -out rogue.pem -days 3650 "
                "-subj '/CN=rogue client'");
    c.rogue_client = {dir.at("rogue.pem"), dir.at("rogue.key")};
    run_openssl(dir,
                "openssl pkey -in a_example.key -aes256 -passout pass:secret -out encrypted.key");
    c.encrypted_key = dir.at("encrypted.key");
    c.junk = dir.write("junk.pem", "this is not a PEM file\n");
    // Readable by every user, keys included: a test may run its server as another user in a
    // child (files_static_test checks a 403 as nobody), and over TLS that server reads the
    // localhost certificate and key. They are made for this process and protect nothing.
    namespace fs = std::filesystem;
    fs::permissions(dir.path(), fs::perms::owner_all | fs::perms::group_read |
                                    fs::perms::group_exec | fs::perms::others_read |
                                    fs::perms::others_exec);
    for (const fs::directory_entry& e : fs::directory_iterator(dir.path())) {
        fs::permissions(e.path(), fs::perms::group_read | fs::perms::others_read,
                        fs::perm_options::add);
    }
    return c;
}

}  // namespace detail

/// The test certificates, made on first call (a few openssl runs, well under a second).
/// Throws std::runtime_error if the openssl command fails.
inline const TestCerts& test_certs() {
    static const TempDir dir;
    static const TestCerts certs = detail::make_test_certs(dir);
    return certs;
}

}  // namespace vstream::test
