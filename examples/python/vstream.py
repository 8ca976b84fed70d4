"""vstream from Python: a ctypes binding of the C API in capi/vstream.h (no compiled extension).

The library is found through the VSTREAM_LIB environment variable (a path to libvstream.so.0),
else ctypes.util.find_library('vstream'); anything else is an ImportError that says so.

    import vstream

    server = vstream.Server(port=8080)

    @server.get("/api/hello/:name")
    def hello(req):
        req.json(200, {"hello": req.param("name")})

    server.static("/media", "/srv/media")
    server.serve_forever()          # Ctrl-C or SIGTERM stops it

Threads. Handlers run on the server's loop threads; ctypes takes the GIL for each callback
and releases it during every call into the library, so Python code of the host runs alongside.
A Request is valid during the callback that received it; req.retain() keeps it past the
callback, for an answer from another thread, until the matching req.release().

Ownership. The C side calls back through a small fixed set of ctypes trampolines made once, at
import, and kept for the life of the process, so no C function pointer can outlive its ctypes
object. Each registration's Python callable sits in a registry under an integer key, passed as
the C userdata; the library's userdata_free callback (exactly once per registration: when the
server or request that owns it goes, or at once when registration fails) removes it.

Exceptions never cross into C: an exception from a Python callback is caught, its traceback is
written to stderr, and an unanswered request gets a 500.
"""

import ctypes
import ctypes.util
import itertools
import json as _json
import os
import signal
import sys
import threading
import traceback
import weakref
import atexit

__all__ = [
    "VstreamError", "Config", "Server", "Group", "Request", "Next", "Stream",
    "UploadResult", "version", "version_hex", "strerror", "err_name",
]

# ---- error codes (capi/vstream.h) ---------------------------------------------------------
VS_OK = 0
VS_ENOENT = -2
VS_EIO = -5
VS_EAGAIN = -11
VS_ENOMEM = -12
VS_EACCES = -13
VS_EBUSY = -16
VS_EINVAL = -22
VS_EPIPE = -32
VS_EADDRINUSE = -98
VS_EADDRNOTAVAIL = -99
VS_ETIMEDOUT = -110
VS_ECANCELED = -125
VS_ESTOPPED = -4000
VS_ERUNNING = -4001
VS_ECONFLICT = -4002
VS_EANSWERED = -4003

# Configuration keys by their Python names (VS_LIMIT_*, VS_TIMEOUT_*, VS_FLAG_*).
LIMITS = {
    "max_request_line": 1, "max_header_bytes": 2, "max_header_count": 3,
    "max_body_bytes": 4, "max_stream_body_bytes": 5, "max_connections": 6,
    "write_high_water": 7, "write_low_water": 8, "max_ranges": 9,
    "cache_max_mapped_bytes": 10, "cache_max_entries": 11,
    "cache_window_threshold": 12, "cache_window_size": 13,
}
TIMEOUTS = {
    "header": 1, "keep_alive": 2, "body_read": 3, "stream_body": 4, "write": 5,
    "linger": 6, "shutdown_grace": 7, "cache_revalidate": 8, "cache_idle": 9,
    "accept_backoff": 10,
}
FLAGS = {"redirect_trailing_slash": 1, "method_not_allowed": 2, "auto_options": 3,
         "raise_fd_limit": 4}
STATS = {
    "connections_accepted": 1, "connections_rejected": 2, "connections_open": 3,
    "requests": 4, "cache_hits": 5, "cache_misses": 6, "cache_evictions": 7,
    "cache_mapped_bytes": 8, "cache_open_entries": 9, "connections_refused": 10,
    "tls_handshakes": 11, "tls_resumed": 12, "tls_in_progress": 13, "tls_failed_timeout": 14,
    "tls_failed_version": 15, "tls_failed_certificate": 16, "tls_failed_plain_http": 17,
    "tls_failed_closed": 18, "tls_failed_protocol": 19, "tls_refused_busy": 20,
    "tls_ktls_connections": 21, "tls_userspace_connections": 22,
    "tls_ktls_sendfile_bytes": 23, "tls_truncated_reads": 24,
}
VS_LISTEN_TLS = 1
# TLS settings (vs_config_set_tls_text / vs_config_set_tls_value), by name.
TLS_TEXTS = {"ciphers": 1, "ciphersuites": 2, "alpn": 3, "client_ca_file": 4}
TLS_VALUES = {
    "min_version": 1, "session_cache_size": 2, "session_timeout_s": 3, "session_tickets": 4,
    "ticket_key_rotation_s": 5, "require_client_cert": 6, "handshake_timeout_ms": 7,
    "max_handshakes": 8,
}
_UPLOAD_FIELDS = {"field": 1, "filename": 2, "name": 3, "path": 4, "content_type": 5,
                  "sha256": 6}

_UINT64_MAX = (1 << 64) - 1


# ---- loading the library ------------------------------------------------------------------
def _load():
    path = os.environ.get("VSTREAM_LIB")
    where = "VSTREAM_LIB=" + path if path else None
    if not path:
        path = ctypes.util.find_library("vstream")
        where = "ctypes.util.find_library('vstream') -> " + str(path)
    if not path:
        raise ImportError(
            "vstream: libvstream.so.0 not found. Set VSTREAM_LIB to its path "
            "(e.g. VSTREAM_LIB=build/src/libvstream.so.0) or install it where the dynamic "
            "linker finds it (ldconfig)")
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError("vstream: cannot load %s (%s): %s" % (path, where, e)) from e
    return lib


_lib = _load()

_p = ctypes.c_void_p
_i = ctypes.c_int
_u = ctypes.c_uint
_u64 = ctypes.c_uint64
_sz = ctypes.c_size_t
_s = ctypes.c_char_p
_psz = ctypes.POINTER(ctypes.c_size_t)
_pp = ctypes.POINTER(ctypes.c_void_p)
_pu64 = ctypes.POINTER(ctypes.c_uint64)
_ps = ctypes.POINTER(ctypes.c_char_p)

# Callback types (vs_*_cb). Handles travel as void*, userdata as void* holding a registry key.
FREE_CB = ctypes.CFUNCTYPE(None, _p)
HANDLER_CB = ctypes.CFUNCTYPE(None, _p, _p)
MIDDLEWARE_CB = ctypes.CFUNCTYPE(None, _p, _p, _p)
EVENT_CB = ctypes.CFUNCTYPE(None, _p)
LOG_CB = ctypes.CFUNCTYPE(None, _p, _sz, _p)
BODY_DATA_CB = ctypes.CFUNCTYPE(_i, _p, _p, _sz, _p)
BODY_END_CB = ctypes.CFUNCTYPE(None, _p, _p)
BODY_ERROR_CB = ctypes.CFUNCTYPE(None, _p, _i, _s, _p)
UPLOAD_DONE_CB = ctypes.CFUNCTYPE(None, _p, _p, _p)


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


# Every function the binding uses, with its C signature.
_strerror = _fn("vs_strerror", _s, _i)
_err_name = _fn("vs_err_name", _s, _i)
_last_error_message = _fn("vs_last_error_message", _s)
_version = _fn("vs_version", _u)
_version_string = _fn("vs_version_string", _s)

