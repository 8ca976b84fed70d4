/* Tests asynchronous answers through the C API (vs_ctx_retain, vs_ctx_release,
 * vs_ctx_cancelled, vs_ctx_on_cancel in capi/context.cpp) against the contract in
 * capi/vstream.h: answers from worker threads, many at once, a request released unanswered,
 * a client leaving before the answer, and several retains. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"

#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* ---- state shared with the loop and worker threads, under one lock ---- */

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

/* ---- a pool of worker threads running queued jobs on retained contexts ---- */

typedef void (*job_fn)(vs_ctx_t *ctx);

typedef struct {
    vs_ctx_t *ctx;
    job_fn fn;
} job;

#define MAX_JOBS 256
#define WORKERS 4

static job jobs[MAX_JOBS];
static size_t job_head, job_tail;
static int pool_stopping;
static pthread_t workers[WORKERS];

static void submit(vs_ctx_t *ctx, job_fn fn) {
    pthread_mutex_lock(&mu);
    VT_CHECK(job_tail - job_head < MAX_JOBS);
    jobs[job_tail % MAX_JOBS].ctx = ctx;
    jobs[job_tail % MAX_JOBS].fn = fn;
    ++job_tail;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void *worker_main(void *arg) {
    (void)arg;
    for (;;) {
        job j;
        pthread_mutex_lock(&mu);
        while (job_head == job_tail && !pool_stopping) pthread_cond_wait(&cv, &mu);
        if (job_head == job_tail) {
            pthread_mutex_unlock(&mu);
            return NULL;
        }
        j = jobs[job_head % MAX_JOBS];
        ++job_head;
        pthread_mutex_unlock(&mu);
        j.fn(j.ctx);
    }
}

static void pool_start(void) {
    int i;
    for (i = 0; i < WORKERS; ++i) {
        VT_CHECK_EQ(pthread_create(&workers[i], NULL, worker_main, NULL), 0);
    }
}

static void pool_stop(void) {
    int i;
    pthread_mutex_lock(&mu);
    pool_stopping = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (i = 0; i < WORKERS; ++i) pthread_join(workers[i], NULL);
}

/* ---- jobs and handlers ---- */

static int answered_from_worker;

/* Answers with the request's path, read on the worker thread, then releases. */
static void answer_path_job(vs_ctx_t *ctx) {
    size_t len = 0;
    const char *path = vs_ctx_path(ctx, &len);
    char body[256];
    VT_CHECK(path != NULL);
    VT_CHECK_EQ(vs_ctx_responded(ctx), 0);
    VT_CHECK_EQ(vs_ctx_cancelled(ctx), 0);
    snprintf(body, sizeof body, "answered %s", path);
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "X-Worker", "yes"), VS_OK);
    VT_CHECK_EQ(vs_ctx_send(ctx, 200, body, strlen(body), NULL), VS_OK);
    VT_CHECK_EQ(vs_ctx_responded(ctx), 1);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 500, "twice"), VS_EANSWERED);
    bump(&answered_from_worker);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK);
}

static void async_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    submit(ctx, answer_path_job);
}

/* A handler retains ctx and returns; a worker thread answers and releases it. */
static void test_answer_from_a_worker_thread(int port) {
    vt_response r;
    char value[32];
    store(&answered_from_worker, 0);
    VT_CHECK_EQ(vt_get(port, "/async/one", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "answered /async/one");
    CHECK_STR(vt_header(&r, "X-Worker", value, sizeof value), "yes");
    vt_response_free(&r);
    VT_CHECK_EQ(load(&answered_from_worker), 1);
}

#define CONNECTIONS 50

/* Fifty connections at once, each answered by the pool with its own path. */
static void test_many_concurrent_async_requests(int port) {
    int fds[CONNECTIONS], i;
    store(&answered_from_worker, 0);
    for (i = 0; i < CONNECTIONS; ++i) {
        char req[128];
        fds[i] = vt_connect(port);
        VT_CHECK(fds[i] >= 0);
        snprintf(req, sizeof req, "GET /async/%d HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                 i);
        VT_CHECK_EQ(vt_send_all(fds[i], req, strlen(req)), 0);
    }
    for (i = 0; i < CONNECTIONS; ++i) {
        vt_response r;
        size_t len;
        char expect[64];
        char *raw = vt_read_all(fds[i], 10000, &len);
        close(fds[i]);
        VT_CHECK_EQ(vt_parse_response(raw, len, &r), 0);
        free(raw);
        snprintf(expect, sizeof expect, "answered /async/%d", i);
        VT_CHECK_EQ(r.status, 200);
        CHECK_STR(r.body, expect);
        vt_response_free(&r);
    }
    VT_CHECK_EQ(load(&answered_from_worker), CONNECTIONS);
}

static int dropped_jobs;

static void drop_job(vs_ctx_t *ctx) {
    VT_CHECK_EQ(vs_ctx_responded(ctx), 0);
    bump(&dropped_jobs);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK);
}

static void drop_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    submit(ctx, drop_job);
}

