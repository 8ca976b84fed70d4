/* vstream's stable C API: embed the HTTP/1.1 streaming engine from C, or from any language
 * with a C FFI. Implemented by capi/ (one shim file per handle) over the C++ core in src/.
 *
 * Conventions (read once, they hold for every function below):
 * - C99. Only opaque handles cross this boundary, never a struct whose layout could grow.
 * - Every fallible function returns an int: VS_OK (0) or a negative error code (VS_E*, below).
 *   vs_strerror() describes a code and vs_last_error_message() says more about the last
 *   failure on the calling thread. New codes may appear in later versions: treat any
 *   negative value you do not know as a failure.
 * - A NULL or wrong-type handle gives VS_EINVAL (or NULL, or 0, for functions returning a
 *   pointer or a count), never a crash; vs_*_free(NULL) does nothing. A handle used after it
 *   was freed is refused as long as its memory still reads as freed: a guard, not a promise.
 * - Strings passed in are copied; the caller keeps its own. Strings handed out are borrowed,
 *   NUL-terminated, and valid for as long as each function states.
 * - Callbacks take (fn, void *userdata, vs_free_cb userdata_free). userdata_free, when not
 *   NULL, runs exactly once with userdata: when the owner is destroyed (the server for
 *   routes and middleware, the request for per-request callbacks), or at once if the
 *   registration fails. A function that fails never calls its other callbacks.
 * - Callbacks must return normally: no C++ exception and no longjmp may leave them.
 * - Threads: a function is for one thread at a time and, once the server runs, for its loop
 *   thread (inside a callback), unless its "Thread:" line says "any thread". A handle is never
 *   used from two threads at once (curl's rule); a retained context may move between threads.
 * - Every function documents its thread and its ownership ("Thread:", "Owns:") and the
 *   version it appeared in ("Since:").
 */
#ifndef VSTREAM_VSTREAM_H
#define VSTREAM_VSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "vstream_version.h"

#if defined(VS_BUILDING_LIBRARY)
#define VS_API __attribute__((visibility("default")))
#else
#define VS_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A libuv loop, for vs_server_attach(); <uv.h> is not needed to include this header. */
struct uv_loop_s;

/* ---- error codes --------------------------------------------------------------------------
 * Negated Linux errno values where one fits; vstream's own codes from -4000 to -4099. Codes
 * are never renumbered or reused. */
#define VS_OK 0
#define VS_ENOENT (-2)           /* no such item (header, parameter, query key, file) */
#define VS_EIO (-5)              /* any other system failure */
#define VS_EAGAIN (-11)          /* stream: queued, but past the high-water mark; wait */
#define VS_ENOMEM (-12)          /* out of memory */
#define VS_EACCES (-13)          /* permission denied (e.g. a privileged port) */
#define VS_EBUSY (-16)           /* not now: e.g. freeing a server from its own loop */
#define VS_EINVAL (-22)          /* a bad argument, handle or configuration value */
#define VS_EPIPE (-32)           /* the stream is closed: the client left, or it ended */
#define VS_EADDRINUSE (-98)      /* a listen address is taken */
#define VS_EADDRNOTAVAIL (-99)   /* a listen address is not local */
#define VS_ETIMEDOUT (-110)      /* timed out */
#define VS_ECANCELED (-125)      /* the connection went away before completion */
#define VS_ESTOPPED (-4000)      /* the server is stopped or stopping */
#define VS_ERUNNING (-4001)      /* the server is already running */
#define VS_ECONFLICT (-4002)     /* a route clashes with one registered before */
#define VS_EANSWERED (-4003)     /* the request has already been answered */

/* The text for an error code ("invalid argument"); "unknown error" for an unknown one. Never NULL,
 * static storage.
 * Thread: any thread. Owns: static storage, never freed. Since: 0.1 */
VS_API const char *vs_strerror(int err);
/* The code's name ("VS_EINVAL"); "VS_UNKNOWN" for an unknown one. Never NULL, static.
 * Thread: any thread. Owns: static storage, never freed. Since: 0.1 */
VS_API const char *vs_err_name(int err);
/* Detail on why the last vs_* call on this thread failed (e.g. which route conflicted); "" when it
 * carried none or did not fail. Read it right after the failing call. Never NULL.
 * Owns: valid until the next vs_* call on this thread. Thread: any thread (each thread has its
 * own). Since: 0.1 */
VS_API const char *vs_last_error_message(void);

/* ---- version ------------------------------------------------------------------------------
 * The header's VS_VERSION_* macros (vstream_version.h) are what you compiled against; these
 * say what is loaded. Same major version: ABI compatible. */

/* VS_VERSION_HEX of the library: 0xMMmmpp.
 * Thread: any thread. Owns: static storage, never freed. Since: 0.1 */
VS_API unsigned vs_version(void);
/* "MAJOR.MINOR.PATCH" of the library. Static storage.
 * Thread: any thread. Owns: static storage, never freed. Since: 0.1 */
VS_API const char *vs_version_string(void);

/* ---- handles ------------------------------------------------------------------------------ */
typedef struct vs_config vs_config_t;                 /* server configuration, caller-owned */
typedef struct vs_server vs_server_t;                 /* a server, caller-owned */
typedef struct vs_group vs_group_t;                   /* a route group, owned by its server */
typedef struct vs_ctx vs_ctx_t;                       /* one request and its response */
typedef struct vs_next vs_next_t;                     /* the rest of a middleware chain */
typedef struct vs_stream vs_stream_t;                 /* a streamed response body, caller-owned */
typedef struct vs_static_options vs_static_options_t; /* vs_group_static() options */
typedef struct vs_file_options vs_file_options_t;     /* vs_ctx_send_file() options */
typedef struct vs_upload_options vs_upload_options_t; /* vs_ctx_receive_upload() options */
typedef struct vs_upload_result vs_upload_result_t;   /* what an upload stored */

/* ---- callbacks ---------------------------------------------------------------------------- */
/* Frees what it is given: a userdata pointer, or a body handed over (libc's free fits). */
typedef void (*vs_free_cb)(void *ptr);
/* Handles a request: answer through ctx now, or retain it and answer later. */
typedef void (*vs_handler_cb)(vs_ctx_t *ctx, void *userdata);
/* Middleware: call vs_next_call(next) to run the rest of the chain, or answer and don't. */
typedef void (*vs_middleware_cb)(vs_ctx_t *ctx, vs_next_t *next, void *userdata);
/* Something happened (a stream drained or closed, a request was cancelled). */
typedef void (*vs_event_cb)(void *userdata);
/* One log line of `len` bytes (NUL-terminated as well, without a trailing newline). */
typedef void (*vs_log_cb)(const char *line, size_t len, void *userdata);
/* The next bytes of a request body, valid during the call. Return 0 to go on reading, or
 * nonzero to pause until vs_ctx_resume_body(). */
