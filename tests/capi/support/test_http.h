/* Test support for the C API suites: a blocking loopback HTTP client with a deadline on every
 * wait, a response parser, and minimal assertions. C99. */
#ifndef VSTREAM_TESTS_CAPI_TEST_HTTP_H
#define VSTREAM_TESTS_CAPI_TEST_HTTP_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Fails unless two C strings are equal (a NULL one never is), printing both. */
#define VT_CHECK_STR(a, b)                                                               \
    do {                                                                                 \
        const char *vt_sa_ = (a), *vt_sb_ = (b);                                         \
        if (vt_sa_ == NULL || vt_sb_ == NULL || strcmp(vt_sa_, vt_sb_) != 0) {           \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__,       \
                    __LINE__, #a, #b, vt_sa_ ? vt_sa_ : "(null)", vt_sb_ ? vt_sb_ : "(null)"); \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)
/* Fails unless C string `hay` holds `needle`, printing both. */
#define VT_CHECK_CONTAINS(hay, needle)                                                   \
    do {                                                                                 \
        const char *vt_h_ = (hay), *vt_n_ = (needle);                                    \
        if (vt_h_ == NULL || strstr(vt_h_, vt_n_) == NULL) {                             \
            fprintf(stderr, "%s:%d: %s does not hold \"%s\": \"%s\"\n", __FILE__, __LINE__, \
                    #hay, vt_n_, vt_h_ ? vt_h_ : "(null)");                              \
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
/* Reads exactly one response from a connection that stays open (keep-alive): the head, then
 * the body framed by Content-Length or chunked encoding (none for 1xx, 204 and 304; to the
 * close when neither is given), within `timeout_ms`. Not for responses to HEAD. 0 and fills
 * *out, or -1 (timeout, close too early, malformed). */
int vt_read_response(int fd, int timeout_ms, vt_response *out);
/* Waits up to `timeout_ms` for the peer to close (EOF or reset), discarding what arrives.
 * 1 if it closed, 0 if the deadline passed first. */
int vt_wait_closed(int fd, int timeout_ms);
/* Milliseconds on a monotonic clock, for deadlines. */
long long vt_now_ms(void);
/* Sleeps about `ms` milliseconds: the pause between two checks of a condition that is polled
 * until a deadline (never a wait that a test relies on by itself). */
void vt_sleep_ms(int ms);
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