_config_new = _fn("vs_config_new", _i, _pp)
_config_free = _fn("vs_config_free", None, _p)
_config_set_port = _fn("vs_config_set_port", _i, _p, _u)
_config_set_address = _fn("vs_config_set_address", _i, _p, _s)
_config_add_address = _fn("vs_config_add_address", _i, _p, _s)
_config_add_listener = _fn("vs_config_add_listener", _i, _p, _s, _u, _u)
_config_set_threads = _fn("vs_config_set_threads", _i, _p, _u)
_config_set_backlog = _fn("vs_config_set_backlog", _i, _p, _i)
_config_set_server_name = _fn("vs_config_set_server_name", _i, _p, _s)
_config_set_limit = _fn("vs_config_set_limit", _i, _p, _i, _u64)
_config_get_limit = _fn("vs_config_get_limit", _i, _p, _i, _pu64)
_config_set_timeout = _fn("vs_config_set_timeout", _i, _p, _i, _u64)
_config_get_timeout = _fn("vs_config_get_timeout", _i, _p, _i, _pu64)
_config_set_flag = _fn("vs_config_set_flag", _i, _p, _i, _i)
_config_get_flag = _fn("vs_config_get_flag", _i, _p, _i)
_config_add_tls_certificate = _fn("vs_config_add_tls_certificate", _i, _p, _s, _s)
_config_clear_tls_certificates = _fn("vs_config_clear_tls_certificates", _i, _p)
_config_set_tls_text = _fn("vs_config_set_tls_text", _i, _p, _i, _s)
_config_set_tls_value = _fn("vs_config_set_tls_value", _i, _p, _i, _u64)
_config_get_tls_value = _fn("vs_config_get_tls_value", _i, _p, _i, _pu64)

_server_new = _fn("vs_server_new", _i, _pp, _p)
_server_free = _fn("vs_server_free", _i, _p)
_server_start = _fn("vs_server_start", _i, _p)
_server_stop = _fn("vs_server_stop", _i, _p)
_server_wait = _fn("vs_server_wait", _i, _p)
_server_port = _fn("vs_server_port", _i, _p)
_server_listener_port = _fn("vs_server_listener_port", _i, _p, _sz)
_server_running = _fn("vs_server_running", _i, _p)
_server_stat = _fn("vs_server_stat", _i, _p, _i, _pu64)
_server_reload_tls = _fn("vs_server_reload_tls", _i, _p, _p)
_server_root = _fn("vs_server_root", _p, _p)
_server_set_fallback = _fn("vs_server_set_fallback", _i, _p, HANDLER_CB, _p, FREE_CB)

_group_nested = _fn("vs_group_nested", _i, _p, _s, _pp)
_group_prefix = _fn("vs_group_prefix", _s, _p)
_group_use = _fn("vs_group_use", _i, _p, MIDDLEWARE_CB, _p, FREE_CB)
_group_route = _fn("vs_group_route", _i, _p, _s, _s, HANDLER_CB, _p, FREE_CB)
_group_route_stream = _fn("vs_group_route_stream", _i, _p, _s, _s, HANDLER_CB, _p, FREE_CB)
_group_static = _fn("vs_group_static", _i, _p, _s, _s, _p)
_group_use_access_log = _fn("vs_group_use_access_log", _i, _p, _sz, LOG_CB, _p, FREE_CB)
_group_use_request_id = _fn("vs_group_use_request_id", _i, _p, _s, _i)
_group_use_recovery = _fn("vs_group_use_recovery", _i, _p, LOG_CB, _p, FREE_CB)
_group_use_rate_limit = _fn("vs_group_use_rate_limit", _i, _p, ctypes.c_double,
                            ctypes.c_double, _sz, _s, _s)
_group_use_cors = _fn("vs_group_use_cors", _i, _p, _s, _s, _s, _s, _i, ctypes.c_long)

_static_options_new = _fn("vs_static_options_new", _i, _pp)
_static_options_free = _fn("vs_static_options_free", None, _p)
_static_options_set_index = _fn("vs_static_options_set_index", _i, _p, _s)
_static_options_set_listing = _fn("vs_static_options_set_listing", _i, _p, _i)
_static_options_set_dotfiles = _fn("vs_static_options_set_dotfiles", _i, _p, _i)
_static_options_set_symlinks_outside_root = _fn(
    "vs_static_options_set_symlinks_outside_root", _i, _p, _i)
_static_options_add_mime_type = _fn("vs_static_options_add_mime_type", _i, _p, _s, _s)
_static_options_set_limit_rate = _fn("vs_static_options_set_limit_rate", _i, _p, _u64, _u64)
_static_options_set_cache_control = _fn("vs_static_options_set_cache_control", _i, _p, _s)

_file_options_new = _fn("vs_file_options_new", _i, _pp)
_file_options_free = _fn("vs_file_options_free", None, _p)
_file_options_set_content_type = _fn("vs_file_options_set_content_type", _i, _p, _s)
_file_options_set_part = _fn("vs_file_options_set_part", _i, _p, _u64, _u64)
_file_options_set_limit_rate = _fn("vs_file_options_set_limit_rate", _i, _p, _u64, _u64)
_file_options_set_cache_control = _fn("vs_file_options_set_cache_control", _i, _p, _s)
_file_options_set_ranges = _fn("vs_file_options_set_ranges", _i, _p, _i)

_ctx_method = _fn("vs_ctx_method", _p, _p, _psz)
_ctx_target = _fn("vs_ctx_target", _p, _p, _psz)
_ctx_path = _fn("vs_ctx_path", _p, _p, _psz)
_ctx_query_string = _fn("vs_ctx_query_string", _p, _p, _psz)
_ctx_http_minor = _fn("vs_ctx_http_minor", _i, _p)
_ctx_header = _fn("vs_ctx_header", _p, _p, _s, _psz)
_ctx_header_count = _fn("vs_ctx_header_count", _sz, _p)
_ctx_header_at = _fn("vs_ctx_header_at", _i, _p, _sz, _ps, _ps)
_ctx_body = _fn("vs_ctx_body", _p, _p, _psz)
_ctx_peer_address = _fn("vs_ctx_peer_address", _p, _p, _psz)
_ctx_peer_port = _fn("vs_ctx_peer_port", _i, _p)
_ctx_route = _fn("vs_ctx_route", _p, _p, _psz)
_ctx_param = _fn("vs_ctx_param", _p, _p, _s, _psz)
_ctx_param_count = _fn("vs_ctx_param_count", _sz, _p)
_ctx_param_at = _fn("vs_ctx_param_at", _i, _p, _sz, _ps, _ps)
_ctx_query = _fn("vs_ctx_query", _p, _p, _s, _sz, _psz)
_ctx_request_id = _fn("vs_ctx_request_id", _p, _p, _psz)

