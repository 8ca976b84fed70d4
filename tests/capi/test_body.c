/* Tests streamed request bodies through the C API (vs_ctx_read_body, vs_ctx_resume_body in
 * capi/upload.cpp) against the contract in capi/vstream.h: Content-Length and chunked bodies
 * byte-exact, pausing and resuming from another thread, max_bytes, Expect: 100-continue,
 * ordinary routes, a second reader, a client leaving early, and userdata lifetime. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"
#include "test_server.h"
#include "test_sync.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KIB 1024
#define MIB (1024 * 1024)

/* ---- checksums and bodies ---- */

/* FNV-1a, 64 bits. */
static uint64_t fnv(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    size_t i;
    for (i = 0; i < len; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}
#define FNV_START 14695981039346656037ull

/* What an on_end answers: "<bytes> <fnv hex>". */
static void summary(char *out, size_t size, uint64_t bytes, uint64_t hash) {
    snprintf(out, size, "%llu %016llx", (unsigned long long)bytes, (unsigned long long)hash);
}

/* ---- a probe: what one reader saw ---- */

typedef struct {
    uint64_t hash, bytes;
    int pieces, ends, errors, error_status, ud_frees, over;
    int pause;  /* on_data asks to pause after every piece */
    int answer; /* on_end answers with the summary */
} probe;

#define MAX_PROBES 32
static probe probes[MAX_PROBES];
static int probe_count;

static probe *new_probe(int pause, int answer) {
    probe *p;
    vt_lock();
    VT_CHECK(probe_count < MAX_PROBES);
    p = &probes[probe_count++];
    memset(p, 0, sizeof *p);
    p->hash = FNV_START;
    p->pause = pause;
    p->answer = answer;
    vt_broadcast();
    vt_unlock();
    return p;
}

static probe *probe_at(int i) {
    VT_CHECK_EQ(vt_wait_for(&probe_count, i + 1) > i, 1);
    return &probes[i];
}

static void reset_probes(void) {
    vt_lock();
    probe_count = 0;
    vt_unlock();
}

static int on_data(vs_ctx_t *ctx, const void *data, size_t len, void *ud) {
    probe *p = ud;
    int pause;
    VT_CHECK(ctx != NULL);
    VT_CHECK(len > 0);
    vt_lock();
    p->hash = fnv(p->hash, data, len);
    p->bytes += len;
    ++p->pieces;
    pause = p->pause;
    vt_broadcast();
    vt_unlock();
    return pause;
}

static void on_end(vs_ctx_t *ctx, void *ud) {
    probe *p = ud;
    char text[64];
    int answer;
    vt_lock();
    summary(text, sizeof text, p->bytes, p->hash);
    ++p->ends;
    p->over = 1;
    answer = p->answer;
    vt_broadcast();
    vt_unlock();
    if (answer) VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, text), VS_OK);
}

static void on_error(vs_ctx_t *ctx, int status, const char *reason, void *ud) {
    probe *p = ud;
    VT_CHECK(ctx != NULL);
    VT_CHECK(reason != NULL);
    vt_lock();
    ++p->errors;
    p->error_status = status;
    p->over = 1;
    vt_broadcast();
    vt_unlock();
}

static void probe_free(void *ud) { vt_bump(&((probe *)ud)->ud_frees); }

static int read_body(vs_ctx_t *ctx, probe *p, uint64_t max_bytes) {
    return vs_ctx_read_body(ctx, on_data, on_end, on_error, p, probe_free, max_bytes, 0);
}

/* ---- client helpers ---- */

/* Sends a POST head for `target` with `extra` header lines. */
static void send_head(int fd, const char *target, const char *extra) {
    char head[512];
    VT_CHECK_EQ(vt_format_request(head, sizeof head, "POST", target, extra), 0);
    VT_CHECK_EQ(vt_send_all(fd, head, strlen(head)), 0);
}

/* POSTs `len` bytes with Content-Length and reads the response to the close. */
static void post_with_length(int port, const char *target, const char *body, size_t len,
                             vt_response *out) {
    char extra[64];
    int fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    snprintf(extra, sizeof extra, "Content-Length: %lu\r\n", (unsigned long)len);
    send_head(fd, target, extra);
    (void)vt_send_all(fd, body, len); /* the server may answer before taking it all */
    VT_CHECK_EQ(vt_read_closing(fd, out), 0);
}

