/* Tests C middleware (vs_group_use, vs_next_call in capi/context.cpp and capi/route.cpp)
 * against the contract in capi/vstream.h: order, short-circuit, after-logic, misuse of the
 * continuation, a continuation called later from another thread, and userdata lifetime. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

/* Fails unless two C strings (either may be NULL) are equal, printing both. */
#define CHECK_STR(a, b)                                                                   \
    do {                                                                                  \
        const char *cs_a_ = (a), *cs_b_ = (b);                                            \
        if (cs_a_ == NULL || cs_b_ == NULL || strcmp(cs_a_, cs_b_) != 0) {                \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__,       \
                    __LINE__, #a, #b, cs_a_ ? cs_a_ : "(null)", cs_b_ ? cs_b_ : "(null)"); \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

/* ---- state shared with the loop thread, under one lock ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void bump(int *counter) {
    pthread_mutex_lock(&mu);
    ++*counter;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void store(int *slot, int value) {
    pthread_mutex_lock(&mu);
    *slot = value;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static int load(const int *slot) {
    int v;
    pthread_mutex_lock(&mu);
    v = *slot;
    pthread_mutex_unlock(&mu);
    return v;
}

/* Waits until *counter >= target or 10 s pass; returns the last value seen. */
static int wait_for(const int *counter, int target) {
    struct timespec deadline;
    int v;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&mu);
    while (*counter < target) {
        if (pthread_cond_timedwait(&cv, &mu, &deadline) != 0) break;
    }
    v = *counter;
    pthread_mutex_unlock(&mu);
    return v;
}

/* The order in which middleware and handlers ran, one letter each. */
static char order[64];

static void record(char c) {
    size_t n;
    pthread_mutex_lock(&mu);
    n = strlen(order);
    if (n + 1 < sizeof order) {
        order[n] = c;
        order[n + 1] = '\0';
    }
    pthread_mutex_unlock(&mu);
}

static void read_order(char *out, size_t size) {
    pthread_mutex_lock(&mu);
    strncpy(out, order, size - 1);
    out[size - 1] = '\0';
    pthread_mutex_unlock(&mu);
}

static void reset_order(void) {
    pthread_mutex_lock(&mu);
    order[0] = '\0';
    pthread_mutex_unlock(&mu);
}

/* ---- servers ---- */

static vs_server_t *new_server(void) {
    vs_config_t *cfg = NULL;
    vs_server_t *srv = NULL;
    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    VT_CHECK_EQ(vs_config_set_port(cfg, 0), VS_OK);
    VT_CHECK_EQ(vs_config_set_threads(cfg, 1), VS_OK);
    VT_CHECK_EQ(vs_config_set_timeout(cfg, VS_TIMEOUT_SHUTDOWN_GRACE, 2000), VS_OK);
    VT_CHECK_EQ(vs_server_new(&srv, cfg), VS_OK);
    vs_config_free(cfg);
    return srv;
}

static int start(vs_server_t *srv) {
    int port;
    VT_CHECK_EQ(vs_server_start(srv), VS_OK);
    port = vs_server_port(srv);
    VT_CHECK(port > 0);
    return port;
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
    vt_response r;
    char got[64];
    int port;
    VT_CHECK(root != NULL);
    VT_CHECK_EQ(vs_group_nested(root, "/outer", &outer), VS_OK);
    VT_CHECK_EQ(vs_group_nested(outer, "/inner", &inner), VS_OK);
    CHECK_STR(vs_group_prefix(inner), "/outer/inner");
    /* Registered inner first, so order follows nesting and not registration time. */
    VT_CHECK_EQ(vs_group_use(inner, recording_mw, (void *)&letter_i, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(outer, recording_mw, (void *)&letter_o, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(outer, recording_mw, (void *)&letter_p, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(root, recording_mw, (void *)&letter_s, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(root, recording_mw, (void *)&letter_t, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(inner, "GET", "/h", handler_ok, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/top", handler_ok, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_server_set_fallback(srv, fallback_404, NULL, NULL), VS_OK);
    port = start(srv);

    reset_order();
    VT_CHECK_EQ(vt_get(port, "/outer/inner/h", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "handled");
    read_order(got, sizeof got);
    CHECK_STR(got, "STOPIH");
    vt_response_free(&r);

    reset_order();
    VT_CHECK_EQ(vt_get(port, "/top", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    read_order(got, sizeof got);
    CHECK_STR(got, "STH");
    vt_response_free(&r);

    /* The server's middleware sees unrouted requests as well. */
    reset_order();
    VT_CHECK_EQ(vt_get(port, "/nowhere", &r), 0);
    VT_CHECK_EQ(r.status, 404);
    read_order(got, sizeof got);
    CHECK_STR(got, "STF");
    vt_response_free(&r);

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

static int handler_runs;

static void counting_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    bump(&handler_runs);
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
    port = start(srv);
    store(&handler_runs, 0);

    VT_CHECK_EQ(vt_get(port, "/api/secret", &r), 0);
    VT_CHECK_EQ(r.status, 401);
    CHECK_STR(r.body, "who are you");
    VT_CHECK(vt_header(&r, "WWW-Authenticate", value, sizeof value) != NULL);
    CHECK_STR(value, "Basic realm=\"t\"");
    vt_response_free(&r);
    VT_CHECK_EQ(load(&handler_runs), 0);

    /* The same chain lets an authorised request through, so the 401 was the middleware's. */
    VT_CHECK_EQ(vt_request(port,
                           "GET /api/secret HTTP/1.1\r\nHost: t\r\nAuthorization: yes\r\n"
                           "Connection: close\r\n\r\n",
                           &r),
                0);
    VT_CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "secret");
    vt_response_free(&r);
    VT_CHECK_EQ(load(&handler_runs), 1);
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
    store(&seen_before_status, vs_ctx_response_status(ctx));
    store(&seen_before_responded, vs_ctx_responded(ctx));
    rc = vs_next_call(next);
    VT_CHECK_EQ(rc, VS_OK);
    store(&seen_after_status, vs_ctx_response_status(ctx));
    store(&seen_after_responded, vs_ctx_responded(ctx));
    store(&second_call_rc, vs_next_call(next));
    store(&null_call_rc, vs_next_call(NULL));
    bump(&after_runs);
}

/* Code after vs_next_call sees the response the handler made; next works once only. */
static void test_after_logic_sees_the_response_and_next_runs_once(void) {
    vs_server_t *srv = new_server();
    vt_response r;
    int port;
    VT_CHECK_EQ(vs_group_use(vs_server_root(srv), after_mw, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/made", handler_201, NULL, NULL),
                VS_OK);
    port = start(srv);
    store(&after_runs, 0);
    store(&second_call_rc, 1);
    store(&null_call_rc, 1);

    VT_CHECK_EQ(vt_get(port, "/made", &r), 0);
    VT_CHECK_EQ(r.status, 201);
    CHECK_STR(r.body, "made");
    vt_response_free(&r);
    VT_CHECK_EQ(wait_for(&after_runs, 1), 1);
    VT_CHECK_EQ(load(&seen_before_status), 200); /* the default, before the handler */
    VT_CHECK_EQ(load(&seen_before_responded), 0);
    VT_CHECK_EQ(load(&seen_after_status), 201);
    VT_CHECK_EQ(load(&seen_after_responded), 1);
    VT_CHECK_EQ(load(&second_call_rc), VS_EINVAL);
    VT_CHECK_EQ(load(&null_call_rc), VS_EINVAL);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

/* ---- a continuation called later from another thread ---- */

typedef struct {
    vs_ctx_t *ctx;
    vs_next_t *next;
} pending;

static int deferred_next_rc, deferred_release_rc, deferred_done, async_handler_runs;
static pthread_t deferred_threads[8];
static int deferred_thread_count;

/* Joins the workers started so far (not under the lock: they take it). */
static void join_deferred_threads(void) {
    int i, n;
    pthread_mutex_lock(&mu);
    n = deferred_thread_count;
    pthread_mutex_unlock(&mu);
    for (i = 0; i < n; ++i) pthread_join(deferred_threads[i], NULL);
    pthread_mutex_lock(&mu);
    deferred_thread_count = 0;
    pthread_mutex_unlock(&mu);
}

static void *deferred_worker(void *arg) {
    pending *p = arg;
    struct timespec pause = {0, 20 * 1000 * 1000};
    /* Let the middleware's callback return first, so the chain really resumes from here. */
    nanosleep(&pause, NULL);
    store(&deferred_next_rc, vs_next_call(p->next));
    store(&deferred_release_rc, vs_ctx_release(p->ctx));
    free(p);
    bump(&deferred_done);
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
    pthread_mutex_lock(&mu);
    VT_CHECK(deferred_thread_count < 8);
    VT_CHECK_EQ(pthread_create(&deferred_threads[deferred_thread_count++], NULL,
                               deferred_worker, p),
                0);
    pthread_mutex_unlock(&mu);
}

static pthread_t loop_thread_of_handler;

static void async_chain_handler(vs_ctx_t *ctx, void *ud) {
    size_t len = 0;
    const char *path = vs_ctx_path(ctx, &len);
    (void)ud;
    record('H');
    pthread_mutex_lock(&mu);
    loop_thread_of_handler = pthread_self();
    pthread_mutex_unlock(&mu);
    VT_CHECK(path != NULL);
    VT_CHECK_EQ(vs_ctx_send(ctx, 200, path, len, NULL), VS_OK);
    bump(&async_handler_runs);
}

static pthread_t loop_thread_of_mw;

static void note_loop_mw(vs_ctx_t *ctx, vs_next_t *next, void *ud) {
    (void)ctx;
    (void)ud;
    pthread_mutex_lock(&mu);
    loop_thread_of_mw = pthread_self();
    pthread_mutex_unlock(&mu);
    record('L');
    VT_CHECK_EQ(vs_next_call(next), VS_OK);
}

/* A middleware that retains ctx and calls next from another thread after its callback
 * returned: the rest of the chain runs on the loop thread and the handler answers. */
static void test_next_called_later_from_another_thread(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv);
    vt_response r;
    char got[64];
    int port, i;
    VT_CHECK_EQ(vs_group_use(root, note_loop_mw, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(root, deferring_mw, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(root, recording_mw, (void *)&letter_s, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/later/:x", async_chain_handler, NULL, NULL),
                VS_OK);
    port = start(srv);
    store(&deferred_done, 0);
    store(&async_handler_runs, 0);
    store(&deferred_next_rc, 1);
    store(&deferred_release_rc, 1);
    reset_order();

    VT_CHECK_EQ(vt_get(port, "/later/abc", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "/later/abc");
    vt_response_free(&r);
    VT_CHECK_EQ(wait_for(&deferred_done, 1), 1);
    VT_CHECK_EQ(load(&deferred_next_rc), VS_OK);
    VT_CHECK_EQ(load(&deferred_release_rc), VS_OK);
    VT_CHECK_EQ(load(&async_handler_runs), 1);
    read_order(got, sizeof got);
    CHECK_STR(got, "LDSH");
    pthread_mutex_lock(&mu);
    VT_CHECK(pthread_equal(loop_thread_of_mw, loop_thread_of_handler));
    pthread_mutex_unlock(&mu);

    /* Several at once on one connection each: every one is answered by its handler. */
    for (i = 0; i < 4; ++i) {
        char path[32];
        snprintf(path, sizeof path, "/later/%d", i);
        VT_CHECK_EQ(vt_get(port, path, &r), 0);
        VT_CHECK_EQ(r.status, 200);
        CHECK_STR(r.body, path);
        vt_response_free(&r);
    }
    VT_CHECK_EQ(wait_for(&deferred_done, 5), 5);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    join_deferred_threads();
}

/* ---- a continuation never called ---- */

static int forgotten_done, forgotten_handler_runs;

static void *forgetting_worker(void *arg) {
    VT_CHECK_EQ(vs_ctx_release((vs_ctx_t *)arg), VS_OK);
    bump(&forgotten_done);
    return NULL;
}

static void forgetting_mw(vs_ctx_t *ctx, vs_next_t *next, void *ud) {
    (void)next;
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    pthread_mutex_lock(&mu);
    VT_CHECK(deferred_thread_count < 8);
    VT_CHECK_EQ(pthread_create(&deferred_threads[deferred_thread_count++], NULL,
                               forgetting_worker, ctx),
                0);
    pthread_mutex_unlock(&mu);
}

static void forgotten_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    bump(&forgotten_handler_runs);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "never"), VS_OK);
}

/* A middleware that retains ctx and lets it go without calling next or answering: the
 * client gets 500, the handler never runs, and the server serves on. */
static void test_forgotten_continuation_gets_500(void) {
    vs_server_t *srv = new_server();
    vs_group_t *g = NULL;
    vt_response r;
    int port;
    VT_CHECK_EQ(vs_group_nested(vs_server_root(srv), "/forgot", &g), VS_OK);
    VT_CHECK_EQ(vs_group_use(g, forgetting_mw, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(g, "GET", "/x", forgotten_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/ok", handler_ok, NULL, NULL), VS_OK);
    port = start(srv);
    store(&forgotten_done, 0);
    store(&forgotten_handler_runs, 0);
    VT_CHECK_EQ(vt_get(port, "/forgot/x", &r), 0);
    VT_CHECK_EQ(r.status, 500);
    vt_response_free(&r);
    VT_CHECK_EQ(wait_for(&forgotten_done, 1), 1);
    VT_CHECK_EQ(load(&forgotten_handler_runs), 0);
    VT_CHECK_EQ(vt_get(port, "/ok", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    vt_response_free(&r);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    join_deferred_threads();
}

/* ---- userdata ---- */

static int ud_frees;
static int ud_value = 42;

static void count_free(void *p) {
    VT_CHECK(p == &ud_value);
    bump(&ud_frees);
}

static int ud_seen;

static void ud_mw(vs_ctx_t *ctx, vs_next_t *next, void *ud) {
    (void)ctx;
    store(&ud_seen, *(int *)ud);
    VT_CHECK_EQ(vs_next_call(next), VS_OK);
}

/* The middleware's userdata reaches it and is freed exactly once, when the server is; a
 * registration that fails frees it at once. */
static void test_userdata_freed_exactly_once(void) {
    vs_server_t *srv = new_server();
    vt_response r;
    int port;
    store(&ud_frees, 0);
    VT_CHECK_EQ(vs_group_use(vs_server_root(srv), ud_mw, &ud_value, count_free), VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/x", handler_ok, NULL, NULL),
                VS_OK);
    port = start(srv);
    VT_CHECK_EQ(vt_get(port, "/x", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    vt_response_free(&r);
    VT_CHECK_EQ(vt_get(port, "/x", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    vt_response_free(&r);
    VT_CHECK_EQ(load(&ud_seen), 42);
    VT_CHECK_EQ(load(&ud_frees), 0); /* not per request */
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(load(&ud_frees), 1);

    /* Failed registrations: a NULL middleware, a NULL group, a running server. */
    srv = new_server();
    VT_CHECK_EQ(vs_group_use(vs_server_root(srv), NULL, &ud_value, count_free), VS_EINVAL);
    VT_CHECK_EQ(load(&ud_frees), 2);
    VT_CHECK_EQ(vs_group_use(NULL, ud_mw, &ud_value, count_free), VS_EINVAL);
    VT_CHECK_EQ(load(&ud_frees), 3);
    start(srv);
    VT_CHECK(vs_group_use(vs_server_root(srv), ud_mw, &ud_value, count_free) < 0);
    VT_CHECK_EQ(load(&ud_frees), 4);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(load(&ud_frees), 4);
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
