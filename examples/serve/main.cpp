// vstream-serve: a small server over libvstream. Serves a directory (--root) at "/" through
// the mmap file cache, with Range and conditional requests, plus GET /ping answering
// {"message":"pong"}, and, with --upload-dir, uploads streamed to disk. It is what the README's
// demo command starts, and what the benchmarks drive against nginx.
#include <vstream/vstream.hpp>

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: vstream-serve [--root DIR] [options]\n"
    "\n"
    "Serves the files below DIR at / (Range, conditional requests, zero-copy from an mmap\n"
    "cache) and GET /ping with {\"message\":\"pong\"} over HTTP/1.1.\n"
    "\n"
    "options:\n"
    "  --root DIR             directory to serve at / (default: none, only /ping)\n"
    "  --host ADDR            numeric IPv4/IPv6 address to listen on; repeat for several\n"
    "                         (default 127.0.0.1)\n"
    "  --port N               TCP port, 0 for an ephemeral one (default 8080)\n"
    "  --listen ADDR:PORT     listen on ADDR (numeric; IPv6 as [::1]:PORT) at PORT of its\n"
    "                         own, 0 for an ephemeral one; repeat for several; replaces\n"
    "                         --host and --port\n"
    "  --tls-cert FILE        PEM certificate chain for HTTPS; repeat with --tls-key for\n"
    "                         several (SNI picks one by name; the first is the default)\n"
    "  --tls-key FILE         PEM private key of the --tls-cert before it\n"
    "  --tls-port N           serve HTTPS on every --host at port N (default 8443 when\n"
    "                         --tls-cert is given and no --listen-tls is)\n"
    "  --listen-tls ADDR:PORT serve HTTPS on ADDR at PORT; repeat for several\n"
    "  --tls-client-ca FILE   ask HTTPS clients for a certificate chaining to a CA in FILE,\n"
    "                         and refuse those without one (mutual TLS)\n"
    "                         SIGHUP reloads the certificate, key and CA files\n"
    "  --tls-handshake-timeout-ms N  close an HTTPS client that has not finished its\n"
    "                         handshake N ms after connecting (default 10000)\n"
    "  --threads N            loop threads, 0 = one per core (default 0)\n"
    "  --max-conns N          open connections before new ones get 503 (default 10000)\n"
    "  --cache-mb N           file cache: MiB mapped at most (default 256)\n"
    "  --cache-entries N      file cache: files cached at most (default 1024)\n"
    "  --window-mb N          files above 4x this are mapped in windows of N MiB (default 2)\n"
    "  --revalidate-ms N      re-stat a cached file after N ms (default 1000)\n"
    "  --index NAME           file served for a directory, \"\" for none (default index.html)\n"
    "  --listing              list directories that have no index file (default off)\n"
    "  --dotfiles             serve names starting with '.' (default off: 404)\n"
    "  --limit-rate BYTES     pace each response to BYTES/s, 0 = unlimited (default 0)\n"
    "  --limit-rate-after BYTES  send BYTES at full speed before pacing (default 0)\n"
    "  --max-ranges N         ranges per request before the whole file is sent (default 16)\n"
    "  --upload-dir DIR       accept uploads into DIR: POST /upload (multipart/form-data,\n"
    "                         every file part) and PUT /upload/NAME (the raw body); answers\n"
    "                         201 with the stored names, sizes and SHA-256 (default off)\n"
    "  --upload-max-mb N      largest upload body in MiB (default 4096)\n"
    "  --upload-overwrite     replace existing files (default off: 409)\n"
    "  --upload-sync          fdatasync each upload before naming it (default off)\n"
    "  --access-log           log each request as a JSON line on stderr (default off)\n"
    "  --quiet                do not print the listening line\n"
    "  -h, --help             show this help\n";

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "vstream-serve: %s\n\n%s", message.c_str(), kUsage);
    std::exit(2);
}

unsigned long parse_number(std::string_view flag, const char* text, unsigned long max);