typedef int (*vs_body_data_cb)(vs_ctx_t *ctx, const void *data, size_t len, void *userdata);
/* The request body arrived whole. Answer now, or retain ctx and answer later. */
typedef void (*vs_body_end_cb)(vs_ctx_t *ctx, void *userdata);
/* The request body cannot be read to its end; `status` is what the engine answered (400,
 * 408, 413, 500), or 0 when no answer is possible (the client is gone). Clean up here. */
typedef void (*vs_body_error_cb)(vs_ctx_t *ctx, int status, const char *reason, void *userdata);
/* An upload was stored whole (result is valid during the call); answer through ctx. */
typedef void (*vs_upload_done_cb)(vs_ctx_t *ctx, const vs_upload_result_t *result,
                                  void *userdata);

/* ---- configuration ------------------------------------------------------------------------
 * Every setter validates its value (VS_EINVAL, with vs_last_error_message()); rules that tie
 * two values together are checked by vs_server_new(). docs/configuration.md has each default. */

/* Size limits and counts, for vs_config_set_limit(). Values are bytes unless named a count. */
enum {
    VS_LIMIT_MAX_REQUEST_LINE = 1,       /* request line; beyond: 414. Default 8 KiB */
    VS_LIMIT_MAX_HEADER_BYTES = 2,       /* all header lines; beyond: 431. Default 32 KiB */
    VS_LIMIT_MAX_HEADER_COUNT = 3,       /* header fields (count); beyond: 431. Default 100 */
    VS_LIMIT_MAX_BODY_BYTES = 4,         /* buffered body; beyond: 413. Default 8 MiB */
    VS_LIMIT_MAX_STREAM_BODY_BYTES = 5,  /* streamed or uploaded body. Default 4 GiB */
    VS_LIMIT_MAX_CONNECTIONS = 6,        /* open connections (count); beyond: 503. 10000 */
    VS_LIMIT_WRITE_HIGH_WATER = 7,       /* queued bytes that pause a producer. 1 MiB */
    VS_LIMIT_WRITE_LOW_WATER = 8,        /* queued bytes that resume it. Default 256 KiB */
    VS_LIMIT_MAX_RANGES = 9,             /* ranges in one Range header (1..64). Default 16 */
    VS_LIMIT_CACHE_MAX_MAPPED_BYTES = 10, /* file cache: bytes mapped. Default 256 MiB */
    VS_LIMIT_CACHE_MAX_ENTRIES = 11,     /* file cache: files (count). Default 1024 */
    VS_LIMIT_CACHE_WINDOW_THRESHOLD = 12, /* file cache: larger files go in windows. 8 MiB */
    VS_LIMIT_CACHE_WINDOW_SIZE = 13      /* file cache: window size (4 KiB..1 GiB). 2 MiB */
};

/* Timeouts in milliseconds, for vs_config_set_timeout(). Zero is invalid except where noted. */
enum {
    VS_TIMEOUT_HEADER = 1,           /* whole request head (slowloris); 408. Default 10 s */
    VS_TIMEOUT_KEEP_ALIVE = 2,       /* idle keep-alive connection. Default 75 s */
    VS_TIMEOUT_BODY_READ = 3,        /* pause between body reads; 408. Default 30 s */
    VS_TIMEOUT_STREAM_BODY = 4,      /* a whole streamed body; 408. Default 1 h */
    VS_TIMEOUT_WRITE = 5,            /* no write progress (client stopped reading). 60 s */
    VS_TIMEOUT_LINGER = 6,           /* draining input after an error response. 2 s */
    VS_TIMEOUT_SHUTDOWN_GRACE = 7,   /* in-flight requests at stop. Default 10 s */
    VS_TIMEOUT_CACHE_REVALIDATE = 8, /* file cache: trust before stat() again (0 ok). 1 s */
    VS_TIMEOUT_CACHE_IDLE = 9,       /* file cache: release unused mappings. Default 60 s */
    VS_TIMEOUT_ACCEPT_BACKOFF = 10   /* pause in accepting when out of descriptors. 500 ms */
};

/* On/off options, for vs_config_set_flag(). */
enum {
    VS_FLAG_REDIRECT_TRAILING_SLASH = 1, /* /a/ -> /a when only the other has a route. On */
    VS_FLAG_METHOD_NOT_ALLOWED = 2,      /* 405 with Allow for other methods' paths. On */
    VS_FLAG_AUTO_OPTIONS = 3,            /* answer OPTIONS with 204 and Allow. On */
    /* Raise the process's soft RLIMIT_NOFILE to the hard limit at start (process-wide, stays
     * raised, inherited by children; turn off if the host uses select()). On */
    VS_FLAG_RAISE_FD_LIMIT = 4
};

/* Makes a configuration holding every default.
 * Owns: *out is the caller's, for vs_config_free(). Thread: any thread. Since: 0.1 */
VS_API int vs_config_new(vs_config_t **out);
/* Frees a configuration (servers made from it keep their own copy). NULL: no-op.
 * Thread: any thread, one at a time per handle. Owns: frees the handle. Since: 0.1 */
VS_API void vs_config_free(vs_config_t *cfg);
/* TCP port, 0 for an ephemeral one (read it with vs_server_port()). Default 8080.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_config_set_port(vs_config_t *cfg, unsigned port);
/* Listens on this numeric IPv4 or IPv6 address only ("127.0.0.1", "::1", "0.0.0.0", "::"). Default
 * "127.0.0.1", so an embedded server is never exposed by accident.
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_config_set_address(vs_config_t *cfg, const char *address);
/* Listens on one more address as well.
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_config_add_address(vs_config_t *cfg, const char *address);
/* Listener options, for vs_config_add_listener()'s `flags`. */
enum {
    VS_LISTEN_TLS = 1 /* HTTPS: TLS with the vs_config_*_tls_* settings (a certificate needed) */
};
/* Adds a listener: a numeric IPv4 or IPv6 address and a port of its own (0: an ephemeral one for
 * this listener alone), for addresses that do not share one port. Once any is added, only the
 * listeners are bound and the address/port settings above are ignored. `flags`: 0 or
 * VS_LISTEN_TLS. VS_EINVAL for a bad address, port or flags, or an address and non-zero port
 * added twice. vs_server_listener_port() reads each bound port.
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_config_add_listener(vs_config_t *cfg, const char *address, unsigned port,
                                  unsigned flags);
/* Loop threads, each with its own listener; 0 means one per core (the default). Up to 1024.
 * Ignored by vs_server_attach(), which serves on the host's loop.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_config_set_threads(vs_config_t *cfg, unsigned threads);
/* listen() backlog per socket, at least 1. Default 511.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_config_set_backlog(vs_config_t *cfg, int backlog);
/* Value of the Server response header; "" sends none. No control characters. Default "vstream".
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_config_set_server_name(vs_config_t *cfg, const char *name);
/* Sets a VS_LIMIT_* value. VS_EINVAL for an unknown limit or an out-of-range value.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_config_set_limit(vs_config_t *cfg, int limit, uint64_t value);
/* Reads a VS_LIMIT_* value into *out.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_config_get_limit(const vs_config_t *cfg, int limit, uint64_t *out);
/* Sets a VS_TIMEOUT_* value, in milliseconds.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_config_set_timeout(vs_config_t *cfg, int timeout, uint64_t ms);
/* Reads a VS_TIMEOUT_* value, in milliseconds, into *out.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_config_get_timeout(const vs_config_t *cfg, int timeout, uint64_t *out);
/* Turns a VS_FLAG_* option on (nonzero) or off (0).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_config_set_flag(vs_config_t *cfg, int flag, int on);
/* Reads a VS_FLAG_* option: 1 on, 0 off, or a negative error.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_config_get_flag(const vs_config_t *cfg, int flag);

/* ---- TLS (HTTPS listeners) ----------------------------------------------------------------
 * Used by the listeners added with VS_LISTEN_TLS; ignored without one. vs_server_new() reads
 * the files (VS_EINVAL or VS_EIO naming a bad one). docs/tls.md has each default. */

