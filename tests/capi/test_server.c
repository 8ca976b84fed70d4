/* Tests capi/server.cpp: the server lifecycle (new, start, run, stop, wait, free), its misuse
 * codes, bind failures, counters, the fallback handler, and vs_server_attach() on a libuv
 * loop this test runs itself. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"
#include "test_server.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static pthread_t main_thread;

static void fallback(vs_ctx_t *ctx, void *ud);

/* 127.0.0.1, port 0, one loop thread, a short grace so that no stop can hang for long. */
static vs_config_t *make_config(void) { return vt_test_config(1, 5000); }

static void ping(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vs_ctx_send_text(ctx, 200, "pong");
}

/* A server made from make_config() with GET /ping. */
static vs_server_t *new_server(void) {
    vs_server_t *srv = vt_server_from(make_config());
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/ping", ping, NULL, NULL), VS_OK);
    return srv;
}

/* Polls vs_server_running() until it is `want`, for at most 10 s. */
static int wait_running(const vs_server_t *srv, int want) {
    const long long deadline = vt_now_ms() + 10000;
    while (vs_server_running(srv) != want) {
        if (vt_now_ms() > deadline) return 0;
        vt_sleep_ms(2);
    }
    return 1;
}

/* Polls a counter until it is `want`, for at most 10 s; returns its last value. */
static uint64_t wait_stat(const vs_server_t *srv, int stat, uint64_t want) {
    const long long deadline = vt_now_ms() + 10000;
    uint64_t v = 0;
    for (;;) {
        VT_CHECK_EQ(vs_server_stat(srv, stat, &v), VS_OK);
        if (v == want || vt_now_ms() > deadline) return v;
        vt_sleep_ms(2);
    }
}

static uint64_t stat_of(const vs_server_t *srv, int stat) {
    uint64_t v = 0xdeadbeef;
    VT_CHECK_EQ(vs_server_stat(srv, stat, &v), VS_OK);
    return v;
}

/* ---- lifecycle ---- */