/* POSTs `len` bytes as chunks of 1 B to `max_chunk` with a trailer; reads the response. */
static void post_chunked(int port, const char *target, const char *body, size_t len,
                         size_t max_chunk, vt_response *out) {
    uint32_t seed = 99;
    size_t at = 0;
    int fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    send_head(fd, target, "Transfer-Encoding: chunked\r\n");
    while (at < len) {
        char line[32];
        size_t size;
        seed = seed * 1103515245u + 12345u;
        size = 1 + (seed >> 8) % max_chunk;
        if (size > len - at) size = len - at;
        snprintf(line, sizeof line, "%lx\r\n", (unsigned long)size);
        if (vt_send_all(fd, line, strlen(line)) != 0) break;
        if (vt_send_all(fd, body + at, size) != 0) break;
        if (vt_send_all(fd, "\r\n", 2) != 0) break;
        at += size;
    }
    (void)vt_send_all(fd, "0\r\nX-Trailer: yes\r\n\r\n", 21);
    VT_CHECK_EQ(vt_read_closing(fd, out), 0);
}

static void expect_summary(const vt_response *r, const char *body, size_t len) {
    char want[64];
    summary(want, sizeof want, len, fnv(FNV_START, body, len));
    VT_CHECK_EQ(r->status, 200);
    VT_CHECK_STR(r->body, want);
}

/* POSTs `len` bytes of `body` to `target` (with Content-Length when max_chunk is 0, else as
 * post_chunked sends them) and checks that the answer is their summary. */
static void post_expecting_summary(int port, const char *target, const char *body, size_t len,
                                   size_t max_chunk) {
    vt_response r;
    if (max_chunk == 0) {
        post_with_length(port, target, body, len, &r);
    } else {
        post_chunked(port, target, body, len, max_chunk, &r);
    }
    expect_summary(&r, body, len);
    vt_response_free(&r);
}

/* Checks a probe saw the whole body once, and was cleaned up once. */
static void expect_probe_whole(probe *p, const char *body, size_t len) {
    VT_CHECK_EQ(vt_wait_for(&p->ud_frees, 1), 1);
    vt_lock();
    VT_CHECK_EQ(p->bytes, len);
    VT_CHECK(p->hash == fnv(FNV_START, body, len));
    VT_CHECK_EQ(p->ends, 1);
    VT_CHECK_EQ(p->errors, 0);
    vt_unlock();
}

/* Checks a probe's reader failed once, with on_error(`status`) and no on_end, and was cleaned
 * up once. */
static void expect_probe_failed(probe *p, int status) {
    VT_CHECK_EQ(vt_wait_for(&p->ud_frees, 1), 1);
    VT_CHECK_EQ(vt_load(&p->errors), 1);
    VT_CHECK_EQ(vt_load(&p->error_status), status);
    VT_CHECK_EQ(vt_load(&p->ends), 0);
}

/* ---- handlers ---- */

static int upload_body_was_empty;

static void upload_handler(vs_ctx_t *ctx, void *ud) {
    size_t len = 7;
    (void)ud;
    /* A streaming route has no buffered body. */
    vt_store(&upload_body_was_empty, vs_ctx_body(ctx, &len) == NULL && len == 0);
    VT_CHECK_EQ(read_body(ctx, new_probe(0, 1), 0), VS_OK);
}

static void limited_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(read_body(ctx, new_probe(0, 1), 1000), VS_OK);
}

/* A 3 MiB Content-Length body and a chunked body reach a streaming route byte-exact. */
static void test_content_length_and_chunked(int port) {
    const size_t big = 3 * MIB, small = 200 * KIB + 7;
    char *body = vt_random_bytes(big, 1);
    reset_probes();
    vt_store(&upload_body_was_empty, 0);
    post_expecting_summary(port, "/upload", body, big, 0);
    expect_probe_whole(probe_at(0), body, big);
    VT_CHECK(vt_load(&probe_at(0)->pieces) > 1); /* read in pieces, not held whole */
    VT_CHECK_EQ(vt_load(&upload_body_was_empty), 1);

    post_expecting_summary(port, "/upload", body, small, 9000);
    expect_probe_whole(probe_at(1), body, small);

    /* An empty body: on_end without on_data. */
    post_expecting_summary(port, "/upload", "", 0, 0);
    expect_probe_whole(probe_at(2), "", 0);
    VT_CHECK_EQ(vt_load(&probe_at(2)->pieces), 0);
    free(body);
}