/* Adds a certificate chain and its private key (PEM files; the key unencrypted). The first added
 * is the default; SNI picks among them by name (exact names before wildcards).
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_config_add_tls_certificate(vs_config_t *cfg, const char *cert_file,
                                         const char *key_file);
/* Forgets every certificate added (to build new options for vs_server_reload_tls()).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_config_clear_tls_certificates(vs_config_t *cfg);

/* TLS text settings, for vs_config_set_tls_text(). */
enum {
    VS_TLS_CIPHERS = 1,        /* TLS 1.2 cipher list (OpenSSL syntax). Mozilla "intermediate" */
    VS_TLS_CIPHERSUITES = 2,   /* TLS 1.3 suites. AES-128-GCM, AES-256-GCM, CHACHA20 */
    VS_TLS_ALPN = 3,           /* ALPN protocols, comma-separated, "" for none. "http/1.1" */
    VS_TLS_CLIENT_CA_FILE = 4  /* PEM CAs that client certificates must chain to; "" off. "" */
};
/* Sets a VS_TLS_* text setting. VS_EINVAL for an unknown setting or a bad value.
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_config_set_tls_text(vs_config_t *cfg, int setting, const char *value);

/* TLS number settings, for vs_config_set_tls_value(). */
enum {
    VS_TLS_MIN_VERSION = 1,         /* 12 (TLS 1.2) or 13 (TLS 1.3). Default 12 */
    VS_TLS_SESSION_CACHE_SIZE = 2,  /* sessions kept for resumption (0..2^24). Default 20480 */
    VS_TLS_SESSION_TIMEOUT_S = 3,   /* resumable for this long (1 s..7 days). Default 300 s */
    VS_TLS_SESSION_TICKETS = 4,     /* 1 on, 0 off. Default on */
    VS_TLS_TICKET_KEY_ROTATION_S = 5, /* a ticket key seals for this long (1 s..7 days). 1 h */
    VS_TLS_REQUIRE_CLIENT_CERT = 6, /* with a client CA: 1 refuses clients without one. On */
    VS_TLS_HANDSHAKE_TIMEOUT_MS = 7, /* connect to handshake done (1 ms..1 h). Default 10 s */
    VS_TLS_MAX_HANDSHAKES = 8       /* handshakes at once; more are closed (>= 1). 1024 */
};
/* Sets a VS_TLS_* number setting. VS_EINVAL for an unknown setting or an out-of-range value.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_config_set_tls_value(vs_config_t *cfg, int setting, uint64_t value);
/* Reads a VS_TLS_* number setting into *out.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_config_get_tls_value(const vs_config_t *cfg, int setting, uint64_t *out);

/* ---- server -------------------------------------------------------------------------------
 * Lifecycle: vs_server_new, register routes and middleware, then run it one of three ways:
 * vs_server_run() (blocks the calling thread), vs_server_start() ... vs_server_stop() (its own
 * loop threads; the host keeps its thread), or vs_server_attach() (on the host's libuv loop).
 * A stopped server cannot be restarted. Several servers can live in one process. */

/* Makes a server from `cfg` (copied; NULL: every default). VS_EINVAL names the bad field in
 * vs_last_error_message().
 * Owns: *out is the caller's, for vs_server_free(). Thread: any thread. Since: 0.1 */
VS_API int vs_server_new(vs_server_t **out, const vs_config_t *cfg);
/* Stops the server if it runs (gracefully, within VS_TIMEOUT_SHUTDOWN_GRACE; an attached one at
 * once), joins its threads and frees it, with every route's and middleware's userdata. VS_EBUSY,
 * freeing nothing, if called from one of the server's own callbacks. NULL: VS_OK. An attached
 * server's last two handles on the host loop are freed when that loop next runs.
 * Thread: any thread not inside this server's callbacks; for an attached server, the host loop's
 * thread (or any thread while that loop is not running). Owns: frees srv and every userdata it
 * holds. Since: 0.1 */
VS_API int vs_server_free(vs_server_t *srv);
/* Binds every address on every loop thread and starts the threads; returns once all listen.
 * VS_EADDRINUSE, VS_EACCES, ... with nothing left running if a bind fails; VS_ERUNNING or
 * VS_ESTOPPED if called again.
 * Thread: any thread. Owns: nothing changes hands. Since: 0.1 */
VS_API int vs_server_start(vs_server_t *srv);
/* vs_server_start(), then blocks until the server stops (vs_server_stop() from a handler, or from
 * any other thread, e.g. one woken by a signal: vs_server_stop() is not async-signal-safe).
 * Thread: any thread. Owns: nothing changes hands. Since: 0.1 */
VS_API int vs_server_run(vs_server_t *srv);
/* Serves on the host's running libuv loop instead of loop threads: binds, then returns; the host's
 * uv_run() does the serving. The server's own handles live on a private loop that the host loop
 * drives (its epoll descriptor, a timer), so nothing of the host's loop is touched. SIGPIPE is
 * blocked while the server works and restored after.
 * Thread: the thread that runs `loop`, and from then on the server's callbacks run there. Owns:
 * borrows loop, which must outlive the server. Since: 0.1 */
