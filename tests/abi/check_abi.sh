#!/usr/bin/env bash
# The C ABI gate (STYLE B): compares the built libvstream.so.0 with the committed baseline
# tests/abi/libvstream.abi and fails on any change abidiff reports, added functions excepted.
# usage: tests/abi/check_abi.sh BASELINE LIB HEADERS_DIR
#   BASELINE     tests/abi/libvstream.abi (written by tests/abi/update_baseline.sh)
#   LIB          the freshly built libvstream.so.0, with DWARF (-g)
#   HEADERS_DIR  a directory holding only the public headers, as installed: vstream.h and
#                vstream_version.h. abigail treats a type as public when the file that defines
#                it has the basename of a header found there (or lies under /usr/include), and
#                ignores changes to every other type. The source capi/ directory will not do:
#                it also holds internal.hpp, which defines the opaque handles (struct
#                vs_config, ...), and would make their private layout look public.
#
# abidiff's exit status is a bit field:
#   1  error (abidiff could not do its work)
#   2  usage error
#   4  ABI change: a changed signature (parameter or return type), or a type it reaches such
#      as a callback typedef
#   8  incompatible change: a removed function (always reported together with 4, so 12)
# With --no-added-syms an added function is not a change (0). Anything nonzero fails here:
# checking only bit 8 would let a changed signature (4 alone) through.
set -uo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 BASELINE LIB HEADERS_DIR" >&2
  exit 2
fi
baseline=$1 lib=$2 headers=$3

if ! command -v abidiff >/dev/null 2>&1; then
  echo "check_abi: FAIL: abidiff not found; install abigail-tools (scripts/deps.sh test)"
  exit 1
fi
for f in "$baseline" "$lib"; do
  if [ ! -f "$f" ]; then
    echo "check_abi: FAIL: $f does not exist"
    exit 1
  fi
done
if [ ! -f "$headers/vstream.h" ]; then
  echo "check_abi: FAIL: $headers holds no vstream.h (it must be the public headers' directory)"
  exit 1
fi

# Without DWARF abidiff compares symbol names only, and passes a changed signature (4) as
# "no change"; its --fail-no-debug-info does not catch that in 2.2 (tried on a stripped copy:
# exit 0). So check for the debug info here.
if ! readelf -S --wide "$lib" 2>/dev/null | grep -q '\.debug_info'; then
  echo "check_abi: FAIL: $lib has no DWARF (.debug_info); the check needs a -g build"
  echo "  (-Dbuildtype=debugoptimized, as the README test command configures)"
  exit 1
fi

# --exported-interfaces-only: only what the exported vs_* functions reach, as in the baseline.
report=$(abidiff --no-added-syms --exported-interfaces-only \
  --headers-dir2 "$headers" "$baseline" "$lib" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
  echo "check_abi: ok: $lib keeps the ABI of $baseline (added functions allowed)"
  exit 0
fi

echo "check_abi: FAIL: abidiff exited with $rc (a bit field):"
[ $((rc & 1)) -ne 0 ] && echo "  bit 1: error: abidiff could not read or compare its inputs"
[ $((rc & 2)) -ne 0 ] && echo "  bit 2: usage error in the abidiff command line"
[ $((rc & 4)) -ne 0 ] && echo "  bit 4: ABI change (a signature, or a type one reaches)"
[ $((rc & 8)) -ne 0 ] && echo "  bit 8: incompatible change (a function was removed)"
echo "abidiff's report:"
echo "$report"
echo
echo "Never break the C ABI within a major version: add a function (_v2, _ex) instead of"
echo "changing one. Only on a deliberate major bump (new SONAME and VS_VERSION_MAJOR), run"
echo "tests/abi/update_baseline.sh BUILD_DIR and commit tests/abi/libvstream.abi."
exit 1
