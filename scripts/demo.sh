#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and starts the demo server.
# usage: scripts/demo.sh [vstream-serve options...]
#   (default: --root demo-media --host 127.0.0.1 --port 8080, demo-media made by
#    scripts/make_demo_media.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
scripts/setup_build.sh build-release --buildtype=release -Dtests=false
ninja -C build-release examples/vstream-serve >/dev/null
if [ $# -eq 0 ]; then
  scripts/make_demo_media.sh demo-media
  set -- --root demo-media --host 127.0.0.1 --port 8080
fi
echo "demo: open http://127.0.0.1:8080/ or try  curl -r 0-99 http://127.0.0.1:8080/random-64KiB.bin | xxd | head"
echo "      (Ctrl-C stops the server)"
exec build-release/examples/vstream-serve "$@"
