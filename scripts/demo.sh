#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and starts the demo server.
# usage: scripts/demo.sh [vstream-serve options...]   (default: --host 127.0.0.1 --port 8080)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
scripts/setup_build.sh build-release --buildtype=release -Dtests=false
ninja -C build-release examples/vstream-serve >/dev/null
[ $# -eq 0 ] && set -- --host 127.0.0.1 --port 8080
echo "demo: try  curl http://127.0.0.1:8080/ping   (Ctrl-C stops the server)"
exec build-release/examples/vstream-serve "$@"
