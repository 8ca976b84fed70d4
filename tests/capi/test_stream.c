/* Tests vs_stream_t (capi/stream.cpp, and vs_ctx_stream in capi/context.cpp) against the
 * contract in capi/vstream.h: chunked and close-delimited bodies, writes from other threads,
 * data_free on every path, trailers, backpressure with the drain callback, a client leaving
 * mid-stream, freeing an unended stream, HEAD, and NULL handles. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"
#include "test_server.h"
#include "test_sync.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- a stream's flow: what its drain and close callbacks reported ---- */

typedef struct {
    int drains, closes, ud_frees; /* under the lock */
    pthread_t loop;               /* the handler's thread */
    int callbacks_off_loop;       /* a callback ran on another thread */
} flow;

static void flow_reset(flow *f) {
    vt_lock();
    memset(f, 0, sizeof *f);
    f->loop = pthread_self();
    vt_unlock();
}

static void on_drain(void *ud) {
    flow *f = ud;
    vt_lock();
    if (!pthread_equal(f->loop, pthread_self())) f->callbacks_off_loop = 1;
    ++f->drains;
    vt_broadcast();
    vt_unlock();
}

static void on_close(void *ud) {
    flow *f = ud;
    vt_lock();
    ++f->closes;
    vt_broadcast();
    vt_unlock();
}

static void flow_free(void *ud) { vt_bump(&((flow *)ud)->ud_frees); }

/* Registers both callbacks, with flow_free as each one's userdata_free. */
static void watch(vs_stream_t *s, flow *f) {
    VT_CHECK_EQ(vs_stream_on_drain(s, on_drain, f, flow_free), VS_OK);
    VT_CHECK_EQ(vs_stream_on_close(s, on_close, f, flow_free), VS_OK);
}

/* In a handler: answers with a stream of `status`, its flow reset and watched. */
static vs_stream_t *watched_stream(vs_ctx_t *ctx, int status, flow *f) {
    vs_stream_t *s = NULL;
    flow_reset(f);
    VT_CHECK_EQ(vs_ctx_stream(ctx, status, &s), VS_OK);
    VT_CHECK(s != NULL);
    watch(s, f);
    return s;
}

/* Writes `len` bytes (data_free as for vs_stream_write) as a well-behaved producer: on
 * VS_EAGAIN waits (10 s at most) for a drain or the close. Returns the write's code, or
 * VS_ETIMEDOUT if no drain came. */
static int produce(vs_stream_t *s, flow *f, const void *data, size_t len, vs_free_cb data_free) {
    struct timespec deadline;
    int drains, rc;
    vt_lock();
    drains = f->drains;
    vt_unlock();
    rc = vs_stream_write(s, data, len, data_free);
    if (rc != VS_EAGAIN) return rc;
    vt_deadline_in(&deadline, 10000);
    vt_lock();
    while (f->drains == drains && f->closes == 0) {
        if (vt_timedwait(&deadline) != 0) break;
    }
    rc = f->drains != drains || f->closes != 0 ? VS_EAGAIN : VS_ETIMEDOUT;
    vt_unlock();
    return rc;
}

/* ---- data handed over with a free callback ---- */

static int data_frees;

static void free_data(void *p) {
    free(p);
    vt_bump(&data_frees);
}

/* free_data for the one chunk written after the end, counted apart as well: the loop thread
 * may free earlier chunks at any moment, so data_frees alone cannot tell when this one went. */
static int late_frees;
static void free_late(void *p) {
    vt_bump(&late_frees);
    free_data(p);
}

static void *dup_bytes(const void *data, size_t len) {
    void *p = malloc(len == 0 ? 1 : len);
    VT_CHECK(p != NULL);
    memcpy(p, data, len);
    return p;
}

/* ---- client helpers ---- */