/* ---- pausing, and resuming from another thread ---- */

typedef struct {
    vs_ctx_t *ctx;
    probe *p;
    int resumes, resume_rc, timed_out, release_rc;
} resumer;

static resumer pause_resumer;

/* Resumes the reader once per paused piece, until the body is over. */
static void *resumer_main(void *arg) {
    resumer *r = arg;
    int resumed = 0;
    for (;;) {
        struct timespec deadline;
        int pieces, over;
        vt_deadline_in(&deadline, 10000);
        vt_lock();
        while (r->p->pieces == resumed && !r->p->over) {
            if (vt_timedwait(&deadline) != 0) break;
        }
        pieces = r->p->pieces;
        over = r->p->over;
        if (pieces == resumed && !over) r->timed_out = 1;
        vt_unlock();
        if (over || r->timed_out) break;
        resumed = pieces;
        vt_store(&r->resume_rc, vs_ctx_resume_body(r->ctx));
        vt_bump(&r->resumes);
    }
    vt_store(&r->release_rc, vs_ctx_release(r->ctx));
    return NULL;
}

static void paused_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    memset(&pause_resumer, 0, sizeof pause_resumer);
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    pause_resumer.ctx = ctx;
    pause_resumer.p = new_probe(1, 1);
    VT_CHECK_EQ(read_body(ctx, pause_resumer.p, 0), VS_OK);
    vt_spawn(resumer_main, &pause_resumer);
}

/* A reader that pauses on every piece, resumed from another thread, gets the whole body. */
static void test_pause_and_resume_from_another_thread(int port) {
    const size_t len = MIB + 3;
    char *body = vt_random_bytes(len, 2);
    probe *p;
    reset_probes();
    post_expecting_summary(port, "/paused", body, len, 0);
    p = probe_at(0);
    expect_probe_whole(p, body, len);
    vt_join_spawned();
    VT_CHECK_EQ(pause_resumer.timed_out, 0);
    VT_CHECK_EQ(pause_resumer.resume_rc, VS_OK);
    VT_CHECK_EQ(pause_resumer.release_rc, VS_OK);
    VT_CHECK(p->pieces > 1);
    /* Every piece paused the reader, and only a resume brought the next one (or the end). */
    VT_CHECK_EQ(pause_resumer.resumes, p->pieces);
    free(body);
}

/* ---- max_bytes ---- */

/* A Content-Length over max_bytes gets 413 at once; a chunked body growing past it too; in
 * both on_error(413) runs and on_end does not. */
static void test_max_bytes_gets_413(int port) {
    char *body = vt_random_bytes(5000, 3);
    vt_response r;
    probe *p;
    reset_probes();
    post_with_length(port, "/limited", body, 5000, &r);
    VT_CHECK_EQ(r.status, 413);
    vt_response_free(&r);
    p = probe_at(0);
    expect_probe_failed(p, 413);
    VT_CHECK_EQ(vt_load(&p->pieces), 0); /* refused from the length, before any byte */

    post_chunked(port, "/limited", body, 5000, 300, &r);
    VT_CHECK_EQ(r.status, 413);
    vt_response_free(&r);
    p = probe_at(1);
    expect_probe_failed(p, 413);
    vt_lock();
    VT_CHECK(p->bytes <= 1000);
    vt_unlock();

    /* Exactly max_bytes is accepted. */
    post_expecting_summary(port, "/limited", body, 1000, 0);
    expect_probe_whole(probe_at(2), body, 1000);
    free(body);
}

/* ---- Expect: 100-continue ---- */

static vs_ctx_t *expect_ctx;
static int expect_handler_runs, refuse_runs;

static void expect_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    vt_lock();
    expect_ctx = ctx;
    ++expect_handler_runs;
    vt_broadcast();
    vt_unlock();
}

static void refuse_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vt_bump(&refuse_runs);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 403, "no"), VS_OK);
}

/* Reads until `buf` holds a whole head ("\r\n\r\n"); returns its length, or 0. */
static size_t read_head(int fd, char *buf, size_t size) {
    size_t used = 0;
    while (used + 1 < size) {
        struct pollfd p;
        ssize_t n;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, 10000) <= 0) return 0;
        n = recv(fd, buf + used, 1, 0); /* byte by byte: nothing past the head is taken */
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        used += (size_t)n;
        buf[used] = '\0';
        if (used >= 4 && memcmp(buf + used - 4, "\r\n\r\n", 4) == 0) return used;
    }
    return 0;
}

