/* vstream-c-host: a C99 program that embeds vstream through its stable C API (capi/vstream.h),
 * to read as an example of it: a static directory with Range and conditional requests, a JSON
 * route, a route answered later from a worker thread, the built-in middleware and one of its
 * own, every vs_* return code checked, and a clean stop on SIGINT or SIGTERM.
 *
 *   build/examples/vstream-c-host --port 8081 --root demo-media
 *   curl localhost:8081/api/info                 {"version":"0.1.0","requests":0}
 *   curl -r 0-9 localhost:8081/media/index.html  (206, the first ten bytes)
 *   curl localhost:8081/api/slow/250             (answered by a worker thread after 250 ms)
 *   kill -TERM <pid>                             (stops; exit status 0)
 */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: vstream-c-host [--port N] [--root DIR]\n"
    "\n"
    "Embeds vstream through its C API and serves, on 127.0.0.1:\n"
    "  /media/...        the files below DIR (Range, conditional requests, zero-copy)\n"
    "  GET /api/info     {\"version\":\"...\",\"requests\":N}\n"
    "  GET /api/slow/MS  answered from a worker thread after MS milliseconds (at most 5000)\n"
    "Each request is logged as a JSON line on stderr. SIGINT or SIGTERM stops the server.\n"
    "\n"
    "options:\n"
    "  --port N     TCP port, 0 for an ephemeral one (default 8080)\n"
    "  --root DIR   directory served at /media (default ./demo-media;\n"
    "               scripts/make_demo_media.sh DIR makes one)\n"
    "  -h, --help   show this help\n";

/* The longest wait /api/slow/:ms accepts, and the slice between checks for a client gone. */
enum { SLOW_MAX_MS = 5000, SLOW_CHECK_MS = 100 };

/* What the callbacks share. The handlers get it as their userdata; it lives in main(), past
 * vs_server_free(), so no userdata_free is needed. */
typedef struct {
    vs_server_t *server;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* broadcast when `stopping` is set and when a worker ends */
    int stopping;           /* set once a signal arrived: workers answer at once */
    unsigned workers;       /* worker threads still running */
} host_t;

/* One /api/slow request handed to a worker thread, which frees it. */
typedef struct {
    host_t *host;
    vs_ctx_t *ctx; /* retained by the handler, released by the worker */
    unsigned long ms;
} slow_job_t;

/* The write end of the self-pipe the signal handler writes to. */
static int signal_pipe_write = -1;

/* Reports a failed vs_* call on stderr and returns `rc` unchanged (VS_OK and counts pass).
 * The detail is copied first: vs_last_error_message() is valid until the next vs_* call. */
static int check(int rc, const char *what) {
    if (rc < 0) {
        char detail[512];
        snprintf(detail, sizeof detail, "%s", vs_last_error_message());
        fprintf(stderr, "vstream-c-host: %s: %s (%s)%s%s\n", what, vs_strerror(rc),
                vs_err_name(rc), detail[0] != '\0' ? ": " : "", detail);
    }
    return rc;
}

/* Async-signal-safe: writes the signal number to the pipe and nothing else. */
static void on_signal(int sig) {
    const int saved_errno = errno;
    const unsigned char byte = (unsigned char)sig;
    const ssize_t n = write(signal_pipe_write, &byte, 1);
    (void)n; /* a full pipe already holds a wake-up */
    errno = saved_errno;
}

/* "1234" -> 1234; 0 unless `text` is 1 to 9 decimal digits. */
static int parse_ulong(const char *text, unsigned long max, unsigned long *out) {
    unsigned long v = 0;
    size_t i = 0;
    if (text == NULL || text[0] == '\0') return 0;
    for (; text[i] != '\0'; ++i) {
        if (text[i] < '0' || text[i] > '9' || i >= 9) return 0;
        v = v * 10 + (unsigned long)(text[i] - '0');
    }
    if (v > max) return 0;
    *out = v;
    return 1;
}

static void usage_error(const char *message, const char *arg) {
    fprintf(stderr, "vstream-c-host: %s%s%s\n\n%s", message, arg != NULL ? ": " : "",
            arg != NULL ? arg : "", usage_text);
    exit(2);
}

