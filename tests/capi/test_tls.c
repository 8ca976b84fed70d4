/* Tests capi/tls.cpp and the TLS parts of capi/server.cpp and capi/config.cpp: the TLS settings
 * (each rule, set and read back), a server with a plain and a TLS listener answering curl over
 * HTTPS, plain HTTP on the TLS port, the TLS counters, and reloads good and bad. The certificate
 * is made at test time with the openssl command. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"
#include "test_server.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char dir[512];
static char cert[600];
static char key[600];

/* Runs a shell command; returns its exit status and up to `size` bytes of its output. */
static int run(const char *cmd, char *out, size_t size) {
    FILE *p = popen(cmd, "r");
    size_t n = 0;
    VT_CHECK(p != NULL);
    if (out != NULL && size > 0) {
        n = fread(out, 1, size - 1, p);
        out[n] = '\0';
    } else {
        char sink[4096];
        while (fread(sink, 1, sizeof sink, p) > 0) {
        }
    }
    return pclose(p);
}

/* A self-signed certificate for localhost and 127.0.0.1, into `dir`. */
static void make_certificate(void) {
    char cmd[2048];
    char *d = vt_temp_dir();
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
             "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
             "-keyout '%s' -out '%s' 2>&1",
             key, cert);
    VT_CHECK_EQ(run(cmd, NULL, 0), 0);
}

static void hello(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vs_ctx_send_text(ctx, 200, "hello over tls");
}

static uint64_t stat_of(vs_server_t *srv, int stat) {
    uint64_t v = 0;
    VT_CHECK_EQ(vs_server_stat(srv, stat, &v), VS_OK);
    return v;
}

static void test_settings(void) {
    vs_config_t *cfg = NULL;
    uint64_t v = 0;
    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    /* Defaults, as docs/tls.md lists them. */
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, VS_TLS_MIN_VERSION, &v), VS_OK);
    VT_CHECK_EQ(v, 12);
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, VS_TLS_SESSION_CACHE_SIZE, &v), VS_OK);
    VT_CHECK_EQ(v, 20480);
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, VS_TLS_SESSION_TIMEOUT_S, &v), VS_OK);
    VT_CHECK_EQ(v, 300);
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, VS_TLS_SESSION_TICKETS, &v), VS_OK);
    VT_CHECK_EQ(v, 1);
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, VS_TLS_TICKET_KEY_ROTATION_S, &v), VS_OK);
    VT_CHECK_EQ(v, 3600);
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, VS_TLS_REQUIRE_CLIENT_CERT, &v), VS_OK);
    VT_CHECK_EQ(v, 1);
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, VS_TLS_HANDSHAKE_TIMEOUT_MS, &v), VS_OK);
    VT_CHECK_EQ(v, 10000);
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, VS_TLS_MAX_HANDSHAKES, &v), VS_OK);
    VT_CHECK_EQ(v, 1024);

    /* Each rule: in range is kept, out of range refused and the old value kept. */
    VT_CHECK_EQ(vs_config_set_tls_value(cfg, VS_TLS_MIN_VERSION, 13), VS_OK);
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, VS_TLS_MIN_VERSION, &v), VS_OK);
    VT_CHECK_EQ(v, 13);
    VT_CHECK_EQ(vs_config_set_tls_value(cfg, VS_TLS_MIN_VERSION, 11), VS_EINVAL);
    VT_CHECK_CONTAINS(vs_last_error_message(), "VS_TLS_MIN_VERSION");
    VT_CHECK_EQ(vs_config_set_tls_value(cfg, VS_TLS_SESSION_CACHE_SIZE, 0), VS_OK);
    VT_CHECK_EQ(vs_config_set_tls_value(cfg, VS_TLS_SESSION_CACHE_SIZE, (1u << 24) + 1), VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_tls_value(cfg, VS_TLS_SESSION_TIMEOUT_S, 0), VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_tls_value(cfg, VS_TLS_SESSION_TIMEOUT_S, 7 * 24 * 3600 + 1),
                VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_tls_value(cfg, VS_TLS_SESSION_TICKETS, 2), VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_tls_value(cfg, VS_TLS_SESSION_TICKETS, 0), VS_OK);
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, VS_TLS_SESSION_TICKETS, &v), VS_OK);
    VT_CHECK_EQ(v, 0);
    VT_CHECK_EQ(vs_config_set_tls_value(cfg, VS_TLS_HANDSHAKE_TIMEOUT_MS, 0), VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_tls_value(cfg, VS_TLS_HANDSHAKE_TIMEOUT_MS, 2500), VS_OK);
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, VS_TLS_HANDSHAKE_TIMEOUT_MS, &v), VS_OK);
    VT_CHECK_EQ(v, 2500);
    VT_CHECK_EQ(vs_config_set_tls_value(cfg, VS_TLS_MAX_HANDSHAKES, 0), VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_tls_value(cfg, 99, 1), VS_EINVAL);
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, 99, &v), VS_EINVAL);
    VT_CHECK_EQ(vs_config_get_tls_value(cfg, VS_TLS_MIN_VERSION, NULL), VS_EINVAL);

    VT_CHECK_EQ(vs_config_set_tls_text(cfg, VS_TLS_ALPN, "h2,http/1.1"), VS_OK);
    VT_CHECK_EQ(vs_config_set_tls_text(cfg, VS_TLS_ALPN, "h2,,http/1.1"), VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_tls_text(cfg, VS_TLS_ALPN, ""), VS_OK);
    VT_CHECK_EQ(vs_config_set_tls_text(cfg, VS_TLS_CIPHERSUITES, ""), VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_tls_text(cfg, VS_TLS_CIPHERS, "ECDHE-RSA-AES128-GCM-SHA256"), VS_OK);
    VT_CHECK_EQ(vs_config_set_tls_text(cfg, VS_TLS_CLIENT_CA_FILE, ""), VS_OK);
    VT_CHECK_EQ(vs_config_set_tls_text(cfg, 99, "x"), VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_tls_text(cfg, VS_TLS_CIPHERS, NULL), VS_EINVAL);

    VT_CHECK_EQ(vs_config_add_tls_certificate(cfg, "", "k.pem"), VS_EINVAL);
    VT_CHECK_EQ(vs_config_add_tls_certificate(cfg, "c.pem", NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_config_add_tls_certificate(NULL, "c.pem", "k.pem"), VS_EINVAL);
    VT_CHECK_EQ(vs_config_clear_tls_certificates(cfg), VS_OK);
    vs_config_free(cfg);
}

