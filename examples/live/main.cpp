// vstream-live: live data over streamed (chunked) responses. One producer thread feeds every
// subscriber: GET /clock streams a line every 500 ms; GET /tail streams the end of a file
// given with --tail and then whatever is appended to it (like tail -f). Subscribers that leave
// are dropped; one that reads too slowly is skipped until it drains (StreamWriter's flow
// control), so it can never make the producer hold unbounded memory.
#include <vstream/vstream.hpp>

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

constexpr const char* kUsage =
    "usage: vstream-live [--host ADDR] [--port N] [--tail FILE]\n"
    "\n"
    "Streams live data over HTTP/1.1 chunked responses:\n"
    "  GET /clock   a line every 500 ms\n"
    "  GET /tail    the last 4 KiB of FILE, then what is appended to it (with --tail)\n"
    "Try: curl -N http://127.0.0.1:8081/clock\n"
    "\n"
    "options:\n"
    "  --host ADDR   address to listen on (default 127.0.0.1)\n"
    "  --port N      TCP port (default 8081)\n"
    "  --tail FILE   file that /tail follows\n";

// Writers subscribed to one feed; the producer thread writes to each.
class Feed {
public:
    void add(vstream::StreamWriter w) {
        std::lock_guard lock(mutex_);
        writers_.push_back(std::move(w));
    }
    void publish(const std::string& text) {
        std::lock_guard lock(mutex_);
        std::erase_if(writers_, [](const vstream::StreamWriter& w) { return w.closed(); });
        for (vstream::StreamWriter& w : writers_) {
            // A subscriber above its high-water mark misses this piece rather than letting
            // the queue grow: live data is worth more fresh than complete.
            if (w.queued() < 1024 * 1024) w.write(vstream::Body::copy(text));
        }
    }
    void end_all() {
        std::lock_guard lock(mutex_);
        for (vstream::StreamWriter& w : writers_) w.end();
        writers_.clear();
    }

private:
    std::mutex mutex_;
    std::vector<vstream::StreamWriter> writers_;
};

[[noreturn]] void usage_error(const std::string& message) {
    std::fprintf(stderr, "vstream-live: %s\n\n%s", message.c_str(), kUsage);
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    vstream::ServerConfig config;
    config.port = 8081;
    std::string tail_path;
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
            config.addresses = {value()};
        } else if (arg == "--port") {
            const long p = std::strtol(value(), nullptr, 10);
            if (p < 0 || p > 65535) usage_error("--port expects 0 to 65535");
            config.port = static_cast<std::uint16_t>(p);
        } else if (arg == "--tail") {
            tail_path = value();
        } else {
            usage_error("unknown option '" + std::string(arg) + "'");
        }
    }

    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    Feed clock;
    Feed tail;
    std::atomic<bool> running{true};
    try {
        vstream::Server server(config);
        server.get("/clock", [&](vstream::Context& ctx) {
            ctx.set_header("Content-Type", "text/plain; charset=utf-8");
            clock.add(ctx.stream());
        });
        server.get("/tail", [&](vstream::Context& ctx) {
            if (tail_path.empty()) return ctx.text(404, "start vstream-live with --tail FILE\n");
            std::ifstream f(tail_path, std::ios::binary | std::ios::ate);
            if (!f) return ctx.text(404, "cannot open the tailed file\n");
            const std::streamoff size = f.tellg();
            const std::streamoff from = size > 4096 ? size - 4096 : 0;
            std::string start(static_cast<std::size_t>(size - from), '\0');
            f.seekg(from);
            f.read(start.data(), static_cast<std::streamsize>(start.size()));
            ctx.set_header("Content-Type", "text/plain; charset=utf-8");
            vstream::StreamWriter w = ctx.stream();
            w.write(std::move(start));
            tail.add(std::move(w));
        });
        server.start();
        std::printf("vstream-live listening on http://%s:%u/clock\n", config.addresses[0].c_str(),
                    server.port());
        std::fflush(stdout);

        std::thread producer([&] {
            std::ifstream followed;
            std::streamoff offset = 0;
            if (!tail_path.empty()) {
                followed.open(tail_path, std::ios::binary | std::ios::ate);
                offset = followed.tellg();
            }
            for (unsigned tick = 1; running; ++tick) {
                std::this_thread::sleep_for(std::chrono::milliseconds(500));
                const std::time_t now = std::time(nullptr);
                char line[96];
                std::strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
                clock.publish("tick " + std::to_string(tick) + " " + line + "\n");
                if (followed.is_open()) {
                    followed.clear();
                    followed.seekg(0, std::ios::end);
                    const std::streamoff end = followed.tellg();
                    if (end < offset) offset = 0;  // truncated (rotated): start over
                    if (end > offset) {
                        std::string added(static_cast<std::size_t>(end - offset), '\0');
                        followed.seekg(offset);
                        followed.read(added.data(), static_cast<std::streamsize>(added.size()));
                        offset = end;
                        tail.publish(added);
                    }
                }
            }
            clock.end_all();
            tail.end_all();
        });
        int sig = 0;
        sigwait(&signals, &sig);
        running = false;
        producer.join();
        server.stop();
    } catch (const vstream::Error& e) {
        std::fprintf(stderr, "vstream-live: %s\n", e.what());
        return 1;
    }
    return 0;
}
