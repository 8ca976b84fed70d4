#!/usr/bin/env python3
"""Regenerates the seed corpus of tls_server_fuzz (tests/fuzz/corpus/tls_server/).

Every seed is the fuzz input format: a 4-byte header (server and cut points, see
tls_server_fuzz.cpp; 04 00 00 00 is the default server, bytes in one piece), then the
client's bytes.

session_*  whole client sessions (handshake, a request, close_notify) recorded against the
           target's own deterministic server, written by the target itself
           (VSTREAM_TLS_FUZZ_WRITE_SEEDS). The same bytes on every run with the same OpenSSL;
           the target checks that each one replays before writing it.
hello_*    the first flight of real clients (openssl s_client, curl, Python's ssl module),
           captured by a listener on 127.0.0.1 that closes once the first TLS record is in.
           Their randoms and key shares change on every run. A ClientHello holds no secret.

usage: make_tls_seeds.py FUZZ_TARGET [CORPUS_DIR]
  e.g. tests/fuzz/corpus/make_tls_seeds.py build-asan/tests/fuzz/tls_server_fuzz
"""
import os
import pathlib
import socket
import ssl
import subprocess
import sys
import threading

HEADER = b"\x04\x00\x00\x00"


def first_record(conn: socket.socket) -> bytes:
    """Reads until the first TLS record is whole (or the client stops), and returns it."""
    data = b""
    while True:
        need = 5 + int.from_bytes(data[3:5], "big") if len(data) >= 5 else 5
        if len(data) >= need:
            return data[:need]
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk


def capture(client) -> bytes:
    """Runs client(port) against a one-shot listener; returns the first record it sent."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(10)
        port = server.getsockname()[1]
        got = {}

        def accept():
            conn, _ = server.accept()
            with conn:
                conn.settimeout(10)
                got["bytes"] = first_record(conn)

        listener = threading.Thread(target=accept)
        listener.start()
        client(port)
        listener.join()
    data = got.get("bytes", b"")
    if len(data) < 5 or data[0] != 0x16:
        raise RuntimeError(f"no TLS handshake record captured: {data[:16]!r}")
    return data


def run(argv):
    """A client command: it fails once the listener closes, which is expected."""
    def client(port):
        args = [a.replace("PORT", str(port)) for a in argv]
        subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=20, check=False)
    return client


def python_client(server_hostname, alpn, version=None):
    def client(port):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(alpn)
        if version is not None:
            ctx.minimum_version = ctx.maximum_version = version
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            try:
                with ctx.wrap_socket(raw, server_hostname=server_hostname):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the listener closed mid-handshake
    return client


S_CLIENT = ["openssl", "s_client", "-connect", "127.0.0.1:PORT"]
CURL = ["curl", "-sk", "--max-time", "10"]
HELLOS = {
    "hello_openssl_default": run(S_CLIENT),
    "hello_openssl_no_sni": run(S_CLIENT + ["-noservername"]),
    "hello_openssl_tls12": run(S_CLIENT + ["-tls1_2", "-servername", "localhost"]),
    "hello_openssl_tls13": run(S_CLIENT + ["-tls1_3", "-servername", "a.example"]),
    "hello_openssl_alpn": run(S_CLIENT + ["-alpn", "h2,http/1.1", "-servername", "localhost"]),
    "hello_openssl_hello_retry": run(S_CLIENT + ["-tls1_3", "-groups", "X448:P-256"]),
    "hello_openssl_tls12_cbc_only": run(S_CLIENT + ["-tls1_2",
                                                    "-cipher", "ECDHE-ECDSA-AES128-SHA"]),
    "hello_curl_ip": run(CURL + ["https://127.0.0.1:PORT/"]),
    "hello_curl_sni": run(CURL + ["--resolve", "a.example:PORT:127.0.0.1",
                                  "https://a.example:PORT/"]),
    "hello_curl_tls12": run(CURL + ["--tlsv1.2", "--tls-max", "1.2", "--http1.1",
                                    "--resolve", "localhost:PORT:127.0.0.1",
                                    "https://localhost:PORT/"]),
    "hello_python": python_client("localhost", ["http/1.1"]),
    "hello_python_tls12_h2": python_client("x.wild.example", ["h2", "http/1.1"],
                                           ssl.TLSVersion.TLSv1_2),
}


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    target = pathlib.Path(sys.argv[1]).resolve()
    out = pathlib.Path(sys.argv[2]) if len(sys.argv) == 3 else (
        pathlib.Path(__file__).resolve().parent / "tls_server")
    out.mkdir(parents=True, exist_ok=True)
    for old in list(out.glob("session_*")) + list(out.glob("hello_*")):
        old.unlink()
    env = dict(os.environ, VSTREAM_TLS_FUZZ_WRITE_SEEDS=str(out))
    subprocess.run([str(target)], env=env, check=True)
    for name, client in HELLOS.items():
        data = capture(client)
        (out / name).write_bytes(HEADER + data)
        print(f"{out / name}: {len(HEADER) + len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
