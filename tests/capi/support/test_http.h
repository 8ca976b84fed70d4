/* Test support for the C API suites: a blocking loopback HTTP client with a deadline on every
 * wait, a response parser, and minimal assertions. C99. */
#ifndef VSTREAM_TESTS_CAPI_TEST_HTTP_H
#define VSTREAM_TESTS_CAPI_TEST_HTTP_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

/* Fails the test (exit 1) with the file, line and expression when `cond` is false. */
#define VT_CHECK(cond)                                                                   \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)
/* Fails unless two ints are equal, printing both. */
#define VT_CHECK_EQ(a, b)                                                                \
    do {                                                                                 \
        long long vt_a_ = (long long)(a), vt_b_ = (long long)(b);                        \
        if (vt_a_ != vt_b_) {                                                            \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, \
                    #a, #b, vt_a_, vt_b_);                                               \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

/* One response: status, the head (status line and fields, NUL-terminated) and the body
 * (NUL-terminated as well; body_len excludes the NUL). Chunked bodies are de-chunked. */
typedef struct {
    int status;
    char *head;
    char *body;
    size_t body_len;
} vt_response;

/* Connects to 127.0.0.1:port; returns the socket, or -1. */
int vt_connect(int port);
/* Sends every byte; 0 on success, -1 if the peer is gone. */
int vt_send_all(int fd, const void *data, size_t len);
/* Reads until the peer closes or `timeout_ms` passes; returns a malloc'd buffer (NUL-
 * terminated) and its length in *len. */
char *vt_read_all(int fd, int timeout_ms, size_t *len);
/* Sends `request` (raw bytes; add "Connection: close") and reads one response to the close,
 * within 10 s. Returns 0 and fills *out, or -1. */
int vt_request(int port, const char *request, vt_response *out);
/* GET `path` with Connection: close. Returns 0 and fills *out, or -1. */
int vt_get(int port, const char *path, vt_response *out);
/* The value of the first header `name` (case-insensitive) in resp->head, copied into buf
 * (NUL-terminated); NULL if absent. */
const char *vt_header(const vt_response *resp, const char *name, char *buf, size_t size);
/* Frees what a response holds. */
void vt_response_free(vt_response *resp);
/* Parses a raw response (head and Content-Length, chunked or close-delimited body). 0 or -1. */
int vt_parse_response(const char *raw, size_t len, vt_response *out);
/* Makes a fresh directory under $TMPDIR (or /tmp) and returns its malloc'd path. */
char *vt_temp_dir(void);
/* Removes a directory made by vt_temp_dir and everything in it. */
void vt_remove_tree(const char *path);
/* Writes `len` bytes to a file; 0 or -1. */
int vt_write_file(const char *path, const void *data, size_t len);

#endif
