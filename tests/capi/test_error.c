/* Tests capi/error.cpp: vs_strerror, vs_err_name, vs_last_error_message and the version
 * functions, against the contract in capi/vstream.h. C99. */
#define _POSIX_C_SOURCE 200809L

#include "vstream.h"

#include "test_http.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Every code the header defines, with its macro's own spelling. */
#define CODE(c) {c, #c}
static const struct {
    int code;
    const char *name;
} codes[] = {
    CODE(VS_OK),         CODE(VS_ENOENT),       CODE(VS_EIO),           CODE(VS_EAGAIN),
    CODE(VS_ENOMEM),     CODE(VS_EACCES),       CODE(VS_EBUSY),         CODE(VS_EINVAL),
    CODE(VS_EPIPE),      CODE(VS_EADDRINUSE),   CODE(VS_EADDRNOTAVAIL), CODE(VS_ETIMEDOUT),
    CODE(VS_ECANCELED),  CODE(VS_ESTOPPED),     CODE(VS_ERUNNING),      CODE(VS_ECONFLICT),
    CODE(VS_EANSWERED),
};
#undef CODE
#define NCODES (sizeof codes / sizeof codes[0])

/* Each code has its own name, spelled as the macro, and its own text. */
static void test_every_code_has_its_name_and_a_text(void) {
    size_t i, j;
    for (i = 0; i < NCODES; ++i) {
        const char *text = vs_strerror(codes[i].code);
        VT_CHECK_STR(vs_err_name(codes[i].code), codes[i].name);
        VT_CHECK(text != NULL);
        VT_CHECK(text[0] != '\0');
        VT_CHECK(strcmp(text, "unknown error") != 0);
        for (j = 0; j < i; ++j) {
            VT_CHECK(strcmp(vs_strerror(codes[j].code), text) != 0);
        }
    }
}

/* The values are the ABI: negated Linux errno values and the reserved range. */
static void test_codes_keep_their_values(void) {
    VT_CHECK_EQ(VS_OK, 0);
    VT_CHECK_EQ(VS_ENOENT, -2);
    VT_CHECK_EQ(VS_EIO, -5);
    VT_CHECK_EQ(VS_EAGAIN, -11);
    VT_CHECK_EQ(VS_ENOMEM, -12);
    VT_CHECK_EQ(VS_EACCES, -13);
    VT_CHECK_EQ(VS_EBUSY, -16);
    VT_CHECK_EQ(VS_EINVAL, -22);
    VT_CHECK_EQ(VS_EPIPE, -32);
    VT_CHECK_EQ(VS_EADDRINUSE, -98);
    VT_CHECK_EQ(VS_EADDRNOTAVAIL, -99);
    VT_CHECK_EQ(VS_ETIMEDOUT, -110);
    VT_CHECK_EQ(VS_ECANCELED, -125);
    VT_CHECK_EQ(VS_ESTOPPED, -4000);
    VT_CHECK_EQ(VS_ERUNNING, -4001);
    VT_CHECK_EQ(VS_ECONFLICT, -4002);
    VT_CHECK_EQ(VS_EANSWERED, -4003);
}

/* The header's own example: vs_strerror(VS_EINVAL) is "invalid argument". */
static void test_strerror_of_einval_is_the_documented_text(void) {
    VT_CHECK_STR(vs_strerror(VS_EINVAL), "invalid argument");
}

/* An unknown code (a positive one, an unused errno, the unused part of the reserved range,
 * the extremes) gets "unknown error" and "VS_UNKNOWN", never NULL. */
static void test_unknown_codes_get_the_unknown_text_and_name(void) {
    static const int unknown[] = {1, 22, -1, -3, -23, -3999, -4004, -4099, -4100, -100000,
                                  INT_MIN, INT_MAX};
    size_t i;
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; ++i) {
        VT_CHECK_STR(vs_strerror(unknown[i]), "unknown error");
        VT_CHECK_STR(vs_err_name(unknown[i]), "VS_UNKNOWN");
    }
}

/* Static storage: the same pointer every time, still valid after other calls. */
static void test_texts_are_static(void) {
    const char *a = vs_strerror(VS_ECONFLICT);
    const char *n = vs_err_name(VS_ECONFLICT);
    (void)vs_strerror(VS_EINVAL);
    (void)vs_err_name(12345);
    VT_CHECK(a == vs_strerror(VS_ECONFLICT));
    VT_CHECK(n == vs_err_name(VS_ECONFLICT));
    VT_CHECK_STR(n, "VS_ECONFLICT");
}