_ctx_set_status = _fn("vs_ctx_set_status", _i, _p, _i)
_ctx_set_header = _fn("vs_ctx_set_header", _i, _p, _s, _s)
_ctx_add_header = _fn("vs_ctx_add_header", _i, _p, _s, _s)
_ctx_send = _fn("vs_ctx_send", _i, _p, _i, _p, _sz, FREE_CB)
_ctx_send_json = _fn("vs_ctx_send_json", _i, _p, _i, _s)
_ctx_send_text = _fn("vs_ctx_send_text", _i, _p, _i, _s)
_ctx_send_file = _fn("vs_ctx_send_file", _i, _p, _s, _p)
_ctx_send_file_range = _fn("vs_ctx_send_file_range", _i, _p, _s, _u64, _u64)
_ctx_stream = _fn("vs_ctx_stream", _i, _p, _i, _pp)
_ctx_responded = _fn("vs_ctx_responded", _i, _p)
_ctx_response_status = _fn("vs_ctx_response_status", _i, _p)
_ctx_response_size = _fn("vs_ctx_response_size", _u64, _p)
_ctx_on_finish = _fn("vs_ctx_on_finish", _i, _p, HANDLER_CB, _p, FREE_CB)
_ctx_retain = _fn("vs_ctx_retain", _i, _p)
_ctx_release = _fn("vs_ctx_release", _i, _p)
_ctx_cancelled = _fn("vs_ctx_cancelled", _i, _p)
_ctx_on_cancel = _fn("vs_ctx_on_cancel", _i, _p, EVENT_CB, _p, FREE_CB)
_next_call = _fn("vs_next_call", _i, _p)

_ctx_read_body = _fn("vs_ctx_read_body", _i, _p, BODY_DATA_CB, BODY_END_CB, BODY_ERROR_CB,
                     _p, FREE_CB, _u64, _u64)
_ctx_resume_body = _fn("vs_ctx_resume_body", _i, _p)
_ctx_receive_upload = _fn("vs_ctx_receive_upload", _i, _p, _p, UPLOAD_DONE_CB, _p, FREE_CB)
_upload_options_new = _fn("vs_upload_options_new", _i, _pp)
_upload_options_free = _fn("vs_upload_options_free", None, _p)
_upload_options_set_dir = _fn("vs_upload_options_set_dir", _i, _p, _s)
_upload_options_set_name = _fn("vs_upload_options_set_name", _i, _p, _s)
_upload_options_set_overwrite = _fn("vs_upload_options_set_overwrite", _i, _p, _i)
_upload_options_set_max_bytes = _fn("vs_upload_options_set_max_bytes", _i, _p, _u64)
_upload_options_set_max_memory = _fn("vs_upload_options_set_max_memory", _i, _p, _u64)
_upload_options_set_max_parts = _fn("vs_upload_options_set_max_parts", _i, _p, _u64)
_upload_options_set_timeout = _fn("vs_upload_options_set_timeout", _i, _p, _u64)
_upload_options_set_sync = _fn("vs_upload_options_set_sync", _i, _p, _i)
_upload_result_file_count = _fn("vs_upload_result_file_count", _sz, _p)
_upload_result_file = _fn("vs_upload_result_file", _s, _p, _sz, _i)
_upload_result_file_size = _fn("vs_upload_result_file_size", _u64, _p, _sz)
_upload_result_field_count = _fn("vs_upload_result_field_count", _sz, _p)
_upload_result_field = _fn("vs_upload_result_field", _i, _p, _sz, _ps, _ps)
_upload_result_json = _fn("vs_upload_result_json", _s, _p)

_stream_write = _fn("vs_stream_write", _i, _p, _p, _sz, FREE_CB)
_stream_end = _fn("vs_stream_end", _i, _p, _ps, _ps, _sz)
_stream_on_drain = _fn("vs_stream_on_drain", _i, _p, EVENT_CB, _p, FREE_CB)
_stream_on_close = _fn("vs_stream_on_close", _i, _p, EVENT_CB, _p, FREE_CB)
_stream_closed = _fn("vs_stream_closed", _i, _p)
_stream_queued = _fn("vs_stream_queued", _u64, _p)
_stream_free = _fn("vs_stream_free", None, _p)

# Same major version: ABI compatible (capi/vstream.h, "version").
if (_version() >> 16) != 0:
    raise ImportError("vstream: this binding is for libvstream 0.x; loaded %s"
                      % _version_string().decode())

# A NULL vs_free_cb: for a body, "copy the bytes now" (see Request.send).
_NO_FREE = ctypes.cast(None, FREE_CB)


# ---- errors -------------------------------------------------------------------------------
class VstreamError(Exception):
    """A vstream call failed: `code` (VS_E*, negative), `name` ("VS_EINVAL") and `message`
    (vs_last_error_message(), or the code's text when the library said nothing more)."""

    def __init__(self, code, name, message):
        super().__init__("%s (%d): %s" % (name, code, message))
        self.code = code
        self.name = name
        self.message = message


def strerror(code):
    """The text for an error code."""
    return _strerror(code).decode()


def err_name(code):
    """The name of an error code ("VS_EINVAL")."""
    return _err_name(code).decode()


def _error(code, message=None):
    if message is None:
        # Read first: it is valid only until the next vs_* call on this thread.
        message = _last_error_message().decode("utf-8", "replace")
    return VstreamError(code, err_name(code), message or strerror(code))


def _check(rc):
    if rc < 0:
        raise _error(rc)
    return rc


def version():
    """The loaded library's version, "MAJOR.MINOR.PATCH"."""
    return _version_string().decode()


def version_hex():
    """The loaded library's version as 0xMMmmpp."""
    return _version()


def _b(text):
    """str -> bytes for C (bytes pass through); paths and names may hold any byte."""
    if isinstance(text, bytes):
        return text
    if isinstance(text, os.PathLike):
        return os.fsencode(text)
    return str(text).encode("utf-8", "surrogateescape")


def _text(ptr, n):
    return ctypes.string_at(ptr, n).decode("utf-8", "surrogateescape")


def _report(where):
    """Writes the current exception's traceback to stderr: a callback must not raise into C."""
    try:
        sys.stderr.write("vstream: exception in %s:\n" % where)
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
    except Exception:  # stderr itself may be gone (interpreter shutdown)
        pass


# ---- callback registry and trampolines ----------------------------------------------------
# userdata is an integer key into _registry. The trampolines below are made once and never
# freed, so a function pointer the library holds is always valid; userdata_free (_free_tramp)
# drops the key, exactly once per registration.
_registry = {}
_keys = itertools.count(1)


def _register(obj):
    key = next(_keys)
    _registry[key] = obj
    return key


def _lookup(ud):
    return _registry.get(ud) if ud else None


@FREE_CB
def _free_tramp(ud):
    if ud:
        entry = _registry.pop(ud, None)
        owner = getattr(entry, "owner", None)
        if owner is not None:
            owner._keys.discard(ud)


class _Entry:
    """A registered callable, with the server it belongs to (to count what is still held)."""
    __slots__ = ("fn", "owner", "extra")

    def __init__(self, fn, owner, extra=None):
        self.fn = fn
        self.owner = owner
        self.extra = extra


def _answer_500(ctx):
    try:
        if _ctx_responded(ctx) == 0:
            _ctx_send_json(ctx, 500, b'{"error":"internal server error"}')
    except Exception:
        pass


def _note_loop_thread(owner):
    """Remembers that this thread runs `owner`'s callbacks (close() from one is VS_EBUSY)."""
    if owner is not None:
        owner._loop_threads.add(threading.get_ident())


def _run_request_callback(ctx, entry, call, where):
    """Calls `call(req)` with a Request valid for the callback; on an exception: log, and 500
    unless answered (or retained: then whoever holds it answers, or the last release does)."""
    _note_loop_thread(entry.owner)
    req = Request(ctx, entry.owner)
    try:
        call(req)
    except BaseException:
        _report(where)
        if req._retains == 0:
            _answer_500(ctx)
    finally:
        req._callback_over()


