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
# a measured run. The servers alternate inside every run (vstream, nginx,
# vstream, nginx, ...) so slow drift in machine noise hits both equally.
# The report (Markdown, on stdout) has per-run figures, per-server medians
# and vstream/nginx ratios; progress messages go to stderr, so
#   benchmarks/ping_vs_nginx.sh > report.md
# yields a report that can be pasted into docs/benchmarks.md.
#
# Requirements: wrk, nginx (Debian nginx-light is enough), curl, taskset,
# at least 2 usable CPUs, and a built vstream-serve. Nothing is installed.

set -euo pipefail

readonly SERVER_CPU=0
readonly CLIENT_CPU=1
readonly NGINX_BIN=/usr/sbin/nginx
readonly PING_BODY='{"message":"pong"}'

BUILD_DIR=build-release
DURATION=10
CONNECTIONS=64
RUNS=3

COMMAND_LINE=$(printf '%q ' "$0" "$@")
COMMAND_LINE=${COMMAND_LINE% }

usage() {
    cat <<EOF
Usage: $0 [--build-dir DIR] [--duration SECONDS] [--connections N] [--runs R]

Benchmarks GET /ping on vstream-serve against nginx (1 worker each, server
pinned to CPU $SERVER_CPU, wrk -t1 pinned to CPU $CLIENT_CPU, loopback only).

Options:
  --build-dir DIR      Meson build directory containing examples/vstream-serve
                       (default: build)
  --duration SECONDS   length of each measured wrk run (default: 10)
  --connections N      wrk keep-alive connections (default: 64)
  --runs R             number of vstream/nginx measurement pairs (default: 3)
  -h, --help           show this help

The Markdown report is written to stdout, progress to stderr. Exit status:
0 on success, 1 on a setup/run failure, 2 if wrk saw non-2xx/3xx responses
or socket errors (the report is still printed, with a warning).
EOF
}

die() {
    echo "error: $*" >&2
    exit 1
}

log() {
    echo "[ping_vs_nginx] $*" >&2
}

# ---------------------------------------------------------------- arguments

