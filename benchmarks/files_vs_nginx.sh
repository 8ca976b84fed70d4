#!/usr/bin/env bash
#
# files_vs_nginx.sh: compare vstream with nginx serving static files.
#
# Workloads (each one measured on both servers in the same invocation):
#   get64k    full GET of a 64 KiB file, 64 connections
#   get1m     full GET of a 1 MiB file, 64 connections
#   range64   random 64 KiB Range requests over a 1 GiB file, 64 connections
#   range256  the same with 256 connections
# The range workloads use benchmarks/random_range.lua, which sends
# `Range: bytes=a-b` at random offsets (64 KiB-aligned or not) and counts
# every answer that is not a 206 with a 64 KiB body; such answers are
# reported and make the script exit 2.
#
# Servers, both serving the data dir at /:
#   * vstream: $BUILD_DIR/examples/vstream-serve --root DATA_DIR --threads 1 --quiet
#   * nginx:   the system /usr/sbin/nginx, 1 worker, sendfile on, tcp_nopush on,
#              open_file_cache, access_log off (config written into a temp dir).
#
# How: as in ping_vs_nginx.sh (the shared parts are in lib/common.sh). Each
# server runs alone pinned to CPU 0; wrk -t1 runs pinned to CPU 1 over
# loopback (127.0.0.1 only). Each measurement starts a fresh server on a free
# port, checks the status, Content-Length and bytes of one response against
# the file (cmp), does a 1 s warm-up and a measured run; the servers
# alternate inside every run. The test files are random bytes generated once
# into the data dir (default /tmp/vstream-bench-data) and reused; they are
# read once before each workload so both servers find them in the page
# cache. The Markdown report goes to stdout, progress to stderr:
#   benchmarks/files_vs_nginx.sh > report.md
#
# Requirements: wrk, nginx (Debian nginx-light), curl, taskset, at least 2
# usable CPUs, ~1.1 GiB free in the data dir, and a vstream-serve that has
# --root. Nothing is installed.

set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

LUA_SCRIPT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)/random_range.lua
readonly LUA_SCRIPT
readonly RANGE_LENGTH=65536
readonly ALL_WORKLOADS=(get64k get1m range64 range256)
readonly ALL_SERVERS=(vstream nginx)

BUILD_DIR=build-release
DATA_DIR=/tmp/vstream-bench-data
DURATION=10
RUNS=3
WORKLOADS_ARG=$(IFS=,; echo "${ALL_WORKLOADS[*]}")
SERVERS_ARG=$(IFS=,; echo "${ALL_SERVERS[*]}")
RANGE_MODE=mixed
CACHE_MB=

COMMAND_LINE=$(quote_command "$0" "$@")

