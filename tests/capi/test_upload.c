/* Tests uploads through the C API (vs_ctx_receive_upload, vs_upload_options_*,
 * vs_upload_result_* in capi/upload.cpp) against the contract in capi/vstream.h: raw bodies
 * and multipart/form-data stored byte-exact with their SHA-256, the result as the done
 * callback sees it, a taken name, max_bytes, missing or bad options, and no file left behind
 * by a failure. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"
#include "test_server.h"
#include "test_sync.h"

#include <dirent.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SHA-256 test vectors (FIPS 180-2): "abc" and the empty string. */
#define SHA256_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* ---- files ---- */

/* Whether the file at `path` holds exactly `len` bytes of `data`. */
static int file_is(const char *path, const char *data, size_t len) {
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    int same;
    if (f == NULL) return 0;
    buf = malloc(len + 1);
    VT_CHECK(buf != NULL);
    n = fread(buf, 1, len + 1, f);
    fclose(f);
    same = n == len && memcmp(buf, data, len) == 0;
    free(buf);
    return same;
}

/* The lowercase hex SHA-256 of the file at `path`, from sha256sum(1), into out[65]. */
static void sha256_of_file(const char *path, char *out) {
    char cmd[4200];
    FILE *p;
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    p = popen(cmd, "r");
    VT_CHECK(p != NULL);
    VT_CHECK(fgets(out, 65, p) != NULL);
    out[64] = '\0';
    VT_CHECK_EQ(pclose(p), 0);
    VT_CHECK_EQ(strlen(out), 64);
}

/* How many entries (besides . and ..) the directory holds, temporary files included. */
static int entries_in(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    VT_CHECK(d != NULL);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) ++n;
    }
    closedir(d);
    return n;
}

/* A fresh directory below the test's own. */
static char *base_dir;
static int dir_serial;

static char *new_dir(void) {
    char *path = malloc(4096);
    VT_CHECK(path != NULL);
    snprintf(path, 4096, "%s/d%d", base_dir, ++dir_serial);
    VT_CHECK_EQ(mkdir(path, 0700), 0);
    return path;
}

/* ---- what the next upload request is to do ---- */

typedef struct {
    const char *dir; /* NULL: no directory in the options */
    const char *name;
    int overwrite;
    uint64_t max_bytes;
    int use_done;
    int null_options;
} upload_case;

static upload_case current;
static int receive_rc, handler_runs, ud_frees, ud_freed_during_call;
static int ud_token = 5;

static void set_case(upload_case c) {
    vt_lock();
    current = c;
    receive_rc = 1;
    vt_unlock();
}

static void count_ud_free(void *p) {
    VT_CHECK(p == &ud_token);
    vt_bump(&ud_frees);
}

/* ---- the done callback: a copy of what it saw ---- */

#define MAX_FILES 4

typedef struct {
    int runs;
    size_t file_count, field_count;
    char text[MAX_FILES][6][256]; /* per file: VS_UPLOAD_FIELD .. VS_UPLOAD_SHA256 */
    uint64_t size[MAX_FILES];
    char field_name[2][64], field_value[2][64];
    int field_rc[3];
    char json[4096];
    int past_end_null, past_end_size, bad_what_null, on_loop;
} seen_result;

static seen_result seen;
static pthread_t loop_thread;

/* The start of a test: no userdata freed yet, nothing seen by done, then set_case(c). */
static void fresh_case(upload_case c) {
    vt_store(&ud_frees, 0);
    vt_lock();
    memset(&seen, 0, sizeof seen);
    vt_unlock();
    set_case(c);
}

