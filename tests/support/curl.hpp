// Running curl (a real client) from a test: the command, its exit code and its output.
#pragma once

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

/// A curl command line with the options every test wants: quiet but for errors, no proxy
/// from the environment, and a bound on the whole transfer.
inline std::string curl(std::uint16_t port, const std::string& args, const std::string& path,
                        int max_seconds = 20) {
    return "curl -sS --noproxy '*' --max-time " + std::to_string(max_seconds) + " " + args +
           " 'http://127.0.0.1:" + std::to_string(port) + path + "'";
}

}  // namespace vstream::test