static struct timespec add_ms(struct timespec t, unsigned long ms) {
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec += 1;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static int before(struct timespec a, struct timespec b) {
    return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* ---- middleware ---------------------------------------------------------------------------- */

/* For the /api group: its answers are never cached. Acts, then runs the rest of the chain. */
static void no_store(vs_ctx_t *ctx, vs_next_t *next, void *userdata) {
    (void)userdata;
    check(vs_ctx_set_header(ctx, "Cache-Control", "no-store"), "vs_ctx_set_header");
    check(vs_next_call(next), "vs_next_call");
}

/* ---- GET /api/info --------------------------------------------------------------------------- */

static void info_handler(vs_ctx_t *ctx, void *userdata) {
    host_t *host = userdata;
    uint64_t requests = 0;
    char body[128];
    if (check(vs_server_stat(host->server, VS_STAT_REQUESTS, &requests), "vs_server_stat") < 0) {
        check(vs_ctx_send_json(ctx, 500, "{\"error\":\"no statistics\"}"), "vs_ctx_send_json");
        return;
    }
    /* The version string is digits and dots: nothing to escape. */
    snprintf(body, sizeof body, "{\"version\":\"%s\",\"requests\":%" PRIu64 "}",
             vs_version_string(), requests);
    check(vs_ctx_send_json(ctx, 200, body), "vs_ctx_send_json");
}

/* ---- GET /api/slow/:ms ----------------------------------------------------------------------- */

/* Waits up to job->ms (woken early when the host stops, checking every SLOW_CHECK_MS that the
 * client is still there), answers unless the request was cancelled, and releases it. */
static void *slow_worker(void *arg) {
    slow_job_t *job = arg;
    host_t *host = job->host;
    struct timespec start, now, deadline;
    unsigned long slept_ms;
    int interrupted, cancelled = 0;
    char body[128];

    clock_gettime(CLOCK_MONOTONIC, &start);
    deadline = add_ms(start, job->ms);
    pthread_mutex_lock(&host->lock);
    for (;;) {
        struct timespec slice;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (host->stopping || !before(now, deadline)) break;
        slice = add_ms(now, SLOW_CHECK_MS);
        if (before(deadline, slice)) slice = deadline;
        pthread_cond_timedwait(&host->changed, &host->lock, &slice);
        pthread_mutex_unlock(&host->lock);
        cancelled = check(vs_ctx_cancelled(job->ctx), "vs_ctx_cancelled");
        pthread_mutex_lock(&host->lock);
        if (cancelled != 0) break; /* the client left (1), or an error (< 0) */
    }
    interrupted = host->stopping;
    pthread_mutex_unlock(&host->lock);

    clock_gettime(CLOCK_MONOTONIC, &now);
    slept_ms = (unsigned long)((now.tv_sec - start.tv_sec) * 1000L +
                               (now.tv_nsec - start.tv_nsec) / 1000000L);
    /* Check before answering: an answer to a cancelled request would only be dropped. */
    if (cancelled == 0) cancelled = check(vs_ctx_cancelled(job->ctx), "vs_ctx_cancelled");
    if (cancelled == 0) {
        snprintf(body, sizeof body, "{\"requested_ms\":%lu,\"slept_ms\":%lu%s}", job->ms,
                 slept_ms, interrupted ? ",\"interrupted\":true" : "");
        check(vs_ctx_send_json(job->ctx, interrupted ? 503 : 200, body), "vs_ctx_send_json");
    }
    check(vs_ctx_release(job->ctx), "vs_ctx_release");
    free(job);

    pthread_mutex_lock(&host->lock);
    host->workers -= 1;
    pthread_cond_broadcast(&host->changed);
    pthread_mutex_unlock(&host->lock);
    return NULL;
}

/* Retains the request and hands it to a detached worker thread; returns at once, so the loop
 * thread goes on serving other connections meanwhile. */
static void slow_handler(vs_ctx_t *ctx, void *userdata) {
    host_t *host = userdata;
    unsigned long ms = 0;
    slow_job_t *job;
    pthread_attr_t attr;
    pthread_t thread;
    int err;

    if (!parse_ulong(vs_ctx_param(ctx, "ms", NULL), 999999999UL, &ms)) {
        check(vs_ctx_send_json(ctx, 400, "{\"error\":\"ms must be a number of milliseconds\"}"),
              "vs_ctx_send_json");
        return;
    }
    if (ms > SLOW_MAX_MS) ms = SLOW_MAX_MS;
    job = malloc(sizeof *job);
    if (job == NULL) {
        check(vs_ctx_send_json(ctx, 503, "{\"error\":\"out of memory\"}"), "vs_ctx_send_json");
        return;
    }
    job->host = host;
    job->ctx = ctx;
    job->ms = ms;
    if (check(vs_ctx_retain(ctx), "vs_ctx_retain") < 0) {
        free(job);
        check(vs_ctx_send_json(ctx, 500, "{\"error\":\"cannot defer\"}"), "vs_ctx_send_json");
        return;
    }

    pthread_mutex_lock(&host->lock);
    if (host->stopping) {
        pthread_mutex_unlock(&host->lock);
        free(job);
        check(vs_ctx_send_json(ctx, 503, "{\"error\":\"shutting down\"}"), "vs_ctx_send_json");
        check(vs_ctx_release(ctx), "vs_ctx_release");
        return;
    }
    host->workers += 1; /* counted before the thread exists, so main() waits for it */
    pthread_mutex_unlock(&host->lock);

    err = pthread_attr_init(&attr);
    if (err == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        err = pthread_create(&thread, &attr, slow_worker, job);
        pthread_attr_destroy(&attr);
    }
    if (err != 0) {
        fprintf(stderr, "vstream-c-host: pthread_create: %s\n", strerror(err));
        free(job);
        check(vs_ctx_send_json(ctx, 503, "{\"error\":\"no worker thread\"}"), "vs_ctx_send_json");
        check(vs_ctx_release(ctx), "vs_ctx_release");
        pthread_mutex_lock(&host->lock);
        host->workers -= 1;
        pthread_cond_broadcast(&host->changed);
        pthread_mutex_unlock(&host->lock);
    }
    /* From here on the worker owns ctx: this thread must not touch it again. */
}

/* ---- setup ----------------------------------------------------------------------------------- */

/* Registers the middleware, the routes and the static directory. */
static int add_routes(host_t *host, const char *media_root) {
    vs_group_t *root = vs_server_root(host->server);
    vs_group_t *api = NULL;
    if (root == NULL) {
        fprintf(stderr, "vstream-c-host: vs_server_root returned NULL\n");
        return VS_EINVAL;
    }
    /* The server's middleware sees every request: the log outermost, so it times them whole,
     * then request ids (an incoming well-formed X-Request-ID is kept), which the log records. */
    if (check(vs_group_use_access_log(root, 0, NULL, NULL, NULL), "vs_group_use_access_log") < 0 ||
        check(vs_group_use_request_id(root, NULL, 1), "vs_group_use_request_id") < 0 ||
        check(vs_group_nested(root, "/api", &api), "vs_group_nested /api") < 0 ||
        check(vs_group_use(api, no_store, NULL, NULL), "vs_group_use /api") < 0 ||
        check(vs_group_route(api, "GET", "/info", info_handler, host, NULL),
              "vs_group_route GET /api/info") < 0 ||
        check(vs_group_route(api, "GET", "/slow/:ms", slow_handler, host, NULL),
              "vs_group_route GET /api/slow/:ms") < 0 ||
        check(vs_group_static(root, "/media", media_root, NULL), "vs_group_static /media") < 0) {
        return -1;
    }
    return VS_OK;
}

/* Makes the server: port from the command line, every other setting at its default. */
static int make_server(host_t *host, unsigned port) {
    vs_config_t *cfg = NULL;
    int rc = check(vs_config_new(&cfg), "vs_config_new");
    if (rc < 0) return rc;
    rc = check(vs_config_set_port(cfg, port), "vs_config_set_port");
    if (rc == VS_OK) rc = check(vs_server_new(&host->server, cfg), "vs_server_new");
    vs_config_free(cfg); /* the server keeps its own copy */
    return rc;
}

/* The self-pipe and the SIGINT/SIGTERM handlers. */
static int install_signals(int pipe_fds[2]) {
    struct sigaction sa;
    int i;
    if (pipe(pipe_fds) != 0) {
        perror("vstream-c-host: pipe");
        return -1;
    }
    for (i = 0; i < 2; ++i) fcntl(pipe_fds[i], F_SETFD, FD_CLOEXEC);
    /* Never block in the handler, even if the pipe were full. */
    fcntl(pipe_fds[1], F_SETFL, fcntl(pipe_fds[1], F_GETFL) | O_NONBLOCK);
    signal_pipe_write = pipe_fds[1];
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    /* The signal may land on any thread, the engine's included: restart what it interrupts. */
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) {
        perror("vstream-c-host: sigaction");
        return -1;
    }
    return 0;
}

/* Blocks until a signal has written to the pipe; returns the signal number. */
static int wait_for_signal(int read_fd) {
    unsigned char byte = 0;
    for (;;) {
        const ssize_t n = read(read_fd, &byte, 1);
        if (n == 1) return byte;
        if (n < 0 && errno == EINTR) continue;
        perror("vstream-c-host: read");
        return 0;
    }
}

int main(int argc, char **argv) {
    host_t host;
    pthread_condattr_t cond_attr;
    unsigned long port = 8080;
    const char *media_root = "./demo-media";
    int pipe_fds[2] = {-1, -1};
    int status = 0, sig, rc, i;

    for (i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(arg, "--port") == 0 || strcmp(arg, "--root") == 0) {
            if (i + 1 >= argc) usage_error("this option needs a value", arg);
            if (arg[2] == 'p') {
                if (!parse_ulong(argv[++i], 65535, &port)) {
                    usage_error("--port expects a number from 0 to 65535", argv[i]);
                }
            } else {
                media_root = argv[++i];
                if (media_root[0] == '\0') usage_error("--root needs a directory", NULL);
            }
        } else {
            usage_error("unknown option", arg);
        }
    }