while [[ $# -gt 0 ]]; do
    case $1 in
        --build-dir)   [[ $# -ge 2 ]] || die "$1 needs a value"; BUILD_DIR=$2; shift 2 ;;
        --duration)    [[ $# -ge 2 ]] || die "$1 needs a value"; DURATION=$2; shift 2 ;;
        --connections) [[ $# -ge 2 ]] || die "$1 needs a value"; CONNECTIONS=$2; shift 2 ;;
        --runs)        [[ $# -ge 2 ]] || die "$1 needs a value"; RUNS=$2; shift 2 ;;
        --build-dir=*)   BUILD_DIR=${1#*=}; shift ;;
        --duration=*)    DURATION=${1#*=}; shift ;;
        --connections=*) CONNECTIONS=${1#*=}; shift ;;
        --runs=*)        RUNS=${1#*=}; shift ;;
        -h|--help)     usage; exit 0 ;;
        *)             usage >&2; die "unknown argument: $1" ;;
    esac
done

for pair in "duration:$DURATION" "connections:$CONNECTIONS" "runs:$RUNS"; do
    [[ ${pair#*:} =~ ^[1-9][0-9]*$ ]] || die "--${pair%%:*} must be a positive integer (got '${pair#*:}')"
done

# ------------------------------------------------------------ preconditions

VSTREAM_BIN=$BUILD_DIR/examples/vstream-serve
[[ -x $VSTREAM_BIN ]] || die "vstream demo binary not found or not executable: $VSTREAM_BIN
       build it first (e.g. 'meson compile -C $BUILD_DIR') or pass --build-dir DIR"
command -v wrk >/dev/null || die "wrk is not installed (Debian: apt-get install wrk)"
[[ -x $NGINX_BIN ]] || die "nginx not found at $NGINX_BIN (Debian: apt-get install nginx-light)"
for tool in curl taskset timeout awk sort; do
    command -v "$tool" >/dev/null || die "required tool '$tool' is not installed"
done
for cpu in "$SERVER_CPU" "$CLIENT_CPU"; do
    taskset -c "$cpu" true 2>/dev/null || die "cannot pin to CPU $cpu (need at least 2 usable CPUs; nproc=$(nproc))"
done

# ------------------------------------------------------- process management

TMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ping_vs_nginx.XXXXXX")
SERVER_PID=
CLIENT_PID=
SERVER_NAME=
SERVER_LOG=

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    local pid=$SERVER_PID children
    SERVER_PID=
    # nginx's master has a worker child; remember it in case we must SIGKILL.
    children=$(pgrep -P "$pid" 2>/dev/null | tr '\n' ' ' || true)
    kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "$SERVER_NAME (pid $pid) ignored SIGTERM, sending SIGKILL"
        # shellcheck disable=SC2086 # $children is a list of PIDs
        kill -KILL "$pid" $children 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $CLIENT_PID ]]; then
        kill -TERM "$CLIENT_PID" 2>/dev/null || true
        wait "$CLIENT_PID" 2>/dev/null || true
    fi
    stop_server
    rm -rf -- "$TMP_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Find a TCP port on 127.0.0.1 that nothing is listening on.
free_port() {
    local port i
    for ((i = 0; i < 200; i++)); do
        port=$((20000 + RANDOM % 40000))
        if ! timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "could not find a free port on 127.0.0.1"
}

# Poll until the server answers (bounded to ~5 s), then check the response.
wait_ready() {
    local port=$1 url="http://127.0.0.1:$1/ping" i
    for ((i = 0; i < 50; i++)); do
        if ! kill -0 "$SERVER_PID" 2>/dev/null; then
            log "$SERVER_NAME exited during startup; last log lines:"
            tail -n 20 "$SERVER_LOG" >&2 || true
            die "$SERVER_NAME failed to start"
        fi
        if timeout 1 curl -s -o /dev/null --max-time 1 "$url" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    local out status ctype body
    out=$(timeout 3 curl -s --max-time 2 -o "$TMP_DIR/body" \
              -w '%{http_code} %{content_type}' "$url" 2>/dev/null) ||
        { tail -n 20 "$SERVER_LOG" >&2 || true; die "$SERVER_NAME did not answer $url within ~5 s"; }
    status=${out%% *}
    ctype=${out#* }
    body=$(cat "$TMP_DIR/body")
    [[ $status == 200 && $body == "$PING_BODY" ]] ||
        die "$SERVER_NAME: GET /ping returned status $status, body '$body' (expected 200 $PING_BODY)"
    [[ $ctype == application/json* ]] ||
        log "WARNING: $SERVER_NAME: Content-Type is '$ctype', expected application/json"
}

start_vstream() {
    local port=$1
    SERVER_NAME=vstream
    SERVER_LOG=$TMP_DIR/vstream.log
    taskset -c "$SERVER_CPU" "$VSTREAM_BIN" --host 127.0.0.1 --port "$port" --threads 1 \
        >"$SERVER_LOG" 2>&1 </dev/null &
    SERVER_PID=$!
}

# nginx runs in the foreground (daemon off) with a master and one worker;
# every path it writes is inside $TMP_DIR/nginx, so no root or /etc, /var.
write_nginx_conf() {
    local port=$1 prefix=$TMP_DIR/nginx v
    mkdir -p "$prefix"
    local nginx_v
    nginx_v=$("$NGINX_BIN" -V 2>&1)
    {
        # As root the master would switch the worker to 'nobody', which cannot
        # enter the 0700 temp dir; keep it as the invoking user instead.
        if [[ $EUID -eq 0 ]]; then echo "user root;"; fi
        cat <<EOF
daemon off;
worker_processes 1;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path $prefix/client_body;
EOF
        # Temp paths of compiled-in modules default to /var/lib/nginx/...
        for v in proxy fastcgi uwsgi scgi; do
            if [[ $nginx_v != *"--without-http_${v}_module"* ]]; then
                echo "    ${v}_temp_path $prefix/$v;"
            fi
        done
        cat <<EOF

    server {
        listen 127.0.0.1:$port;
        server_name localhost;

        location = /ping {
            default_type application/json;
            return 200 '$PING_BODY';
        }
        location / {
            return 404;
        }
    }
}
EOF
    } >"$prefix/nginx.conf"
}

start_nginx() {
    local port=$1 prefix=$TMP_DIR/nginx
    SERVER_NAME=nginx
    SERVER_LOG=$prefix/error.log
    write_nginx_conf "$port"
    "$NGINX_BIN" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" -t -q \
        >"$TMP_DIR/nginx-t.log" 2>&1 ||
        { cat "$TMP_DIR/nginx-t.log" >&2; die "generated nginx config is invalid"; }
    taskset -c "$SERVER_CPU" "$NGINX_BIN" -p "$prefix" -c "$prefix/nginx.conf" \
        -e "$prefix/error.log" >"$TMP_DIR/nginx-stdout.log" 2>&1 </dev/null &
    SERVER_PID=$!
}

# ------------------------------------------------------------- wrk + parsing

# Convert a wrk time value (e.g. 512.00us, 1.23ms, 2.00s, 1.00m) to microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") f = 1; else if (u == "ms") f = 1e3; else if (u == "s") f = 1e6
        else if (u == "m") f = 6e7; else if (u == "h") f = 3.6e9; else { print "NaN"; exit }
        printf "%.1f\n", n * f }'
}

# Runs one measurement; appends "name rps p50_us p99_us errors" to $RESULTS.
RESULTS=$TMP_DIR/results.txt
: >"$RESULTS"
ERRORS_FOUND=0

# run_wrk SECONDS URL OUTFILE [EXTRA_ARGS...]: wrk pinned to the client CPU.
# Runs in the background and is waited for, so INT/TERM are handled at once.
run_wrk() {
    local secs=$1 url=$2 out=$3 rc=0
    shift 3
    taskset -c "$CLIENT_CPU" timeout $((secs + 30)) \
        wrk -t1 -c"$CONNECTIONS" -d"${secs}s" "$@" "$url" >"$out" 2>&1 </dev/null &
    CLIENT_PID=$!
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=
    return "$rc"
}

measure() {
    local name=$1 run=$2 port url out
    port=$(free_port)
    url="http://127.0.0.1:$port/ping"
    "start_$name" "$port"
    wait_ready "$port"

    log "run $run/$RUNS: $name on port $port: warm-up 1 s"
    out=$TMP_DIR/wrk-$name-$run-warmup.txt
    run_wrk 1 "$url" "$out" || { cat "$out" >&2; die "warm-up wrk against $name failed"; }

    log "run $run/$RUNS: $name: measuring ${DURATION} s"
    out=$TMP_DIR/wrk-$name-$run.txt
    run_wrk "$DURATION" "$url" "$out" --latency || { cat "$out" >&2; die "wrk against $name failed"; }
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        tail -n 20 "$SERVER_LOG" >&2 || true
        die "$name died during the measurement"
    fi
    stop_server

    local rps p50 p99 errors=""
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    p50=$(awk '$1 == "50%" { print $2 }' "$out")
    p99=$(awk '$1 == "99%" { print $2 }' "$out")
    [[ -n $rps && -n $p50 && -n $p99 ]] || { cat "$out" >&2; die "could not parse wrk output for $name"; }
    p50=$(to_us "$p50")
    p99=$(to_us "$p99")

    local line
    line=$(grep -E '^[[:space:]]*Non-2xx or 3xx responses:' "$out" | sed 's/^[[:space:]]*//' || true)
    [[ -n $line ]] && errors+="$line; "
    line=$(grep -E '^[[:space:]]*Socket errors:' "$out" | sed 's/^[[:space:]]*//' || true)
    [[ -n $line ]] && errors+="$line; "
    errors=${errors%; }
    if [[ -n $errors ]]; then
        ERRORS_FOUND=1
        log "!!!!! WARNING: $name run $run: $errors"
    fi
    log "run $run/$RUNS: $name: $rps req/s, p50 ${p50} us, p99 ${p99} us"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "$rps" "$p50" "$p99" "${errors:-none}" >>"$RESULTS"
}

median() { # median of column $2 for server $1 in $RESULTS
    awk -F'\t' -v s="$1" -v c="$2" '$2 == s { print $c }' "$RESULTS" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

# -------------------------------------------------------------------- main

log "vstream: $VSTREAM_BIN; nginx: $NGINX_BIN; ${RUNS} runs x ${DURATION} s, ${CONNECTIONS} connections"
for ((run = 1; run <= RUNS; run++)); do
    measure vstream "$run"
    measure nginx "$run"
done

v_rps=$(median vstream 3); v_p50=$(median vstream 4); v_p99=$(median vstream 5)
n_rps=$(median nginx 3);   n_p50=$(median nginx 4);   n_p99=$(median nginx 5)

cpu_model=$(lscpu 2>/dev/null | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }')
wrk_version=$(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }' || true)
nginx_version=$("$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //')

cat <<EOF
## GET /ping: vstream vs nginx

- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
- Machine: ${cpu_model:-unknown CPU}, nproc=$(nproc)
- Kernel: $(uname -sr)
- wrk: ${wrk_version}; nginx: ${nginx_version}
- Setup: server on CPU $SERVER_CPU (1 thread / 1 worker), \`wrk -t1 -c$CONNECTIONS -d${DURATION}s --latency\` on CPU $CLIENT_CPU, loopback, keep-alive; $RUNS interleaved runs, 1 s warm-up each
- Command: \`$COMMAND_LINE\`

### Per run

| Run | Server | Req/s | p50 (us) | p99 (us) | Errors |
|----:|--------|------:|---------:|---------:|--------|
EOF
awk -F'\t' '{ printf "| %s | %s | %.0f | %.1f | %.1f | %s |\n", $1, $2, $3, $4, $5, $6 }' "$RESULTS"

cat <<EOF

### Medians

| Server | Req/s | p50 (us) | p99 (us) |
|--------|------:|---------:|---------:|
EOF
printf '| vstream | %.0f | %.1f | %.1f |\n' "$v_rps" "$v_p50" "$v_p99"
printf '| nginx | %.0f | %.1f | %.1f |\n' "$n_rps" "$n_p50" "$n_p99"

cat <<EOF

### vstream / nginx

| Metric | Ratio | Better |
|--------|------:|--------|
| Req/s | $(ratio "$v_rps" "$n_rps") | higher |
| p99 latency | $(ratio "$v_p99" "$n_p99") | lower |
EOF

if [[ $ERRORS_FOUND -ne 0 ]]; then
    cat <<EOF

> **WARNING: wrk reported errors (non-2xx/3xx responses or socket errors) in at
> least one run; see the Errors column. These figures are not trustworthy.**
EOF
    log "!!!!! WARNING: wrk reported errors in at least one run (see report)"
    exit 2
fi