static void test_start_stop_and_the_codes_of_each_step(void) {
    vs_server_t *srv = new_server();
    int port;
    VT_CHECK_EQ(vs_server_port(srv), 0);
    VT_CHECK_EQ(vs_server_running(srv), 0);

    VT_CHECK_EQ(vs_server_start(srv), VS_OK);
    port = vs_server_port(srv);
    VT_CHECK(port >= 1 && port <= 65535); /* port 0 gave a real one */
    VT_CHECK_EQ(vs_server_running(srv), 1);
    vt_expect(port, "GET", "/ping", 200, "pong");

    VT_CHECK_EQ(vs_server_start(srv), VS_ERUNNING);
    VT_CHECK(vs_last_error_message()[0] != '\0');
    VT_CHECK_EQ(vs_server_run(srv), VS_ERUNNING);
    VT_CHECK_EQ(vs_server_running(srv), 1); /* the refused calls changed nothing */
    vt_expect(port, "GET", "/ping", 200, "pong");

    VT_CHECK_EQ(vs_server_stop(srv), VS_OK);
    VT_CHECK_EQ(vs_server_running(srv), 0);
    VT_CHECK_EQ(vs_server_port(srv), port); /* still the port it had */
    VT_CHECK_EQ(vs_server_stop(srv), VS_OK); /* idempotent */
    VT_CHECK_EQ(vs_server_wait(srv), VS_OK); /* stopped already: returns at once */
    VT_CHECK_EQ(vs_server_start(srv), VS_ESTOPPED);
    VT_CHECK(vs_last_error_message()[0] != '\0');
    VT_CHECK_EQ(vs_server_run(srv), VS_ESTOPPED);
    VT_CHECK_EQ(vs_server_running(srv), 0);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

static void test_stop_before_start_makes_a_stopped_server(void) {
    vs_server_t *srv = new_server();
    uv_loop_t loop;
    VT_CHECK_EQ(vs_server_stop(srv), VS_OK);
    VT_CHECK_EQ(vs_server_running(srv), 0);
    VT_CHECK_EQ(vs_server_start(srv), VS_ESTOPPED);
    VT_CHECK_EQ(uv_loop_init(&loop), 0);
    VT_CHECK_EQ(vs_server_attach(srv, &loop), VS_ESTOPPED);
    VT_CHECK_EQ(uv_loop_close(&loop), 0); /* the refused attach left nothing on the loop */
    VT_CHECK_EQ(vs_server_wait(srv), VS_OK);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

struct runner {
    vs_server_t *srv;
    int rc;
};

static void *run_thread(void *arg) {
    struct runner *r = arg;
    r->rc = vs_server_run(r->srv);
    return NULL;
}

/* vs_server_run() blocks its thread until another thread stops the server. */
static void test_run_in_a_thread_and_stop_from_another(void) {
    struct runner r;
    pthread_t thread;
    r.srv = new_server();
    r.rc = 12345;
    VT_CHECK_EQ(pthread_create(&thread, NULL, run_thread, &r), 0);
    VT_CHECK(wait_running(r.srv, 1));
    VT_CHECK(vs_server_port(r.srv) > 0);
    vt_expect(vs_server_port(r.srv), "GET", "/ping", 200, "pong");
    VT_CHECK_EQ(r.rc, 12345); /* still running */
    VT_CHECK_EQ(vs_server_stop(r.srv), VS_OK);
    VT_CHECK_EQ(pthread_join(thread, NULL), 0);
    VT_CHECK_EQ(r.rc, VS_OK);
    VT_CHECK_EQ(vs_server_running(r.srv), 0);
    VT_CHECK_EQ(vs_server_free(r.srv), VS_OK);
}

/* What a handler did with the server it was given. */
struct handler_call {
    vs_server_t *srv;
    int rc;
    int calls;
};

/* A handler_call for `srv` that no handler has made yet. */
static struct handler_call no_call_yet(vs_server_t *srv) {
    struct handler_call h;
    h.srv = srv;
    h.rc = 12345;
    h.calls = 0;
    return h;
}

static void stop_handler(vs_ctx_t *ctx, void *ud) {
    struct handler_call *h = ud;
    h->rc = vs_server_stop(h->srv); /* only starts the stop */
    h->calls++;
    vs_ctx_send_text(ctx, 200, "stopping");
}

/* A stop from a handler only starts it; vs_server_wait() elsewhere sees it end. */
static void test_stop_from_a_handler_and_wait_elsewhere(void) {
    vs_server_t *srv = new_server();
    struct handler_call h = no_call_yet(srv);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/stop", stop_handler, &h, NULL),
                VS_OK);
    vt_expect(vt_start(srv), "GET", "/stop", 200, "stopping");
    VT_CHECK_EQ(vs_server_wait(srv), VS_OK);
    VT_CHECK_EQ(h.calls, 1);
    VT_CHECK_EQ(h.rc, VS_OK);
    VT_CHECK_EQ(vs_server_running(srv), 0);
    VT_CHECK_EQ(vs_server_wait(srv), VS_OK); /* again: already stopped */
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

static void free_handler(vs_ctx_t *ctx, void *ud) {
    struct handler_call *h = ud;
    h->rc = vs_server_free(h->srv);
    h->calls++;
    vs_ctx_send_text(ctx, 200, vs_err_name(h->rc));
}

/* A server cannot be freed from its own handler: VS_EBUSY, and it keeps serving. */
static void test_free_from_a_handler_is_busy(void) {
    vs_server_t *srv = new_server();
    struct handler_call h = no_call_yet(srv);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/free", free_handler, &h, NULL),
                VS_OK);
    vt_expect(vt_start(srv), "GET", "/free", 200, "VS_EBUSY");
    VT_CHECK_EQ(h.calls, 1);
    VT_CHECK_EQ(h.rc, VS_EBUSY);
    VT_CHECK_EQ(vs_server_running(srv), 1);
    vt_expect(vs_server_port(srv), "GET", "/ping", 200, "pong");
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

/* Freeing a running server stops it: an idle keep-alive connection is closed. */
static void test_free_stops_a_running_server(void) {
    vs_server_t *srv = new_server();
    vt_response r;
    int fd;
    static const char req[] = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";
    fd = vt_connect(vt_start(srv));
    VT_CHECK(fd >= 0);
    VT_CHECK_EQ(vt_roundtrip(fd, req, 10000, &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "pong");
    vt_response_free(&r);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(vt_wait_closed(fd, 10000), 1);
    close(fd);
}

/* ---- misuse ---- */

static void test_null_and_wrong_handles_are_refused(void) {
    vs_config_t *cfg = make_config();
    vs_server_t *srv = NULL;
    vs_server_t *not_a_server = (vs_server_t *)(void *)cfg;
    uv_loop_t loop;
    uint64_t v = 9;

    VT_CHECK_EQ(vs_server_free(NULL), VS_OK);
    VT_CHECK_EQ(vs_server_start(NULL), VS_EINVAL);
    VT_CHECK(vs_last_error_message()[0] != '\0');
    VT_CHECK_EQ(vs_server_run(NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_server_stop(NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_server_wait(NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_server_port(NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_server_running(NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_server_stat(NULL, VS_STAT_REQUESTS, &v), VS_EINVAL);
    VT_CHECK_EQ(v, 9);
    VT_CHECK(vs_server_root(NULL) == NULL);
    VT_CHECK_EQ(vs_server_set_fallback(NULL, ping, NULL, NULL), VS_EINVAL);
    VT_CHECK_EQ(uv_loop_init(&loop), 0);
    VT_CHECK_EQ(vs_server_attach(NULL, &loop), VS_EINVAL);

    /* A handle of another type is refused by its magic. */
    VT_CHECK_EQ(vs_server_start(not_a_server), VS_EINVAL);
    VT_CHECK_EQ(vs_server_stop(not_a_server), VS_EINVAL);
    VT_CHECK_EQ(vs_server_running(not_a_server), VS_EINVAL);
    VT_CHECK_EQ(vs_server_free(not_a_server), VS_EINVAL);
    VT_CHECK(vs_server_root(not_a_server) == NULL);
    VT_CHECK_EQ(vs_config_set_port(cfg, 0), VS_OK); /* the config is untouched */

    VT_CHECK_EQ(vs_server_new(&srv, cfg), VS_OK);
    VT_CHECK_EQ(vs_server_attach(srv, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_server_running(srv), 0);
    VT_CHECK_EQ(vs_server_stat(srv, VS_STAT_REQUESTS, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/ping", ping, NULL, NULL), VS_OK);
    /* The refused attach left the server startable. */
    VT_CHECK_EQ(vs_server_start(srv), VS_OK);
    vt_expect(vs_server_port(srv), "GET", "/ping", 200, "pong");
    VT_CHECK_EQ(vs_server_attach(srv, &loop), VS_ERUNNING); /* running on threads already */
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(uv_loop_close(&loop), 0);
    vs_config_free(cfg);
}

/* ---- bind failures ---- */

/* A second server on the first one's port fails to start, leaving nothing running; the first
 * keeps serving. */
static void test_bind_failure_leaves_nothing_running(void) {
    vs_server_t *first = new_server();
    vs_server_t *second = NULL, *third = NULL;
    vs_config_t *cfg;
    uv_loop_t loop;
    int port, i;
    port = vt_start(first);

    cfg = make_config();
    VT_CHECK_EQ(vs_config_set_port(cfg, (unsigned)port), VS_OK);
    VT_CHECK_EQ(vs_server_new(&second, cfg), VS_OK);
    VT_CHECK_EQ(vs_server_new(&third, cfg), VS_OK);
    vs_config_free(cfg);
    /* Answers otherwise: a request reaching it would show. */
    VT_CHECK_EQ(vs_group_route(vs_server_root(second), "GET", "/ping", fallback, "second", NULL),
                VS_OK);

    VT_CHECK_EQ(vs_server_start(second), VS_EADDRINUSE);
    VT_CHECK(vs_last_error_message()[0] != '\0');
    VT_CHECK_EQ(vs_server_running(second), 0);
    VT_CHECK_EQ(vs_server_port(second), 0);

    /* The same through attach: nothing is left on the host's loop. */
    VT_CHECK_EQ(uv_loop_init(&loop), 0);
    VT_CHECK_EQ(vs_server_attach(third, &loop), VS_EADDRINUSE);
    VT_CHECK_EQ(vs_server_running(third), 0);
    VT_CHECK_EQ(uv_run(&loop, UV_RUN_NOWAIT), 0);
    VT_CHECK_EQ(uv_loop_close(&loop), 0);

    /* The first still has its port to itself (no reuse-port group was joined): every
     * request reaches it. */
    for (i = 0; i < 8; ++i) vt_expect(port, "GET", "/ping", 200, "pong");
    VT_CHECK_EQ(vs_server_free(second), VS_OK);
    VT_CHECK_EQ(vs_server_free(third), VS_OK);
    vt_expect(port, "GET", "/ping", 200, "pong");
    VT_CHECK_EQ(vs_server_free(first), VS_OK);
}

/* ---- counters ---- */

static char file_path[4096];
static const char file_body[] = "0123456789abcdefghijklmnopqrstuvwxyz\n";

static void file_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vs_ctx_send_file(ctx, file_path, NULL);
}

static void test_stats_count_requests_and_file_cache_use(void) {
    vs_server_t *srv = new_server();
    char *dir = vt_temp_dir();
    uint64_t v = 0;
    int port, i;
    snprintf(file_path, sizeof file_path, "%s/media.txt", dir);
    VT_CHECK_EQ(vt_write_file(file_path, file_body, strlen(file_body)), 0);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/file", file_handler, NULL, NULL),
                VS_OK);

    /* Before start: every counter reads, and is 0. */
    VT_CHECK_EQ(stat_of(srv, VS_STAT_REQUESTS), 0);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CONNECTIONS_ACCEPTED), 0);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CACHE_HITS), 0);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CACHE_MISSES), 0);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CACHE_OPEN_ENTRIES), 0);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CACHE_MAPPED_BYTES), 0);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CONNECTIONS_REFUSED), 0);

    port = vt_start(srv);
    for (i = 0; i < 3; ++i) vt_expect(port, "GET", "/ping", 200, "pong");
    VT_CHECK_EQ(wait_stat(srv, VS_STAT_REQUESTS, 3), 3);
    VT_CHECK_EQ(wait_stat(srv, VS_STAT_CONNECTIONS_ACCEPTED, 3), 3);
    VT_CHECK_EQ(wait_stat(srv, VS_STAT_CONNECTIONS_OPEN, 0), 0);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CONNECTIONS_REJECTED), 0);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CONNECTIONS_REFUSED), 0);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CACHE_MISSES), 0); /* no file yet */

    vt_expect(port, "GET", "/file", 200, file_body);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CACHE_MISSES), 1);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CACHE_HITS), 0);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CACHE_OPEN_ENTRIES), 1);
    VT_CHECK(stat_of(srv, VS_STAT_CACHE_MAPPED_BYTES) >= strlen(file_body));
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CACHE_EVICTIONS), 0);
    vt_expect(port, "GET", "/file", 200, file_body);
    VT_CHECK(stat_of(srv, VS_STAT_CACHE_HITS) >= 1);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CACHE_MISSES), 1);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_CACHE_OPEN_ENTRIES), 1);
    VT_CHECK_EQ(wait_stat(srv, VS_STAT_REQUESTS, 5), 5);

    /* Unknown counters, on either side of the known ones. */
    v = 42;
    VT_CHECK_EQ(vs_server_stat(srv, 0, &v), VS_EINVAL);
    VT_CHECK_CONTAINS(vs_last_error_message(), "VS_STAT");
    VT_CHECK_EQ(vs_server_stat(srv, VS_STAT_TLS_TRUNCATED_READS + 1, &v), VS_EINVAL);
    VT_CHECK_EQ(vs_server_stat(srv, -1, &v), VS_EINVAL);
    VT_CHECK_EQ(v, 42);

    /* The counters outlive the stop. */
    VT_CHECK_EQ(vs_server_stop(srv), VS_OK);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_REQUESTS), 5);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    vt_remove_tree(dir);
    free(dir);
}

