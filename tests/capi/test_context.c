/* Tests vs_ctx_t (capi/context.cpp) against the contract in capi/vstream.h: every request
 * accessor and its len out-parameter, every way to answer (status, headers, bodies with and
 * without a free callback, JSON, text, files with their options), answering twice, on-finish
 * callbacks, and NULL or wrong handles. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"
#include "test_server.h"
#include "test_sync.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* Fails unless accessor `call` (which sets `len`) returns `expect` with its length. */
#define CHECK_TEXT(call, expect)                                                          \
    do {                                                                                  \
        size_t len = 12345;                                                               \
        const char *ct_got_ = (call);                                                     \
        VT_CHECK_STR(ct_got_, (expect));                                                  \
        VT_CHECK_EQ(len, strlen(expect));                                                 \
    } while (0)

/* ---- client helpers ---- */

/* Sends `request` on a new connection and reads the response to the close, within 10 s;
 * *local_port gets the client's own port. */
static void request_from(int port, const char *request, vt_response *out, int *local_port) {
    struct sockaddr_in self;
    socklen_t self_len = sizeof self;
    int fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    VT_CHECK_EQ(getsockname(fd, (struct sockaddr *)&self, &self_len), 0);
    *local_port = ntohs(self.sin_port);
    VT_CHECK_EQ(vt_send_all(fd, request, strlen(request)), 0);
    VT_CHECK_EQ(vt_read_closing(fd, out), 0);
}

/* Sends `request` and parses its response, failing the test if there is none. */
static void request(int port, const char *req, vt_response *out) {
    VT_CHECK_EQ(vt_request(port, req, out), 0);
}

static void get(int port, const char *path, vt_response *out) {
    VT_CHECK_EQ(vt_get(port, path, out), 0);
}

/* How many fields named `name` (case-insensitive) the head holds. */
static int count_fields(const vt_response *r, const char *name) {
    const char *line = strstr(r->head, "\r\n");
    size_t n = strlen(name);
    int count = 0;
    while (line != NULL && line[2] != '\0') {
        const char *start = line + 2;
        if (strncasecmp(start, name, n) == 0 && start[n] == ':') ++count;
        line = strstr(start, "\r\n");
    }
    return count;
}

/* Whether the head holds the exact line "name: value" (name case-insensitive). */
static int has_field(const vt_response *r, const char *name, const char *value) {
    const char *line = strstr(r->head, "\r\n");
    size_t n = strlen(name), v = strlen(value);
    while (line != NULL && line[2] != '\0') {
        const char *start = line + 2;
        const char *p = start + n + 1;
        if (strncasecmp(start, name, n) == 0 && start[n] == ':') {
            while (*p == ' ') ++p;
            if (strncmp(p, value, v) == 0 && p[v] == '\r') return 1;
        }
        line = strstr(start, "\r\n");
    }
    return 0;
}

/* ---- the request ---- */

/* A by-name accessor: vs_ctx_header or vs_ctx_param. */
typedef const char *(*lookup_fn)(vs_ctx_t *ctx, const char *name, size_t *len);

/* `lookup` of the absent name `absent`, and of NULL, is NULL with a len of 0 (len may be NULL). */
static void check_absent(vs_ctx_t *ctx, lookup_fn lookup, const char *absent) {
    size_t len = 7;
    VT_CHECK(lookup(ctx, absent, &len) == NULL);
    VT_CHECK_EQ(len, 0);
    VT_CHECK(lookup(ctx, NULL, NULL) == NULL);
    len = 7;
    VT_CHECK(lookup(ctx, NULL, &len) == NULL);
    VT_CHECK_EQ(len, 0);
}

static int accessor_checks_done, seen_peer_port, seen_minor;

