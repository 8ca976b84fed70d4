/* Tests C middleware (vs_group_use, vs_next_call in capi/context.cpp and capi/route.cpp)
 * against the contract in capi/vstream.h: order, short-circuit, after-logic, misuse of the
 * continuation, a continuation called later from another thread, and userdata lifetime. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"
#include "test_server.h"
#include "test_sync.h"

#include <pthread.h>
#include <string.h>

/* The order in which middleware and handlers ran, one letter each. */
static char order[64];

static void record(char c) {
    size_t n;
    vt_lock();
    n = strlen(order);
    if (n + 1 < sizeof order) {
        order[n] = c;
        order[n + 1] = '\0';
    }
    vt_unlock();
}

static void read_order(char *out, size_t size) {
    vt_lock();
    snprintf(out, size, "%s", order);
    vt_unlock();
}

static void reset_order(void) {
    vt_lock();
    order[0] = '\0';
    vt_unlock();
}

/* ---- servers ---- */

/* One loop thread, a 2 s shutdown grace. */
static vs_server_t *new_server(void) { return vt_new_server(1, 2000); }

/* GETs `path`, checks the status (and the body, unless NULL), then the order the chain ran
 * in, which starts empty. */
static void expect_order(int port, const char *path, int status, const char *body,
                         const char *want) {
    char got[64];
    reset_order();
    vt_expect(port, "GET", path, status, body);
    read_order(got, sizeof got);
    VT_CHECK_STR(got, want);
}

/* ---- middleware and handlers ---- */

/* Records its userdata's letter, then runs the rest of the chain. */
static void recording_mw(vs_ctx_t *ctx, vs_next_t *next, void *ud) {
    (void)ctx;
    record(*(const char *)ud);
    VT_CHECK_EQ(vs_next_call(next), VS_OK);
}

static void handler_ok(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    record('H');
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "handled"), VS_OK);
}

static void fallback_404(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    record('F');
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 404, "nothing here"), VS_OK);
}

static const char letter_s = 'S', letter_t = 'T', letter_o = 'O', letter_p = 'P',
                  letter_i = 'I';

/* Server middleware runs first, then each enclosing group's from the outermost in, each in
 * registration order, then the handler; a route outside the groups sees only the server's. */
