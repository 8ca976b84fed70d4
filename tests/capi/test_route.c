/* Tests capi/route.cpp: routes and groups (methods, parameters, nesting, HEAD, 404/405,
 * conflicts, misuse), who frees userdata and when, streaming routes, static directories and
 * their options, and the built-in middleware. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"
#include "test_server.h"
#include "test_sync.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_t main_thread;

/* ---- fixtures ---- */

/* A route's userdata: what its handler answers, and how often it has been freed. */
struct slot {
    const char *text;
    int frees;
};

static void free_slot(void *ud) { ((struct slot *)ud)->frees++; }

static void answer_slot(vs_ctx_t *ctx, void *ud) {
    vs_ctx_send_text(ctx, 200, ((struct slot *)ud)->text);
}

/* Answers "<method> <route pattern>". */
static void echo_route(vs_ctx_t *ctx, void *ud) {
    char body[512];
    (void)ud;
    snprintf(body, sizeof body, "%s %s", vs_ctx_method(ctx, NULL), vs_ctx_route(ctx, NULL));
    vs_ctx_send_text(ctx, 200, body);
}

/* Answers every route parameter, "name=value;" in pattern order. */
static void echo_params(vs_ctx_t *ctx, void *ud) {
    char body[1024] = "";
    size_t i, n = vs_ctx_param_count(ctx);
    (void)ud;
    for (i = 0; i < n; ++i) {
        const char *name = NULL, *value = NULL;
        size_t used = strlen(body);
        if (vs_ctx_param_at(ctx, i, &name, &value) != VS_OK) break;
        snprintf(body + used, sizeof body - used, "%s=%s;", name, value);
    }
    vs_ctx_send_text(ctx, 200, body);
}

static void fixed(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vs_ctx_send_text(ctx, 200, "fixed body");
}

/* One loop thread, a 5 s shutdown grace. */
static vs_server_t *new_server(void) { return vt_new_server(1, 5000); }

/* Sends a raw request (Connection: close is added) and returns the response. */
static vt_response request(int port, const char *method, const char *path, const char *headers) {
    char req[4096];
    vt_response r;
    VT_CHECK_EQ(vt_format_request(req, sizeof req, method, path, headers), 0);
    VT_CHECK_EQ(vt_request(port, req, &r), 0);
    return r;
}

/* The value of header `name`, or "" when absent (static buffer: one at a time). */
static const char *header_of(const vt_response *r, const char *name) {
    static char buf[1024];
    return vt_header(r, name, buf, sizeof buf) != NULL ? buf : "";
}

/* ---- methods, parameters, HEAD, 404 and 405 ---- */

static void test_routes_for_several_methods(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv);
    static const char *methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"};
    size_t i;
    int port;
    for (i = 0; i < sizeof methods / sizeof methods[0]; ++i) {
        VT_CHECK_EQ(vs_group_route(root, methods[i], "/item", echo_route, NULL, NULL), VS_OK);
    }
    port = vt_start(srv);
    for (i = 0; i < sizeof methods / sizeof methods[0]; ++i) {
        char want[64];
        vt_response r = request(port, methods[i], "/item", "Content-Length: 0\r\n");
        snprintf(want, sizeof want, "%s /item", methods[i]);
        VT_CHECK_EQ(r.status, 200);
        VT_CHECK_STR(r.body, want);
        vt_response_free(&r);
    }
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

