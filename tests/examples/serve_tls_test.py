#!/usr/bin/python3
"""vstream-serve's HTTPS from outside, with real clients: curl, openssl s_client and Python's ssl.

Certificates are made here with the openssl command (a CA, a default certificate for localhost
and 127.0.0.1, one for a.example.test, a wildcard *.wild.example.test, a client certificate),
in a temporary directory that goes at the end. Each server is started on ephemeral loopback
ports (read from its listening lines) and stopped by PID whatever happens.

usage: tests/examples/serve_tls_test.py VSTREAM_SERVE
"""
import hashlib
import http.client
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

HANDSHAKE_TIMEOUT_MS = 2000  # the main server's --tls-handshake-timeout-ms
PONG = b'{"message":"pong"}'
PLAIN_400_BODY = b"400 Bad Request: plain HTTP request was sent to HTTPS port"

results = []  # (case, "ok" or "FAIL", seconds, note)


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def run(args, timeout=20, input=None, check_rc=False):
    """Runs a client to completion (bounded); returns CompletedProcess with bytes."""
    try:
        p = subprocess.run(args, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure(f"{args[0]} did not finish within {timeout} s: {' '.join(args)}")
    if check_rc and p.returncode != 0:
        raise Failure(f"{' '.join(args)} exited {p.returncode}: "
                      f"{p.stderr.decode(errors='replace')}")
    return p


# --- certificates -----------------------------------------------------------------------------

class Pki:
    def __init__(self, d):
        self.d = d
        self.serial = 1000
        os.makedirs(d)

    def path(self, name):
        return os.path.join(self.d, name)

    def _config(self, name, lines):
        """An openssl config of its own (no system openssl.cnf): req's basics, and the
        extensions in section [x]."""
        p = self.path(name + ".cnf")
        with open(p, "w") as f:
            f.write("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n[x]\n" +
                    "\n".join(lines) + "\n")
        return p

    def _key_args(self, kind):
        if kind == "rsa":
            return ["-newkey", "rsa:2048"]
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]

    def ca(self, name, cn):
        cnf = self._config(name, ["basicConstraints = critical, CA:TRUE",
                                  "keyUsage = critical, keyCertSign, cRLSign",
                                  "subjectKeyIdentifier = hash"])
        run(["openssl", "req", "-x509", "-config", cnf, "-extensions", "x",
             *self._key_args("ec"), "-nodes", "-days", "2", "-set_serial", "1", "-subj",
             "/CN=" + cn, "-keyout", self.path(name + ".key"), "-out", self.path(name + ".pem")],
            check_rc=True)
        return self.path(name + ".pem"), self.path(name + ".key")

    def leaf(self, name, cn, ca, sans=(), client=False, kind="ec"):
        """A certificate signed by the CA named ca; returns (cert, key, serial)."""
        self.serial += 1
        lines = ["basicConstraints = critical, CA:FALSE",
                 "keyUsage = critical, digitalSignature, keyEncipherment",
                 "extendedKeyUsage = " + ("clientAuth" if client else "serverAuth"),
                 "authorityKeyIdentifier = keyid"]
        if sans:
            lines.append("subjectAltName = " + ", ".join(sans))
        cnf = self._config(name, lines)
        key, csr, cert = (self.path(name + s) for s in (".key", ".csr", ".pem"))
        run(["openssl", "req", "-new", "-config", cnf, *self._key_args(kind),
             "-nodes", "-subj", "/CN=" + cn, "-keyout", key, "-out", csr], check_rc=True)
        run(["openssl", "x509", "-req", "-in", csr, "-CA", self.path(ca + ".pem"), "-CAkey",
             self.path(ca + ".key"), "-set_serial", str(self.serial), "-days", "2", "-extfile",
             cnf, "-extensions", "x", "-out", cert], check_rc=True)
        return cert, key, self.serial


# --- the server -------------------------------------------------------------------------------

