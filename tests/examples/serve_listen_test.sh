#!/usr/bin/env bash
# vstream-serve's listening options, from outside: two --listen flags with port 0 bind two
# ephemeral ports, the listening lines name both, and curl gets /ping on each; a bad --listen
# is a usage error (exit 2) and a host name is refused by the config (exit 1).
# usage: tests/examples/serve_listen_test.sh VSTREAM_SERVE
set -euo pipefail
serve=${1:?usage: serve_listen_test.sh VSTREAM_SERVE}
out=$(mktemp)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -f "$out"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; cat "$out"; exit 1; }

# Two IPv4 listeners, and an IPv6 one where the host has a ::1 (containers often have none).
args=(--listen 127.0.0.1:0 --listen 127.0.0.1:0)
want=2
if python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
  args+=(--listen '[::1]:0')
  want=3
fi
"$serve" "${args[@]}" --threads 1 >"$out" 2>&1 &
pid=$!
for _ in $(seq 100); do
  [ "$(grep -c 'listening on' "$out")" -ge "$want" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ "$(grep -c 'listening on' "$out")" -eq "$want" ] || fail "not $want listening lines"
mapfile -t v4 < <(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out")
[ "${#v4[@]}" -eq 2 ] && [ "${v4[0]}" -gt 0 ] && [ "${v4[1]}" -gt 0 ] ||
  fail "IPv4 ports '${v4[*]}'"
[ "${v4[0]}" != "${v4[1]}" ] || fail "two listeners share port ${v4[0]}"
for port in "${v4[@]}"; do
  body=$(curl -sS --max-time 10 "http://127.0.0.1:$port/ping")
  [ "$body" = '{"message":"pong"}' ] || fail "127.0.0.1:$port/ping answered '$body'"
done
if [ "$want" -eq 3 ]; then
  v6=$(sed -n 's|.*listening on http://\[::1\]:\([0-9]*\)/.*|\1|p' "$out")
  body=$(curl -sS --max-time 10 -g "http://[::1]:$v6/ping")
  [ "$body" = '{"message":"pong"}' ] || fail "[::1]:$v6/ping answered '$body'"
fi
kill "$pid"
wait "$pid" || true
pid=

set +e
"$serve" --listen 127.0.0.1 >"$out" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "--listen without a port exited $rc, not 2"
"$serve" --listen ::1:80 >"$out" 2>&1; rc=$?
[ $rc -eq 2 ] || fail "an unbracketed IPv6 --listen exited $rc, not 2"
"$serve" --listen localhost:0 >"$out" 2>&1; rc=$?
[ $rc -eq 1 ] || fail "--listen localhost:0 exited $rc, not 1"
grep -q "'localhost'" "$out" || fail "the error does not name 'localhost'"
echo "vstream-serve --listen: ok"
