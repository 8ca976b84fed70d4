#!/usr/bin/env python3
"""tls_idle_conns.py: idle TLS connections for benchmarks/tls_vs_nginx.sh (idle_mem).

    tls_idle_conns.py --port PORT --conns N --cafile CERT --ready-file R --go-file G
                      [--path /ping] [--expect BODY] [--hold-max SECONDS]

Opens N TLS connections to 127.0.0.1:PORT one after the other; each one completes a
handshake (the certificate verified against CERT for the name localhost) and one
keep-alive `GET PATH`, whose answer must be a 200 with body BODY. Then it writes
"N VERSION CIPHER" into the ready file (by rename, so it appears whole) and holds every
connection idle until the go file exists (at most --hold-max seconds). Then it sends one
more GET on each connection, which must be answered the same (so the server kept them
all open while idle), prints "ok N" and closes them. Any failure: a message naming the
connection on stderr and exit status 1. Standard library only.
"""

import argparse
import os
import resource
import socket
import ssl
import sys
import time


def fail(msg):
    print(f"tls_idle_conns: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def read_response(conn, buf):
    """Reads one HTTP/1.1 response with a Content-Length body; returns
    (status, body, rest of the buffer)."""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response headers")
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise ConnectionError(f"bad status line {lines[0]!r}")
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise ConnectionError("no Content-Length")
    while len(buf) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("closed inside the body")
        buf += chunk
    return int(parts[1]), buf[:length], buf[length:]


def request(conn, req, expect):
    conn.sendall(req)
    status, body, rest = read_response(conn, b"")
    if status != 200 or body != expect or rest:
        raise ConnectionError(f"status {status}, body {body!r} (expected 200 {expect!r})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, required=True)
    ap.add_argument("--cafile", required=True)
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--go-file", required=True)
    ap.add_argument("--path", default="/ping")
    ap.add_argument("--expect", default='{"message":"pong"}')
    ap.add_argument("--hold-max", type=float, default=120.0)
    args = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.conns + 64
    if soft < need:
        if hard != resource.RLIM_INFINITY and hard < need:
            fail(f"{args.conns} connections need {need} descriptors; the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))

    ctx = ssl.create_default_context(cafile=args.cafile)
    req = f"GET {args.path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    expect = args.expect.encode()
    conns = []
    for i in range(args.conns):
        try:
            raw = socket.create_connection(("127.0.0.1", args.port), timeout=10)
            conn = ctx.wrap_socket(raw, server_hostname="localhost")
            conns.append(conn)
            request(conn, req, expect)
        except (OSError, ValueError) as e:
            fail(f"connection {i + 1} of {args.conns}: {e}")
    first = conns[0] if conns else None
    info = f"{len(conns)} {first.version() if first else '-'} {first.cipher()[0] if first else '-'}"
    tmp = args.ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(info + "\n")
    os.rename(tmp, args.ready_file)

    deadline = time.monotonic() + args.hold_max
    while not os.path.exists(args.go_file):
        if time.monotonic() > deadline:
            fail(f"no go file after {args.hold_max} s")
        time.sleep(0.05)

    for i, conn in enumerate(conns):
        try:
            request(conn, req, expect)
        except (OSError, ValueError) as e:
            fail(f"second request on connection {i + 1} of {len(conns)}, after the idle hold: {e}")
    print(f"ok {len(conns)}", flush=True)
    for conn in conns:
        conn.close()


if __name__ == "__main__":
    main()