class Server:
    """vstream-serve in the background; its stdout and stderr lines are collected."""

    def __init__(self, serve, args, name):
        self.name = name
        self.lines = {"stdout": [], "stderr": []}
        self.cond = threading.Condition()
        self.proc = subprocess.Popen([serve, "--threads", "2", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.readers = [threading.Thread(target=self._read, args=(s, k), daemon=True)
                        for s, k in ((self.proc.stdout, "stdout"), (self.proc.stderr, "stderr"))]
        for t in self.readers:
            t.start()
        self.http_port = self.tls_port = None

    def _read(self, stream, key):
        for raw in iter(stream.readline, b""):
            with self.cond:
                self.lines[key].append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines[key].append(None)  # the end
            self.cond.notify_all()

    def wait_line(self, key, pattern, timeout=10, start=0):
        """Waits for a line matching pattern from index start on; returns (index, match)."""
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        with self.cond:
            while True:
                for i in range(start, len(self.lines[key])):
                    line = self.lines[key][i]
                    if line is None:
                        raise Failure(f"{self.name}: {key} ended (exit {self.proc.poll()}) "
                                      f"before a line matching {pattern!r}; "
                                      f"stderr: {self.stderr_lines()}")
                    m = rx.search(line)
                    if m:
                        return i, m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure(f"{self.name}: no {key} line matching {pattern!r} within "
                                  f"{timeout} s; got {self.lines[key]}")
                self.cond.wait(left)

    def line_count(self, key):
        with self.cond:
            return len(self.lines[key])

    def stderr_lines(self):
        with self.cond:
            return [s for s in self.lines["stderr"] if s is not None]

    def start(self):
        _, m = self.wait_line("stdout", r"listening on http://127\.0\.0\.1:(\d+)/")
        self.http_port = int(m.group(1))
        _, m = self.wait_line("stdout", r"listening on https://127\.0\.0\.1:(\d+)/")
        self.tls_port = int(m.group(1))
        check(self.http_port > 0 and self.tls_port > 0 and self.http_port != self.tls_port,
              f"{self.name}: ports http {self.http_port}, https {self.tls_port}")
        return self

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM, then SIGKILL if need be; returns the exit status (negative: a signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for t in self.readers:
            t.join(5)
        return self.proc.returncode


# --- helpers ----------------------------------------------------------------------------------

def curl(server, path, *extra, host="localhost", timeout=20):
    """curl over HTTPS, verifying against the test CA; localhost resolves to 127.0.0.1."""
    args = ["curl", "-sS", "--max-time", str(timeout), "--cacert", CA_PEM, "--resolve",
            f"{host}:{server.tls_port}:127.0.0.1", *extra,
            f"https://{host}:{server.tls_port}{path}"]
    return run(args, timeout=timeout + 5)


REQ = b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def s_client(port, *extra, request=REQ, timeout=10):
    """openssl s_client to 127.0.0.1:port. It sends request (by default a GET /ping that asks
    the server to close) and keeps its stdin open until it exits: the server's close ends it,
    so what comes after the handshake (TLS 1.3 tickets) arrives first, and s_client does not
    linger as it does after an end of stdin. request=None: stdin ends at once (for handshakes
    that fail). Returns (exit status, stdout and stderr as text)."""
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *extra]
    with tempfile.TemporaryFile() as out:
        p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT)
        try:
            try:
                if request is not None:
                    p.stdin.write(request)
                    p.stdin.flush()
                else:
                    p.stdin.close()
            except BrokenPipeError:
                pass  # it ended already: the handshake failed
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            out.seek(0)
            raise Failure(f"s_client {' '.join(extra)} did not finish within {timeout} s: "
                          f"{out.read().decode(errors='replace')}")
        finally:
            if not p.stdin.closed:
                try:
                    p.stdin.close()
                except BrokenPipeError:
                    pass
        out.seek(0)
        return p.returncode, out.read().decode(errors="replace")


def ssl_context(ca=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca or CA_PEM)
    return ctx


def peer_subject_cn(cert):
    for rdn in cert["subject"]:
        for k, v in rdn:
            if k == "commonName":
                return v
    return None


def https_get(port, path="/ping", ctx=None):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx or ssl_context(),
                                       timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read(), conn.sock.getpeercert()
    finally:
        conn.close()


def peer_cert_via(port, server_hostname):
    """The certificate the server presents for server_hostname (None: no SNI), unverified
    as to its name, verified as to its chain."""
    ctx = ssl_context()
    ctx.check_hostname = False
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as s:
            return s.getpeercert()


def wait_closed(sock, timeout):
    """Reads until EOF or reset within timeout; returns (closed, bytes read)."""
    deadline = time.monotonic() + timeout
    got = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False, got
        r, _, _ = select.select([sock], [], [], left)
        if not r:
            continue
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return True, got
        if not chunk:
            return True, got
        got += chunk


def client_hello_bytes():
    """A real TLS ClientHello (records as a client would send them), from an SSLObject."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    assert hello[0] == 0x16 and len(hello) > 100, hello[:8]
    return hello


def file_bytes(path):
    with open(path, "rb") as f:
        return f.read()


# --- cases ------------------------------------------------------------------------------------

def case_curl(srv, tmp, big):
    data = file_bytes(big)
    # /ping by address: the certificate's IP SAN verifies, no SNI is sent.
    p = run(["curl", "-sS", "--max-time", "10", "--cacert", CA_PEM,
             f"https://127.0.0.1:{srv.tls_port}/ping"])
    check(p.returncode == 0 and p.stdout == PONG,
          f"curl https://127.0.0.1/ping: rc {p.returncode}, {p.stdout!r} {p.stderr!r}")
    p = curl(srv, "/ping")
    check(p.returncode == 0 and p.stdout == PONG,
          f"curl https://localhost/ping: rc {p.returncode}, {p.stdout!r} {p.stderr!r}")

    out = os.path.join(tmp, "got.bin")
    p = curl(srv, "/big.bin", "-o", out, "-w", "%{http_code} %{http_version}")
    check(p.returncode == 0 and p.stdout == b"200 1.1",
          f"GET /big.bin: rc {p.returncode}, {p.stdout!r} {p.stderr!r}")
    got = file_bytes(out)
    if got != data:
        first = next((i for i, (a, b) in enumerate(zip(got, data)) if a != b),
                     min(len(got), len(data)))
        raise Failure(f"GET /big.bin: {len(got)} bytes, the file {len(data)}, first "
                      f"difference at byte {first}")
    os.unlink(out)
    p = curl(srv, "/big.bin", "--tlsv1.2", "--tls-max", "1.2", "-o", out, "-w", "%{http_code}")
    check(p.returncode == 0 and p.stdout == b"200" and file_bytes(out) == data,
          f"GET /big.bin over TLS 1.2: rc {p.returncode} {p.stdout!r}, or other bytes")

    hdr = os.path.join(tmp, "h.txt")
    p = curl(srv, "/big.bin", "-r", "100-199", "-D", hdr, "-o", out, "-w", "%{http_code}")
    check(p.returncode == 0 and p.stdout == b"206", f"Range 100-199: {p.stdout!r} {p.stderr!r}")
    check(file_bytes(out) == data[100:200], "Range 100-199: not bytes 100-199 of the file")
    headers = file_bytes(hdr).decode().lower()
    check(f"content-range: bytes 100-199/{len(data)}" in headers,
          f"Range 100-199: Content-Range missing or wrong: {headers!r}")

    p = curl(srv, "/big.bin", "-r", "0-9,4000000-4000099,-50", "-D", hdr, "-o", out, "-w",
             "%{http_code}")
    check(p.returncode == 0 and p.stdout == b"206", f"multi-range: {p.stdout!r} {p.stderr!r}")
    headers = file_bytes(hdr).decode()
    m = re.search(r"(?im)^content-type:\s*multipart/byteranges;\s*boundary=\"?([^\"\r\n;]+)",
                  headers)
    check(m, f"multi-range: no multipart/byteranges Content-Type: {headers!r}")
    body = file_bytes(out)
    parts = body.split(b"--" + m.group(1).encode())
    want = [(0, 9), (4000000, 4000099), (len(data) - 50, len(data) - 1)]
    check(len(parts) == len(want) + 2 and parts[-1].startswith(b"--"),
          f"multi-range: {len(parts) - 2} parts, not {len(want)} and a closing delimiter")
    for part, (first, last) in zip(parts[1:-1], want):
        head, _, payload = part.partition(b"\r\n\r\n")
        check(f"content-range: bytes {first}-{last}/{len(data)}".encode() in head.lower(),
              f"multi-range: part head {head!r}")
        check(payload[:-2] == data[first:last + 1] and payload.endswith(b"\r\n"),
              f"multi-range: part {first}-{last} has the wrong bytes")

    p = curl(srv, "/big.bin", "-I", "-w", "%{http_code}")
    check(p.returncode == 0, f"HEAD: rc {p.returncode} {p.stderr!r}")
    text = p.stdout.decode()
    check(text.startswith("HTTP/1.1 200"), f"HEAD: {text!r}")
    check(re.search(rf"(?im)^content-length:\s*{len(data)}\r?$", text),
          f"HEAD: Content-Length is not {len(data)}: {text!r}")
    m = re.search(r"(?im)^etag:\s*(\S+)\r?$", text)
    check(m, f"HEAD: no ETag: {text!r}")
    etag = m.group(1)
    p = curl(srv, "/big.bin", "-H", f"If-None-Match: {etag}", "-o", out, "-w",
             "%{http_code} %{size_download}")
    check(p.returncode == 0 and p.stdout == b"304 0",
          f"If-None-Match {etag}: {p.stdout!r}, not 304 without a body")

    upload = os.path.join(tmp, "upload-src.bin")
    with open(upload, "wb") as f:
        f.write(os.urandom(3 * 1024 * 1024 + 17))
    p = curl(srv, "/upload/sent.bin", "-T", upload, "-o", out, "-w", "%{http_code}")
    check(p.returncode == 0 and p.stdout == b"201",
          f"PUT /upload/sent.bin: {p.stdout!r} {p.stderr!r} {file_bytes(out)[:200]!r}")
    stored = os.path.join(tmp, "uploads", "sent.bin")
    check(os.path.exists(stored) and file_bytes(stored) == file_bytes(upload),
          "PUT /upload/sent.bin: the stored file differs from what was sent")
    sha = hashlib.sha256(file_bytes(upload)).hexdigest()
    check(sha.encode() in file_bytes(out), f"PUT answer lacks the SHA-256: {file_bytes(out)!r}")

    # Keep-alive: two URLs in one curl run share one connection (and one handshake).
    base = f"https://localhost:{srv.tls_port}"
    p = run(["curl", "-sS", "-v", "--max-time", "10", "--cacert", CA_PEM, "--resolve",
             f"localhost:{srv.tls_port}:127.0.0.1", "-w", "[%{num_connects}]",
             f"{base}/ping", f"{base}/ping"], timeout=15)
    check(p.returncode == 0 and p.stdout == PONG + b"[1]" + PONG + b"[0]",
          f"keep-alive: {p.stdout!r}, not two pongs with 1 then 0 new connections")
    check(b"Re-using existing connection" in p.stderr, "keep-alive: curl did not reuse")


def case_s_client(srv):
    port = srv.tls_port
    for flag, name in (("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")):
        rc, out = s_client(port, flag, "-servername", "localhost", "-CAfile", CA_PEM)
        check(f"Protocol  : {name}" in out, f"s_client {flag}: no {name} session: {out}")
        check("Verify return code: 0 (ok)" in out, f"s_client {flag}: not verified: {out}")
        check(PONG.decode() in out, f"s_client {flag}: no pong over the session: {out}")

    rc, out = s_client(port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", request=None)
    check(rc != 0, f"s_client -tls1_1 exited 0: {out}")
    # s_client prints the session it tried ("Protocol  : TLSv1.1") even when refused; a
    # session that was made names its cipher.
    check("New, (NONE), Cipher is (NONE)" in out and not re.search(r"(?m)^New, TLSv1\.1", out),
          f"s_client -tls1_1 got a TLS 1.1 session: {out}")
    check("alert protocol version" in out, f"s_client -tls1_1: no protocol_version alert: {out}")

    rc, out = s_client(port, "-alpn", "http/1.1")
    check("ALPN protocol: http/1.1" in out, f"-alpn http/1.1 not selected: {out}")
    rc, out = s_client(port, "-alpn", "h2")
    check("No ALPN negotiated" in out, f"-alpn h2: ALPN negotiated anyway: {out}")
    check("Protocol  : TLSv1.3" in out and PONG.decode() in out,
          f"-alpn h2: did not connect and speak HTTP/1.1: {out}")
    rc, out = s_client(port, "-alpn", "h2,http/1.1")
    check("ALPN protocol: http/1.1" in out, f"-alpn h2,http/1.1: not http/1.1: {out}")

    # SNI: each name gets its certificate, anything else the default (the first).
    for name, cn in (("a.example.test", "a.example.test"), ("A.Example.TEST", "a.example.test"),
                     ("x.wild.example.test", "wildcard"), ("localhost", "localhost"),
                     (None, "localhost"), ("unknown.example.test", "localhost"),
                     ("a.b.wild.example.test", "localhost"), ("wild.example.test", "localhost")):
        sni = ["-servername", name] if name else ["-noservername"]
        rc, out = s_client(port, *sni, "-showcerts", "-CAfile", CA_PEM)
        m = re.search(r"(?m)^subject=(.*)$", out)
        check(m and m.group(1).strip() == f"CN = {cn}",
              f"SNI {name}: certificate {m.group(1) if m else None!r}, not CN = {cn}")
        cert = peer_cert_via(port, name)
        check(peer_subject_cn(cert) == cn, f"SNI {name} (python): {cert['subject']}")

    # Resumption: a second connection with the first one's session is "Reused".
    sess = os.path.join(TMP, "sess.pem")
    for flag in ("-tls1_3", "-tls1_2"):
        for i, sni in enumerate(("localhost", "a.example.test")):
            rc, out = s_client(port, flag, "-servername", sni, "-sess_out", sess)
            check(re.search(r"(?m)^New, TLSv1\.[23]", out) and os.path.getsize(sess) > 0,
                  f"resumption {flag} {sni}: first connection: {out}")
            rc, out = s_client(port, flag, "-servername", sni, "-sess_in", sess)
            check(re.search(r"(?m)^Reused, TLSv1\.[23]", out) and PONG.decode() in out,
                  f"resumption {flag} {sni}: the session was not reused: {out}")
            os.unlink(sess)


def case_python_ssl(srv):
    status, body, cert = https_get(srv.tls_port, ctx=ssl_context())
    check(status == 200 and body == PONG, f"python ssl /ping: {status} {body!r}")
    check(("IP Address", "127.0.0.1") in cert["subjectAltName"], f"python ssl: {cert}")
    # Three pipelined requests in one write: three answers in order, then the close.
    with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=10) as raw:
        with ssl_context().wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n" * 2 +
                      b"GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            got = b""
            while chunk := s.recv(65536):
                got += chunk
    check(got.count(b"HTTP/1.1 200 ") == 3 and got.count(PONG) == 3 and got.endswith(PONG),
          f"python ssl, three pipelined requests: {got!r}")
    try:
        https_get(srv.tls_port, ctx=ssl_context(OTHER_CA_PEM))
    except ssl.SSLCertVerificationError:
        pass
    else:
        raise Failure("python ssl: a context with another CA verified the server")


def case_plain_http(srv):
    with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=10) as s:
        s.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        closed, got = wait_closed(s, 10)
    check(closed, f"plain HTTP on the TLS port: not closed after {got!r}")
    head, _, body = got.partition(b"\r\n\r\n")
    check(head.startswith(b"HTTP/1.1 400 Bad Request\r\n"), f"plain HTTP: {got!r}")
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    check(m and int(m.group(1)) == len(body), f"plain HTTP: body length vs header: {got!r}")
    check(body.rstrip(b"\r\n") == PLAIN_400_BODY, f"plain HTTP: body {body!r}")
    p = curl(srv, "/ping")  # the server goes on
    check(p.stdout == PONG, "after plain HTTP: /ping failed")


def case_mtls(serve, tmp):
    srv = Server(serve, ["--port", "0", "--tls-port", "0", "--tls-cert", SRV_CERT,
                         "--tls-key", SRV_KEY, "--tls-client-ca", CA_PEM], "mtls server").start()
    SERVERS.append(srv)
    p = curl(srv, "/ping", "--cert", CLIENT_CERT, "--key", CLIENT_KEY)
    check(p.returncode == 0 and p.stdout == PONG,
          f"mTLS with the client certificate: rc {p.returncode} {p.stdout!r} {p.stderr!r}")
    p = curl(srv, "/ping")
    check(p.returncode != 0 and p.stdout == b"",
          f"mTLS without a client certificate: rc {p.returncode}, {p.stdout!r}")
    for flag in ("--tlsv1.2", "--tlsv1.3"):
        p = curl(srv, "/ping", flag, "--tls-max", flag[6:])
        check(p.returncode != 0 and p.stdout == b"",
              f"mTLS without a client certificate {flag}: rc {p.returncode}, {p.stdout!r}")
    p = curl(srv, "/ping", "--cert", OTHER_CLIENT_CERT, "--key", OTHER_CLIENT_KEY)
    check(p.returncode != 0 and p.stdout == b"",
          f"mTLS with a certificate from another CA: rc {p.returncode}, {p.stdout!r}")
    p = curl(srv, "/ping", "--cert", CLIENT_CERT, "--key", CLIENT_KEY)  # still serving
    check(p.returncode == 0 and p.stdout == PONG, "mTLS: the good client after the refusals")
    check(not srv.stderr_lines(), f"mTLS server stderr: {srv.stderr_lines()}")


def case_reload(serve, pki, tmp):
    d = os.path.join(tmp, "reload")
    os.makedirs(d)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    shutil.copy(SRV_CERT, cert)
    shutil.copy(SRV_KEY, key)
    srv = Server(serve, ["--port", "0", "--tls-port", "0", "--tls-cert", cert, "--tls-key", key],
                 "reload server").start()
    SERVERS.append(srv)

    def serial_now():
        return peer_cert_via(srv.tls_port, "localhost")["serialNumber"]

    old = serial_now()
    check(int(old, 16) == SRV_SERIAL, f"reload: serial {old} before, not {SRV_SERIAL:X}")
    keep = http.client.HTTPSConnection("127.0.0.1", srv.tls_port, context=ssl_context(),
                                       timeout=10)
    keep.request("GET", "/ping")
    r = keep.getresponse()
    check(r.status == 200 and r.read() == PONG, "reload: the kept connection's first request")
    sess = os.path.join(tmp, "reload-sess.pem")
    rc, out = s_client(srv.tls_port, "-tls1_3", "-servername", "localhost", "-sess_out", sess)
    check("Protocol  : TLSv1.3" in out, f"reload: ticket before: {out}")

    new_cert, new_key, new_serial = pki.leaf("reloaded", "localhost reloaded", "ca",
                                             sans=("DNS:localhost", "IP:127.0.0.1"), kind="rsa")
    shutil.copy(new_key, key)
    shutil.copy(new_cert, cert)
    mark = srv.line_count("stdout")
    srv.proc.send_signal(signal.SIGHUP)
    srv.wait_line("stdout", r"TLS certificates reloaded", start=mark)
    now = peer_cert_via(srv.tls_port, "localhost")
    check(int(now["serialNumber"], 16) == new_serial and
          peer_subject_cn(now) == "localhost reloaded",
          f"reload: new connections see {now['serialNumber']} {now['subject']}")
    status, body, _ = https_get(srv.tls_port)
    check(status == 200 and body == PONG, "reload: /ping with the new certificate")
    keep.request("GET", "/ping")
    r = keep.getresponse()
    check(r.status == 200 and r.read() == PONG, "reload: the kept connection after the reload")
    check(int(keep.sock.getpeercert()["serialNumber"], 16) == SRV_SERIAL,
          "reload: the kept connection's certificate changed")
    rc, out = s_client(srv.tls_port, "-tls1_3", "-servername", "localhost", "-sess_in", sess)
    check(re.search(r"(?m)^Reused, TLSv1\.3", out),
          f"reload: a ticket from before the reload did not resume (docs/tls.md says it does): "
          f"{out}")

    with open(key, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    mark = srv.line_count("stderr")
    srv.proc.send_signal(signal.SIGHUP)
    srv.wait_line("stderr", r"TLS reload refused, still serving the old certificates: ",
                  start=mark)
    now = peer_cert_via(srv.tls_port, "localhost")
    check(int(now["serialNumber"], 16) == new_serial,
          f"refused reload: new connections see {now['serialNumber']}, not the last good one")
    keep.request("GET", "/ping")
    r = keep.getresponse()
    check(r.status == 200 and r.read() == PONG, "refused reload: the kept connection")
    keep.close()
    check(srv.alive(), "reload server died")


def case_faults(srv, tmp, small):
    hello = client_hello_bytes()
    timeout = HANDSHAKE_TIMEOUT_MS / 1000
    stderr_before = len(srv.stderr_lines())
    stalled = []
    closes = {}  # socket -> seconds from its connect to its end
    failures = []
    stop = threading.Event()
    watcher = None

    def watch(deadline):
        # Waits for each stalled socket's end (EOF or reset), concurrently with the clients.
        poller = select.poll()
        pending = {}
        for s, t in stalled:
            pending[s.fileno()] = (s, t)
            poller.register(s.fileno(), select.POLLIN)
        while pending and time.monotonic() < deadline and not stop.is_set():
            for fd, _ in poller.poll(100):
                s, t = pending.pop(fd)
                poller.unregister(fd)
                try:
                    rest = s.recv(4096)
                except OSError:  # reset
                    rest = b""
                if rest and rest[:1] != b"\x15":  # nothing, or an alert record
                    failures.append(f"a stalled handshake got {rest[:20]!r}")
                closes[s] = time.monotonic() - t

    try:
        for i in range(500):
            s = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=10)
            if i % 2 == 0:
                s.sendall(hello[:1 + i % (len(hello) - 1)])  # a partial ClientHello
            stalled.append((s, time.monotonic()))
        opened = time.monotonic() - stalled[0][1]
        watcher = threading.Thread(target=watch, args=(time.monotonic() + timeout + 10,),
                                   daemon=True)
        watcher.start()
        # Normal clients meanwhile: all served, correctly.
        t0 = time.monotonic()
        data = file_bytes(small)
        out = os.path.join(tmp, "f.bin")
        try:
            for i in range(20):
                path = "/ping" if i % 2 else "/small.bin"
                p = curl(srv, path, "-o", out, "-w", "%{http_code}")
                want = PONG if i % 2 else data
                check(p.returncode == 0 and p.stdout == b"200" and file_bytes(out) == want,
                      f"with 500 stalled handshakes: GET {path} #{i}: rc {p.returncode} "
                      f"{p.stdout!r} {p.stderr!r}")
        finally:
            served = time.monotonic() - t0
            watcher.join()
        # Then each stalled one is closed once the handshake timeout has passed.
        check(not failures, "; ".join(failures[:5]))
        check(len(closes) == 500, f"{500 - len(closes)} of 500 stalled handshakes still open "
              f"{timeout + 10:.0f} s after the last connected (timeout {timeout} s)")
        early = [w for w in closes.values() if w < timeout * 0.9]
        check(not early, f"{len(early)} stalled handshakes closed before the timeout "
              f"({min(early) if early else 0:.2f} s < {timeout} s)")
        first, last = min(closes.values()), max(closes.values())
        check(last < timeout + 3, f"stalled handshakes closed up to {last:.2f} s after "
              f"connecting, timeout {timeout} s")
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
        for s, _ in stalled:
            s.close()

    # Garbage and truncated handshakes: each connection is closed, well before the timeout.
    garbage = {
        "random bytes": b"\x00\x01" + os.urandom(300),
        "TLS header, junk body": b"\x16\x03\x01\x01\x00" + os.urandom(256),
        "oversized record": b"\x16\x03\x01\xff\xff" + os.urandom(64),
        "corrupted ClientHello": hello[:9] + os.urandom(len(hello) - 9),
    }
    for name, payload in garbage.items():
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=10) as s:
            s.sendall(payload)
            closed, got = wait_closed(s, timeout / 2)
            check(closed, f"{name}: not closed within {timeout / 2} s "
                  f"(got {got[:20]!r})")
            check(got == b"" or got[:1] == b"\x15", f"{name}: answered {got[:20]!r}")
    for cut in (5, len(hello) // 2, len(hello) - 1):
        with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=10) as s:
            s.sendall(hello[:cut])
            s.shutdown(socket.SHUT_WR)  # truncated: the client's end comes mid-hello
            closed, got = wait_closed(s, timeout / 2)
            check(closed, f"ClientHello cut at {cut} bytes: not closed within {timeout / 2} s")
    with socket.create_connection(("127.0.0.1", srv.tls_port), timeout=10) as s:
        s.sendall(hello[: len(hello) // 2])  # and a client that resets mid-hello
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    p = curl(srv, "/ping")
    check(p.returncode == 0 and p.stdout == PONG, "after the garbage: /ping failed")
    check(srv.alive(), "the server died during the faults")
    new_err = srv.stderr_lines()[stderr_before:]
    check(len(new_err) < 5, f"the server logged {len(new_err)} stderr lines for failed "
          f"handshakes: {new_err[:10]}")
    return (f"500 stalled opened in {opened:.1f} s, 20 GETs served meanwhile in {served:.1f} s, "
            f"the stalled closed {first:.2f}-{last:.2f} s after connecting")


def case_truncation(srv, tmp):
    path = os.path.join(tmp, "root", "huge.bin")
    size = 64 * 1024 * 1024
    with open(path, "wb") as f:
        for _ in range(64):
            f.write(os.urandom(1024 * 1024))
    out = os.path.join(tmp, "huge.out")
    args = ["curl", "-sS", "--max-time", "40", "--cacert", CA_PEM, "--resolve",
            f"localhost:{srv.tls_port}:127.0.0.1", "--limit-rate", "4M", "-o", out, "-w",
            "%{http_code} %{size_download}", f"https://localhost:{srv.tls_port}/huge.bin"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and p.poll() is None:
            if os.path.exists(out) and os.path.getsize(out) >= 3 * 1024 * 1024:
                break
            time.sleep(0.05)
        arrived = os.path.getsize(out) if os.path.exists(out) else 0
        check(p.poll() is None and arrived >= 3 * 1024 * 1024,
              f"truncation: the download did not reach 3 MiB ({arrived} bytes, curl "
              f"{p.poll()})")
        os.truncate(path, 1000)
        try:
            stdout, stderr = p.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            raise Failure("truncation: the download did not end within 40 s of the truncation")
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    got = os.path.getsize(out)
    check(p.returncode != 0 and got < size,
          f"truncation: curl exit {p.returncode} with {got} of {size} bytes "
          f"({stdout!r} {stderr!r}); a download cut short must fail")
    check(srv.alive(), f"truncation: the server died (exit {srv.proc.poll()}, "
          f"SIGBUS is {-signal.SIGBUS})")
    p2 = curl(srv, "/ping")
    check(p2.returncode == 0 and p2.stdout == PONG, "truncation: /ping afterwards failed")
    # The file as it is now (1000 bytes) is served once the cache revalidates it.
    deadline = time.monotonic() + 5
    while True:
        p2 = curl(srv, "/huge.bin", "-o", out, "-w", "%{http_code}")
        if p2.returncode == 0 and p2.stdout == b"200" and os.path.getsize(out) == 1000:
            break
        check(srv.alive(), "truncation: the server died serving the truncated file")
        check(time.monotonic() < deadline, f"truncation: the 1000-byte file is still served "
              f"as rc {p2.returncode} {p2.stdout!r}, {os.path.getsize(out)} bytes")
        time.sleep(0.2)
    return (f"curl exit {p.returncode} after {got} of {size} bytes "
            f"({stderr.decode(errors='replace').strip()})")


# --- main -------------------------------------------------------------------------------------

SERVERS = []


def main():
    global TMP, CA_PEM, OTHER_CA_PEM, SRV_CERT, SRV_KEY, SRV_SERIAL, CLIENT_CERT, CLIENT_KEY
    global OTHER_CLIENT_CERT, OTHER_CLIENT_KEY
    if len(sys.argv) != 2:
        print("usage: serve_tls_test.py VSTREAM_SERVE", file=sys.stderr)
        return 2
    serve = os.path.abspath(sys.argv[1])
    # Stopped from outside (meson's timeout sends SIGTERM): unwind, so the finally below stops
    # the servers and removes the temporary directory.
    def on_sigterm(*_):
        print(f"serve_tls_test: SIGTERM; results so far: {results}", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.monotonic()
    TMP = tempfile.mkdtemp(prefix="vstream-tls-test-")
    failed = 0
    try:
        pki = Pki(os.path.join(TMP, "pki"))
        CA_PEM, _ = pki.ca("ca", "vstream test CA")
        OTHER_CA_PEM, _ = pki.ca("other-ca", "another test CA")
        SRV_CERT, SRV_KEY, SRV_SERIAL = pki.leaf("localhost", "localhost", "ca",
                                                 sans=("DNS:localhost", "IP:127.0.0.1"))
        a_cert, a_key, _ = pki.leaf("a", "a.example.test", "ca", sans=("DNS:a.example.test",))
        w_cert, w_key, _ = pki.leaf("wild", "wildcard", "ca", sans=("DNS:*.wild.example.test",))
        CLIENT_CERT, CLIENT_KEY, _ = pki.leaf("client", "test client", "ca", client=True)
        OTHER_CLIENT_CERT, OTHER_CLIENT_KEY, _ = pki.leaf("other-client", "stranger",
                                                          "other-ca", client=True)
        root = os.path.join(TMP, "root")
        os.makedirs(root)
        os.makedirs(os.path.join(TMP, "uploads"))
        big = os.path.join(root, "big.bin")
        with open(big, "wb") as f:
            f.write(os.urandom(5 * 1024 * 1024 + 123))
        small = os.path.join(root, "small.bin")
        with open(small, "wb") as f:
            f.write(os.urandom(70000))

        srv = Server(serve, ["--port", "0", "--tls-port", "0", "--root", root, "--upload-dir",
                             os.path.join(TMP, "uploads"), "--tls-handshake-timeout-ms",
                             str(HANDSHAKE_TIMEOUT_MS),
                             "--tls-cert", SRV_CERT, "--tls-key", SRV_KEY,
                             "--tls-cert", a_cert, "--tls-key", a_key,
                             "--tls-cert", w_cert, "--tls-key", w_key], "main server")
        SERVERS.append(srv)
        srv.start()

        cases = [
            ("curl", lambda: case_curl(srv, TMP, big)),
            ("openssl s_client", lambda: case_s_client(srv)),
            ("python ssl", lambda: case_python_ssl(srv)),
            ("plain HTTP on the TLS port", lambda: case_plain_http(srv)),
            ("mutual TLS", lambda: case_mtls(serve, TMP)),
            ("reload", lambda: case_reload(serve, pki, TMP)),
            ("faults", lambda: case_faults(srv, TMP, small)),
            ("truncation mid-download", lambda: case_truncation(srv, TMP)),
        ]
        for name, fn in cases:
            t = time.monotonic()
            try:
                note = fn()
                results.append((name, "ok", time.monotonic() - t, note))
            except Exception as e:  # a Failure, or a client library's error: report, go on
                failed += 1
                why = str(e) if isinstance(e, Failure) else f"{type(e).__name__}: {e}"
                results.append((name, "FAIL", time.monotonic() - t, why))
            if not srv.alive():
                failed += 1
                results.append(("main server", "FAIL", 0, f"died, exit {srv.proc.poll()}"))
                break
        err = srv.stderr_lines()
        if err:
            failed += 1
            results.append(("main server stderr", "FAIL", 0, "\n".join(err[:20])))
    except Failure as e:  # the certificates, the files, a server that did not start
        failed += 1
        results.append(("setup", "FAIL", time.monotonic() - started, str(e)))
    finally:
        for s in SERVERS:
            code = s.stop()
            if code != 0:
                failed += 1
                results.append((s.name, "FAIL", 0, f"exit status {code} at the stop "
                                f"(-{int(signal.SIGBUS)} would be SIGBUS)"))
        shutil.rmtree(TMP, ignore_errors=True)
    for name, verdict, secs, note in results:
        print(f"{verdict:4} {name} ({secs:.1f} s){': ' + note if note else ''}")
    print(f"vstream-serve TLS: {'ok' if not failed else f'{failed} failed'} "
          f"in {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
