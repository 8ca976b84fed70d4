#!/usr/bin/env bash
#
# epoll_order.sh: does epoll's trigger mode alone change a closed-loop
# benchmark's latency tail? The experiment behind net::EdgePoller.
#
# What it measures: wrk's latency percentiles (p50 to p99.9, from
# benchmarks/percentiles.lua) and requests/s against
# $BUILD_DIR/benchmarks/epoll_order_responder, a minimal responder whose only
# difference between its two modes is how connections are added to epoll:
#   * level: level-triggered, as libuv adds them;
#   * edge:  EPOLLET, as nginx adds them.
# A level-triggered set puts each descriptor it reports back on its ready
# list, so connections served in one batch are reported first in the next,
# ahead of connections whose requests arrived earlier; an edge-triggered set
# reports in arrival order.
#
# How: as ping_vs_nginx.sh: the responder pinned to CPU 0, wrk -t1 with N
# keep-alive connections pinned to CPU 1, loopback only, a fresh responder per
# measurement, 1 s warm-up, ABBA order. The report (Markdown, stdout) has the
# per-run figures, medians and the median of per-run level/edge ratios.
#
# Requirements: wrk, curl, taskset, 2 usable CPUs, and a build of
# benchmarks/epoll_order_responder (built with the project). Nothing is installed.

set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

LUA_SCRIPT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/percentiles.lua
readonly LUA_SCRIPT

BUILD_DIR=build-release
DURATION=10
CONNECTIONS=64
RUNS=5
WORK=1500

COMMAND_LINE=$(quote_command "$0" "$@")

usage() {
    cat <<USAGE
Usage: $0 [--build-dir DIR] [--duration SECONDS] [--connections N] [--runs R] [--work N]

Compares the latency tail of a level-triggered and an edge-triggered epoll
responder (CPU $SERVER_CPU) under wrk -t1 (CPU $CLIENT_CPU), loopback only.

Options:
  --build-dir DIR      Meson build directory containing benchmarks/epoll_order_responder
                       (default: build-release)
  --duration SECONDS   length of each measured wrk run (default: 10)
  --connections N      wrk keep-alive connections (default: 64)
  --runs R             number of level/edge measurement pairs (default: 5)
  --work N             empty-loop iterations per request, standing in for a
                       server's own work (default: 1500, about 1 us here)
  -h, --help           show this help
USAGE
}

while [[ $# -gt 0 ]]; do
    case $1 in
        --build-dir | --build-dir=*)     take_arg BUILD_DIR "$@"; shift "$ARG_SHIFT" ;;
        --duration | --duration=*)       take_arg DURATION "$@"; shift "$ARG_SHIFT" ;;
        --connections | --connections=*) take_arg CONNECTIONS "$@"; shift "$ARG_SHIFT" ;;
        --runs | --runs=*)               take_arg RUNS "$@"; shift "$ARG_SHIFT" ;;
        --work | --work=*)               take_arg WORK "$@"; shift "$ARG_SHIFT" ;;
        -h | --help)                     usage; exit 0 ;;
        *)                               usage >&2; die "unknown argument: $1" ;;
    esac
done

require_positive_int duration "$DURATION"
require_positive_int connections "$CONNECTIONS"
require_positive_int runs "$RUNS"
[[ $WORK =~ ^[0-9]+$ ]] || die "--work must be a non-negative integer"

RESPONDER=$BUILD_DIR/benchmarks/epoll_order_responder
[[ -x $RESPONDER ]] || die "responder not found: $RESPONDER (build it: ninja -C $BUILD_DIR benchmarks/epoll_order_responder)"
require_wrk
require_tools curl taskset timeout awk sort
require_cpus

bench_init

# Each measurement appends "run mode rps p50 p90 p95 p98 p99 p99.9" (us) to $RESULTS.
RESULTS=$TMP_DIR/results.txt
: >"$RESULTS"

measure() {
    local mode=$1 run=$2 port url out line
    port=$(free_port)
    url="http://127.0.0.1:$port/ping"
    launch_server "$mode" "$TMP_DIR/$mode.log" "$TMP_DIR/$mode.log" "$RESPONDER" "$port" "$mode" "$WORK"
    wait_ready "$url"
    out=$TMP_DIR/wrk-$mode-$run
    run_wrk 1 "$CONNECTIONS" "$out-warmup.txt" "$url" || die "warm-up wrk against $mode failed"
    run_wrk "$DURATION" "$CONNECTIONS" "$out.txt" -s "$LUA_SCRIPT" "$url" || die "wrk against $mode failed"
    server_alive_or_die
    stop_server
    wrk_parse "$out.txt" || die "could not parse wrk output for $mode"
    [[ -z $WRK_ERRORS ]] || die "$mode run $run: $WRK_ERRORS"
    line=$(grep '^Percentiles(us):' "$out.txt") || die "no percentiles in the wrk output for $mode"
    # "Percentiles(us): p50=1 p90=2 ..." -> the numbers, tab-separated
    printf '%s\t%s\t%s\t%s\n' "$run" "$mode" "$WRK_RPS" \
        "$(awk '{ for (i = 2; i <= 7; i++) { split($i, kv, "="); printf "%s%s", kv[2], (i < 7 ? "\t" : "") } }' <<<"$line")" \
        >>"$RESULTS"
    log "run $run/$RUNS: $mode: $WRK_RPS req/s, ${line#Percentiles(us): }"
}

log "responder: $RESPONDER; ${RUNS} runs x ${DURATION} s, ${CONNECTIONS} connections, work $WORK"
for ((run = 1; run <= RUNS; run++)); do
    if ((run % 2)); then
        measure level "$run"; measure edge "$run"
    else
        measure edge "$run"; measure level "$run"
    fi
done

cat <<REPORT
## epoll trigger mode: level vs edge

$(md_env)
- Setup: responder on CPU $SERVER_CPU, \`wrk -t1 -c$CONNECTIONS -d${DURATION}s -s percentiles.lua\` on CPU $CLIENT_CPU, loopback, keep-alive, $WORK work iterations per request; $RUNS runs in ABBA order, 1 s warm-up each
- Command: \`$COMMAND_LINE\`

### Per run (latency in us)

$(md_header Run:r Mode:l Req/s:r p50:r p90:r p95:r p98:r p99:r p99.9:r)
$(md_rows "$RESULTS" %s %s %.0f %s %s %s %s %s %s)

### Medians and level / edge

$(md_header Metric:l level:r edge:r "Median of per-run level/edge ratios:r")
REPORT
col=3
for metric in Req/s p50 p90 p95 p98 p99 p99.9; do
    better=lower
    [[ $metric == Req/s ]] && better=higher
    printf '| %s | %.0f | %.0f | %s |\n' "$metric" \
        "$(median "$RESULTS" level "$col")" "$(median "$RESULTS" edge "$col")" \
        "$(paired_summary "$RESULTS" "$col" "$better" level edge)"
    col=$((col + 1))
done
