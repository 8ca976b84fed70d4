/* Tests asynchronous answers through the C API (vs_ctx_retain, vs_ctx_release,
 * vs_ctx_cancelled, vs_ctx_on_cancel in capi/context.cpp) against the contract in
 * capi/vstream.h: answers from worker threads, many at once, a request released unanswered,
 * a client leaving before the answer, and several retains. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"
#include "test_server.h"
#include "test_sync.h"

#include <pthread.h>
#include <string.h>
#include <unistd.h>

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
    vt_lock();
    VT_CHECK(job_tail - job_head < MAX_JOBS);
    jobs[job_tail % MAX_JOBS].ctx = ctx;
    jobs[job_tail % MAX_JOBS].fn = fn;
    ++job_tail;
    vt_broadcast();
    vt_unlock();
}

static void *worker_main(void *arg) {
    (void)arg;
    for (;;) {
        job j;
        vt_lock();
        while (job_head == job_tail && !pool_stopping) vt_wait();
        if (job_head == job_tail) {
            vt_unlock();
            return NULL;
        }
        j = jobs[job_head % MAX_JOBS];
        ++job_head;
        vt_unlock();
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
    vt_lock();
    pool_stopping = 1;
    vt_broadcast();
    vt_unlock();
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
    vt_bump(&answered_from_worker);
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
    vt_store(&answered_from_worker, 0);
    VT_CHECK_EQ(vt_get(port, "/async/one", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "answered /async/one");
    VT_CHECK_STR(vt_header(&r, "X-Worker", value, sizeof value), "yes");
    vt_response_free(&r);
    VT_CHECK_EQ(vt_load(&answered_from_worker), 1);
}

#define CONNECTIONS 50

/* Fifty connections at once, each answered by the pool with its own path. */
static void test_many_concurrent_async_requests(int port) {
    int fds[CONNECTIONS], i;
    vt_store(&answered_from_worker, 0);
    for (i = 0; i < CONNECTIONS; ++i) {
        char req[128], path[32];
        fds[i] = vt_connect(port);
        VT_CHECK(fds[i] >= 0);
        snprintf(path, sizeof path, "/async/%d", i);
        VT_CHECK_EQ(vt_format_request(req, sizeof req, "GET", path, NULL), 0);
        VT_CHECK_EQ(vt_send_all(fds[i], req, strlen(req)), 0);
    }
    for (i = 0; i < CONNECTIONS; ++i) {
        vt_response r;
        char expect[64];
        VT_CHECK_EQ(vt_read_closing(fds[i], &r), 0);
        snprintf(expect, sizeof expect, "answered /async/%d", i);
        VT_CHECK_EQ(r.status, 200);
        VT_CHECK_STR(r.body, expect);
        vt_response_free(&r);
    }
    VT_CHECK_EQ(vt_load(&answered_from_worker), CONNECTIONS);
}

static int dropped_jobs;

static void drop_job(vs_ctx_t *ctx) {
    VT_CHECK_EQ(vs_ctx_responded(ctx), 0);
    vt_bump(&dropped_jobs);
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
    vt_store(&dropped_jobs, 0);
    vt_expect(port, "GET", "/drop", 500, NULL);
    VT_CHECK_EQ(vt_load(&dropped_jobs), 1);
    vt_expect(port, "GET", "/drop-inline", 500, NULL);
    vt_expect(port, "GET", "/async/after-drop", 200, "answered /async/after-drop");
}

/* ---- cancellation ---- */

static vs_ctx_t *parked;
static int parked_count, cancel_runs, cancel_ud_frees, cancel_on_loop;
static int late_cancel_runs, late_cancel_on_caller, late_cancel_ud_frees;
static pthread_t cancel_loop_thread;
static int cancel_token = 1, late_token = 2;

static void cancel_free(void *p) {
    VT_CHECK(p == &cancel_token);
    vt_bump(&cancel_ud_frees);
}

static void on_cancel(void *ud) {
    VT_CHECK(ud == &cancel_token);
    vt_lock();
    cancel_on_loop = pthread_equal(cancel_loop_thread, pthread_self());
    vt_unlock();
    vt_bump(&cancel_runs);
}

static pthread_t main_thread;