/* GET /items/:id/(*rest) with a query and headers: every accessor, checked on the loop. */
static void accessors_handler(vs_ctx_t *ctx, void *ud) {
    const char *name = NULL, *value = NULL;
    size_t len = 99, count;
    (void)ud;
    CHECK_TEXT(vs_ctx_method(ctx, &len), "GET");
    CHECK_TEXT(vs_ctx_target(ctx, &len), "/items/42/a/b%20c?x=1&x=2&y=a+b&z=%41&e=");
    CHECK_TEXT(vs_ctx_path(ctx, &len), "/items/42/a/b%20c");
    CHECK_TEXT(vs_ctx_query_string(ctx, &len), "x=1&x=2&y=a+b&z=%41&e=");
    VT_CHECK_STR(vs_ctx_method(ctx, NULL), "GET"); /* len may be NULL */
    vt_store(&seen_minor, vs_ctx_http_minor(ctx));

    /* Header lookup is case-insensitive and gives the first field of a name. */
    CHECK_TEXT(vs_ctx_header(ctx, "X-Custom", &len), "v1");
    CHECK_TEXT(vs_ctx_header(ctx, "x-custom", &len), "v1");
    CHECK_TEXT(vs_ctx_header(ctx, "X-CUSTOM", &len), "v1");
    CHECK_TEXT(vs_ctx_header(ctx, "x-multi", &len), "first");
    check_absent(ctx, vs_ctx_header, "X-Absent");

    /* Fields in order received: Host, X-Custom, X-Multi, X-Multi, Connection. */
    count = vs_ctx_header_count(ctx);
    VT_CHECK_EQ(count, 5);
    VT_CHECK_EQ(vs_ctx_header_at(ctx, 0, &name, &value), VS_OK);
    VT_CHECK(strcasecmp(name, "host") == 0);
    VT_CHECK_STR(value, "example.test");
    VT_CHECK_EQ(vs_ctx_header_at(ctx, 2, &name, &value), VS_OK);
    VT_CHECK(strcasecmp(name, "x-multi") == 0);
    VT_CHECK_STR(value, "first");
    VT_CHECK_EQ(vs_ctx_header_at(ctx, 3, &name, &value), VS_OK);
    VT_CHECK(strcasecmp(name, "x-multi") == 0);
    VT_CHECK_STR(value, "second");
    VT_CHECK_EQ(vs_ctx_header_at(ctx, 4, NULL, &value), VS_OK); /* either out may be NULL */
    VT_CHECK_STR(value, "close");
    name = "untouched";
    VT_CHECK_EQ(vs_ctx_header_at(ctx, count, &name, &value), VS_ENOENT);
    VT_CHECK_EQ(vs_ctx_header_at(ctx, (size_t)-1, &name, &value), VS_ENOENT);
    VT_CHECK_STR(name, "untouched");

    /* A GET has no body. */
    len = 5;
    VT_CHECK(vs_ctx_body(ctx, &len) == NULL);
    VT_CHECK_EQ(len, 0);

    CHECK_TEXT(vs_ctx_peer_address(ctx, &len), "127.0.0.1");
    vt_store(&seen_peer_port, vs_ctx_peer_port(ctx));

    /* Routing: the pattern, the decoded path, and the parameters in pattern order. */
    CHECK_TEXT(vs_ctx_route(ctx, &len), "/items/:id/*rest");
    CHECK_TEXT(vs_ctx_route_path(ctx, &len), "/items/42/a/b c");
    CHECK_TEXT(vs_ctx_param(ctx, "id", &len), "42");
    CHECK_TEXT(vs_ctx_param(ctx, "rest", &len), "a/b c");
    check_absent(ctx, vs_ctx_param, "nope");
    VT_CHECK_EQ(vs_ctx_param_count(ctx), 2);
    VT_CHECK_EQ(vs_ctx_param_at(ctx, 0, &name, &value), VS_OK);
    VT_CHECK_STR(name, "id");
    VT_CHECK_STR(value, "42");
    VT_CHECK_EQ(vs_ctx_param_at(ctx, 1, &name, &value), VS_OK);
    VT_CHECK_STR(name, "rest");
    VT_CHECK_STR(value, "a/b c");
    VT_CHECK_EQ(vs_ctx_param_at(ctx, 2, &name, &value), VS_ENOENT);

    /* Query values: repeated keys by index, '+' and %XX decoded, absent -> NULL. */
    CHECK_TEXT(vs_ctx_query(ctx, "x", 0, &len), "1");
    CHECK_TEXT(vs_ctx_query(ctx, "x", 1, &len), "2");
    len = 4;
    VT_CHECK(vs_ctx_query(ctx, "x", 2, &len) == NULL);
    VT_CHECK_EQ(len, 0);
    CHECK_TEXT(vs_ctx_query(ctx, "y", 0, &len), "a b");
    CHECK_TEXT(vs_ctx_query(ctx, "z", 0, &len), "A");
    CHECK_TEXT(vs_ctx_query(ctx, "e", 0, &len), ""); /* present and empty is not absent */
    VT_CHECK(vs_ctx_query(ctx, "y", 1, NULL) == NULL);
    VT_CHECK(vs_ctx_query(ctx, "missing", 0, NULL) == NULL);
    VT_CHECK(vs_ctx_query(ctx, NULL, 0, NULL) == NULL);
    len = 4;
    VT_CHECK(vs_ctx_query(ctx, NULL, 0, &len) == NULL);
    VT_CHECK_EQ(len, 0);

    /* No request-id middleware on this server. */
    CHECK_TEXT(vs_ctx_request_id(ctx, &len), "");
    CHECK_TEXT(vs_ctx_trace_id(ctx, &len), "");

    /* Strings stay valid as long as the handle: an early one is intact after many more. */
    {
        const char *method = vs_ctx_method(ctx, NULL);
        int i;
        for (i = 0; i < 100; ++i) (void)vs_ctx_target(ctx, NULL);
        VT_CHECK_STR(method, "GET");
    }
    vt_bump(&accessor_checks_done);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "checked"), VS_OK);
}

static void test_every_request_accessor(int port) {
    vt_response r;
    int local_port = 0;
    vt_store(&accessor_checks_done, 0);
    request_from(port,
                 "GET /items/42/a/b%20c?x=1&x=2&y=a+b&z=%41&e= HTTP/1.1\r\n"
                 "Host: example.test\r\nX-Custom: v1\r\nX-Multi: first\r\nX-Multi: second\r\n"
                 "Connection: close\r\n\r\n",
                 &r, &local_port);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "checked");
    vt_response_free(&r);
    VT_CHECK_EQ(vt_load(&accessor_checks_done), 1);
    VT_CHECK_EQ(vt_load(&seen_minor), 1);
    VT_CHECK_EQ(vt_load(&seen_peer_port), local_port);
}