static void done(vs_ctx_t *ctx, const vs_upload_result_t *result, void *ud) {
    size_t i;
    int what;
    const char *json;
    VT_CHECK(ud == &ud_token);
    vt_lock();
    seen.file_count = vs_upload_result_file_count(result);
    for (i = 0; i < seen.file_count && i < MAX_FILES; ++i) {
        for (what = VS_UPLOAD_FIELD; what <= VS_UPLOAD_SHA256; ++what) {
            const char *t = vs_upload_result_file(result, i, what);
            VT_CHECK(t != NULL);
            snprintf(seen.text[i][what - 1], sizeof seen.text[i][what - 1], "%s", t);
        }
        seen.size[i] = vs_upload_result_file_size(result, i);
    }
    seen.past_end_null = vs_upload_result_file(result, seen.file_count, VS_UPLOAD_NAME) == NULL;
    seen.past_end_size = (int)vs_upload_result_file_size(result, seen.file_count);
    seen.bad_what_null = vs_upload_result_file(result, 0, 0) == NULL &&
                         vs_upload_result_file(result, 0, 7) == NULL;
    seen.field_count = vs_upload_result_field_count(result);
    for (i = 0; i < 3; ++i) {
        const char *name = NULL, *value = NULL;
        seen.field_rc[i] = vs_upload_result_field(result, i, &name, &value);
        if (seen.field_rc[i] == VS_OK && i < 2) {
            snprintf(seen.field_name[i], sizeof seen.field_name[i], "%s", name);
            snprintf(seen.field_value[i], sizeof seen.field_value[i], "%s", value);
        }
    }
    json = vs_upload_result_json(result);
    VT_CHECK(json != NULL);
    VT_CHECK(json == vs_upload_result_json(result)); /* the result's, made once */
    snprintf(seen.json, sizeof seen.json, "%s", json);
    seen.on_loop = pthread_equal(loop_thread, pthread_self());
    ++seen.runs;
    vt_broadcast();
    vt_unlock();
    VT_CHECK_EQ(vs_ctx_set_header(ctx, "X-Done", "yes"), VS_OK);
    VT_CHECK_EQ(vs_ctx_send_json(ctx, 200, json), VS_OK);
}

static void upload_handler(vs_ctx_t *ctx, void *ud) {
    vs_upload_options_t *o = NULL;
    upload_case c;
    int rc, frees_before;
    (void)ud;
    vt_lock();
    c = current;
    loop_thread = pthread_self();
    vt_unlock();
    VT_CHECK_EQ(vs_upload_options_new(&o), VS_OK);
    if (c.dir != NULL) VT_CHECK_EQ(vs_upload_options_set_dir(o, c.dir), VS_OK);
    if (c.name != NULL) VT_CHECK_EQ(vs_upload_options_set_name(o, c.name), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_overwrite(o, c.overwrite), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_max_bytes(o, c.max_bytes), VS_OK);
    frees_before = vt_load(&ud_frees);
    rc = vs_ctx_receive_upload(ctx, c.null_options ? NULL : o, c.use_done ? done : NULL,
                               &ud_token, count_ud_free);
    vs_upload_options_free(o); /* copied */
    vt_store(&ud_freed_during_call, vt_load(&ud_frees) - frees_before);
    vt_store(&receive_rc, rc);
    vt_bump(&handler_runs);
    if (rc != VS_OK) VT_CHECK_EQ(vs_ctx_send_text(ctx, 500, "receive_upload refused"), VS_OK);
}

/* ---- client ---- */

/* Sends `method target` with `content_type` and `len` bytes; reads the response. */
static void send_body(int port, const char *method, const char *content_type, const char *body,
                      size_t len, vt_response *out) {
    char headers[384], head[512];
    int fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    snprintf(headers, sizeof headers, "Content-Type: %s\r\nContent-Length: %lu\r\n",
             content_type, (unsigned long)len);
    VT_CHECK_EQ(vt_format_request(head, sizeof head, method, "/upload", headers), 0);
    VT_CHECK_EQ(vt_send_all(fd, head, strlen(head)), 0);
    (void)vt_send_all(fd, body, len); /* the server may refuse before taking it all */
    VT_CHECK_EQ(vt_read_closing(fd, out), 0);
}

static void put_raw(int port, const char *body, size_t len, vt_response *out) {
    send_body(port, "PUT", "application/octet-stream", body, len, out);
}

/* ---- cases ---- */

/* A raw PUT with a name, and no done callback: the file holds the exact bytes and the answer
 * is 201 with the result's JSON; the userdata is freed once. */
