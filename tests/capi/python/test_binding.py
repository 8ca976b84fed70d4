"""The ctypes binding (examples/python/vstream.py) against the real libvstream.so.0.

Plain unittest, standard library only. A Server with Python handlers listens on 127.0.0.1,
port 0; http.client talks to it (no proxies, loopback only). Every wait has a deadline, and no
check depends on timing. Run by meson (suite capi) with VSTREAM_LIB and PYTHONPATH set, or by
hand: VSTREAM_LIB=build/src/libvstream.so.0 python3 tests/capi/python/test_binding.py
"""

import hashlib
import http.client
import io
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

_here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_here, "..", "..", "..", "examples", "python"))

import vstream  # noqa: E402

TIMEOUT = 10.0  # seconds, for every socket and every wait


def request(port, method, path, body=None, headers=None):
    """One request on a fresh connection: (status, headers message, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.headers, data
    finally:
        conn.close()


def wait_until(predicate, what):
    """Waits (bounded) for something the server does after the client already has its answer
    (counters, on_finish, the access log's own thread)."""
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


def held_by(server):
    """Registry entries (Python callables the library holds) that belong to `server`."""
    return [e for e in list(vstream._registry.values()) if e.owner is server]


class BindingTest(unittest.TestCase):
    """One server with every kind of route, shared by the tests of this class."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vstream-py-")
        cls.media = os.path.join(cls.tmp, "media")
        cls.uploads = os.path.join(cls.tmp, "uploads")
        os.mkdir(cls.media)
        os.mkdir(cls.uploads)
        cls.clip = bytes(range(256)) * 40  # 10240 bytes, every offset recognisable
        with open(os.path.join(cls.media, "clip.bin"), "wb") as f:
            f.write(cls.clip)
        cls.doc = "<h1>vstream from Python</h1>\n".encode()
        with open(os.path.join(cls.media, "page.html"), "wb") as f:
            f.write(cls.doc)

        cls.finished = []     # statuses seen by on_finish
        cls.log_lines = []    # the access log's lines (sink on the log's own thread)
        cls.async_info = {}
        cls.private_calls = []
        cls.kept_request = []

        srv = cls.server = vstream.Server(port=0, address="127.0.0.1", threads=2)
        srv.use_access_log(sink=cls.log_lines.append)

        @srv.get("/api/hello/:name")
        def hello(req):
            req.json(200, {"hello": req.param("name"), "params": req.params,
                           "route": req.route})

        @srv.get("/echo")
        def echo(req):
            req.on_finish(lambda r: cls.finished.append(r.response_status))
            req.json(200, {
                "method": req.method, "path": req.path, "target": req.target,
                "query_string": req.query_string, "y": req.query("y"),
                "xs": req.query_all("x"), "missing": req.query("nope", "default"),
                "header": req.header("X-Test"), "absent": req.header("X-Absent"),
                "names": [n.lower() for n, _ in req.headers], "peer": req.peer_address,
                "http_minor": req.http_minor,
            })

        @srv.post("/echo")
        def echo_post(req):
            body = req.body
            req.send(200, body, headers={"Content-Type": req.header("Content-Type", "x/y"),
                                         "X-Length": str(len(body))})

        @srv.get("/file")
        def file(req):
            req.file(os.path.join(cls.media, "clip.bin"), cache_control="max-age=60")

        @srv.get("/file-part")
        def file_part(req):
            req.file_range(os.path.join(cls.media, "clip.bin"), 1000, 50)

        @srv.get("/async")
        def async_handler(req):
            req.retain()
            cls.async_info["handler_thread"] = threading.get_ident()

            def answer():
                # Answer once the loop thread has left the handler (bounded wait).
                deadline = time.monotonic() + TIMEOUT
                while req._in_callback and time.monotonic() < deadline:
                    time.sleep(0.005)
                cls.async_info["after_return"] = not req._in_callback
                cls.async_info["answer_thread"] = threading.get_ident()
                req.json(200, {"answered_by": "worker"})
                req.release()
                try:
                    req.path
                    cls.async_info["stale_use"] = "no error"
                except vstream.VstreamError as e:
                    cls.async_info["stale_use"] = e.code
            t = threading.Thread(target=answer, name="answerer")
            cls.async_info["thread"] = t
            t.start()

        @srv.get("/stream")
        def stream(req):
            s = req.stream(200, headers={"Content-Type": "text/plain"})

            def produce():
                with s:
                    for i in range(5):
                        s.write("chunk-%d\n" % i)
            t = threading.Thread(target=produce, name="producer")
            cls.producer = t
            t.start()

        private = srv.group("/private")

        @private.use
        def auth(req, next):
            if req.header("Authorization") != "Bearer sesame":
                req.json(401, {"error": "unauthorized"},
                         headers={"WWW-Authenticate": "Bearer"})
                return
            next()

        @private.get("/data")
        def private_data(req):
            cls.private_calls.append(req.path)
            req.json(200, {"secret": 42})

        @srv.get("/boom")
        def boom(req):
            raise RuntimeError("kaboom-marker")

        @srv.get("/boom-after-answer")
        def boom_after(req):
            req.text(200, "answered first")
            raise ValueError("late-failure-marker")

        @srv.get("/keep")
        def keep(req):
            cls.kept_request.append(req)  # without retain(): invalid once this returns
            req.text(200, "kept")

        @srv.post("/count", stream=True)
        def count(req):
            state = {"sha": hashlib.sha256(), "n": 0, "chunks": 0}

            def on_data(r, chunk):
                state["sha"].update(chunk)
                state["n"] += len(chunk)
                state["chunks"] += 1

            def on_end(r):
                r.json(200, {"bytes": state["n"], "sha256": state["sha"].hexdigest(),
                             "chunks": state["chunks"]})
            req.read_body(on_data, on_end)

        @srv.post("/upload", stream=True)
        def upload(req):
            req.receive_upload(cls.uploads, name="raw.bin",
                               done=lambda r, res: r.json(201, {"files": res.files}))

        rid = srv.group("/rid")
        rid.use_request_id()
        rid.use_cors(allow_origins="https://example.test")

        @rid.get("/x")
        def rid_x(req):
            req.json(200, {"id": req.request_id})

        srv.static("/media", cls.media)
        srv.start()
        cls.port = srv.port

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        try:
            srv.close()
            if srv.running or not srv.closed:
                raise AssertionError("server still running after close()")
            # userdata_free ran for every registration, routes and per-request alike.
            if srv.held_callbacks != 0 or held_by(srv):
                raise AssertionError("callbacks still held after close(): %r" % held_by(srv))
        finally:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def get(self, path, headers=None):
        return request(self.port, "GET", path, headers=headers)

    def test_json_route_with_a_decoded_param(self):
        status, headers, body = self.get("/api/hello/w%C3%B6rld")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("application/json"))
        self.assertEqual(json.loads(body), {"hello": "w\u00f6rld", "params": {"name": "w\u00f6rld"},
                                            "route": "/api/hello/:name"})

    def test_query_and_headers(self):
        status, _, body = self.get("/echo?x=1&y=a+b%21&x=2", headers={"X-Test": "hi there"})
        self.assertEqual(status, 200)
        got = json.loads(body)
        self.assertEqual(got["method"], "GET")
        self.assertEqual(got["path"], "/echo")
        self.assertEqual(got["target"], "/echo?x=1&y=a+b%21&x=2")
        self.assertEqual(got["query_string"], "x=1&y=a+b%21&x=2")
        self.assertEqual(got["y"], "a b!")
        self.assertEqual(got["xs"], ["1", "2"])
        self.assertEqual(got["missing"], "default")
        self.assertEqual(got["header"], "hi there")
        self.assertIsNone(got["absent"])
        self.assertIn("x-test", got["names"])
        self.assertEqual(got["peer"], "127.0.0.1")
        self.assertEqual(got["http_minor"], 1)
        wait_until(lambda: 200 in self.finished, "on_finish")

    def test_post_body_is_echoed(self):
        payload = bytes(range(256)) * 8 + b"\0end"
        status, headers, body = request(self.port, "POST", "/echo", body=payload,
                                        headers={"Content-Type": "application/x-test"})
        self.assertEqual(status, 200)
        self.assertEqual(body, payload)
        self.assertEqual(headers["Content-Type"], "application/x-test")
        self.assertEqual(headers["X-Length"], str(len(payload)))

    def test_unknown_path_is_404(self):
        status, _, _ = self.get("/no/such/route")
        self.assertEqual(status, 404)

    def test_static_file(self):
        status, headers, body = self.get("/media/clip.bin")
        self.assertEqual(status, 200)
        self.assertEqual(body, self.clip)
        self.assertEqual(headers["Content-Length"], str(len(self.clip)))
        status, headers, body = self.get("/media/page.html")
        self.assertEqual(status, 200)
        self.assertEqual(body, self.doc)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))

    def test_static_range_gives_206(self):
        status, headers, body = self.get("/media/clip.bin", headers={"Range": "bytes=300-309"})
        self.assertEqual(status, 206)
        self.assertEqual(body, self.clip[300:310])
        self.assertEqual(headers["Content-Range"], "bytes 300-309/%d" % len(self.clip))

    def test_static_stays_inside_its_root(self):
        status, _, body = self.get("/media/../../etc/passwd")
        self.assertIn(status, (400, 404))
        self.assertNotIn(b"root:", body)

    def test_send_file(self):
        status, headers, body = self.get("/file")
        self.assertEqual(status, 200)
        self.assertEqual(body, self.clip)
        self.assertEqual(headers["Cache-Control"], "max-age=60")
        etag = headers["ETag"]
        self.assertTrue(etag)
        status, _, body = self.get("/file", headers={"If-None-Match": etag})
        self.assertEqual(status, 304)
        self.assertEqual(body, b"")
        status, _, body = self.get("/file", headers={"Range": "bytes=-16"})
        self.assertEqual(status, 206)
        self.assertEqual(body, self.clip[-16:])

    def test_send_file_range(self):
        status, _, body = self.get("/file-part")
        self.assertEqual(status, 200)
        self.assertEqual(body, self.clip[1000:1050])

    def test_async_answer_from_a_python_thread(self):
        status, _, body = self.get("/async")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"answered_by": "worker"})
        t = self.async_info["thread"]
        t.join(TIMEOUT)
        self.assertFalse(t.is_alive())
        self.assertTrue(self.async_info["after_return"])
        self.assertNotEqual(self.async_info["answer_thread"], self.async_info["handler_thread"])
        # After the last release the binding refuses the stale handle instead of using it.
        self.assertEqual(self.async_info["stale_use"], vstream.VS_EINVAL)

    def test_request_is_refused_after_its_callback(self):
        self.kept_request.clear()
        status, _, body = self.get("/keep")
        self.assertEqual((status, body), (200, b"kept"))
        req = self.kept_request[0]
        self.assertFalse(req.valid)
        with self.assertRaises(vstream.VstreamError) as cm:
            req.header("Host")
        self.assertEqual(cm.exception.code, vstream.VS_EINVAL)

    def test_streamed_response(self):
        status, headers, body = self.get("/stream")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Transfer-Encoding"], "chunked")
        self.assertEqual(body, b"".join(b"chunk-%d\n" % i for i in range(5)))
        self.producer.join(TIMEOUT)
        self.assertFalse(self.producer.is_alive())

    def test_middleware_short_circuits_with_401(self):
        before = len(self.private_calls)
        status, headers, body = self.get("/private/data")
        self.assertEqual(status, 401)
        self.assertEqual(json.loads(body), {"error": "unauthorized"})
        self.assertEqual(headers["WWW-Authenticate"], "Bearer")
        self.assertEqual(len(self.private_calls), before)  # the handler never ran
        status, _, body = self.get("/private/data", headers={"Authorization": "Bearer sesame"})
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"secret": 42})
        self.assertEqual(self.private_calls[-1], "/private/data")

    def test_exception_in_a_handler_gives_500_and_serving_goes_on(self):
        captured = io.StringIO()
        old, sys.stderr = sys.stderr, captured
        try:
            status, _, body = self.get("/boom")
            late_status, _, late_body = self.get("/boom-after-answer")
        finally:
            sys.stderr = old
        self.assertEqual(status, 500)
        self.assertNotIn(b"kaboom", body)  # nothing of the exception leaks to the client
        self.assertIn("kaboom-marker", captured.getvalue())
        self.assertIn("RuntimeError", captured.getvalue())
        # An exception after the answer: the answer stands, the exception is logged.
        self.assertEqual((late_status, late_body), (200, b"answered first"))
        self.assertIn("late-failure-marker", captured.getvalue())
        status, _, body = self.get("/api/hello/again")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["hello"], "again")

    def test_streamed_request_body(self):
        payload = os.urandom(300 * 1024)
        status, _, body = request(self.port, "POST", "/count", body=payload)
        self.assertEqual(status, 200)
        got = json.loads(body)
        self.assertEqual(got["bytes"], len(payload))
        self.assertEqual(got["sha256"], hashlib.sha256(payload).hexdigest())
        self.assertGreaterEqual(got["chunks"], 1)

    def test_upload_stores_the_body(self):
        payload = b"uploaded bytes " * 1000
        status, _, body = request(self.port, "POST", "/upload", body=payload,
                                  headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(status, 201)
        files = json.loads(body)["files"]
        self.assertEqual(len(files), 1)
        self.assertEqual(files[0]["name"], "raw.bin")
        self.assertEqual(files[0]["size"], len(payload))
        self.assertEqual(files[0]["sha256"], hashlib.sha256(payload).hexdigest())
        with open(os.path.join(self.uploads, "raw.bin"), "rb") as f:
            self.assertEqual(f.read(), payload)
        # overwrite is off: the same name again is a conflict, and the first file stays.
        status, _, _ = request(self.port, "POST", "/upload", body=b"other",
                               headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(status, 409)
        with open(os.path.join(self.uploads, "raw.bin"), "rb") as f:
            self.assertEqual(f.read(), payload)

    def test_built_in_middleware(self):
        status, headers, body = self.get("/rid/x", headers={"Origin": "https://example.test"})
        self.assertEqual(status, 200)
        rid = json.loads(body)["id"]
        self.assertTrue(rid)
        self.assertEqual(headers["X-Request-ID"], rid)
        self.assertEqual(headers["Access-Control-Allow-Origin"], "https://example.test")
        wait_until(lambda: any('"/rid/x"' in line for line in list(self.log_lines)),
                   "the access log line")

    def test_server_stats(self):
        before = self.server.stat("requests")
        for _ in range(3):
            self.assertEqual(self.get("/api/hello/stats")[0], 200)
        wait_until(lambda: self.server.stat("requests") >= before + 3, "the request counter")
        stats = self.server.stats()
        self.assertEqual(set(stats), set(vstream.STATS))
        self.assertGreaterEqual(stats["connections_accepted"], 3)
        self.assertEqual(stats["connections_rejected"], 0)
        self.assertEqual(stats["connections_refused"], 0)
        self.get("/media/clip.bin")
        self.get("/media/clip.bin")
        self.assertGreaterEqual(self.server.stat("cache_hits") + self.server.stat("cache_misses"),
                                2)
        with self.assertRaises(vstream.VstreamError) as cm:
            self.server.stat(999)
        self.assertEqual(cm.exception.code, vstream.VS_EINVAL)

    def test_routes_cannot_be_added_while_running(self):
        with self.assertRaises(vstream.VstreamError) as cm:
            self.server.add_route("GET", "/late", lambda req: None)
        self.assertEqual(cm.exception.code, vstream.VS_ERUNNING)
        self.assertEqual(cm.exception.name, "VS_ERUNNING")


class ErrorTest(unittest.TestCase):
    def test_route_conflict_raises_and_frees_the_callback(self):
        with vstream.Server(port=0) as srv:
            srv.add_route("GET", "/videos/:id", lambda req: None)
            held = len(held_by(srv))
            with self.assertRaises(vstream.VstreamError) as cm:
                srv.add_route("GET", "/videos/:name", lambda req: None)
            e = cm.exception
            self.assertEqual(e.code, vstream.VS_ECONFLICT)
            self.assertEqual(e.name, "VS_ECONFLICT")
            self.assertIn("/videos/", e.message)  # vs_last_error_message names the routes
            self.assertIn("VS_ECONFLICT", str(e))
            # The failed registration's userdata_free ran at once.
            self.assertEqual(len(held_by(srv)), held)
        self.assertEqual(held_by(srv), [])

    def test_bad_configuration_values(self):
        with self.assertRaises(vstream.VstreamError) as cm:
            vstream.Config(port=70000)
        self.assertEqual(cm.exception.code, vstream.VS_EINVAL)
        self.assertIn("port", cm.exception.message)
        with vstream.Config() as cfg:
            with self.assertRaises(vstream.VstreamError):
                cfg.set_limit("max_ranges", 0)
            with self.assertRaises(vstream.VstreamError):
                cfg.set_timeout("header", 0)
            with self.assertRaises(vstream.VstreamError):
                cfg.set_limit(12345, 1)
            cfg.set_limit("max_body_bytes", 1 << 20)
            self.assertEqual(cfg.get_limit("max_body_bytes"), 1 << 20)
            cfg.set_timeout("shutdown_grace", 2500)
            self.assertEqual(cfg.get_timeout("shutdown_grace"), 2500)
            cfg.set_flag("auto_options", False)
            self.assertFalse(cfg.get_flag("auto_options"))
            self.assertEqual(cfg.get_timeout("accept_backoff"), 500)
            with self.assertRaises(vstream.VstreamError):
                cfg.set_timeout("accept_backoff", 0)
            self.assertTrue(cfg.get_flag("raise_fd_limit"))
            cfg.set_flag("raise_fd_limit", False)
            self.assertFalse(cfg.get_flag("raise_fd_limit"))

    def test_static_root_must_be_a_directory(self):
        with vstream.Server(port=0) as srv:
            with self.assertRaises(vstream.VstreamError) as cm:
                srv.static("/m", "/no/such/dir/for/vstream")
            self.assertEqual(cm.exception.code, vstream.VS_EINVAL)

    def test_error_names_and_texts(self):
        self.assertEqual(vstream.err_name(vstream.VS_EINVAL), "VS_EINVAL")
        self.assertEqual(vstream.err_name(vstream.VS_ECONFLICT), "VS_ECONFLICT")
        self.assertEqual(vstream.err_name(-3999), "VS_UNKNOWN")
        self.assertEqual(vstream.strerror(vstream.VS_EINVAL), "invalid argument")
        self.assertTrue(vstream.version().startswith("0."))
        self.assertEqual(vstream.version_hex() >> 16, 0)

    def test_closed_server_is_refused(self):
        srv = vstream.Server(port=0)
        srv.close()
        srv.close()  # idempotent
        with self.assertRaises(vstream.VstreamError) as cm:
            srv.port
        self.assertEqual(cm.exception.code, vstream.VS_EINVAL)
        with self.assertRaises(vstream.VstreamError):
            srv.add_route("GET", "/", lambda req: None)


class ClientGoneTest(unittest.TestCase):
    """Event callbacks: backpressure on a stream, and a client that leaves mid-answer."""

    def setUp(self):
        self.state = {}
        self.wake = threading.Event()
        self.stream_closed = threading.Event()
        self.cancelled = threading.Event()
        self.handler_ran = threading.Event()
        self.srv = vstream.Server(port=0, threads=1, limits={
            "write_high_water": 64 * 1024, "write_low_water": 16 * 1024})

        @self.srv.get("/live")
        def live(req):
            s = req.stream(200)
            s.on_drain(self.wake.set)
            s.on_close(lambda: (self.stream_closed.set(), self.wake.set()))

            def produce():
                chunk = b"x" * 16384
                deadline = time.monotonic() + TIMEOUT
                try:
                    while time.monotonic() < deadline:
                        if not s.write(chunk):
                            self.state["eagain"] = True
                            self.wake.wait(TIMEOUT)
                            self.wake.clear()
                    self.state["code"] = "deadline"
                except vstream.VstreamError as e:
                    self.state["code"] = e.code
                    self.state["closed"] = s.closed
                finally:
                    s.end()
            self.producer = threading.Thread(target=produce, name="live-producer")
            self.producer.start()

        @self.srv.get("/hang")
        def hang(req):
            req.retain()
            req.on_cancel(self.cancelled.set)
            self.state["req"] = req
            self.handler_ran.set()

        self.srv.start()

    def tearDown(self):
        req = self.state.get("req")
        if req is not None and req.valid:
            req.release()
        self.srv.close()
        self.assertEqual(held_by(self.srv), [])

    def connect(self, path):
        import socket
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill up sooner
        sock.settimeout(TIMEOUT)
        sock.connect(("127.0.0.1", self.srv.port))
        sock.sendall(("GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path).encode())
        return sock

    def test_stream_backpressure_then_client_gone(self):
        sock = self.connect("/live")
        try:
            head = sock.recv(1024)  # then read no more: the queue fills up
            self.assertTrue(head.startswith(b"HTTP/1.1 200"))
            wait_until(lambda: self.state.get("eagain"), "a write past the high-water mark")
        finally:
            sock.close()
        self.assertTrue(self.stream_closed.wait(TIMEOUT), "on_close did not run")
        self.producer.join(TIMEOUT)
        self.assertFalse(self.producer.is_alive())
        self.assertEqual(self.state["code"], vstream.VS_EPIPE)
        self.assertTrue(self.state["closed"])

    def test_retained_request_sees_its_cancellation(self):
        sock = self.connect("/hang")
        try:
            self.assertTrue(self.handler_ran.wait(TIMEOUT))
        finally:
            sock.close()
        self.assertTrue(self.cancelled.wait(TIMEOUT), "on_cancel did not run")
        req = self.state["req"]
        self.assertTrue(req.cancelled)
        req.release()
        self.assertFalse(req.valid)


class TlsTest(unittest.TestCase):
    """HTTPS from Python: a TLS listener beside a plain one, fetched with the ssl module, the
    TLS settings, counters and reloads. The certificate is made with the openssl command."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vstream-py-tls-")
        cls.cert = os.path.join(cls.tmp, "cert.pem")
        cls.key = os.path.join(cls.tmp, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", cls.key, "-out", cls.cert],
            check=True, capture_output=True, timeout=60)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def https_get(self, port, path):
        ctx = ssl.create_default_context(cafile=self.cert)
        conn = http.client.HTTPSConnection("localhost", port, timeout=TIMEOUT, context=ctx)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read(), conn.sock.version()
        finally:
            conn.close()

    def test_serves_https_beside_http(self):
        with vstream.Server(listeners=[("127.0.0.1", 0), ("127.0.0.1", 0, True)], threads=1,
                            tls_certificates=[(self.cert, self.key)],
                            tls={"alpn": ["http/1.1"], "handshake_timeout_ms": 5000}) as srv:
            @srv.get("/hello")
            def hello(req):
                req.text(200, "hello over tls")
            srv.start()
            plain, secure = srv.ports
            self.assertEqual(request(plain, "GET", "/hello")[2], b"hello over tls")
            status, body, version = self.https_get(secure, "/hello")
            self.assertEqual((status, body), (200, b"hello over tls"))
            self.assertIn(version, ("TLSv1.2", "TLSv1.3"))
            self.assertEqual(srv.stat("tls_handshakes"), 1)
            # Plain HTTP to the TLS port: a 400 saying so.
            status, _, body = request(secure, "GET", "/hello")
            self.assertEqual(status, 400)
            self.assertIn(b"plain HTTP request was sent to HTTPS port", body)
            self.assertEqual(srv.stats()["tls_failed_plain_http"], 1)
            # A reload from the same files, then one with a key that is not PEM: refused, and
            # the old certificate still serves.
            srv.reload_tls()
            bad_key = os.path.join(self.tmp, "bad.pem")
            with open(bad_key, "w") as f:
                f.write("not a key\n")
            with vstream.Config(tls_certificates=[(self.cert, bad_key)]) as bad:
                with self.assertRaises(vstream.VstreamError) as cm:
                    srv.reload_tls(bad)
            self.assertIn("bad.pem", cm.exception.message)
            self.assertEqual(self.https_get(secure, "/hello")[1], b"hello over tls")
            srv.stop()

    def test_tls_settings(self):
        with vstream.Config(tls={"min_version": 13, "session_tickets": False}) as cfg:
            self.assertEqual(cfg.get_tls("min_version"), 13)
            self.assertEqual(cfg.get_tls("session_tickets"), 0)
            self.assertEqual(cfg.get_tls("handshake_timeout_ms"), 10000)
            for name, value in (("min_version", 11), ("max_handshakes", 0), ("alpn", "a,,b")):
                with self.assertRaises(vstream.VstreamError) as cm:
                    cfg.set_tls(name, value)
                self.assertEqual(cm.exception.code, vstream.VS_EINVAL)
        # A TLS listener without a certificate is refused when the server is made.
        with self.assertRaises(vstream.VstreamError) as cm:
            vstream.Server(listeners=[("127.0.0.1", 0, True)])
        self.assertIn("certificates", cm.exception.message)


