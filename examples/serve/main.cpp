// vstream-serve: a small server over libvstream. At this stage it answers GET /ping with
// {"message":"pong"} (the hello server the README's demo command starts and the benchmark
// drives); every other path is 404.
#include <vstream/vstream.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <string>
#include <string_view>

namespace {

constexpr const char* kUsage =
    "usage: vstream-serve [options]\n"
    "\n"
    "Serves GET /ping with {\"message\":\"pong\"} over HTTP/1.1.\n"
    "\n"
    "options:\n"
    "  --host ADDR       numeric IPv4/IPv6 address to listen on; repeat for several\n"
    "                    (default 127.0.0.1)\n"
    "  --port N          TCP port, 0 for an ephemeral one (default 8080)\n"
    "  --threads N       loop threads, 0 = one per core (default 0)\n"
    "  --max-conns N     open connections before new ones get 503 (default 10000)\n"
    "  --quiet           do not print the listening line\n"
    "  -h, --help        show this help\n";

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "vstream-serve: %s\n\n%s", message.c_str(), kUsage);
    std::exit(2);
}

unsigned long parse_number(std::string_view flag, const char* text, unsigned long max) {
    char* end = nullptr;
    errno = 0;
    const unsigned long v = std::strtoul(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > max) {
        usage_error(std::string(flag) + " expects a number from 0 to " + std::to_string(max) +
                    ", got '" + text + "'");
    }
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    vstream::ServerConfig config;
    bool hosts_given = false;
    bool quiet = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) usage_error(std::string(arg) + " needs a value");
            return argv[++i];
        };
        if (arg == "-h" || arg == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (arg == "--host") {
            if (!hosts_given) config.addresses.clear();
            hosts_given = true;
            config.addresses.emplace_back(value());
        } else if (arg == "--port") {
            config.port = static_cast<std::uint16_t>(parse_number(arg, value(), 65535));
        } else if (arg == "--threads") {
            config.threads = static_cast<unsigned>(parse_number(arg, value(), 1024));
        } else if (arg == "--max-conns") {
            config.limits.max_connections = parse_number(arg, value(), 10'000'000);
        } else if (arg == "--quiet") {
            quiet = true;
        } else {
            usage_error("unknown option '" + std::string(arg) + "'");
        }
    }

    // Block SIGINT/SIGTERM before the loop threads start (they inherit the mask), then wait
    // for them here: a signal handler may not call stop(), a waiting thread may.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    try {
        vstream::Server server(config);
        server.get("/ping", [](vstream::Context& ctx) { ctx.json(200, R"({"message":"pong"})"); });
        server.start();
        if (!quiet) {
            for (const std::string& a : config.addresses) {
                const bool v6 = a.find(':') != std::string::npos;
                std::printf("vstream-serve %s listening on http://%s%s%s:%u/ping (%u threads)\n",
                            VSTREAM_VERSION_STRING, v6 ? "[" : "", a.c_str(), v6 ? "]" : "",
                            server.port(), config.effective_threads());
            }
            std::fflush(stdout);
        }
        int sig = 0;
        sigwait(&signals, &sig);
        if (!quiet) std::printf("vstream-serve: %s, stopping\n", strsignal(sig));
        server.stop();
    } catch (const vstream::Error& e) {
        std::fprintf(stderr, "vstream-serve: %s\n", e.what());
        return 1;
    }
    return 0;
}
