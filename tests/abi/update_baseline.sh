#!/usr/bin/env bash
# Regenerates tests/abi/libvstream.abi, the C ABI baseline that tests/abi/check_abi.sh (the
# 'abi' test suite) compares every build with.
# usage: tests/abi/update_baseline.sh BUILD_DIR
#   BUILD_DIR  a gcc build with -Dbuildtype=debugoptimized and no sanitizer (the README test
#              command's build/), with src/libvstream.so.0 built: the check runs only on that
#              kind of build, and the baseline must come from the same kind.
#
# When to run it, and commit the result:
# - On a deliberate major version bump (new SONAME and VS_VERSION_MAJOR), the only time the
#   ABI may break.
# - When functions were added, at release: added functions pass the check as they are, but
#   until the baseline holds them, a later removal or signature change of one would not be
#   caught.
# Never to make a failing check pass: a failure means the ABI broke; add a new function
# (_v2, _ex) instead of changing or removing one (STYLE B).
#
# abidw options: --headers-dir names the public headers, so only their types are API;
# --drop-private-types then leaves every other type opaque (struct vs_config's layout is not
# ABI); --exported-interfaces-only keeps what the exported vs_* functions reach;
# --no-corpus-path, --no-comp-dir-path and --no-show-locs keep paths of this machine out.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$1
src=$(cd "$(dirname "$0")/../.." && pwd)
lib=$build/src/libvstream.so.0
out=$src/tests/abi/libvstream.abi
command -v abidw >/dev/null 2>&1 || { echo "update_baseline: abidw not found: install abigail-tools" >&2; exit 1; }
[ -f "$lib" ] || { echo "update_baseline: $lib not found: build it first (ninja -C $build)" >&2; exit 1; }

# The DWARF records how each unit was compiled ("GNU C++20 12.2.0 ... -g -O2 ..."): refuse a
# baseline from any other kind of build than the one tests/abi/meson.build checks.
producers=$(readelf --debug-dump=info "$lib" 2>/dev/null | grep DW_AT_producer |
  sed 's/.*DW_AT_producer *: *//; s/^([^)]*): //' | sort -u || true)
if ! grep -q 'GNU C++' <<<"$producers" || ! grep -q -- ' -g ' <<<"$producers" \
   || ! grep -q -- ' -O2 ' <<<"$producers" || grep -q -- '-fsanitize\|-flto' <<<"$producers"; then
  echo "update_baseline: $lib is not from a gcc -Dbuildtype=debugoptimized build without" >&2
  echo "sanitizers or LTO; its compile units say:" >&2
  echo "$producers" >&2
  exit 1
fi

# The public headers as installed (capi/meson.build's install_headers), and only those: the
# source capi/ directory also holds internal.hpp.
headers=$(mktemp -d)
trap 'rm -rf "$headers" "$out.tmp"' EXIT
cp "$src/capi/vstream.h" "$build/capi/vstream_version.h" "$headers/"

abidw --headers-dir "$headers" --drop-private-types --exported-interfaces-only \
  --no-corpus-path --no-comp-dir-path --no-show-locs --out-file "$out.tmp" "$lib"
mv "$out.tmp" "$out"
echo "update_baseline: wrote $out from $lib"
# The new baseline must pass against the library it came from.
"$src/tests/abi/check_abi.sh" "$out" "$lib" "$headers"
