#!/usr/bin/env python3
"""Serves a media directory with vstream from Python, plus a small JSON API.

    VSTREAM_LIB=build/src/libvstream.so.0 python3 examples/python/serve.py ~/Videos --port 8080

    curl http://127.0.0.1:8080/api/hello/world
    curl -r 0-99 http://127.0.0.1:8080/media/clip.mp4 -o /dev/null -w '%{http_code}\\n'

Ctrl-C or SIGTERM stops it (gracefully: in-flight requests may finish).
"""

import argparse
import os
import sys

import vstream


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("media", help="directory to serve at /media/")
    ap.add_argument("--address", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=8080, help="TCP port (0: any free one)")
    ap.add_argument("--threads", type=int, default=0, help="loop threads (0: one per core)")
    ap.add_argument("--listing", action="store_true", help="list directories without index")
    ap.add_argument("--quiet", action="store_true", help="no access log on stderr")
    args = ap.parse_args(argv)

    if not os.path.isdir(args.media):
        ap.error("not a directory: " + args.media)

    try:
        server = vstream.Server(port=args.port, address=args.address, threads=args.threads)
    except vstream.VstreamError as e:
        sys.exit("vstream-serve.py: " + str(e))

    with server:
        if not args.quiet:
            server.use_access_log()  # JSON lines on stderr, from the log's own thread

        @server.get("/api/hello/:name")
        def hello(req):
            req.json(200, {"hello": req.param("name"), "from": req.peer_address})

        server.static("/media", os.path.abspath(args.media), listing=args.listing)

        try:
            server.start()
        except vstream.VstreamError as e:  # e.g. VS_EADDRINUSE
            sys.exit("vstream-serve.py: " + str(e))
        print("vstream %s serving %s on http://%s:%d/media/ (Ctrl-C stops)"
              % (vstream.version(), args.media, args.address, server.port), flush=True)
        server.serve_forever()  # SIGINT and SIGTERM stop it
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