static void test_raw_put(int port) {
    char *dir = new_dir(), path[4200], digest[65], value[64];
    char *big = vt_random_bytes(300 * 1024 + 5, 1);
    upload_case c = {NULL, "clip.bin", 0, 0, 0, 0};
    vt_response r;
    c.dir = dir;
    fresh_case(c);
    put_raw(port, "abc", 3, &r);
    VT_CHECK_EQ(vt_load(&receive_rc), VS_OK);
    /* Without a done callback the userdata still belongs to the request until it is over. */
    VT_CHECK_EQ(vt_load(&ud_freed_during_call), 0);
    VT_CHECK_EQ(r.status, 201);
    VT_CHECK_STR(vt_header(&r, "Content-Type", value, sizeof value), "application/json");
    VT_CHECK(strstr(r.body, "\"files\"") != NULL);
    VT_CHECK(strstr(r.body, "\"clip.bin\"") != NULL);
    VT_CHECK(strstr(r.body, SHA256_ABC) != NULL);
    VT_CHECK(strstr(r.body, "\"size\":3") != NULL);
    vt_response_free(&r);
    snprintf(path, sizeof path, "%s/clip.bin", dir);
    VT_CHECK(file_is(path, "abc", 3));
    VT_CHECK_EQ(entries_in(dir), 1);
    VT_CHECK_EQ(vt_wait_for(&ud_frees, 1), 1);

    /* A larger body, its digest checked with sha256sum(1); a name is reduced to a basename. */
    c.name = "../../sub/dir/big.bin";
    set_case(c);
    put_raw(port, big, 300 * 1024 + 5, &r);
    VT_CHECK_EQ(r.status, 201);
    snprintf(path, sizeof path, "%s/big.bin", dir);
    VT_CHECK(file_is(path, big, 300 * 1024 + 5));
    sha256_of_file(path, digest);
    VT_CHECK(strstr(r.body, digest) != NULL);
    vt_response_free(&r);
    VT_CHECK_EQ(entries_in(dir), 2);
    VT_CHECK_EQ(vt_wait_for(&ud_frees, 2), 2);

    /* An empty body is a file too. */
    c.name = "empty";
    set_case(c);
    put_raw(port, "", 0, &r);
    VT_CHECK_EQ(r.status, 201);
    VT_CHECK(strstr(r.body, SHA256_EMPTY) != NULL);
    vt_response_free(&r);
    snprintf(path, sizeof path, "%s/empty", dir);
    VT_CHECK(file_is(path, "", 0));
    VT_CHECK_EQ(vt_load(&ud_frees), 3);
    free(big);
    free(dir);
}

/* Builds a multipart/form-data body: a field, then two files. */
static char *multipart_body(const char *file_b, size_t file_b_len, size_t *len) {
    static const char part1[] =
        "--XyZzy42\r\n"
        "Content-Disposition: form-data; name=\"title\"\r\n\r\n"
        "hello world\r\n"
        "--XyZzy42\r\n"
        "Content-Disposition: form-data; name=\"first\"; filename=\"a.txt\"\r\n"
        "Content-Type: text/plain\r\n\r\n"
        "abc\r\n"
        "--XyZzy42\r\n"
        "Content-Disposition: form-data; name=\"second\"; filename=\"b.bin\"\r\n"
        "Content-Type: application/octet-stream\r\n\r\n";
    static const char tail[] = "\r\n--XyZzy42--\r\n";
    char *body = malloc(sizeof part1 + file_b_len + sizeof tail);
    size_t at = 0;
    VT_CHECK(body != NULL);
    memcpy(body, part1, sizeof part1 - 1);
    at += sizeof part1 - 1;
    memcpy(body + at, file_b, file_b_len);
    at += file_b_len;
    memcpy(body + at, tail, sizeof tail - 1);
    at += sizeof tail - 1;
    *len = at;
    return body;
}

/* multipart/form-data with two files and a field: the done callback sees each file's field,
 * file name, stored name, path, content type, SHA-256 and size, the field, and the JSON. */
