#!/usr/bin/env bash
# Installs the Debian packages vstream needs, only those missing; idempotent.
# usage: scripts/deps.sh [build|test|bench]...   (default: build)
# Works as root, or as a user with sudo.
set -euo pipefail

build_pkgs=(meson ninja-build g++ pkg-config libuv1-dev node-llhttp libssl-dev
            libsimdjson-dev libfmt-dev)
# clang + its runtime: the ASan/UBSan build and the libFuzzer targets; curl: a real client
# in the integration tests; abigail-tools: abidiff/abidw for the C ABI gate (the abi suite);
# python3: runs the ctypes binding's test (capi suite); clang-format: the formatting test;
# openssl: makes the TLS tests' certificates at test time.
test_pkgs=(doctest-dev clang libclang-rt-14-dev clang-format curl abigail-tools python3 openssl)
bench_pkgs=(wrk nginx-light curl util-linux libbenchmark-dev)

want=()
[ $# -eq 0 ] && set -- build
for group in "$@"; do
  case "$group" in
    build) want+=("${build_pkgs[@]}") ;;
    test) want+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    bench) want+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
    *) echo "deps.sh: unknown group '$group' (build, test, bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