/* Connects with a receive buffer of `rcvbuf` bytes (0: the default). */
static int connect_with_rcvbuf(int port, int rcvbuf) {
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    VT_CHECK(fd >= 0);
    if (rcvbuf > 0) {
        VT_CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    VT_CHECK_EQ(connect(fd, (struct sockaddr *)&addr, sizeof addr), 0);
    return fd;
}

/* Sends `req` and reads the raw response to the close (10 s). */
static char *raw_request(int port, const char *req, size_t *len) {
    char *raw = vt_exchange(port, req, strlen(req), len);
    VT_CHECK(raw != NULL);
    return raw;
}

static const char plain_req[] = "GET /plain HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";

/* ---- the payload: chunks of 1 B to 64 KiB of pseudo-random bytes ---- */

#define CHUNKS 60

static unsigned char *chunk_data[CHUNKS];
static size_t chunk_len[CHUNKS];
static unsigned char *payload_all;
static size_t payload_len;

static void make_payload(void) {
    uint32_t x = 12345;
    size_t i, j, at = 0;
    for (i = 0; i < CHUNKS; ++i) {
        x = x * 1103515245u + 12345u;
        chunk_len[i] = i == 0 ? 1 : i == 1 ? 65536 : 1 + (x >> 8) % 20000;
        chunk_data[i] = malloc(chunk_len[i]);
        VT_CHECK(chunk_data[i] != NULL);
        for (j = 0; j < chunk_len[i]; ++j) {
            x = x * 1103515245u + 12345u;
            chunk_data[i][j] = (unsigned char)(x >> 16);
        }
        payload_len += chunk_len[i];
    }
    payload_all = malloc(payload_len + 16);
    VT_CHECK(payload_all != NULL);
    memcpy(payload_all, "hello world", 11);
    at = 11;
    for (i = 0; i < CHUNKS; ++i) {
        memcpy(payload_all + at, chunk_data[i], chunk_len[i]);
        at += chunk_len[i];
    }
    payload_len = at; /* "hello world" then every chunk */
}

static void free_payload(void) {
    size_t i;
    for (i = 0; i < CHUNKS; ++i) free(chunk_data[i]);
    free(payload_all);
}

/* ---- chunked and close-delimited bodies ---- */

static flow payload_flow;
static int payload_handler_done, payload_done, payload_free_expected;
static int payload_after_end_rc, payload_after_end_copy_rc;
static int payload_closed_after_end, payload_frees_before_refusal, payload_frees_after_refusal;

static void *payload_producer(void *arg) {
    vs_stream_t *s = arg;
    size_t i;
    int frees = 0, rc;
    static const char world[] = "world";
    /* After the handler returned: "world" handed over, then every chunk, alternately handed
     * over (freed by vstream) and copied. */
    VT_CHECK_EQ(vt_wait_for(&payload_handler_done, 1), 1);
    VT_CHECK_EQ(vs_stream_write(s, dup_bytes(world, 5), 5, free_data), VS_OK);
    ++frees;
    for (i = 0; i < CHUNKS; ++i) {
        if (i % 2 == 0) {
            rc = produce(s, &payload_flow, dup_bytes(chunk_data[i], chunk_len[i]), chunk_len[i],
                         free_data);
            ++frees;
        } else {
            rc = produce(s, &payload_flow, chunk_data[i], chunk_len[i], NULL);
        }
        VT_CHECK(rc == VS_OK || rc == VS_EAGAIN);
    }
    /* An empty chunk is ignored (it would end the body). */
    VT_CHECK(vs_stream_write(s, "", 0, NULL) >= VS_EAGAIN);
    VT_CHECK_EQ(vs_stream_end(s, NULL, NULL, 0), VS_OK);
    vt_store(&payload_closed_after_end, vs_stream_closed(s));
    /* Writes after the end are refused, and handed-over bytes are freed at once. */
    vt_store(&payload_frees_before_refusal, vt_load(&late_frees));
    vt_store(&payload_after_end_rc, vs_stream_write(s, dup_bytes("late", 4), 4, free_late));
    ++frees;
    vt_store(&payload_frees_after_refusal, vt_load(&late_frees)); /* freed before the return */
    vt_store(&payload_after_end_copy_rc, vs_stream_write(s, "late", 4, NULL));
    VT_CHECK_EQ(vs_stream_end(s, NULL, NULL, 0), VS_OK); /* later calls do nothing */
    vt_store(&payload_free_expected, frees);
    vs_stream_free(s);
    vt_bump(&payload_done);
    return NULL;
}

static void payload_handler(vs_ctx_t *ctx, void *ud) {
    vs_stream_t *s;
    (void)ud;
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "Content-Type", "application/octet-stream"), VS_OK);
    s = watched_stream(ctx, 200, &payload_flow);
    VT_CHECK_EQ(vs_ctx_responded(ctx), 1);
    VT_CHECK_EQ(vs_stream_closed(s), 0);
    /* In the handler: one copied, one handed over. */
    VT_CHECK_EQ(vs_stream_write(s, "hello", 5, NULL), VS_OK);
    VT_CHECK_EQ(vs_stream_write(s, dup_bytes(" ", 1), 1, free_data), VS_OK);
    vt_spawn(payload_producer, s);
    vt_bump(&payload_handler_done); /* the last thing before returning */
}

static void reset_payload_state(void) {
    vt_store(&payload_handler_done, 0);
    vt_store(&payload_done, 0);
    vt_store(&data_frees, 0);
    vt_store(&late_frees, 0);
    vt_store(&payload_after_end_rc, 1);
    vt_store(&payload_after_end_copy_rc, 1);
}