usage() {
    cat <<EOF
Usage: $0 [--build-dir DIR] [--data-dir DIR] [--duration SECONDS] [--runs R]
          [--workloads LIST] [--servers LIST] [--range-mode MODE] [--cache-mb N]
          [--vstream-ignore-sigpipe]

Benchmarks static file serving by vstream-serve --root against nginx (1 worker
each, server pinned to CPU $SERVER_CPU, wrk -t1 pinned to CPU $CLIENT_CPU, loopback only).

Workloads:
  get64k    full GET of a 64 KiB file, 64 connections
  get1m     full GET of a 1 MiB file, 64 connections
  range64   random 64 KiB Range requests over a 1 GiB file, 64 connections
  range256  random 64 KiB Range requests over a 1 GiB file, 256 connections

Options:
  --build-dir DIR      Meson build directory containing examples/vstream-serve
                       (default: build-release)
  --data-dir DIR       where the test files are generated once and reused
                       (default: /tmp/vstream-bench-data)
  --duration SECONDS   length of each measured wrk run (default: 10)
  --runs R             measurements per server and workload (default: 3)
  --workloads LIST     comma list of workloads (default: all, $WORKLOADS_ARG)
  --servers LIST       comma list of servers (default: $SERVERS_ARG)
  --range-mode MODE    range offsets: aligned, unaligned or mixed (default: mixed)
  --cache-mb N         pass --cache-mb N to vstream-serve (default: not passed,
                       i.e. vstream-serve's own default)
  --vstream-ignore-sigpipe
                       start vstream-serve with SIGPIPE ignored (a workaround
                       for a build that dies when a client closes mid-response;
                       stated in the report; default: off)
  -h, --help           show this help

The Markdown report is written to stdout, progress to stderr. Exit status:
0 on success, 1 on a setup/run failure, 2 if wrk saw non-2xx/3xx responses or
socket errors, or a range answer was not a 64 KiB 206 (the report is still
printed, with a warning).
EOF
}

# ---------------------------------------------------------------- arguments

while [[ $# -gt 0 ]]; do
    case $1 in
        --build-dir | --build-dir=*)   take_arg BUILD_DIR "$@"; shift "$ARG_SHIFT" ;;
        --data-dir | --data-dir=*)     take_arg DATA_DIR "$@"; shift "$ARG_SHIFT" ;;
        --duration | --duration=*)     take_arg DURATION "$@"; shift "$ARG_SHIFT" ;;
        --runs | --runs=*)             take_arg RUNS "$@"; shift "$ARG_SHIFT" ;;
        --workloads | --workloads=*)   take_arg WORKLOADS_ARG "$@"; shift "$ARG_SHIFT" ;;
        --servers | --servers=*)       take_arg SERVERS_ARG "$@"; shift "$ARG_SHIFT" ;;
        --range-mode | --range-mode=*) take_arg RANGE_MODE "$@"; shift "$ARG_SHIFT" ;;
        --cache-mb | --cache-mb=*)     take_arg CACHE_MB "$@"; shift "$ARG_SHIFT" ;;
        --vstream-ignore-sigpipe)      VSTREAM_IGNORE_SIGPIPE=1; shift ;;
        -h | --help)                   usage; exit 0 ;;
        *)                             usage >&2; die "unknown argument: $1" ;;
    esac
done

require_positive_int duration "$DURATION"
require_positive_int runs "$RUNS"
[[ -z $CACHE_MB ]] || require_positive_int cache-mb "$CACHE_MB"
parse_list WORKLOADS workloads "$WORKLOADS_ARG" "${ALL_WORKLOADS[@]}"
parse_list SERVERS servers "$SERVERS_ARG" "${ALL_SERVERS[@]}"
case $RANGE_MODE in
    aligned | unaligned | mixed) ;;
    *) die "--range-mode must be aligned, unaligned or mixed (got '$RANGE_MODE')" ;;
esac
[[ -n $DATA_DIR ]] || die "--data-dir must not be empty"
DATA_DIR=$(realpath -m -- "$DATA_DIR")

VSTREAM_ARGS=()
[[ -z $CACHE_MB ]] || VSTREAM_ARGS=(--cache-mb "$CACHE_MB")

# ------------------------------------------------------------ preconditions

if list_has vstream "${SERVERS[@]}"; then
    require_vstream_bin "$BUILD_DIR"
    require_tools timeout
    require_vstream_flag --root
    [[ -z $CACHE_MB ]] || require_vstream_flag --cache-mb
fi
require_wrk
if list_has nginx "${SERVERS[@]}"; then
    require_nginx
fi
require_tools curl taskset timeout awk sort cmp dd head stat realpath pgrep getconf
require_cpus
[[ -r $LUA_SCRIPT ]] || die "wrk script not found: $LUA_SCRIPT"

bench_init
if list_has vstream "${SERVERS[@]}"; then
    snapshot_vstream_bin
fi

# ---------------------------------------------------------------- workloads