static void test_multipart_with_done(int port) {
    char *dir = new_dir(), digest[65];
    const size_t b_len = 100 * 1024 + 1;
    char *file_b = vt_random_bytes(b_len, 2), *body;
    upload_case c = {NULL, NULL, 0, 0, 1, 0};
    vt_response r;
    size_t len;
    char value[64];
    c.dir = dir;
    body = multipart_body(file_b, b_len, &len);
    fresh_case(c);
    send_body(port, "POST", "multipart/form-data; boundary=XyZzy42", body, len, &r);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(vt_header(&r, "X-Done", value, sizeof value), "yes");
    VT_CHECK_EQ(vt_load(&seen.runs), 1);
    vt_lock();
    VT_CHECK_STR(r.body, seen.json); /* the callback answered with the result's JSON */
    VT_CHECK_EQ(seen.on_loop, 1);
    VT_CHECK_EQ(seen.file_count, 2);
    VT_CHECK_STR(seen.text[0][VS_UPLOAD_FIELD - 1], "first");
    VT_CHECK_STR(seen.text[0][VS_UPLOAD_FILENAME - 1], "a.txt");
    VT_CHECK_STR(seen.text[0][VS_UPLOAD_CONTENT_TYPE - 1], "text/plain");
    VT_CHECK_STR(seen.text[0][VS_UPLOAD_SHA256 - 1], SHA256_ABC);
    VT_CHECK_EQ(seen.size[0], 3);
    VT_CHECK_STR(seen.text[1][VS_UPLOAD_FIELD - 1], "second");
    VT_CHECK_STR(seen.text[1][VS_UPLOAD_FILENAME - 1], "b.bin");
    VT_CHECK_STR(seen.text[1][VS_UPLOAD_CONTENT_TYPE - 1], "application/octet-stream");
    VT_CHECK_EQ(seen.size[1], b_len);
    VT_CHECK(seen.past_end_null);
    VT_CHECK_EQ(seen.past_end_size, 0);
    VT_CHECK(seen.bad_what_null);
    VT_CHECK_EQ(seen.field_count, 1);
    VT_CHECK_EQ(seen.field_rc[0], VS_OK);
    VT_CHECK_STR(seen.field_name[0], "title");
    VT_CHECK_STR(seen.field_value[0], "hello world");
    VT_CHECK_EQ(seen.field_rc[1], VS_ENOENT);
    VT_CHECK_EQ(seen.field_rc[2], VS_ENOENT);
    VT_CHECK(strstr(seen.json, "\"title\":\"hello world\"") != NULL);
    VT_CHECK(strstr(seen.json, SHA256_ABC) != NULL);
    /* The files are where the result says, byte-exact, named as it says. */
    {
        char want_path[4200];
        snprintf(want_path, sizeof want_path, "%s/%s", dir, seen.text[0][VS_UPLOAD_NAME - 1]);
        VT_CHECK_STR(seen.text[0][VS_UPLOAD_PATH - 1], want_path);
        VT_CHECK(file_is(seen.text[0][VS_UPLOAD_PATH - 1], "abc", 3));
        VT_CHECK(file_is(seen.text[1][VS_UPLOAD_PATH - 1], file_b, b_len));
        sha256_of_file(seen.text[1][VS_UPLOAD_PATH - 1], digest);
        VT_CHECK_STR(seen.text[1][VS_UPLOAD_SHA256 - 1], digest);
        VT_CHECK(strstr(seen.json, digest) != NULL);
    }
    vt_unlock();
    vt_response_free(&r);
    VT_CHECK_EQ(entries_in(dir), 2);
    VT_CHECK_EQ(vt_wait_for(&ud_frees, 1), 1);
    free(body);
    free(file_b);
    free(dir);
}

/* A taken name gets 409 and leaves the original intact; with overwrite it is replaced. */
static void test_taken_name_gets_409(int port) {
    char *dir = new_dir(), path[4200];
    upload_case c = {NULL, "taken.txt", 0, 0, 0, 0};
    vt_response r;
    c.dir = dir;
    snprintf(path, sizeof path, "%s/taken.txt", dir);
    set_case(c);
    put_raw(port, "original", 8, &r);
    VT_CHECK_EQ(r.status, 201);
    vt_response_free(&r);
    put_raw(port, "intruder", 8, &r);
    VT_CHECK_EQ(r.status, 409);
    VT_CHECK(strstr(r.body, "\"error\"") != NULL);
    vt_response_free(&r);
    VT_CHECK(file_is(path, "original", 8));
    VT_CHECK_EQ(entries_in(dir), 1); /* no temporary file left */

    c.overwrite = 1;
    set_case(c);
    put_raw(port, "replaced", 8, &r);
    VT_CHECK_EQ(r.status, 201);
    vt_response_free(&r);
    VT_CHECK(file_is(path, "replaced", 8));
    VT_CHECK_EQ(entries_in(dir), 1);
    free(dir);
}

/* A body over max_bytes gets 413 (by Content-Length, and as a chunked body grows) and the
 * directory stays empty; exactly max_bytes is stored. */
static void test_max_bytes_gets_413(int port) {
    static const char chunked[] =
        "PUT /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
        "8\r\n01234567\r\n8\r\n89abcdef\r\n8\r\nghijklmn\r\n0\r\n\r\n";
    char *dir = new_dir();
    upload_case c = {NULL, "big", 0, 10, 0, 0};
    vt_response r;
    c.dir = dir;
    fresh_case(c);
    put_raw(port, "0123456789abcdef", 16, &r);
    VT_CHECK_EQ(r.status, 413);
    vt_response_free(&r);
    VT_CHECK_EQ(entries_in(dir), 0);
    VT_CHECK_EQ(vt_request(port, chunked, &r), 0);
    VT_CHECK_EQ(r.status, 413);
    vt_response_free(&r);
    VT_CHECK_EQ(entries_in(dir), 0);
    VT_CHECK_EQ(vt_wait_for(&ud_frees, 2), 2);
    put_raw(port, "0123456789", 10, &r);
    VT_CHECK_EQ(r.status, 201);
    vt_response_free(&r);
    VT_CHECK_EQ(entries_in(dir), 1);
    free(dir);
}

