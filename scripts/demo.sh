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
  # HTTPS on 8443 with a self-signed certificate made once (EC P-256, localhost and
  # 127.0.0.1, 30 days; made again once expired). Browsers warn about it: compare the
  # fingerprint printed below with the one they show.
  tls=demo-media/.tls
  mkdir -p "$tls"
  if ! openssl x509 -in "$tls/cert.pem" -noout -checkend 86400 >/dev/null 2>&1; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
      -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
      -keyout "$tls/key.pem" -out "$tls/cert.pem" 2>/dev/null
  fi
  fingerprint=$(openssl x509 -in "$tls/cert.pem" -noout -fingerprint -sha256 | cut -d= -f2)
  set -- --root demo-media --host 127.0.0.1 --port 8080 \
    --tls-cert "$tls/cert.pem" --tls-key "$tls/key.pem" --tls-port 8443
  echo "demo: https://127.0.0.1:8443/ uses a self-signed certificate, SHA-256 fingerprint"
  echo "      $fingerprint"
  echo "      try  curl --cacert $tls/cert.pem https://localhost:8443/ping"
fi
echo "demo: open http://127.0.0.1:8080/ or try  curl -r 0-99 http://127.0.0.1:8080/random-64KiB.bin | xxd | head"
echo "      (Ctrl-C stops the server)"
exec build-release/examples/vstream-serve "$@"