static int minor_seen_10;

static void minor_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vt_store(&minor_seen_10, vs_ctx_http_minor(ctx));
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, vs_ctx_http_minor(ctx) == 0 ? "1.0" : "1.1"), VS_OK);
}

/* vs_ctx_http_minor tells HTTP/1.0 from HTTP/1.1. */
static void test_http_minor_for_1_0_and_1_1(int port) {
    vt_response r;
    vt_store(&minor_seen_10, -1);
    request(port, "GET /minor HTTP/1.0\r\nHost: t\r\n\r\n", &r);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "1.0");
    VT_CHECK_EQ(vt_load(&minor_seen_10), 0);
    vt_response_free(&r);
    get(port, "/minor", &r);
    VT_CHECK_STR(r.body, "1.1");
    VT_CHECK_EQ(vt_load(&minor_seen_10), 1);
    vt_response_free(&r);
}

/* POST /echo: the buffered body, echoed as a JSON-free byte count and the bytes. */
static void echo_handler(vs_ctx_t *ctx, void *ud) {
    size_t len = 0;
    const void *body = vs_ctx_body(ctx, &len);
    (void)ud;
    VT_CHECK(body != NULL);
    VT_CHECK_EQ(len, 11);
    VT_CHECK(memcmp(body, "hello\0world", 11) == 0);
    VT_CHECK_STR(vs_ctx_method(ctx, NULL), "POST");
    VT_CHECK(vs_ctx_body(ctx, NULL) == body); /* len may be NULL; same bytes */
    VT_CHECK_EQ(vs_ctx_send(ctx, 200, body, len, NULL), VS_OK);
}