static void test_order_server_outer_inner_handler(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv), *outer = NULL, *inner = NULL;
    int port;
    VT_CHECK(root != NULL);
    VT_CHECK_EQ(vs_group_nested(root, "/outer", &outer), VS_OK);
    VT_CHECK_EQ(vs_group_nested(outer, "/inner", &inner), VS_OK);
    VT_CHECK_STR(vs_group_prefix(inner), "/outer/inner");
    /* Registered inner first, so order follows nesting and not registration time. */
    VT_CHECK_EQ(vs_group_use(inner, recording_mw, (void *)&letter_i, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(outer, recording_mw, (void *)&letter_o, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(outer, recording_mw, (void *)&letter_p, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(root, recording_mw, (void *)&letter_s, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(root, recording_mw, (void *)&letter_t, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(inner, "GET", "/h", handler_ok, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/top", handler_ok, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_server_set_fallback(srv, fallback_404, NULL, NULL), VS_OK);
    port = vt_start(srv);

    expect_order(port, "/outer/inner/h", 200, "handled", "STOPIH");
    expect_order(port, "/top", 200, NULL, "STH");
    /* The server's middleware sees unrouted requests as well. */
    expect_order(port, "/nowhere", 404, NULL, "STF");

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

static int handler_runs;

static void counting_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vt_bump(&handler_runs);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "secret"), VS_OK);
}

/* Answers 401 unless the request carries "Authorization: yes", and then does not call next. */
static void auth_mw(vs_ctx_t *ctx, vs_next_t *next, void *ud) {
    const char *auth = vs_ctx_header(ctx, "authorization", NULL);
    (void)ud;
    if (auth == NULL || strcmp(auth, "yes") != 0) {
        VT_CHECK_EQ(vs_ctx_set_header(ctx, "WWW-Authenticate", "Basic realm=\"t\""), VS_OK);
        VT_CHECK_EQ(vs_ctx_send_text(ctx, 401, "who are you"), VS_OK);
        return;
    }
    VT_CHECK_EQ(vs_next_call(next), VS_OK);
}

/* Middleware that answers without calling next short-circuits: the handler never runs. */
static void test_short_circuit_never_runs_the_handler(void) {
    vs_server_t *srv = new_server();
    vs_group_t *api = NULL;
    vt_response r;
    char value[128];
    int port;
    VT_CHECK_EQ(vs_group_nested(vs_server_root(srv), "/api", &api), VS_OK);
    VT_CHECK_EQ(vs_group_use(api, auth_mw, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(api, "GET", "/secret", counting_handler, NULL, NULL), VS_OK);
    port = vt_start(srv);
    vt_store(&handler_runs, 0);

    VT_CHECK_EQ(vt_get(port, "/api/secret", &r), 0);
    VT_CHECK_EQ(r.status, 401);
    VT_CHECK_STR(r.body, "who are you");
    VT_CHECK(vt_header(&r, "WWW-Authenticate", value, sizeof value) != NULL);
    VT_CHECK_STR(value, "Basic realm=\"t\"");
    vt_response_free(&r);
    VT_CHECK_EQ(vt_load(&handler_runs), 0);

    /* The same chain lets an authorised request through, so the 401 was the middleware's. */
    vt_expect_request(port,
                      "GET /api/secret HTTP/1.1\r\nHost: t\r\nAuthorization: yes\r\n"
                      "Connection: close\r\n\r\n",
                      200, "secret");
    VT_CHECK_EQ(vt_load(&handler_runs), 1);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

/* What the after-logic saw, and what misuse of the continuation returned. */
static int seen_before_status, seen_before_responded, seen_after_status, seen_after_responded;
static int second_call_rc, null_call_rc, after_runs;

static void handler_201(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 201, "made"), VS_OK);
}

static void after_mw(vs_ctx_t *ctx, vs_next_t *next, void *ud) {
    int rc;
    (void)ud;
    vt_store(&seen_before_status, vs_ctx_response_status(ctx));
    vt_store(&seen_before_responded, vs_ctx_responded(ctx));
    rc = vs_next_call(next);
    VT_CHECK_EQ(rc, VS_OK);
    vt_store(&seen_after_status, vs_ctx_response_status(ctx));
    vt_store(&seen_after_responded, vs_ctx_responded(ctx));
    vt_store(&second_call_rc, vs_next_call(next));
    vt_store(&null_call_rc, vs_next_call(NULL));
    vt_bump(&after_runs);
}

/* Code after vs_next_call sees the response the handler made; next works once only. */
static void test_after_logic_sees_the_response_and_next_runs_once(void) {
    vs_server_t *srv = new_server();
    int port;
    VT_CHECK_EQ(vs_group_use(vs_server_root(srv), after_mw, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/made", handler_201, NULL, NULL),
                VS_OK);
    port = vt_start(srv);
    vt_store(&after_runs, 0);
    vt_store(&second_call_rc, 1);
    vt_store(&null_call_rc, 1);

    vt_expect(port, "GET", "/made", 201, "made");
    VT_CHECK_EQ(vt_wait_for(&after_runs, 1), 1);
    VT_CHECK_EQ(vt_load(&seen_before_status), 200); /* the default, before the handler */
    VT_CHECK_EQ(vt_load(&seen_before_responded), 0);
    VT_CHECK_EQ(vt_load(&seen_after_status), 201);
    VT_CHECK_EQ(vt_load(&seen_after_responded), 1);
    VT_CHECK_EQ(vt_load(&second_call_rc), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&null_call_rc), VS_EINVAL);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

/* ---- a continuation called later from another thread ---- */

typedef struct {
    vs_ctx_t *ctx;
    vs_next_t *next;
    int mw_returned; /* set (under the lock) by the middleware as its last act */
} pending;

static int deferred_next_rc, deferred_release_rc, deferred_done, async_handler_runs;

static void *deferred_worker(void *arg) {
    pending *p = arg;
    /* Let the middleware's callback return first, so the chain really resumes from here. */
    VT_CHECK_EQ(vt_wait_for(&p->mw_returned, 1), 1);
    vt_store(&deferred_next_rc, vs_next_call(p->next));
    vt_store(&deferred_release_rc, vs_ctx_release(p->ctx));
    free(p);
    vt_bump(&deferred_done);
    return NULL;
}

static void deferring_mw(vs_ctx_t *ctx, vs_next_t *next, void *ud) {
    pending *p = malloc(sizeof *p);
    (void)ud;
    VT_CHECK(p != NULL);
    record('D');
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    p->ctx = ctx;
    p->next = next;
    p->mw_returned = 0;
    vt_spawn(deferred_worker, p);
    vt_store(&p->mw_returned, 1); /* p is the worker's from here: it frees p */
}

static pthread_t loop_thread_of_handler;

static void async_chain_handler(vs_ctx_t *ctx, void *ud) {
    size_t len = 0;
    const char *path = vs_ctx_path(ctx, &len);
    (void)ud;
    record('H');
    vt_lock();
    loop_thread_of_handler = pthread_self();
    vt_unlock();
    VT_CHECK(path != NULL);
    VT_CHECK_EQ(vs_ctx_send(ctx, 200, path, len, NULL), VS_OK);
    vt_bump(&async_handler_runs);
}

static pthread_t loop_thread_of_mw;

static void note_loop_mw(vs_ctx_t *ctx, vs_next_t *next, void *ud) {
    (void)ctx;
    (void)ud;
    vt_lock();
    loop_thread_of_mw = pthread_self();
    vt_unlock();
    record('L');
    VT_CHECK_EQ(vs_next_call(next), VS_OK);
}

/* A middleware that retains ctx and calls next from another thread after its callback
 * returned: the rest of the chain runs on the loop thread and the handler answers. */
static void test_next_called_later_from_another_thread(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv);
    char got[64];
    int port, i;
    VT_CHECK_EQ(vs_group_use(root, note_loop_mw, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(root, deferring_mw, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(root, recording_mw, (void *)&letter_s, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/later/:x", async_chain_handler, NULL, NULL),
                VS_OK);
    port = vt_start(srv);
    vt_store(&deferred_done, 0);
    vt_store(&async_handler_runs, 0);
    vt_store(&deferred_next_rc, 1);
    vt_store(&deferred_release_rc, 1);
    reset_order();

    vt_expect(port, "GET", "/later/abc", 200, "/later/abc");
    VT_CHECK_EQ(vt_wait_for(&deferred_done, 1), 1);
    VT_CHECK_EQ(vt_load(&deferred_next_rc), VS_OK);
    VT_CHECK_EQ(vt_load(&deferred_release_rc), VS_OK);
    VT_CHECK_EQ(vt_load(&async_handler_runs), 1);
    read_order(got, sizeof got);
    VT_CHECK_STR(got, "LDSH");
    vt_lock();
    VT_CHECK(pthread_equal(loop_thread_of_mw, loop_thread_of_handler));
    vt_unlock();

    /* Several at once on one connection each: every one is answered by its handler. */
    for (i = 0; i < 4; ++i) {
        char path[32];
        snprintf(path, sizeof path, "/later/%d", i);
        vt_expect(port, "GET", path, 200, path);
    }
    VT_CHECK_EQ(vt_wait_for(&deferred_done, 5), 5);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    vt_join_spawned();
}

/* ---- a continuation never called ---- */

static int forgotten_done, forgotten_handler_runs;

static void *forgetting_worker(void *arg) {
    VT_CHECK_EQ(vs_ctx_release((vs_ctx_t *)arg), VS_OK);
    vt_bump(&forgotten_done);
    return NULL;
}

static void forgetting_mw(vs_ctx_t *ctx, vs_next_t *next, void *ud) {
    (void)next;
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    vt_spawn(forgetting_worker, ctx);
}

static void forgotten_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vt_bump(&forgotten_handler_runs);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "never"), VS_OK);
}

/* A middleware that retains ctx and lets it go without calling next or answering: the
 * client gets 500, the handler never runs, and the server serves on. */
static void test_forgotten_continuation_gets_500(void) {
    vs_server_t *srv = new_server();
    vs_group_t *g = NULL;
    int port;
    VT_CHECK_EQ(vs_group_nested(vs_server_root(srv), "/forgot", &g), VS_OK);
    VT_CHECK_EQ(vs_group_use(g, forgetting_mw, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(g, "GET", "/x", forgotten_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/ok", handler_ok, NULL, NULL), VS_OK);
    port = vt_start(srv);
    vt_store(&forgotten_done, 0);
    vt_store(&forgotten_handler_runs, 0);
    vt_expect(port, "GET", "/forgot/x", 500, NULL);
    VT_CHECK_EQ(vt_wait_for(&forgotten_done, 1), 1);
    VT_CHECK_EQ(vt_load(&forgotten_handler_runs), 0);
    vt_expect(port, "GET", "/ok", 200, NULL);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    vt_join_spawned();
}

/* ---- userdata ---- */

static int ud_frees;
static int ud_value = 42;

static void count_free(void *p) {
    VT_CHECK(p == &ud_value);
    vt_bump(&ud_frees);
}

static int ud_seen;

static void ud_mw(vs_ctx_t *ctx, vs_next_t *next, void *ud) {
    (void)ctx;
    vt_store(&ud_seen, *(int *)ud);
    VT_CHECK_EQ(vs_next_call(next), VS_OK);
}

/* The middleware's userdata reaches it and is freed exactly once, when the server is; a
 * registration that fails frees it at once. */
static void test_userdata_freed_exactly_once(void) {
    vs_server_t *srv = new_server();
    int port;
    vt_store(&ud_frees, 0);
    VT_CHECK_EQ(vs_group_use(vs_server_root(srv), ud_mw, &ud_value, count_free), VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/x", handler_ok, NULL, NULL),
                VS_OK);
    port = vt_start(srv);
    vt_expect(port, "GET", "/x", 200, NULL);
    vt_expect(port, "GET", "/x", 200, NULL);
    VT_CHECK_EQ(vt_load(&ud_seen), 42);
    VT_CHECK_EQ(vt_load(&ud_frees), 0); /* not per request */
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(vt_load(&ud_frees), 1);

    /* Failed registrations: a NULL middleware, a NULL group, a running server. */
    srv = new_server();
    VT_CHECK_EQ(vs_group_use(vs_server_root(srv), NULL, &ud_value, count_free), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&ud_frees), 2);
    VT_CHECK_EQ(vs_group_use(NULL, ud_mw, &ud_value, count_free), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&ud_frees), 3);
    vt_start(srv);
    VT_CHECK(vs_group_use(vs_server_root(srv), ud_mw, &ud_value, count_free) < 0);
    VT_CHECK_EQ(vt_load(&ud_frees), 4);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(vt_load(&ud_frees), 4);
}

int main(void) {
    test_order_server_outer_inner_handler();
    test_short_circuit_never_runs_the_handler();
    test_after_logic_sees_the_response_and_next_runs_once();
    test_next_called_later_from_another_thread();
    test_forgotten_continuation_gets_500();
    test_userdata_freed_exactly_once();
    printf("test_middleware: ok\n");
    return 0;
}