VS_API int vs_server_attach(vs_server_t *srv, struct uv_loop_s *loop);
/* Stops accepting, lets in-flight requests finish up to VS_TIMEOUT_SHUTDOWN_GRACE, closes the rest
 * and joins the loop threads. Idempotent (VS_OK again). From a handler, or for an attached server,
 * it only starts the stop and returns: the loop finishes it (an attached server is done when
 * vs_server_running() is 0; the host's uv_run() returns once nothing else runs).
 * Thread: any thread. Owns: nothing changes hands. Since: 0.1 */
VS_API int vs_server_stop(vs_server_t *srv);
/* Blocks until the server has stopped (after vs_server_stop() from elsewhere). VS_EBUSY from one
 * of the server's own callbacks, and on the thread of an attached server's loop: that loop must
 * run for the stop to finish.
 * Thread: any thread. Owns: nothing changes hands. Since: 0.1 */
VS_API int vs_server_wait(vs_server_t *srv);
/* The bound port (1..65535) once started or attached, 0 before; negative on error.
 * Thread: any thread. Owns: nothing changes hands. Since: 0.1 */
VS_API int vs_server_port(const vs_server_t *srv);
/* The bound port of listener `index` (0-based: in the order vs_config_add_listener() added them,
 * or of the addresses when none was added) once started or attached; 0 before; VS_ENOENT past
 * the last listener; negative on error.
 * Thread: any thread. Owns: nothing changes hands. Since: 0.1 */
VS_API int vs_server_listener_port(const vs_server_t *srv, size_t index);
/* 1 between start (or attach) and the end of the stop, else 0; negative on error.
 * Thread: any thread. Owns: nothing changes hands. Since: 0.1 */
VS_API int vs_server_running(const vs_server_t *srv);

/* Loads TLS certificates anew for handshakes that begin afterwards; connections already open
 * keep theirs. `cfg` NULL: reads the files of the settings last loaded again (certificates renewed
 * in place, as SIGHUP in vstream-serve). Else: takes cfg's TLS settings (certificates, ciphers,
 * versions, ALPN, sessions, client CA; the handshake timeout and cap keep their first values).
 * On any error (VS_EINVAL, VS_EIO, naming the option and file) nothing changes and the old
 * certificates stay in use. VS_EINVAL without a TLS listener.
 * Thread: any thread. Owns: cfg is only read. Since: 0.1 */
VS_API int vs_server_reload_tls(vs_server_t *srv, const vs_config_t *cfg);

/* Counters, for vs_server_stat(). Connection and request counts are summed over the loops. */
enum {
    VS_STAT_CONNECTIONS_ACCEPTED = 1, /* accepted and served */
    VS_STAT_CONNECTIONS_REJECTED = 2, /* refused with 503 past VS_LIMIT_MAX_CONNECTIONS */
    VS_STAT_CONNECTIONS_OPEN = 3,     /* open now */
    VS_STAT_REQUESTS = 4,             /* requests whose response was sent */
    VS_STAT_CACHE_HITS = 5,           /* file cache lookups served by a cached file */
    VS_STAT_CACHE_MISSES = 6,         /* file cache lookups that opened or mapped */
    VS_STAT_CACHE_EVICTIONS = 7,      /* mappings released */
    VS_STAT_CACHE_MAPPED_BYTES = 8,   /* bytes mapped now */
    VS_STAT_CACHE_OPEN_ENTRIES = 9,   /* files cached now */
    VS_STAT_CONNECTIONS_REFUSED = 10, /* refused with 503: out of descriptors (EMFILE) */
    VS_STAT_TLS_HANDSHAKES = 11,      /* TLS handshakes completed */
    VS_STAT_TLS_RESUMED = 12,         /* of them, sessions resumed */
    VS_STAT_TLS_IN_PROGRESS = 13,     /* TLS handshakes under way now */
    VS_STAT_TLS_FAILED_TIMEOUT = 14,  /* handshakes not done within the handshake timeout */
    VS_STAT_TLS_FAILED_VERSION = 15,  /* no version or cipher in common */
    VS_STAT_TLS_FAILED_CERTIFICATE = 16, /* client certificate missing or not verified */
    VS_STAT_TLS_FAILED_PLAIN_HTTP = 17,  /* plain HTTP sent to a TLS port (answered 400) */
    VS_STAT_TLS_FAILED_CLOSED = 18,      /* the client closed mid-handshake */
    VS_STAT_TLS_FAILED_PROTOCOL = 19,    /* anything else: not TLS, bad records */
    VS_STAT_TLS_REFUSED_BUSY = 20,       /* closed: VS_TLS_MAX_HANDSHAKES under way */
    VS_STAT_TLS_KTLS_CONNECTIONS = 21,   /* connections whose records the kernel encrypts */
    VS_STAT_TLS_USERSPACE_CONNECTIONS = 22, /* connections OpenSSL encrypts in user space */
    VS_STAT_TLS_KTLS_SENDFILE_BYTES = 23,   /* file bytes sent by SSL_sendfile (kernel TLS) */
    VS_STAT_TLS_TRUNCATED_READS = 24        /* responses cut: a mapped file shrank under TLS */
};
/* Reads one VS_STAT_* counter (a snapshot) into *out. VS_EINVAL for an unknown counter.
 * Thread: any thread. Owns: *out is the caller's. Since: 0.1 */
VS_API int vs_server_stat(const vs_server_t *srv, int stat, uint64_t *out);

/* The server's root group (prefix ""): its middleware sees every request, routed or not. NULL for
 * a bad handle.
 * Owns: the server's, valid as long as it. Thread: any thread. Since: 0.1 */
VS_API vs_group_t *vs_server_root(vs_server_t *srv);
/* Sets the handler for requests no route matches (default: 404); with no routes at all it sees
 * every request. A later call replaces the handler (the earlier userdata is freed then).
 * Thread: before start only (VS_ERUNNING after). Owns: userdata (userdata_free runs once, when the
 * server is freed or replaced, or at once on failure). Since: 0.1 */
VS_API int vs_server_set_fallback(vs_server_t *srv, vs_handler_cb handler, void *userdata,
                                  vs_free_cb userdata_free);

/* ---- routes and groups --------------------------------------------------------------------
 * Patterns: static text, ":name" for one path segment, a final "*name" for the rest of the
 * path. Middleware order: the server's, each enclosing group's from the outermost in, each in
 * registration order, then the handler. Thread: before start only: VS_ERUNNING after, and
 * VS_ECONFLICT for a clash (vs_last_error_message() names both routes). */

/* A group at `prefix` below `parent` ("/api" then "/v1" is "/api/v1").
 * Owns: *out is the server's, valid as long as it. Thread: before start only. Since: 0.1 */