/* vs_ctx_body hands over a POST's buffered body, binary bytes included. */
static void test_body_of_a_post(int port) {
    static const char req[] = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n"
                              "Connection: close\r\n\r\nhello\0world";
    vt_response r;
    VT_CHECK_EQ(vt_request_bytes(port, req, sizeof req - 1, &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_EQ(r.body_len, 11);
    VT_CHECK(memcmp(r.body, "hello\0world", 11) == 0);
    vt_response_free(&r);
}

/* ---- the response ---- */

static int status_checks_done;

/* set_status: 100..999 accepted and reported; others refused, leaving the status as it was. */
static void status_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_response_status(ctx), 200);
    VT_CHECK_EQ(vs_ctx_set_status(ctx, 299), VS_OK);
    VT_CHECK_EQ(vs_ctx_response_status(ctx), 299);
    VT_CHECK_EQ(vs_ctx_set_status(ctx, 99), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_set_status(ctx, 1000), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_set_status(ctx, -200), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_response_status(ctx), 299);
    VT_CHECK_EQ(vs_ctx_set_status(ctx, 100), VS_OK);
    VT_CHECK_EQ(vs_ctx_set_status(ctx, 999), VS_OK);
    VT_CHECK_EQ(vs_ctx_response_status(ctx), 999);
    VT_CHECK_EQ(vs_ctx_set_status(ctx, 202), VS_OK);
    /* vs_ctx_send with a bad status answers nothing. */
    VT_CHECK_EQ(vs_ctx_send(ctx, 99, "x", 1, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send(ctx, 1000, "x", 1, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 42, "x"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send_json(ctx, 1000, "{}"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send_json(ctx, 200, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send(ctx, 200, NULL, 3, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_responded(ctx), 0);
    vt_bump(&status_checks_done);
    VT_CHECK_EQ(vs_ctx_send(ctx, 202, "accepted", 8, NULL), VS_OK);
}

static void test_set_status(int port) {
    vt_response r;
    vt_store(&status_checks_done, 0);
    get(port, "/status", &r);
    VT_CHECK_EQ(r.status, 202);
    VT_CHECK_STR(r.body, "accepted");
    VT_CHECK_EQ(vt_load(&status_checks_done), 1);
    vt_response_free(&r);
}

static int header_checks_done;

static void headers_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    /* Header injection and bad names are refused. */
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "X-Evil", "a\r\nSet-Cookie: owned=1"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "X-Evil", "a\nb"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "X-Evil", "a\rb"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_add_header(ctx, "X-Evil", "a\r\nb"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_add_header(ctx, "X-Evil", "\n"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "Bad Name", "v"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "Bad:Name", "v"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "", "v"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "X-Evil\r\nX-More", "v"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_add_header(ctx, "Bad(Name)", "v"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_add_header(ctx, "", "v"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_set_header(ctx, NULL, "v"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "X-Null", NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_add_header(ctx, NULL, "v"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_add_header(ctx, "X-Null", NULL), VS_EINVAL);
    /* set replaces, add keeps. */
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "X-Once", "first"), VS_OK);
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "x-once", "second"), VS_OK);
    VT_CHECK_EQ(vs_ctx_add_header(ctx, "Set-Cookie", "a=1; Path=/"), VS_OK);
    VT_CHECK_EQ(vs_ctx_add_header(ctx, "Set-Cookie", "b=2; HttpOnly"), VS_OK);
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "X-Empty", ""), VS_OK);
    VT_CHECK_EQ(vs_ctx_add_header(ctx, "X-Tab", "a\tb"), VS_OK);
    vt_bump(&header_checks_done);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "headers"), VS_OK);
}

/* set_header replaces, add_header keeps both Set-Cookie fields; CR/LF in a value and names
 * that are not tokens are refused and never reach the wire. */
static void test_set_and_add_header(int port) {
    vt_response r;
    vt_store(&header_checks_done, 0);
    get(port, "/headers", &r);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_EQ(vt_load(&header_checks_done), 1);
    VT_CHECK_EQ(count_fields(&r, "X-Once"), 1);
    VT_CHECK(has_field(&r, "X-Once", "second"));
    VT_CHECK_EQ(count_fields(&r, "Set-Cookie"), 2);
    VT_CHECK(has_field(&r, "Set-Cookie", "a=1; Path=/"));
    VT_CHECK(has_field(&r, "Set-Cookie", "b=2; HttpOnly"));
    VT_CHECK(has_field(&r, "X-Tab", "a\tb"));
    VT_CHECK_EQ(count_fields(&r, "X-Empty"), 1);
    VT_CHECK_EQ(count_fields(&r, "X-Evil"), 0);
    VT_CHECK_EQ(count_fields(&r, "X-More"), 0);
    VT_CHECK_EQ(count_fields(&r, "X-Null"), 0);
    VT_CHECK(strstr(r.head, "owned") == NULL);
    vt_response_free(&r);
}

/* ---- bodies handed over with a free callback ---- */

static int body_frees;

static void free_body(void *p) {
    free(p);
    vt_bump(&body_frees);
}

static char *dup_text(const char *s) {
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    VT_CHECK(p != NULL);
    memcpy(p, s, n + 1);
    return p;
}

static int owned_rc_first, owned_rc_second, owned_rc_text, owned_rc_json, owned_rc_file;
static int owned_rc_stream, owned_done;

/* Answers with a body handed over, then tries to answer again every way. */
static void owned_handler(vs_ctx_t *ctx, void *ud) {
    vs_stream_t *stream = (vs_stream_t *)&ud; /* any non-NULL value; must be reset */
    (void)ud;
    VT_CHECK_EQ(vs_ctx_responded(ctx), 0);
    vt_store(&owned_rc_first, vs_ctx_send(ctx, 200, dup_text("owned body"), 10, free_body));
    VT_CHECK_EQ(vs_ctx_responded(ctx), 1);
    vt_store(&owned_rc_second, vs_ctx_send(ctx, 500, dup_text("second"), 6, free_body));
    vt_store(&owned_rc_text, vs_ctx_send_text(ctx, 500, "again"));
    vt_store(&owned_rc_json, vs_ctx_send_json(ctx, 500, "{}"));
    vt_store(&owned_rc_file, vs_ctx_send_file(ctx, "/etc/hostname", NULL));
    vt_store(&owned_rc_stream, vs_ctx_stream(ctx, 200, &stream));
    VT_CHECK(stream == NULL);
    VT_CHECK_EQ(vs_ctx_responded(ctx), 1);
    vt_bump(&owned_done);
}

/* body_free runs exactly once for a body that was sent, for one refused with VS_EANSWERED,
 * for a bad status, and for a NULL ctx; a second answer of any kind is VS_EANSWERED. */
static void test_send_with_body_free(int port) {
    vt_response r;
    vt_store(&body_frees, 0);
    vt_store(&owned_done, 0);
    vt_expect(port, "GET", "/owned", 200, "owned body");
    VT_CHECK_EQ(vt_wait_for(&owned_done, 1), 1);
    VT_CHECK_EQ(vt_load(&owned_rc_first), VS_OK);
    VT_CHECK_EQ(vt_load(&owned_rc_second), VS_EANSWERED);
    VT_CHECK_EQ(vt_load(&owned_rc_text), VS_EANSWERED);
    VT_CHECK_EQ(vt_load(&owned_rc_json), VS_EANSWERED);
    VT_CHECK_EQ(vt_load(&owned_rc_file), VS_EANSWERED);
    VT_CHECK_EQ(vt_load(&owned_rc_stream), VS_EANSWERED);
    /* Both bodies freed, each once: the sent one after it was written, the refused at once. */
    VT_CHECK_EQ(vt_wait_for(&body_frees, 2), 2);

    /* Failures outside a request free the body too, at once. */
    VT_CHECK_EQ(vs_ctx_send(NULL, 200, dup_text("nobody"), 6, free_body), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&body_frees), 3);
    VT_CHECK_EQ(vs_ctx_send(NULL, 99, dup_text("bad status"), 10, free_body), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&body_frees), 4);
    VT_CHECK_EQ(vs_ctx_send(NULL, 200, dup_text(""), 0, free_body), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&body_frees), 5);
    /* Nothing runs twice later. */
    get(port, "/minor", &r);
    vt_response_free(&r);
    VT_CHECK_EQ(vt_load(&body_frees), 5);
}