class LifecycleTest(unittest.TestCase):
    def test_listeners_each_bind_a_port_and_serve(self):
        with vstream.Server(listeners=[("127.0.0.1", 0), ("127.0.0.1", 0)], threads=1) as srv:
            @srv.get("/")
            def hello(req):
                req.text(200, "hello")
            self.assertEqual(srv.ports, [])
            srv.start()
            ports = srv.ports
            self.assertEqual(len(ports), 2)
            self.assertNotEqual(ports[0], ports[1])
            self.assertEqual(srv.port, ports[0])
            for port in ports:
                self.assertEqual(request(port, "GET", "/")[2], b"hello")
            srv.stop()
        with self.assertRaises(vstream.VstreamError) as cm:
            vstream.Config(listeners=[("::1", 9000), ("0::1", 9000)])
        self.assertEqual(cm.exception.code, vstream.VS_EINVAL)

    def test_wait_returns_once_stopped_from_another_thread(self):
        with vstream.Server(port=0, threads=1) as srv:
            @srv.get("/stop")
            def stop(req):
                req.text(200, "stopping")
            srv.start()
            self.assertTrue(srv.running)
            self.assertGreater(srv.port, 0)
            self.assertFalse(srv.wait(0.01))  # still running: the bounded wait says so
            self.assertEqual(request(srv.port, "GET", "/stop")[2], b"stopping")
            stopper = threading.Thread(target=srv.stop)
            stopper.start()
            self.assertTrue(srv.wait(TIMEOUT))
            stopper.join(TIMEOUT)
            self.assertFalse(srv.running)
            with self.assertRaises(vstream.VstreamError) as cm:
                srv.start()  # a stopped server cannot be restarted
            self.assertIn(cm.exception.code, (vstream.VS_ESTOPPED, vstream.VS_ERUNNING))
        self.assertTrue(srv.closed)
        self.assertEqual(held_by(srv), [])

    def test_close_from_a_handler_is_refused(self):
        outcome = {}
        with vstream.Server(port=0, threads=1) as srv:
            @srv.get("/close")
            def close(req):
                try:
                    srv.close()
                    outcome["code"] = "closed"
                except vstream.VstreamError as e:
                    outcome["code"] = e.code
                req.text(200, "still here")
            srv.start()
            self.assertEqual(request(srv.port, "GET", "/close")[:1], (200,))
            self.assertEqual(outcome["code"], vstream.VS_EBUSY)
            self.assertTrue(srv.running)

    def test_fallback_sees_unrouted_requests(self):
        with vstream.Server(port=0, threads=1) as srv:
            @srv.fallback
            def fallback(req):
                req.text(418, "fallback " + req.path)
            srv.start()
            status, _, body = request(srv.port, "GET", "/anything/here")
            self.assertEqual((status, body), (418, b"fallback /anything/here"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
