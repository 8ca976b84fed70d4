#!/usr/bin/env python3
"""Checks the source layout rules of docs/architecture.md:

1. Each src/ module includes only the modules below it (the table below).
2. Nothing under capi/ includes a private header other than its own.
3. Every src/<module>/<name>.cpp has tests/unit/<module>/<name>_test.cpp, or sits on the
   allowlist below with the reason.

usage: check_layout.py SOURCE_ROOT   (exits 1 and lists every breach)
"""
import pathlib
import re
import sys

# module -> the modules it may include (besides itself). Leaves other modules may include
# without depending on the rest of their module are listed in LEAVES.
ALLOWED = {
    "core": set(),
    "crypto": {"core"},
    "http": {"core", "crypto"},  # codecs only
    "net": {"core"},
    "files": {"core", "crypto", "http"},  # storage
    "request": {"core", "crypto", "http", "net", "files"},  # the request core
    "router": {"core", "http", "request"},
    "http1": {"core", "http", "net", "request"},  # the HTTP/1.1 protocol
    "handlers": {"core", "crypto", "http", "net", "files", "request", "router"},
    "middleware": {"core", "crypto", "http", "net", "request", "router"},
    "tls": {"core", "crypto", "net"},  # OpenSSL contexts, SNI, ALPN, tickets; the TLS transport
    "server": {"core", "crypto", "http", "net", "files", "request", "router", "http1",
               "handlers", "middleware", "tls"},
}
# Headers any module may include: declarations with no dependency of their own.
LEAVES = {"router/match.hpp"}

# src/<module>/<name>.cpp without a unit test of the same name, and where it is tested.
NO_UNIT_TEST = {
    "handlers/send_file.cpp": "Context::send_file over a socket: tests/integration/files_*",
    "handlers/upload.cpp": "receive_upload's glue: tests/integration/upload_test.cpp",
    "request/body_reader.cpp": "Context::read_body: tests/integration/request_body_test.cpp",
    "router/chain.cpp": "Next, walked by every route: tests/unit/router/router_test.cpp",
    "server/route_group.cpp": "RouteGroup registration: tests/unit/router/router_test.cpp",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main(root: pathlib.Path) -> int:
    problems = []
    src = root / "src"
    for path in sorted(src.rglob("*.[ch]pp")):
        rel = path.relative_to(src)
        module = rel.parts[0]
        allowed = ALLOWED.get(module)
        if allowed is None:
            problems.append(f"src/{rel}: module '{module}' is not in check_layout.py's table")
            continue
        for inc in INCLUDE.findall(path.read_text()):
            target = inc.split("/")[0]
            if "/" not in inc or target == module or inc in LEAVES:
                continue
            if target not in allowed:
                problems.append(f"src/{rel}: {module}/ may not include {inc}")
    for leaf in LEAVES:
        for inc in INCLUDE.findall((src / leaf).read_text()):
            problems.append(f"src/{leaf}: a leaf header includes \"{inc}\"")

    capi = root / "capi"
    own = {p.name for p in capi.iterdir()} | {"vstream_version.h"}
    for path in sorted(list(capi.glob("*.cpp")) + list(capi.glob("*.hpp"))):
        for inc in INCLUDE.findall(path.read_text()):
            if inc not in own:
                problems.append(f"capi/{path.name}: includes the private header {inc}")

    for path in sorted(src.rglob("*.cpp")):
        rel = path.relative_to(src).as_posix()
        test = root / "tests" / "unit" / (rel[: -len(".cpp")] + "_test.cpp")
        if not test.is_file() and rel not in NO_UNIT_TEST:
            problems.append(f"src/{rel}: no {test.relative_to(root)} (nor an allowlist entry)")
    for rel in NO_UNIT_TEST:
        if not (src / rel).is_file():
            problems.append(f"check_layout.py: allowlisted src/{rel} does not exist")

    for p in problems:
        print(p)
    print(f"layout: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(pathlib.Path(sys.argv[1])))
