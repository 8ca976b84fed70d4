/* Test support for the C API suites (see test_server.h). */
#include "test_server.h"

#include "test_http.h"

/* Port 0, the default address, the given threads and grace; each setter checked. */
vs_config_t *vt_test_config(unsigned threads, uint64_t shutdown_grace_ms) {
    vs_config_t *cfg = NULL;
    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    VT_CHECK(cfg != NULL);
    VT_CHECK_EQ(vs_config_set_port(cfg, 0), VS_OK);
    VT_CHECK_EQ(vs_config_set_threads(cfg, threads), VS_OK);
    VT_CHECK_EQ(vs_config_set_timeout(cfg, VS_TIMEOUT_SHUTDOWN_GRACE, shutdown_grace_ms), VS_OK);
    return cfg;
}

/* vs_server_new from `cfg`, then frees `cfg`; exits with the code and message on a refusal. */
vs_server_t *vt_server_from(vs_config_t *cfg) {
    vs_server_t *srv = NULL;
    int rc = vs_server_new(&srv, cfg);
    if (rc != VS_OK || srv == NULL) {
        fprintf(stderr, "%s:%d: vs_server_new failed: %s: %s\n", __FILE__, __LINE__,
                vs_err_name(rc), vs_last_error_message());
        exit(1);
    }
    vs_config_free(cfg);
    return srv;
}

/* A server from vt_test_config(threads, shutdown_grace_ms). */
vs_server_t *vt_new_server(unsigned threads, uint64_t shutdown_grace_ms) {
    return vt_server_from(vt_test_config(threads, shutdown_grace_ms));
}

/* vs_server_start, checked, and the port it listens on, checked to be a real one. */
int vt_start(vs_server_t *srv) {
    int port;
    VT_CHECK_EQ(vs_server_start(srv), VS_OK);
    port = vs_server_port(srv);
    VT_CHECK(port > 0);
    return port;
}