/* "100 Continue" is sent only once read_body is called (here later, from this thread, on a
 * retained ctx), never by a handler that answers without reading. */
static void test_expect_continue_only_when_reading(int port) {
    const size_t len = 100 * KIB;
    char *body = vt_random_bytes(len, 4), extra[128], head[256], *raw;
    struct pollfd pfd;
    vt_response r;
    vs_ctx_t *ctx;
    size_t n;
    int fd;
    reset_probes();
    vt_store(&expect_handler_runs, 0);
    fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    snprintf(extra, sizeof extra, "Content-Length: %lu\r\nExpect: 100-continue\r\n",
             (unsigned long)len);
    send_head(fd, "/expect", extra);
    VT_CHECK_EQ(vt_wait_for(&expect_handler_runs, 1), 1);
    /* The handler returned without reading: no interim answer has come. */
    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    VT_CHECK_EQ(poll(&pfd, 1, 200), 0);
    vt_lock();
    ctx = expect_ctx;
    vt_unlock();
    VT_CHECK_EQ(read_body(ctx, new_probe(0, 1), 0), VS_OK);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK); /* the reader holds the request now */
    VT_CHECK(read_head(fd, head, sizeof head) > 0);
    VT_CHECK(strncmp(head, "HTTP/1.1 100 Continue\r\n", 23) == 0);
    VT_CHECK_EQ(vt_send_all(fd, body, len), 0);
    VT_CHECK_EQ(vt_read_closing(fd, &r), 0);
    expect_summary(&r, body, len);
    vt_response_free(&r);
    expect_probe_whole(probe_at(0), body, len);

    /* A handler that answers without reading: no 100 Continue, only its answer. */
    vt_store(&refuse_runs, 0);
    fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    send_head(fd, "/refuse", extra);
    raw = vt_read_all(fd, 10000, &n);
    close(fd);
    VT_CHECK(strstr(raw, "100 Continue") == NULL);
    VT_CHECK_EQ(vt_parse_response(raw, n, &r), 0);
    free(raw);
    VT_CHECK_EQ(r.status, 403);
    vt_response_free(&r);
    VT_CHECK_EQ(vt_load(&refuse_runs), 1);
    free(body);
}

/* ---- an ordinary route ---- */

static int buffered_len_seen;

static void buffered_handler(vs_ctx_t *ctx, void *ud) {
    size_t len = 0;
    (void)ud;
    VT_CHECK(vs_ctx_body(ctx, &len) != NULL);
    vt_store(&buffered_len_seen, (int)len);
    VT_CHECK_EQ(read_body(ctx, new_probe(0, 1), 0), VS_OK);
}

/* On an ordinary route the buffered body is handed over in one piece, then on_end. */
static void test_ordinary_route_hands_over_the_buffered_body(int port) {
    const size_t len = 200 * KIB + 9;
    char *body = vt_random_bytes(len, 5);
    reset_probes();
    post_expecting_summary(port, "/buffered", body, len, 0);
    expect_probe_whole(probe_at(0), body, len);
    VT_CHECK_EQ(vt_load(&probe_at(0)->pieces), 1);
    VT_CHECK_EQ(vt_load(&buffered_len_seen), (int)len);

    post_expecting_summary(port, "/buffered", body, len, 5000);
    expect_probe_whole(probe_at(1), body, len);
    VT_CHECK_EQ(vt_load(&probe_at(1)->pieces), 1);
    free(body);
}

/* ---- a second reader ---- */

static void twice_handler(vs_ctx_t *ctx, void *ud) {
    probe *first = new_probe(0, 1), *second = new_probe(0, 0);
    (void)ud;
    VT_CHECK_EQ(read_body(ctx, first, 0), VS_OK);
    VT_CHECK_EQ(read_body(ctx, second, 0), VS_OK); /* accepted, then on_error(0) */
}

/* A second read_body gets on_error with status 0; the first reader is undisturbed. */
static void test_second_read_body_gets_error_0(int port) {
    const size_t len = 300 * KIB;
    char *body = vt_random_bytes(len, 6);
    probe *second;
    reset_probes();
    post_expecting_summary(port, "/twice", body, len, 0);
    expect_probe_whole(probe_at(0), body, len);
    second = probe_at(1);
    expect_probe_failed(second, 0);
    VT_CHECK_EQ(vt_load(&second->pieces), 0);
    free(body);
}