/* ---- fallback ---- */

static int fallback_frees;
static void count_free(void *ud) {
    (void)ud;
    fallback_frees++;
}

static void fallback(vs_ctx_t *ctx, void *ud) {
    char body[256];
    snprintf(body, sizeof body, "%s %s %s", (const char *)ud, vs_ctx_method(ctx, NULL),
             vs_ctx_path(ctx, NULL));
    vs_ctx_send_text(ctx, 200, body);
}

static void test_fallback_answers_unmatched_requests(void) {
    vs_server_t *srv = new_server();
    int port;
    fallback_frees = 0;
    /* A second call replaces the first; each userdata is freed once. */
    VT_CHECK_EQ(vs_server_set_fallback(srv, fallback, "first", count_free), VS_OK);
    VT_CHECK_EQ(vs_server_set_fallback(srv, fallback, "fb", count_free), VS_OK);
    VT_CHECK_EQ(fallback_frees, 1);
    /* Refused: NULL handler; its userdata is freed at once. */
    VT_CHECK_EQ(vs_server_set_fallback(srv, NULL, "x", count_free), VS_EINVAL);
    VT_CHECK_EQ(fallback_frees, 2);
    VT_CHECK_EQ(vs_server_set_fallback(NULL, fallback, "x", count_free), VS_EINVAL);
    VT_CHECK_EQ(fallback_frees, 3);

    port = vt_start(srv);
    vt_expect(port, "GET", "/nope", 200, "fb GET /nope");
    vt_expect(port, "GET", "/ping", 200, "pong"); /* routes still win */
    vt_expect_request(port,
                      "PUT /elsewhere/deep HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n"
                      "Connection: close\r\n\r\n",
                      200, "fb PUT /elsewhere/deep");

    /* After start: VS_ERUNNING, the userdata freed at once, the old fallback kept. */
    VT_CHECK_EQ(vs_server_set_fallback(srv, fallback, "late", count_free), VS_ERUNNING);
    VT_CHECK_EQ(fallback_frees, 4);
    vt_expect(port, "GET", "/nope", 200, "fb GET /nope");

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(fallback_frees, 5); /* the one in use, at free */
}