/* The handler's buffer is overwritten right after a copying send. */
static void copied_handler(vs_ctx_t *ctx, void *ud) {
    char buf[32];
    (void)ud;
    strcpy(buf, "copied bytes");
    VT_CHECK_EQ(vs_ctx_send(ctx, 200, buf, strlen(buf), NULL), VS_OK);
    memset(buf, 'X', sizeof buf);
    /* An empty body is fine either way: NULL with length 0 answers nothing twice. */
    VT_CHECK_EQ(vs_ctx_send(ctx, 200, NULL, 0, NULL), VS_EANSWERED);
}

/* With a NULL free callback the bytes are copied at once. */
static void test_send_copies_without_free(int port) {
    vt_expect(port, "GET", "/copied", 200, "copied bytes");
}

static void empty_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_send(ctx, 204, NULL, 0, NULL), VS_OK);
}

static void json_handler(vs_ctx_t *ctx, void *ud) {
    char buf[32];
    (void)ud;
    strcpy(buf, "{\"a\":[1,2]}");
    VT_CHECK_EQ(vs_ctx_send_json(ctx, 201, buf), VS_OK);
    memset(buf, 0, sizeof buf);
}

static void text_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 418, "short and stout"), VS_OK);
}

/* send_json and send_text set their content types and copy the text; an empty body too. */
static void test_json_text_and_empty(int port) {
    vt_response r;
    char value[128];
    get(port, "/json", &r);
    VT_CHECK_EQ(r.status, 201);
    VT_CHECK_STR(r.body, "{\"a\":[1,2]}");
    VT_CHECK_STR(vt_header(&r, "Content-Type", value, sizeof value), "application/json");
    VT_CHECK_STR(vt_header(&r, "Content-Length", value, sizeof value), "11");
    vt_response_free(&r);
    get(port, "/text", &r);
    VT_CHECK_EQ(r.status, 418);
    VT_CHECK_STR(r.body, "short and stout");
    VT_CHECK_STR(vt_header(&r, "Content-Type", value, sizeof value), "text/plain; charset=utf-8");
    vt_response_free(&r);
    get(port, "/empty", &r);
    VT_CHECK_EQ(r.status, 204);
    VT_CHECK_EQ(r.body_len, 0);
    vt_response_free(&r);
}

/* ---- files ---- */

static char *file_dir;
static char file_path[4096], missing_path[4096];
static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz";

static void file_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_send_file(ctx, file_path, NULL), VS_OK);
}

static void missing_file_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_send_file(ctx, missing_path, NULL), VS_OK);
}

/* Options freed right after the call: they were copied. */
static void file_opts_handler(vs_ctx_t *ctx, void *ud) {
    vs_file_options_t *o = NULL;
    (void)ud;
    VT_CHECK_EQ(vs_file_options_new(&o), VS_OK);
    VT_CHECK_EQ(vs_file_options_set_content_type(o, "video/x-test"), VS_OK);
    VT_CHECK_EQ(vs_file_options_set_cache_control(o, "public, max-age=60"), VS_OK);
    VT_CHECK_EQ(vs_ctx_send_file(ctx, file_path, o), VS_OK);
    vs_file_options_free(o);
}

static void file_part_handler(vs_ctx_t *ctx, void *ud) {
    vs_file_options_t *o = NULL;
    (void)ud;
    VT_CHECK_EQ(vs_file_options_new(&o), VS_OK);
    VT_CHECK_EQ(vs_file_options_set_part(o, 3, 10), VS_OK); /* "defghijklm" */
    VT_CHECK_EQ(vs_ctx_send_file(ctx, file_path, o), VS_OK);
    vs_file_options_free(o);
}

static void file_noranges_handler(vs_ctx_t *ctx, void *ud) {
    vs_file_options_t *o = NULL;
    (void)ud;
    VT_CHECK_EQ(vs_file_options_new(&o), VS_OK);
    VT_CHECK_EQ(vs_file_options_set_ranges(o, 0), VS_OK);
    VT_CHECK_EQ(vs_ctx_send_file(ctx, file_path, o), VS_OK);
    vs_file_options_free(o);
}

static void file_range_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_send_file_range(ctx, file_path, 20, 6), VS_OK); /* "uvwxyz" */
}

static void file_range_to_end_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    VT_CHECK_EQ(vs_ctx_send_file_range(ctx, file_path, 23, UINT64_MAX), VS_OK); /* "xyz" */
}

static int file_bad_args_done;