# workload NAME: sets WL_TITLE, WL_FILE (under DATA_DIR), WL_FILE_BYTES,
# WL_BODY_BYTES (payload of one response), WL_CONNS and WL_KIND (full|range).
workload() {
    case $1 in
        get64k)
            WL_TITLE="GET of a 64 KiB file, 64 connections"
            WL_FILE='file-64k.bin'; WL_FILE_BYTES=65536; WL_CONNS=64; WL_KIND=full ;;
        get1m)
            WL_TITLE="GET of a 1 MiB file, 64 connections"
            WL_FILE='file-1m.bin'; WL_FILE_BYTES=1048576; WL_CONNS=64; WL_KIND=full ;;
        range64 | range256)
            WL_CONNS=${1#range}
            WL_TITLE="random 64 KiB ranges of a 1 GiB file ($RANGE_MODE offsets), $WL_CONNS connections"
            WL_FILE='file-1g.bin'; WL_FILE_BYTES=1073741824; WL_KIND=range ;;
        *) die "internal: unknown workload $1" ;;
    esac
    if [[ $WL_KIND == full ]]; then WL_BODY_BYTES=$WL_FILE_BYTES; else WL_BODY_BYTES=$RANGE_LENGTH; fi
}

start_vstream() {
    start_vstream_files "$1" "$DATA_DIR" "${VSTREAM_ARGS[@]}"
}

start_nginx() {
    start_nginx_files "$1" "$DATA_DIR"
}

# ------------------------------------------------------------- measurement

ERRORS_FOUND=0