// "127.0.0.1:8080" or "[::1]:8080"; the address is checked by ServerConfig::validate.
vstream::Listener parse_listen(std::string_view flag, const char* text) {
    const std::string_view t = text;
    const std::size_t colon = t.rfind(':');
    if (colon == std::string_view::npos) usage_error(std::string(flag) + " needs ADDR:PORT");
    std::string_view address = t.substr(0, colon);
    if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
        address = address.substr(1, address.size() - 2);
    } else if (address.find(':') != std::string_view::npos) {
        usage_error(std::string(flag) + ": write an IPv6 address in brackets, as [::1]:8080");
    }
    const std::string port(t.substr(colon + 1));
    return vstream::Listener{std::string(address),
                             static_cast<std::uint16_t>(parse_number(flag, port.c_str(), 65535)),
                             false};
}

// The TLS listeners asked for (--tls-port, --listen-tls), added to the plain ones: the
// single form (--host, --port) becomes one plain listener per host.
void add_tls_listeners(vstream::ServerConfig& config, std::vector<vstream::Listener> tls_listens,
                       long tls_port) {
    if (config.tls.certificates.empty()) {
        if (tls_port >= 0 || !tls_listens.empty()) {
            usage_error("--tls-port and --listen-tls need --tls-cert and --tls-key");
        }
        if (!config.tls.client_ca_file.empty()) usage_error("--tls-client-ca needs --tls-cert");
        return;
    }
    if (tls_port < 0 && tls_listens.empty()) tls_port = 8443;
    if (config.listeners.empty()) config.listeners = config.effective_listeners();
    if (tls_port >= 0) {
        for (const std::string& a : config.addresses) {
            config.listeners.push_back({a, static_cast<std::uint16_t>(tls_port), true});
        }
    }
    for (vstream::Listener& l : tls_listens) {
        l.tls = true;
        config.listeners.push_back(std::move(l));
    }
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

// POST /upload (multipart/form-data) and PUT /upload/:name (raw), streamed to disk.
void add_upload_routes(vstream::Server& server, const vstream::UploadOptions& uploads) {
    struct stat st {};
    if (::stat(uploads.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) ||
        ::access(uploads.dir.c_str(), W_OK) != 0) {
        throw vstream::Error(vstream::errc::invalid_argument,
                             "--upload-dir '" + uploads.dir + "' is not a writable directory");
    }
    server.handle_stream("POST", "/upload",
                         [uploads](vstream::Context& ctx) { ctx.receive_upload(uploads); });
    server.handle_stream("PUT", "/upload/:name", [uploads](vstream::Context& ctx) {
        vstream::UploadOptions options = uploads;
        options.name = std::string(ctx.param("name"));
        ctx.receive_upload(std::move(options));
    });
}

}  // namespace

