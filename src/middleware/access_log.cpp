// middleware::access_log: one JSON line per finished request, formatted on the loop thread
// and written by a dedicated writer thread, so a slow sink never blocks serving.
#include <vstream/context.hpp>
#include <vstream/middleware.hpp>

#include "core/json_escape.hpp"

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace vstream::middleware {

namespace {

using std::chrono::steady_clock;
using std::chrono::system_clock;

// nginx's code for "the client closed the connection before the response was sent".
constexpr int kClientClosedRequest = 499;

// The bounded queue and the one thread that drains it into the sink. Shared (shared_ptr)
// by every copy of the middleware and by every finish hook still pending, so it lives as
// long as anything can log; the last owner to let go stops and joins the writer.
class LogWriter {
public:
    LogWriter(LogSink sink, std::size_t capacity)
        : sink_(std::move(sink)), capacity_(capacity), thread_([this] { run(); }) {}

    // Runs on whichever thread drops the last reference (usually the one destroying the
    // Server, after its loops have stopped). Lines already queued are written first, so a
    // sink that blocks forever also blocks this destructor.
    ~LogWriter() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }

    LogWriter(const LogWriter&) = delete;
    LogWriter& operator=(const LogWriter&) = delete;

    // Loop threads: never waits for the sink, only for the short critical section. A full
    // queue drops the line (and counts it) instead of blocking.
    void push(std::string line) {
        {
            std::lock_guard lock(mutex_);
            if (queue_.size() >= capacity_) {
                ++dropped_;
                return;
            }
            queue_.push_back(std::move(line));
        }
        wake_.notify_one();
    }

private:
    void run() noexcept {
        std::vector<std::string> batch;
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [this] { return stop_ || !queue_.empty() || dropped_ > 0; });
            if (queue_.empty() && dropped_ == 0) return;  // stopping, and nothing left
            const std::uint64_t dropped = std::exchange(dropped_, 0);
            batch.swap(queue_);  // the whole backlog at once: one lock round per batch
            lock.unlock();
            // Report the loss first, as soon as the writer catches up.
            if (dropped > 0) write(fmt::format(R"({{"dropped":{}}})", dropped));
            for (const std::string& line : batch) write(line);
            batch.clear();  // keeps its capacity for the next swap
            lock.lock();
        }
    }

    void write(std::string_view line) noexcept {
        try {
            sink_(line);
        } catch (...) {
            // A failing sink loses this line, not the writer: later lines still go out.
        }
    }

    LogSink sink_;
    std::size_t capacity_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::vector<std::string> queue_;  // guarded by mutex_
    std::uint64_t dropped_ = 0;       // guarded by mutex_
    bool stop_ = false;               // guarded by mutex_
    std::thread thread_;              // last: starts once every member above exists
};

// The default sink: stderr, one fwrite per line so lines from several threads or servers
// do not interleave (stderr is unbuffered: two calls would be two write()s).
LogSink stderr_sink() {
    return [buffer = std::string()](std::string_view line) mutable {
        buffer.assign(line);
        buffer.push_back('\n');
        std::fwrite(buffer.data(), 1, buffer.size(), stderr);
    };
}

// RFC 3339 §5.6, UTC with milliseconds: "2026-11-25T04:12:03.123Z".
void append_time(std::string& out, system_clock::time_point when) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    fmt::format_to(std::back_inserter(out), "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   ms % 1000);
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
    out.append(",\"").append(name).append("\":");
    core::append_json_string(out, value);
}

std::string format_line(Context& ctx, system_clock::time_point began_at,
                        steady_clock::time_point started) {
    const auto duration_us =
        std::chrono::duration_cast<std::chrono::microseconds>(steady_clock::now() - started)
            .count();
    const int status = ctx.responded() ? ctx.response_status() : kClientClosedRequest;

    std::string line;
    line.reserve(384);
    line.append("{\"time\":\"");
    append_time(line, began_at);
    line.push_back('"');
    // Every string a client sent goes through append_json_string: escaped, and invalid
    // UTF-8 replaced, so the line is valid JSON whatever arrived.
    append_field(line, "method", ctx.method());
    append_field(line, "path", ctx.path());
    append_field(line, "route", ctx.route());
    fmt::format_to(std::back_inserter(line), R"(,"status":{},"bytes":{},"duration_us":{})", status,
                   ctx.response_size(), duration_us);
    append_field(line, "client", ctx.peer_address());
    append_field(line, "user_agent", ctx.header("User-Agent").value_or(std::string_view{}));
    // Read at finish, not at entry, so a request_id() registered after this one still shows.
    append_field(line, "request_id", ctx.request_id());
    append_field(line, "trace_id", ctx.trace_id());
    line.push_back('}');
    return line;
}

}  // namespace

Middleware access_log(AccessLogOptions options) {
    if (!options.sink) options.sink = stderr_sink();
    auto writer = std::make_shared<LogWriter>(std::move(options.sink), options.queue_lines);
    return [writer = std::move(writer)](Context& ctx, Next next) {
        const auto began_at = system_clock::now();  // "time": when the request began
        const auto started = steady_clock::now();   // duration: immune to clock steps
        // The hook runs once, on the loop thread, whether the request was answered or
        // cancelled; it holds the writer so a request finishing late still has somewhere to go.
        ctx.on_finish([writer, began_at, started](Context& c) {
            writer->push(format_line(c, began_at, started));
        });
        next();
    };
}

}  // namespace vstream::middleware