VS_API int vs_group_nested(vs_group_t *parent, const char *prefix, vs_group_t **out);
/* The group's full prefix ("" for the root); NULL for a bad handle.
 * Owns: the group's. Thread: any thread. Since: 0.1 */
VS_API const char *vs_group_prefix(const vs_group_t *group);
/* Adds middleware to the group: it runs for each of its routes (on the root: every request).
 * Thread: before start only. Owns: userdata (userdata_free runs once, when the server is freed or
 * at once on failure); strings are copied. Since: 0.1 */
VS_API int vs_group_use(vs_group_t *group, vs_middleware_cb middleware, void *userdata,
                        vs_free_cb userdata_free);
/* Routes `method` (upper-case letters, '-' and '_': "GET", "POST", "PURGE") and `pattern` to
 * `handler`. GET also answers HEAD
 * unless a HEAD route exists. The request body is buffered first (up to VS_LIMIT_MAX_BODY_BYTES).
 * Thread: before start only. Owns: userdata (userdata_free runs once, when the server is freed or
 * at once on failure); strings are copied. Since: 0.1 */
VS_API int vs_group_route(vs_group_t *group, const char *method, const char *pattern,
                          vs_handler_cb handler, void *userdata, vs_free_cb userdata_free);
/* A streaming route: the handler runs once the head has arrived, before the body, which it reads
 * with vs_ctx_read_body() or vs_ctx_receive_upload(); a request refused by middleware is never
 * read.
 * Thread: before start only. Owns: userdata (userdata_free runs once, when the server is freed or
 * at once on failure); strings are copied. Since: 0.1 */
VS_API int vs_group_route_stream(vs_group_t *group, const char *method, const char *pattern,
                                 vs_handler_cb handler, void *userdata,
                                 vs_free_cb userdata_free);
/* Serves the files below directory `root` at `prefix` for GET and HEAD, with Range and conditional
 * requests, through the mmap file cache, confined to root. `options` may be NULL (defaults) and is
 * copied. VS_EINVAL if root is not a readable directory.
 * Thread: before start only. Owns: strings and options are copied. Since: 0.1 */
VS_API int vs_group_static(vs_group_t *group, const char *prefix, const char *root,
                           const vs_static_options_t *options);

/* ---- built-in middleware ------------------------------------------------------------------
 * Lists are comma-separated ("GET, POST"); NULL means the default. Thread: before start. */

/* One JSON line per finished request (time, method, path, route, status, bytes, duration, client,
 * user agent, request and trace id), written to `sink` on the log's own thread (NULL: stderr).
 * `queue_lines` lines wait at most (0: 8192); beyond, lines are dropped and counted.
 * Thread: before start only. Owns: userdata (userdata_free runs once, when the server is freed or
 * at once on failure); strings are copied. Since: 0.1 */
VS_API int vs_group_use_access_log(vs_group_t *group, size_t queue_lines, vs_log_cb sink,
                                   void *userdata, vs_free_cb userdata_free);
/* Reads or makes the request id (header `header`, NULL: "X-Request-ID"; an incoming one is kept if
 * well formed and trust_incoming is nonzero) and the W3C traceparent.
 * Thread: before start only. Owns: strings and options are copied. Since: 0.1 */
VS_API int vs_group_use_request_id(vs_group_t *group, const char *header, int trust_incoming);
/* Turns a failure escaping the rest of the chain into a 500 with a JSON error that reveals
 * nothing, logged to `log` (NULL: stderr).
 * Thread: before start only. Owns: userdata (userdata_free runs once, when the server is freed or
 * at once on failure); strings are copied. Since: 0.1 */
VS_API int vs_group_use_recovery(vs_group_t *group, vs_log_cb log, void *userdata,
                                 vs_free_cb userdata_free);
/* A token bucket per client: `rate` tokens a second (> 0; default 10), `burst` at most (>= 1;
 * default 20), `max_clients` tracked (0: 100000). Clients are keyed by peer address, or by
 * `key_header` (NULL: none) when the peer is one of `trusted_proxies` (a list, NULL: none). An
 * empty bucket gets 429 with Retry-After.
 * Thread: before start only. Owns: strings and options are copied. Since: 0.1 */
VS_API int vs_group_use_rate_limit(vs_group_t *group, double rate, double burst,
                                   size_t max_clients, const char *key_header,
                                   const char *trusted_proxies);
/* CORS: Access-Control-* headers for allowed origins, and preflight answers (204, or 403). Lists
 * NULL for the defaults: origins "*"; methods GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS;
 * headers Content-Type, Authorization, Range; exposed Content-Length, Content-Range, Accept-
 * Ranges, X-Request-ID. max_age_s < 0: 600.
 * Thread: before start only. Owns: strings and options are copied. Since: 0.1 */
VS_API int vs_group_use_cors(vs_group_t *group, const char *allow_origins,
                             const char *allow_methods, const char *allow_headers,
                             const char *expose_headers, int allow_credentials,
                             long max_age_s);

/* ---- static directory options ---------------------------------------------------------- */
/* Makes options holding the defaults.
 * Owns: the caller's, for vs_static_options_free(). Thread: any thread, one at a time per handle.
 * Since: 0.1 */
VS_API int vs_static_options_new(vs_static_options_t **out);
/* NULL: no-op.
 * Thread: any thread, one at a time per handle. Owns: frees the handle. Since: 0.1 */
VS_API void vs_static_options_free(vs_static_options_t *opts);
/* File served for a directory ("" for none). Default "index.html".
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_static_options_set_index(vs_static_options_t *opts, const char *index);
/* HTML listing of a directory without index. Default off (404).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_static_options_set_listing(vs_static_options_t *opts, int on);
/* Serve names starting with '.'. Default off (404).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_static_options_set_dotfiles(vs_static_options_t *opts, int on);
/* Follow symlinks leading outside the root. Default off (404).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_static_options_set_symlinks_outside_root(vs_static_options_t *opts, int on);
/* Content type for files ending in ".ext" (`ext` without the dot).
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_static_options_add_mime_type(vs_static_options_t *opts, const char *ext,
                                           const char *content_type);
/* Pacing: `rate` bytes a second (0: unlimited, the default) after `after` bytes.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_static_options_set_limit_rate(vs_static_options_t *opts, uint64_t rate,
                                            uint64_t after);
/* A Cache-Control value for every file ("" sends none, the default).
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_static_options_set_cache_control(vs_static_options_t *opts, const char *value);

/* ---- file response options ------------------------------------------------------------- */
/* Makes options holding the defaults.
 * Owns: the caller's, for vs_file_options_free(). Thread: any thread. Since: 0.1 */
VS_API int vs_file_options_new(vs_file_options_t **out);
/* NULL: no-op.
 * Thread: any thread, one at a time per handle. Owns: frees the handle. Since: 0.1 */