    /* Same major version: the library loaded is ABI compatible with the header compiled. */
    if ((vs_version() >> 16) != VS_VERSION_MAJOR) {
        fprintf(stderr, "vstream-c-host: built for libvstream %s, loaded %s\n",
                VS_VERSION_STRING, vs_version_string());
        return 1;
    }

    memset(&host, 0, sizeof host);
    pthread_mutex_init(&host.lock, NULL);
    pthread_condattr_init(&cond_attr);
    pthread_condattr_setclock(&cond_attr, CLOCK_MONOTONIC); /* the workers' deadlines */
    pthread_cond_init(&host.changed, &cond_attr);
    pthread_condattr_destroy(&cond_attr);

    if (install_signals(pipe_fds) != 0 || make_server(&host, (unsigned)port) < 0 ||
        add_routes(&host, media_root) < 0 ||
        check(vs_server_start(host.server), "vs_server_start") < 0) {
        /* Nothing runs yet (a failed start leaves nothing running): free and leave. */
        check(vs_server_free(host.server), "vs_server_free");
        return 1;
    }
    rc = check(vs_server_port(host.server), "vs_server_port");
    printf("vstream-c-host: serving %s at http://127.0.0.1:%d/media/ (libvstream %s)\n",
           media_root, rc, vs_version_string());
    fflush(stdout);

    sig = wait_for_signal(pipe_fds[0]);
    fprintf(stderr, "vstream-c-host: %s, stopping\n",
            sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "read failed");

    /* Wake the workers (they answer at once), then stop: in-flight requests finish within
     * the shutdown grace time. vs_server_stop() from this thread blocks until the loop
     * threads are joined. */
    pthread_mutex_lock(&host.lock);
    host.stopping = 1;
    pthread_cond_broadcast(&host.changed);
    pthread_mutex_unlock(&host.lock);
    if (check(vs_server_stop(host.server), "vs_server_stop") < 0) status = 1;

    /* No handler runs any more, so no new worker starts; wait for the last ones to release
     * their requests before the server goes. */
    pthread_mutex_lock(&host.lock);
    while (host.workers > 0) pthread_cond_wait(&host.changed, &host.lock);
    pthread_mutex_unlock(&host.lock);

    if (check(vs_server_free(host.server), "vs_server_free") < 0) status = 1;
    pthread_cond_destroy(&host.changed);
    pthread_mutex_destroy(&host.lock);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    if (sig == 0) status = 1;
    return status;
}