/* Failed uploads leave the directory empty: malformed multipart (400), a client that leaves
 * mid-body, a directory that does not exist (500). */
static void test_failures_leave_no_file(int port) {
    static const char bad_multipart[] = "--XyZzy42\r\nContent-Disposition: form-data; "
                                        "name=\"f\"; filename=\"x\"\r\n\r\nno closing delimiter";
    char *dir = new_dir(), missing[4200], head[256];
    upload_case c = {NULL, NULL, 0, 0, 1, 0};
    vt_response r;
    int fd, runs;
    c.dir = dir;
    fresh_case(c);
    send_body(port, "POST", "multipart/form-data; boundary=XyZzy42", bad_multipart,
              sizeof bad_multipart - 1, &r);
    VT_CHECK_EQ(r.status, 400);
    vt_response_free(&r);
    VT_CHECK_EQ(entries_in(dir), 0);
    VT_CHECK_EQ(vt_load(&seen.runs), 0); /* done never runs for a failure */
    VT_CHECK_EQ(vt_wait_for(&ud_frees, 1), 1);

    /* A client that leaves mid-body. */
    runs = vt_load(&handler_runs);
    c.name = "partial";
    set_case(c);
    fd = vt_connect(port);
    VT_CHECK(fd >= 0);
    snprintf(head, sizeof head,
             "PUT /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n%s", "some");
    VT_CHECK_EQ(vt_send_all(fd, head, strlen(head)), 0);
    VT_CHECK_EQ(vt_wait_for(&handler_runs, runs + 1), runs + 1);
    close(fd);
    VT_CHECK_EQ(vt_wait_for(&ud_frees, 2), 2); /* the upload is over */
    VT_CHECK_EQ(entries_in(dir), 0);
    VT_CHECK_EQ(vt_load(&seen.runs), 0);

    /* A directory that does not exist: 500 with a JSON error. */
    snprintf(missing, sizeof missing, "%s/not-there", dir);
    c.dir = missing;
    c.name = "x";
    set_case(c);
    put_raw(port, "abc", 3, &r);
    VT_CHECK_EQ(r.status, 500);
    VT_CHECK(strstr(r.body, "\"error\"") != NULL);
    vt_response_free(&r);
    VT_CHECK_EQ(entries_in(dir), 0);
    VT_CHECK_EQ(vt_wait_for(&ud_frees, 3), 3);
    free(dir);
}

/* Options without a directory, or NULL options: VS_EINVAL, the userdata freed at once, done
 * never run, and the handler may answer itself. */
static void test_missing_dir_is_einval(int port) {
    upload_case c = {NULL, "x", 0, 0, 1, 0};
    vt_response r;
    vs_upload_options_t *o = NULL;
    fresh_case(c);
    put_raw(port, "abc", 3, &r);
    VT_CHECK_EQ(vt_load(&receive_rc), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&ud_freed_during_call), 1); /* a failed call frees it at once */
    VT_CHECK_EQ(r.status, 500);
    VT_CHECK_STR(r.body, "receive_upload refused");
    vt_response_free(&r);
    VT_CHECK_EQ(vt_load(&ud_frees), 1);

    c.dir = base_dir;
    c.null_options = 1;
    set_case(c);
    put_raw(port, "abc", 3, &r);
    VT_CHECK_EQ(vt_load(&receive_rc), VS_EINVAL);
    VT_CHECK_EQ(r.status, 500);
    vt_response_free(&r);
    VT_CHECK_EQ(vt_load(&ud_frees), 2);
    VT_CHECK_EQ(vt_load(&seen.runs), 0);

    /* A NULL or wrong ctx. */
    VT_CHECK_EQ(vs_upload_options_new(&o), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_dir(o, base_dir), VS_OK);
    VT_CHECK_EQ(vs_ctx_receive_upload(NULL, o, done, &ud_token, count_ud_free), VS_EINVAL);
    VT_CHECK_EQ(vt_load(&ud_frees), 3);
    VT_CHECK_EQ(vs_ctx_receive_upload((vs_ctx_t *)o, o, done, &ud_token, count_ud_free),
                VS_EINVAL);
    VT_CHECK_EQ(vt_load(&ud_frees), 4);
    vs_upload_options_free(o);
}