/* Retained and released in the handler itself, without an answer. */
static void drop_inline_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK);
    VT_CHECK_EQ(vs_ctx_responded(ctx), 0); /* still valid: the callback's own reference */
}

/* The last release without an answer gets the client a 500, and the server serves on. */
static void test_release_without_answer_gets_500(int port) {
    vt_response r;
    store(&dropped_jobs, 0);
    VT_CHECK_EQ(vt_get(port, "/drop", &r), 0);
    VT_CHECK_EQ(r.status, 500);
    vt_response_free(&r);
    VT_CHECK_EQ(load(&dropped_jobs), 1);
    VT_CHECK_EQ(vt_get(port, "/drop-inline", &r), 0);
    VT_CHECK_EQ(r.status, 500);
    vt_response_free(&r);
    VT_CHECK_EQ(vt_get(port, "/async/after-drop", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "answered /async/after-drop");
    vt_response_free(&r);
}

/* ---- cancellation ---- */

static vs_ctx_t *parked;
static int parked_count, cancel_runs, cancel_ud_frees, cancel_on_loop;
static int late_cancel_runs, late_cancel_on_caller, late_cancel_ud_frees;
static pthread_t cancel_loop_thread;
static int cancel_token = 1, late_token = 2;

static void cancel_free(void *p) {
    VT_CHECK(p == &cancel_token);
    bump(&cancel_ud_frees);
}

static void on_cancel(void *ud) {
    VT_CHECK(ud == &cancel_token);
    pthread_mutex_lock(&mu);
    cancel_on_loop = pthread_equal(cancel_loop_thread, pthread_self());
    pthread_mutex_unlock(&mu);
    bump(&cancel_runs);
}

static pthread_t main_thread;

static void late_free(void *p) {
    VT_CHECK(p == &late_token);
    bump(&late_cancel_ud_frees);
}

static void on_late_cancel(void *ud) {
    VT_CHECK(ud == &late_token);
    late_cancel_on_caller = pthread_equal(main_thread, pthread_self());
    bump(&late_cancel_runs);
}

static int finish_after_cancel_runs, finish_after_cancel_responded;

static void finish_after_cancel(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    store(&finish_after_cancel_responded, vs_ctx_responded(ctx));
    bump(&finish_after_cancel_runs);
}

static void park_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    pthread_mutex_lock(&mu);
    cancel_loop_thread = pthread_self();
    pthread_mutex_unlock(&mu);
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    VT_CHECK_EQ(vs_ctx_cancelled(ctx), 0);
    VT_CHECK_EQ(vs_ctx_on_cancel(ctx, on_cancel, &cancel_token, cancel_free), VS_OK);
    VT_CHECK_EQ(vs_ctx_on_finish(ctx, finish_after_cancel, NULL, NULL), VS_OK);
    pthread_mutex_lock(&mu);
    parked = ctx;
    ++parked_count;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* A client that closes before the answer cancels the request: on_cancel runs once on the
 * loop, vs_ctx_cancelled turns 1, a later on_cancel runs at once on the caller, and an answer
 * afterwards is dropped without harm. */
static void test_client_leaving_cancels(int port) {
    static const char req[] = "GET /park HTTP/1.1\r\nHost: t\r\n\r\n";
    vs_ctx_t *ctx;
    vt_response r;
    int fd, rc;
    store(&parked_count, 0);
    store(&cancel_runs, 0);
    store(&cancel_ud_frees, 0);
    store(&late_cancel_runs, 0);
    store(&late_cancel_ud_frees, 0);
    store(&finish_after_cancel_runs, 0);
    fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    VT_CHECK_EQ(vt_send_all(fd, req, sizeof req - 1), 0);
    VT_CHECK_EQ(wait_for(&parked_count, 1), 1);
    pthread_mutex_lock(&mu);
    ctx = parked;
    pthread_mutex_unlock(&mu);
    VT_CHECK_EQ(load(&cancel_runs), 0);
    close(fd);

    VT_CHECK_EQ(wait_for(&cancel_runs, 1), 1);
    VT_CHECK_EQ(load(&cancel_on_loop), 1);
    VT_CHECK_EQ(wait_for(&cancel_ud_frees, 1), 1); /* done with it: freed after running */
    VT_CHECK_EQ(vs_ctx_cancelled(ctx), 1);
    VT_CHECK_EQ(wait_for(&finish_after_cancel_runs, 1), 1);
    VT_CHECK_EQ(load(&finish_after_cancel_responded), 0);

    /* Registered after the cancel: runs at once, here. */
    VT_CHECK_EQ(vs_ctx_on_cancel(ctx, on_late_cancel, &late_token, late_free), VS_OK);
    VT_CHECK_EQ(load(&late_cancel_runs), 1);
    VT_CHECK_EQ(late_cancel_on_caller, 1);
    VT_CHECK_EQ(load(&late_cancel_ud_frees), 1);
    VT_CHECK_EQ(vs_ctx_on_cancel(ctx, NULL, &late_token, late_free), VS_EINVAL);
    VT_CHECK_EQ(load(&late_cancel_ud_frees), 2);

    /* Answering now is harmless: the answer is dropped. */
    rc = vs_ctx_send_text(ctx, 200, "too late");
    VT_CHECK(rc == VS_OK || rc == VS_ECANCELED);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK);

    VT_CHECK_EQ(load(&cancel_runs), 1);
    VT_CHECK_EQ(load(&cancel_ud_frees), 1);
    VT_CHECK_EQ(vt_get(port, "/async/after-cancel", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    vt_response_free(&r);
    VT_CHECK_EQ(load(&cancel_runs), 1);
}

static int uncancelled_ud_frees;
static int uncancelled_token = 3;

static void uncancelled_free(void *p) {
    VT_CHECK(p == &uncancelled_token);
    bump(&uncancelled_ud_frees);
}

static void never_cancelled(void *ud) {
    (void)ud;
    fprintf(stderr, "%s:%d: on_cancel ran for a request that was answered\n", __FILE__,
            __LINE__);
    exit(1);
}

static void answer_and_release_job(vs_ctx_t *ctx) {
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "kept"), VS_OK);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK);
}