static void file_bad_args_handler(vs_ctx_t *ctx, void *ud) {
    vs_config_t *not_options = NULL;
    (void)ud;
    VT_CHECK_EQ(vs_config_new(&not_options), VS_OK);
    VT_CHECK_EQ(vs_ctx_send_file(ctx, NULL, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send_file(ctx, "", NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send_file(ctx, file_path, (const vs_file_options_t *)not_options),
                VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send_file_range(ctx, NULL, 0, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_responded(ctx), 0);
    vs_config_free(not_options);
    vt_bump(&file_bad_args_done);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "refused"), VS_OK);
}

/* send_file: 200 with ETag and Last-Modified, 206 for a Range, 304 for If-None-Match, 404 for
 * a missing file; with options: content type, cache control, a part, ranges off. */
static void test_send_file(int port) {
    vt_response r;
    char etag[128], value[256], req[512];
    get(port, "/file", &r);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, alphabet);
    VT_CHECK(vt_header(&r, "ETag", etag, sizeof etag) != NULL);
    VT_CHECK(etag[0] == '"');
    VT_CHECK(vt_header(&r, "Last-Modified", value, sizeof value) != NULL);
    VT_CHECK_STR(vt_header(&r, "Accept-Ranges", value, sizeof value), "bytes");
    VT_CHECK_STR(vt_header(&r, "Content-Type", value, sizeof value), "text/plain; charset=utf-8");
    VT_CHECK_EQ(count_fields(&r, "Cache-Control"), 0);
    vt_response_free(&r);

    request(port, "GET /file HTTP/1.1\r\nHost: t\r\nRange: bytes=2-5\r\nConnection: close\r\n\r\n",
            &r);
    VT_CHECK_EQ(r.status, 206);
    VT_CHECK_STR(r.body, "cdef");
    VT_CHECK_STR(vt_header(&r, "Content-Range", value, sizeof value), "bytes 2-5/26");
    vt_response_free(&r);

    snprintf(req, sizeof req,
             "GET /file HTTP/1.1\r\nHost: t\r\nIf-None-Match: %s\r\nConnection: close\r\n\r\n",
             etag);
    request(port, req, &r);
    VT_CHECK_EQ(r.status, 304);
    VT_CHECK_EQ(r.body_len, 0);
    VT_CHECK_STR(vt_header(&r, "ETag", value, sizeof value), etag);
    vt_response_free(&r);

    vt_expect(port, "GET", "/file-missing", 404, NULL);

    get(port, "/file-opts", &r);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, alphabet);
    VT_CHECK_STR(vt_header(&r, "Content-Type", value, sizeof value), "video/x-test");
    VT_CHECK_STR(vt_header(&r, "Cache-Control", value, sizeof value), "public, max-age=60");
    vt_response_free(&r);

    /* A part is the whole representation: its own length, and Range applies within it. */
    get(port, "/file-part", &r);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "defghijklm");
    VT_CHECK_STR(vt_header(&r, "Content-Length", value, sizeof value), "10");
    vt_response_free(&r);
    request(port,
            "GET /file-part HTTP/1.1\r\nHost: t\r\nRange: bytes=1-2\r\nConnection: close\r\n\r\n",
            &r);
    VT_CHECK_EQ(r.status, 206);
    VT_CHECK_STR(r.body, "ef");
    VT_CHECK_STR(vt_header(&r, "Content-Range", value, sizeof value), "bytes 1-2/10");
    vt_response_free(&r);

    /* Ranges off: a Range request gets the whole file with 200. */
    request(port,
            "GET /file-noranges HTTP/1.1\r\nHost: t\r\nRange: bytes=2-5\r\n"
            "Connection: close\r\n\r\n",
            &r);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, alphabet);
    VT_CHECK_EQ(count_fields(&r, "Content-Range"), 0);
    vt_response_free(&r);

    vt_expect(port, "GET", "/file-range", 200, "uvwxyz");
    vt_expect(port, "GET", "/file-range-end", 200, "xyz");

    vt_store(&file_bad_args_done, 0);
    get(port, "/file-bad", &r);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "refused");
    VT_CHECK_EQ(vt_load(&file_bad_args_done), 1);
    vt_response_free(&r);
}