static void test_params_one_segment_and_the_rest(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv);
    int port;
    VT_CHECK_EQ(vs_group_route(root, "GET", "/users/:id", echo_params, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/users/:id/posts/:post", echo_params, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/files/*rest", echo_params, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/users/me", echo_route, NULL, NULL), VS_OK);
    port = vt_start(srv);
    vt_expect(port, "GET", "/users/42", 200, "id=42;");
    vt_expect(port, "GET", "/users/j%20d", 200, "id=j d;"); /* decoded */
    vt_expect(port, "GET", "/users/42/posts/7", 200, "id=42;post=7;");
    vt_expect(port, "GET", "/users/me", 200, "GET /users/me"); /* static text wins */
    vt_expect(port, "GET", "/files/a/b/c.txt", 200, "rest=a/b/c.txt;");
    vt_expect(port, "GET", "/files/one", 200, "rest=one;");
    vt_expect(port, "GET", "/users/42/other", 404, NULL);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

static void tag_middleware(vs_ctx_t *ctx, vs_next_t *next, void *ud) {
    vs_ctx_add_header(ctx, "X-Order", (const char *)ud);
    vs_next_call(next);
}

static void test_nested_groups_prefix_and_scope(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv), *api = NULL, *v1 = NULL, *v2 = NULL, *slash = NULL;
    vt_response r;
    int port;
    VT_CHECK_EQ(vs_group_nested(root, "/api", &api), VS_OK);
    VT_CHECK_EQ(vs_group_nested(api, "/v1", &v1), VS_OK);
    VT_CHECK_EQ(vs_group_nested(api, "/v2", &v2), VS_OK);
    VT_CHECK_EQ(vs_group_nested(root, "/", &slash), VS_OK);
    VT_CHECK_STR(vs_group_prefix(root), "");
    VT_CHECK_STR(vs_group_prefix(api), "/api");
    VT_CHECK_STR(vs_group_prefix(v1), "/api/v1");
    VT_CHECK_STR(vs_group_prefix(v2), "/api/v2");
    VT_CHECK_STR(vs_group_prefix(slash), "");
    VT_CHECK(vs_group_prefix(NULL) == NULL);

    VT_CHECK_EQ(vs_group_use(root, tag_middleware, "root", NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(v1, tag_middleware, "v1", NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(api, tag_middleware, "api", NULL), VS_OK); /* after v1's */
    VT_CHECK_EQ(vs_group_route(v1, "GET", "/ping", echo_route, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(v2, "GET", "/ping", echo_route, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/top", echo_route, NULL, NULL), VS_OK);
    port = vt_start(srv);

    r = request(port, "GET", "/api/v1/ping", NULL);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "GET /api/v1/ping");
    /* The server's, then each group's from the outermost in. */
    VT_CHECK_CONTAINS(r.head, "X-Order: root\r\nX-Order: api\r\nX-Order: v1\r\n");
    vt_response_free(&r);

    r = request(port, "GET", "/api/v2/ping", NULL);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "GET /api/v2/ping");
    VT_CHECK_CONTAINS(r.head, "X-Order: root\r\nX-Order: api\r\n");
    VT_CHECK(strstr(r.head, "X-Order: v1") == NULL); /* v1's middleware is v1's only */
    vt_response_free(&r);

    r = request(port, "GET", "/top", NULL);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_CONTAINS(r.head, "X-Order: root\r\n");
    VT_CHECK(strstr(r.head, "X-Order: api") == NULL);
    vt_response_free(&r);

    vt_expect(port, "GET", "/v1/ping", 404, NULL);
    vt_expect(port, "GET", "/api/ping", 404, NULL);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

static void test_nested_group_misuse(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv), *g = NULL;
    VT_CHECK_EQ(vs_group_nested(NULL, "/a", &g), VS_EINVAL);
    VT_CHECK_EQ(vs_group_nested(root, NULL, &g), VS_EINVAL);
    VT_CHECK_EQ(vs_group_nested(root, "/a", NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_group_nested(root, "noslash", &g), VS_EINVAL);
    VT_CHECK_CONTAINS(vs_last_error_message(), "noslash");
    VT_CHECK(g == NULL);
    /* A handle of another type is refused. */
    VT_CHECK_EQ(vs_group_nested((vs_group_t *)(void *)srv, "/a", &g), VS_EINVAL);
    VT_CHECK(vs_group_prefix((vs_group_t *)(void *)srv) == NULL);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

static void head_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vs_ctx_set_header(ctx, "X-Head", "own");
    vs_ctx_send(ctx, 200, NULL, 0, NULL);
}

static void test_head_404_and_405(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv);
    vt_response r;
    int port;
    VT_CHECK_EQ(vs_group_route(root, "GET", "/fixed", fixed, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/own-head", fixed, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "HEAD", "/own-head", head_handler, NULL, NULL), VS_OK);
    port = vt_start(srv);

    /* GET answers HEAD: the same head, no body. */
    r = request(port, "HEAD", "/fixed", NULL);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(header_of(&r, "Content-Length"), "10");
    VT_CHECK_EQ(r.body_len, 0);
    vt_response_free(&r);
    /* ... unless a HEAD route exists. */
    r = request(port, "HEAD", "/own-head", NULL);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(header_of(&r, "X-Head"), "own");
    vt_response_free(&r);
    vt_expect(port, "GET", "/own-head", 200, "fixed body");

    vt_expect(port, "GET", "/nowhere", 404, NULL);
    r = request(port, "DELETE", "/fixed", NULL);
    VT_CHECK_EQ(r.status, 405);
    VT_CHECK_CONTAINS(header_of(&r, "Allow"), "GET");
    VT_CHECK_CONTAINS(header_of(&r, "Allow"), "HEAD");
    vt_response_free(&r);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

/* ---- conflicts, misuse, registration after start ---- */

static void test_conflicts_are_refused_and_named(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv), *api = NULL;
    struct slot first = {"first", 0}, dup = {"dup", 0}, param = {"param", 0},
                nested = {"nested", 0}, other_method = {"post", 0};
    int port;
    VT_CHECK_EQ(vs_group_route(root, "GET", "/dup", answer_slot, &first, free_slot), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/dup", answer_slot, &dup, free_slot), VS_ECONFLICT);
    VT_CHECK_CONTAINS(vs_last_error_message(), "/dup");
    VT_CHECK_EQ(dup.frees, 1);   /* refused: freed at once */
    VT_CHECK_EQ(first.frees, 0); /* kept */

    VT_CHECK_EQ(vs_group_route(root, "GET", "/u/:a", echo_params, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/u/:b/x", answer_slot, &param, free_slot),
                VS_ECONFLICT);
    VT_CHECK_CONTAINS(vs_last_error_message(), "/u/:b/x");
    VT_CHECK_CONTAINS(vs_last_error_message(), ":a");
    VT_CHECK_EQ(param.frees, 1);

    /* A group's route clashing with the same full path at the root. */
    VT_CHECK_EQ(vs_group_route(root, "GET", "/api/x", echo_route, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_nested(root, "/api", &api), VS_OK);
    VT_CHECK_EQ(vs_group_route(api, "GET", "/x", answer_slot, &nested, free_slot), VS_ECONFLICT);
    VT_CHECK_CONTAINS(vs_last_error_message(), "/api/x");
    VT_CHECK_EQ(nested.frees, 1);

    /* Another method on the same pattern is no clash. */
    VT_CHECK_EQ(vs_group_route(root, "POST", "/dup", answer_slot, &other_method, free_slot),
                VS_OK);
    VT_CHECK_STR(vs_last_error_message(), "");

    port = vt_start(srv);
    vt_expect(port, "GET", "/dup", 200, "first");
    vt_expect(port, "GET", "/u/9", 200, "a=9;");
    vt_expect(port, "GET", "/api/x", 200, "GET /api/x");
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(first.frees, 1);
    VT_CHECK_EQ(other_method.frees, 1);
    VT_CHECK_EQ(dup.frees, 1);
    VT_CHECK_EQ(param.frees, 1);
    VT_CHECK_EQ(nested.frees, 1);
}

static void test_null_and_invalid_arguments_free_the_userdata_at_once(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv);
    struct slot s = {"x", 0};
    int expected = 0;
#define REFUSED(call)                     \
    do {                                  \
        VT_CHECK_EQ(call, VS_EINVAL);     \
        VT_CHECK_EQ(s.frees, ++expected); \
    } while (0)
    REFUSED(vs_group_route(NULL, "GET", "/a", answer_slot, &s, free_slot));
    REFUSED(vs_group_route(root, NULL, "/a", answer_slot, &s, free_slot));
    REFUSED(vs_group_route(root, "GET", NULL, answer_slot, &s, free_slot));
    REFUSED(vs_group_route(root, "GET", "/a", NULL, &s, free_slot));
    REFUSED(vs_group_route(root, "", "/a", answer_slot, &s, free_slot));
    REFUSED(vs_group_route(root, "GET", "noslash", answer_slot, &s, free_slot));
    REFUSED(vs_group_route(root, "GE T", "/a", answer_slot, &s, free_slot));
    REFUSED(vs_group_route((vs_group_t *)(void *)srv, "GET", "/a", answer_slot, &s, free_slot));
    REFUSED(vs_group_route_stream(NULL, "POST", "/a", answer_slot, &s, free_slot));
    REFUSED(vs_group_route_stream(root, "POST", "/a", NULL, &s, free_slot));
    REFUSED(vs_group_route_stream(root, NULL, "/a", answer_slot, &s, free_slot));
    REFUSED(vs_group_use(NULL, tag_middleware, &s, free_slot));
    REFUSED(vs_group_use(root, NULL, &s, free_slot));
    REFUSED(vs_group_use_access_log(NULL, 0, NULL, &s, free_slot));
    REFUSED(vs_group_use_recovery(NULL, NULL, &s, free_slot));
    REFUSED(vs_server_set_fallback(srv, NULL, &s, free_slot));
#undef REFUSED
    VT_CHECK_EQ(vs_group_use_request_id(NULL, NULL, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_group_use_request_id(root, "", 1), VS_EINVAL);
    VT_CHECK_EQ(vs_group_use_rate_limit(NULL, 10, 20, 0, NULL, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_group_use_cors(NULL, NULL, NULL, NULL, NULL, 0, -1), VS_EINVAL);
    /* A NULL userdata_free is allowed: nothing to free. */
    VT_CHECK_EQ(vs_group_route(NULL, "GET", "/a", answer_slot, &s, NULL), VS_EINVAL);
    VT_CHECK_EQ(s.frees, expected);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(s.frees, expected); /* nothing of it was kept */
}

static void test_registration_after_start_is_refused(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv), *api = NULL, *late = NULL;
    struct slot s = {"x", 0};
    char *dir = vt_temp_dir();
    int port;
    VT_CHECK_EQ(vs_group_nested(root, "/api", &api), VS_OK);
    VT_CHECK_EQ(vs_group_route(api, "GET", "/ok", echo_route, NULL, NULL), VS_OK);
    port = vt_start(srv);

    VT_CHECK_EQ(vs_group_route(root, "GET", "/late", answer_slot, &s, free_slot), VS_ERUNNING);
    VT_CHECK(vs_last_error_message()[0] != '\0');
    VT_CHECK_EQ(s.frees, 1);
    VT_CHECK_EQ(vs_group_route(api, "GET", "/late", answer_slot, &s, free_slot), VS_ERUNNING);
    VT_CHECK_EQ(s.frees, 2);
    VT_CHECK_EQ(vs_group_route_stream(root, "POST", "/late", answer_slot, &s, free_slot),
                VS_ERUNNING);
    VT_CHECK_EQ(s.frees, 3);
    VT_CHECK_EQ(vs_group_use(root, tag_middleware, &s, free_slot), VS_ERUNNING);
    VT_CHECK_EQ(s.frees, 4);
    VT_CHECK_EQ(vs_group_use_access_log(root, 0, NULL, &s, free_slot), VS_ERUNNING);
    VT_CHECK_EQ(s.frees, 5);
    VT_CHECK_EQ(vs_group_use_recovery(root, NULL, &s, free_slot), VS_ERUNNING);
    VT_CHECK_EQ(s.frees, 6);
    VT_CHECK_EQ(vs_group_nested(root, "/late", &late), VS_ERUNNING);
    VT_CHECK_EQ(vs_group_static(root, "/late", dir, NULL), VS_ERUNNING);
    VT_CHECK_EQ(vs_group_use_request_id(root, NULL, 1), VS_ERUNNING);
    VT_CHECK_EQ(vs_group_use_rate_limit(root, 10, 20, 0, NULL, NULL), VS_ERUNNING);
    VT_CHECK_EQ(vs_group_use_cors(root, NULL, NULL, NULL, NULL, 0, -1), VS_ERUNNING);

    vt_expect(port, "GET", "/late", 404, NULL);
    vt_expect(port, "GET", "/api/ok", 200, "GET /api/ok");
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(s.frees, 6);
    vt_remove_tree(dir);
    free(dir);
}

/* Registered userdata lives as long as the server and is freed exactly once, at its free. */
static void test_userdata_is_freed_once_at_server_free(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv), *g = NULL, *quiet = NULL;
    struct slot a = {"a", 0}, b = {"b", 0}, c = {"c", 0}, mw = {"mw", 0}, st = {"st", 0},
                log = {"log", 0}, rec = {"rec", 0};
    int port;
    VT_CHECK_EQ(vs_group_nested(root, "/g", &g), VS_OK);
    /* With no sink of their own (stderr) they have no use for the userdata, but the contract
     * still says: freed when the server is. */
    VT_CHECK_EQ(vs_group_nested(root, "/quiet", &quiet), VS_OK); /* never requested */
    VT_CHECK_EQ(vs_group_use_access_log(quiet, 0, NULL, &log, free_slot), VS_OK);
    VT_CHECK_EQ(vs_group_use_recovery(quiet, NULL, &rec, free_slot), VS_OK);
    VT_CHECK_EQ(log.frees + rec.frees, 0);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/a", answer_slot, &a, free_slot), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "POST", "/b", answer_slot, &b, free_slot), VS_OK);
    VT_CHECK_EQ(vs_group_route(g, "GET", "/c", answer_slot, &c, free_slot), VS_OK);
    VT_CHECK_EQ(vs_group_use(g, tag_middleware, (void *)"mw", NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use(root, tag_middleware, &mw, free_slot), VS_OK);
    VT_CHECK_EQ(vs_group_route_stream(root, "PUT", "/st", answer_slot, &st, free_slot), VS_OK);
    port = vt_start(srv);
    vt_expect(port, "GET", "/a", 200, "a");
    vt_expect(port, "GET", "/g/c", 200, "c");
    VT_CHECK_EQ(vs_server_stop(srv), VS_OK);
    /* Stopped is not freed: userdata stays until vs_server_free. */
    VT_CHECK_EQ(a.frees + b.frees + c.frees + mw.frees + st.frees + log.frees + rec.frees, 0);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(a.frees, 1);
    VT_CHECK_EQ(b.frees, 1);
    VT_CHECK_EQ(c.frees, 1);
    VT_CHECK_EQ(mw.frees, 1);
    VT_CHECK_EQ(st.frees, 1);
    VT_CHECK_EQ(log.frees, 1);
    VT_CHECK_EQ(rec.frees, 1);
}

/* ---- streaming routes ---- */

static void stream_handler(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vs_ctx_send_text(ctx, 202, "streamed");
}

/* The handler runs on the head alone, before any body byte has been sent. */
static void test_stream_route_runs_before_the_body(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv);
    struct slot s = {"s", 0}, clash = {"clash", 0};
    static const char head[] =
        "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n";
    static const char buffered_head[] =
        "POST /buffered HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\n";
    vt_response r;
    int fd, port;
    VT_CHECK_EQ(vs_group_route_stream(root, "POST", "/upload", stream_handler, &s, free_slot),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "POST", "/upload", answer_slot, &clash, free_slot),
                VS_ECONFLICT);
    VT_CHECK_EQ(clash.frees, 1);
    VT_CHECK_EQ(vs_group_route(root, "POST", "/buffered", answer_slot, &s, NULL), VS_OK);
    port = vt_start(srv);

    fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    VT_CHECK_EQ(vt_roundtrip(fd, head, 10000, &r), 0);
    VT_CHECK_EQ(r.status, 202);
    VT_CHECK_STR(r.body, "streamed");
    vt_response_free(&r);
    close(fd);

    /* A buffered route with the same kind of head waits for the body. (No answer within
     * 300 ms: a slow server can only make this pass, never fail.) */
    fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    VT_CHECK_EQ(vt_send_all(fd, buffered_head, strlen(buffered_head)), 0);
    VT_CHECK_EQ(vt_read_response(fd, 300, &r), -1);
    VT_CHECK_EQ(vt_send_all(fd, "body", 4), 0);
    VT_CHECK_EQ(vt_read_response(fd, 10000, &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "s");
    vt_response_free(&r);
    close(fd);

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(s.frees, 1);
}

/* ---- static directories ---- */

static const char hello_txt[] = "hello, static world\n";

struct tree {
    char *dir;     /* the served root */
    char *outside; /* a directory beside it, the target of a symlink */
};

static void write_in(const char *dir, const char *name, const char *text) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    VT_CHECK_EQ(vt_write_file(path, text, strlen(text)), 0);
}

static void mkdir_in(const char *dir, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    VT_CHECK_EQ(mkdir(path, 0755), 0);
}

static struct tree make_tree(void) {
    struct tree t;
    char target[4096], link[4096];
    t.dir = vt_temp_dir();
    t.outside = vt_temp_dir();
    write_in(t.dir, "hello.txt", hello_txt);
    write_in(t.dir, ".secret", "s3cret");
    mkdir_in(t.dir, "site");
    write_in(t.dir, "site/index.html", "<h1>index</h1>");
    mkdir_in(t.dir, "list");
    write_in(t.dir, "list/a.txt", "a");
    write_in(t.dir, "list/b.txt", "b");
    write_in(t.outside, "target.txt", "outside");
    snprintf(target, sizeof target, "%s/target.txt", t.outside);
    snprintf(link, sizeof link, "%s/link.txt", t.dir);
    VT_CHECK_EQ(symlink(target, link), 0);
    return t;
}

static void free_tree(struct tree *t) {
    vt_remove_tree(t->dir);
    vt_remove_tree(t->outside);
    free(t->dir);
    free(t->outside);
}

static void test_static_serves_a_directory_with_defaults(void) {
    struct tree t = make_tree();
    vs_server_t *srv = new_server();
    vt_response r;
    char want[64];
    int port;
    VT_CHECK_EQ(vs_group_static(vs_server_root(srv), "/s", t.dir, NULL), VS_OK);
    port = vt_start(srv);

    r = request(port, "GET", "/s/hello.txt", NULL);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, hello_txt);
    VT_CHECK_STR(header_of(&r, "Content-Type"), "text/plain; charset=utf-8");
    VT_CHECK_STR(header_of(&r, "Accept-Ranges"), "bytes");
    VT_CHECK(header_of(&r, "ETag")[0] == '"');
    VT_CHECK(header_of(&r, "Last-Modified")[0] != '\0');
    VT_CHECK_STR(header_of(&r, "Cache-Control"), "");
    vt_response_free(&r);

    r = request(port, "GET", "/s/hello.txt", "Range: bytes=0-4\r\n");
    VT_CHECK_EQ(r.status, 206);
    VT_CHECK_STR(r.body, "hello");
    snprintf(want, sizeof want, "bytes 0-4/%u", (unsigned)strlen(hello_txt));
    VT_CHECK_STR(header_of(&r, "Content-Range"), want);
    VT_CHECK_STR(header_of(&r, "Content-Length"), "5");
    vt_response_free(&r);

    r = request(port, "GET", "/s/hello.txt", "Range: bytes=-6\r\n");
    VT_CHECK_EQ(r.status, 206);
    VT_CHECK_STR(r.body, "world\n");
    vt_response_free(&r);

    r = request(port, "GET", "/s/hello.txt", "Range: bytes=1000-2000\r\n");
    VT_CHECK_EQ(r.status, 416);
    snprintf(want, sizeof want, "bytes */%u", (unsigned)strlen(hello_txt));
    VT_CHECK_STR(header_of(&r, "Content-Range"), want);
    vt_response_free(&r);

    r = request(port, "HEAD", "/s/hello.txt", NULL);
    VT_CHECK_EQ(r.status, 200);
    snprintf(want, sizeof want, "%u", (unsigned)strlen(hello_txt));
    VT_CHECK_STR(header_of(&r, "Content-Length"), want);
    VT_CHECK_EQ(r.body_len, 0);
    vt_response_free(&r);

    vt_expect(port, "GET", "/s/missing.txt", 404, NULL);
    vt_expect(port, "GET", "/s/.secret", 404, NULL);         /* dotfiles off */
    vt_expect(port, "GET", "/s/site/", 200, "<h1>index</h1>"); /* index.html */
    vt_expect(port, "GET", "/s/list/", 404, NULL);           /* no index, listing off */
    vt_expect(port, "GET", "/s/link.txt", 404, NULL);        /* leads outside the root */
    vt_expect(port, "GET", "/s/hello.txt/", 404, NULL);

    r = request(port, "GET", "/s/site", NULL);
    VT_CHECK_EQ(r.status, 301);
    VT_CHECK_STR(header_of(&r, "Location"), "/s/site/");
    vt_response_free(&r);

    /* Nothing outside the root, however spelled. */
    r = request(port, "GET", "/s/../hello.txt", NULL); /* is /hello.txt: no route */
    VT_CHECK(r.status == 400 || r.status == 404);
    vt_response_free(&r);
    r = request(port, "GET", "/s/%2e%2e/%2e%2e/%2e%2e/etc/passwd", NULL);
    VT_CHECK(r.status == 400 || r.status == 404);
    vt_response_free(&r);
    r = request(port, "GET", "/s/..%2f..%2fetc%2fpasswd", NULL);
    VT_CHECK(r.status == 400 || r.status == 404);
    vt_response_free(&r);

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    free_tree(&t);
}

static void test_static_options_change_what_is_served(void) {
    struct tree t = make_tree();
    vs_server_t *srv = new_server();
    vs_static_options_t *opts = NULL;
    vt_response r;
    int port;
    VT_CHECK_EQ(vs_static_options_new(&opts), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_listing(opts, 1), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_dotfiles(opts, 1), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_index(opts, ""), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_cache_control(opts, "max-age=60"), VS_OK);
    VT_CHECK_EQ(vs_static_options_add_mime_type(opts, "txt", "text/x-test"), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_symlinks_outside_root(opts, 1), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_limit_rate(opts, 0, 0), VS_OK);
    VT_CHECK_EQ(vs_group_static(vs_server_root(srv), "/l", t.dir, opts), VS_OK);
    /* Copied: changing or freeing the options afterwards changes nothing. */
    VT_CHECK_EQ(vs_static_options_set_listing(opts, 0), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_dotfiles(opts, 0), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_index(opts, "index.html"), VS_OK);
    /* A second mount with another index file. */
    VT_CHECK_EQ(vs_static_options_set_index(opts, "a.txt"), VS_OK);
    VT_CHECK_EQ(vs_group_static(vs_server_root(srv), "/i/", t.dir, opts), VS_OK);
    vs_static_options_free(opts);
    port = vt_start(srv);

    r = request(port, "GET", "/l/hello.txt", NULL);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, hello_txt);
    VT_CHECK_STR(header_of(&r, "Content-Type"), "text/x-test");
    VT_CHECK_STR(header_of(&r, "Cache-Control"), "max-age=60");
    vt_response_free(&r);

    vt_expect(port, "GET", "/l/.secret", 200, "s3cret");
    vt_expect(port, "GET", "/l/link.txt", 200, "outside");

    r = request(port, "GET", "/l/list/", NULL);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_CONTAINS(header_of(&r, "Content-Type"), "text/html");
    VT_CHECK_CONTAINS(r.body, "a.txt");
    VT_CHECK_CONTAINS(r.body, "b.txt");
    vt_response_free(&r);

    r = request(port, "GET", "/l/site/", NULL); /* index "": the listing, not the index */
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_CONTAINS(r.body, "index.html");
    VT_CHECK(strstr(r.body, "<h1>index</h1>") == NULL);
    vt_response_free(&r);

    vt_expect(port, "GET", "/i/list/", 200, "a"); /* index file a.txt */
    vt_expect(port, "GET", "/i/site/", 404, NULL); /* no a.txt there, listing off */
    vt_expect(port, "GET", "/i/.secret", 404, NULL);

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    free_tree(&t);
}

static void test_static_options_refuse_invalid_values(void) {
    vs_static_options_t *opts = NULL;
    VT_CHECK_EQ(vs_static_options_new(NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_new(&opts), VS_OK);
    VT_CHECK(opts != NULL);

    VT_CHECK_EQ(vs_static_options_set_index(opts, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_set_index(opts, "sub/index.html"), VS_EINVAL);
    VT_CHECK(vs_last_error_message()[0] != '\0');
    VT_CHECK_EQ(vs_static_options_add_mime_type(opts, "", "video/mp4"), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_add_mime_type(opts, NULL, "video/mp4"), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_add_mime_type(opts, "mp4", ""), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_add_mime_type(opts, "mp4", NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_add_mime_type(opts, "mkv", "video/webm"), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_cache_control(opts, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_set_cache_control(opts, "max-age=1\r\nX-Injected: 1"),
                VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_set_cache_control(opts, "a\nb"), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_set_cache_control(opts, ""), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_limit_rate(opts, 1000000, 65536), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_listing(opts, 7), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_dotfiles(opts, 0), VS_OK);
    VT_CHECK_EQ(vs_static_options_set_symlinks_outside_root(opts, 0), VS_OK);

    VT_CHECK_EQ(vs_static_options_set_index(NULL, "i.html"), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_set_listing(NULL, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_set_dotfiles(NULL, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_set_symlinks_outside_root(NULL, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_add_mime_type(NULL, "mkv", "video/webm"), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_set_limit_rate(NULL, 1, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_static_options_set_cache_control(NULL, ""), VS_EINVAL);
    vs_static_options_free(opts);
    vs_static_options_free(NULL);
}

static void test_static_root_must_be_a_directory(void) {
    struct tree t = make_tree();
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv);
    char file[4096], missing[4096];
    snprintf(file, sizeof file, "%s/hello.txt", t.dir);
    snprintf(missing, sizeof missing, "%s/no-such-dir", t.dir);
    VT_CHECK_EQ(vs_group_static(root, "/f", file, NULL), VS_EINVAL);
    VT_CHECK_CONTAINS(vs_last_error_message(), file);
    VT_CHECK_EQ(vs_group_static(root, "/m", missing, NULL), VS_EINVAL);
    VT_CHECK_CONTAINS(vs_last_error_message(), missing);
    VT_CHECK_EQ(vs_group_static(root, "/n", NULL, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_group_static(root, NULL, t.dir, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_group_static(NULL, "/n", t.dir, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_group_static(root, "/w", t.dir, (vs_static_options_t *)(void *)srv),
                VS_EINVAL);
    /* The refusals registered nothing: the prefix is still free. */
    VT_CHECK_EQ(vs_group_static(root, "/f", t.dir, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_static(root, "/f", t.dir, NULL), VS_ECONFLICT);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    free_tree(&t);
}

/* ---- built-in middleware ---- */

/* Lines from the access log, collected on the log's thread. */
struct log_lines {
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    char lines[32][1024];
    int count;
    int bad_length;   /* a line whose len did not match its text, or ended in '\n' */
    int on_main;      /* a line delivered on the test's thread */
    int frees;
};

static void log_init(struct log_lines *l) {
    memset(l, 0, sizeof *l);
    VT_CHECK_EQ(pthread_mutex_init(&l->mutex, NULL), 0);
    VT_CHECK_EQ(pthread_cond_init(&l->changed, NULL), 0);
}

static void log_destroy(struct log_lines *l) {
    pthread_mutex_destroy(&l->mutex);
    pthread_cond_destroy(&l->changed);
}

static void log_sink(const char *line, size_t len, void *ud) {
    struct log_lines *l = ud;
    pthread_mutex_lock(&l->mutex);
    if (strlen(line) != len || (len > 0 && line[len - 1] == '\n')) l->bad_length++;
    if (pthread_equal(pthread_self(), main_thread)) l->on_main++;
    if (l->count < 32) snprintf(l->lines[l->count], sizeof l->lines[0], "%s", line);
    l->count++;
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->mutex);
}

static void log_free(void *ud) {
    struct log_lines *l = ud;
    pthread_mutex_lock(&l->mutex);
    l->frees++;
    pthread_mutex_unlock(&l->mutex);
}

/* Waits (10 s at most) for a line holding `needle`; copies it into out. 1 if found. */
static int wait_line(struct log_lines *l, const char *needle, char *out, size_t size) {
    struct timespec deadline;
    int found = 0, i, rc = 0;
    vt_deadline_in(&deadline, 10000);
    pthread_mutex_lock(&l->mutex);
    while (!found && rc == 0) {
        for (i = 0; i < l->count && i < 32; ++i) {
            if (strstr(l->lines[i], needle) != NULL) {
                snprintf(out, size, "%s", l->lines[i]);
                found = 1;
                break;
            }
        }
        if (!found) rc = pthread_cond_timedwait(&l->changed, &l->mutex, &deadline);
    }
    pthread_mutex_unlock(&l->mutex);
    return found;
}

static void test_access_log_writes_one_line_per_request_to_the_sink(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv);
    struct log_lines log;
    char line[1024];
    int port;
    log_init(&log);
    VT_CHECK_EQ(vs_group_use_access_log(root, 16, log_sink, &log, log_free), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/logged/:id", fixed, NULL, NULL), VS_OK);
    port = vt_start(srv);

    vt_expect(port, "GET", "/logged/7", 200, "fixed body");
    VT_CHECK(wait_line(&log, "\"path\":\"/logged/7\"", line, sizeof line));
    VT_CHECK_CONTAINS(line, "\"method\":\"GET\"");
    VT_CHECK_CONTAINS(line, "\"route\":\"/logged/:id\"");
    VT_CHECK_CONTAINS(line, "\"status\":200");
    VT_CHECK_CONTAINS(line, "\"bytes\":10");
    VT_CHECK_CONTAINS(line, "\"client\":\"127.0.0.1\"");
    VT_CHECK(line[0] == '{');

    /* On the root, it sees unmatched requests too. */
    vt_expect(port, "GET", "/unrouted", 404, NULL);
    VT_CHECK(wait_line(&log, "\"path\":\"/unrouted\"", line, sizeof line));
    VT_CHECK_CONTAINS(line, "\"status\":404");

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    pthread_mutex_lock(&log.mutex);
    VT_CHECK_EQ(log.frees, 1);
    VT_CHECK_EQ(log.bad_length, 0);
    VT_CHECK_EQ(log.on_main, 0);
    pthread_mutex_unlock(&log.mutex);
    log_destroy(&log);
}

static void ids_handler(vs_ctx_t *ctx, void *ud) {
    char body[512];
    size_t rid_len = 99, tid_len = 99;
    const char *rid = vs_ctx_request_id(ctx, &rid_len);
    const char *tid = vs_ctx_trace_id(ctx, &tid_len);
    (void)ud;
    snprintf(body, sizeof body, "%s|%s|%u|%u", rid, tid, (unsigned)rid_len, (unsigned)tid_len);
    vs_ctx_send_text(ctx, 200, body);
}

static int is_lower_hex(const char *s, size_t n) {
    size_t i;
    for (i = 0; i < n; ++i) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    }
    return 1;
}

static void test_request_id_is_made_echoed_and_seen_by_the_handler(void) {
    vs_server_t *srv = new_server(), *untrusting = new_server(), *custom = new_server(),
                *none = new_server();
    vt_response r;
    char rid[256], tid[256];
    unsigned rlen = 0, tlen = 0;
    int port, port2, port3, port4;
    VT_CHECK_EQ(vs_group_use_request_id(vs_server_root(srv), NULL, 1), VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/ids", ids_handler, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use_request_id(vs_server_root(untrusting), NULL, 0), VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(untrusting), "GET", "/ids", ids_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_use_request_id(vs_server_root(custom), "X-Correlation-ID", 1), VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(custom), "GET", "/ids", ids_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(none), "GET", "/ids", ids_handler, NULL, NULL),
                VS_OK);
    port = vt_start(srv);
    port2 = vt_start(untrusting);
    port3 = vt_start(custom);
    port4 = vt_start(none);

    /* Made here: the handler sees it, and it is echoed. */
    r = request(port, "GET", "/ids", NULL);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_EQ(sscanf(r.body, "%255[^|]|%255[^|]|%u|%u", rid, tid, &rlen, &tlen), 4);
    VT_CHECK(rlen > 0 && rlen == strlen(rid));
    VT_CHECK_EQ(tlen, 32);
    VT_CHECK_EQ(strlen(tid), 32);
    VT_CHECK(is_lower_hex(tid, 32));
    VT_CHECK_STR(header_of(&r, "X-Request-ID"), rid);
    VT_CHECK_CONTAINS(header_of(&r, "traceparent"), tid);
    vt_response_free(&r);

    /* A well-formed incoming id is kept when trusted... */
    r = request(port, "GET", "/ids", "X-Request-ID: abc-123.x\r\n");
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_EQ(strncmp(r.body, "abc-123.x|", 10), 0);
    VT_CHECK_STR(header_of(&r, "X-Request-ID"), "abc-123.x");
    vt_response_free(&r);
    /* ... a malformed one is replaced ... */
    r = request(port, "GET", "/ids", "X-Request-ID: bad id!\r\n");
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK(strcmp(header_of(&r, "X-Request-ID"), "bad id!") != 0);
    VT_CHECK(header_of(&r, "X-Request-ID")[0] != '\0');
    vt_response_free(&r);
    /* ... and with trust off, every id is made here. */
    r = request(port2, "GET", "/ids", "X-Request-ID: abc-123.x\r\n");
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK(strcmp(header_of(&r, "X-Request-ID"), "abc-123.x") != 0);
    VT_CHECK(header_of(&r, "X-Request-ID")[0] != '\0');
    vt_response_free(&r);

    /* Another header name. */
    r = request(port3, "GET", "/ids", "X-Correlation-ID: corr-1\r\n");
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(header_of(&r, "X-Correlation-ID"), "corr-1");
    VT_CHECK_EQ(strncmp(r.body, "corr-1|", 7), 0);
    vt_response_free(&r);

    /* Without the middleware both ids are "". */
    vt_expect(port4, "GET", "/ids", 200, "||0|0");

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(vs_server_free(untrusting), VS_OK);
    VT_CHECK_EQ(vs_server_free(custom), VS_OK);
    VT_CHECK_EQ(vs_server_free(none), VS_OK);
}

static void test_recovery_leaves_normal_requests_alone(void) {
    vs_server_t *srv = new_server(), *quiet = new_server();
    struct log_lines log;
    vt_response r;
    int port;
    log_init(&log);
    VT_CHECK_EQ(vs_group_use_recovery(vs_server_root(srv), log_sink, &log, log_free), VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/fine", fixed, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use_recovery(vs_server_root(quiet), NULL, NULL, NULL), VS_OK);
    port = vt_start(srv);
    r = request(port, "GET", "/fine", NULL);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "fixed body");
    VT_CHECK_STR(header_of(&r, "Content-Type"), "text/plain; charset=utf-8");
    vt_response_free(&r);
    vt_expect(port, "GET", "/missing", 404, NULL);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(vs_server_free(quiet), VS_OK);
    VT_CHECK_EQ(log.frees, 1);
    VT_CHECK_EQ(log.count, 0); /* nothing failed, so nothing was logged */
    log_destroy(&log);
}

static void test_rate_limit_answers_429_past_the_burst(void) {
    vs_server_t *srv = new_server();
    vs_group_t *root = vs_server_root(srv), *limited = NULL;
    vt_response r;
    int port;
    VT_CHECK_EQ(vs_group_nested(root, "/limited", &limited), VS_OK);
    VT_CHECK_EQ(vs_group_use_rate_limit(limited, 0.001, 2, 0, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(limited, "GET", "/x", fixed, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(root, "GET", "/free", fixed, NULL, NULL), VS_OK);

    VT_CHECK_EQ(vs_group_use_rate_limit(root, 0, 2, 0, NULL, NULL), VS_EINVAL);
    VT_CHECK(vs_last_error_message()[0] != '\0');
    VT_CHECK_EQ(vs_group_use_rate_limit(root, -1, 2, 0, NULL, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_group_use_rate_limit(root, NAN, 2, 0, NULL, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_group_use_rate_limit(root, 10, 0.5, 0, NULL, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_group_use_rate_limit(root, 10, 0, 0, NULL, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_group_use_rate_limit(root, 10, NAN, 0, NULL, NULL), VS_EINVAL);
    port = vt_start(srv);

    vt_expect(port, "GET", "/limited/x", 200, "fixed body");
    vt_expect(port, "GET", "/limited/x", 200, "fixed body");
    r = request(port, "GET", "/limited/x", NULL);
    VT_CHECK_EQ(r.status, 429);
    VT_CHECK(atoi(header_of(&r, "Retry-After")) >= 1);
    VT_CHECK_CONTAINS(r.body, "too many requests");
    vt_response_free(&r);
    /* Only the group is limited; the refused registrations added nothing on the root. */
    vt_expect(port, "GET", "/free", 200, "fixed body");
    vt_expect(port, "GET", "/free", 200, "fixed body");
    vt_expect(port, "GET", "/free", 200, "fixed body");
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

static void test_cors_answers_preflights_for_allowed_origins_only(void) {
    vs_server_t *srv = new_server(), *any = new_server();
    vt_response r;
    int port, port2;
    VT_CHECK_EQ(vs_group_use_cors(vs_server_root(srv), "https://ok.example, https://b.example",
                                  NULL, NULL, NULL, 0, -1),
                VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/c", fixed, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_use_cors(vs_server_root(any), NULL, "GET", NULL, NULL, 0, 60), VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(any), "GET", "/c", fixed, NULL, NULL), VS_OK);
    port = vt_start(srv);
    port2 = vt_start(any);

    r = request(port, "OPTIONS", "/c",
                "Origin: https://ok.example\r\nAccess-Control-Request-Method: GET\r\n");
    VT_CHECK_EQ(r.status, 204);
    VT_CHECK_STR(header_of(&r, "Access-Control-Allow-Origin"), "https://ok.example");
    VT_CHECK_CONTAINS(header_of(&r, "Access-Control-Allow-Methods"), "GET");
    VT_CHECK_STR(header_of(&r, "Access-Control-Max-Age"), "600");
    vt_response_free(&r);

    r = request(port, "GET", "/c", "Origin: https://b.example\r\n");
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "fixed body");
    VT_CHECK_STR(header_of(&r, "Access-Control-Allow-Origin"), "https://b.example");
    VT_CHECK_CONTAINS(header_of(&r, "Access-Control-Expose-Headers"), "X-Request-ID");
    vt_response_free(&r);

    /* A disallowed origin gets the response without any CORS header. */
    r = request(port, "GET", "/c", "Origin: https://evil.example\r\n");
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "fixed body");
    VT_CHECK(strstr(r.head, "Access-Control-Allow-Origin") == NULL);
    vt_response_free(&r);
    r = request(port, "OPTIONS", "/c",
                "Origin: https://evil.example\r\nAccess-Control-Request-Method: GET\r\n");
    VT_CHECK_EQ(r.status, 403);
    VT_CHECK(strstr(r.head, "Access-Control-Allow-Origin") == NULL);
    vt_response_free(&r);

    /* Defaults: any origin ("*"); here only GET may be asked for, cached 60 s. */
    r = request(port2, "OPTIONS", "/c",
                "Origin: https://x.example\r\nAccess-Control-Request-Method: GET\r\n");
    VT_CHECK_EQ(r.status, 204);
    VT_CHECK_STR(header_of(&r, "Access-Control-Allow-Origin"), "*");
    VT_CHECK_STR(header_of(&r, "Access-Control-Max-Age"), "60");
    vt_response_free(&r);
    r = request(port2, "OPTIONS", "/c",
                "Origin: https://x.example\r\nAccess-Control-Request-Method: DELETE\r\n");
    VT_CHECK_EQ(r.status, 403);
    vt_response_free(&r);

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(vs_server_free(any), VS_OK);
}

int main(void) {
    main_thread = pthread_self();
    test_routes_for_several_methods();
    test_params_one_segment_and_the_rest();
    test_nested_groups_prefix_and_scope();
    test_nested_group_misuse();
    test_head_404_and_405();
    test_conflicts_are_refused_and_named();
    test_null_and_invalid_arguments_free_the_userdata_at_once();
    test_registration_after_start_is_refused();
    test_userdata_is_freed_once_at_server_free();
    test_stream_route_runs_before_the_body();
    test_static_serves_a_directory_with_defaults();
    test_static_options_change_what_is_served();
    test_static_options_refuse_invalid_values();
    test_static_root_must_be_a_directory();
    test_access_log_writes_one_line_per_request_to_the_sink();
    test_request_id_is_made_echoed_and_seen_by_the_handler();
    test_recovery_leaves_normal_requests_alone();
    test_rate_limit_answers_429_past_the_burst();
    test_cors_answers_preflights_for_allowed_origins_only();
    printf("test_route: ok\n");
    return 0;
}