/* With no routes at all the fallback sees every request. */
static void test_fallback_alone_sees_every_request(void) {
    vs_server_t *srv = vt_server_from(make_config());
    int port;
    VT_CHECK_EQ(vs_server_set_fallback(srv, fallback, "all", NULL), VS_OK);
    port = vt_start(srv);
    vt_expect(port, "GET", "/", 200, "all GET /");
    vt_expect(port, "GET", "/a/b/c", 200, "all GET /a/b/c");
    vt_expect_request(port,
                      "POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
                      "Connection: close\r\n\r\nabc",
                      200, "all POST /x");
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

/* ---- attach: serving from the host's libuv loop ---- */

static void watchdog(uv_timer_t *t) {
    (void)t;
    fprintf(stderr, "%s:%d: the host loop did not finish within 30 s\n", __FILE__, __LINE__);
    exit(1);
}

/* A timer that fails the test if uv_run does not return in time; unreferenced, so it never
 * keeps the loop alive by itself. */
static void start_watchdog(uv_loop_t *loop, uv_timer_t *t) {
    VT_CHECK_EQ(uv_timer_init(loop, t), 0);
    VT_CHECK_EQ(uv_timer_start(t, watchdog, 30000, 0), 0);
    uv_unref((uv_handle_t *)t);
}

static void thread_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vs_ctx_send_text(ctx, 200, pthread_equal(pthread_self(), main_thread) ? "host" : "other");
}

