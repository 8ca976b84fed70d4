#!/usr/bin/env bash
#
# tls_vs_nginx.sh: compare vstream with nginx over HTTPS (TLS 1.3, OpenSSL on
# both sides, the same EC P-256 certificate).
#
# Workloads (each one measured on both servers in the same invocation):
#   ping             GET /ping, 64 keep-alive connections (wrk)
#   get64k           full GET of a 64 KiB file, 64 keep-alive connections (wrk)
#   get1m            full GET of a 1 MiB file, 64 keep-alive connections (wrk)
#   range64          random 64 KiB Range requests over a 1 GiB file, 64
#                    connections (wrk + random_range.lua)
#   newconn_full     a new connection per request, every handshake a full one:
#                    `openssl s_time -new -www /ping` (one connection at a time
#                    per client, --stime-clients clients)
#   newconn_resumed  the same with every handshake resuming the first
#                    connection's session: `openssl s_time -reuse -www /ping`
#   newconn_wrk      a new connection per request under concurrency: wrk -c64
#                    with `Connection: close` (connection_close.lua); wrk 4.1
#                    resumes each connection's previous session when it
#                    reconnects, so these are resumed handshakes after the first
#                    64 (seen in nginx's $ssl_session_reused: 103 of 107 requests
#                    of a 1 s, 4-connection run resumed; wrk cannot do full
#                    handshakes on reconnect, hence s_time for newconn_full)
#   idle_mem         memory per idle TLS connection: tls_idle_conns.py opens
#                    --idle-conns connections (handshake + one GET /ping each),
#                    holds them idle, and the server's RSS and PSS (summed over
#                    its processes, /proc/PID/smaps_rollup) are read before and
#                    while they are held
#
# Servers, both serving the data dir at / and GET /ping over HTTPS only:
#   * vstream: $BUILD_DIR/examples/vstream-serve --root DATA_DIR --threads 1
#              --quiet --tls-cert CERT --tls-key KEY --tls-port PORT (its
#              plain listener goes to an ephemeral port, unused);
#   * nginx:   the system /usr/sbin/nginx, 1 worker, as in files_vs_nginx.sh
#              (sendfile on, which nginx cannot use over user-space TLS) plus
#              `listen ... ssl`, ssl_protocols TLSv1.2 TLSv1.3,
#              ssl_session_cache shared:SSL:10m, ssl_session_tickets on, and
#              (unless --nginx-tls-defaults) vstream's TLS choices: server
#              cipher order with the same TLS 1.3 suites, TLS 1.2 ciphers and
#              key exchange groups, so both negotiate the same suite.
# The certificate is a self-signed EC P-256 one for localhost and 127.0.0.1,
# made by `openssl req` in the temp dir for each invocation; curl verifies it
# (CURL_CA_BUNDLE), wrk and s_time do not verify certificates.
#
# How: as in files_vs_nginx.sh (the shared parts are in lib/common.sh). Each
# server runs alone pinned to CPU 0; every client (wrk -t1, openssl s_time,
# the Python client) runs pinned to CPU 1, over loopback (127.0.0.1 only),
# bounded in time. Each measurement starts a fresh server on a free port,
# checks it over TLS (GET /ping: status and body; files: status,
# Content-Length and the bytes of one response against the file with cmp;
# ranges: one 206 checked the same way; s_time: one HTTP/1.0 answer, whose
# size every s_time connection must then read), does a 1 s warm-up and a
# measured run. The servers alternate in ABBA order. Server CPU time comes
# from /proc/PID/stat (utime + stime, nginx's master and worker together).
# The report (Markdown) goes to stdout, progress to stderr:
#   benchmarks/tls_vs_nginx.sh > report.md
#
# Requirements: wrk, nginx (Debian nginx-light), openssl, python3, curl,
# taskset, at least 2 usable CPUs, ~1.1 GiB free in the data dir (range64),
# and a vstream-serve with --tls-port. Nothing is installed.

set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
readonly SCRIPT_DIR
readonly RANGE_SCRIPT=$SCRIPT_DIR/random_range.lua
readonly CLOSE_SCRIPT=$SCRIPT_DIR/connection_close.lua
readonly IDLE_CLIENT=$SCRIPT_DIR/tls_idle_conns.py
readonly RANGE_LENGTH=65536
readonly RANGE_MODE=mixed
readonly ALL_WORKLOADS=(ping get64k get1m range64 newconn_full newconn_resumed newconn_wrk idle_mem)
readonly ALL_SERVERS=(vstream nginx)

# vstream's TLS defaults (include/vstream/tls.hpp, src/tls/tls_context.cpp),
# which nginx is given unless --nginx-tls-defaults.
readonly VSTREAM_TLS13_SUITES=TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
readonly VSTREAM_TLS12_CIPHERS=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305
readonly VSTREAM_GROUPS=X25519:prime256v1:secp384r1

BUILD_DIR=build-release
DATA_DIR=/tmp/vstream-bench-data
DURATION=10
RUNS=3
WORKLOADS_ARG=$(IFS=,; echo "${ALL_WORKLOADS[*]}")
SERVERS_ARG=$(IFS=,; echo "${ALL_SERVERS[*]}")
IDLE_CONNS=2000
STIME_CLIENTS=1
NGINX_TLS_DEFAULTS=0

COMMAND_LINE=$(quote_command "$0" "$@")