@HANDLER_CB
def _handler_tramp(ctx, ud):
    entry = _lookup(ud)
    if entry is None:
        _answer_500(ctx)
        return
    _run_request_callback(ctx, entry, entry.fn, "a handler")


@MIDDLEWARE_CB
def _middleware_tramp(ctx, nxt, ud):
    entry = _lookup(ud)
    if entry is None:
        _answer_500(ctx)
        return
    _run_request_callback(ctx, entry, lambda req: entry.fn(req, Next(nxt, req)), "a middleware")


@HANDLER_CB
def _finish_tramp(ctx, ud):
    entry = _lookup(ud)
    if entry is None:
        return
    _note_loop_thread(entry.owner)
    req = Request(ctx, entry.owner)
    try:
        entry.fn(req)
    except BaseException:
        _report("an on_finish callback")
    finally:
        req._callback_over()


@EVENT_CB
def _event_tramp(ud):
    entry = _lookup(ud)
    if entry is None:
        return
    _note_loop_thread(entry.owner)
    try:
        entry.fn()
    except BaseException:
        _report("an event callback")


@LOG_CB
def _log_tramp(line, n, ud):
    entry = _lookup(ud)
    if entry is None:
        return
    try:
        entry.fn(_text(line, n))
    except BaseException:
        _report("a log sink")


class _BodyReader:
    """State of one Request.read_body(): the three callables and whether one failed."""
    __slots__ = ("on_data", "on_end", "on_error", "failed")

    def __init__(self, on_data, on_end, on_error):
        self.on_data, self.on_end, self.on_error = on_data, on_end, on_error
        self.failed = False


@BODY_DATA_CB
def _body_data_tramp(ctx, data, n, ud):
    entry = _lookup(ud)
    if entry is None or entry.extra.failed:
        return 0  # keep reading (and dropping) so the engine can finish the request
    _note_loop_thread(entry.owner)
    req = Request(ctx, entry.owner)
    try:
        pause = entry.extra.on_data(req, ctypes.string_at(data, n) if n else b"")
        return 1 if pause else 0
    except BaseException:
        _report("a body on_data callback")
        entry.extra.failed = True
        _answer_500(ctx)
        return 0
    finally:
        req._callback_over()


@BODY_END_CB
def _body_end_tramp(ctx, ud):
    entry = _lookup(ud)
    if entry is None or entry.extra.failed:
        _answer_500(ctx)
        return
    _run_request_callback(ctx, entry, entry.extra.on_end, "a body on_end callback")


@BODY_ERROR_CB
def _body_error_tramp(ctx, status, reason, ud):
    entry = _lookup(ud)
    if entry is None or entry.extra.on_error is None:
        return
    _note_loop_thread(entry.owner)
    req = Request(ctx, entry.owner)
    try:
        entry.extra.on_error(req, status, (reason or b"").decode("utf-8", "replace"))
    except BaseException:
        _report("a body on_error callback")
    finally:
        req._callback_over()


@UPLOAD_DONE_CB
def _upload_done_tramp(ctx, result, ud):
    entry = _lookup(ud)
    if entry is None:
        _answer_500(ctx)
        return
    # The result is valid during this call only: copy it into Python values first.
    try:
        res = UploadResult._from_c(result)
    except BaseException:
        _report("reading an upload result")
        _answer_500(ctx)
        return
    _run_request_callback(ctx, entry, lambda req: entry.fn(req, res), "an upload callback")


# ---- configuration ------------------------------------------------------------------------
class Config:
    """A server configuration (vs_config_t). Keyword arguments: port, address, addresses (more
    listen addresses), listeners ((address, port) or (address, port, tls) tuples, each port
    its own; when given, port and addresses are ignored), threads, backlog, server_name,
    limits / timeouts / flags (dicts keyed by the names in LIMITS / TIMEOUTS / FLAGS, or by the
    VS_* numbers), tls_certificates ((cert_file, key_file) pairs for the TLS listeners; the
    first is the default, SNI picks among them) and tls (a dict keyed by the names in
    TLS_TEXTS and TLS_VALUES: "alpn", "min_version", "handshake_timeout_ms", ...). Each setter
    validates its value and raises VstreamError (VS_EINVAL) with the library's reason."""

    def __init__(self, port=None, address=None, addresses=(), listeners=(), threads=None,
                 backlog=None, server_name=None, limits=None, timeouts=None, flags=None,
                 tls_certificates=(), tls=None):
        out = ctypes.c_void_p()
        _check(_config_new(ctypes.byref(out)))
        self._ptr = out.value
        try:
            if port is not None:
                self.set_port(port)
            if address is not None:
                self.set_address(address)
            for a in addresses:
                self.add_address(a)
            for listener in listeners:
                self.add_listener(*listener)
            for cert, key in tls_certificates:
                self.add_tls_certificate(cert, key)
            for k, v in (tls or {}).items():
                self.set_tls(k, v)
            if threads is not None:
                self.set_threads(threads)
            if backlog is not None:
                self.set_backlog(backlog)
            if server_name is not None:
                self.set_server_name(server_name)
            for k, v in (limits or {}).items():
                self.set_limit(k, v)
            for k, v in (timeouts or {}).items():
                self.set_timeout(k, v)
            for k, v in (flags or {}).items():
                self.set_flag(k, v)
        except BaseException:
            self.free()
            raise

    def _h(self):
        if self._ptr is None:
            raise VstreamError(VS_EINVAL, "VS_EINVAL", "the configuration was freed")
        return self._ptr

    def set_port(self, port):
        _check(_config_set_port(self._h(), port))

    def set_address(self, address):
        _check(_config_set_address(self._h(), _b(address)))

    def add_address(self, address):
        _check(_config_add_address(self._h(), _b(address)))

    def add_listener(self, address, port=0, tls=False):
        """Listens on address:port (0: an ephemeral port of its own), in HTTPS with tls=True;
        see vs_config_add_listener."""
        _check(_config_add_listener(self._h(), _b(address), port, VS_LISTEN_TLS if tls else 0))

    def add_tls_certificate(self, cert_file, key_file):
        """Adds a PEM certificate chain and its key for the TLS listeners (the first added is
        the default; SNI picks among them)."""
        _check(_config_add_tls_certificate(self._h(), _b(cert_file), _b(key_file)))

    def clear_tls_certificates(self):
        _check(_config_clear_tls_certificates(self._h()))

    def set_tls(self, name, value):
        """Sets a TLS setting by name: a text one of TLS_TEXTS ("alpn" also takes a list), or
        a number of TLS_VALUES (booleans as 0/1)."""
        if name in TLS_TEXTS:
            if name == "alpn" and not isinstance(value, (str, bytes)):
                value = ",".join(value)
            _check(_config_set_tls_text(self._h(), TLS_TEXTS[name], _b(value)))
        elif name in TLS_VALUES:
            _check(_config_set_tls_value(self._h(), TLS_VALUES[name], int(value)))
        else:
            raise VstreamError(VS_EINVAL, "VS_EINVAL", "unknown TLS setting %r" % (name,))

    def get_tls(self, name):
        """A TLS number setting (a name of TLS_VALUES)."""
        out = ctypes.c_uint64()
        _check(_config_get_tls_value(self._h(), TLS_VALUES.get(name, name), ctypes.byref(out)))
        return out.value

    def set_threads(self, threads):
        _check(_config_set_threads(self._h(), threads))

    def set_backlog(self, backlog):
        _check(_config_set_backlog(self._h(), backlog))

    def set_server_name(self, name):
        _check(_config_set_server_name(self._h(), _b(name)))

    def set_limit(self, limit, value):
        _check(_config_set_limit(self._h(), LIMITS.get(limit, limit), value))

    def get_limit(self, limit):
        out = ctypes.c_uint64()
        _check(_config_get_limit(self._h(), LIMITS.get(limit, limit), ctypes.byref(out)))
        return out.value

    def set_timeout(self, timeout, ms):
        _check(_config_set_timeout(self._h(), TIMEOUTS.get(timeout, timeout), ms))

    def get_timeout(self, timeout):
        out = ctypes.c_uint64()
        _check(_config_get_timeout(self._h(), TIMEOUTS.get(timeout, timeout), ctypes.byref(out)))
        return out.value

    def set_flag(self, flag, on):
        _check(_config_set_flag(self._h(), FLAGS.get(flag, flag), 1 if on else 0))

    def get_flag(self, flag):
        return bool(_check(_config_get_flag(self._h(), FLAGS.get(flag, flag))))

    def free(self):
        """Frees the handle (servers made from it keep their own copy). Idempotent."""
        if self._ptr is not None:
            _config_free(self._ptr)
            self._ptr = None

    close = free

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.free()

    def __del__(self):
        try:
            self.free()
        except Exception:
            pass