VS_API void vs_file_options_free(vs_file_options_t *opts);
/* Content-Type; "" (the default): from the file name's extension.
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_file_options_set_content_type(vs_file_options_t *opts, const char *type);
/* Serves [offset, offset + length) as if it were the whole file (Range applies within it); length
 * UINT64_MAX: to the end. Default: the whole file.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_file_options_set_part(vs_file_options_t *opts, uint64_t offset, uint64_t length);
/* Pacing: `rate` bytes a second (0: unlimited, the default) after `after` bytes.
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_file_options_set_limit_rate(vs_file_options_t *opts, uint64_t rate,
                                          uint64_t after);
/* A Cache-Control value ("" sends none, the default).
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_file_options_set_cache_control(vs_file_options_t *opts, const char *value);
/* Honour Range requests (default on).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_file_options_set_ranges(vs_file_options_t *opts, int on);

/* ---- the request --------------------------------------------------------------------------
 * A vs_ctx_t is valid during the callback that received it; vs_ctx_retain() keeps it (and the
 * request) until the matching vs_ctx_release(). Strings returned are NUL-terminated copies
 * made on demand, valid as long as the handle; `len` (may be NULL) receives their length.
 * Thread: the loop thread in a callback, or any one thread at a time while retained. */

/* The method ("GET").
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API const char *vs_ctx_method(vs_ctx_t *ctx, size_t *len);
/* The request-target as received ("/videos/1?t=30").
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API const char *vs_ctx_target(vs_ctx_t *ctx, size_t *len);
/* The target's path before '?', not decoded.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API const char *vs_ctx_path(vs_ctx_t *ctx, size_t *len);
/* The query after '?' ("" when none), not decoded.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API const char *vs_ctx_query_string(vs_ctx_t *ctx, size_t *len);
/* HTTP minor version: 0 for HTTP/1.0, 1 for HTTP/1.1; negative on error.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: nothing changes
 * hands. Since: 0.1 */
VS_API int vs_ctx_http_minor(vs_ctx_t *ctx);
/* The first header named `name` (case-insensitive), or NULL if absent.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API const char *vs_ctx_header(vs_ctx_t *ctx, const char *name, size_t *len);
/* How many header fields the request has.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: nothing changes
 * hands. Since: 0.1 */
VS_API size_t vs_ctx_header_count(vs_ctx_t *ctx);
/* Header field `index` (in order received): its name and value. VS_ENOENT past the end.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API int vs_ctx_header_at(vs_ctx_t *ctx, size_t index, const char **name,
                            const char **value);
/* The buffered request body (not a copy, not NUL-terminated; empty on a streaming route), or NULL
 * with *len 0 when empty. Valid as long as the handle.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: the request's
 * bytes, borrowed. Since: 0.1 */
VS_API const void *vs_ctx_body(vs_ctx_t *ctx, size_t *len);
/* The peer's IP address as text ("127.0.0.1").
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API const char *vs_ctx_peer_address(vs_ctx_t *ctx, size_t *len);
/* The peer's TCP port; negative on error.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: nothing changes
 * hands. Since: 0.1 */
VS_API int vs_ctx_peer_port(vs_ctx_t *ctx);
/* The matched route's pattern ("/videos/:id"), "" when none matched.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API const char *vs_ctx_route(vs_ctx_t *ctx, size_t *len);
/* The normalised path routing used (dot segments removed, escapes decoded).
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API const char *vs_ctx_route_path(vs_ctx_t *ctx, size_t *len);
/* The decoded value of route parameter `name`, or NULL if the route has none.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API const char *vs_ctx_param(vs_ctx_t *ctx, const char *name, size_t *len);
/* How many route parameters there are.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: nothing changes
 * hands. Since: 0.1 */
VS_API size_t vs_ctx_param_count(vs_ctx_t *ctx);
/* Route parameter `index` (in pattern order). VS_ENOENT past the end.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API int vs_ctx_param_at(vs_ctx_t *ctx, size_t index, const char **name, const char **value);
/* Value number `index` (0 for the first) of query parameter `key`, decoded ('+' is a space), or
 * NULL if absent.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API const char *vs_ctx_query(vs_ctx_t *ctx, const char *key, size_t index, size_t *len);
/* The request id ("" unless the request-id middleware ran).
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API const char *vs_ctx_request_id(vs_ctx_t *ctx, size_t *len);
/* The 32-hex-digit trace id ("" unless the request-id middleware ran).
 * Thread: the callback's thread, or one thread at a time while retained. Owns: returned strings
 * are the handle's (see above). Since: 0.1 */
VS_API const char *vs_ctx_trace_id(vs_ctx_t *ctx, size_t *len);

/* ---- the response ---------------------------------------------------------------------- */
/* Sets the status code (100..999; default 200).
 * Thread: the callback's thread, or one thread at a time while retained. Owns: nothing changes
 * hands. Since: 0.1 */
VS_API int vs_ctx_set_status(vs_ctx_t *ctx, int status);
/* Replaces any header `name` with one field. Content-Length, Transfer-Encoding and Date are the
 * engine's; "Connection: close" closes after the response. VS_EINVAL for a name that is not a
 * token or a value holding CR, LF or NUL.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: strings are copied.
 * Since: 0.1 */
VS_API int vs_ctx_set_header(vs_ctx_t *ctx, const char *name, const char *value);
/* Adds a header field, keeping others of the name (Set-Cookie). Same rules.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: strings are copied.
 * Since: 0.1 */
VS_API int vs_ctx_add_header(vs_ctx_t *ctx, const char *name, const char *value);
/* Sends the response: `status` and `len` bytes of `body`. body_free NULL: the bytes are copied
 * now; otherwise they are sent without a copy and body_free(body) runs exactly once, on any
 * thread, when they are no longer needed, on every path, failure included. VS_EANSWERED if the
 * request was answered already (body_free still runs).
 * Thread: the callback's thread, or one thread at a time while retained. Owns: body passes to
 * vstream when body_free is set. Since: 0.1 */
VS_API int vs_ctx_send(vs_ctx_t *ctx, int status, const void *body, size_t len,
                       vs_free_cb body_free);
/* Sends the NUL-terminated `json` (copied) with Content-Type application/json.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: strings are copied.
 * Since: 0.1 */
VS_API int vs_ctx_send_json(vs_ctx_t *ctx, int status, const char *json);
/* Sends the NUL-terminated `text` (copied) as text/plain; charset=utf-8.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: strings are copied.
 * Since: 0.1 */