/* A TLS listener needs a certificate; one whose file is missing is refused by vs_server_new. */
static void test_refused_configs(void) {
    vs_config_t *cfg = vt_test_config(1, 1000);
    vs_server_t *srv = NULL;
    VT_CHECK_EQ(vs_config_add_listener(cfg, "127.0.0.1", 0, VS_LISTEN_TLS), VS_OK);
    VT_CHECK_EQ(vs_server_new(&srv, cfg), VS_EINVAL);
    VT_CHECK_CONTAINS(vs_last_error_message(), "certificates");
    VT_CHECK_EQ(vs_config_add_tls_certificate(cfg, "/nonexistent/cert.pem", key), VS_OK);
    VT_CHECK(vs_server_new(&srv, cfg) != VS_OK);
    VT_CHECK_CONTAINS(vs_last_error_message(), "/nonexistent/cert.pem");
    VT_CHECK(srv == NULL);
    vs_config_free(cfg);

    /* No TLS listener: nothing to reload. */
    srv = vt_new_server(1, 1000);
    VT_CHECK_EQ(vs_server_reload_tls(srv, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

static void test_serving(void) {
    vs_config_t *cfg = vt_test_config(1, 1000);
    vs_config_t *bad = NULL;
    vs_server_t *srv;
    vt_response resp;
    char cmd[2048];
    char out[4096];
    char bad_key[700];
    int plain_port;
    int tls_port;
    VT_CHECK_EQ(vs_config_add_listener(cfg, "127.0.0.1", 0, 0), VS_OK);
    VT_CHECK_EQ(vs_config_add_listener(cfg, "127.0.0.1", 0, VS_LISTEN_TLS), VS_OK);
    VT_CHECK_EQ(vs_config_add_tls_certificate(cfg, cert, key), VS_OK);
    srv = vt_server_from(cfg);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/hello", hello, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_server_start(srv), VS_OK);
    plain_port = vs_server_listener_port(srv, 0);
    tls_port = vs_server_listener_port(srv, 1);
    VT_CHECK(plain_port > 0 && tls_port > 0 && plain_port != tls_port);

    /* The plain listener speaks plain HTTP, the TLS one HTTPS, to a real client. */
    vt_expect(plain_port, "GET", "/hello", 200, "hello over tls");
    snprintf(cmd, sizeof cmd, "curl -sS --max-time 10 --cacert '%s' https://localhost:%d/hello",
             cert, tls_port);
    VT_CHECK_EQ(run(cmd, out, sizeof out), 0);
    VT_CHECK_STR(out, "hello over tls");
    VT_CHECK_EQ(stat_of(srv, VS_STAT_TLS_HANDSHAKES), 1);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_TLS_USERSPACE_CONNECTIONS) +
                    stat_of(srv, VS_STAT_TLS_KTLS_CONNECTIONS),
                1);

    /* Plain HTTP on the TLS port: a 400 in plain text, as nginx answers it. */
    VT_CHECK_EQ(vt_request(tls_port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", &resp), 0);
    VT_CHECK_EQ(resp.status, 400);
    VT_CHECK_CONTAINS(resp.body, "plain HTTP request was sent to HTTPS port");
    vt_response_free(&resp);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_TLS_FAILED_PLAIN_HTTP), 1);

    /* Reload from the same files: fine, and HTTPS goes on. */
    VT_CHECK_EQ(vs_server_reload_tls(srv, NULL), VS_OK);
    VT_CHECK_EQ(run(cmd, out, sizeof out), 0);
    VT_CHECK_STR(out, "hello over tls");

    /* Reload with a key that is not PEM: refused, naming the file; the old certificate serves. */
    snprintf(bad_key, sizeof bad_key, "%s/bad-key.pem", dir);
    VT_CHECK_EQ(vt_write_file(bad_key, "not a key\n", 10), 0);
    VT_CHECK_EQ(vs_config_new(&bad), VS_OK);
    VT_CHECK_EQ(vs_config_add_tls_certificate(bad, cert, bad_key), VS_OK);
    VT_CHECK(vs_server_reload_tls(srv, bad) != VS_OK);
    VT_CHECK_CONTAINS(vs_last_error_message(), "bad-key.pem");
    vs_config_free(bad);
    VT_CHECK_EQ(run(cmd, out, sizeof out), 0);
    VT_CHECK_STR(out, "hello over tls");
    VT_CHECK_EQ(stat_of(srv, VS_STAT_TLS_HANDSHAKES), 3);
    VT_CHECK_EQ(stat_of(srv, VS_STAT_TLS_IN_PROGRESS), 0);

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

int main(void) {
    make_certificate();
    test_settings();
    test_refused_configs();
    test_serving();
    vt_remove_tree(dir);
    printf("test_tls: ok\n");
    return 0;
}