static void answered_with_on_cancel_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    VT_CHECK_EQ(vs_ctx_on_cancel(ctx, never_cancelled, &uncancelled_token, uncancelled_free),
                VS_OK);
    submit(ctx, answer_and_release_job);
}

/* A request answered normally never runs on_cancel, and its userdata is freed once. */
static void test_on_cancel_not_run_when_answered(int port) {
    vt_response r;
    store(&uncancelled_ud_frees, 0);
    VT_CHECK_EQ(vt_get(port, "/answered-cancel", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "kept");
    vt_response_free(&r);
    VT_CHECK_EQ(wait_for(&uncancelled_ud_frees, 1), 1);
    VT_CHECK_EQ(vt_get(port, "/async/x", &r), 0);
    vt_response_free(&r);
    VT_CHECK_EQ(load(&uncancelled_ud_frees), 1);
}

/* ---- several retains ---- */

static int twice_first_release_rc, twice_checks_done;

static void twice_job(vs_ctx_t *ctx) {
    /* One release of two: the request is still held and unanswered. */
    store(&twice_first_release_rc, vs_ctx_release(ctx));
    VT_CHECK_EQ(vs_ctx_responded(ctx), 0);
    VT_CHECK_EQ(vs_ctx_cancelled(ctx), 0);
    CHECK_STR(vs_ctx_path(ctx, NULL), "/twice");
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "held twice"), VS_OK);
    bump(&twice_checks_done);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK);
}

static void twice_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    submit(ctx, twice_job);
}

/* Retained twice: the first release leaves the request held (no 500), the second ends it. */
static void test_retain_twice_release_twice(int port) {
    vt_response r;
    store(&twice_checks_done, 0);
    store(&twice_first_release_rc, 1);
    VT_CHECK_EQ(vt_get(port, "/twice", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "held twice");
    vt_response_free(&r);
    VT_CHECK_EQ(wait_for(&twice_checks_done, 1), 1);
    VT_CHECK_EQ(load(&twice_first_release_rc), VS_OK);
}

/* ---- an answer from another thread before the handler returns ---- */

static int early_answered;

static void early_job(vs_ctx_t *ctx) {
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "early"), VS_OK);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK);
    bump(&early_answered);
}

static void early_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    submit(ctx, early_job);
    /* Wait (bounded) for the worker to answer before returning. */
    VT_CHECK_EQ(wait_for(&early_answered, 1), 1);
    VT_CHECK_EQ(vs_ctx_responded(ctx), 1); /* still valid: the callback's own reference */
}