VS_API int vs_ctx_send_text(vs_ctx_t *ctx, int status, const char *text);
/* Sends the file at `path` from the mmap cache, zero-copy, with Range and conditional requests
 * (200, 206, 304, 412, 416), ETag and Last-Modified; 404 when missing, 403 when unreadable.
 * `options` may be NULL and is copied. The path is not checked against any root: never pass a
 * client's path unchecked (vs_group_static() does that).
 * Thread: the callback's thread, or one thread at a time while retained. Owns: strings are copied.
 * Since: 0.1 */
VS_API int vs_ctx_send_file(vs_ctx_t *ctx, const char *path, const vs_file_options_t *options);
/* vs_ctx_send_file() for [offset, offset + length) of the file only.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: strings are copied.
 * Since: 0.1 */
VS_API int vs_ctx_send_file_range(vs_ctx_t *ctx, const char *path, uint64_t offset,
                                  uint64_t length);
/* Starts a streamed response of unknown length (chunked for HTTP/1.1, close-delimited for 1.0)
 * with `status`; feed it through *out from any thread.
 * Owns: *out is the caller's, for vs_stream_free(). VS_EANSWERED if answered already. Thread: the
 * callback's thread, or one thread at a time while retained. Since: 0.1 */
VS_API int vs_ctx_stream(vs_ctx_t *ctx, int status, vs_stream_t **out);
/* 1 once the request has been answered, else 0; negative on error.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: nothing changes
 * hands. Since: 0.1 */
VS_API int vs_ctx_responded(vs_ctx_t *ctx);
/* The status the response carries.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: nothing changes
 * hands. Since: 0.1 */
VS_API int vs_ctx_response_status(vs_ctx_t *ctx);
/* Bytes of the response body as sent, once written (e.g. in an on-finish callback).
 * Thread: the callback's thread, or one thread at a time while retained. Owns: nothing changes
 * hands. Since: 0.1 */
VS_API uint64_t vs_ctx_response_size(vs_ctx_t *ctx);
/* Runs `fn` once on the loop thread when the request is over (answered and queued, or cancelled);
 * the ctx it gets is valid during the call. VS_EINVAL off the loop thread.
 * Thread: the loop thread (in a callback of this request). Owns: userdata
 * (userdata_free runs once, when the request is over or at once on failure). Since: 0.1 */
VS_API int vs_ctx_on_finish(vs_ctx_t *ctx, vs_handler_cb fn, void *userdata,
                            vs_free_cb userdata_free);

/* ---- asynchronous answers ---------------------------------------------------------------- */
/* Keeps ctx and its request past the callback: the engine waits for the answer, which may come
 * from any thread. Each retain needs one vs_ctx_release(). If the last release comes without an
 * answer, the engine answers 500, so a forgotten request never hangs.
 * Thread: during a callback that received ctx, or any thread while retained. Owns: see
 * vs_ctx_retain. Since: 0.1 */
VS_API int vs_ctx_retain(vs_ctx_t *ctx);
/* Drops one retain; after the last one ctx is gone. VS_EINVAL without a matching retain. A
 * retained ctx may still be released after its server was freed (its answer is dropped).
 * Thread: any thread. Owns: see vs_ctx_retain. Since: 0.1 */
VS_API int vs_ctx_release(vs_ctx_t *ctx);
/* 1 when the connection closed (or the server stopped) before the answer was sent: an answer then
 * is dropped.
 * Thread: any thread while retained. Owns: see vs_ctx_retain. Since: 0.1 */
VS_API int vs_ctx_cancelled(vs_ctx_t *ctx);
/* Runs `fn` once, on the loop thread, if the request is cancelled (at once, on the calling thread,
 * if it already is). A later call replaces an earlier `fn`, whose userdata is freed then; once the
 * request has been answered and sent, `fn` is dropped unrun and its userdata freed.
 * Thread: any thread while retained. Owns: userdata (userdata_free runs once, when the request is
 * over or at once on failure). Since: 0.1 */
VS_API int vs_ctx_on_cancel(vs_ctx_t *ctx, vs_event_cb fn, void *userdata,
                            vs_free_cb userdata_free);

/* ---- middleware -------------------------------------------------------------------------- */
/* Runs the rest of the chain (then the handler). Once: VS_EINVAL the second time. Valid during the
 * middleware callback, or while its ctx is retained, from any thread: the rest of the chain then
 * runs on the loop thread.
 * Thread: the middleware callback, or any thread while its ctx is retained. Owns: consumes next.
 * Since: 0.1 */
VS_API int vs_next_call(vs_next_t *next);

/* ---- streamed request bodies and uploads ------------------------------------------------- */
/* Reads the body as it arrives (on a streaming route, straight off the socket with flow control;
 * elsewhere the buffered body at once) and answers "100 Continue" if asked. Exactly one of on_end
 * and on_error runs, once, on the loop thread (on_error on the calling thread, during this call,
 * if the server has stopped meanwhile), with a ctx valid during that call; until then the request
 * is kept as if retained. max_bytes 0: VS_LIMIT_MAX_STREAM_BODY_BYTES; timeout_ms 0:
 * VS_TIMEOUT_STREAM_BODY. Once per request: a second call gets on_error with status 0.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: userdata
 * (userdata_free runs once, when the request is over or at once on failure). Since: 0.1 */
VS_API int vs_ctx_read_body(vs_ctx_t *ctx, vs_body_data_cb on_data, vs_body_end_cb on_end,
                            vs_body_error_cb on_error, void *userdata, vs_free_cb userdata_free,
                            uint64_t max_bytes, uint64_t timeout_ms);
/* Resumes reading after on_data returned nonzero.
 * Thread: any thread while retained. Owns: nothing changes hands. Since: 0.1 */
VS_API int vs_ctx_resume_body(vs_ctx_t *ctx);
/* Stores the body as files in the options' directory: each file part of a multipart/form-data
 * body, or any other body whole, hashed with SHA-256 and named only once all arrived intact; on
 * failure none is left and the client gets 400, 408, 409, 413 or 507. On success `done` runs
 * (NULL: the answer is 201 with vs_upload_result_json()). `options` is copied and must name a
 * directory.
 * Thread: the callback's thread, or one thread at a time while retained. Owns: userdata
 * (userdata_free runs once, when the request is over or at once on failure); options are copied.
 * Since: 0.1 */
VS_API int vs_ctx_receive_upload(vs_ctx_t *ctx, const vs_upload_options_t *options,
                                 vs_upload_done_cb done, void *userdata,
                                 vs_free_cb userdata_free);

/* Makes upload options holding the defaults.
 * Owns: the caller's, for vs_upload_options_free(). Thread: any thread. Since: 0.1 */
VS_API int vs_upload_options_new(vs_upload_options_t **out);
/* NULL: no-op.
 * Thread: any thread, one at a time per handle. Owns: frees the handle. Since: 0.1 */