static void late_free(void *p) {
    VT_CHECK(p == &late_token);
    vt_bump(&late_cancel_ud_frees);
}

static void on_late_cancel(void *ud) {
    VT_CHECK(ud == &late_token);
    late_cancel_on_caller = pthread_equal(main_thread, pthread_self());
    vt_bump(&late_cancel_runs);
}

static int finish_after_cancel_runs, finish_after_cancel_responded;

static void finish_after_cancel(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vt_store(&finish_after_cancel_responded, vs_ctx_responded(ctx));
    vt_bump(&finish_after_cancel_runs);
}

static void park_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vt_lock();
    cancel_loop_thread = pthread_self();
    vt_unlock();
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    VT_CHECK_EQ(vs_ctx_cancelled(ctx), 0);
    VT_CHECK_EQ(vs_ctx_on_cancel(ctx, on_cancel, &cancel_token, cancel_free), VS_OK);
    VT_CHECK_EQ(vs_ctx_on_finish(ctx, finish_after_cancel, NULL, NULL), VS_OK);
    vt_lock();
    parked = ctx;
    ++parked_count;
    vt_broadcast();
    vt_unlock();
}

/* A client that closes before the answer cancels the request: on_cancel runs once on the
 * loop, vs_ctx_cancelled turns 1, a later on_cancel runs at once on the caller, and an answer
 * afterwards is dropped without harm. */
static void test_client_leaving_cancels(int port) {
    static const char req[] = "GET /park HTTP/1.1\r\nHost: t\r\n\r\n";
    vs_ctx_t *ctx;
    int fd, rc;
    vt_store(&parked_count, 0);
    vt_store(&cancel_runs, 0);
    vt_store(&cancel_ud_frees, 0);
    vt_store(&late_cancel_runs, 0);
    vt_store(&late_cancel_ud_frees, 0);
    vt_store(&finish_after_cancel_runs, 0);
    fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    VT_CHECK_EQ(vt_send_all(fd, req, sizeof req - 1), 0);
    VT_CHECK_EQ(vt_wait_for(&parked_count, 1), 1);
    vt_lock();
    ctx = parked;
    vt_unlock();
    VT_CHECK_EQ(vt_load(&cancel_runs), 0);
    close(fd);

    VT_CHECK_EQ(vt_wait_for(&cancel_runs, 1), 1);
    VT_CHECK_EQ(vt_load(&cancel_on_loop), 1);
    VT_CHECK_EQ(vt_wait_for(&cancel_ud_frees, 1), 1); /* done with it: freed after running */
    VT_CHECK_EQ(vs_ctx_cancelled(ctx), 1);
    VT_CHECK_EQ(vt_wait_for(&finish_after_cancel_runs, 1), 1);
    VT_CHECK_EQ(vt_load(&finish_after_cancel_responded), 0);

    /* Registered after the cancel: runs at once, here. */
    VT_CHECK_EQ(vs_ctx_on_cancel(ctx, on_late_cancel, &late_token, late_free), VS_OK);
    VT_CHECK_EQ(vt_load(&late_cancel_runs), 1);
    VT_CHECK_EQ(late_cancel_on_caller, 1);
    VT_CHECK_EQ(vt_load(&late_cancel_ud_frees), 1);
    VT_CHECK_EQ(vs_ctx_on_cancel(ctx, NULL, &late_token, late_free), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&late_cancel_ud_frees), 2);

    /* Answering now is harmless: the answer is dropped. */
    rc = vs_ctx_send_text(ctx, 200, "too late");
    VT_CHECK(rc == VS_OK || rc == VS_ECANCELED);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK);

    VT_CHECK_EQ(vt_load(&cancel_runs), 1);
    VT_CHECK_EQ(vt_load(&cancel_ud_frees), 1);
    vt_expect(port, "GET", "/async/after-cancel", 200, NULL);
    VT_CHECK_EQ(vt_load(&cancel_runs), 1);
}

static int uncancelled_ud_frees;
static int uncancelled_token = 3;

static void uncancelled_free(void *p) {
    VT_CHECK(p == &uncancelled_token);
    vt_bump(&uncancelled_ud_frees);
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
    vt_store(&uncancelled_ud_frees, 0);
    vt_expect(port, "GET", "/answered-cancel", 200, "kept");
    VT_CHECK_EQ(vt_wait_for(&uncancelled_ud_frees, 1), 1);
    VT_CHECK_EQ(vt_get(port, "/async/x", &r), 0);
    vt_response_free(&r);
    VT_CHECK_EQ(vt_load(&uncancelled_ud_frees), 1);
}