/* The option setters validate, and refuse NULL or wrong handles. */
static void test_upload_options_setters(void) {
    vs_upload_options_t *o = NULL;
    vs_config_t *cfg = NULL;
    VT_CHECK_EQ(vs_upload_options_new(NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_new(&o), VS_OK);
    VT_CHECK(o != NULL);
    VT_CHECK_EQ(vs_upload_options_set_dir(o, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_dir(o, ""), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_dir(o, "/tmp"), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_name(o, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_name(o, ""), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_overwrite(o, 1), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_max_bytes(o, 0), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_max_bytes(o, UINT64_MAX), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_max_memory(o, 1024), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_max_parts(o, 0), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_max_parts(o, 1), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_max_part_header_bytes(o, 63), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_max_part_header_bytes(o, 64), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_max_part_header_bytes(o, (uint64_t)1 << 30), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_max_part_header_bytes(o, ((uint64_t)1 << 30) + 1),
                VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_timeout(o, 0), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_timeout(o, (uint64_t)1 << 40), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_timeout(o, ((uint64_t)1 << 40) + 1), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_sync(o, 1), VS_OK);
    VT_CHECK(strlen(vs_last_error_message()) == 0); /* the last call succeeded */
    VT_CHECK_EQ(vs_upload_options_set_max_parts(o, 0), VS_EINVAL);
    VT_CHECK(strlen(vs_last_error_message()) > 0); /* a failure says why */

    VT_CHECK_EQ(vs_upload_options_set_dir(NULL, "/tmp"), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_name(NULL, "x"), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_overwrite(NULL, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_max_bytes(NULL, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_max_memory(NULL, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_max_parts(NULL, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_max_part_header_bytes(NULL, 64), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_timeout(NULL, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_upload_options_set_sync(NULL, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    VT_CHECK_EQ(vs_upload_options_set_dir((vs_upload_options_t *)cfg, "/tmp"), VS_EINVAL);
    vs_upload_options_free((vs_upload_options_t *)cfg); /* not upload options: left alone */
    VT_CHECK_EQ(vs_config_set_port(cfg, 0), VS_OK);
    vs_config_free(cfg);
    vs_upload_options_free(o);
    vs_upload_options_free(NULL);
}

/* The result accessors with a NULL result: 0, NULL or VS_EINVAL. */
static void test_null_result(void) {
    const char *name = "n", *value = "v";
    VT_CHECK_EQ(vs_upload_result_file_count(NULL), 0);
    VT_CHECK(vs_upload_result_file(NULL, 0, VS_UPLOAD_NAME) == NULL);
    VT_CHECK_EQ(vs_upload_result_file_size(NULL, 0), 0);
    VT_CHECK_EQ(vs_upload_result_field_count(NULL), 0);
    VT_CHECK_EQ(vs_upload_result_field(NULL, 0, &name, &value), VS_EINVAL);
    VT_CHECK_STR(name, "n");
    VT_CHECK(vs_upload_result_json(NULL) == NULL);
}

int main(void) {
    vs_config_t *cfg;
    vs_server_t *srv;
    vs_group_t *root;
    int port;
    base_dir = vt_temp_dir();
    cfg = vt_test_config(1, 1000);
    VT_CHECK_EQ(vs_config_set_timeout(cfg, VS_TIMEOUT_LINGER, 200), VS_OK);
    srv = vt_server_from(cfg);
    root = vs_server_root(srv);
    VT_CHECK_EQ(vs_group_route_stream(root, "PUT", "/upload", upload_handler, NULL, NULL),
                VS_OK);
    VT_CHECK_EQ(vs_group_route_stream(root, "POST", "/upload", upload_handler, NULL, NULL),
                VS_OK);
    port = vt_start(srv);

    test_raw_put(port);
    test_multipart_with_done(port);
    test_taken_name_gets_409(port);
    test_max_bytes_gets_413(port);
    test_failures_leave_no_file(port);
    test_missing_dir_is_einval(port);
    test_upload_options_setters();
    test_null_result();

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    vt_remove_tree(base_dir);
    free(base_dir);
    printf("test_upload: ok\n");
    return 0;
}