/* The option setters validate, and refuse a NULL or wrong handle. */
static void test_file_options_setters(void) {
    vs_file_options_t *o = NULL;
    vs_config_t *cfg = NULL;
    VT_CHECK_EQ(vs_file_options_new(NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_file_options_new(&o), VS_OK);
    VT_CHECK(o != NULL);
    VT_CHECK_EQ(vs_file_options_set_content_type(o, "text/x\r\nX-Evil: 1"), VS_EINVAL);
    VT_CHECK_EQ(vs_file_options_set_content_type(o, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_file_options_set_content_type(o, ""), VS_OK);
    VT_CHECK_EQ(vs_file_options_set_cache_control(o, "no-store\n"), VS_EINVAL);
    VT_CHECK_EQ(vs_file_options_set_cache_control(o, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_file_options_set_cache_control(o, "no-store"), VS_OK);
    VT_CHECK_EQ(vs_file_options_set_part(o, 0, UINT64_MAX), VS_OK);
    VT_CHECK_EQ(vs_file_options_set_limit_rate(o, 1024, 4096), VS_OK);
    VT_CHECK_EQ(vs_file_options_set_ranges(o, 1), VS_OK);
    VT_CHECK_EQ(vs_file_options_set_content_type(NULL, "a/b"), VS_EINVAL);
    VT_CHECK_EQ(vs_file_options_set_cache_control(NULL, "x"), VS_EINVAL);
    VT_CHECK_EQ(vs_file_options_set_part(NULL, 0, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_file_options_set_limit_rate(NULL, 0, 0), VS_EINVAL);
    VT_CHECK_EQ(vs_file_options_set_ranges(NULL, 0), VS_EINVAL);
    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    VT_CHECK_EQ(vs_file_options_set_ranges((vs_file_options_t *)cfg, 0), VS_EINVAL);
    vs_file_options_free((vs_file_options_t *)cfg); /* a wrong handle is not freed */
    VT_CHECK_EQ(vs_config_set_port(cfg, 1234), VS_OK);
    vs_config_free(cfg);
    vs_file_options_free(o);
    vs_file_options_free(NULL);
}

/* ---- on-finish ---- */

static int finish_runs, finish_status, finish_size, finish_responded, finish_ud_frees;
static int finish_on_loop, finish_null_fn_rc;
static pthread_t finish_handler_thread;
static int finish_value = 7;

static void finish_free(void *p) {
    VT_CHECK(p == &finish_value);
    vt_bump(&finish_ud_frees);
}

static void on_finish(vs_ctx_t *ctx, void *ud) {
    VT_CHECK(ud == &finish_value);
    vt_store(&finish_status, vs_ctx_response_status(ctx));
    vt_store(&finish_size, (int)vs_ctx_response_size(ctx));
    vt_store(&finish_responded, vs_ctx_responded(ctx));
    vt_lock();
    finish_on_loop = pthread_equal(finish_handler_thread, pthread_self());
    vt_unlock();
    vt_bump(&finish_runs);
}

static void finish_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vt_lock();
    finish_handler_thread = pthread_self();
    vt_unlock();
    vt_store(&finish_null_fn_rc, vs_ctx_on_finish(ctx, NULL, &finish_value, finish_free));
    VT_CHECK_EQ(vs_ctx_on_finish(ctx, on_finish, &finish_value, finish_free), VS_OK);
    VT_CHECK_EQ(vs_ctx_send(ctx, 203, "eleven byte", 11, NULL), VS_OK);
    /* Not before the request is over. */
    VT_CHECK_EQ(vt_load(&finish_runs), 0);
}

/* on_finish runs once, on the loop, with the response's status and size; its userdata is
 * freed once; a registration without fn fails and frees its userdata at once. */
static void test_on_finish(int port) {
    vt_response r;
    vt_store(&finish_runs, 0);
    vt_store(&finish_ud_frees, 0);
    vt_expect(port, "GET", "/finish", 203, "eleven byte");
    VT_CHECK_EQ(vt_wait_for(&finish_runs, 1), 1);
    VT_CHECK_EQ(vt_wait_for(&finish_ud_frees, 2), 2); /* the failed registration's, and ours */
    VT_CHECK_EQ(vt_load(&finish_null_fn_rc), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&finish_status), 203);
    VT_CHECK_EQ(vt_load(&finish_size), 11);
    VT_CHECK_EQ(vt_load(&finish_responded), 1);
    VT_CHECK_EQ(vt_load(&finish_on_loop), 1);
    get(port, "/minor", &r); /* another request on the same loop runs nothing more */
    vt_response_free(&r);
    VT_CHECK_EQ(vt_load(&finish_runs), 1);
    VT_CHECK_EQ(vt_load(&finish_ud_frees), 2);
}

/* ---- request and trace ids ---- */

static int rid_checks_done;

static void rid_handler(vs_ctx_t *ctx, void *ud) {
    size_t len = 0, i;
    const char *trace = vs_ctx_trace_id(ctx, &len);
    (void)ud;
    CHECK_TEXT(vs_ctx_request_id(ctx, &len), "client-id-1");
    VT_CHECK(trace != NULL);
    VT_CHECK_EQ(strlen(trace), 32);
    for (i = 0; i < 32; ++i) VT_CHECK(strchr("0123456789abcdef", trace[i]) != NULL);
    vt_bump(&rid_checks_done);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, trace), VS_OK);
}

/* With the request-id middleware, the ids are there (an incoming id is kept when trusted). */
static void test_request_and_trace_id_with_middleware(int port) {
    vt_response r;
    char value[64];
    vt_store(&rid_checks_done, 0);
    request(port, "GET /rid/x HTTP/1.1\r\nHost: t\r\nX-Request-ID: client-id-1\r\n"
                  "Connection: close\r\n\r\n",
            &r);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_EQ(vt_load(&rid_checks_done), 1);
    VT_CHECK_EQ(r.body_len, 32);
    VT_CHECK_STR(vt_header(&r, "X-Request-ID", value, sizeof value), "client-id-1");
    vt_response_free(&r);
}

/* ---- NULL and wrong handles ---- */

static int null_free_count;

static void null_free(void *p) {
    (void)p;
    ++null_free_count;
}

static void noop_finish(vs_ctx_t *ctx, void *ud) {
    (void)ctx;
    (void)ud;
}

static void noop_event(void *ud) { (void)ud; }