/* ---- a client leaving early ---- */

/* The client sends part of a 1 MiB body and closes (with a FIN, or a reset): on_error runs
 * (0 or 400) and not on_end, and the server serves on. */
static void test_client_closing_early(int port, int reset) {
    const size_t part = 100 * KIB;
    char *body = vt_random_bytes(part, 7);
    struct timespec deadline;
    probe *p;
    int fd, got_all;
    reset_probes();
    fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    send_head(fd, "/upload", "Content-Length: 1048576\r\n");
    VT_CHECK_EQ(vt_send_all(fd, body, part), 0);
    p = probe_at(0);
    vt_deadline_in(&deadline, 10000);
    vt_lock();
    while (p->bytes < part) {
        if (vt_timedwait(&deadline) != 0) break;
    }
    got_all = p->bytes == part;
    vt_unlock();
    VT_CHECK(got_all);
    if (reset) VT_CHECK_EQ(vt_reset_on_close(fd), 0);
    close(fd);
    VT_CHECK_EQ(vt_wait_for(&p->ud_frees, 1), 1);
    VT_CHECK_EQ(vt_load(&p->errors), 1);
    VT_CHECK(vt_load(&p->error_status) == 0 || vt_load(&p->error_status) == 400);
    VT_CHECK_EQ(vt_load(&p->ends), 0);
    vt_lock();
    VT_CHECK(p->hash == fnv(FNV_START, body, part));
    vt_unlock();

    post_expecting_summary(port, "/upload", "abc", 3, 0);
    free(body);
}

/* ---- answering later, after on_end ---- */

static int later_answer_rc, later_release_rc, later_done;

static void *later_main(void *arg) {
    vs_ctx_t *ctx = arg;
    vt_store(&later_answer_rc, vs_ctx_send_text(ctx, 202, "later"));
    vt_store(&later_release_rc, vs_ctx_release(ctx));
    vt_bump(&later_done);
    return NULL;
}

static void later_on_end(vs_ctx_t *ctx, void *ud) {
    probe *p = ud;
    vt_lock();
    ++p->ends;
    p->over = 1;
    vt_broadcast();
    vt_unlock();
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    vt_spawn(later_main, ctx);
}

static void later_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_read_body(ctx, on_data, later_on_end, on_error, new_probe(0, 0),
                                 probe_free, 0, 0),
                VS_OK);
}

/* on_end may retain its ctx and answer later from another thread. */
static void test_answer_later_after_on_end(int port) {
    char *body = vt_random_bytes(64 * KIB, 8);
    vt_response r;
    reset_probes();
    vt_store(&later_done, 0);
    post_with_length(port, "/later", body, 64 * KIB, &r);
    VT_CHECK_EQ(r.status, 202);
    VT_CHECK_STR(r.body, "later");
    vt_response_free(&r);
    VT_CHECK_EQ(vt_wait_for(&later_done, 1), 1);
    vt_join_spawned();
    VT_CHECK_EQ(vt_load(&later_answer_rc), VS_OK);
    VT_CHECK_EQ(vt_load(&later_release_rc), VS_OK);
    VT_CHECK_EQ(vt_wait_for(&probe_at(0)->ud_frees, 1), 1);
    expect_probe_whole(probe_at(0), body, 64 * KIB);
    free(body);
}

/* ---- misuse ---- */

static int misuse_frees, misuse_checks_done;
static probe misuse_probe;

static void misuse_free(void *ud) {
    VT_CHECK(ud == &misuse_probe);
    ++misuse_frees; /* on the loop thread, read after the response */
}