/* A failure leaves a message; a later successful guarded call clears it. */
static void test_last_error_is_set_by_a_failure_and_cleared_by_a_success(void) {
    vs_config_t *cfg = NULL;
    const char *msg;
    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    VT_CHECK_STR(vs_last_error_message(), "");

    VT_CHECK_EQ(vs_config_set_port(cfg, 70000), VS_EINVAL);
    msg = vs_last_error_message();
    VT_CHECK(msg != NULL);
    VT_CHECK_CONTAINS(msg, "port");

    VT_CHECK_EQ(vs_config_set_port(cfg, 0), VS_OK);
    VT_CHECK_STR(vs_last_error_message(), "");

    /* A NULL handle is a failure with a message too. */
    VT_CHECK_EQ(vs_config_set_port(NULL, 0), VS_EINVAL);
    VT_CHECK(vs_last_error_message()[0] != '\0');
    VT_CHECK_EQ(vs_config_set_limit(cfg, VS_LIMIT_MAX_RANGES, 65), VS_EINVAL);
    VT_CHECK(vs_last_error_message()[0] != '\0');
    VT_CHECK_EQ(vs_config_get_flag(cfg, VS_FLAG_AUTO_OPTIONS), 1);
    VT_CHECK_STR(vs_last_error_message(), "");

    vs_config_free(cfg);
}

/* What a second thread saw and did. */
struct other_thread {
    char before[256]; /* its message before it made any call */
    char after[256];  /* its message after its own failure */
    int rc;
    const char *name; /* vs_err_name from that thread */
};

static void *other_thread_main(void *arg) {
    struct other_thread *t = arg;
    vs_config_t *cfg = NULL;
    snprintf(t->before, sizeof t->before, "%s", vs_last_error_message());
    if (vs_config_new(&cfg) != VS_OK) return NULL;
    t->rc = vs_config_set_limit(cfg, 9999, 1); /* an unknown limit */
    snprintf(t->after, sizeof t->after, "%s", vs_last_error_message());
    t->name = vs_err_name(t->rc);
    vs_config_free(cfg);
    return NULL;
}

/* Each thread has its own message: one thread's failure neither shows in nor overwrites
 * another's. */
static void test_last_error_is_per_thread(void) {
    vs_config_t *cfg = NULL;
    struct other_thread t;
    pthread_t thread;
    char mine[256];
    memset(&t, 0, sizeof t);
    VT_CHECK_EQ(vs_config_new(&cfg), VS_OK);
    VT_CHECK_EQ(vs_config_set_backlog(cfg, 0), VS_EINVAL);
    snprintf(mine, sizeof mine, "%s", vs_last_error_message());
    VT_CHECK_CONTAINS(mine, "backlog");

    VT_CHECK_EQ(pthread_create(&thread, NULL, other_thread_main, &t), 0);
    VT_CHECK_EQ(pthread_join(thread, NULL), 0);

    VT_CHECK_STR(t.before, "");
    VT_CHECK_EQ(t.rc, VS_EINVAL);
    VT_CHECK_STR(t.name, "VS_EINVAL");
    VT_CHECK(t.after[0] != '\0');
    VT_CHECK(strcmp(t.after, mine) != 0);
    /* This thread's message is untouched by the other's calls. */
    VT_CHECK_STR(vs_last_error_message(), mine);
    vs_config_free(cfg);
}

/* The SQLite idiom: the library loaded is the one the header describes. */
static void test_version_of_library_matches_header(void) {
    unsigned major = 0, minor = 0, patch = 0;
    char tail = 0;
    const char *s = vs_version_string();
    VT_CHECK_EQ(vs_version(), VS_VERSION_HEX);
    VT_CHECK_STR(s, VS_VERSION_STRING);
    VT_CHECK_EQ(sscanf(s, "%u.%u.%u%c", &major, &minor, &patch, &tail), 3);
    VT_CHECK_EQ(major, VS_VERSION_MAJOR);
    VT_CHECK_EQ(minor, VS_VERSION_MINOR);
    VT_CHECK_EQ(patch, VS_VERSION_PATCH);
    VT_CHECK_EQ(VS_VERSION_HEX,
                ((unsigned)VS_VERSION_MAJOR << 16) | ((unsigned)VS_VERSION_MINOR << 8) |
                    (unsigned)VS_VERSION_PATCH);
    VT_CHECK_EQ(vs_version() >> 16, VS_VERSION_MAJOR); /* same major: ABI compatible */
    VT_CHECK(vs_version_string() == s);                /* static storage */
}

int main(void) {
    test_codes_keep_their_values();
    test_every_code_has_its_name_and_a_text();
    test_strerror_of_einval_is_the_documented_text();
    test_unknown_codes_get_the_unknown_text_and_name();
    test_texts_are_static();
    test_last_error_is_set_by_a_failure_and_cleared_by_a_success();
    test_last_error_is_per_thread();
    test_version_of_library_matches_header();
    printf("test_error: ok\n");
    return 0;
}
