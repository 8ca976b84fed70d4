/* Tests capi/config.cpp: every vs_config_* function, its defaults (capi/vstream.h and
 * docs/configuration.md), each setter's valid and invalid values, misuse, and the rules
 * vs_server_new() checks between two values. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"
#include "test_server.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define KIB ((uint64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

static vs_config_t *new_config(void) {
    vs_config_t *cfg = NULL;
    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    VT_CHECK(cfg != NULL);
    return cfg;
}

static uint64_t get_limit(const vs_config_t *cfg, int limit) {
    uint64_t v = 0xdeadbeef;
    VT_CHECK_EQ(vs_config_get_limit(cfg, limit, &v), VS_OK);
    return v;
}

static uint64_t get_timeout(const vs_config_t *cfg, int timeout) {
    uint64_t v = 0xdeadbeef;
    VT_CHECK_EQ(vs_config_get_timeout(cfg, timeout, &v), VS_OK);
    return v;
}

/* ---- defaults ---- */

static void test_defaults_are_the_documented_ones(void) {
    vs_config_t *cfg = new_config();
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_MAX_REQUEST_LINE), 8 * KIB);
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_MAX_HEADER_BYTES), 32 * KIB);
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_MAX_HEADER_COUNT), 100);
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_MAX_BODY_BYTES), 8 * MIB);
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_MAX_STREAM_BODY_BYTES), 4 * GIB);
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_MAX_CONNECTIONS), 10000);
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_WRITE_HIGH_WATER), 1 * MIB);
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_WRITE_LOW_WATER), 256 * KIB);
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_MAX_RANGES), 16);
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_CACHE_MAX_MAPPED_BYTES), 256 * MIB);
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_CACHE_MAX_ENTRIES), 1024);
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_CACHE_WINDOW_THRESHOLD), 8 * MIB);
    VT_CHECK_EQ(get_limit(cfg, VS_LIMIT_CACHE_WINDOW_SIZE), 2 * MIB);

    VT_CHECK_EQ(get_timeout(cfg, VS_TIMEOUT_HEADER), 10000);
    VT_CHECK_EQ(get_timeout(cfg, VS_TIMEOUT_KEEP_ALIVE), 75000);
    VT_CHECK_EQ(get_timeout(cfg, VS_TIMEOUT_BODY_READ), 30000);
    VT_CHECK_EQ(get_timeout(cfg, VS_TIMEOUT_STREAM_BODY), 3600000);
    VT_CHECK_EQ(get_timeout(cfg, VS_TIMEOUT_WRITE), 60000);
    VT_CHECK_EQ(get_timeout(cfg, VS_TIMEOUT_LINGER), 2000);
    VT_CHECK_EQ(get_timeout(cfg, VS_TIMEOUT_SHUTDOWN_GRACE), 10000);
    VT_CHECK_EQ(get_timeout(cfg, VS_TIMEOUT_CACHE_REVALIDATE), 1000);
    VT_CHECK_EQ(get_timeout(cfg, VS_TIMEOUT_CACHE_IDLE), 60000);
    VT_CHECK_EQ(get_timeout(cfg, VS_TIMEOUT_ACCEPT_BACKOFF), 500);

    VT_CHECK_EQ(vs_config_get_flag(cfg, VS_FLAG_REDIRECT_TRAILING_SLASH), 1);
    VT_CHECK_EQ(vs_config_get_flag(cfg, VS_FLAG_METHOD_NOT_ALLOWED), 1);
    VT_CHECK_EQ(vs_config_get_flag(cfg, VS_FLAG_AUTO_OPTIONS), 1);
    VT_CHECK_EQ(vs_config_get_flag(cfg, VS_FLAG_RAISE_FD_LIMIT), 1);
    vs_config_free(cfg);
}

/* ---- new and free ---- */

static void test_new_needs_out_and_free_null_is_a_noop(void) {
    VT_CHECK_EQ(vs_config_new(NULL), VS_EINVAL);
    VT_CHECK(vs_last_error_message()[0] != '\0');
    vs_config_free(NULL);
}

/* ---- port, address, threads, backlog, server name ---- */

/* An unsigned setter that takes 0 to `max`: 0, 1 and max are taken; max + 1 (with a message
 * naming `what`) and UINT_MAX are refused, and so is a NULL config, even with `valid`. */