int main(int argc, char** argv) {
    vstream::ServerConfig config;
    vstream::StaticOptions statics;
    std::string root;
    bool hosts_given = false;
    bool quiet = false;
    bool access_log = false;
    vstream::UploadOptions uploads;
    std::vector<vstream::Listener> tls_listens;
    long tls_port = -1;  // none asked for
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
        } else if (arg == "--listen") {
            config.listeners.push_back(parse_listen(arg, value()));
        } else if (arg == "--listen-tls") {
            tls_listens.push_back(parse_listen(arg, value()));
        } else if (arg == "--tls-port") {
            tls_port = static_cast<long>(parse_number(arg, value(), 65535));
        } else if (arg == "--tls-cert") {
            config.tls.certificates.push_back({value(), ""});
        } else if (arg == "--tls-key") {
            if (config.tls.certificates.empty() ||
                !config.tls.certificates.back().key_file.empty()) {
                usage_error("--tls-key must follow its --tls-cert");
            }
            config.tls.certificates.back().key_file = value();
        } else if (arg == "--tls-client-ca") {
            config.tls.client_ca_file = value();
        } else if (arg == "--tls-handshake-timeout-ms") {
            // 0 reaches TlsOptions::validate, which names the field it refuses.
            config.tls.handshake_timeout =
                std::chrono::milliseconds(parse_number(arg, value(), 3'600'000));
        } else if (arg == "--port") {
            config.port = static_cast<std::uint16_t>(parse_number(arg, value(), 65535));
        } else if (arg == "--threads") {
            config.threads = static_cast<unsigned>(parse_number(arg, value(), 1024));
        } else if (arg == "--max-conns") {
            config.limits.max_connections = parse_number(arg, value(), 10'000'000);
        } else if (arg == "--root") {
            root = value();
            if (root.empty()) usage_error("--root needs a directory");
        } else if (arg == "--cache-mb") {
            config.file_cache.max_mapped_bytes = parse_number(arg, value(), 1u << 20) << 20;
        } else if (arg == "--cache-entries") {
            config.file_cache.max_entries = parse_number(arg, value(), 10'000'000);
        } else if (arg == "--window-mb") {
            config.file_cache.window_size = parse_number(arg, value(), 1024) << 20;
            config.file_cache.window_threshold = 4 * config.file_cache.window_size;
        } else if (arg == "--revalidate-ms") {
            config.file_cache.revalidate =
                std::chrono::milliseconds(parse_number(arg, value(), 86'400'000));
        } else if (arg == "--index") {
            statics.index = value();
        } else if (arg == "--listing") {
            statics.listing = true;
        } else if (arg == "--dotfiles") {
            statics.dotfiles = true;
        } else if (arg == "--limit-rate") {
            statics.limit_rate = parse_number(arg, value(), ~0ul >> 12);
        } else if (arg == "--limit-rate-after") {
            statics.limit_rate_after = parse_number(arg, value(), ~0ul >> 12);
        } else if (arg == "--max-ranges") {
            config.limits.max_ranges = parse_number(arg, value(), 64);
        } else if (arg == "--upload-dir") {
            uploads.dir = value();
            if (uploads.dir.empty()) usage_error("--upload-dir needs a directory");
        } else if (arg == "--upload-max-mb") {
            uploads.max_bytes = static_cast<std::uint64_t>(parse_number(arg, value(), 1ul << 30))
                                << 20;
            if (uploads.max_bytes == 0) usage_error("--upload-max-mb must be at least 1");
        } else if (arg == "--upload-overwrite") {
            uploads.overwrite = true;
        } else if (arg == "--upload-sync") {
            uploads.sync = true;
        } else if (arg == "--access-log") {
            access_log = true;
        } else if (arg == "--quiet") {
            quiet = true;
        } else {
            usage_error("unknown option '" + std::string(arg) + "'");
        }
    }
    for (const vstream::TlsCertificate& c : config.tls.certificates) {
        if (c.key_file.empty()) usage_error("--tls-cert " + c.cert_file + " has no --tls-key");
    }
    add_tls_listeners(config, std::move(tls_listens), tls_port);

    // Block SIGINT/SIGTERM before the loop threads start (they inherit the mask), then wait
    // for them here: a signal handler may not call stop(), a waiting thread may.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    try {
        vstream::Server server(config);
        if (access_log) server.use(vstream::middleware::access_log());
        server.get("/ping", [](vstream::Context& ctx) { ctx.json(200, R"({"message":"pong"})"); });
        if (!root.empty()) server.serve_static("/", root, statics);
        if (!uploads.dir.empty()) add_upload_routes(server, uploads);
        server.start();
        if (!quiet) {
            const std::vector<vstream::Listener> listeners = config.effective_listeners();
            const std::vector<std::uint16_t> ports = server.ports();
            for (std::size_t i = 0; i < listeners.size() && i < ports.size(); ++i) {
                const std::string& a = listeners[i].address;
                const bool v6 = a.find(':') != std::string::npos;
                std::printf("vstream-serve %s listening on %s://%s%s%s:%u/ (%s, %u threads)\n",
                            VSTREAM_VERSION_STRING, listeners[i].tls ? "https" : "http",
                            v6 ? "[" : "", a.c_str(), v6 ? "]" : "", ports[i],
                            root.empty() ? "GET /ping only" : root.c_str(),
                            config.effective_threads());
            }
            std::fflush(stdout);
        }
        int sig = 0;
        while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
            // Certificates renewed in place: new handshakes use them; a bad file leaves the
            // old ones serving.
            if (!config.has_tls_listener()) continue;
            try {
                server.reload_tls();
                if (!quiet) std::printf("vstream-serve: TLS certificates reloaded\n");
            } catch (const vstream::Error& e) {
                std::fprintf(stderr,
                             "vstream-serve: TLS reload refused, still serving the old "
                             "certificates: %s\n",
                             e.what());
            }
            std::fflush(stdout);
        }
        if (!quiet) std::printf("vstream-serve: %s, stopping\n", strsignal(sig));
        server.stop();
    } catch (const vstream::Error& e) {
        std::fprintf(stderr, "vstream-serve: %s\n", e.what());
        return 1;
    }
    return 0;
}