# ---- routes and groups --------------------------------------------------------------------
class _Routes:
    """The registration surface a Server and a Group share (all before start only)."""

    def _group_ptr(self):
        raise NotImplementedError

    def _srv(self):
        raise NotImplementedError

    def route(self, method, pattern, stream=False):
        """Decorator: routes `method` and `pattern` ("/videos/:id", "/files/*rest") to the
        function, called as fn(req). stream=True: a streaming route, whose handler reads the
        body with req.read_body() or req.receive_upload()."""
        def deco(fn):
            self.add_route(method, pattern, fn, stream=stream)
            return fn
        return deco

    def add_route(self, method, pattern, fn, stream=False):
        srv = self._srv()
        reg = _group_route_stream if stream else _group_route
        key = _register(_Entry(fn, srv))
        srv._keys.add(key)
        # On failure the library has already run userdata_free (the key is gone).
        _check(reg(self._group_ptr(), _b(method), _b(pattern), _handler_tramp, key, _free_tramp))

    def get(self, pattern, stream=False):
        return self.route("GET", pattern, stream)

    def post(self, pattern, stream=False):
        return self.route("POST", pattern, stream)

    def put(self, pattern, stream=False):
        return self.route("PUT", pattern, stream)

    def patch(self, pattern, stream=False):
        return self.route("PATCH", pattern, stream)

    def delete(self, pattern, stream=False):
        return self.route("DELETE", pattern, stream)

    def use(self, middleware):
        """Adds middleware, called as fn(req, next): call next() to run the rest of the chain,
        or answer and don't. Usable as a decorator. Returns the function."""
        srv = self._srv()
        key = _register(_Entry(middleware, srv))
        srv._keys.add(key)
        _check(_group_use(self._group_ptr(), _middleware_tramp, key, _free_tramp))
        return middleware

    def group(self, prefix):
        """A nested Group at `prefix` below this one."""
        out = ctypes.c_void_p()
        _check(_group_nested(self._group_ptr(), _b(prefix), ctypes.byref(out)))
        return Group(self._srv(), out.value)

    def static(self, prefix, root, listing=False, index=None, dotfiles=False,
               symlinks_outside_root=False, mime_types=None, cache_control=None,
               limit_rate=0, limit_rate_after=0):
        """Serves the files below directory `root` at `prefix` (GET and HEAD, Range and
        conditional requests, confined to root). index: the file for a directory (default
        "index.html", "" for none); mime_types: {"ext": "type"}."""
        out = ctypes.c_void_p()
        _check(_static_options_new(ctypes.byref(out)))
        opts = out.value
        try:
            _check(_static_options_set_listing(opts, 1 if listing else 0))
            _check(_static_options_set_dotfiles(opts, 1 if dotfiles else 0))
            _check(_static_options_set_symlinks_outside_root(opts, 1 if symlinks_outside_root
                                                             else 0))
            if index is not None:
                _check(_static_options_set_index(opts, _b(index)))
            for ext, ctype in (mime_types or {}).items():
                _check(_static_options_add_mime_type(opts, _b(ext), _b(ctype)))
            if cache_control is not None:
                _check(_static_options_set_cache_control(opts, _b(cache_control)))
            if limit_rate or limit_rate_after:
                _check(_static_options_set_limit_rate(opts, limit_rate, limit_rate_after))
            _check(_group_static(self._group_ptr(), _b(prefix), _b(root), opts))
        finally:
            _static_options_free(opts)  # vs_group_static copied them

    # Built-in middleware.
    def use_access_log(self, sink=None, queue_lines=0):
        """One JSON line per finished request, to sink(line) (on the log's own thread), or to
        stderr when sink is None."""
        if sink is None:
            _check(_group_use_access_log(self._group_ptr(), queue_lines,
                                         ctypes.cast(None, LOG_CB), None, _NO_FREE))
            return
        srv = self._srv()
        key = _register(_Entry(sink, srv))
        srv._keys.add(key)
        _check(_group_use_access_log(self._group_ptr(), queue_lines, _log_tramp, key,
                                     _free_tramp))

    def use_request_id(self, header=None, trust_incoming=False):
        _check(_group_use_request_id(self._group_ptr(), None if header is None else _b(header),
                                     1 if trust_incoming else 0))

    def use_recovery(self, log=None):
        if log is None:
            _check(_group_use_recovery(self._group_ptr(), ctypes.cast(None, LOG_CB), None,
                                       _NO_FREE))
            return
        srv = self._srv()
        key = _register(_Entry(log, srv))
        srv._keys.add(key)
        _check(_group_use_recovery(self._group_ptr(), _log_tramp, key, _free_tramp))

    def use_rate_limit(self, rate=10.0, burst=20.0, max_clients=0, key_header=None,
                       trusted_proxies=None):
        _check(_group_use_rate_limit(self._group_ptr(), rate, burst, max_clients,
                                     None if key_header is None else _b(key_header),
                                     None if trusted_proxies is None else _b(trusted_proxies)))

    def use_cors(self, allow_origins=None, allow_methods=None, allow_headers=None,
                 expose_headers=None, allow_credentials=False, max_age_s=-1):
        """CORS headers and preflight answers. Lists are comma-separated strings or
        sequences; None means the library's default."""
        def lst(v):
            if v is None:
                return None
            return _b(v if isinstance(v, (str, bytes)) else ", ".join(v))
        _check(_group_use_cors(self._group_ptr(), lst(allow_origins), lst(allow_methods),
                               lst(allow_headers), lst(expose_headers),
                               1 if allow_credentials else 0, max_age_s))


class Group(_Routes):
    """A route group (vs_group_t), owned by its server: same decorators as Server."""

    def __init__(self, server, ptr):
        self._server = server
        self._ptr = ptr

    def _srv(self):
        self._server._h()
        return self._server

    def _group_ptr(self):
        self._server._h()  # the group lives as long as its server
        return self._ptr

    @property
    def prefix(self):
        return _group_prefix(self._group_ptr()).decode("utf-8", "surrogateescape")