usage() {
    cat <<EOF
Usage: $0 [--build-dir DIR] [--data-dir DIR] [--duration SECONDS] [--runs R]
          [--workloads LIST] [--servers LIST] [--idle-conns N]
          [--stime-clients N] [--nginx-tls-defaults]

Benchmarks vstream-serve against nginx over HTTPS (1 worker each, server
pinned to CPU $SERVER_CPU, every client pinned to CPU $CLIENT_CPU, loopback only).

Workloads:
  ping             GET /ping, 64 keep-alive connections (wrk)
  get64k           full GET of a 64 KiB file, 64 keep-alive connections (wrk)
  get1m            full GET of a 1 MiB file, 64 keep-alive connections (wrk)
  range64          random 64 KiB ranges of a 1 GiB file, 64 connections (wrk)
  newconn_full     new connection per request, full TLS 1.3 handshakes
                   (openssl s_time -new -www /ping)
  newconn_resumed  new connection per request, resumed handshakes
                   (openssl s_time -reuse -www /ping)
  newconn_wrk      new connection per request, 64 at once (wrk with
                   Connection: close; wrk resumes the sessions)
  idle_mem         server memory per idle TLS connection (--idle-conns of them)

Options:
  --build-dir DIR      Meson build directory containing examples/vstream-serve
                       (default: build-release)
  --data-dir DIR       where the test files are generated once and reused
                       (default: /tmp/vstream-bench-data)
  --duration SECONDS   length of each measured wrk or s_time run (default: 10)
  --runs R             measurements per server and workload (default: 3)
  --workloads LIST     comma list of workloads (default: all, $WORKLOADS_ARG)
  --servers LIST       comma list of servers (default: $SERVERS_ARG)
  --idle-conns N       connections held by idle_mem (default: 2000)
  --stime-clients N    openssl s_time processes at once, all on CPU $CLIENT_CPU
                       (default: 1, i.e. one connection at a time)
  --nginx-tls-defaults leave nginx's cipher order, TLS 1.3 suites and groups
                       at its defaults instead of vstream's (the two may then
                       negotiate different suites; the report says which)
  -h, --help           show this help

The Markdown report is written to stdout, progress to stderr. Exit status:
0 on success, 1 on a setup/run failure, 2 if a client saw errors (wrk
non-2xx/3xx or socket errors, a range answer that was not a 64 KiB 206, an
s_time connection that read the wrong number of bytes or did not resume or
did resume when it should not), the report still printed with a warning.
EOF
}

# ---------------------------------------------------------------- arguments

while [[ $# -gt 0 ]]; do
    case $1 in
        --build-dir | --build-dir=*)         take_arg BUILD_DIR "$@"; shift "$ARG_SHIFT" ;;
        --data-dir | --data-dir=*)           take_arg DATA_DIR "$@"; shift "$ARG_SHIFT" ;;
        --duration | --duration=*)           take_arg DURATION "$@"; shift "$ARG_SHIFT" ;;
        --runs | --runs=*)                   take_arg RUNS "$@"; shift "$ARG_SHIFT" ;;
        --workloads | --workloads=*)         take_arg WORKLOADS_ARG "$@"; shift "$ARG_SHIFT" ;;
        --servers | --servers=*)             take_arg SERVERS_ARG "$@"; shift "$ARG_SHIFT" ;;
        --idle-conns | --idle-conns=*)       take_arg IDLE_CONNS "$@"; shift "$ARG_SHIFT" ;;
        --stime-clients | --stime-clients=*) take_arg STIME_CLIENTS "$@"; shift "$ARG_SHIFT" ;;
        --nginx-tls-defaults)                NGINX_TLS_DEFAULTS=1; shift ;;
        -h | --help)                         usage; exit 0 ;;
        *)                                   usage >&2; die "unknown argument: $1" ;;
    esac
done

require_positive_int duration "$DURATION"
require_positive_int runs "$RUNS"
require_positive_int idle-conns "$IDLE_CONNS"
require_positive_int stime-clients "$STIME_CLIENTS"
parse_list WORKLOADS workloads "$WORKLOADS_ARG" "${ALL_WORKLOADS[@]}"
parse_list SERVERS servers "$SERVERS_ARG" "${ALL_SERVERS[@]}"
[[ -n $DATA_DIR ]] || die "--data-dir must not be empty"
DATA_DIR=$(realpath -m -- "$DATA_DIR")

# ------------------------------------------------------------ preconditions

if list_has vstream "${SERVERS[@]}"; then
    require_vstream_bin "$BUILD_DIR"
    require_tools timeout
    require_vstream_flag --tls-port
    require_vstream_flag --root
fi
if list_has nginx "${SERVERS[@]}"; then
    require_nginx
fi
require_wrk
require_tools curl openssl python3 taskset timeout awk sort cmp dd head stat realpath pgrep getconf
require_cpus
for f in "$RANGE_SCRIPT" "$CLOSE_SCRIPT" "$IDLE_CLIENT"; do
    [[ -r $f ]] || die "helper not found: $f"
done
if list_has idle_mem "${WORKLOADS[@]}"; then
    # Every server inherits the limit; each idle connection is a descriptor.
    need_fds=$((IDLE_CONNS + 256))
    soft_fds=$(ulimit -Sn)
    if [[ $soft_fds != unlimited ]] && ((soft_fds < need_fds)); then
        ulimit -Sn "$need_fds" 2>/dev/null ||
            die "--idle-conns $IDLE_CONNS needs $need_fds descriptors; the hard limit is $(ulimit -Hn)"
    fi
fi

bench_init
if list_has vstream "${SERVERS[@]}"; then
    snapshot_vstream_bin