/* What the client thread saw. */
struct attach_client {
    vs_server_t *srv;
    int port;
    int ping_status, thread_status, free_status;
    char ping[64], thread[64], free_body[64];
    int stop_rc, wait_rc;
    int running_after_wait;
};

static void get_into(int port, const char *path, int *status, char *body, size_t size) {
    vt_response r;
    *status = -1;
    body[0] = '\0';
    if (vt_get(port, path, &r) != 0) return;
    *status = r.status;
    snprintf(body, size, "%s", r.body);
    vt_response_free(&r);
}

static void *attach_client_main(void *arg) {
    struct attach_client *c = arg;
    get_into(c->port, "/ping", &c->ping_status, c->ping, sizeof c->ping);
    get_into(c->port, "/thread", &c->thread_status, c->thread, sizeof c->thread);
    get_into(c->port, "/free", &c->free_status, c->free_body, sizeof c->free_body);
    c->stop_rc = vs_server_stop(c->srv);  /* any thread */
    c->wait_rc = vs_server_wait(c->srv);  /* off the loop's thread: blocks until stopped */
    c->running_after_wait = vs_server_running(c->srv);
    return NULL;
}

static void test_attach_serves_while_the_host_runs_its_loop(void) {
    uv_loop_t loop;
    uv_timer_t dog;
    pthread_t client;
    struct attach_client c;
    vs_server_t *srv = new_server();
    struct handler_call h = no_call_yet(srv);
    memset(&c, 0, sizeof c);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/thread", thread_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/free", free_handler, &h, NULL),
                VS_OK);
    VT_CHECK_EQ(uv_loop_init(&loop), 0);
    start_watchdog(&loop, &dog);

    VT_CHECK_EQ(vs_server_attach(srv, &loop), VS_OK);
    c.srv = srv;
    c.port = vs_server_port(srv);
    VT_CHECK(c.port > 0);
    VT_CHECK_EQ(vs_server_running(srv), 1);
    VT_CHECK_EQ(vs_server_wait(srv), VS_EBUSY); /* this thread runs the loop */
    VT_CHECK(vs_last_error_message()[0] != '\0');
    VT_CHECK_EQ(vs_server_attach(srv, &loop), VS_ERUNNING);
    VT_CHECK_EQ(vs_server_start(srv), VS_ERUNNING);

    VT_CHECK_EQ(pthread_create(&client, NULL, attach_client_main, &c), 0);
    /* Serves until the client thread's stop has finished; then nothing keeps the loop. */
    uv_run(&loop, UV_RUN_DEFAULT);
    VT_CHECK_EQ(vs_server_running(srv), 0);
    VT_CHECK_EQ(pthread_join(client, NULL), 0);

    VT_CHECK_EQ(c.ping_status, 200);
    VT_CHECK_STR(c.ping, "pong");
    VT_CHECK_EQ(c.thread_status, 200);
    VT_CHECK_STR(c.thread, "host"); /* handlers ran on the loop's thread */
    VT_CHECK_EQ(c.free_status, 200);
    VT_CHECK_STR(c.free_body, "VS_EBUSY");
    VT_CHECK_EQ(h.rc, VS_EBUSY);
    VT_CHECK_EQ(c.stop_rc, VS_OK);
    VT_CHECK_EQ(c.wait_rc, VS_OK);
    VT_CHECK_EQ(c.running_after_wait, 0);

    VT_CHECK_EQ(vs_server_wait(srv), VS_EBUSY); /* still the loop's thread */
    VT_CHECK_EQ(vs_server_stop(srv), VS_OK);    /* idempotent */
    VT_CHECK_EQ(vs_server_attach(srv, &loop), VS_ESTOPPED);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    uv_close((uv_handle_t *)&dog, NULL);
    VT_CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    VT_CHECK_EQ(uv_loop_close(&loop), 0);
}

