// middleware::recovery: an exception escaping the chain becomes a 500 JSON error.
#include <vstream/context.hpp>
#include <vstream/middleware.hpp>

#include "core/json_escape.hpp"

#include <cstdio>
#include <exception>
#include <string>

namespace vstream::middleware {

namespace {

void stderr_line(std::string_view line) {
    std::string out(line);
    out.push_back('\n');
    std::fwrite(out.data(), 1, out.size(), stderr);
}

void report(Context& ctx, const LogSink& log, std::string_view what) {
    // The cause goes to the log, with enough to find the request; never to the client.
    std::string line = "{\"level\":\"error\",\"msg\":\"handler threw\",\"error\":";
    core::append_json_string(line, what);
    line.append(",\"method\":");
    core::append_json_string(line, ctx.method());
    line.append(",\"path\":");
    core::append_json_string(line, ctx.path());
    line.append(",\"route\":");
    core::append_json_string(line, ctx.route());
    line.append(",\"request_id\":");
    core::append_json_string(line, ctx.request_id());
    line.push_back('}');
    try {
        log(line);
    } catch (...) {
        // A failing log must not turn a 500 into a dead connection.
    }
    if (ctx.responded()) return;  // the answer already left (or is leaving): keep it
    std::string body = "{\"error\":\"internal server error\"";
    if (!ctx.request_id().empty()) {
        body.append(",\"request_id\":");
        core::append_json_string(body, ctx.request_id());
    }
    body.push_back('}');
    ctx.json(500, std::move(body));
}

}  // namespace

Middleware recovery(RecoveryOptions options) {
    LogSink log = options.log ? std::move(options.log) : LogSink(&stderr_line);
    return [log = std::move(log)](Context& ctx, Next next) {
        try {
            next();
        } catch (const std::exception& e) {
            report(ctx, log, e.what());
        } catch (...) {
            report(ctx, log, "a non-standard exception");
        }
    };
}

}  // namespace vstream::middleware
