#!/usr/bin/env bash
#
# ping_ab.sh: one vstream build against another on GET /ping, with the
# latency tail in detail: did a change move p90..p99.9, and at what cost in
# throughput? (ping_vs_nginx.sh compares with nginx; this compares commits.)
#
# What it measures: requests/s and wrk's latency percentiles p50, p90, p95,
# p98, p99 and p99.9 (from benchmarks/percentiles.lua) of
#   * baseline:  $BASELINE_DIR/examples/vstream-serve --threads 1
#   * candidate: $BUILD_DIR/examples/vstream-serve --threads 1
# Build the baseline from another commit, for example:
#   git worktree add /tmp/base COMMIT && (cd /tmp/base &&
#     scripts/setup_build.sh build-release --buildtype=release -Dtests=false &&
#     ninja -C build-release examples/vstream-serve)
#
# How: as ping_vs_nginx.sh: the server pinned to CPU 0, wrk -t1 with N
# keep-alive connections pinned to CPU 1, loopback only, a fresh server per
# measurement, 1 s warm-up, ABBA order. The report (Markdown, stdout) has the
# per-run figures, the medians and the median of per-run candidate/baseline
# ratios (each pair shares its moment's machine noise).
#
# Requirements: wrk, curl, taskset, 2 usable CPUs, two built vstream-serve.
# Nothing is installed.

set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

LUA_SCRIPT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/percentiles.lua
readonly LUA_SCRIPT

BUILD_DIR=build-release
BASELINE_DIR=
DURATION=10
CONNECTIONS=64
RUNS=5

COMMAND_LINE=$(quote_command "$0" "$@")

usage() {
    cat <<USAGE
Usage: $0 --baseline-dir DIR [--build-dir DIR] [--duration SECONDS] [--connections N] [--runs R]

Compares GET /ping on two vstream-serve builds (CPU $SERVER_CPU, 1 thread)
under wrk -t1 (CPU $CLIENT_CPU), loopback only.

Options:
  --baseline-dir DIR   Meson build directory of the baseline (required)
  --build-dir DIR      Meson build directory of the candidate (default: build-release)
  --duration SECONDS   length of each measured wrk run (default: 10)
  --connections N      wrk keep-alive connections (default: 64)
  --runs R             number of baseline/candidate pairs (default: 5)
  -h, --help           show this help
USAGE
}

while [[ $# -gt 0 ]]; do
    case $1 in
        --baseline-dir | --baseline-dir=*) take_arg BASELINE_DIR "$@"; shift "$ARG_SHIFT" ;;
        --build-dir | --build-dir=*)       take_arg BUILD_DIR "$@"; shift "$ARG_SHIFT" ;;
        --duration | --duration=*)         take_arg DURATION "$@"; shift "$ARG_SHIFT" ;;
        --connections | --connections=*)   take_arg CONNECTIONS "$@"; shift "$ARG_SHIFT" ;;
        --runs | --runs=*)                 take_arg RUNS "$@"; shift "$ARG_SHIFT" ;;
        -h | --help)                       usage; exit 0 ;;
        *)                                 usage >&2; die "unknown argument: $1" ;;
    esac
done

[[ -n $BASELINE_DIR ]] || { usage >&2; die "--baseline-dir is required"; }
require_positive_int duration "$DURATION"
require_positive_int connections "$CONNECTIONS"
require_positive_int runs "$RUNS"

require_vstream_bin "$BASELINE_DIR"
BASELINE_BIN=$VSTREAM_BIN
require_vstream_bin "$BUILD_DIR"
CANDIDATE_BIN=$VSTREAM_BIN
require_wrk
require_tools curl taskset timeout awk sort
require_cpus

bench_init

# Each measurement appends "run build rps p50 p90 p95 p98 p99 p99.9" (us) to $RESULTS.
RESULTS=$TMP_DIR/results.txt
: >"$RESULTS"

measure() {
    local name=$1 run=$2 bin port url out line
    bin=$BASELINE_BIN
    [[ $name == candidate ]] && bin=$CANDIDATE_BIN
    port=$(free_port)
    url="http://127.0.0.1:$port/ping"
    launch_server "$name" "$TMP_DIR/$name.log" "$TMP_DIR/$name.log" \
        "$bin" --host 127.0.0.1 --port "$port" --threads 1
    wait_ready "$url"
    out=$TMP_DIR/wrk-$name-$run
    run_wrk 1 "$CONNECTIONS" "$out-warmup.txt" "$url" || die "warm-up wrk against $name failed"
    run_wrk "$DURATION" "$CONNECTIONS" "$out.txt" -s "$LUA_SCRIPT" "$url" || die "wrk against $name failed"
    server_alive_or_die
    stop_server
    wrk_parse "$out.txt" || die "could not parse wrk output for $name"
    [[ -z $WRK_ERRORS ]] || die "$name run $run: $WRK_ERRORS"
    line=$(grep '^Percentiles(us):' "$out.txt") || die "no percentiles in the wrk output for $name"
    # "Percentiles(us): p50=1 p90=2 ... p99.9=6 max=7" -> the six numbers, tab-separated
    printf '%s\t%s\t%s\t%s\n' "$run" "$name" "$WRK_RPS" \
        "$(awk '{ for (i = 2; i <= 7; i++) { split($i, kv, "="); printf "%s%s", kv[2], (i < 7 ? "\t" : "") } }' <<<"$line")" \
        >>"$RESULTS"
    log "run $run/$RUNS: $name: $WRK_RPS req/s, ${line#Percentiles(us): }"
}

log "baseline: $BASELINE_BIN; candidate: $CANDIDATE_BIN; ${RUNS} runs x ${DURATION} s, ${CONNECTIONS} connections"
abba_runs "$RUNS" baseline candidate

cat <<REPORT
## GET /ping: candidate vs baseline vstream

$(md_env)
- Baseline: \`$BASELINE_BIN\`; candidate: \`$CANDIDATE_BIN\`
- Setup: server on CPU $SERVER_CPU (1 thread), \`wrk -t1 -c$CONNECTIONS -d${DURATION}s -s percentiles.lua\` on CPU $CLIENT_CPU, loopback, keep-alive; $RUNS runs in ABBA order, 1 s warm-up each
- Command: \`$COMMAND_LINE\`

### Per run (latency in us)

$(md_header Run:r Build:l Req/s:r p50:r p90:r p95:r p98:r p99:r p99.9:r)
$(md_rows "$RESULTS" %s %s %.0f %s %s %s %s %s %s)

### Medians and candidate / baseline

$(md_header Metric:l baseline:r candidate:r "Median of per-run candidate/baseline ratios:r")
REPORT
col=3
for metric in Req/s p50 p90 p95 p98 p99 p99.9; do
    better=lower
    [[ $metric == Req/s ]] && better=higher
    printf '| %s | %.0f | %.0f | %s |\n' "$metric" \
        "$(median "$RESULTS" baseline "$col")" "$(median "$RESULTS" candidate "$col")" \
        "$(paired_summary "$RESULTS" "$col" "$better" candidate baseline)"
    col=$((col + 1))
done