/* Checks the producer's view once its stream is over. */
static void check_payload_producer(void) {
    VT_CHECK_EQ(vt_wait_for(&payload_done, 1), 1);
    vt_join_spawned();
    VT_CHECK_EQ(vt_load(&payload_closed_after_end), 1);
    VT_CHECK_EQ(vt_load(&payload_after_end_rc), VS_EPIPE);
    VT_CHECK_EQ(vt_load(&payload_after_end_copy_rc), VS_EPIPE);
    VT_CHECK_EQ(vt_load(&payload_frees_after_refusal), vt_load(&payload_frees_before_refusal) + 1);
    /* Every handed-over chunk freed exactly once: the handler's " " and the producer's. */
    VT_CHECK_EQ(vt_wait_for(&data_frees, vt_load(&payload_free_expected) + 1),
                vt_load(&payload_free_expected) + 1);
    VT_CHECK_EQ(vt_load(&payload_flow.closes), 0);
    VT_CHECK_EQ(vt_wait_for(&payload_flow.ud_frees, 2), 2); /* drain's and close's, once each */
    VT_CHECK_EQ(vt_load(&payload_flow.callbacks_off_loop), 0);
}

/* HTTP/1.1: a chunked body, written in the handler and then from another thread, arrives
 * byte-exact; the raw framing is chunked, and the connection serves another request. */
static void test_chunked_for_http_1_1(int port) {
    static const char req[] = "GET /payload HTTP/1.1\r\nHost: t\r\n\r\n";
    vt_buffer b = {NULL, 0, 0};
    vt_response r;
    const char *body;
    char value[64];
    int fd;
    reset_payload_state();
    fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    VT_CHECK_EQ(vt_send_all(fd, req, sizeof req - 1), 0);
    VT_CHECK(vt_read_until_suffix(fd, &b, "\r\n0\r\n\r\n"));
    VT_CHECK_EQ(vt_parse_response(b.data, b.len, &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(vt_header(&r, "Transfer-Encoding", value, sizeof value), "chunked");
    VT_CHECK(vt_header(&r, "Content-Length", value, sizeof value) == NULL);
    VT_CHECK_STR(vt_header(&r, "Content-Type", value, sizeof value), "application/octet-stream");
    body = strstr(b.data, "\r\n\r\n") + 4;
    VT_CHECK(strncmp(body, "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n1\r\n", 29) == 0);
    VT_CHECK_EQ(r.body_len, payload_len);
    VT_CHECK(memcmp(r.body, payload_all, payload_len) == 0);
    vt_response_free(&r);
    vt_buffer_free(&b);
    check_payload_producer();

    /* The body's end was well framed: the connection takes another request. */
    VT_CHECK_EQ(vt_send_all(fd, plain_req, strlen(plain_req)), 0);
    VT_CHECK_EQ(vt_read_closing(fd, &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "plain");
    vt_response_free(&r);
}

/* HTTP/1.0: the same body, close-delimited (no chunked framing, no length). */
static void test_close_delimited_for_http_1_0(int port) {
    vt_response r;
    char value[64];
    size_t len;
    char *raw;
    reset_payload_state();
    raw = raw_request(port, "GET /payload HTTP/1.0\r\nHost: t\r\n\r\n", &len);
    VT_CHECK_EQ(vt_parse_response(raw, len, &r), 0);
    free(raw);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK(vt_header(&r, "Transfer-Encoding", value, sizeof value) == NULL);
    VT_CHECK(vt_header(&r, "Content-Length", value, sizeof value) == NULL);
    VT_CHECK_EQ(r.body_len, payload_len);
    VT_CHECK(memcmp(r.body, payload_all, payload_len) == 0);
    vt_response_free(&r);
    check_payload_producer();
}

static void plain_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "plain"), VS_OK);
}

/* ---- trailers ---- */

static int trailer_checks_done;