static void check_unsigned_setter(int (*set)(vs_config_t *, unsigned), unsigned max,
                                  const char *what, unsigned valid) {
    vs_config_t *cfg = new_config();
    VT_CHECK_EQ(set(cfg, 0), VS_OK);
    VT_CHECK_EQ(set(cfg, 1), VS_OK);
    VT_CHECK_EQ(set(cfg, max), VS_OK);
    VT_CHECK_EQ(set(cfg, max + 1), VS_EINVAL);
    VT_CHECK_CONTAINS(vs_last_error_message(), what);
    VT_CHECK_EQ(set(cfg, UINT_MAX), VS_EINVAL);
    VT_CHECK_EQ(set(NULL, valid), VS_EINVAL);
    vs_config_free(cfg);
}

static void test_port_takes_0_to_65535(void) {
    check_unsigned_setter(vs_config_set_port, 65535, "port", 80);
}

static void test_address_takes_numeric_addresses_only(void) {
    vs_config_t *cfg = new_config();
    static const char *good[] = {"127.0.0.1", "::1", "0.0.0.0", "::", "10.1.2.3", "fe80::1"};
    static const char *bad[] = {"", "localhost", "127.0.0.1:80", "1.2.3.4.5", "256.0.0.1",
                                " 127.0.0.1", "[::1]", "example.com"};
    size_t i;
    for (i = 0; i < sizeof good / sizeof good[0]; ++i) {
        VT_CHECK_EQ(vs_config_set_address(cfg, good[i]), VS_OK);
        VT_CHECK_EQ(vs_config_add_address(cfg, good[i]), VS_OK);
    }
    for (i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        VT_CHECK_EQ(vs_config_set_address(cfg, bad[i]), VS_EINVAL);
        VT_CHECK(vs_last_error_message()[0] != '\0');
        VT_CHECK_EQ(vs_config_add_address(cfg, bad[i]), VS_EINVAL);
    }
    /* The rule is ServerConfig::validate()'s, and the message names the address. */
    VT_CHECK_EQ(vs_config_add_address(cfg, "localhost"), VS_EINVAL);
    VT_CHECK(strstr(vs_last_error_message(), "'localhost'") != NULL);
    VT_CHECK_EQ(vs_config_set_address(cfg, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_config_add_address(cfg, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_address(NULL, "127.0.0.1"), VS_EINVAL);
    VT_CHECK_EQ(vs_config_add_address(NULL, "127.0.0.1"), VS_EINVAL);
    vs_config_free(cfg);
}

static void test_threads_take_0_to_1024(void) {
    check_unsigned_setter(vs_config_set_threads, 1024, "threads", 1);
}

static void test_backlog_is_at_least_1(void) {
    vs_config_t *cfg = new_config();
    VT_CHECK_EQ(vs_config_set_backlog(cfg, 1), VS_OK);
    VT_CHECK_EQ(vs_config_set_backlog(cfg, INT_MAX), VS_OK);
    VT_CHECK_EQ(vs_config_set_backlog(cfg, 0), VS_EINVAL);
    VT_CHECK_CONTAINS(vs_last_error_message(), "backlog");
    VT_CHECK_EQ(vs_config_set_backlog(cfg, -1), VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_backlog(cfg, INT_MIN), VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_backlog(NULL, 10), VS_EINVAL);
    vs_config_free(cfg);
}

static void test_server_name_refuses_control_characters(void) {
    vs_config_t *cfg = new_config();
    static const char *bad[] = {"a\r\nX-Injected: 1", "a\nb", "a\rb", "tab\there", "del\x7f",
                                "\x01"};
    size_t i;
    VT_CHECK_EQ(vs_config_set_server_name(cfg, ""), VS_OK);
    VT_CHECK_EQ(vs_config_set_server_name(cfg, "my-app/1.0 (test)"), VS_OK);
    VT_CHECK_EQ(vs_config_set_server_name(cfg, "caf\xc3\xa9"), VS_OK); /* obs-text */
    for (i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        VT_CHECK_EQ(vs_config_set_server_name(cfg, bad[i]), VS_EINVAL);
        VT_CHECK(vs_last_error_message()[0] != '\0');
    }
    VT_CHECK_EQ(vs_config_set_server_name(cfg, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_config_set_server_name(NULL, "x"), VS_EINVAL);
    vs_config_free(cfg);
}

/* ---- limits ---- */

/* Each limit's range: [min, max]; max UINT64_MAX has no value above it. */
static const struct {
    int limit;
    const char *name;
    uint64_t min, max;
} limit_table[] = {
    {VS_LIMIT_MAX_REQUEST_LINE, "max_request_line", 16, GIB},
    {VS_LIMIT_MAX_HEADER_BYTES, "max_header_bytes", 64, GIB},
    {VS_LIMIT_MAX_HEADER_COUNT, "max_header_count", 1, (uint64_t)1 << 20},
    {VS_LIMIT_MAX_BODY_BYTES, "max_body_bytes", 0, SIZE_MAX},
    {VS_LIMIT_MAX_STREAM_BODY_BYTES, "max_stream_body_bytes", 1, UINT64_MAX},
    {VS_LIMIT_MAX_CONNECTIONS, "max_connections", 1, SIZE_MAX},
    {VS_LIMIT_WRITE_HIGH_WATER, "write_high_water", 1, SIZE_MAX},
    {VS_LIMIT_WRITE_LOW_WATER, "write_low_water", 0, SIZE_MAX},
    {VS_LIMIT_MAX_RANGES, "max_ranges", 1, 64},                     /* documented: 1..64 */
    {VS_LIMIT_CACHE_MAX_MAPPED_BYTES, "cache_max_mapped_bytes", 1, SIZE_MAX},
    {VS_LIMIT_CACHE_MAX_ENTRIES, "cache_max_entries", 1, SIZE_MAX},
    {VS_LIMIT_CACHE_WINDOW_THRESHOLD, "cache_window_threshold", 0, SIZE_MAX},
    {VS_LIMIT_CACHE_WINDOW_SIZE, "cache_window_size", 4 * KIB, GIB}, /* documented */
};

static void check_limit_row(size_t row) {
    vs_config_t *cfg = new_config();
    const int limit = limit_table[row].limit;
    const uint64_t min = limit_table[row].min, max = limit_table[row].max;
    const uint64_t before = get_limit(cfg, limit);
    fprintf(stderr, "  limit %s\n", limit_table[row].name);

    VT_CHECK_EQ(vs_config_set_limit(cfg, limit, min), VS_OK);
    VT_CHECK(get_limit(cfg, limit) == min);
    VT_CHECK_EQ(vs_config_set_limit(cfg, limit, max), VS_OK);
    VT_CHECK(get_limit(cfg, limit) == max);
    VT_CHECK_EQ(vs_config_set_limit(cfg, limit, before), VS_OK);
    if (min > 0) {
        VT_CHECK_EQ(vs_config_set_limit(cfg, limit, min - 1), VS_EINVAL);
        VT_CHECK(vs_last_error_message()[0] != '\0');
        VT_CHECK(get_limit(cfg, limit) == before); /* a refused value changes nothing */
    }
    if (max < UINT64_MAX) {
        VT_CHECK_EQ(vs_config_set_limit(cfg, limit, max + 1), VS_EINVAL);
        VT_CHECK(vs_last_error_message()[0] != '\0');
        VT_CHECK_EQ(vs_config_set_limit(cfg, limit, UINT64_MAX), VS_EINVAL);
        VT_CHECK(get_limit(cfg, limit) == before);
    }
    VT_CHECK_EQ(vs_config_set_limit(NULL, limit, min), VS_EINVAL);
    VT_CHECK_EQ(vs_config_get_limit(cfg, limit, NULL), VS_EINVAL);
    vs_config_free(cfg);
}

static void test_each_limit_takes_its_range_only(void) {
    size_t row;
    for (row = 0; row < sizeof limit_table / sizeof limit_table[0]; ++row) check_limit_row(row);
}

static void test_unknown_limit_is_refused(void) {
    vs_config_t *cfg = new_config();
    static const int unknown[] = {0, -1, 14, 100, INT_MAX, INT_MIN};
    size_t i;
    uint64_t v = 77;
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; ++i) {
        VT_CHECK_EQ(vs_config_set_limit(cfg, unknown[i], 1), VS_EINVAL);
        VT_CHECK_CONTAINS(vs_last_error_message(), "VS_LIMIT");
        VT_CHECK_EQ(vs_config_get_limit(cfg, unknown[i], &v), VS_EINVAL);
        VT_CHECK_EQ(v, 77); /* out untouched */
    }
    VT_CHECK_EQ(vs_config_get_limit(NULL, VS_LIMIT_MAX_RANGES, &v), VS_EINVAL);
    VT_CHECK_EQ(v, 77);
    vs_config_free(cfg);
}

/* ---- timeouts ---- */

static void test_timeouts_are_positive_and_bounded(void) {
    static const int all[] = {VS_TIMEOUT_HEADER,         VS_TIMEOUT_KEEP_ALIVE,
                              VS_TIMEOUT_BODY_READ,      VS_TIMEOUT_STREAM_BODY,
                              VS_TIMEOUT_WRITE,          VS_TIMEOUT_LINGER,
                              VS_TIMEOUT_SHUTDOWN_GRACE, VS_TIMEOUT_CACHE_REVALIDATE,
                              VS_TIMEOUT_CACHE_IDLE,     VS_TIMEOUT_ACCEPT_BACKOFF};
    const uint64_t max = (uint64_t)1 << 40;
    size_t i;
    for (i = 0; i < sizeof all / sizeof all[0]; ++i) {
        vs_config_t *cfg = new_config();
        const int t = all[i];
        const uint64_t before = get_timeout(cfg, t);
        VT_CHECK_EQ(vs_config_set_timeout(cfg, t, 1), VS_OK);
        VT_CHECK_EQ(get_timeout(cfg, t), 1);
        VT_CHECK_EQ(vs_config_set_timeout(cfg, t, 12345), VS_OK);
        VT_CHECK_EQ(get_timeout(cfg, t), 12345);
        VT_CHECK_EQ(vs_config_set_timeout(cfg, t, max), VS_OK);
        VT_CHECK(get_timeout(cfg, t) == max);
        VT_CHECK_EQ(vs_config_set_timeout(cfg, t, before), VS_OK);
        VT_CHECK_EQ(vs_config_set_timeout(cfg, t, max + 1), VS_EINVAL);
        VT_CHECK(vs_last_error_message()[0] != '\0');
        VT_CHECK_EQ(vs_config_set_timeout(cfg, t, UINT64_MAX), VS_EINVAL);
        if (t == VS_TIMEOUT_CACHE_REVALIDATE) {
            /* The one timeout where 0 is valid: stat() on every request. */
            VT_CHECK_EQ(vs_config_set_timeout(cfg, t, 0), VS_OK);
            VT_CHECK_EQ(get_timeout(cfg, t), 0);
        } else {
            VT_CHECK_EQ(vs_config_set_timeout(cfg, t, 0), VS_EINVAL);
            VT_CHECK(vs_last_error_message()[0] != '\0');
            VT_CHECK(get_timeout(cfg, t) == before);
        }
        VT_CHECK_EQ(vs_config_set_timeout(NULL, t, 1000), VS_EINVAL);
        VT_CHECK_EQ(vs_config_get_timeout(cfg, t, NULL), VS_EINVAL);
        vs_config_free(cfg);
    }
}

static void test_unknown_timeout_is_refused(void) {
    vs_config_t *cfg = new_config();
    static const int unknown[] = {0, -1, 11, 1000, INT_MIN};
    size_t i;
    uint64_t v = 5;
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; ++i) {
        VT_CHECK_EQ(vs_config_set_timeout(cfg, unknown[i], 1000), VS_EINVAL);
        VT_CHECK_CONTAINS(vs_last_error_message(), "VS_TIMEOUT");
        VT_CHECK_EQ(vs_config_get_timeout(cfg, unknown[i], &v), VS_EINVAL);
        VT_CHECK_EQ(v, 5);
    }
    VT_CHECK_EQ(vs_config_get_timeout(NULL, VS_TIMEOUT_HEADER, &v), VS_EINVAL);
    VT_CHECK_EQ(v, 5);
    vs_config_free(cfg);
}

/* ---- flags ---- */

static void test_flags_turn_on_and_off(void) {
    static const int all[] = {VS_FLAG_REDIRECT_TRAILING_SLASH, VS_FLAG_METHOD_NOT_ALLOWED,
                              VS_FLAG_AUTO_OPTIONS, VS_FLAG_RAISE_FD_LIMIT};
    static const int unknown[] = {0, -1, 5, 99};
    vs_config_t *cfg = new_config();
    size_t i;
    for (i = 0; i < sizeof all / sizeof all[0]; ++i) {
        VT_CHECK_EQ(vs_config_set_flag(cfg, all[i], 0), VS_OK);
        VT_CHECK_EQ(vs_config_get_flag(cfg, all[i]), 0);
        VT_CHECK_EQ(vs_config_set_flag(cfg, all[i], 7), VS_OK); /* any nonzero is on */
        VT_CHECK_EQ(vs_config_get_flag(cfg, all[i]), 1);
        VT_CHECK_EQ(vs_config_set_flag(cfg, all[i], -1), VS_OK);
        VT_CHECK_EQ(vs_config_get_flag(cfg, all[i]), 1);
        VT_CHECK_EQ(vs_config_set_flag(NULL, all[i], 1), VS_EINVAL);
        VT_CHECK_EQ(vs_config_get_flag(NULL, all[i]), VS_EINVAL);
    }
    /* One flag leaves the others alone. */
    VT_CHECK_EQ(vs_config_set_flag(cfg, VS_FLAG_METHOD_NOT_ALLOWED, 0), VS_OK);
    VT_CHECK_EQ(vs_config_get_flag(cfg, VS_FLAG_REDIRECT_TRAILING_SLASH), 1);
    VT_CHECK_EQ(vs_config_get_flag(cfg, VS_FLAG_AUTO_OPTIONS), 1);
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; ++i) {
        VT_CHECK_EQ(vs_config_set_flag(cfg, unknown[i], 1), VS_EINVAL);
        VT_CHECK_CONTAINS(vs_last_error_message(), "VS_FLAG");
        VT_CHECK_EQ(vs_config_get_flag(cfg, unknown[i]), VS_EINVAL);
    }
    vs_config_free(cfg);
}

