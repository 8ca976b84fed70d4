/* Test support for the C API suites: the server every test makes the same way (port 0 on the
 * default loopback address, a given number of loop threads and a given shutdown grace), and
 * starting it. Each failure fails the test, as test_http.h's checks do. C99. */
#ifndef VSTREAM_TESTS_CAPI_TEST_SERVER_H
#define VSTREAM_TESTS_CAPI_TEST_SERVER_H

#include "vstream.h"

#include <stdint.h>

/* A new config for a test server: port 0 (an ephemeral one), the default address (127.0.0.1),
 * `threads` loop threads and a VS_TIMEOUT_SHUTDOWN_GRACE of `shutdown_grace_ms`. Add any other
 * settings to it, then hand it to vt_server_from (or free it with vs_config_free). */
vs_config_t *vt_test_config(unsigned threads, uint64_t shutdown_grace_ms);
/* A new server made from `cfg`, which it frees (the server keeps its own copy); fails the test,
 * with the library's message, if vs_server_new refuses the config. */
vs_server_t *vt_server_from(vs_config_t *cfg);
/* vt_server_from(vt_test_config(threads, shutdown_grace_ms)): a server with no routes yet. */
vs_server_t *vt_new_server(unsigned threads, uint64_t shutdown_grace_ms);
/* Starts `srv` on its own threads (vs_server_start), checks that it did and that it listens on
 * a real port, and returns that port. */
int vt_start(vs_server_t *srv);

#endif