fi

# ------------------------------------------------------------- certificate

readonly TLS_CERT=$TMP_DIR/cert.pem
readonly TLS_KEY=$TMP_DIR/key.pem
require_plain_path "temp dir" "$TMP_DIR"
timeout 60 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc \
    -keyout "$TLS_KEY" -out "$TLS_CERT" -days 7 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$TMP_DIR/openssl-req.log" 2>&1 ||
    { cat "$TMP_DIR/openssl-req.log" >&2; die "openssl req could not make the test certificate"; }
# Every curl of lib/common.sh (wait_ready, check_ping, verify_*) verifies it.
export CURL_CA_BUNDLE=$TLS_CERT

# ---------------------------------------------------------------- workloads

# workload NAME: sets WL_TITLE, WL_KIND (ping|full|range|close|stime|idle),
# WL_PATH (request path), WL_FILE / WL_FILE_BYTES (files only), WL_BODY_BYTES
# (payload of one response), WL_CONNS (wrk), WL_STIME_MODE (new|reuse).
workload() {
    WL_FILE=; WL_FILE_BYTES=0; WL_CONNS=64; WL_STIME_MODE=; WL_PATH=/ping
    WL_BODY_BYTES=${#PING_BODY}
    case $1 in
        ping)
            WL_TITLE="GET /ping, 64 keep-alive connections"; WL_KIND=ping ;;
        get64k)
            WL_TITLE="GET of a 64 KiB file, 64 keep-alive connections"
            WL_FILE='file-64k.bin'; WL_FILE_BYTES=65536; WL_KIND=full ;;
        get1m)
            WL_TITLE="GET of a 1 MiB file, 64 keep-alive connections"
            WL_FILE='file-1m.bin'; WL_FILE_BYTES=1048576; WL_KIND=full ;;
        range64)
            WL_TITLE="random 64 KiB ranges of a 1 GiB file ($RANGE_MODE offsets), 64 connections"
            WL_FILE='file-1g.bin'; WL_FILE_BYTES=1073741824; WL_KIND=range ;;
        newconn_full)
            WL_TITLE="a new connection per GET /ping, full TLS 1.3 handshakes (openssl s_time -new), $STIME_CLIENTS client(s)"
            WL_KIND=stime; WL_STIME_MODE=new ;;
        newconn_resumed)
            WL_TITLE="a new connection per GET /ping, resumed TLS 1.3 handshakes (openssl s_time -reuse), $STIME_CLIENTS client(s)"
            WL_KIND=stime; WL_STIME_MODE=reuse ;;
        newconn_wrk)
            WL_TITLE="a new connection per GET /ping (Connection: close), 64 at once, resumed handshakes (wrk)"
            WL_KIND=close ;;
        idle_mem)
            WL_TITLE="memory per idle TLS connection, $IDLE_CONNS connections (handshake + one GET /ping each)"
            WL_KIND=idle ;;
        *) die "internal: unknown workload $1" ;;
    esac
    if [[ -n $WL_FILE ]]; then
        WL_PATH=/$WL_FILE
        if [[ $WL_KIND == full ]]; then WL_BODY_BYTES=$WL_FILE_BYTES; else WL_BODY_BYTES=$RANGE_LENGTH; fi
    fi
}

# ------------------------------------------------------------------ servers

start_vstream() {
    # --port 0: the plain listener vstream-serve always has goes to an
    # ephemeral port; only the TLS one is used.
    start_vstream_files 0 "$DATA_DIR" --tls-cert "$TLS_CERT" --tls-key "$TLS_KEY" --tls-port "$1"
}

nginx_tls_directives() {
    cat <<EOF
    ssl_certificate $TLS_CERT;
    ssl_certificate_key $TLS_KEY;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    ssl_session_tickets on;
EOF
    [[ $NGINX_TLS_DEFAULTS == 1 ]] && return 0
    cat <<EOF
    ssl_prefer_server_ciphers on;
    ssl_ciphers $VSTREAM_TLS12_CIPHERS;
    ssl_conf_command Ciphersuites $VSTREAM_TLS13_SUITES;
    ssl_conf_command Options PrioritizeChaCha;
    ssl_ecdh_curve $VSTREAM_GROUPS;
EOF
}

start_nginx() {
    start_nginx_files "$1" "$DATA_DIR" "$(nginx_tls_directives)" "$NGINX_PING_LOCATION" ssl
}

# probe_tls PORT: what an OpenSSL 3 client negotiates with the server (the
# certificate verified), once per server, into TLS_INFO[$SERVER_NAME].
declare -A TLS_INFO=()
probe_tls() {
    local out=$TMP_DIR/s_client-$SERVER_NAME.txt proto suite group
    [[ -z ${TLS_INFO[$SERVER_NAME]:-} ]] || return 0
    run_client 15 "$out" openssl s_client -connect "127.0.0.1:$1" -servername localhost \
        -CAfile "$TLS_CERT" -verify_return_error -brief ||
        { cat "$out" >&2; die "$SERVER_NAME: openssl s_client could not complete a verified handshake"; }
    proto=$(awk -F': ' '/^Protocol version:/ { print $2; exit }' "$out")
    suite=$(awk -F': ' '/^Ciphersuite:/ { print $2; exit }' "$out")
    group=$(awk -F': ' '/^(Server|Peer) Temp Key:/ { print $2; exit }' "$out")
    [[ $proto == TLSv1.3 ]] || log "WARNING: $SERVER_NAME negotiated '$proto', not TLSv1.3"
    TLS_INFO[$SERVER_NAME]="$proto, $suite, ${group:-unknown group}"
    log "$SERVER_NAME: TLS ${TLS_INFO[$SERVER_NAME]}"
}

