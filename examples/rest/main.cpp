// vstream-rest: a small REST service over libvstream, to read as an example of the C++ API:
// routes with parameters, a group with its own middleware, the built-in middleware, JSON in
// and out, and a handler that answers later from a worker thread.
//
//   build-release/examples/vstream-rest --port 8081
//   curl localhost:8081/api/v1/videos
//   curl -X POST localhost:8081/api/v1/videos -H 'Authorization: Bearer demo'
//        -d '{"title":"Big Buck Bunny","seconds":596}'
//   curl localhost:8081/api/v1/videos/1
//   curl localhost:8081/api/v1/videos/1/thumbnail     (answered from a worker thread)
#include <vstream/vstream.hpp>

#include <fmt/format.h>
#include <pthread.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Video {
    std::string title;
    std::int64_t seconds = 0;
};

// The catalogue: shared by every loop thread, so guarded.
class Catalogue {
public:
    std::int64_t add(Video v) {
        std::lock_guard lock(mutex_);
        videos_[++last_id_] = std::move(v);
        return last_id_;
    }
    std::optional<Video> find(std::int64_t id) const {
        std::lock_guard lock(mutex_);
        auto it = videos_.find(id);
        if (it == videos_.end()) return std::nullopt;
        return it->second;
    }
    std::string list_json() const {
        std::lock_guard lock(mutex_);
        std::string out = "[";
        for (const auto& [id, v] : videos_) {
            if (out.size() > 1) out += ",";
            out += to_json(id, v);
        }
        return out + "]";
    }
    static std::string to_json(std::int64_t id, const Video& v) {
        std::string title;
        for (char c : v.title) {  // minimal escaping for the example
            if (c == '"' || c == '\\') title += '\\';
            title += c;
        }
        return fmt::format(R"({{"id":{},"title":"{}","seconds":{}}})", id, title, v.seconds);
    }

private:
    mutable std::mutex mutex_;
    std::map<std::int64_t, Video> videos_;
    std::int64_t last_id_ = 0;
};

// Threads for slow work, joined on exit (a real service would use a pool).
class Workers {
public:
    template <class F>
    void run(F fn) {
        std::lock_guard lock(mutex_);
        threads_.emplace_back(std::move(fn));
    }
    ~Workers() {
        for (std::thread& t : threads_) t.join();
    }

private:
    std::mutex mutex_;
    std::vector<std::thread> threads_;
};

// A group middleware: writes need a token.
vstream::Middleware require_token(std::string token) {
    return [token = "Bearer " + std::move(token)](vstream::Context& ctx, vstream::Next next) {
        if (ctx.method() != "GET" && ctx.method() != "HEAD" &&
            ctx.header("authorization") != token) {
            ctx.json(401, R"({"error":"missing or wrong bearer token"})");
            return;  // short-circuit: the handler never runs
        }
        next();
    };
}

std::optional<std::int64_t> id_param(vstream::Context& ctx) {
    const std::string_view s = ctx.param("id");
    std::int64_t id = 0;
    for (char c : s) {
        if (c < '0' || c > '9' || id > 1'000'000'000) return std::nullopt;
        id = id * 10 + (c - '0');
    }
    if (s.empty()) return std::nullopt;
    return id;
}

}  // namespace

int main(int argc, char** argv) {
    vstream::ServerConfig config;
    config.port = 8081;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string_view flag = argv[i];
        if (flag == "--port") {
            config.port = static_cast<std::uint16_t>(std::atoi(argv[i + 1]));
        } else if (flag == "--host") {
            config.addresses = {argv[i + 1]};
        } else {
            std::fprintf(stderr, "usage: vstream-rest [--host ADDR] [--port N]\n");
            return 2;
        }
    }
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    Catalogue catalogue;
    catalogue.add({"Sintel", 888});
    Workers workers;  // declared before the server: joined after it stops

    vstream::Server server(config);
    namespace mw = vstream::middleware;
    server.use(mw::access_log());
    server.use(mw::request_id());
    server.use(mw::recovery());
    server.use(mw::cors());

    server.get("/ping", [](vstream::Context& ctx) { ctx.json(200, R"({"message":"pong"})"); });

    auto& api = server.group("/api/v1");
    api.use(require_token("demo"));
    api.get("/videos", [&](vstream::Context& ctx) { ctx.json(200, catalogue.list_json()); });
    api.get("/videos/:id", [&](vstream::Context& ctx) {
        const auto id = id_param(ctx);
        const auto video = id ? catalogue.find(*id) : std::nullopt;
        if (!video) {
            ctx.json(404, R"({"error":"no such video"})");
            return;
        }
        ctx.json(200, Catalogue::to_json(*id, *video));
    });
    api.post("/videos", [&](vstream::Context& ctx) {
        auto body = ctx.json_body();
        if (!body) return;  // 400 already sent
        const auto title = (*body)["title"].as_string();
        const auto seconds = (*body)["seconds"].as_int();
        if (!title || title->empty() || !seconds || *seconds < 0) {
            ctx.json(422, R"({"error":"need a non-empty title and non-negative seconds"})");
            return;
        }
        const std::int64_t id = catalogue.add({std::string(*title), *seconds});
        ctx.set_header("Location", fmt::format("/api/v1/videos/{}", id));
        ctx.json(201, Catalogue::to_json(id, {std::string(*title), *seconds}));
    });
    // Slow work off the loop: defer, hand the ref to a worker, answer from there.
    api.get("/videos/:id/thumbnail", [&](vstream::Context& ctx) {
        const auto id = id_param(ctx);
        vstream::ContextRef ref = ctx.defer();
        workers.run([ref, id, &catalogue] {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));  // "rendering"
            if (ref.cancelled()) return;  // the client left: nothing to do
            const auto video = id ? catalogue.find(*id) : std::nullopt;
            if (!video) {
                ref->json(404, R"({"error":"no such video"})");
                return;
            }
            ref->json(200, fmt::format(R"({{"id":{},"thumbnail":"/thumbs/{}.jpg"}})", *id, *id));
        });
    });

    try {
        server.start();
    } catch (const vstream::Error& e) {
        std::fprintf(stderr, "vstream-rest: %s\n", e.what());
        return 1;
    }
    std::printf("vstream-rest listening on http://%s:%u/api/v1/videos\n",
                config.addresses.front().c_str(), server.port());
    std::fflush(stdout);
    int sig = 0;
    sigwait(&signals, &sig);
    server.stop();
    return 0;
}