static void misuse_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    misuse_frees = 0;
    memset(&misuse_probe, 0, sizeof misuse_probe);
    VT_CHECK_EQ(vs_ctx_read_body(ctx, NULL, on_end, on_error, &misuse_probe, misuse_free, 0, 0),
                VS_EINVAL);
    VT_CHECK_EQ(misuse_frees, 1);
    VT_CHECK_EQ(vs_ctx_read_body(ctx, on_data, NULL, on_error, &misuse_probe, misuse_free, 0, 0),
                VS_EINVAL);
    VT_CHECK_EQ(misuse_frees, 2);
    VT_CHECK_EQ(vs_ctx_read_body(ctx, on_data, on_end, NULL, &misuse_probe, misuse_free, 0, 0),
                VS_EINVAL);
    VT_CHECK_EQ(misuse_frees, 3);
    VT_CHECK_EQ(vs_ctx_read_body(ctx, on_data, on_end, on_error, &misuse_probe, misuse_free, 0,
                                 (uint64_t)1 << 41),
                VS_EINVAL);
    VT_CHECK_EQ(misuse_frees, 4);
    /* A failed call runs none of its callbacks, and does not use up the one read. */
    VT_CHECK_EQ(misuse_probe.errors + misuse_probe.ends + misuse_probe.pieces, 0);
    VT_CHECK_EQ(vs_ctx_resume_body(ctx), VS_OK); /* not paused: nothing happens */
    VT_CHECK_EQ(read_body(ctx, new_probe(0, 1), 0), VS_OK);
    vt_bump(&misuse_checks_done);
}

static int null_frees;

static void null_free(void *p) {
    (void)p;
    ++null_frees;
}

/* Bad arguments and handles: VS_EINVAL, the userdata freed at once, no callback run. */
static void test_misuse(int port) {
    vs_config_t *cfg = NULL;
    vt_store(&misuse_checks_done, 0);
    reset_probes();
    post_expecting_summary(port, "/misuse", "xyz", 3, 0);
    VT_CHECK_EQ(vt_load(&misuse_checks_done), 1);
    VT_CHECK_EQ(misuse_frees, 4);
    expect_probe_whole(probe_at(0), "xyz", 3);

    null_frees = 0;
    VT_CHECK_EQ(vs_ctx_read_body(NULL, on_data, on_end, on_error, NULL, null_free, 0, 0),
                VS_EINVAL);
    VT_CHECK_EQ(null_frees, 1);
    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    VT_CHECK_EQ(vs_ctx_read_body((vs_ctx_t *)cfg, on_data, on_end, on_error, NULL, null_free, 0,
                                 0),
                VS_EINVAL);
    VT_CHECK_EQ(null_frees, 2);
    VT_CHECK_EQ(vs_ctx_resume_body(NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_resume_body((vs_ctx_t *)cfg), VS_EINVAL);
    vs_config_free(cfg);
}

/* Every probe's userdata was freed exactly once. */
static void check_every_probe_freed_once(void) {
    int i;
    vt_lock();
    for (i = 0; i < probe_count; ++i) VT_CHECK_EQ(probes[i].ud_frees, 1);
    vt_unlock();
}

int main(void) {
    vs_config_t *cfg = vt_test_config(1, 1000);
    vs_server_t *srv;
    vs_group_t *root;
    int port;
    VT_CHECK_EQ(vs_config_set_timeout(cfg, VS_TIMEOUT_LINGER, 200), VS_OK);
    srv = vt_server_from(cfg);
    root = vs_server_root(srv);
    VT_CHECK_EQ(vs_group_route_stream(root, "POST", "/upload", upload_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route_stream(root, "POST", "/limited", limited_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route_stream(root, "POST", "/paused", paused_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route_stream(root, "POST", "/expect", expect_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route_stream(root, "POST", "/refuse", refuse_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "POST", "/buffered", buffered_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route_stream(root, "POST", "/twice", twice_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route_stream(root, "POST", "/later", later_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route_stream(root, "POST", "/misuse", misuse_handler, NULL, NULL),
                VS_OK);
    port = vt_start(srv);

    test_content_length_and_chunked(port);
    check_every_probe_freed_once();
    test_pause_and_resume_from_another_thread(port);
    check_every_probe_freed_once();
    test_max_bytes_gets_413(port);
    check_every_probe_freed_once();
    test_expect_continue_only_when_reading(port);
    check_every_probe_freed_once();
    test_ordinary_route_hands_over_the_buffered_body(port);
    check_every_probe_freed_once();
    test_second_read_body_gets_error_0(port);
    check_every_probe_freed_once();
    test_client_closing_early(port, 0);
    check_every_probe_freed_once();
    test_client_closing_early(port, 1);
    check_every_probe_freed_once();
    test_answer_later_after_on_end(port);
    check_every_probe_freed_once();
    test_misuse(port);
    check_every_probe_freed_once();

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    printf("test_body: ok\n");
    return 0;
}
