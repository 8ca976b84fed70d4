// Running curl (a real client) from a test: the command, its exit code and its output; and
// the URL of the test server, https:// when the suite runs over TLS.
#pragma once

#include "over_tls.hpp"
#include "test_certs.hpp"

#include <sys/wait.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace vstream::test {

struct Run {
    int exit_code = -1;
    std::string out;
};

/// Runs a shell command; returns its exit code and standard output.
inline Run run(const std::string& command) {
    Run r;
    FILE* p = ::popen(command.c_str(), "r");
    if (p == nullptr) return r;
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int status = ::pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

/// Whether curl is installed (tests that need it say so and skip when it is not).
inline bool have_curl() { return std::system("curl --version >/dev/null 2>&1") == 0; }

/// The base URL of a test server on 127.0.0.1:port, without a trailing slash:
/// "https://127.0.0.1:port" when the suite runs over TLS (over_tls()), else "http://...". The
/// one place a test's URL is made.
inline std::string base_url(std::uint16_t port) {
    return std::string(over_tls() ? "https" : "http") + "://127.0.0.1:" + std::to_string(port);
}

/// A curl command line with the options every test wants: quiet but for errors, no proxy
/// from the environment, a bound on the whole transfer, and over TLS the test CA to verify
/// the server with. `args` come before the URL of `path` (base_url(port) + path).
inline std::string curl(std::uint16_t port, const std::string& args, const std::string& path,
                        int max_seconds = 20) {
    std::string command = "curl -sS --noproxy '*' --max-time " + std::to_string(max_seconds);
    if (over_tls()) command += " --cacert '" + test_certs().ca + "'";
    return command + " " + args + " '" + base_url(port) + path + "'";
}

}  // namespace vstream::test
