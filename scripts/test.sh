#!/usr/bin/env bash
# The README's second command: installs what is missing, builds twice and runs everything:
#   1. gcc, warnings as errors, debugoptimized (-g): the unit, integration and capi suites, and
#      the abi suite (abidiff against tests/abi/libvstream.abi, which needs this build's DWARF);
#   2. clang with AddressSanitizer + UndefinedBehaviorSanitizer: unit, integration and capi
#      again, then every libFuzzer target for VSTREAM_FUZZ_SECONDS (default 60) each.
# Any sanitizer report fails the run. Ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzz_seconds=${VSTREAM_FUZZ_SECONDS:-60}
start=$(date +%s)
stage="installing dependencies"
summary() {
  local rc=$? t=$(( $(date +%s) - start ))
  if [ $rc -eq 0 ]; then
    echo "vstream tests: PASS (gcc build, asan+ubsan build, fuzz ${fuzz_seconds}s per target) in $((t / 60))m$((t % 60))s"
  else
    echo "vstream tests: FAIL while ${stage} (exit ${rc}) after $((t / 60))m$((t % 60))s"
  fi
}
trap summary EXIT

scripts/deps.sh test

stage="building with gcc"
scripts/setup_build.sh build --buildtype=debugoptimized -Dwerror=true -Dtests=true
ninja -C build
stage="running unit, integration, capi and abi tests (gcc build)"
meson test -C build --suite unit --suite integration --suite capi --suite abi --print-errorlogs

stage="building with clang, ASan+UBSan and fuzzers"
CC=clang CXX=clang++ scripts/setup_build.sh build-asan --buildtype=debugoptimized \
  -Db_sanitize=address,undefined -Db_lundef=false -Dtests=true -Dfuzz=true \
  -Dfuzz_seconds="$fuzz_seconds"
ninja -C build-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
stage="running unit, integration and capi tests under ASan+UBSan"
meson test -C build-asan --suite unit --suite integration --suite capi --print-errorlogs
stage="fuzzing"
meson test -C build-asan --suite fuzz --print-errorlogs
stage="done"