/* ---- callbacks whose userdata holds the request ---- */

static vs_ctx_t *cycle_ctx;
static int cycle_ud_frees;

/* The cancel userdata owns a retain of its own request: freeing it releases that retain. */
static void release_cycle_ctx(void *p) {
    VT_CHECK(p == &cycle_ctx);
    VT_CHECK_EQ(vs_ctx_release(cycle_ctx), VS_OK);
    vt_bump(&cycle_ud_frees);
}

static void cycle_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    cycle_ctx = ctx;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK); /* owned by the cancel userdata */
    VT_CHECK_EQ(vs_ctx_on_cancel(ctx, never_cancelled, &cycle_ctx, release_cycle_ctx), VS_OK);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "cycle"), VS_OK);
}

/* Once answered and sent, a request lets its cancel callback go: userdata that holds the
 * request itself is freed then, on a connection that stays open (no cycle keeps it). */
static void test_cancel_userdata_holding_the_request_is_freed_after_the_answer(int port) {
    vt_response r;
    int fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    vt_store(&cycle_ud_frees, 0);
    VT_CHECK_EQ(vt_roundtrip(fd, "GET /cycle HTTP/1.1\r\nHost: t\r\n\r\n", 10000, &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "cycle");
    vt_response_free(&r);
    VT_CHECK_EQ(vt_wait_for(&cycle_ud_frees, 1), 1); /* the connection is still open */
    close(fd);
}

/* ---- on_finish is the loop's ---- */

static int finish_token = 4, finish_ud_frees, finish_off_loop_rc = 1;

static void finish_free(void *p) {
    VT_CHECK(p == &finish_token);
    vt_bump(&finish_ud_frees);
}

static void finish_never(vs_ctx_t *ctx, void *ud) {
    (void)ctx;
    (void)ud;
    fprintf(stderr, "%s:%d: an on_finish refused off the loop ran\n", __FILE__, __LINE__);
    exit(1);
}

static void finish_off_loop_job(vs_ctx_t *ctx) {
    vt_store(&finish_off_loop_rc, vs_ctx_on_finish(ctx, finish_never, &finish_token, finish_free));
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "finish"), VS_OK);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK);
}

static void finish_off_loop_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    submit(ctx, finish_off_loop_job);
}

/* vs_ctx_on_finish from a worker thread is refused (the hooks are the loop's), and its
 * userdata is freed at once, as for any failed registration. */
static void test_on_finish_off_the_loop_is_refused(int port) {
    vt_store(&finish_ud_frees, 0);
    vt_expect(port, "GET", "/finish-off-loop", 200, "finish");
    VT_CHECK_EQ(vt_load(&finish_off_loop_rc), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&finish_ud_frees), 1);
}

/* ---- several retains ---- */

static int twice_first_release_rc, twice_checks_done;

static void twice_job(vs_ctx_t *ctx) {
    /* One release of two: the request is still held and unanswered. */
    vt_store(&twice_first_release_rc, vs_ctx_release(ctx));
    VT_CHECK_EQ(vs_ctx_responded(ctx), 0);
    VT_CHECK_EQ(vs_ctx_cancelled(ctx), 0);
    VT_CHECK_STR(vs_ctx_path(ctx, NULL), "/twice");
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "held twice"), VS_OK);
    vt_bump(&twice_checks_done);
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
    vt_store(&twice_checks_done, 0);
    vt_store(&twice_first_release_rc, 1);
    vt_expect(port, "GET", "/twice", 200, "held twice");
    VT_CHECK_EQ(vt_wait_for(&twice_checks_done, 1), 1);
    VT_CHECK_EQ(vt_load(&twice_first_release_rc), VS_OK);
}

/* ---- an answer from another thread before the handler returns ---- */

static int early_answered;

static void early_job(vs_ctx_t *ctx) {
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "early"), VS_OK);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK);
    vt_bump(&early_answered);
}