/* A stop requested from the loop's thread before uv_run: uv_run finishes it and returns. */
static void test_attach_stop_before_the_loop_runs(void) {
    uv_loop_t loop;
    uv_timer_t dog;
    vs_server_t *srv = new_server();
    VT_CHECK_EQ(uv_loop_init(&loop), 0);
    start_watchdog(&loop, &dog);
    VT_CHECK_EQ(vs_server_attach(srv, &loop), VS_OK);
    VT_CHECK_EQ(vs_server_stop(srv), VS_OK); /* only starts it */
    uv_run(&loop, UV_RUN_DEFAULT);
    VT_CHECK_EQ(vs_server_running(srv), 0);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    uv_close((uv_handle_t *)&dog, NULL);
    VT_CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    VT_CHECK_EQ(uv_loop_close(&loop), 0);
}

/* For the free-without-stop case: a connection kept open across the free. */
struct keepalive_client {
    int port;
    uv_async_t *wake;
    int status;
    char body[64];
    int closed;
};

static void wake_cb(uv_async_t *a) { uv_stop(a->loop); }

static void *keepalive_client_main(void *arg) {
    struct keepalive_client *k = arg;
    static const char req[] = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";
    vt_response r;
    int fd = vt_connect(k->port);
    k->status = -1;
    if (fd >= 0 && vt_roundtrip(fd, req, 10000, &r) == 0) {
        k->status = r.status;
        snprintf(k->body, sizeof k->body, "%s", r.body);
        vt_response_free(&r);
    }
    uv_async_send(k->wake); /* the host may free the server now */
    if (fd >= 0) {
        k->closed = vt_wait_closed(fd, 10000);
        close(fd);
    }
    return NULL;
}

/* Freeing an attached server that was never stopped closes everything at once; its two host
 * handles are freed when the loop next runs, after which the loop closes cleanly. */