/* A config pointer of the wrong type is refused by its magic, not used. */
static void test_wrong_handle_type_is_refused(void) {
    vs_server_t *srv = NULL, *other = NULL;
    vs_config_t *not_a_config;
    uint64_t v = 3;
    VT_CHECK_EQ(vs_server_new(&srv, NULL), VS_OK);
    not_a_config = (vs_config_t *)(void *)srv;
    VT_CHECK_EQ(vs_config_set_port(not_a_config, 0), VS_EINVAL);
    VT_CHECK_EQ(vs_config_get_limit(not_a_config, VS_LIMIT_MAX_RANGES, &v), VS_EINVAL);
    VT_CHECK_EQ(v, 3);
    VT_CHECK_EQ(vs_config_get_flag(not_a_config, VS_FLAG_AUTO_OPTIONS), VS_EINVAL);
    VT_CHECK_EQ(vs_server_new(&other, not_a_config), VS_EINVAL);
    VT_CHECK(other == NULL);
    vs_config_free(not_a_config); /* refused by its magic: the server lives on */
    VT_CHECK_EQ(vs_server_running(srv), 0);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

/* ---- vs_server_new ---- */

static void test_server_new_checks_rules_between_values(void) {
    vs_config_t *cfg = new_config();
    vs_server_t *srv = (vs_server_t *)(void *)&cfg; /* not NULL, to see it reset */
    /* Each value is valid alone: the setters accept both. */
    VT_CHECK_EQ(vs_config_set_limit(cfg, VS_LIMIT_WRITE_HIGH_WATER, 64 * KIB), VS_OK);
    VT_CHECK_EQ(vs_config_set_limit(cfg, VS_LIMIT_WRITE_LOW_WATER, 64 * KIB + 1), VS_OK);
    VT_CHECK_EQ(vs_server_new(&srv, cfg), VS_EINVAL);
    VT_CHECK(srv == NULL);
    VT_CHECK_CONTAINS(vs_last_error_message(), "write_low_water");

    /* Equal is allowed; so is the fix from either side. */
    VT_CHECK_EQ(vs_config_set_limit(cfg, VS_LIMIT_WRITE_LOW_WATER, 64 * KIB), VS_OK);
    VT_CHECK_EQ(vs_server_new(&srv, cfg), VS_OK);
    VT_CHECK(srv != NULL);
    VT_CHECK_STR(vs_last_error_message(), "");
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    vs_config_free(cfg);
}

static void test_server_new_misuse(void) {
    vs_config_t *cfg = new_config();
    vs_server_t *srv = NULL;
    VT_CHECK_EQ(vs_server_new(NULL, cfg), VS_EINVAL);
    VT_CHECK_EQ(vs_server_new(NULL, NULL), VS_EINVAL);
    VT_CHECK_EQ(vs_server_new(&srv, NULL), VS_OK); /* every default */
    VT_CHECK(srv != NULL);
    VT_CHECK_EQ(vs_server_port(srv), 0);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    vs_config_free(cfg);
}

static void hello(vs_ctx_t *ctx, void *ud) {
    (void)ud;
    vs_ctx_send_text(ctx, 200, "hello");
}

/* Starts a server made from `cfg` (which it frees) with GET /. */
static vs_server_t *start_server(vs_config_t *cfg) {
    vs_server_t *srv = vt_server_from(cfg);
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/", hello, NULL, NULL), VS_OK);
    vt_start(srv);
    return srv;
}

/* 127.0.0.1 port 0, one loop thread, the default shutdown grace (10 s, as
 * test_defaults_are_the_documented_ones checks). */
static vs_config_t *test_config(void) { return vt_test_config(1, 10000); }

/* The defaults that have no getter show on the wire: Server "vstream", loopback. */
static void test_default_server_name_and_address_show_on_the_wire(void) {
    vs_server_t *srv = start_server(test_config());
    vt_response r;
    char v[128];
    VT_CHECK_EQ(vt_get(vs_server_port(srv), "/", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "hello");
    VT_CHECK_STR(vt_header(&r, "Server", v, sizeof v), "vstream");
    vt_response_free(&r);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

/* The server copies its config: changes after vs_server_new, or freeing it, change nothing. */
static void test_server_keeps_its_own_copy_of_the_config(void) {
    vs_config_t *cfg = test_config();
    vs_server_t *srv = NULL, *quiet = NULL;
    vt_response r;
    char v[128];
    VT_CHECK_EQ(vs_config_set_server_name(cfg, "first/1"), VS_OK);
    VT_CHECK_EQ(vs_server_new(&srv, cfg), VS_OK);
    VT_CHECK_EQ(vs_config_set_server_name(cfg, ""), VS_OK); /* sends none */
    VT_CHECK_EQ(vs_server_new(&quiet, cfg), VS_OK);
    VT_CHECK_EQ(vs_config_set_server_name(cfg, "changed/2"), VS_OK);
    vs_config_free(cfg);

    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/", hello, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_group_route(vs_server_root(quiet), "GET", "/", hello, NULL, NULL), VS_OK);
    VT_CHECK_EQ(vs_server_start(srv), VS_OK);
    VT_CHECK_EQ(vs_server_start(quiet), VS_OK);

    VT_CHECK_EQ(vt_get(vs_server_port(srv), "/", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(vt_header(&r, "Server", v, sizeof v), "first/1");
    vt_response_free(&r);

    VT_CHECK_EQ(vt_get(vs_server_port(quiet), "/", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK(vt_header(&r, "Server", v, sizeof v) == NULL);
    vt_response_free(&r);

    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
    VT_CHECK_EQ(vs_server_free(quiet), VS_OK);
}

/* A limit set through the C API is the one the engine enforces. */
static void test_limits_set_are_enforced(void) {
    vs_config_t *cfg = test_config();
    vs_server_t *srv;
    char target[128];
    VT_CHECK_EQ(vs_config_set_limit(cfg, VS_LIMIT_MAX_REQUEST_LINE, 64), VS_OK);
    srv = start_server(cfg);
    vt_expect(vs_server_port(srv), "GET", "/", 200, NULL);
    snprintf(target, sizeof target, "/%0100d", 0);
    vt_expect(vs_server_port(srv), "GET", target, 414, NULL);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

/* A flag set through the C API changes how unmatched requests are answered. */
static void test_flags_set_are_applied(void) {
    vs_config_t *cfg = test_config();
    vs_server_t *srv;
    VT_CHECK_EQ(vs_config_set_flag(cfg, VS_FLAG_METHOD_NOT_ALLOWED, 0), VS_OK);
    srv = start_server(cfg);
    vt_expect(vs_server_port(srv), "DELETE", "/", 404, NULL); /* not 405 */
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

/* Listeners: numeric addresses, ports 0..65535, flags 0, no address and non-zero port twice. */
static void test_add_listener_checks_its_arguments(void) {
    vs_config_t *cfg = new_config();
    VT_CHECK_EQ(vs_config_add_listener(cfg, "127.0.0.1", 8080, 0), VS_OK);
    VT_CHECK_EQ(vs_config_add_listener(cfg, "127.0.0.1", 8081, 0), VS_OK);
    VT_CHECK_EQ(vs_config_add_listener(cfg, "::1", 8080, 0), VS_OK);
    VT_CHECK_EQ(vs_config_add_listener(cfg, "127.0.0.1", 0, 0), VS_OK);
    VT_CHECK_EQ(vs_config_add_listener(cfg, "127.0.0.1", 0, 0), VS_OK); /* two ephemeral ports */
    VT_CHECK_EQ(vs_config_add_listener(cfg, "0::1", 8080, 0), VS_EINVAL); /* ::1 again */
    VT_CHECK(strstr(vs_last_error_message(), "twice") != NULL);
    VT_CHECK_EQ(vs_config_add_listener(cfg, "localhost", 80, 0), VS_EINVAL);
    VT_CHECK(strstr(vs_last_error_message(), "'localhost'") != NULL);
    VT_CHECK_EQ(vs_config_add_listener(cfg, "127.0.0.1", 65536, 0), VS_EINVAL);
    VT_CHECK_EQ(vs_config_add_listener(cfg, "127.0.0.1", 9000, 2), VS_EINVAL);
    VT_CHECK_EQ(vs_config_add_listener(cfg, "127.0.0.1", 9443, VS_LISTEN_TLS), VS_OK);
    VT_CHECK_EQ(vs_config_add_listener(cfg, NULL, 9000, 0), VS_EINVAL);
    VT_CHECK_EQ(vs_config_add_listener(NULL, "127.0.0.1", 9000, 0), VS_EINVAL);
    vs_config_free(cfg);
}

/* Each listener binds its own ephemeral port, and each serves; the address form is ignored. */
static void test_listeners_each_serve_on_their_own_port(void) {
    vs_config_t *cfg = test_config();
    vs_server_t *srv;
    vt_response r;
    int a, b;
    VT_CHECK_EQ(vs_config_set_address(cfg, "127.0.0.2"), VS_OK); /* ignored: listeners given */
    VT_CHECK_EQ(vs_config_add_listener(cfg, "127.0.0.1", 0, 0), VS_OK);
    VT_CHECK_EQ(vs_config_add_listener(cfg, "127.0.0.1", 0, 0), VS_OK);
    srv = vt_server_from(cfg);
    VT_CHECK_EQ(vs_server_listener_port(srv, 0), 0); /* not started */
    VT_CHECK_EQ(vs_group_route(vs_server_root(srv), "GET", "/", hello, NULL, NULL), VS_OK);
    vt_start(srv);
    a = vs_server_listener_port(srv, 0);
    b = vs_server_listener_port(srv, 1);
    VT_CHECK(a > 0 && b > 0 && a != b);
    VT_CHECK_EQ(vs_server_port(srv), a);
    VT_CHECK_EQ(vs_server_listener_port(srv, 2), VS_ENOENT);
    VT_CHECK_EQ(vs_server_listener_port(NULL, 0), VS_EINVAL);
    VT_CHECK_EQ(vt_get(a, "/", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    vt_response_free(&r);
    VT_CHECK_EQ(vt_get(b, "/", &r), 0);
    VT_CHECK_EQ(r.status, 200);
    VT_CHECK_STR(r.body, "hello");
    vt_response_free(&r);
    VT_CHECK_EQ(vs_server_free(srv), VS_OK);
}

int main(void) {
    test_defaults_are_the_documented_ones();
    test_new_needs_out_and_free_null_is_a_noop();
    test_port_takes_0_to_65535();
    test_address_takes_numeric_addresses_only();
    test_threads_take_0_to_1024();
    test_backlog_is_at_least_1();
    test_server_name_refuses_control_characters();
    test_each_limit_takes_its_range_only();
    test_unknown_limit_is_refused();
    test_timeouts_are_positive_and_bounded();
    test_unknown_timeout_is_refused();
    test_flags_turn_on_and_off();
    test_wrong_handle_type_is_refused();
    test_server_new_checks_rules_between_values();
    test_server_new_misuse();
    test_default_server_name_and_address_show_on_the_wire();
    test_server_keeps_its_own_copy_of_the_config();
    test_limits_set_are_enforced();
    test_flags_set_are_applied();
    test_add_listener_checks_its_arguments();
    test_listeners_each_serve_on_their_own_port();
    printf("test_config: ok\n");
    return 0;
}