static void early_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    submit(ctx, early_job);
    /* Wait (bounded) for the worker to answer before returning. */
    VT_CHECK_EQ(vt_wait_for(&early_answered, 1), 1);
    VT_CHECK_EQ(vs_ctx_responded(ctx), 1); /* still valid: the callback's own reference */
}

/* An answer sent from a worker before the handler returned is delivered exactly once. */
static void test_answer_before_handler_returns(int port) {
    static const char req[] = "GET /early HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    size_t len;
    char *raw;
    vt_response r;
    vt_store(&early_answered, 0);
    raw = vt_exchange(port, req, sizeof req - 1, &len);
    VT_CHECK(raw != NULL);
    VT_CHECK(strstr(raw, "HTTP/1.1 ") == raw);
    VT_CHECK(strstr(raw + 1, "HTTP/1.1 ") == NULL); /* one response only */
    VT_CHECK_EQ(vt_parse_response(raw, len, &r), 0);
    free(raw);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "early");
    vt_response_free(&r);
    VT_CHECK_EQ(vt_load(&early_answered), 1);
}

/* ---- a server stopping with a request held ---- */

static vs_ctx_t *held;
static int held_count, held_cancels;

static void held_cancel(void *ud) {
    (void)ud;
    vt_bump(&held_cancels);
}

static void hold_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    VT_CHECK_EQ(vs_ctx_on_cancel(ctx, held_cancel, NULL, NULL), VS_OK);
    vt_lock();
    held = ctx;
    ++held_count;
    vt_broadcast();
    vt_unlock();
}

/* Stopping the server cancels a request still held unanswered (after the shutdown grace):
 * on_cancel runs, vs_ctx_cancelled is 1, and the ctx can still be answered (dropped) and
 * released, before and after the server is freed. */
static void test_server_stop_cancels_a_held_request(void) {
    static const char req[] = "GET /hold HTTP/1.1\r\nHost: t\r\n\r\n";
    vs_server_t *srv = vt_new_server(1, 200);
    vs_ctx_t *ctx;
    size_t len;
    char *raw;
    int port, fd, rc;
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/hold", hold_handler, NULL, NULL),
                VS_OK);
    port = vt_start(srv);
    vt_store(&held_count, 0);
    vt_store(&held_cancels, 0);
    fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    VT_CHECK_EQ(vt_send_all(fd, req, sizeof req - 1), 0);
    VT_CHECK_EQ(vt_wait_for(&held_count, 1), 1);
    vt_lock();
    ctx = held;
    vt_unlock();
    VT_CHECK_EQ(vs_server_stop(srv), VS_OK);
    VT_CHECK_EQ(vs_server_running(srv), 0);
    VT_CHECK_EQ(vt_wait_for(&held_cancels, 1), 1);
    VT_CHECK_EQ(vs_ctx_cancelled(ctx), 1);
    rc = vs_ctx_send_text(ctx, 200, "after stop");
    VT_CHECK(rc == VS_OK || rc == VS_ECANCELED);
    raw = vt_read_all(fd, 10000, &len); /* closed without an answer */
    close(fd);
    VT_CHECK(strstr(raw, "after stop") == NULL);
    free(raw);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK); /* the request outlives its server */
    VT_CHECK_EQ(vt_load(&held_cancels), 1);
}

int main(void) {
    vs_server_t *srv;
    vs_group_t *root;
    int port;
    main_thread = pthread_self();
    pool_start();

    srv = vt_new_server(2, 2000);
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
    VT_CHECK_EQ(vs_group_route(root, "GET", "/cycle", cycle_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/finish-off-loop", finish_off_loop_handler, NULL,
                               NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/early", early_handler, NULL, NULL), VS_OK);
    port = vt_start(srv);

    test_answer_from_a_worker_thread(port);
    test_many_concurrent_async_requests(port);
    test_release_without_answer_gets_500(port);
    test_client_leaving_cancels(port);
    test_on_cancel_not_run_when_answered(port);
    test_cancel_userdata_holding_the_request_is_freed_after_the_answer(port);
    test_on_finish_off_the_loop_is_refused(port);
    test_retain_twice_release_twice(port);
    test_answer_before_handler_returns(port);

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    test_server_stop_cancels_a_held_request();
    pool_stop();
    printf("test_async: ok\n");
    return 0;
}