VS_API void vs_upload_options_free(vs_upload_options_t *opts);
/* Destination directory (must exist and be writable). Required.
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_upload_options_set_dir(vs_upload_options_t *opts, const char *dir);
/* Name for a raw body, reduced to a safe basename; "" (default): a generated one.
 * Thread: any thread, one at a time per handle. Owns: strings are copied. Since: 0.1 */
VS_API int vs_upload_options_set_name(vs_upload_options_t *opts, const char *name);
/* Replace an existing file atomically (default off: 409).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_upload_options_set_overwrite(vs_upload_options_t *opts, int on);
/* Largest body in bytes (0, the default: VS_LIMIT_MAX_STREAM_BODY_BYTES).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_upload_options_set_max_bytes(vs_upload_options_t *opts, uint64_t bytes);
/* multipart: bytes of non-file fields kept in memory (default 8 MiB).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_upload_options_set_max_memory(vs_upload_options_t *opts, uint64_t bytes);
/* multipart: parts in the body (default 64).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_upload_options_set_max_parts(vs_upload_options_t *opts, uint64_t parts);
/* multipart: bytes of one part's headers (default 8 KiB).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_upload_options_set_max_part_header_bytes(vs_upload_options_t *opts,
                                                       uint64_t bytes);
/* Time for the whole body in ms (0, the default: VS_TIMEOUT_STREAM_BODY).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_upload_options_set_timeout(vs_upload_options_t *opts, uint64_t ms);
/* fdatasync each file before naming it, on the loop thread (default off).
 * Thread: any thread, one at a time per handle. Owns: nothing is kept. Since: 0.1 */
VS_API int vs_upload_options_set_sync(vs_upload_options_t *opts, int on);

/* Fields of a stored file, for vs_upload_result_file(). */
enum {
    VS_UPLOAD_FIELD = 1,        /* the form field ("" for a raw body) */
    VS_UPLOAD_FILENAME = 2,     /* the client's file name, decoded (display only) */
    VS_UPLOAD_NAME = 3,         /* the name it was stored under */
    VS_UPLOAD_PATH = 4,         /* directory + "/" + name */
    VS_UPLOAD_CONTENT_TYPE = 5, /* the part's (or request's) Content-Type */
    VS_UPLOAD_SHA256 = 6        /* SHA-256 of the bytes, lowercase hex */
};
/* How many files were stored.
 * Thread: the done callback. Owns: the result's, valid during the callback. Since: 0.1 */
VS_API size_t vs_upload_result_file_count(const vs_upload_result_t *result);
/* A VS_UPLOAD_* text of file `index`, or NULL past the end.
 * Owns: the result's. Thread: the done callback. Since: 0.1 */
VS_API const char *vs_upload_result_file(const vs_upload_result_t *result, size_t index,
                                         int what);
/* The size in bytes of file `index` (0 past the end).
 * Thread: the done callback. Owns: the result's, valid during the callback. Since: 0.1 */
VS_API uint64_t vs_upload_result_file_size(const vs_upload_result_t *result, size_t index);
/* How many non-file form fields arrived.
 * Thread: the done callback. Owns: the result's, valid during the callback. Since: 0.1 */
VS_API size_t vs_upload_result_field_count(const vs_upload_result_t *result);
/* Form field `index`: its name and value. VS_ENOENT past the end.
 * Owns: the result's. Thread: the done callback. Since: 0.1 */
VS_API int vs_upload_result_field(const vs_upload_result_t *result, size_t index,
                                  const char **name, const char **value);
/* The result as JSON ({"files":[...],"fields":{...}}), what a NULL `done` answers.
 * Owns: the result's. Thread: the done callback. Since: 0.1 */
VS_API const char *vs_upload_result_json(const vs_upload_result_t *result);

/* ---- streamed responses -------------------------------------------------------------------
 * Thread: any thread, one producer at a time, also after the handler returned. */

/* Queues `len` bytes as one chunk (an empty one is ignored). data_free NULL: copied now; otherwise
 * sent without a copy and data_free(data) runs exactly once, on any thread, on every path. VS_OK:
 * write on. VS_EAGAIN: queued, but past VS_LIMIT_WRITE_HIGH_WATER: wait for the drain callback.
 * VS_EPIPE: the stream is closed (client gone, ended); nothing was queued.
 * Thread: any thread, one producer at a time. Owns: data passes to vstream when data_free is set.
 * Since: 0.1 */
VS_API int vs_stream_write(vs_stream_t *stream, const void *data, size_t len,
                           vs_free_cb data_free);
/* Ends the body, with `count` trailer fields (HTTP/1.1 only) from names[i] and values[i] (both
 * NULL when count is 0). VS_EINVAL, not ending, for a bad name or value. Later calls do nothing.
 * Thread: any thread, one producer at a time. Owns: trailers are copied. Since: 0.1 */
VS_API int vs_stream_end(vs_stream_t *stream, const char *const *names,
                         const char *const *values, size_t count);
/* Runs `fn` on the loop thread each time the queue drains below VS_LIMIT_WRITE_LOW_WATER after a
 * write returned VS_EAGAIN. Replaces an earlier one.
 * Thread: any thread, one producer at a time. Owns: userdata (userdata_free runs once, when the
 * stream is gone or at once on failure). Since: 0.1 */
VS_API int vs_stream_on_drain(vs_stream_t *stream, vs_event_cb fn, void *userdata,
                              vs_free_cb userdata_free);
/* Runs `fn` once if the stream is closed before it ended (client gone, server stopping, HEAD): on
 * the loop thread, or at once if already closed. Replaces an earlier one.
 * Thread: any thread, one producer at a time. Owns: userdata (userdata_free runs once, when the
 * stream is gone or at once on failure). Since: 0.1 */
VS_API int vs_stream_on_close(vs_stream_t *stream, vs_event_cb fn, void *userdata,
                              vs_free_cb userdata_free);
/* 1 once ended or closed (it takes no more bytes), else 0; negative on error.
 * Thread: any thread, one producer at a time. Owns: nothing changes hands. Since: 0.1 */
VS_API int vs_stream_closed(const vs_stream_t *stream);
/* Bytes queued and not yet handed to the connection.
 * Thread: any thread, one producer at a time. Owns: nothing changes hands. Since: 0.1 */
VS_API uint64_t vs_stream_queued(const vs_stream_t *stream);
/* Frees the handle; a body not yet ended is ended first (as vs_stream_end with no trailers).
 * Callbacks already set still run. NULL: no-op.
 * Thread: any thread, one producer at a time. Owns: frees the handle. Since: 0.1 */
VS_API void vs_stream_free(vs_stream_t *stream);

#ifdef __cplusplus
}
#endif

#endif /* VSTREAM_VSTREAM_H */
