/* Test support for the C API suites: a blocking loopback HTTP client with a deadline on every
 * wait, request builders, a response parser, temporary files and test data, and minimal
 * assertions. C99. (The lock-protected counters and waits are in test_sync.h.) */
#ifndef VSTREAM_TESTS_CAPI_TEST_HTTP_H
#define VSTREAM_TESTS_CAPI_TEST_HTTP_H

#include <stddef.h>
#include <stdint.h>
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

/* Bytes read from a connection so far: data[0..len) and a NUL after them (data is NULL until
 * the first read; cap is what is allocated). Start from {NULL, 0, 0}. */
typedef struct {
    char *data;
    size_t len, cap;
} vt_buffer;

/* Connects to 127.0.0.1:port; returns the socket, or -1. */
int vt_connect(int port);
/* Sends every byte; 0 on success, -1 if the peer is gone. */
int vt_send_all(int fd, const void *data, size_t len);
/* Waits up to `timeout_ms` for bytes and appends what one read brings to *b. Returns how many
 * bytes it read, 0 if the peer closed (or reset), -1 if the time passed first. */
long vt_buffer_read(int fd, vt_buffer *b, int timeout_ms);
/* Reads into *b until it ends with `suffix`, waiting at most 10 s for each read; 1 if it does,
 * 0 if the peer closed or went silent first. */
int vt_read_until_suffix(int fd, vt_buffer *b, const char *suffix);
/* Frees what a buffer holds and empties it. */
void vt_buffer_free(vt_buffer *b);
/* Reads until the peer closes or `timeout_ms` passes without a byte; returns a malloc'd
 * buffer (NUL-terminated) and its length in *len. */
char *vt_read_all(int fd, int timeout_ms, size_t *len);
/* The first occurrence of C string `needle` in the `hay_len` bytes at `hay` (which may hold
 * NULs, or be NULL when hay_len is 0), or NULL. */
const char *vt_find_bytes(const char *hay, size_t hay_len, const char *needle);
/* Sends `len` raw bytes on a new connection and reads what comes back to the close, within
 * 10 s of silence. Returns the malloc'd bytes (NUL-terminated, length in *out_len), or NULL
 * if it could not connect or send. */
char *vt_exchange(int port, const void *request, size_t len, size_t *out_len);
/* Reads one response to the close on `fd` (10 s of silence at most), closes fd and parses
 * what came. 0 and fills *out, or -1. */
int vt_read_closing(int fd, vt_response *out);
/* vt_request for `len` raw bytes, NULs included. 0 and fills *out, or -1. */
int vt_request_bytes(int port, const void *request, size_t len, vt_response *out);
/* Sends `request` (raw bytes; add "Connection: close") and reads one response to the close,
 * within 10 s. Returns 0 and fills *out, or -1. */
int vt_request(int port, const char *request, vt_response *out);
/* Writes "<method> <target> HTTP/1.1", Host, the `headers` lines (each ending in CRLF; NULL
 * for none), "Connection: close" and the empty line into buf. 0, or -1 if it did not fit. */
int vt_format_request(char *buf, size_t size, const char *method, const char *target,
                      const char *headers);
/* GET `path` with Connection: close. Returns 0 and fills *out, or -1. */
int vt_get(int port, const char *path, vt_response *out);
/* Sends `request` as vt_request does and fails the test, naming the request line, unless the
 * answer has `status` and, if `body` is not NULL, exactly that body. */
void vt_expect_request(int port, const char *request, int status, const char *body);
/* vt_expect_request for `method target` as vt_format_request makes it, without headers. */
void vt_expect(int port, const char *method, const char *target, int status, const char *body);
/* Sends `request` on a connection that stays open and reads exactly its response, as
 * vt_read_response does. 0 and fills *out, or -1 (not sent, timeout, close, malformed). */
int vt_roundtrip(int fd, const char *request, int timeout_ms, vt_response *out);
/* Makes the next close(fd) abort the connection with a reset instead of a FIN. 0 or -1. */
int vt_reset_on_close(int fd);
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
/* `len` pseudo-random bytes, the same for the same seed, in a malloc'd buffer (one byte
 * more, unset, so that len may be 0). */
char *vt_random_bytes(size_t len, uint32_t seed);

#endif
