#!/usr/bin/env bash
#
# ping_vs_nginx.sh: compare vstream with nginx on a minimal JSON endpoint.
#
# What it measures: throughput (Requests/sec) and latency (p50, p99) of
# `GET /ping` -> 200 {"message":"pong"} (application/json), served by
#   * vstream: $BUILD_DIR/examples/vstream-serve --threads 1
#   * nginx:   the system /usr/sbin/nginx, 1 worker, `return 200 '...'`
#              (started by this script from its own config in a temp dir).
#
# How: each server runs alone, pinned to CPU 0 (taskset). wrk runs pinned
# to CPU 1 with one thread and N keep-alive connections over loopback
# (127.0.0.1 only). Each measurement starts a fresh server on a free port,
# waits until it answers, checks the response, does a 1 s warm-up and then
# a measured run. The servers alternate in ABBA order (vstream, nginx, nginx,
# vstream, ...) so slow drift in machine noise hits both equally; besides the
# ratio of the medians the report gives the median of the per-run ratios
# (the two runs of a pair share their moment's noise).
# The report (Markdown, on stdout) has per-run figures, per-server medians
# and vstream/nginx ratios; progress messages go to stderr, so
#   benchmarks/ping_vs_nginx.sh > report.md
# yields a report that can be pasted into docs/benchmarks.md.
#
# Requirements: wrk, nginx (Debian nginx-light is enough), curl, taskset,
# at least 2 usable CPUs, and a built vstream-serve. Nothing is installed.

set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

BUILD_DIR=build-release
DURATION=10
CONNECTIONS=64
RUNS=3

COMMAND_LINE=$(quote_command "$0" "$@")

usage() {
    cat <<EOF
Usage: $0 [--build-dir DIR] [--duration SECONDS] [--connections N] [--runs R]

Benchmarks GET /ping on vstream-serve against nginx (1 worker each, server
pinned to CPU $SERVER_CPU, wrk -t1 pinned to CPU $CLIENT_CPU, loopback only).

Options:
  --build-dir DIR      Meson build directory containing examples/vstream-serve
                       (default: build-release)
  --duration SECONDS   length of each measured wrk run (default: 10)
  --connections N      wrk keep-alive connections (default: 64)
  --runs R             number of vstream/nginx measurement pairs (default: 3)
  -h, --help           show this help

The Markdown report is written to stdout, progress to stderr. Exit status:
0 on success, 1 on a setup/run failure, 2 if wrk saw non-2xx/3xx responses
or socket errors (the report is still printed, with a warning).
EOF
}

# ---------------------------------------------------------------- arguments

while [[ $# -gt 0 ]]; do
    case $1 in
        --build-dir | --build-dir=*)     take_arg BUILD_DIR "$@"; shift "$ARG_SHIFT" ;;
        --duration | --duration=*)       take_arg DURATION "$@"; shift "$ARG_SHIFT" ;;
        --connections | --connections=*) take_arg CONNECTIONS "$@"; shift "$ARG_SHIFT" ;;
        --runs | --runs=*)               take_arg RUNS "$@"; shift "$ARG_SHIFT" ;;
        -h | --help)                     usage; exit 0 ;;
        *)                               usage >&2; die "unknown argument: $1" ;;
    esac
done

require_positive_int duration "$DURATION"
require_positive_int connections "$CONNECTIONS"
require_positive_int runs "$RUNS"

# ------------------------------------------------------------ preconditions

require_vstream_bin "$BUILD_DIR"
require_wrk
require_nginx
require_tools curl taskset timeout awk sort
require_cpus

bench_init
snapshot_vstream_bin

# ------------------------------------------------------------------ servers

start_vstream() {
    launch_server vstream "$TMP_DIR/vstream.log" "$TMP_DIR/vstream.log" \
        "$VSTREAM_EXEC" --host 127.0.0.1 --port "$1" --threads 1
}

start_nginx() {
    start_nginx_conf "$1" "" "$NGINX_PING_LOCATION
        location / {
            return 404;
        }"
}

# ------------------------------------------------------------- measurement

# Each measurement appends "run name rps p50_us p99_us errors" to $RESULTS.
RESULTS=$TMP_DIR/results.txt
: >"$RESULTS"
ERRORS_FOUND=0

measure() {
    local name=$1 run=$2 port url
    port=$(free_port)
    url="http://127.0.0.1:$port/ping"
    "start_$name" "$port"
    wait_ready "$url"
    check_ping "$url"

    wrk_measure "run $run/$RUNS: $name" "$port" "$DURATION" "$CONNECTIONS" \
        "$TMP_DIR/wrk-$name-$run" "$url"
    if [[ -n $WRK_ERRORS ]]; then
        ERRORS_FOUND=1
        log "!!!!! WARNING: $name run $run: $WRK_ERRORS"
    fi
    log "run $run/$RUNS: $name: $WRK_RPS req/s, p50 ${WRK_P50_US} us, p99 ${WRK_P99_US} us"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "$WRK_RPS" "$WRK_P50_US" "$WRK_P99_US" \
        "${WRK_ERRORS:-none}" >>"$RESULTS"
}

# -------------------------------------------------------------------- main

log "vstream: $VSTREAM_BIN; nginx: $NGINX_BIN; ${RUNS} runs x ${DURATION} s, ${CONNECTIONS} connections"
abba_runs "$RUNS" vstream nginx

v_rps=$(median "$RESULTS" vstream 3); v_p50=$(median "$RESULTS" vstream 4); v_p99=$(median "$RESULTS" vstream 5)
n_rps=$(median "$RESULTS" nginx 3);   n_p50=$(median "$RESULTS" nginx 4);   n_p99=$(median "$RESULTS" nginx 5)

cat <<EOF
## GET /ping: vstream vs nginx

$(md_env)
- Setup: server on CPU $SERVER_CPU (1 thread / 1 worker), \`wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency\` on CPU $CLIENT_CPU, loopback, keep-alive; $RUNS interleaved runs, 1 s warm-up each
- Command: \`$COMMAND_LINE\`

### Per run

$(md_header Run:r Server:l Req/s:r "p50 (us):r" "p99 (us):r" Errors:l)
$(md_rows "$RESULTS" %s %s %.0f %.1f %.1f %s)

### Medians

$(md_header Server:l Req/s:r "p50 (us):r" "p99 (us):r")
EOF
printf '| vstream | %.0f | %.1f | %.1f |\n' "$v_rps" "$v_p50" "$v_p99"
printf '| nginx | %.0f | %.1f | %.1f |\n' "$n_rps" "$n_p50" "$n_p99"

cat <<EOF

### vstream / nginx

$(md_header Metric:l "Ratio of medians:r" "Median of per-run ratios:r" Better:l)
| Req/s | $(ratio "$v_rps" "$n_rps") | $(paired_summary "$RESULTS" 3 higher) | higher |
| p50 latency | $(ratio "$v_p50" "$n_p50") | $(paired_summary "$RESULTS" 4 lower) | lower |
| p99 latency | $(ratio "$v_p99" "$n_p99") | $(paired_summary "$RESULTS" 5 lower) | lower |
EOF

if [[ $ERRORS_FOUND -ne 0 ]]; then
    cat <<EOF

> **WARNING: wrk reported errors (non-2xx/3xx responses or socket errors) in at
> least one run; see the Errors column. These figures are not trustworthy.**
EOF
    log "!!!!! WARNING: wrk reported errors in at least one run (see report)"
    exit 2
fi