_live_servers = weakref.WeakSet()


@atexit.register
def _close_servers_at_exit():
    # A loop thread calling into a finalizing interpreter would crash: stop them first.
    for srv in list(_live_servers):
        try:
            srv.close()
        except Exception:
            pass


class Server(_Routes):
    """A server (vs_server_t). Server(config) or Server(port=..., address=..., ...) with the
    keyword arguments of Config. Register routes and middleware, then start() it (its own loop
    threads; this thread stays free) and stop() or close() it; or serve_forever(). A context
    manager: leaving the block closes it. A stopped server cannot be restarted."""

    def __init__(self, config=None, **kwargs):
        own = None
        if config is None:
            own = config = Config(**kwargs)
        elif kwargs:
            raise TypeError("pass either a Config or keyword arguments, not both")
        try:
            out = ctypes.c_void_p()
            _check(_server_new(ctypes.byref(out), config._h()))
        finally:
            if own is not None:
                own.free()
        self._ptr = out.value
        self._root = _server_root(self._ptr)
        self._keys = set()       # registry keys this server's registrations still hold
        self._waiter = None      # the thread blocked in vs_server_wait()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._loop_threads = set()  # idents of threads seen running this server's callbacks
        _live_servers.add(self)

    def _h(self):
        ptr = self._ptr
        if ptr is None:
            raise VstreamError(VS_EINVAL, "VS_EINVAL", "the server was closed")
        return ptr

    def _srv(self):
        self._h()
        return self

    def _group_ptr(self):
        self._h()
        return self._root

    @property
    def root(self):
        """The root Group (prefix ""): its middleware sees every request."""
        return Group(self, self._group_ptr())

    def fallback(self, fn):
        """Decorator: the handler for requests no route matches (default: 404)."""
        key = _register(_Entry(fn, self))
        self._keys.add(key)
        _check(_server_set_fallback(self._h(), _handler_tramp, key, _free_tramp))
        return fn

    # ---- lifecycle ----
    def start(self):
        """Binds and starts the loop threads; returns once all listen."""
        _check(_server_start(self._h()))
        return self

    def stop(self):
        """Stops gracefully (in-flight requests get VS_TIMEOUT_SHUTDOWN_GRACE) and joins the
        loop threads; from a handler it only starts the stop. Idempotent."""
        _check(_server_stop(self._h()))

    def _start_waiter(self):
        with self._lock:
            if self._waiter is not None:
                return
            ptr = self._h()

            def wait():
                try:
                    _server_wait(ptr)
                finally:
                    self._stopped.set()
            # vs_server_wait() cannot be interrupted; a helper thread blocks in it, and the
            # caller waits on an Event, which Ctrl-C (KeyboardInterrupt) does interrupt.
            self._waiter = threading.Thread(target=wait, name="vstream-wait", daemon=True)
            self._waiter.start()

    def wait(self, timeout=None):
        """Blocks until the server has stopped, or `timeout` seconds passed; True when it has
        stopped. Stays interruptible by Ctrl-C (unlike vs_server_wait(), or vs_server_run())."""
        if not self.running:
            return True
        self._start_waiter()
        return self._stopped.wait(timeout)

    def serve_forever(self, signals=(signal.SIGINT, signal.SIGTERM)):
        """start() if needed, then wait() until stopped. On the main thread, SIGINT (Ctrl-C)
        and SIGTERM stop the server (the previous handlers come back afterwards)."""
        if not self.running:
            self.start()
        old = {}
        if threading.current_thread() is threading.main_thread():
            def on_signal(signum, frame):
                self.stop()
            for s in signals:
                old[s] = signal.signal(s, on_signal)
        try:
            while not self.wait(None):
                pass
        except KeyboardInterrupt:
            self.stop()
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def close(self):
        """Stops the server if it runs, joins its threads and frees it, with every callback
        it held. Idempotent. VstreamError(VS_EBUSY) from inside one of its own callbacks."""
        ptr = self._ptr
        if ptr is None:
            return
        # Thread idents are reused once a thread ends; the loop threads live while it runs.
        if threading.get_ident() in self._loop_threads and _server_running(ptr) == 1:
            raise VstreamError(VS_EBUSY, "VS_EBUSY",
                               "a server cannot be closed from its own callbacks")
        # Stop (joining the loop threads) before freeing, so that the helper thread of wait()
        # has left vs_server_wait() before the handle goes.
        _check(_server_stop(ptr))
        waiter = self._waiter
        if waiter is not None:
            waiter.join(60)
            if waiter.is_alive():
                raise VstreamError(VS_ETIMEDOUT, "VS_ETIMEDOUT",
                                   "the server did not stop; not freed")
        _check(_server_free(ptr))
        self._ptr = None
        self._stopped.set()
        _live_servers.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- state ----
    @property
    def port(self):
        """The bound port once started, 0 before."""
        return _check(_server_port(self._h()))

    @property
    def ports(self):
        """Every listener's bound port, in order, once started; [] before."""
        out = []
        while True:
            rc = _server_listener_port(self._h(), len(out))
            if rc == VS_ENOENT or rc == 0:
                return out
            out.append(_check(rc))

    @property
    def running(self):
        return self._ptr is not None and _check(_server_running(self._ptr)) == 1

    @property
    def closed(self):
        return self._ptr is None

    @property
    def held_callbacks(self):
        """How many registered callables the library still holds (0 once closed)."""
        return len(self._keys)

    def stat(self, name):
        """One counter (a snapshot): a name from STATS or a VS_STAT_* number."""
        out = ctypes.c_uint64()
        _check(_server_stat(self._h(), STATS.get(name, name), ctypes.byref(out)))
        return out.value

    def stats(self):
        """Every counter, by name."""
        return {name: self.stat(name) for name in STATS}

    def reload_tls(self, config=None):
        """Loads TLS certificates anew for later handshakes: with no config, the files of the
        settings last loaded are read again (certificates renewed in place); with a Config,
        its TLS settings are taken. On any error nothing changes and VstreamError names the
        option and file; connections already open are never touched."""
        _check(_server_reload_tls(self._h(), config._h() if config is not None else None))


# ---- requests -----------------------------------------------------------------------------
class Next:
    """The rest of a middleware chain: call it once, during the middleware or, with the
    request retained, later from any thread."""
    __slots__ = ("_ptr", "_req")

    def __init__(self, ptr, req):
        self._ptr = ptr
        self._req = req

    def __call__(self):
        self._req._h()
        _check(_next_call(self._ptr))


