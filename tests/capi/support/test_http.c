/* Test support for the C API suites (see test_http.h). */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE
#include "test_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int vt_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    if (fd < 0) return -1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int vt_send_all(int fd, const void *data, size_t len) {
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

long vt_buffer_read(int fd, vt_buffer *b, int timeout_ms) {
    for (;;) {
        struct pollfd p;
        ssize_t n;
        int rc;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        rc = poll(&p, 1, timeout_ms);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) return -1; /* timeout */
        if (b->cap - b->len < 65536) {
            b->cap = b->cap * 2 + 65536;
            b->data = realloc(b->data, b->cap + 1);
            VT_CHECK(b->data != NULL);
        }
        n = recv(fd, b->data + b->len, b->cap - b->len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0; /* closed or reset */
        b->len += (size_t)n;
        b->data[b->len] = '\0';
        return (long)n;
    }
}

int vt_read_until_suffix(int fd, vt_buffer *b, const char *suffix) {
    size_t n = strlen(suffix);
    for (;;) {
        if (b->len >= n && memcmp(b->data + b->len - n, suffix, n) == 0) return 1;
        if (vt_buffer_read(fd, b, 10000) <= 0) return 0;
    }
}

void vt_buffer_free(vt_buffer *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

char *vt_read_all(int fd, int timeout_ms, size_t *len) {
    vt_buffer b = {NULL, 0, 0};
    while (vt_buffer_read(fd, &b, timeout_ms) > 0) {
    }
    if (b.data == NULL) {
        b.data = malloc(1);
        VT_CHECK(b.data != NULL);
        b.data[0] = '\0';
    }
    *len = b.len;
    return b.data;
}

const char *vt_find_bytes(const char *hay, size_t hay_len, const char *needle) {
    size_t n = strlen(needle), i;
    if (hay == NULL || n > hay_len) return NULL;
    for (i = 0; i + n <= hay_len; ++i) {
        if (memcmp(hay + i, needle, n) == 0) return hay + i;
    }
    return NULL;
}

static int dechunk(const char *p, size_t len, char **out, size_t *out_len) {
    char *body = malloc(len + 1);
    size_t used = 0;
    const char *end = p + len;
    VT_CHECK(body != NULL);
    for (;;) {
        char *stop;
        unsigned long size;
        const char *line_end = vt_find_bytes(p, (size_t)(end - p), "\r\n");
        if (line_end == NULL) break;
        size = strtoul(p, &stop, 16);
        p = line_end + 2;
        if (size == 0) break;
        if ((size_t)(end - p) < size + 2) {
            free(body);
            return -1;
        }
        memcpy(body + used, p, size);
        used += size;
        p += size + 2;
    }
    body[used] = '\0';
    *out = body;
    *out_len = used;
    return 0;
}

int vt_parse_response(const char *raw, size_t len, vt_response *out) {
    const char *head_end = vt_find_bytes(raw, len, "\r\n\r\n");
    size_t head_len, rest;
    char value[64];
    memset(out, 0, sizeof *out);
    if (head_end == NULL || len < 12 || strncmp(raw, "HTTP/1.", 7) != 0) return -1;
    head_len = (size_t)(head_end - raw) + 2;
    out->head = malloc(head_len + 1);
    VT_CHECK(out->head != NULL);
    memcpy(out->head, raw, head_len);
    out->head[head_len] = '\0';
    out->status = atoi(raw + 9);
    rest = len - (head_len + 2);
    if (vt_header(out, "Transfer-Encoding", value, sizeof value) != NULL &&
        strstr(value, "chunked") != NULL) {
        return dechunk(head_end + 4, rest, &out->body, &out->body_len);
    }
    if (vt_header(out, "Content-Length", value, sizeof value) != NULL) {
        size_t cl = (size_t)strtoull(value, NULL, 10);
        if (cl < rest) rest = cl;
    }
    out->body = malloc(rest + 1);
    VT_CHECK(out->body != NULL);
    memcpy(out->body, head_end + 4, rest);
    out->body[rest] = '\0';
    out->body_len = rest;
    return 0;
}

char *vt_exchange(int port, const void *request, size_t len, size_t *out_len) {
    char *raw;
    int fd = vt_connect(port);
    if (fd < 0) return NULL;
    if (vt_send_all(fd, request, len) != 0) {
        close(fd);
        return NULL;
    }
    raw = vt_read_all(fd, 10000, out_len);
    close(fd);
    return raw;
}

int vt_read_closing(int fd, vt_response *out) {
    size_t len;
    char *raw = vt_read_all(fd, 10000, &len);
    int rc;
    close(fd);
    rc = vt_parse_response(raw, len, out);
    free(raw);
    return rc;
}

int vt_request_bytes(int port, const void *request, size_t len, vt_response *out) {
    size_t raw_len;
    char *raw = vt_exchange(port, request, len, &raw_len);
    int rc;
    if (raw == NULL) return -1;
    rc = vt_parse_response(raw, raw_len, out);
    free(raw);
    return rc;
}

int vt_request(int port, const char *request, vt_response *out) {
    return vt_request_bytes(port, request, strlen(request), out);
}

int vt_format_request(char *buf, size_t size, const char *method, const char *target,
                      const char *headers) {
    int n = snprintf(buf, size, "%s %s HTTP/1.1\r\nHost: t\r\n%sConnection: close\r\n\r\n",
                     method, target, headers != NULL ? headers : "");
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

int vt_get(int port, const char *path, vt_response *out) {
    char req[2048];
    if (vt_format_request(req, sizeof req, "GET", path, NULL) != 0) return -1;
    return vt_request(port, req, out);
}

void vt_expect_request(int port, const char *request, int status, const char *body) {
    vt_response r;
    int line = (int)strcspn(request, "\r\n");
    if (vt_request(port, request, &r) != 0) {
        fprintf(stderr, "vt_expect: no response to \"%.*s\"\n", line, request);
        exit(1);
    }
    if (r.status != status || (body != NULL && strcmp(r.body, body) != 0)) {
        fprintf(stderr, "vt_expect: \"%.*s\" answered %d \"%s\", not %d \"%s\"\n", line, request,
                r.status, r.body, status, body != NULL ? body : "(any body)");
        exit(1);
    }
    vt_response_free(&r);
}

void vt_expect(int port, const char *method, const char *target, int status, const char *body) {
    char req[4096];
    VT_CHECK_EQ(vt_format_request(req, sizeof req, method, target, NULL), 0);
    vt_expect_request(port, req, status, body);
}

int vt_roundtrip(int fd, const char *request, int timeout_ms, vt_response *out) {
    if (vt_send_all(fd, request, strlen(request)) != 0) return -1;
    return vt_read_response(fd, timeout_ms, out);
}

int vt_reset_on_close(int fd) {
    struct linger now;
    now.l_onoff = 1;
    now.l_linger = 0;
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
}

long long vt_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vt_sleep_ms(int ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* How many bytes of `p` (len bytes) a complete chunked body takes, trailers included, or 0
 * while it is incomplete. */
static size_t chunked_length(const char *p, size_t len) {
    size_t pos = 0;
    for (;;) {
        char *stop;
        unsigned long size;
        const char *line_end = vt_find_bytes(p + pos, len - pos, "\r\n");
        if (line_end == NULL) return 0;
        size = strtoul(p + pos, &stop, 16);
        pos = (size_t)(line_end - p) + 2;
        if (size == 0) break;
        if (len - pos < size + 2) return 0;
        pos += size + 2;
    }
    /* Trailer fields, then an empty line. */
    for (;;) {
        const char *line_end = vt_find_bytes(p + pos, len - pos, "\r\n");
        if (line_end == NULL) return 0;
        if (line_end == p + pos) return pos + 2;
        pos = (size_t)(line_end - p) + 2;
    }
}

int vt_read_response(int fd, int timeout_ms, vt_response *out) {
    vt_buffer b = {NULL, 0, 0};
    size_t need = 0;
    int to_close = 0, rc = -1;
    long long deadline = vt_now_ms() + timeout_ms;
    memset(out, 0, sizeof *out);
    for (;;) {
        const char *head_end = vt_find_bytes(b.data, b.len, "\r\n\r\n");
        long long left;
        long n;
        if (head_end != NULL && !to_close) {
            size_t head_len = (size_t)(head_end - b.data) + 4;
            vt_response probe;
            char value[64];
            int status;
            memset(&probe, 0, sizeof probe);
            probe.head = b.data; /* NUL-terminated; vt_header reads only the head */
            status = b.len >= 12 ? atoi(b.data + 9) : 0;
            if ((status >= 100 && status < 200) || status == 204 || status == 304) {
                need = head_len;
            } else if (vt_header(&probe, "Transfer-Encoding", value, sizeof value) != NULL &&
                       strstr(value, "chunked") != NULL) {
                size_t body = chunked_length(b.data + head_len, b.len - head_len);
                need = body == 0 ? 0 : head_len + body;
            } else if (vt_header(&probe, "Content-Length", value, sizeof value) != NULL) {
                need = head_len + (size_t)strtoull(value, NULL, 10);
            } else {
                to_close = 1;
            }
            if (need != 0 && b.len >= need) {
                rc = vt_parse_response(b.data, need, out);
                break;
            }
        }
        left = deadline - vt_now_ms();
        if (left <= 0) break;
        n = vt_buffer_read(fd, &b, (int)left);
        if (n < 0) break; /* timeout */
        if (n == 0) {     /* closed: the end of a close-delimited body */
            if (to_close) rc = vt_parse_response(b.data, b.len, out);
            break;
        }
    }
    vt_buffer_free(&b);
    return rc;
}

int vt_wait_closed(int fd, int timeout_ms) {
    long long deadline = vt_now_ms() + timeout_ms;
    char scratch[4096];
    for (;;) {
        struct pollfd p;
        long long left = deadline - vt_now_ms();
        ssize_t n;
        int pr;
        if (left <= 0) return 0;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        pr = poll(&p, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return 0;
        n = recv(fd, scratch, sizeof scratch, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 1; /* EOF, or a reset */
    }
}

const char *vt_header(const vt_response *resp, const char *name, char *buf, size_t size) {
    const char *line = resp->head == NULL ? NULL : strstr(resp->head, "\r\n");
    size_t n = strlen(name);
    while (line != NULL && line[2] != '\0') {
        const char *start = line + 2;
        const char *eol = strstr(start, "\r\n");
        if (eol == NULL) break;
        if ((size_t)(eol - start) > n && start[n] == ':' && strncasecmp(start, name, n) == 0) {
            const char *v = start + n + 1;
            size_t vlen;
            while (*v == ' ' || *v == '\t') ++v;
            vlen = (size_t)(eol - v);
            if (vlen >= size) vlen = size - 1;
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            return buf;
        }
        line = eol;
    }
    return NULL;
}

void vt_response_free(vt_response *resp) {
    free(resp->head);
    free(resp->body);
    memset(resp, 0, sizeof *resp);
}

char *vt_temp_dir(void) {
    const char *base = getenv("TMPDIR");
    char *path = malloc(4096);
    VT_CHECK(path != NULL);
    snprintf(path, 4096, "%s/vstream-capi-XXXXXX", base != NULL && *base ? base : "/tmp");
    VT_CHECK(mkdtemp(path) != NULL);
    return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void vt_remove_tree(const char *path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

int vt_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    size_t n;
    if (f == NULL) return -1;
    n = fwrite(data, 1, len, f);
    if (fclose(f) != 0 || n != len) return -1;
    return 0;
}

char *vt_random_bytes(size_t len, uint32_t seed) {
    char *p = malloc(len + 1);
    size_t i;
    VT_CHECK(p != NULL);
    for (i = 0; i < len; ++i) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (char)(seed >> 16);
    }
    return p;
}