/* An answer sent from a worker before the handler returned is delivered exactly once. */
static void test_answer_before_handler_returns(int port) {
    static const char req[] = "GET /early HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    size_t len;
    char *raw;
    vt_response r;
    int fd;
    store(&early_answered, 0);
    fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    VT_CHECK_EQ(vt_send_all(fd, req, sizeof req - 1), 0);
    raw = vt_read_all(fd, 10000, &len);
    close(fd);
    VT_CHECK(strstr(raw, "HTTP/1.1 ") == raw);
    VT_CHECK(strstr(raw + 1, "HTTP/1.1 ") == NULL); /* one response only */
    VT_CHECK_EQ(vt_parse_response(raw, len, &r), 0);
    free(raw);
    VT_CHECK_EQ(r.status, 200);
    CHECK_STR(r.body, "early");
    vt_response_free(&r);
    VT_CHECK_EQ(load(&early_answered), 1);
}

/* ---- a server stopping with a request held ---- */

static vs_ctx_t *held;
static int held_count, held_cancels;

static void held_cancel(void *ud) {
    (void)ud;
    bump(&held_cancels);
}

static void hold_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    VT_CHECK_EQ(vs_ctx_on_cancel(ctx, held_cancel, NULL, NULL), VS_OK);
    pthread_mutex_lock(&mu);
    held = ctx;
    ++held_count;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* Stopping the server cancels a request still held unanswered (after the shutdown grace):
 * on_cancel runs, vs_ctx_cancelled is 1, and the ctx can still be answered (dropped) and
 * released, before and after the server is freed. */
static void test_server_stop_cancels_a_held_request(void) {
    static const char req[] = "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n";
    vs_config_t *cfg = NULL;
    vs_server_t *srv = NULL;
    vs_ctx_t *ctx;
    size_t len;
    char *raw;
    int fd, rc;
    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    VT_CHECK_EQ(vs_config_set_port(cfg, 0), VS_OK);
    VT_CHECK_EQ(vs_config_set_threads(cfg, 1), VS_OK);
    VT_CHECK_EQ(vs_config_set_timeout(cfg, VS_TIMEOUT_SHUTDOWN_GRACE, 200), VS_OK);
    VT_CHECK_EQ(vs_server_new(&srv, cfg), VS_OK);
    vs_config_free(cfg);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/hold", hold_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_server_start(srv), VS_OK);
    store(&held_count, 0);
    store(&held_cancels, 0);
    fd = vt_connect(vs_server_port(srv));
    VT_CHECK(fd >= 0);
    VT_CHECK_EQ(vt_send_all(fd, req, sizeof req - 1), 0);
    VT_CHECK_EQ(wait_for(&held_count, 1), 1);
    pthread_mutex_lock(&mu);
    ctx = held;
    pthread_mutex_unlock(&mu);
    VT_CHECK_EQ(vs_server_stop(srv), VS_OK);
    VT_CHECK_EQ(vs_server_running(srv), 0);
    VT_CHECK_EQ(wait_for(&held_cancels, 1), 1);
    VT_CHECK_EQ(vs_ctx_cancelled(ctx), 1);
    rc = vs_ctx_send_text(ctx, 200, "after stop");
    VT_CHECK(rc == VS_OK || rc == VS_ECANCELED);
    raw = vt_read_all(fd, 10000, &len); /* closed without an answer */
    close(fd);
    VT_CHECK(strstr(raw, "after stop") == NULL);
    free(raw);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK); /* the request outlives its server */
    VT_CHECK_EQ(load(&held_cancels), 1);
}

int main(void) {
    vs_config_t *cfg = NULL;
    vs_server_t *srv = NULL;
    vs_group_t *root;
    int port;
    main_thread = pthread_self();
    pool_start();

    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    VT_CHECK_EQ(vs_config_set_port(cfg, 0), VS_OK);
    VT_CHECK_EQ(vs_config_set_threads(cfg, 2), VS_OK);
    VT_CHECK_EQ(vs_config_set_timeout(cfg, VS_TIMEOUT_SHUTDOWN_GRACE, 2000), VS_OK);
    VT_CHECK_EQ(vs_server_new(&srv, cfg), VS_OK);
    vs_config_free(cfg);
    root = vs_server_root(srv);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/async/:n", async_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/drop", drop_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/drop-inline", drop_inline_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/park", park_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/answered-cancel", answered_with_on_cancel_handler,
                               NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/twice", twice_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/early", early_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_server_start(srv), VS_OK);
    port = vs_server_port(srv);
    VT_CHECK(port > 0);

    test_answer_from_a_worker_thread(port);
    test_many_concurrent_async_requests(port);
    test_release_without_answer_gets_500(port);
    test_client_leaving_cancels(port);
    test_on_cancel_not_run_when_answered(port);
    test_retain_twice_release_twice(port);
    test_answer_before_handler_returns(port);

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    test_server_stop_cancels_a_held_request();
    pool_stop();
    printf("test_async: ok\n");
    return 0;
}
