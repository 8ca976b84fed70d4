#!/usr/bin/env bash
#
# stream_rss.sh: peak memory (RSS) of the server while many clients stream a
# large file at full speed, vstream (for several mmap cache sizes) vs nginx.
#
# What it measures: `wrk -t1 -c64` GETs a 2 GiB file of random bytes for a
# bounded time (default 20 s per server): every connection streams the whole
# file as fast as loopback allows, then asks for it again. Meanwhile the
# server's /proc/PID/status is sampled every 100 ms (VmRSS, RssAnon, RssFile;
# VmHWM, the kernel's own high-water mark, is read at the end). For nginx the
# master's and the worker's figures are summed (pages they share, such as
# libraries, count twice). Reported per server: idle and peak RSS in MiB,
# the configured cache size, and the aggregate throughput (all bytes wrk
# read, divided by the run's length; responses still in flight at the end
# count too).
#
# Servers, both serving the data dir at /:
#   * vstream: $BUILD_DIR/examples/vstream-serve --root DATA_DIR --threads 1
#              --quiet --cache-mb N, once per N in --cache-mb (default 64,256)
#   * nginx:   the system /usr/sbin/nginx, 1 worker, sendfile on, tcp_nopush on,
#              open_file_cache, access_log off (config written into a temp dir)
#
# How: as in files_vs_nginx.sh (shared parts in lib/common.sh): server pinned
# to CPU 0, wrk and the sampler pinned to CPU 1, loopback (127.0.0.1) only,
# a fresh server on a free port per measurement, its Content-Length and one
# range of bytes checked against the file first. The 2 GiB file is generated
# once into the data dir (default /tmp/vstream-bench-data) and read once before
# each measurement so it is in the page cache. Markdown report on stdout,
# progress on stderr:
#   benchmarks/stream_rss.sh > report.md
#
# Requirements: wrk, nginx (Debian nginx-light), curl, taskset, at least 2
# usable CPUs, ~2 GiB free in the data dir (and RAM to cache it), and a
# vstream-serve that has --root and --cache-mb. Nothing is installed.

set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

readonly STREAM_FILE=file-2g.bin
readonly STREAM_BYTES=2147483648
readonly SAMPLE_INTERVAL=0.1
readonly ALL_SERVERS=(vstream nginx)

BUILD_DIR=build-release
DATA_DIR=/tmp/vstream-bench-data
DURATION=20
CONNECTIONS=64
CACHE_MB_ARG=64,256
SERVERS_ARG=$(IFS=,; echo "${ALL_SERVERS[*]}")

COMMAND_LINE=$(quote_command "$0" "$@")

usage() {
    cat <<EOF
Usage: $0 [--build-dir DIR] [--data-dir DIR] [--duration SECONDS]
          [--connections N] [--cache-mb LIST] [--servers LIST] [--vstream-ignore-sigpipe]

Measures the peak RSS of vstream-serve --root (once per mmap cache size) and
of nginx (1 worker) while N clients stream a 2 GiB file at full speed (server
pinned to CPU $SERVER_CPU, wrk -t1 and the RSS sampler pinned to CPU $CLIENT_CPU,
loopback only).

Options:
  --build-dir DIR      Meson build directory containing examples/vstream-serve
                       (default: build-release)
  --data-dir DIR       where the 2 GiB test file is generated once and reused
                       (default: /tmp/vstream-bench-data)
  --duration SECONDS   how long the clients stream, per server (default: 20)
  --connections N      concurrent streaming connections (default: 64)
  --cache-mb LIST      comma list of vstream --cache-mb sizes, one run each
                       (default: 64,256)
  --servers LIST       comma list of servers (default: $SERVERS_ARG)
  --vstream-ignore-sigpipe
                       start vstream-serve with SIGPIPE ignored (a workaround
                       for a build that dies when a client closes mid-response;
                       stated in the report; default: off)
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
        --data-dir | --data-dir=*)       take_arg DATA_DIR "$@"; shift "$ARG_SHIFT" ;;
        --duration | --duration=*)       take_arg DURATION "$@"; shift "$ARG_SHIFT" ;;
        --connections | --connections=*) take_arg CONNECTIONS "$@"; shift "$ARG_SHIFT" ;;
        --cache-mb | --cache-mb=*)       take_arg CACHE_MB_ARG "$@"; shift "$ARG_SHIFT" ;;
        --servers | --servers=*)         take_arg SERVERS_ARG "$@"; shift "$ARG_SHIFT" ;;
        --vstream-ignore-sigpipe)        VSTREAM_IGNORE_SIGPIPE=1; shift ;;
        -h | --help)                     usage; exit 0 ;;
        *)                               usage >&2; die "unknown argument: $1" ;;
    esac
