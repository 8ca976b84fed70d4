#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time on a copy of its seed corpus, so new inputs
# land in the build tree, never in the source tree. Fails on any crash, leak or sanitizer report.
# usage: run_fuzz.sh TARGET SEED_DIR WORK_DIR SECONDS [DICT]
set -euo pipefail
target=$1 seeds=$2 work=$3 seconds=$4 dict=${5:-}
mkdir -p "$work/corpus" "$work/artifacts"
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192
      -print_final_stats=1 -artifact_prefix="$work/artifacts/")
[ -n "$dict" ] && [ -f "$dict" ] && args+=(-dict="$dict")
exec "$target" "${args[@]}" "$work/corpus" "$seeds"