static void trailers_handler(vs_ctx_t *ctx, void *ud) {
    static const char *const bad_names[] = {"Bad Name"};
    static const char *const empty_names[] = {""};
    static const char *const null_names[] = {NULL};
    static const char *const ok_names[] = {"X-Checksum", "X-Count"};
    static const char *const ok_values[] = {"ba7816bf", "2"};
    static const char *const bad_values[] = {"a\r\nX-Evil: 1", "2"};
    static const char *const one_value[] = {"v"};
    vs_stream_t *s = NULL;
    (void)ud;
    VT_CHECK_EQ(vs_ctx_stream(ctx, 200, &s), VS_OK);
    VT_CHECK_EQ(vs_stream_write(s, "abc", 3, NULL), VS_OK);
    /* Bad trailers are refused, and the stream stays open. */
    VT_CHECK_EQ(vs_stream_end(s, bad_names, one_value, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_end(s, empty_names, one_value, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_end(s, null_names, one_value, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_end(s, ok_names, bad_values, 2), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_end(s, NULL, ok_values, 2), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_end(s, ok_names, NULL, 2), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_closed(s), 0);
    VT_CHECK_EQ(vs_stream_write(s, "def", 3, NULL), VS_OK);
    VT_CHECK_EQ(vs_stream_end(s, ok_names, ok_values, 2), VS_OK);
    VT_CHECK_EQ(vs_stream_closed(s), 1);
    VT_CHECK_EQ(vs_stream_end(s, ok_names, ok_values, 2), VS_OK); /* does nothing */
    VT_CHECK_EQ(vs_stream_write(s, "ghi", 3, NULL), VS_EPIPE);
    vs_stream_free(s);
    vt_bump(&trailer_checks_done);
}

/* Trailers follow the last chunk; bad ones are refused without ending the stream. */
static void test_trailers(int port) {
    static const char expect[] = "3\r\nabc\r\n3\r\ndef\r\n0\r\nX-Checksum: ba7816bf\r\n"
                                 "X-Count: 2\r\n\r\n";
    vt_response r;
    size_t len;
    char *raw;
    const char *body;
    vt_store(&trailer_checks_done, 0);
    raw = raw_request(port, "GET /trailers HTTP/1.1\r\nHost: t\r\nTE: trailers\r\n"
                            "Connection: close\r\n\r\n",
                      &len);
    VT_CHECK_EQ(vt_load(&trailer_checks_done), 1);
    body = vt_find_bytes(raw, len, "\r\n\r\n");
    VT_CHECK(body != NULL);
    body += 4;
    VT_CHECK_STR(body, expect);
    VT_CHECK(strstr(raw, "X-Evil") == NULL);
    VT_CHECK_EQ(vt_parse_response(raw, len, &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "abcdef");
    vt_response_free(&r);
    free(raw);

    /* HTTP/1.0 has no trailers: the body alone, close-delimited. */
    raw = raw_request(port, "GET /trailers HTTP/1.0\r\nHost: t\r\n\r\n", &len);
    VT_CHECK_EQ(vt_parse_response(raw, len, &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "abcdef");
    VT_CHECK(strstr(raw, "X-Checksum") == NULL);
    vt_response_free(&r);
    free(raw);
}

/* ---- backpressure ---- */

#define BP_HIGH (64 * 1024)
#define BP_LOW (16 * 1024)
#define BP_CHUNK (16 * 1024)
#define BP_MAX_CHUNKS 16384 /* 256 MiB: a pipe that never fills fails the test */

static flow bp_flow;
static int bp_stalled, bp_eagains, bp_done, bp_drains_at_stall, bp_chunks_written;
static int bp_queued_ok, bp_timed_out, bp_queued_at_stall;

static void fill_chunk(unsigned char *buf, int index) {
    int j;
    for (j = 0; j < BP_CHUNK; ++j) buf[j] = (unsigned char)(index * 31 + j / 64);
}

/* Writes until a write returns VS_EAGAIN and no drain comes for a while (the client's
 * buffers are full), waits for the drain that the client's reading brings, writes 64 chunks
 * more at the pace allowed, then ends. */
static void *bp_producer(void *arg) {
    vs_stream_t *s = arg;
    static unsigned char buf[BP_CHUNK];
    int i = 0, after_stall = -1, queued_ok = 1, rc;
    for (; i < BP_MAX_CHUNKS && after_stall < 64; ++i) {
        int drains;
        struct timespec deadline;
        fill_chunk(buf, i);
        vt_lock();
        drains = bp_flow.drains;
        vt_unlock();
        rc = vs_stream_write(s, buf, BP_CHUNK, NULL);
        if (after_stall >= 0) ++after_stall;
        if (rc == VS_OK) continue;
        VT_CHECK_EQ(rc, VS_EAGAIN);
        vt_bump(&bp_eagains);
        /* Past the mark by at most one chunk: the producer stops at the first refusal. */
        if (vs_stream_queued(s) > BP_HIGH + BP_CHUNK) queued_ok = 0;
        vt_deadline_in(&deadline, after_stall < 0 ? 300 : 10000);
        vt_lock();
        while (bp_flow.drains == drains && bp_flow.closes == 0) {
            if (vt_timedwait(&deadline) != 0) break;
        }
        if (bp_flow.drains == drains && after_stall < 0) {
            /* Stalled: the queue holds what the connection cannot take. */
            bp_queued_at_stall = (int)vs_stream_queued(s);
            bp_drains_at_stall = bp_flow.drains;
            bp_stalled = 1;
            vt_broadcast();
            vt_deadline_in(&deadline, 30000);
            while (bp_flow.drains == drains && bp_flow.closes == 0) {
                if (vt_timedwait(&deadline) != 0) break;
            }
            after_stall = 0;
        }
        if (bp_flow.drains == drains) bp_timed_out = 1;
        vt_unlock();
        if (vt_load(&bp_timed_out)) break;
    }
    vt_store(&bp_chunks_written, i);
    vt_store(&bp_queued_ok, queued_ok);
    VT_CHECK_EQ(vs_stream_end(s, NULL, NULL, 0), VS_OK);
    vs_stream_free(s);
    vt_bump(&bp_done);
    return NULL;
}

static void bp_handler(vs_ctx_t *ctx, void *ud) {
    vs_stream_t *s = watched_stream(ctx, 200, &bp_flow);
    (void)ud;
    VT_CHECK_EQ(vs_stream_queued(s), 0);
    vt_spawn(bp_producer, s);
}

/* With a small high-water mark and a client that does not read, writes return VS_EAGAIN;
 * once the client reads, the drain callback runs (on the loop) and every byte arrives. */
static void test_backpressure(int port) {
    static const char req[] = "GET /bp HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    struct timespec deadline;
    vt_response r;
    size_t len, i, chunks;
    char *raw;
    int fd, stalled;
    fd = connect_with_rcvbuf(port, 16 * 1024);
    VT_CHECK_EQ(vt_send_all(fd, req, sizeof req - 1), 0);
    /* Nothing is read until the producer stalled on a full pipe. */
    vt_deadline_in(&deadline, 60000);
    vt_lock();
    while (!bp_stalled && !bp_done) {
        if (vt_timedwait(&deadline) != 0) break;
    }
    stalled = bp_stalled;
    vt_unlock();
    VT_CHECK_EQ(stalled, 1);
    VT_CHECK(vt_load(&bp_eagains) >= 1);
    VT_CHECK(vt_load(&bp_queued_at_stall) > BP_HIGH);
    VT_CHECK(vt_load(&bp_queued_at_stall) <= BP_HIGH + BP_CHUNK);

    raw = vt_read_all(fd, 10000, &len);
    close(fd);
    VT_CHECK_EQ(vt_wait_for(&bp_done, 1), 1);
    vt_join_spawned();
    VT_CHECK_EQ(vt_load(&bp_timed_out), 0);
    VT_CHECK(vt_load(&bp_flow.drains) > vt_load(&bp_drains_at_stall)); /* the reading drained it */
    VT_CHECK_EQ(vt_load(&bp_flow.callbacks_off_loop), 0);
    VT_CHECK_EQ(vt_load(&bp_flow.closes), 0);
    VT_CHECK_EQ(vt_load(&bp_queued_ok), 1);
    VT_CHECK_EQ(vt_parse_response(raw, len, &r), 0);
    free(raw);
    VT_CHECK_EQ(r.status, 200);
    chunks = (size_t)vt_load(&bp_chunks_written);
    VT_CHECK_EQ(r.body_len, chunks * BP_CHUNK);
    for (i = 0; i < chunks; ++i) {
        static unsigned char want[BP_CHUNK];
        fill_chunk(want, (int)i);
        VT_CHECK(memcmp(r.body + i * BP_CHUNK, want, BP_CHUNK) == 0);
    }
    vt_response_free(&r);
    VT_CHECK_EQ(vt_wait_for(&bp_flow.ud_frees, 2), 2);
}

/* ---- a client leaving mid-stream ---- */

static flow leave_flow;
static int leave_done, leave_last_rc, leave_closed, leave_late_rc, leave_late_frees;
static int leave_frees_before, late_close_runs;

static void late_close(void *ud) {
    (void)ud;
    ++late_close_runs; /* run at once, on the producer's thread */
}

/* Writes 1 KiB chunks for as long as the stream is open. */
static void *endless_producer(void *arg) {
    vs_stream_t *s = arg;
    char chunk[1024];
    unsigned n = 0;
    int rc;
    do {
        memset(chunk, 'a' + (int)(n++ % 26), sizeof chunk);
        rc = produce(s, &leave_flow, chunk, sizeof chunk, NULL);
    } while ((rc == VS_OK || rc == VS_EAGAIN) && n < 1024u * 1024);
    vt_store(&leave_last_rc, rc);
    vt_store(&leave_closed, vs_stream_closed(s));
    vt_store(&leave_frees_before, vt_load(&data_frees));
    vt_store(&leave_late_rc, vs_stream_write(s, dup_bytes("x", 1), 1, free_data));
    vt_store(&leave_late_frees, vt_load(&data_frees));
    late_close_runs = 0;
    VT_CHECK_EQ(vs_stream_on_close(s, late_close, NULL, NULL), VS_OK);
    VT_CHECK_EQ(late_close_runs, 1);
    vs_stream_free(s);
    vt_bump(&leave_done);
    return NULL;
}

static void endless_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vt_spawn(endless_producer, watched_stream(ctx, 200, &leave_flow));
}

/* The client reads the start of an endless stream, then leaves (a reset, or a FIN and then a
 * close): on_close runs once, writes return VS_EPIPE and free what they are given. */
static void test_client_leaving_mid_stream(int port, int reset) {
    static const char req[] = "GET /endless HTTP/1.1\r\nHost: t\r\n\r\n";
    vt_buffer b = {NULL, 0, 0};
    int fd = vt_connect(port);
    vt_store(&leave_done, 0);
    vt_store(&data_frees, 0);
    VT_CHECK(fd >= 0);
    VT_CHECK_EQ(vt_send_all(fd, req, sizeof req - 1), 0);
    while (b.len < 64 * 1024) VT_CHECK(vt_buffer_read(fd, &b, 10000) > 0);
    VT_CHECK(strncmp(b.data, "HTTP/1.1 200", 12) == 0);
    if (reset) {
        VT_CHECK_EQ(vt_reset_on_close(fd), 0);
    } else {
        VT_CHECK_EQ(shutdown(fd, SHUT_WR), 0);
    }
    close(fd);
    vt_buffer_free(&b);
    VT_CHECK_EQ(vt_wait_for(&leave_flow.closes, 1), 1);
    VT_CHECK_EQ(vt_wait_for(&leave_done, 1), 1);
    vt_join_spawned();
    VT_CHECK_EQ(vt_load(&leave_flow.closes), 1);
    VT_CHECK_EQ(vt_load(&leave_last_rc), VS_EPIPE);
    VT_CHECK_EQ(vt_load(&leave_closed), 1);
    VT_CHECK_EQ(vt_load(&leave_late_rc), VS_EPIPE);
    VT_CHECK_EQ(vt_load(&leave_late_frees), vt_load(&leave_frees_before) + 1);
    VT_CHECK_EQ(vt_wait_for(&leave_flow.ud_frees, 2), 2);
}

/* ---- freeing a stream that was not ended ---- */

static flow unended_flow;
static int unended_done, unended_finish_runs, unended_finish_status, unended_finish_size;

static void unended_finish(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vt_store(&unended_finish_status, vs_ctx_response_status(ctx));
    vt_store(&unended_finish_size, (int)vs_ctx_response_size(ctx));
    vt_bump(&unended_finish_runs);
}

static void unended_handler(vs_ctx_t *ctx, void *ud) {
    vs_stream_t *s;
    (void)ud;
    VT_CHECK_EQ(vs_ctx_on_finish(ctx, unended_finish, NULL, NULL), VS_OK);
    s = watched_stream(ctx, 201, &unended_flow);
    VT_CHECK_EQ(vs_stream_write(s, "partial", 7, NULL), VS_OK);
    vs_stream_free(s); /* ends the body */
    vt_bump(&unended_done);
}

/* vs_stream_free without vs_stream_end ends the body: the client sees a complete chunked
 * body, and the connection serves on. */
static void test_free_without_end_ends_the_body(int port) {
    static const char req[] = "GET /unended HTTP/1.1\r\nHost: t\r\n\r\n";
    vt_buffer b = {NULL, 0, 0};
    vt_response r;
    int fd = vt_connect(port);
    vt_store(&unended_done, 0);
    vt_store(&unended_finish_runs, 0);
    VT_CHECK(fd >= 0);
    VT_CHECK_EQ(vt_send_all(fd, req, sizeof req - 1), 0);
    VT_CHECK(vt_read_until_suffix(fd, &b, "7\r\npartial\r\n0\r\n\r\n"));
    VT_CHECK_EQ(vt_parse_response(b.data, b.len, &r), 0);
    VT_CHECK_EQ(r.status, 201);
    VT_CHECK_STR(r.body, "partial");
    vt_response_free(&r);
    vt_buffer_free(&b);
    VT_CHECK_EQ(vt_load(&unended_done), 1);
    VT_CHECK_EQ(vt_send_all(fd, plain_req, strlen(plain_req)), 0);
    VT_CHECK_EQ(vt_read_closing(fd, &r), 0);
    VT_CHECK_STR(r.body, "plain");
    vt_response_free(&r);
    VT_CHECK_EQ(vt_load(&unended_flow.closes), 0); /* it ended: not closed early */
    /* The request is over once the stream ended: on_finish runs once, with its status. */
    VT_CHECK_EQ(vt_wait_for(&unended_finish_runs, 1), 1);
    VT_CHECK_EQ(vt_load(&unended_finish_status), 201);
    VT_CHECK_EQ(vt_load(&unended_finish_size), 7); /* body bytes, chunk framing excluded */
    VT_CHECK_EQ(vt_wait_for(&unended_flow.ud_frees, 2), 2);
}

/* ---- HEAD ---- */

static flow head_flow;
static int head_checks_done, head_write_rc, head_closed, head_late_frees;

/* Once the writer is closed (after the handler returned), it takes nothing more. */
static void *head_producer(void *arg) {
    vs_stream_t *s = arg;
    int frees;
    VT_CHECK_EQ(vt_wait_for(&head_flow.closes, 1), 1);
    vt_store(&head_closed, vs_stream_closed(s));
    vt_store(&head_write_rc, vs_stream_write(s, "body", 4, NULL));
    frees = vt_load(&data_frees);
    VT_CHECK_EQ(vs_stream_write(s, dup_bytes("body", 4), 4, free_data), VS_EPIPE);
    vt_store(&head_late_frees, vt_load(&data_frees) - frees);
    vs_stream_free(s);
    vt_bump(&head_checks_done);
    return NULL;
}

static void head_handler(vs_ctx_t *ctx, void *ud) {
    vs_stream_t *s;
    (void)ud;
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "X-Stream", "yes"), VS_OK);
    s = watched_stream(ctx, 200, &head_flow);
    if (strcmp(vs_ctx_method(ctx, NULL), "HEAD") == 0) {
        vt_spawn(head_producer, s);
        return;
    }
    VT_CHECK_EQ(vs_stream_write(s, "body", 4, NULL), VS_OK);
    vs_stream_free(s);
}

/* A HEAD request gets the head only; its writer is closed once the handler returned
 * (on_close runs, writes get VS_EPIPE and free what they are given). */
static void test_head(int port) {
    vt_response r;
    char value[64];
    size_t len;
    char *raw;
    vt_store(&head_checks_done, 0);
    vt_store(&data_frees, 0);
    raw = raw_request(port, "HEAD /head HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &len);
    VT_CHECK(strncmp(raw, "HTTP/1.1 200", 12) == 0);
    VT_CHECK(vt_find_bytes(raw, len, "\r\n\r\n") + 4 == raw + len); /* nothing after the head */
    VT_CHECK_EQ(vt_parse_response(raw, len, &r), 0);
    VT_CHECK_STR(vt_header(&r, "X-Stream", value, sizeof value), "yes");
    vt_response_free(&r);
    free(raw);
    VT_CHECK_EQ(vt_wait_for(&head_checks_done, 1), 1);
    vt_join_spawned();
    VT_CHECK_EQ(vt_load(&head_flow.closes), 1);
    VT_CHECK_EQ(vt_load(&head_closed), 1);
    VT_CHECK_EQ(vt_load(&head_write_rc), VS_EPIPE);
    VT_CHECK_EQ(vt_load(&head_late_frees), 1);
    VT_CHECK_EQ(vt_wait_for(&head_flow.ud_frees, 2), 2);

    /* The same route for GET streams a body. */
    raw = raw_request(port, "GET /head HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", &len);
    VT_CHECK_EQ(vt_parse_response(raw, len, &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "body");
    vt_response_free(&r);
    free(raw);
}

/* ---- a stream started later, from another thread ---- */

static int retained_stream_done, retained_stream_rc;

static void *retained_streamer(void *arg) {
    vs_ctx_t *ctx = arg;
    vs_stream_t *s = NULL;
    int rc = vs_ctx_stream(ctx, 200, &s);
    vt_store(&retained_stream_rc, rc);
    if (rc == VS_OK) {
        VT_CHECK_EQ(vs_stream_write(s, "from ", 5, NULL), VS_OK);
        VT_CHECK_EQ(vs_stream_write(s, "afar", 4, NULL), VS_OK);
        VT_CHECK_EQ(vs_stream_end(s, NULL, NULL, 0), VS_OK);
        vs_stream_free(s);
    }
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_OK);
    vt_bump(&retained_stream_done);
    return NULL;
}

static void retained_stream_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_OK);
    vt_spawn(retained_streamer, ctx);
}

/* A retained ctx answered with a stream from a worker thread after the handler returned. */
static void test_stream_from_a_retained_ctx(int port) {
    vt_response r;
    char value[32];
    vt_store(&retained_stream_done, 0);
    VT_CHECK_EQ(vt_get(port, "/retained", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(vt_header(&r, "Transfer-Encoding", value, sizeof value), "chunked");
    VT_CHECK_STR(r.body, "from afar");
    vt_response_free(&r);
    VT_CHECK_EQ(vt_wait_for(&retained_stream_done, 1), 1);
    vt_join_spawned();
    VT_CHECK_EQ(vt_load(&retained_stream_rc), VS_OK);
}

/* ---- misuse ---- */

static int misuse_done;

static void misuse_handler(vs_ctx_t *ctx, void *ud) {
    vs_stream_t *s = (vs_stream_t *)&misuse_done, *again = (vs_stream_t *)&misuse_done;
    (void)ud;
    VT_CHECK_EQ(vs_ctx_stream(ctx, 200, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_stream(ctx, 99, &s), VS_EINVAL);
    VT_CHECK(s == NULL);
    VT_CHECK_EQ(vs_ctx_stream(ctx, 1000, &s), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_responded(ctx), 0);
    VT_CHECK_EQ(vs_ctx_stream(ctx, 200, &s), VS_OK);
    VT_CHECK_EQ(vs_ctx_stream(ctx, 200, &again), VS_EANSWERED);
    VT_CHECK(again == NULL);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 500, "no"), VS_EANSWERED);
    VT_CHECK_EQ(vs_stream_write(s, NULL, 3, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_write(s, NULL, 0, NULL), VS_OK); /* empty: ignored */
    VT_CHECK_EQ(vs_stream_on_drain(s, NULL, NULL, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_on_close(s, NULL, NULL, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_write(s, "ok", 2, NULL), VS_OK);
    VT_CHECK_EQ(vs_stream_end(s, NULL, NULL, 0), VS_OK);
    vs_stream_free(s);
    vt_bump(&misuse_done);
}

static int ud_frees;

static void count_ud_free(void *p) {
    (void)p;
    ++ud_frees;
}

static void noop_event(void *ud) { (void)ud; }

/* NULL and wrong handles: VS_EINVAL or 0, and what was handed over is freed at once. */
static void test_null_handles(int port) {
    vs_config_t *cfg = NULL;
    vs_stream_t *wrong;
    static const char *const names[] = {"X-A"};
    static const char *const values[] = {"1"};
    vt_store(&misuse_done, 0);
    vt_expect(port, "GET", "/misuse", 200, "ok");
    VT_CHECK_EQ(vt_load(&misuse_done), 1);

    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    wrong = (vs_stream_t *)cfg;
    vt_store(&data_frees, 0);
    VT_CHECK_EQ(vs_stream_write(NULL, "x", 1, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_write(NULL, dup_bytes("x", 1), 1, free_data), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&data_frees), 1);
    VT_CHECK_EQ(vs_stream_write(wrong, dup_bytes("x", 1), 1, free_data), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&data_frees), 2);
    VT_CHECK_EQ(vs_stream_end(NULL, NULL, NULL, 0), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_end(NULL, names, values, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_end(wrong, NULL, NULL, 0), VS_EINVAL);
    ud_frees = 0;
    VT_CHECK_EQ(vs_stream_on_drain(NULL, noop_event, NULL, count_ud_free), VS_EINVAL);
    VT_CHECK_EQ(ud_frees, 1);
    VT_CHECK_EQ(vs_stream_on_close(NULL, noop_event, NULL, count_ud_free), VS_EINVAL);
    VT_CHECK_EQ(ud_frees, 2);
    VT_CHECK_EQ(vs_stream_on_close(wrong, noop_event, NULL, count_ud_free), VS_EINVAL);
    VT_CHECK_EQ(ud_frees, 3);
    VT_CHECK_EQ(vs_stream_closed(NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_closed(wrong), VS_EINVAL);
    VT_CHECK_EQ(vs_stream_queued(NULL), 0);
    VT_CHECK_EQ(vs_stream_queued(wrong), 0);
    vs_stream_free(NULL);
    vs_stream_free(wrong); /* not a stream: left alone */
    VT_CHECK_EQ(vs_config_set_port(cfg, 0), VS_OK);
    vs_config_free(cfg);
}

/* One loop thread, a 1 s shutdown grace and, unless `high` is 0, these write water marks. */
static vs_server_t *new_server(uint64_t high, uint64_t low) {
    vs_config_t *cfg = vt_test_config(1, 1000);
    if (high != 0) {
        VT_CHECK_EQ(vs_config_set_limit(cfg, VS_LIMIT_WRITE_LOW_WATER, low), VS_OK);
        VT_CHECK_EQ(vs_config_set_limit(cfg, VS_LIMIT_WRITE_HIGH_WATER, high), VS_OK);
    }
    return vt_server_from(cfg);
}

int main(void) {
    vs_server_t *srv, *bp;
    vs_group_t *root;
    int port;
    make_payload();

    srv = new_server(0, 0);
    root = vs_server_root(srv);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/payload", payload_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/plain", plain_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/trailers", trailers_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/endless", endless_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/unended", unended_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/head", head_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/retained", retained_stream_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/misuse", misuse_handler, NULL, NULL), VS_OK);
    port = vt_start(srv);

    test_chunked_for_http_1_1(port);
    test_close_delimited_for_http_1_0(port);
    test_trailers(port);
    test_client_leaving_mid_stream(port, 1);
    test_client_leaving_mid_stream(port, 0);
    test_free_without_end_ends_the_body(port);
    test_head(port);
    test_stream_from_a_retained_ctx(port);
    test_null_handles(port);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);

    bp = new_server(BP_HIGH, BP_LOW);
    VT_CHECK_EQ(vs_group_route(vs_server_root(bp), "GET", "/bp", bp_handler, NULL, NULL), VS_OK);
    test_backpressure(vt_start(bp));
    VT_CHECK_EQ(vs_server_free(bp), VS_OK);

    free_payload();
    printf("test_stream: ok\n");
    return 0;
}
