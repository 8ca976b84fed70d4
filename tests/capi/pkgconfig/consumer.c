/* A C host built the way a user builds one: against the installed <vstream/vstream.h> and
 * libvstream.so, with the flags `pkg-config --cflags --libs vstream` gives (check_pkgconfig.sh).
 * It checks that header and library agree on the version, serves one route on an ephemeral
 * port, asks for it over a loopback socket, and exits 0 when the answer is right. C99. */
#define _POSIX_C_SOURCE 200112L

#include <vstream/vstream.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define BODY "hello from an installed vstream"

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "consumer.c:%d: check failed: %s (%s)\n", __LINE__, #cond, \
                    vs_last_error_message());                                        \
            return 1;                                                                \
        }                                                                            \
    } while (0)

static void hello(vs_ctx_t *ctx, void *userdata) {
    (void)userdata;
    vs_ctx_send_text(ctx, 200, BODY);
}

/* One GET over a fresh connection, read to EOF (Connection: close) into buf; every wait is
 * bounded by a 5 s socket timeout. Returns the bytes read, or -1. */
static long get(int port, const char *path, char *buf, size_t cap) {
    struct sockaddr_in addr;
    struct timeval tv;
    char request[256];
    size_t sent = 0, got = 0;
    int len, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    tv.tv_sec = 5;
    tv.tv_usec = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    len = snprintf(request, sizeof request,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    while (sent < (size_t)len) {
        ssize_t n = write(fd, request + sent, (size_t)len - sent);
        if (n <= 0) {
            close(fd);
            return -1;
        }
        sent += (size_t)n;
    }
    while (got + 1 < cap) {
        ssize_t n = read(fd, buf + got, cap - 1 - got);
        if (n < 0) {
            close(fd);
            return -1;
        }
        if (n == 0) break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    close(fd);
    return (long)got;
}

int main(void) {
    vs_config_t *cfg = NULL;
    vs_server_t *srv = NULL;
    char response[4096];
    const char *body;
    long n;
    int port;

    /* The header compiled against and the library loaded are the same version. */
    CHECK(vs_version() == VS_VERSION_HEX);
    CHECK(strcmp(vs_version_string(), VS_VERSION_STRING) == 0);

    CHECK(vs_config_new(&cfg) == VS_OK);
    CHECK(vs_config_set_port(cfg, 0) == VS_OK);
    CHECK(vs_config_set_threads(cfg, 1) == VS_OK);
    CHECK(vs_server_new(&srv, cfg) == VS_OK);
    vs_config_free(cfg);
    CHECK(vs_group_route(vs_server_root(srv), "GET", "/hello", hello, NULL, NULL) == VS_OK);
    CHECK(vs_server_start(srv) == VS_OK);
    port = vs_server_port(srv);
    CHECK(port > 0);

    n = get(port, "/hello", response, sizeof response);
    CHECK(n > 0);
    CHECK(strncmp(response, "HTTP/1.1 200 ", 13) == 0);
    body = strstr(response, "\r\n\r\n");
    CHECK(body != NULL);
    CHECK(strcmp(body + 4, BODY) == 0);

    CHECK(vs_server_stop(srv) == VS_OK);
    CHECK(vs_server_free(srv) == VS_OK);
    printf("consumer: ok: vstream %s, GET /hello answered on port %d\n", vs_version_string(),
           port);
    return 0;
}