# check_http10 URL: an HTTP/1.0 GET (what s_time sends) must be answered 200
# with the pong body; sets HTTP10_BYTES to the size of that answer (headers +
# body), which every s_time connection must then read.
check_http10() {
    local url=$1 out status hbytes bbytes body
    out=$(timeout 10 curl -sS --max-time 5 --http1.0 -o "$TMP_DIR/body10" \
        -w '%{http_code} %{size_header} %{size_download}' "$url") ||
        die "$SERVER_NAME: HTTP/1.0 GET $url failed"
    read -r status hbytes bbytes <<<"$out"
    body=$(cat "$TMP_DIR/body10")
    [[ $status == 200 && $body == "$PING_BODY" ]] ||
        die "$SERVER_NAME: HTTP/1.0 GET $url returned status $status, body '$body' (expected 200 $PING_BODY)"
    HTTP10_BYTES=$((hbytes + bbytes))
}

# ------------------------------------------------------------ memory (PSS)

# read_mem PID...: "Rss Pss" in KiB, summed over the PIDs (smaps_rollup).
read_mem() {
    local pid key val _ rss=0 pss=0
    for pid in "$@"; do
        [[ -r /proc/$pid/smaps_rollup ]] || return 1
        while read -r key val _; do
            case $key in
                Rss:) rss=$((rss + val)) ;;
                Pss:) pss=$((pss + val)) ;;
            esac
        done <"/proc/$pid/smaps_rollup"
    done
    printf '%s %s\n' "$rss" "$pss"
}

# ------------------------------------------------------------- measurement

ERRORS_FOUND=0
CUR_WL=

note_errors() {  # WHAT ERRORS
    [[ -z $2 ]] && return 0
    ERRORS_FOUND=1
    log "!!!!! WARNING: $1: $2"
}

# Rows (TSV), appended to $TMP_DIR/results-WORKLOAD.txt:
#   wrk kinds: run server rps MiB/s p50_us p99_us srv_cpu% cpu_us/req cli_cpu% non206 badlength errors
#   stime:     run server conn/s mean_us srv_cpu% cpu_us/conn cli_cpu% full resumed bytes/conn errors
#   idle:      run server conns rss0 rss1 pss0 pss1 rss/conn pss/conn tls errors   (KiB)

measure_wrk() {
    local wl=$1 name=$2 run=$3 port=$4 url out errors non206=- badlength=-
    url="https://127.0.0.1:$port$WL_PATH"
    local file=$DATA_DIR/$WL_FILE
    local -a wrk_args=("$url")
    case $WL_KIND in
        full)
            verify_full_get "$url" "$file" ;;
        range)
            verify_head_length "$url" "$file"
            verify_range "$url" "$file" $((WL_FILE_BYTES / 2 + 12345)) "$RANGE_LENGTH"
            wrk_args=(-s "$RANGE_SCRIPT" "$url" -- "$WL_FILE_BYTES" "$RANGE_LENGTH" "$RANGE_MODE") ;;
        close)
            wrk_args=(-s "$CLOSE_SCRIPT" "$url") ;;
    esac

    out=$TMP_DIR/wrk-$wl-$name-$run
    wrk_measure "$wl run $run/$RUNS: $name" "$port" "$DURATION" "$WL_CONNS" "$out" "${wrk_args[@]}"
    errors=$WRK_ERRORS
    if [[ $WL_KIND == range ]]; then
        local line responses
        line=$(grep -E '^random_range: responses=' "$out.txt" || true)
        [[ -n $line ]] || { cat "$out.txt" >&2; die "no random_range summary in the wrk output for $name"; }
        responses=$(sed -E 's/.*responses=([0-9]+).*/\1/' <<<"$line")
        non206=$(sed -E 's/.*non206=([0-9]+).*/\1/' <<<"$line")
        badlength=$(sed -E 's/.*badlength=([0-9]+).*/\1/' <<<"$line")
        [[ $responses -gt 0 ]] || die "$name answered no range request in $wl run $run"
        if [[ $non206 -gt 0 || $badlength -gt 0 ]]; then
            errors+="${errors:+; }$non206 non-206 and $badlength wrong-length answers of $responses"
        fi
    fi
    note_errors "$wl: $name run $run" "$errors"

    local mibs cpu_us
    mibs=$(awk -v r="$WRK_RPS" -v b="$WL_BODY_BYTES" 'BEGIN { printf "%.1f", r * b / 1048576 }')
    cpu_us=$(awk -v r="$WRK_RPS" -v s="$SERVER_CPU_SECS" -v w="$CPU_METER_WALL" \
        'BEGIN { printf "%.1f", (r > 0 && w > 0) ? s * 1e6 / (r * w) : 0 }')
    log "$wl run $run/$RUNS: $name: $WRK_RPS req/s, $mibs MiB/s, p50 ${WRK_P50_US} us, p99 ${WRK_P99_US} us, server CPU ${SERVER_CPU_PCT}% ($cpu_us us/req), CPU $CLIENT_CPU ${CLIENT_CPU_PCT}%"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "$WRK_RPS" "$mibs" \
        "$WRK_P50_US" "$WRK_P99_US" "$SERVER_CPU_PCT" "$cpu_us" "$CLIENT_CPU_PCT" "$non206" "$badlength" \
        "${errors:-none}" >>"$TMP_DIR/results-$wl.txt"
}