/* Every function given a NULL (or wrong) vs_ctx_t fails cleanly: VS_EINVAL, NULL or 0. */
static void check_bad_ctx(vs_ctx_t *ctx) {
    const char *name = "n", *value = "v";
    vs_stream_t *stream = (vs_stream_t *)&name;
    size_t len = 77;
    VT_CHECK(vs_ctx_method(ctx, &len) == NULL);
    VT_CHECK_EQ(len, 0);
    len = 77;
    VT_CHECK(vs_ctx_target(ctx, &len) == NULL);
    VT_CHECK_EQ(len, 0);
    VT_CHECK(vs_ctx_path(ctx, NULL) == NULL);
    VT_CHECK(vs_ctx_query_string(ctx, NULL) == NULL);
    VT_CHECK_EQ(vs_ctx_http_minor(ctx), VS_EINVAL);
    len = 77;
    VT_CHECK(vs_ctx_header(ctx, "Host", &len) == NULL);
    VT_CHECK_EQ(len, 0);
    VT_CHECK_EQ(vs_ctx_header_count(ctx), 0);
    VT_CHECK_EQ(vs_ctx_header_at(ctx, 0, &name, &value), VS_EINVAL);
    VT_CHECK_STR(name, "n");
    len = 77;
    VT_CHECK(vs_ctx_body(ctx, &len) == NULL);
    VT_CHECK_EQ(len, 0);
    VT_CHECK(vs_ctx_peer_address(ctx, NULL) == NULL);
    VT_CHECK_EQ(vs_ctx_peer_port(ctx), VS_EINVAL);
    VT_CHECK(vs_ctx_route(ctx, NULL) == NULL);
    VT_CHECK(vs_ctx_route_path(ctx, NULL) == NULL);
    VT_CHECK(vs_ctx_param(ctx, "id", NULL) == NULL);
    VT_CHECK_EQ(vs_ctx_param_count(ctx), 0);
    VT_CHECK_EQ(vs_ctx_param_at(ctx, 0, &name, &value), VS_EINVAL);
    VT_CHECK(vs_ctx_query(ctx, "x", 0, NULL) == NULL);
    VT_CHECK(vs_ctx_request_id(ctx, NULL) == NULL);
    VT_CHECK(vs_ctx_trace_id(ctx, NULL) == NULL);
    VT_CHECK_EQ(vs_ctx_set_status(ctx, 200), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "X-A", "1"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_add_header(ctx, "X-A", "1"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send(ctx, 200, "x", 1, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send_json(ctx, 200, "{}"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send_text(ctx, 200, "t"), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send_file(ctx, "/etc/hostname", NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_send_file_range(ctx, "/etc/hostname", 0, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_stream(ctx, 200, &stream), VS_EINVAL);
    VT_CHECK(stream == NULL);
    VT_CHECK_EQ(vs_ctx_responded(ctx), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_response_status(ctx), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_response_size(ctx), 0);
    null_free_count = 0;
    VT_CHECK_EQ(vs_ctx_on_finish(ctx, noop_finish, &null_free_count, null_free), VS_EINVAL);
    VT_CHECK_EQ(null_free_count, 1); /* a failed registration frees its userdata at once */
    VT_CHECK_EQ(vs_ctx_on_cancel(ctx, noop_event, &null_free_count, null_free), VS_EINVAL);
    VT_CHECK_EQ(null_free_count, 2);
    VT_CHECK_EQ(vs_ctx_retain(ctx), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_release(ctx), VS_EINVAL);
    VT_CHECK_EQ(vs_ctx_cancelled(ctx), VS_EINVAL);
}

static void test_null_and_wrong_handles(void) {
    vs_config_t *cfg = NULL;
    check_bad_ctx(NULL);
    /* A live handle of another type is refused by its magic, never used. */
    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    check_bad_ctx((vs_ctx_t *)cfg);
    VT_CHECK_EQ(vs_config_set_port(cfg, 0), VS_OK); /* untouched */
    vs_config_free(cfg);
}

int main(void) {
    vs_server_t *srv;
    vs_group_t *root, *rid = NULL;
    int port;

    file_dir = vt_temp_dir();
    snprintf(file_path, sizeof file_path, "%s/alpha.txt", file_dir);
    snprintf(missing_path, sizeof missing_path, "%s/missing.txt", file_dir);
    VT_CHECK_EQ(vt_write_file(file_path, alphabet, strlen(alphabet)), 0);

    srv = vt_new_server(1, 10000); /* the default shutdown grace */
    root = vs_server_root(srv);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/items/:id/*rest", accessors_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/minor", minor_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "POST", "/echo", echo_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/status", status_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/headers", headers_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/owned", owned_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/copied", copied_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/empty", empty_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/json", json_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/text", text_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/file", file_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/file-missing", missing_file_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/file-opts", file_opts_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/file-part", file_part_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/file-noranges", file_noranges_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/file-range", file_range_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/file-range-end", file_range_to_end_handler, NULL,
                               NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/file-bad", file_bad_args_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/finish", finish_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_nested(root, "/rid", &rid), VS_OK);
    VT_CHECK_EQ(vs_group_use_request_id(rid, NULL, 1), VS_OK);
    VT_CHECK_EQ(vs_group_route(rid, "GET", "/x", rid_handler, NULL, NULL), VS_OK);
    port = vt_start(srv);

    test_every_request_accessor(port);
    test_http_minor_for_1_0_and_1_1(port);
    test_body_of_a_post(port);
    test_set_status(port);
    test_set_and_add_header(port);
    test_send_with_body_free(port);
    test_send_copies_without_free(port);
    test_json_text_and_empty(port);
    test_send_file(port);
    test_file_options_setters();
    test_on_finish(port);
    test_request_and_trace_id_with_middleware(port);
    test_null_and_wrong_handles();

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    vt_remove_tree(file_dir);
    free(file_dir);
    printf("test_context: ok\n");
    return 0;
}