# measure WORKLOAD SERVER RUN: one fresh server, checked, then measured.
# Appends to $TMP_DIR/results-WORKLOAD.txt the TSV row
#   run server rps MiB/s p50_us p99_us srv_cpu% cpu_us/req cli_cpu% errors      (full)
#   run server rps MiB/s p50_us p99_us srv_cpu% cpu_us/req cli_cpu% non206 badlength errors
measure() {
    local wl=$1 name=$2 run=$3 port base url file out
    workload "$wl"
    port=$(free_port)
    base="http://127.0.0.1:$port"
    url="$base/$WL_FILE"
    file=$DATA_DIR/$WL_FILE
    "start_$name" "$port"
    wait_ready "$base/"

    local -a wrk_args
    if [[ $WL_KIND == full ]]; then
        verify_full_get "$url" "$file"
        wrk_args=("$url")
    else
        verify_head_length "$url" "$file"
        verify_range "$url" "$file" $((WL_FILE_BYTES / 2 + 12345)) "$RANGE_LENGTH"
        wrk_args=(-s "$LUA_SCRIPT" "$url" -- "$WL_FILE_BYTES" "$RANGE_LENGTH" "$RANGE_MODE")
    fi

    out=$TMP_DIR/wrk-$wl-$name-$run
    wrk_measure "$wl run $run/$RUNS: $name" "$port" "$DURATION" "$WL_CONNS" "$out" "${wrk_args[@]}"

    local errors=$WRK_ERRORS mibs cpu_us row
    mibs=$(awk -v r="$WRK_RPS" -v b="$WL_BODY_BYTES" 'BEGIN { printf "%.1f", r * b / 1048576 }')
    cpu_us=$(awk -v r="$WRK_RPS" -v c="$SERVER_CPU_PCT" 'BEGIN { printf "%.1f", (r > 0) ? c / 100 * 1e6 / r : 0 }')
    row=$(printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s' "$run" "$name" "$WRK_RPS" "$mibs" "$WRK_P50_US" "$WRK_P99_US" \
        "$SERVER_CPU_PCT" "$cpu_us" "$CLIENT_CPU_PCT")
    if [[ $WL_KIND == range ]]; then
        local line responses non206 badlength
        line=$(grep -E '^random_range: responses=' "$out.txt" || true)
        [[ -n $line ]] || { cat "$out.txt" >&2; die "no random_range summary in the wrk output for $name"; }
        responses=$(sed -E 's/.*responses=([0-9]+).*/\1/' <<<"$line")
        non206=$(sed -E 's/.*non206=([0-9]+).*/\1/' <<<"$line")
        badlength=$(sed -E 's/.*badlength=([0-9]+).*/\1/' <<<"$line")
        [[ $responses -gt 0 ]] || die "$name answered no range request in $wl run $run"
        if [[ $non206 -gt 0 || $badlength -gt 0 ]]; then
            errors+="${errors:+; }$non206 non-206 and $badlength wrong-length answers of $responses"
        fi
        row+=$(printf '\t%s\t%s' "$non206" "$badlength")
    fi
    if [[ -n $errors ]]; then
        ERRORS_FOUND=1
        log "!!!!! WARNING: $wl: $name run $run: $errors"
    fi
    log "$wl run $run/$RUNS: $name: $WRK_RPS req/s, $mibs MiB/s, p50 ${WRK_P50_US} us, p99 ${WRK_P99_US} us, server CPU ${SERVER_CPU_PCT}% ($cpu_us us/req), CPU $CLIENT_CPU ${CLIENT_CPU_PCT}%"
    printf '%s\t%s\n' "$row" "${errors:-none}" >>"$TMP_DIR/results-$wl.txt"
}

# ------------------------------------------------------------------ report

# report_workload WORKLOAD: the per-run, median and ratio tables; appends the
# medians to $TMP_DIR/summary.txt.
report_workload() {
    local wl=$1 results=$TMP_DIR/results-$1.txt name rps mibs p50 p99
    workload "$wl"
    local wrk_cmd="wrk -t1 -c$WL_CONNS -d${DURATION}s --latency http://127.0.0.1:PORT/$WL_FILE"
    [[ $WL_KIND == full ]] ||
        wrk_cmd="wrk -t1 -c$WL_CONNS -d${DURATION}s --latency -s benchmarks/random_range.lua http://127.0.0.1:PORT/$WL_FILE -- $WL_FILE_BYTES $RANGE_LENGTH $RANGE_MODE"
    cat <<EOF

### $wl: $WL_TITLE

\`$wrk_cmd\`

EOF
    if [[ $WL_KIND == full ]]; then
        md_header Run:r Server:l Req/s:r MiB/s:r "p50 (us):r" "p99 (us):r" "Server CPU %:r" "CPU us/req:r" "CPU $CLIENT_CPU busy %:r" Errors:l
        md_rows "$results" %s %s %.0f %.1f %.1f %.1f %s %.1f %s %s
    else
        md_header Run:r Server:l Req/s:r MiB/s:r "p50 (us):r" "p99 (us):r" "Server CPU %:r" "CPU us/req:r" "CPU $CLIENT_CPU busy %:r" Non-206:r "Wrong length:r" Errors:l
        md_rows "$results" %s %s %.0f %.1f %.1f %.1f %s %.1f %s %s %s %s
    fi
    echo
    echo "Medians:"
    echo
    md_header Server:l Req/s:r MiB/s:r "p50 (us):r" "p99 (us):r" "CPU us/req:r"
    local -A m_rps m_p99 m_cpu
    local cpu
    for name in "${SERVERS[@]}"; do
        rps=$(median "$results" "$name" 3); mibs=$(median "$results" "$name" 4)
        p50=$(median "$results" "$name" 5); p99=$(median "$results" "$name" 6)
        cpu=$(median "$results" "$name" 8)
        m_rps[$name]=$rps
        m_p99[$name]=$p99
        m_cpu[$name]=$cpu
        printf '| %s | %.0f | %.1f | %.1f | %.1f | %.1f |\n' "$name" "$rps" "$mibs" "$p50" "$p99" "$cpu"
        printf '%s\t%s\t%.0f\t%.1f\t%s\t%s\n' "$wl" "$name" "$rps" "$mibs" "$p99" "$cpu" >>"$TMP_DIR/summary.txt"
    done
    if [[ ${#SERVERS[@]} -eq 2 ]]; then
        cat <<EOF

vstream / nginx:

$(md_header Metric:l Ratio:r Better:l)
| Req/s (and MiB/s) | $(ratio "${m_rps[vstream]}" "${m_rps[nginx]}") | higher |
| p99 latency | $(ratio "${m_p99[vstream]}" "${m_p99[nginx]}") | lower |
| Server CPU per request | $(ratio "${m_cpu[vstream]}" "${m_cpu[nginx]}") | lower |
EOF
    fi
}

# report_summary: one line per workload with both servers' medians.
report_summary() {
    local summary=$TMP_DIR/summary.txt wl
    cat <<EOF

### Summary (medians)

$(md_header Workload:l "vstream req/s:r" "nginx req/s:r" "vstream MiB/s:r" "nginx MiB/s:r" "Req/s ratio:r" "p99 ratio:r" "CPU/req ratio:r")
EOF
    for wl in "${WORKLOADS[@]}"; do
        awk -F'\t' -v wl="$wl" '
            $1 == wl { rps[$2] = $3; mibs[$2] = $4; p99[$2] = $5; cpu[$2] = $6 }
            END {
                rr = rps["nginx"] > 0 ? sprintf("%.3f", rps["vstream"] / rps["nginx"]) : "n/a"
                pr = p99["nginx"] > 0 ? sprintf("%.3f", p99["vstream"] / p99["nginx"]) : "n/a"
                cr = cpu["nginx"] > 0 ? sprintf("%.3f", cpu["vstream"] / cpu["nginx"]) : "n/a"
                printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", wl, rps["vstream"], rps["nginx"],
                    mibs["vstream"], mibs["nginx"], rr, pr, cr
            }' "$summary"
    done
}

# -------------------------------------------------------------------- main

declare -A needed=()
for wl in "${WORKLOADS[@]}"; do
    workload "$wl"
    needed[$WL_FILE]=$WL_FILE_BYTES
done
for f in $(printf '%s\n' "${!needed[@]}" | sort); do
    ensure_data_file "$DATA_DIR/$f" "${needed[$f]}"
done

log "servers: ${SERVERS[*]} (vstream: ${VSTREAM_BIN:-unused}; nginx: $NGINX_BIN); workloads: ${WORKLOADS[*]}; ${RUNS} runs x ${DURATION} s; data: $DATA_DIR"
for wl in "${WORKLOADS[@]}"; do
    workload "$wl"
    log "$wl: $WL_TITLE: warming the page cache"
    warm_page_cache "$DATA_DIR/$WL_FILE"
    for ((run = 1; run <= RUNS; run++)); do
        for name in "${SERVERS[@]}"; do
            measure "$wl" "$name" "$run"
        done
    done
done

vstream_desc="\`vstream-serve --root DATA_DIR --host 127.0.0.1 --threads 1 --quiet${CACHE_MB:+ --cache-mb $CACHE_MB}\`"
[[ -n $CACHE_MB ]] || vstream_desc+=" (mmap cache: vstream-serve's default size)"
[[ $VSTREAM_IGNORE_SIGPIPE == 0 ]] || vstream_desc+="; **started with SIGPIPE ignored (--vstream-ignore-sigpipe, a workaround)**"
cat <<EOF
## Static files: vstream vs nginx

$(md_env)
- Setup: server on CPU $SERVER_CPU (1 thread / 1 worker), \`wrk -t1 --latency\` on CPU $CLIENT_CPU, loopback, keep-alive; $RUNS interleaved runs x ${DURATION} s per workload, fresh server and 1 s warm-up per measurement; each server's status, Content-Length and bytes checked against the file before measuring
- vstream: $vstream_desc${VSTREAM_ID:+; binary \`$BUILD_DIR/examples/vstream-serve\` ($VSTREAM_ID), copied at start}
- nginx: $NGINX_FILES_SUMMARY
- Data: random bytes in \`$DATA_DIR\`, read once before each workload (page cache warm); MiB/s counts payload bytes only (Req/s x response body size)
- CPU columns (measured run): Server CPU % is the server's CPU time (user + system, from /proc/PID/stat) over wall time, 100 = the one core it may use; CPU us/req is that time per request; CPU $CLIENT_CPU busy % is how busy wrk's CPU was (near 100: wrk is the limit and both servers are held to it, so compare CPU us/req)
- Command: \`$COMMAND_LINE\`
EOF
for wl in "${WORKLOADS[@]}"; do
    report_workload "$wl"
done
if [[ ${#SERVERS[@]} -eq 2 ]]; then
    report_summary
fi

if [[ $ERRORS_FOUND -ne 0 ]]; then
    cat <<EOF

> **WARNING: errors in at least one run (wrk non-2xx/3xx responses or socket
> errors, or range answers that were not a 64 KiB 206); see the Errors
> columns. These figures are not trustworthy.**
EOF
    log "!!!!! WARNING: errors in at least one run (see report)"
    exit 2
fi