# run_stime SECS MODE OUTBASE PORT: STIME_CLIENTS `openssl s_time` at once,
# pinned to CLIENT_CPU and bounded; their outputs in OUTBASE.N. Sets ST_CONNS,
# ST_FULL, ST_RESUMED (from the one character s_time prints per connection:
# 'r' for a resumed session), ST_BAD_BYTES (clients whose bytes per connection
# differ from HTTP10_BYTES) and ST_FAILED (clients that exited non-zero).
run_stime() {
    local secs=$1 mode=$2 outbase=$3 port=$4 i pid rc n bytes marks
    local -a pids=()
    for ((i = 1; i <= STIME_CLIENTS; i++)); do
        taskset -c "$CLIENT_CPU" timeout $((secs + 30)) openssl s_time -connect "127.0.0.1:$port" \
            "-$mode" -time "$secs" -www /ping -CAfile "$TLS_CERT" >"$outbase.$i" 2>&1 </dev/null &
        pids+=("$!")
        track_bg "$!"
    done
    ST_CONNS=0; ST_FULL=0; ST_RESUMED=0; ST_BAD_BYTES=0; ST_FAILED=0
    for ((i = 1; i <= STIME_CLIENTS; i++)); do
        pid=${pids[i - 1]}
        rc=0
        wait "$pid" || rc=$?
        untrack_bg "$pid"
        if ((rc != 0)); then
            ST_FAILED=$((ST_FAILED + 1))
            log "openssl s_time $i of $STIME_CLIENTS exited with status $rc; its last lines:"
            tail -n 5 "$outbase.$i" >&2 || true
        fi
        # "123 connections in 11 real seconds, 161 bytes read per connection"
        read -r n bytes < <(awk '/ connections in .* real seconds, / { n = $1; b = $(NF - 4) } END { print n + 0, b + 0 }' "$outbase.$i")
        ST_CONNS=$((ST_CONNS + n))
        ((n == 0 || bytes == HTTP10_BYTES)) || ST_BAD_BYTES=$((ST_BAD_BYTES + 1))
        marks=$(grep -E '^[*rt3]+$' "$outbase.$i" | tr -d '\n' || true)
        local only_r=${marks//[^r]/}
        ST_RESUMED=$((ST_RESUMED + ${#only_r}))
        ST_FULL=$((ST_FULL + ${#marks} - ${#only_r}))
    done
}

measure_stime() {
    local wl=$1 name=$2 run=$3 port=$4 out errors='' url
    url="https://127.0.0.1:$port/ping"
    check_http10 "$url"
    out=$TMP_DIR/stime-$wl-$name-$run

    log "$wl run $run/$RUNS: $name on port $port: warm-up 1 s"
    run_stime 1 "$WL_STIME_MODE" "$out-warmup" "$port"
    server_died "during the warm-up"
    ((ST_FAILED == 0 && ST_CONNS > 0)) || die "$name: openssl s_time warm-up failed (see above)"

    log "$wl run $run/$RUNS: $name: measuring ${DURATION} s"
    local -a pids
    mapfile -t pids < <(server_pids)
    cpu_meter_start "${pids[@]}"
    run_stime "$DURATION" "$WL_STIME_MODE" "$out" "$port"
    cpu_meter_stop
    server_alive_or_die
    stop_server

    ((ST_CONNS > 0)) || die "$name: openssl s_time completed no connection in $wl run $run"
    ((ST_FAILED == 0)) || errors+="${errors:+; }$ST_FAILED s_time client(s) failed"
    ((ST_BAD_BYTES == 0)) ||
        errors+="${errors:+; }$ST_BAD_BYTES client(s) read other than $HTTP10_BYTES bytes per connection"
    ((ST_FULL + ST_RESUMED == ST_CONNS)) ||
        errors+="${errors:+; }$((ST_FULL + ST_RESUMED)) connection marks for $ST_CONNS connections"
    if [[ $WL_STIME_MODE == new ]]; then
        ((ST_RESUMED == 0)) || errors+="${errors:+; }$ST_RESUMED resumed handshakes in a -new run"
    else
        ((ST_FULL == 0)) || errors+="${errors:+; }$ST_FULL of $ST_CONNS handshakes not resumed"
    fi
    note_errors "$wl: $name run $run" "$errors"

    local cps mean_us cpu_us
    cps=$(awk -v n="$ST_CONNS" -v w="$CPU_METER_WALL" 'BEGIN { printf "%.1f", n / w }')
    mean_us=$(awk -v n="$ST_CONNS" -v w="$CPU_METER_WALL" -v c="$STIME_CLIENTS" 'BEGIN { printf "%.1f", c * w * 1e6 / n }')
    cpu_us=$(awk -v n="$ST_CONNS" -v s="$SERVER_CPU_SECS" 'BEGIN { printf "%.1f", s * 1e6 / n }')
    log "$wl run $run/$RUNS: $name: $cps conn/s ($ST_CONNS: $ST_FULL full, $ST_RESUMED resumed), $mean_us us per connection, server CPU ${SERVER_CPU_PCT}% ($cpu_us us/conn), CPU $CLIENT_CPU ${CLIENT_CPU_PCT}%"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "$cps" "$mean_us" \
        "$SERVER_CPU_PCT" "$cpu_us" "$CLIENT_CPU_PCT" "$ST_FULL" "$ST_RESUMED" "$HTTP10_BYTES" \
        "${errors:-none}" >>"$TMP_DIR/results-$wl.txt"
}

measure_idle() {
    local wl=$1 name=$2 run=$3 port=$4 out ready go mem0 mem1 rc=0 i limit tls
    out=$TMP_DIR/idle-$name-$run.txt
    ready=$TMP_DIR/idle-ready
    go=$TMP_DIR/idle-go
    rm -f -- "$ready" "$go"
    local -a pids
    mapfile -t pids < <(server_pids)
    sleep 0.5
    mem0=$(read_mem "${pids[@]}") || server_died "before the idle connections"

    # Bounded: generous for the handshakes (Python, one at a time), plus the hold.
    limit=$((IDLE_CONNS / 20 + 60))
    log "$wl run $run/$RUNS: $name on port $port: opening $IDLE_CONNS TLS connections"
    taskset -c "$CLIENT_CPU" timeout "$limit" python3 "$IDLE_CLIENT" --port "$port" \
        --conns "$IDLE_CONNS" --cafile "$TLS_CERT" --ready-file "$ready" --go-file "$go" \
        --hold-max 30 >"$out" 2>&1 </dev/null &
    CLIENT_PID=$!
    for ((i = 0; i < limit * 10; i++)); do
        [[ -e $ready ]] && break
        kill -0 "$CLIENT_PID" 2>/dev/null || break
        sleep 0.1
    done
    if [[ ! -e $ready ]]; then
        wait "$CLIENT_PID" || true
        CLIENT_PID=
        cat "$out" >&2
        server_alive_or_die
        die "$name: the idle-connection client did not get its $IDLE_CONNS connections up"
    fi
    # Let the server finish whatever follows the last answer, then read.
    sleep 1
    server_alive_or_die
    mem1=$(read_mem "${pids[@]}") || server_died "while the idle connections were held"
    : >"$go"
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=
    server_alive_or_die
    stop_server
    if ((rc != 0)) || ! grep -qx "ok $IDLE_CONNS" "$out"; then
        cat "$out" >&2
        die "$name: the idle-connection client failed (status $rc)"
    fi

    local rss0 pss0 rss1 pss1 rss_per pss_per
    read -r rss0 pss0 <<<"$mem0"
    read -r rss1 pss1 <<<"$mem1"
    read -r _ tls < <(awk '{ print $1, $2 "/" $3 }' "$ready")
    rss_per=$(awk -v a="$rss0" -v b="$rss1" -v n="$IDLE_CONNS" 'BEGIN { printf "%.2f", (b - a) / n }')
    pss_per=$(awk -v a="$pss0" -v b="$pss1" -v n="$IDLE_CONNS" 'BEGIN { printf "%.2f", (b - a) / n }')
    log "$wl run $run/$RUNS: $name: RSS $rss0 -> $rss1 KiB, PSS $pss0 -> $pss1 KiB: $rss_per KiB RSS, $pss_per KiB PSS per connection ($tls)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "$IDLE_CONNS" "$rss0" "$rss1" \
        "$pss0" "$pss1" "$rss_per" "$pss_per" "$tls" none >>"$TMP_DIR/results-$wl.txt"
}

# measure SERVER RUN (for abba_runs; the workload is $CUR_WL): a fresh
# server, checked over TLS, then measured; the measure_* stop it.
measure() {
    local name=$1 run=$2 wl=$CUR_WL port base
    workload "$wl"
    port=$(free_port)
    base="https://127.0.0.1:$port"
    "start_$name" "$port"
    wait_ready "$base/ping"
    check_ping "$base/ping"
    probe_tls "$port"
    case $WL_KIND in
        ping | full | range | close) measure_wrk "$wl" "$name" "$run" "$port" ;;
        stime) measure_stime "$wl" "$name" "$run" "$port" ;;
        idle) measure_idle "$wl" "$name" "$run" "$port" ;;
    esac
}

# ------------------------------------------------------------------ report

# Summary rows (TSV): workload metric better vstream nginx ratio paired.
SUMMARY=$TMP_DIR/summary.txt
: >"$SUMMARY"

# medians_and_ratios WORKLOAD "LABEL:COL:FMT:BETTER"...: a table of both
# servers' medians of each metric, then (with both servers) the ratio of the
# medians and the median of the per-run ratios; every metric also goes to
# $SUMMARY.
medians_and_ratios() {
    local wl=$1 results=$TMP_DIR/results-$1.txt spec label col fmt better name
    shift
    local -a head=(Server:l)
    local line
    for spec in "$@"; do
        IFS=: read -r label col fmt better <<<"$spec"
        head+=("$label:r")
    done
    echo
    echo "Medians:"
    echo
    md_header "${head[@]}"
    local -A med=()
    for name in "${SERVERS[@]}"; do
        line="| $name |"
        for spec in "$@"; do
            IFS=: read -r label col fmt better <<<"$spec"
            med[$name:$col]=$(median "$results" "$name" "$col")
            # shellcheck disable=SC2059 # the format is the caller's
            line+=" $(printf "$fmt" "${med[$name:$col]}") |"
        done
        echo "$line"
    done
    [[ ${#SERVERS[@]} -eq 2 ]] || return 0
    echo
    echo "vstream / nginx:"
    echo
    md_header Metric:l "Ratio of medians:r" "Median of per-run ratios:r" Better:l
    local r p
    for spec in "$@"; do
        IFS=: read -r label col fmt better <<<"$spec"
        r=$(ratio "${med[vstream:$col]}" "${med[nginx:$col]}")
        p=$(paired_summary "$results" "$col" "$better")
        printf '| %s | %s | %s | %s |\n' "$label" "$r" "$p" "$better"
        # shellcheck disable=SC2059 # the format is the caller's
        printf "%s\t%s\t%s\t$fmt\t$fmt\t%s\t%s\n" "$wl" "$label" "$better" \
            "${med[vstream:$col]}" "${med[nginx:$col]}" "$r" "$p" >>"$SUMMARY"
    done
}

report_workload() {
    local wl=$1 results=$TMP_DIR/results-$1.txt cmd
    workload "$wl"
    case $WL_KIND in
        ping | full) cmd="wrk -t1 -c$WL_CONNS -d${DURATION}s --latency https://127.0.0.1:PORT$WL_PATH" ;;
        range) cmd="wrk -t1 -c$WL_CONNS -d${DURATION}s --latency -s benchmarks/random_range.lua https://127.0.0.1:PORT$WL_PATH -- $WL_FILE_BYTES $RANGE_LENGTH $RANGE_MODE" ;;
        close) cmd="wrk -t1 -c$WL_CONNS -d${DURATION}s --latency -s benchmarks/connection_close.lua https://127.0.0.1:PORT/ping" ;;
        stime) cmd="openssl s_time -connect 127.0.0.1:PORT -$WL_STIME_MODE -time $DURATION -www /ping -CAfile CERT (x $STIME_CLIENTS at once)" ;;
        idle) cmd="python3 benchmarks/tls_idle_conns.py --port PORT --conns $IDLE_CONNS --cafile CERT ..." ;;
    esac
    cat <<EOF

### $wl: $WL_TITLE

\`$cmd\`

EOF
    case $WL_KIND in
        ping | close)
            md_header Run:r Server:l Req/s:r "p50 (us):r" "p99 (us):r" "Server CPU %:r" "CPU us/req:r" "CPU $CLIENT_CPU busy %:r" Errors:l
            awk -F'\t' -v OFS='\t' '{ print $1, $2, $3, $5, $6, $7, $8, $9, $12 }' "$results" >"$results.md"
            md_rows "$results.md" %s %s %.0f %.1f %.1f %s %.1f %s %s
            medians_and_ratios "$wl" "Req/s:3:%.0f:higher" "p99 (us):6:%.1f:lower" "CPU us/req:8:%.1f:lower"
            ;;
        full)
            md_header Run:r Server:l Req/s:r MiB/s:r "p50 (us):r" "p99 (us):r" "Server CPU %:r" "CPU us/req:r" "CPU $CLIENT_CPU busy %:r" Errors:l
            awk -F'\t' -v OFS='\t' '{ print $1, $2, $3, $4, $5, $6, $7, $8, $9, $12 }' "$results" >"$results.md"
            md_rows "$results.md" %s %s %.0f %.1f %.1f %.1f %s %.1f %s %s
            medians_and_ratios "$wl" "Req/s:3:%.0f:higher" "MiB/s:4:%.1f:higher" "p99 (us):6:%.1f:lower" "CPU us/req:8:%.1f:lower"
            ;;
        range)
            md_header Run:r Server:l Req/s:r MiB/s:r "p50 (us):r" "p99 (us):r" "Server CPU %:r" "CPU us/req:r" "CPU $CLIENT_CPU busy %:r" Non-206:r "Wrong length:r" Errors:l
            md_rows "$results" %s %s %.0f %.1f %.1f %.1f %s %.1f %s %s %s %s
            medians_and_ratios "$wl" "Req/s:3:%.0f:higher" "MiB/s:4:%.1f:higher" "p99 (us):6:%.1f:lower" "CPU us/req:8:%.1f:lower"
            ;;
        stime)
            md_header Run:r Server:l Conn/s:r "us per conn:r" "Server CPU %:r" "CPU us/conn:r" "CPU $CLIENT_CPU busy %:r" Full:r Resumed:r "Bytes/conn:r" Errors:l
            md_rows "$results" %s %s %.1f %.1f %s %.1f %s %s %s %s %s
            medians_and_ratios "$wl" "Conn/s:3:%.1f:higher" "us per conn:4:%.1f:lower" "CPU us/conn:6:%.1f:lower"
            ;;
        idle)
            md_header Run:r Server:l Conns:r "RSS before (KiB):r" "RSS held (KiB):r" "PSS before (KiB):r" "PSS held (KiB):r" "RSS KiB/conn:r" "PSS KiB/conn:r" TLS:l Errors:l
            md_rows "$results" %s %s %s %s %s %s %s %.2f %.2f %s %s
            medians_and_ratios "$wl" "RSS KiB/conn:8:%.2f:lower" "PSS KiB/conn:9:%.2f:lower"
            ;;
    esac
}

report_summary() {
    cat <<EOF

### Summary (medians; ratios are vstream / nginx)

$(md_header Workload:l Metric:l Better:l vstream:r nginx:r "Ratio of medians:r" "Median of per-run ratios:r")
EOF
    md_rows "$SUMMARY" %s %s %s %s %s %s %s
}

# -------------------------------------------------------------------- main

declare -A needed=()
for wl in "${WORKLOADS[@]}"; do
    workload "$wl"
    [[ -z $WL_FILE ]] || needed[$WL_FILE]=$WL_FILE_BYTES
done
mkdir -p -- "$DATA_DIR"
for f in $(printf '%s\n' "${!needed[@]}" | sort); do
    ensure_data_file "$DATA_DIR/$f" "${needed[$f]}"
done

minutes=$(awk -v w="${#WORKLOADS[@]}" -v s="${#SERVERS[@]}" -v r="$RUNS" -v d="$DURATION" \
    'BEGIN { printf "%.0f", w * s * r * (d + 5) / 60 + 0.5 }')
log "servers: ${SERVERS[*]} (vstream: ${VSTREAM_BIN:-unused}; nginx: $NGINX_BIN); workloads: ${WORKLOADS[*]}; ${RUNS} runs x ${DURATION} s (about $minutes min); data: $DATA_DIR"
for wl in "${WORKLOADS[@]}"; do
    workload "$wl"
    CUR_WL=$wl
    : >"$TMP_DIR/results-$wl.txt"
    if [[ -n $WL_FILE ]]; then
        log "$wl: $WL_TITLE: warming the page cache"
        warm_page_cache "$DATA_DIR/$WL_FILE"
    else
        log "$wl: $WL_TITLE"
    fi
    if [[ ${#SERVERS[@]} -eq 2 ]]; then
        abba_runs "$RUNS" "${SERVERS[0]}" "${SERVERS[1]}"
    else
        for ((run = 1; run <= RUNS; run++)); do measure "${SERVERS[0]}" "$run"; done
    fi
done

vstream_desc="\`vstream-serve --root DATA_DIR --host 127.0.0.1 --port 0 --threads 1 --quiet --tls-cert CERT --tls-key KEY --tls-port PORT\` (TLS defaults: TLS 1.2-1.3, server cipher order $VSTREAM_TLS13_SUITES, groups X25519:P-256:P-384, session cache 20480, tickets on)"
nginx_tls="\`listen 127.0.0.1:PORT ssl; ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:SSL:10m; ssl_session_tickets on\`"
if [[ $NGINX_TLS_DEFAULTS == 1 ]]; then
    nginx_tls+=", nginx's default cipher order, suites and groups (--nginx-tls-defaults)"
else
    nginx_tls+=" and vstream's TLS choices: \`ssl_prefer_server_ciphers on; ssl_conf_command Ciphersuites $VSTREAM_TLS13_SUITES; ssl_conf_command Options PrioritizeChaCha; ssl_ecdh_curve $VSTREAM_GROUPS\`, ssl_ciphers = vstream's TLS 1.2 list"
fi
# Kernel TLS: vstream asks OpenSSL for it (SSL_OP_ENABLE_KTLS), this nginx
# config does not; /sys/module/tls exists once the kernel has it.
if [[ -d /sys/module/tls ]]; then
    KTLS_NOTE="**the kernel has TLS offload (/sys/module/tls): vstream may use kTLS, nginx (not configured for it) does not**"
else
    KTLS_NOTE="no kernel TLS (no /sys/module/tls): both servers encrypt in user space"
fi
tls_lines=
for name in "${SERVERS[@]}"; do
    tls_lines+="${tls_lines:+; }$name ${TLS_INFO[$name]:-not probed}"
done
cat <<EOF
## HTTPS: vstream vs nginx

$(md_env)
- OpenSSL: $(openssl version | awk '{ print $1, $2 }') (openssl, wrk, nginx and vstream all use the system libssl); nginx $("$NGINX_BIN" -V 2>&1 | sed -n 's/^built with OpenSSL \([^ ]*\).*running with OpenSSL \([^ ]*\).*/built with \1, running with \2/p; s/^built with OpenSSL \([^ ]*\) .*/built with \1/p' | head -n 1); $KTLS_NOTE
- Setup: server on CPU $SERVER_CPU (1 thread / 1 worker), every client on CPU $CLIENT_CPU, loopback; $RUNS runs per workload in ABBA order, a fresh server, TLS and response checks and a 1 s warm-up per measurement
- Certificate: self-signed EC P-256 (\`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256\`), the same file for both servers; curl verifies it in the checks; wrk and s_time do not verify
- Negotiated (openssl s_client, the same OpenSSL defaults as wrk and s_time): $tls_lines
- vstream: $vstream_desc${VSTREAM_ID:+; binary \`$BUILD_DIR/examples/vstream-serve\` ($VSTREAM_ID), copied at start}
- nginx: $NGINX_FILES_SUMMARY, plus $nginx_tls, and \`location = /ping { return 200 '$PING_BODY'; }\`
- Data: random bytes in \`$DATA_DIR\`, read once before each file workload; MiB/s counts payload bytes only
- CPU columns: Server CPU % is the server's CPU time (user + system, /proc/PID/stat) over the wall time of the measured run, 100 = its one core; CPU us/req (or /conn) is that time per request (connection); CPU $CLIENT_CPU busy % is how busy the clients' core was (near 100: the client is the limit, compare the CPU per request)
- wrk's latency clock starts when it writes a request, after the connect and the handshake: newconn_wrk's p50/p99 leave the handshake out (its req/s does not)
- s_time: one connection at a time per client (\`-www /ping\` sends an HTTP/1.0 GET and reads to the close); "us per conn" is clients x wall time / connections; Full and Resumed count s_time's per-connection marks; each connection must read as many bytes as curl's HTTP/1.0 answer
- idle_mem: RSS and PSS summed over the server's processes (/proc/PID/smaps_rollup), read 0.5 s after the checks and 1 s after the last connection's first answer; afterwards every connection must answer a second GET
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

> **WARNING: errors in at least one run (see the Errors columns). These
> figures are not trustworthy.**
EOF
    log "!!!!! WARNING: errors in at least one run (see report)"
    exit 2
fi