static void test_free_attached_without_stop_closes_everything(void) {
    uv_loop_t loop;
    uv_timer_t dog;
    uv_async_t wake;
    pthread_t client;
    struct keepalive_client k;
    vs_server_t *srv = new_server();
    memset(&k, 0, sizeof k);
    VT_CHECK_EQ(uv_loop_init(&loop), 0);
    start_watchdog(&loop, &dog);
    VT_CHECK_EQ(uv_async_init(&loop, &wake, wake_cb), 0);
    VT_CHECK_EQ(vs_server_attach(srv, &loop), VS_OK);
    k.port = vs_server_port(srv);
    k.wake = &wake;
    VT_CHECK_EQ(pthread_create(&client, NULL, keepalive_client_main, &k), 0);
    uv_run(&loop, UV_RUN_DEFAULT); /* until the client has its answer (uv_stop) */
    VT_CHECK_EQ(vs_server_running(srv), 1);

    VT_CHECK_EQ(vs_server_free(srv), VS_OK); /* the loop is not running: not inside it */
    VT_CHECK_EQ(pthread_join(client, NULL), 0);
    VT_CHECK_EQ(k.status, 200);
    VT_CHECK_STR(k.body, "pong");
    VT_CHECK_EQ(k.closed, 1); /* the free closed the kept-alive connection */

    uv_close((uv_handle_t *)&wake, NULL);
    uv_close((uv_handle_t *)&dog, NULL);
    VT_CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0); /* frees the server's two host handles */
    VT_CHECK_EQ(uv_loop_close(&loop), 0);
}

/* For the free-during-free case: a request held across the free, whose cancel callback tries
 * to free the server again. */
static vs_server_t *refree_srv;
static vs_ctx_t *refree_ctx;
static uv_loop_t *refree_loop;
static int refree_rc = 1, refree_cancels;

static void refree_on_cancel(void *ud) {
    (void)ud;
    ++refree_cancels;
    refree_rc = vs_server_free(refree_srv); /* runs inside the first free */
    VT_CHECK_EQ(vs_ctx_release(refree_ctx), VS_OK);
}

static void refree_hold(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    refree_ctx = ctx;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    VT_CHECK_EQ(vs_ctx_on_cancel(ctx, refree_on_cancel, NULL, NULL), VS_OK);
    uv_stop(refree_loop); /* the host's run returns; the request stays held */
}

static void *refree_client_main(void *arg) {
    int port = *(int *)arg;
    static const char req[] = "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n";
    int fd = vt_connect(port);
    if (fd >= 0) {
        VT_CHECK_EQ(vt_send_all(fd, req, sizeof req - 1), 0);
        VT_CHECK_EQ(vt_wait_closed(fd, 10000), 1); /* closed by the free, unanswered */
        close(fd);
    }
    return NULL;
}

/* A callback that the free of an attached server runs (here: the held request's cancel) and
 * that frees the server again gets VS_EBUSY instead of freeing it twice. */
static void test_free_from_a_callback_of_the_free_is_busy(void) {
    uv_loop_t loop;
    uv_timer_t dog;
    pthread_t client;
    int port;
    refree_srv = new_server();
    refree_loop = &loop;
    VT_CHECK_EQ(vs_group_route(vs_server_root(refree_srv), "GET", "/hold", refree_hold, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(uv_loop_init(&loop), 0);
    start_watchdog(&loop, &dog);
    VT_CHECK_EQ(vs_server_attach(refree_srv, &loop), VS_OK);
    port = vs_server_port(refree_srv);
    VT_CHECK_EQ(pthread_create(&client, NULL, refree_client_main, &port), 0);
    uv_run(&loop, UV_RUN_DEFAULT); /* until the handler holds the request (uv_stop) */
    VT_CHECK_EQ(vs_server_free(refree_srv), VS_OK);
    VT_CHECK_EQ(refree_cancels, 1);
    VT_CHECK_EQ(refree_rc, VS_EBUSY);
    VT_CHECK_EQ(pthread_join(client, NULL), 0);
    uv_close((uv_handle_t *)&dog, NULL);
    VT_CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    VT_CHECK_EQ(uv_loop_close(&loop), 0);
}

int main(void) {
    main_thread = pthread_self();
    test_start_stop_and_the_codes_of_each_step();
    test_stop_before_start_makes_a_stopped_server();
    test_run_in_a_thread_and_stop_from_another();
    test_stop_from_a_handler_and_wait_elsewhere();
    test_free_from_a_handler_is_busy();
    test_free_from_a_callback_of_the_free_is_busy();
    test_free_stops_a_running_server();
    test_null_and_wrong_handles_are_refused();
    test_bind_failure_leaves_nothing_running();
    test_stats_count_requests_and_file_cache_use();
    test_fallback_answers_unmatched_requests();
    test_fallback_alone_sees_every_request();
    test_attach_serves_while_the_host_runs_its_loop();
    test_attach_stop_before_the_loop_runs();
    test_free_attached_without_stop_closes_everything();
    printf("test_server: ok\n");
    return 0;
}