class Request:
    """One request and its response (vs_ctx_t). Valid during the callback that received it;
    retain() keeps it (and the request) until the matching release(), for an answer from
    any thread. Only one thread may use it at a time. Using it afterwards raises VstreamError
    (VS_EINVAL) instead of touching freed memory."""

    __slots__ = ("_ptr", "_server", "_retains", "_in_callback", "_lock", "__weakref__")

    def __init__(self, ptr, server):
        self._ptr = ptr
        self._server = server
        self._retains = 0
        self._in_callback = True
        self._lock = threading.Lock()

    def _callback_over(self):
        with self._lock:
            self._in_callback = False
            if self._retains == 0:
                self._ptr = None

    def _h(self):
        ptr = self._ptr
        if ptr is None:
            raise VstreamError(VS_EINVAL, "VS_EINVAL",
                               "the request is no longer valid (retain() it to keep it "
                               "past its callback)")
        return ptr

    # ---- async ----
    def retain(self):
        """Keeps the request past the callback. Each retain needs one release(). Returns self."""
        with self._lock:
            _check(_ctx_retain(self._h()))
            self._retains += 1
        return self

    def release(self):
        """Drops one retain; after the last (and the callback's end) the request is gone. An
        unanswered request is then answered 500 by the engine."""
        with self._lock:
            ptr = self._h()
            if self._retains == 0:
                raise VstreamError(VS_EINVAL, "VS_EINVAL", "release() without retain()")
            _check(_ctx_release(ptr))
            self._retains -= 1
            if self._retains == 0 and not self._in_callback:
                self._ptr = None

    @property
    def valid(self):
        return self._ptr is not None

    @property
    def cancelled(self):
        """True when the connection closed (or the server stopped) before the answer."""
        return _check(_ctx_cancelled(self._h())) == 1

    def on_cancel(self, fn):
        """Runs fn() once, on the loop thread, if the request is cancelled."""
        key = _register(_Entry(fn, self._server))
        _check(_ctx_on_cancel(self._h(), _event_tramp, key, _free_tramp))

    def on_finish(self, fn):
        """Runs fn(req) once, on the loop thread, when the request is over."""
        key = _register(_Entry(fn, self._server))
        _check(_ctx_on_finish(self._h(), _finish_tramp, key, _free_tramp))

    # ---- the request ----
    def _str(self, f):
        n = ctypes.c_size_t()
        ptr = f(self._h(), ctypes.byref(n))
        if ptr is None:
            raise _error(VS_EINVAL)
        return _text(ptr, n.value)

    @property
    def method(self):
        return self._str(_ctx_method)

    @property
    def target(self):
        """The request-target as received ("/videos/1?t=30")."""
        return self._str(_ctx_target)

    @property
    def path(self):
        """The path before '?', not decoded."""
        return self._str(_ctx_path)

    @property
    def query_string(self):
        return self._str(_ctx_query_string)

    @property
    def route(self):
        """The matched route's pattern ("" when none matched)."""
        return self._str(_ctx_route)

    @property
    def http_minor(self):
        return _check(_ctx_http_minor(self._h()))

    @property
    def peer_address(self):
        return self._str(_ctx_peer_address)

    @property
    def peer_port(self):
        return _check(_ctx_peer_port(self._h()))

    @property
    def request_id(self):
        return self._str(_ctx_request_id)

    def header(self, name, default=None):
        """The first header `name` (case-insensitive), or default."""
        n = ctypes.c_size_t()
        ptr = _ctx_header(self._h(), _b(name), ctypes.byref(n))
        return default if ptr is None else _text(ptr, n.value)

    @property
    def headers(self):
        """Every header field as (name, value), in order received."""
        h = self._h()
        out = []
        name, value = ctypes.c_char_p(), ctypes.c_char_p()
        for i in range(_ctx_header_count(h)):
            _check(_ctx_header_at(h, i, ctypes.byref(name), ctypes.byref(value)))
            out.append((name.value.decode("latin-1"), value.value.decode("latin-1")))
        return out

    def param(self, name, default=None):
        """The decoded route parameter `name`, or default."""
        n = ctypes.c_size_t()
        ptr = _ctx_param(self._h(), _b(name), ctypes.byref(n))
        return default if ptr is None else _text(ptr, n.value)

    @property
    def params(self):
        h = self._h()
        out = {}
        name, value = ctypes.c_char_p(), ctypes.c_char_p()
        for i in range(_ctx_param_count(h)):
            _check(_ctx_param_at(h, i, ctypes.byref(name), ctypes.byref(value)))
            out[name.value.decode("utf-8", "surrogateescape")] = (
                value.value.decode("utf-8", "surrogateescape"))
        return out

    def query(self, key, default=None, index=0):
        """Value number `index` of query parameter `key`, decoded, or default."""
        n = ctypes.c_size_t()
        ptr = _ctx_query(self._h(), _b(key), index, ctypes.byref(n))
        return default if ptr is None else _text(ptr, n.value)

    def query_all(self, key):
        out = []
        while True:
            v = self.query(key, index=len(out))
            if v is None:
                return out
            out.append(v)

    @property
    def body(self):
        """The buffered request body, as bytes (a copy); b"" on a streaming route."""
        n = ctypes.c_size_t()
        ptr = _ctx_body(self._h(), ctypes.byref(n))
        return ctypes.string_at(ptr, n.value) if ptr else b""

    # ---- the response ----
    @property
    def responded(self):
        return _check(_ctx_responded(self._h())) == 1

    @property
    def response_status(self):
        return _check(_ctx_response_status(self._h()))

    @property
    def response_size(self):
        return _ctx_response_size(self._h())

    def set_status(self, status):
        _check(_ctx_set_status(self._h(), status))

    def set_header(self, name, value):
        """Replaces any header `name` with one field."""
        _check(_ctx_set_header(self._h(), _b(name), _b(value)))

    def add_header(self, name, value):
        _check(_ctx_add_header(self._h(), _b(name), _b(value)))

    def _headers(self, headers):
        if not headers:
            return
        items = headers.items() if hasattr(headers, "items") else headers
        for name, value in items:
            self.set_header(name, value)

    def send(self, status, body=b"", headers=None):
        """Sends `status` and `body` (bytes, or str as UTF-8), after setting `headers` (a dict
        or (name, value) pairs).

        The bytes are passed with body_free NULL, so the library copies them before the call
        returns. Lending the Python buffer instead would mean keeping the bytes object alive
        until body_free runs, on any thread, taking the GIL once more per response; the copy
        is cheaper for the bodies Python builds. Large files go out zero-copy with file()."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        body = bytes(body)
        h = self._h()
        self._headers(headers)
        _check(_ctx_send(h, status, body, len(body), _NO_FREE))

    def json(self, status, obj, headers=None):
        """Sends `obj` as JSON (json.dumps; a str or bytes is sent as is)."""
        if isinstance(obj, bytes):
            data = obj
        elif isinstance(obj, str):
            data = obj.encode("utf-8")
        else:
            data = _json.dumps(obj, separators=(",", ":")).encode("utf-8")
        h = self._h()
        self._headers(headers)
        if b"\0" in data:  # vs_ctx_send_json takes a C string
            self.set_header("Content-Type", "application/json")
            _check(_ctx_send(h, status, data, len(data), _NO_FREE))
            return
        _check(_ctx_send_json(h, status, data))

    def text(self, status, text, headers=None):
        """Sends `text` as text/plain; charset=utf-8."""
        data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
        h = self._h()
        self._headers(headers)
        if b"\0" in data:
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            _check(_ctx_send(h, status, data, len(data), _NO_FREE))
            return
        _check(_ctx_send_text(h, status, data))

    def file(self, path, content_type=None, offset=0, length=None, cache_control=None,
             ranges=True, limit_rate=0, limit_rate_after=0, headers=None):
        """Sends the file at `path` zero-copy from the mmap cache, with Range and conditional
        requests; offset/length serve only that part, as if it were the whole file. The path
        is not checked against any root: never pass a client's path unchecked."""
        h = self._h()
        self._headers(headers)
        out = ctypes.c_void_p()
        _check(_file_options_new(ctypes.byref(out)))
        opts = out.value
        try:
            if content_type is not None:
                _check(_file_options_set_content_type(opts, _b(content_type)))
            if offset or length is not None:
                _check(_file_options_set_part(opts, offset,
                                              _UINT64_MAX if length is None else length))
            if cache_control is not None:
                _check(_file_options_set_cache_control(opts, _b(cache_control)))
            if not ranges:
                _check(_file_options_set_ranges(opts, 0))
            if limit_rate or limit_rate_after:
                _check(_file_options_set_limit_rate(opts, limit_rate, limit_rate_after))
            _check(_ctx_send_file(h, _b(path), opts))
        finally:
            _file_options_free(opts)  # copied by vs_ctx_send_file

    def file_range(self, path, offset, length=None):
        """Sends [offset, offset + length) of the file (vs_ctx_send_file_range)."""
        _check(_ctx_send_file_range(self._h(), _b(path), offset,
                                    _UINT64_MAX if length is None else length))

    def stream(self, status=200, headers=None):
        """Starts a streamed (chunked) response; returns a Stream to feed from any thread."""
        h = self._h()
        self._headers(headers)
        out = ctypes.c_void_p()
        _check(_ctx_stream(h, status, ctypes.byref(out)))
        return Stream(out.value, self._server)

    # ---- streamed request bodies ----
    def read_body(self, on_data, on_end, on_error=None, max_bytes=0, timeout_ms=0):
        """Reads the body as it arrives: on_data(req, chunk) for each piece (return True to
        pause until req.resume_body()), then on_end(req) (answer there) or on_error(req,
        status, reason). Each gets a request valid during its call."""
        key = _register(_Entry(None, self._server, _BodyReader(on_data, on_end, on_error)))
        _check(_ctx_read_body(self._h(), _body_data_tramp, _body_end_tramp, _body_error_tramp,
                              key, _free_tramp, max_bytes, timeout_ms))

    def resume_body(self):
        _check(_ctx_resume_body(self._h()))

    def receive_upload(self, dir, done=None, name=None, overwrite=False, max_bytes=0,
                       max_memory=None, max_parts=None, timeout_ms=0, sync=False):
        """Stores the body in directory `dir` (each file part of multipart/form-data, or the
        whole body under `name`). done(req, UploadResult) answers; None: 201 with the JSON."""
        out = ctypes.c_void_p()
        _check(_upload_options_new(ctypes.byref(out)))
        opts = out.value
        try:
            _check(_upload_options_set_dir(opts, _b(dir)))
            if name is not None:
                _check(_upload_options_set_name(opts, _b(name)))
            _check(_upload_options_set_overwrite(opts, 1 if overwrite else 0))
            _check(_upload_options_set_max_bytes(opts, max_bytes))
            if max_memory is not None:
                _check(_upload_options_set_max_memory(opts, max_memory))
            if max_parts is not None:
                _check(_upload_options_set_max_parts(opts, max_parts))
            _check(_upload_options_set_timeout(opts, timeout_ms))
            _check(_upload_options_set_sync(opts, 1 if sync else 0))
            if done is None:
                _check(_ctx_receive_upload(self._h(), opts, ctypes.cast(None, UPLOAD_DONE_CB),
                                           None, _NO_FREE))
            else:
                key = _register(_Entry(done, self._server))
                _check(_ctx_receive_upload(self._h(), opts, _upload_done_tramp, key,
                                           _free_tramp))
        finally:
            _upload_options_free(opts)  # copied