done

require_positive_int duration "$DURATION"
require_positive_int connections "$CONNECTIONS"
parse_list SERVERS servers "$SERVERS_ARG" "${ALL_SERVERS[@]}"
IFS=, read -r -a CACHE_SIZES <<<"$CACHE_MB_ARG"
[[ ${#CACHE_SIZES[@]} -gt 0 ]] || die "--cache-mb needs at least one size"
for mb in "${CACHE_SIZES[@]}"; do
    require_positive_int cache-mb "$mb"
done
[[ -n $DATA_DIR ]] || die "--data-dir must not be empty"
DATA_DIR=$(realpath -m -- "$DATA_DIR")

# ------------------------------------------------------------ preconditions

if list_has vstream "${SERVERS[@]}"; then
    require_vstream_bin "$BUILD_DIR"
    require_tools timeout
    require_vstream_flag --root
    require_vstream_flag --cache-mb
fi
require_wrk
if list_has nginx "${SERVERS[@]}"; then
    require_nginx
fi
require_tools curl taskset timeout awk sort cmp dd head stat realpath pgrep getconf sleep
require_cpus

bench_init
if list_has vstream "${SERVERS[@]}"; then
    snapshot_vstream_bin
fi

# ------------------------------------------------------------------ servers

start_vstream() { # PORT CACHE_MB
    start_vstream_files "$1" "$DATA_DIR" --cache-mb "$2"
}

start_nginx() { # PORT
    start_nginx_files "$1" "$DATA_DIR"
}

# ------------------------------------------------------------- measurement

RESULTS=$TMP_DIR/results.txt
: >"$RESULTS"
ERRORS_FOUND=0
FILE=$DATA_DIR/$STREAM_FILE

# measure SERVER [CACHE_MB]: one fresh server, checked, streamed to, sampled.
# Appends "server cache idle peak_rss peak_anon peak_file hwm (MiB) MiB/s
# completed srv_cpu% cli_cpu% samples errors" to $RESULTS.
measure() {
    local name=$1 cache=${2:-} port base url label
    label="$name${cache:+ (cache $cache MiB)}"
    log "$label: warming the page cache"
    warm_page_cache "$FILE"
    port=$(free_port)
    base="http://127.0.0.1:$port"
    url="$base/$STREAM_FILE"
    if [[ $name == vstream ]]; then start_vstream "$port" "$cache"; else start_nginx "$port"; fi
    wait_ready "$base/"
    verify_head_length "$url" "$FILE"
    verify_range "$url" "$FILE" $((STREAM_BYTES / 2 + 4242)) 65536

    # The server process, plus nginx's worker(s).
    local -a pids
    mapfile -t pids < <(server_pids)
    local idle samples=$TMP_DIR/rss-$name$cache.tsv sampler
    idle=$(read_rss "${pids[@]}") || die "$SERVER_NAME: cannot read /proc/${pids[0]}/status"
    idle=${idle%%$'\t'*}
    : >"$samples"
    sample_rss "$samples" "${pids[@]}" &
    sampler=$!
    track_bg "$sampler"
    taskset -p -c "$CLIENT_CPU" "$sampler" >/dev/null || die "cannot pin the RSS sampler to CPU $CLIENT_CPU"

    log "$label on port $port (pids ${pids[*]}): $CONNECTIONS clients streaming for $DURATION s"
    local out=$TMP_DIR/wrk-$name$cache.txt
    cpu_meter_start "${pids[@]}"
    if ! run_wrk "$DURATION" "$CONNECTIONS" "$out" --timeout "$((DURATION + 30))s" "$url"; then
        cat "$out" >&2
        server_alive_or_die
        die "wrk against $name failed"
    fi
    cpu_meter_stop
    local hwm
    hwm=$(read_rss "${pids[@]}") ||
        { server_alive_or_die; die "$SERVER_NAME: a process of ${pids[*]} exited during the measurement"; }
    hwm=${hwm##*$'\t'}
    stop_pid "$sampler"
    untrack_bg "$sampler"
    server_alive_or_die
    stop_server

    if ! wrk_parse "$out" || [[ -z $WRK_BYTES || -z $WRK_SECS ]]; then
        cat "$out" >&2
        die "could not parse wrk output for $name"
    fi
    local n_samples peak anon file mibs
    n_samples=$(wc -l <"$samples")
    [[ $n_samples -gt 0 ]] || die "no RSS samples for $label"
    peak=$(column_max "$samples" 1)
    anon=$(column_max "$samples" 2)
    file=$(column_max "$samples" 3)
    mibs=$(awk -v b="$WRK_BYTES" -v s="$WRK_SECS" 'BEGIN { printf "%.1f", (s > 0 ? b / s / 1048576 : 0) }')
    if [[ -n $WRK_ERRORS ]]; then
        ERRORS_FOUND=1
        log "!!!!! WARNING: $label: $WRK_ERRORS"
    fi
    log "$label: peak RSS $(kib_to_mib "$peak") MiB (VmHWM $(kib_to_mib "$hwm") MiB), $mibs MiB/s, $WRK_REQUESTS complete responses, $n_samples samples, server CPU ${SERVER_CPU_PCT}%, CPU $CLIENT_CPU ${CLIENT_CPU_PCT}%"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${cache:-n/a}" \
        "$(kib_to_mib "$idle")" "$(kib_to_mib "$peak")" "$(kib_to_mib "$anon")" "$(kib_to_mib "$file")" \
        "$(kib_to_mib "$hwm")" "$mibs" "$WRK_REQUESTS" "$SERVER_CPU_PCT" "$CLIENT_CPU_PCT" "$n_samples" \
        "${WRK_ERRORS:-none}" >>"$RESULTS"
}

# -------------------------------------------------------------------- main

ensure_data_file "$FILE" "$STREAM_BYTES"

log "servers: ${SERVERS[*]} (vstream: ${VSTREAM_BIN:-unused}, cache sizes ${CACHE_SIZES[*]} MiB; nginx: $NGINX_BIN); $CONNECTIONS clients x $DURATION s each"
for name in "${SERVERS[@]}"; do
    if [[ $name == vstream ]]; then
        for mb in "${CACHE_SIZES[@]}"; do
            measure vstream "$mb"
        done
    else
        measure nginx
    fi
done

SIGPIPE_NOTE=
[[ $VSTREAM_IGNORE_SIGPIPE == 0 ]] || SIGPIPE_NOTE="; **started with SIGPIPE ignored (--vstream-ignore-sigpipe, a workaround)**"
cat <<EOF
## Streaming a 2 GiB file to $CONNECTIONS clients: server memory

$(md_env)
- Setup: server on CPU $SERVER_CPU (1 thread / 1 worker); \`wrk -t1 -c$CONNECTIONS -d${DURATION}s --timeout $((DURATION + 30))s http://127.0.0.1:PORT/$STREAM_FILE\` on CPU $CLIENT_CPU, loopback: each connection streams the whole file at full speed, then again; a fresh server per row, its Content-Length and one range of bytes checked first
- Memory: /proc/PID/status sampled every ${SAMPLE_INTERVAL}s on CPU $CLIENT_CPU; Peak columns are the largest sample, VmHWM the kernel's high-water mark read at the end; nginx rows sum master + worker (shared pages count twice)
- vstream: \`vstream-serve --root DATA_DIR --host 127.0.0.1 --threads 1 --quiet --cache-mb N\` (N = Cache column)${VSTREAM_ID:+; binary \`$BUILD_DIR/examples/vstream-serve\` ($VSTREAM_ID), copied at start}$SIGPIPE_NOTE
- nginx: $NGINX_FILES_SUMMARY
- Throughput: all bytes wrk read (including responses still in flight at the end) / run length; "Complete" counts whole 2 GiB responses
- CPU columns: Server CPU % is the server's CPU time over wall time (100 = one core, all it may use); CPU $CLIENT_CPU busy % is how busy wrk's (and the sampler's) CPU was (near 100: the client is the limit)
- Data: random bytes in \`$FILE\`, read once before each row (page cache warm)
- Command: \`$COMMAND_LINE\`

$(md_header Server:l "Cache (MiB):r" "Idle RSS (MiB):r" "Peak RSS (MiB):r" "Peak RssAnon (MiB):r" "Peak RssFile (MiB):r" "VmHWM (MiB):r" "Throughput (MiB/s):r" Complete:r "Server CPU %:r" "CPU $CLIENT_CPU busy %:r" Samples:r Errors:l)
$(md_rows "$RESULTS" %s %s %s %s %s %s %s %s %s %s %s %s %s)
EOF

if [[ $ERRORS_FOUND -ne 0 ]]; then
    cat <<EOF

> **WARNING: wrk reported errors (non-2xx/3xx responses or socket errors) in at
> least one run; see the Errors column. These figures are not trustworthy.**
EOF
    log "!!!!! WARNING: wrk reported errors in at least one run (see report)"
    exit 2
fi