class UploadResult:
    """What an upload stored: files (a list of dicts: field, filename, name, path,
    content_type, sha256, size), fields ({name: value}) and json (the library's summary)."""

    def __init__(self, files, fields, json_text):
        self.files = files
        self.fields = fields
        self.json = json_text

    @classmethod
    def _from_c(cls, r):
        files = []
        for i in range(_upload_result_file_count(r)):
            f = {}
            for key, what in _UPLOAD_FIELDS.items():
                v = _upload_result_file(r, i, what)
                f[key] = None if v is None else v.decode("utf-8", "surrogateescape")
            f["size"] = _upload_result_file_size(r, i)
            files.append(f)
        fields = {}
        name, value = ctypes.c_char_p(), ctypes.c_char_p()
        for i in range(_upload_result_field_count(r)):
            _check(_upload_result_field(r, i, ctypes.byref(name), ctypes.byref(value)))
            fields[name.value.decode("utf-8", "surrogateescape")] = (
                value.value.decode("utf-8", "surrogateescape"))
        j = _upload_result_json(r)
        return cls(files, fields, None if j is None else j.decode("utf-8", "surrogateescape"))


class Stream:
    """A streamed response body (vs_stream_t): write() chunks from any thread (one producer
    at a time), then end(). A context manager: leaving the block ends it."""

    def __init__(self, ptr, server=None):
        self._ptr = ptr
        self._server = server
        self._lock = threading.Lock()

    def _h(self):
        ptr = self._ptr
        if ptr is None:
            raise VstreamError(VS_EPIPE, "VS_EPIPE", "the stream was ended")
        return ptr

    def write(self, data):
        """Queues one chunk (copied now: data_free NULL). True: write on. False: queued, but
        past the high-water mark (on_drain says when to go on). VstreamError(VS_EPIPE) when
        the stream is closed (the client left)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        data = bytes(data)
        with self._lock:
            rc = _stream_write(self._h(), data, len(data), _NO_FREE)
        if rc == VS_EAGAIN:
            return False
        _check(rc)
        return True

    def end(self, trailers=None):
        """Ends the body (with trailer fields, HTTP/1.1 only) and frees the handle; callbacks
        already set still run. Idempotent."""
        with self._lock:
            if self._ptr is None:
                return
            trailers = trailers or ()
            items = list(trailers.items() if hasattr(trailers, "items") else trailers)
            if items:
                names = (ctypes.c_char_p * len(items))(*[_b(k) for k, _ in items])
                values = (ctypes.c_char_p * len(items))(*[_b(v) for _, v in items])
                _check(_stream_end(self._ptr, names, values, len(items)))
            else:
                _check(_stream_end(self._ptr, None, None, 0))
            _stream_free(self._ptr)
            self._ptr = None

    close = end

    @property
    def closed(self):
        """True once ended or closed (the client left)."""
        ptr = self._ptr
        return ptr is None or _check(_stream_closed(ptr)) == 1

    @property
    def queued(self):
        return 0 if self._ptr is None else _stream_queued(self._ptr)

    def on_drain(self, fn):
        """fn() on the loop thread when the queue drains after a write() returned False."""
        key = _register(_Entry(fn, self._server))
        _check(_stream_on_drain(self._h(), _event_tramp, key, _free_tramp))

    def on_close(self, fn):
        """fn() once if the stream is closed before it ended (client gone, server stopping)."""
        key = _register(_Entry(fn, self._server))
        _check(_stream_on_close(self._h(), _event_tramp, key, _free_tramp))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.end()

    def __del__(self):
        # A body left open would hang its client until a timeout; vs_stream_free ends it.
        ptr = self._ptr
        if ptr is not None:
            self._ptr = None
            try:
                _stream_free(ptr)
            except Exception:
                pass
