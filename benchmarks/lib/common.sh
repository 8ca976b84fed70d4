# shellcheck shell=bash disable=SC2034
# (SC2034, "appears unused": the variables set here, ARG_SHIFT, WRK_* and the
# like, are outputs that the sourcing scripts read.)
#
# benchmarks/lib/common.sh: the shared parts of the vstream-vs-nginx benchmark
# scripts (ping_vs_nginx.sh, files_vs_nginx.sh, tls_vs_nginx.sh, stream_rss.sh).
# Sourced, never run; the sourcing script has `set -euo pipefail` on.
#
# What lives here:
#   * messages and arguments: die, log, take_arg, require_positive_int,
#     parse_list, quote_command;
#   * preconditions: require_vstream_bin (+ snapshot_vstream_bin),
#     require_vstream_flag, require_wrk, require_nginx,
#     require_tools, require_cpus (each dies naming the Debian package;
#     nothing is ever installed);
#   * processes: bench_init (temp dir + cleanup trap), free_port,
#     launch_server / stop_server (by PID only), server_alive_or_die,
#     wait_ready, track_bg / untrack_bg for helper processes;
#   * servers: start_nginx_conf (1 worker, every path inside the temp dir),
#     start_vstream_files / start_nginx_files (a data dir served at /);
#     GET /ping: PING_BODY, NGINX_PING_LOCATION, check_ping;
#   * test data: ensure_data_file, warm_page_cache, verify_full_get,
#     verify_head_length, verify_range (the bytes are compared with cmp);
#   * clients: run_client (any load generator pinned to CLIENT_CPU, bounded
#     by timeout);
#   * wrk: run_wrk (through run_client), wrk_parse,
#     wrk_measure (1 s warm-up, measured run with --latency, fresh-server
#     checks), to_us; cpu_meter_start / cpu_meter_stop (server and client
#     CPU use during a load);
#   * runs: abba_runs (the caller's measure NAME RUN, in ABBA order);
#   * statistics and Markdown: median, ratio, paired_ratios, paired_summary,
#     md_header, md_rows, md_env.
#
# Conventions: the server runs pinned to SERVER_CPU, clients (wrk, curl,
# samplers) to CLIENT_CPU; everything listens on and talks to 127.0.0.1 only;
# every load is bounded in time; only PIDs started here are ever signalled.

[[ -z ${VSTREAM_BENCH_COMMON_SH:-} ]] || return 0
VSTREAM_BENCH_COMMON_SH=1

readonly SERVER_CPU=0
readonly CLIENT_CPU=1
readonly NGINX_BIN=/usr/sbin/nginx

# Tag of the progress messages: the script's name without .sh.
BENCH_TAG=${BENCH_TAG:-$(basename "$0" .sh)}

# ----------------------------------------------------- messages and arguments

die() {
    echo "error: $*" >&2
    exit 1
}

log() {
    echo "[$BENCH_TAG] $*" >&2
}

# quote_command WORD...: the words as one shell-quoted line (for the report).
quote_command() {
    local line
    line=$(printf '%q ' "$@")
    echo "${line% }"
}

# take_arg VAR "$@": stores the value of the option in $1 (`--opt VALUE` or
# `--opt=VALUE`) in VAR and sets ARG_SHIFT to the number of words it used.
#   --runs|--runs=*) take_arg RUNS "$@"; shift "$ARG_SHIFT" ;;
ARG_SHIFT=1
take_arg() {
    local var=$1
    shift
    if [[ $1 == --*=* ]]; then
        printf -v "$var" '%s' "${1#*=}"
        ARG_SHIFT=1
    else
        [[ $# -ge 2 ]] || die "$1 needs a value"
        printf -v "$var" '%s' "$2"
        ARG_SHIFT=2
    fi
}

# require_positive_int OPTION VALUE: dies unless VALUE is an integer >= 1.
require_positive_int() {
    [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--$1 must be a positive integer (got '$2')"
}

# parse_list ARRAY OPTION VALUE ALLOWED...: splits the comma list VALUE into
# ARRAY, checking that each item is one of ALLOWED and appears only once.
parse_list() {
    local -n parse_list_out=$1
    local option=$2 value=$3 item seen=" "
    shift 3
    local allowed=" $* "
    parse_list_out=()
    [[ -n $value ]] || die "--$option needs at least one of: $*"
    local -a items
    IFS=, read -r -a items <<<"$value"
    for item in "${items[@]}"; do
        [[ $allowed == *" $item "* ]] || die "--$option: unknown item '$item' (expected a comma list of: $*)"
        [[ $seen != *" $item "* ]] || die "--$option: '$item' is listed twice"
        seen+="$item "
        parse_list_out+=("$item")
    done
    [[ ${#parse_list_out[@]} -gt 0 ]] || die "--$option needs at least one of: $*"
}

# list_has WORD ITEM...: true when WORD is one of the ITEMs.
list_has() {
    local word=$1 item
    shift
    for item in "$@"; do
        [[ $item == "$word" ]] && return 0
    done
    return 1
}

# ------------------------------------------------------------ preconditions

# require_vstream_bin BUILD_DIR: sets VSTREAM_BIN to the built demo server.
require_vstream_bin() {
    VSTREAM_BIN=$1/examples/vstream-serve
    [[ -x $VSTREAM_BIN ]] || die "vstream demo binary not found or not executable: $VSTREAM_BIN
       build it first (e.g. 'meson compile -C $1') or pass --build-dir DIR"
}

# snapshot_vstream_bin: after bench_init, copies VSTREAM_BIN into TMP_DIR and
# sets VSTREAM_EXEC to the copy, so that a rebuild of the build dir during a
# long run cannot mix two builds in one report (falls back to VSTREAM_BIN if
# the copy does not run, e.g. a build that finds its libraries via $ORIGIN).
# Sets VSTREAM_ID to "sha256 <first 12 hex>, built <mtime>" for reports.
VSTREAM_EXEC=
VSTREAM_ID=
snapshot_vstream_bin() {
    local copy=$TMP_DIR/vstream-serve sum
    VSTREAM_EXEC=$VSTREAM_BIN
    cp -- "$VSTREAM_BIN" "$copy" || die "cannot copy $VSTREAM_BIN"
    if timeout 5 "$copy" --help >/dev/null 2>&1; then
        VSTREAM_EXEC=$copy
    else
        log "WARNING: a copy of $VSTREAM_BIN does not run; using it in place (a rebuild during the run would be picked up)"
    fi
    sum=$(sha256sum -- "$copy" | awk '{ print substr($1, 1, 12) }')
    VSTREAM_ID="sha256 $sum, built $(date -u -r "$VSTREAM_BIN" '+%Y-%m-%d %H:%M:%S UTC')"
}

# require_vstream_flag FLAG: dies unless `vstream-serve --help` lists FLAG.
require_vstream_flag() {
    local help
    help=$(timeout 5 "$VSTREAM_BIN" --help 2>&1 || true)
    [[ $help == *"$1"* ]] || die "$VSTREAM_BIN has no $1 option (see its --help); rebuild it from a newer tree"
}

require_wrk() {
    command -v wrk >/dev/null || die "wrk is not installed (Debian: apt-get install wrk)"
}

require_nginx() {
    [[ -x $NGINX_BIN ]] || die "nginx not found at $NGINX_BIN (Debian: apt-get install nginx-light)"
}

# Debian package that provides each tool the scripts use.
tool_package() {
    case $1 in
        curl) echo curl ;;
        taskset | lscpu) echo util-linux ;;
        pgrep) echo procps ;;
        cmp) echo diffutils ;;
        awk) echo mawk ;;
        getconf) echo libc-bin ;;
        *) echo coreutils ;;
    esac
}

# require_tools TOOL...: dies naming the Debian package of the first missing TOOL.
require_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null ||
            die "required tool '$tool' is not installed (Debian: apt-get install $(tool_package "$tool"))"
    done
}

# require_cpus: the server and client CPUs must both be usable.
require_cpus() {
    local cpu
    for cpu in "$SERVER_CPU" "$CLIENT_CPU"; do
        taskset -c "$cpu" true 2>/dev/null || die "cannot pin to CPU $cpu (need at least 2 usable CPUs; nproc=$(nproc))"
    done
}

# ------------------------------------------------------- process management

TMP_DIR=
SERVER_PID=
SERVER_NAME=
SERVER_LOG=
CLIENT_PID=
BG_PIDS=()

# bench_init: creates TMP_DIR and installs the cleanup trap. Call it once,
# after the arguments and preconditions are checked.
bench_init() {
    TMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/$BENCH_TAG.XXXXXX")
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# stop_pid PID: SIGTERM, then waits for it (it must be our child).
stop_pid() {
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# track_bg PID / untrack_bg PID: helper processes (samplers) that the cleanup
# trap must stop if the script ends early.
track_bg() {
    BG_PIDS+=("$1")
}

untrack_bg() {
    local -a keep=()
    local pid
    for pid in "${BG_PIDS[@]}"; do
        [[ $pid == "$1" ]] || keep+=("$pid")
    done
    BG_PIDS=("${keep[@]}")
}

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

bench_cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    if [[ -n $CLIENT_PID ]]; then
        stop_pid "$CLIENT_PID"
    fi
    for pid in "${BG_PIDS[@]}"; do
        stop_pid "$pid"
    done
    stop_server
    [[ -z $TMP_DIR ]] || rm -rf -- "$TMP_DIR"
    exit "$rc"
}

# Find a TCP port on 127.0.0.1 that no socket uses: chosen below the kernel's
# ephemeral range (so no client connection, e.g. one of wrk's, can hold it),
# absent from /proc/net/tcp{,6} (no listener, connection or TIME_WAIT) and
# refusing a connection.
free_port() {
    local port i low=32768 hex
    read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
    ((low > 11000)) || low=32768
    for ((i = 0; i < 200; i++)); do
        port=$((10000 + RANDOM % (low - 10000)))
        printf -v hex ':%04X' "$port"
        if awk -v p="$hex" 'NR > 1 && substr($2, length($2) - 4) == p { found = 1; exit }
                END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
            continue
        fi
        if ! timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "could not find a free port on 127.0.0.1"
}

# launch_server NAME LOG STDOUT COMMAND...: starts COMMAND pinned to
# SERVER_CPU in the background; LOG is what to show if it fails. With
# LAUNCH_IGNORE_SIGPIPE=1 the command starts with SIGPIPE ignored (an ignored
# disposition survives exec), as a server that does not ignore it itself
# would need.
LAUNCH_IGNORE_SIGPIPE=0
launch_server() {
    SERVER_NAME=$1
    SERVER_LOG=$2
    local out=$3
    shift 3
    if [[ $LAUNCH_IGNORE_SIGPIPE == 1 ]]; then
        (
            trap '' PIPE
            exec taskset -c "$SERVER_CPU" "$@"
        ) >"$out" 2>&1 </dev/null &
    else
        taskset -c "$SERVER_CPU" "$@" >"$out" 2>&1 </dev/null &
    fi
    SERVER_PID=$!
}

# server_died WHEN: if the server has exited, shows its log, reaps it and
# dies saying how it ended ("exit status N" or "killed by SIGxxx").
server_died() {
    kill -0 "$SERVER_PID" 2>/dev/null && return 0
    local rc=0 how
    wait "$SERVER_PID" 2>/dev/null || rc=$?
    SERVER_PID=
    if ((rc > 128)); then how="killed by SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"; else how="exit status $rc"; fi
    log "$SERVER_NAME ended ($how) $1; last log lines:"
    tail -n 20 "$SERVER_LOG" >&2 || true
    die "$SERVER_NAME died $1 ($how)"
}

server_alive_or_die() {
    server_died "during the measurement"
}

# wait_ready URL: polls until the server answers URL at all (bounded to ~5 s).
# Any HTTP status counts: the caller checks the response itself.
wait_ready() {
    local url=$1 i
    for ((i = 0; i < 50; i++)); do
        server_died "during startup"
        if timeout 1 curl -s -o /dev/null --max-time 1 "$url" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    timeout 3 curl -s --max-time 2 -o /dev/null "$url" 2>/dev/null ||
        { tail -n 20 "$SERVER_LOG" >&2 || true; die "$SERVER_NAME did not answer $url within ~5 s"; }
}

# ------------------------------------------------------------- CPU accounting

# server_pids: the server's PID and its children's (nginx's worker).
server_pids() {
    echo "$SERVER_PID"
    pgrep -P "$SERVER_PID" 2>/dev/null || true
}

# proc_cpu_ticks PID...: utime + stime of the PIDs (all threads), in clock ticks.
proc_cpu_ticks() {
    local pid line total=0
    local -a f
    for pid in "$@"; do
        { read -r line <"/proc/$pid/stat"; } 2>/dev/null || continue
        read -r -a f <<<"${line##*) }"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# cpu_jiffies CPU: "busy total" jiffies of one CPU since boot (/proc/stat).
cpu_jiffies() {
    awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# cpu_meter_start PID... / cpu_meter_stop: around a load, sets SERVER_CPU_PCT
# (CPU time of the PIDs over the wall time, % of one CPU, rounded),
# SERVER_CPU_SECS (that CPU time in seconds, unrounded), CPU_METER_WALL (the
# wall time in seconds) and CLIENT_CPU_PCT (how busy CLIENT_CPU was, whoever
# used it: near 100 means the client side may be the bottleneck).
CPU_METER_PIDS=()
cpu_meter_start() {
    CPU_METER_PIDS=("$@")
    CPU_METER_T0=$EPOCHREALTIME
    CPU_METER_TICKS0=$(proc_cpu_ticks "$@")
    CPU_METER_CLIENT0=$(cpu_jiffies "$CLIENT_CPU")
}

cpu_meter_stop() {
    local t1=$EPOCHREALTIME ticks1 client1 hz
    ticks1=$(proc_cpu_ticks "${CPU_METER_PIDS[@]}")
    client1=$(cpu_jiffies "$CLIENT_CPU")
    hz=$(getconf CLK_TCK)
    SERVER_CPU_SECS=$(awk -v a="$CPU_METER_TICKS0" -v b="$ticks1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
    CPU_METER_WALL=$(awk -v t0="$CPU_METER_T0" -v t1="$t1" 'BEGIN { printf "%.6f", t1 - t0 }')
    SERVER_CPU_PCT=$(awk -v a="$CPU_METER_TICKS0" -v b="$ticks1" -v hz="$hz" -v t0="$CPU_METER_T0" -v t1="$t1" \
        'BEGIN { printf "%.0f", (t1 > t0) ? (b - a) / hz / (t1 - t0) * 100 : 0 }')
    CLIENT_CPU_PCT=$(awk -v a="$CPU_METER_CLIENT0" -v b="$client1" \
        'BEGIN { split(a, x, " "); split(b, y, " "); d = y[2] - x[2]
                 printf "%.0f", (d > 0) ? (y[1] - x[1]) / d * 100 : 0 }')
}

# -------------------------------------------------------------------- nginx

# start_nginx_conf PORT HTTP_DIRECTIVES SERVER_DIRECTIVES [LISTEN_PARAMS]:
# writes an nginx config into $TMP_DIR/nginx, checks it with `nginx -t` and
# starts nginx (foreground, master + 1 worker) pinned to SERVER_CPU. The two
# strings are pasted, already indented, into the http {} and server {}
# blocks; LISTEN_PARAMS (e.g. "ssl") follow the address on the listen line.
# Every path nginx writes is inside $TMP_DIR/nginx, so no root, /etc or /var
# is needed.
start_nginx_conf() {
    local port=$1 http_extra=$2 server_extra=$3 listen_params=${4:-} prefix=$TMP_DIR/nginx v nginx_v
    mkdir -p "$prefix"
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
        [[ -z $http_extra ]] || printf '%s\n' "$http_extra"
        cat <<EOF

    server {
        listen 127.0.0.1:$port${listen_params:+ $listen_params};
        server_name localhost;

$server_extra
    }
}
EOF
    } >"$prefix/nginx.conf"
    "$NGINX_BIN" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" -t -q \
        >"$TMP_DIR/nginx-t.log" 2>&1 ||
        { cat "$TMP_DIR/nginx-t.log" >&2; die "generated nginx config is invalid"; }
    launch_server nginx "$prefix/error.log" "$TMP_DIR/nginx-stdout.log" \
        "$NGINX_BIN" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"
}

nginx_version() {
    "$NGINX_BIN" -v 2>&1 | sed 's/^nginx version: //'
}

# ---------------------------------------------------------- file serving

# What both file benchmarks configure, also quoted in their reports.
readonly NGINX_FILES_SUMMARY="1 worker, \`sendfile on; tcp_nopush on; open_file_cache max=1000 inactive=60s; open_file_cache_valid 60s; access_log off\`"

# start_nginx_files PORT DATA_DIR [HTTP_EXTRA [SERVER_EXTRA [LISTEN_PARAMS]]]:
# nginx serving DATA_DIR at /; the extras go on as in start_nginx_conf.
start_nginx_files() {
    # The path goes into nginx.conf unescaped: keep to characters that need none.
    require_plain_path "data dir" "$2"
    start_nginx_conf "$1" "    sendfile on;
    tcp_nopush on;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;${3:+
$3}" "        root $2;${4:+
$4}" "${5:-}"
}

# require_plain_path WHAT PATH: PATH goes into nginx.conf unescaped, so it
# must keep to characters that need no quoting.
require_plain_path() {
    [[ $2 =~ ^[A-Za-z0-9._/+-]+$ ]] ||
        die "$1 '$2' has characters that nginx.conf would need quoted; use a plain path"
}

# ------------------------------------------------------------------ GET /ping

readonly PING_BODY='{"message":"pong"}'

# The nginx location that answers GET /ping as vstream-serve does.
readonly NGINX_PING_LOCATION="        location = /ping {
            default_type application/json;
            return 200 '$PING_BODY';
        }"

# check_ping URL: GET URL must return 200 with the pong body (and, ideally, JSON).
check_ping() {
    local url=$1 out status ctype body
    out=$(timeout 3 curl -s --max-time 2 -o "$TMP_DIR/body" \
              -w '%{http_code} %{content_type}' "$url" 2>/dev/null) ||
        { tail -n 20 "$SERVER_LOG" >&2 || true; die "$SERVER_NAME did not answer $url within ~5 s"; }
    status=${out%% *}
    ctype=${out#* }
    body=$(cat "$TMP_DIR/body")
    [[ $status == 200 && $body == "$PING_BODY" ]] ||
        die "$SERVER_NAME: GET $url returned status $status, body '$body' (expected 200 $PING_BODY)"
    [[ $ctype == application/json* ]] ||
        log "WARNING: $SERVER_NAME: Content-Type is '$ctype', expected application/json"
}

# start_vstream_files PORT DATA_DIR [EXTRA_ARGS...]: vstream-serve serving
# DATA_DIR at / with one loop thread; with SIGPIPE ignored if the script's
# --vstream-ignore-sigpipe set VSTREAM_IGNORE_SIGPIPE=1.
VSTREAM_IGNORE_SIGPIPE=0
start_vstream_files() {
    local port=$1 data_dir=$2
    shift 2
    LAUNCH_IGNORE_SIGPIPE=$VSTREAM_IGNORE_SIGPIPE launch_server vstream "$TMP_DIR/vstream.log" "$TMP_DIR/vstream.log" \
        "$VSTREAM_EXEC" --root "$data_dir" --host 127.0.0.1 --port "$port" --threads 1 --quiet "$@"
}

# ensure_data_file PATH BYTES: creates PATH with BYTES random bytes unless it
# already has that size. Written to a temp name and renamed, so an interrupted
# run never leaves a short file behind under the real name.
ensure_data_file() {
    local path=$1 bytes=$2 size
    size=$(stat -c %s -- "$path" 2>/dev/null || echo -1)
    [[ $size == "$bytes" ]] && return 0
    mkdir -p -- "$(dirname -- "$path")"
    log "generating $path ($bytes random bytes)"
    local tmp=$path.tmp.$$
    timeout 900 head -c "$bytes" /dev/urandom >"$tmp" || { rm -f -- "$tmp"; die "could not write $tmp"; }
    size=$(stat -c %s -- "$tmp")
    [[ $size == "$bytes" ]] || { rm -f -- "$tmp"; die "$tmp has $size bytes, expected $bytes"; }
    mv -f -- "$tmp" "$path"
}

# warm_page_cache FILE...: reads the files once so that neither server pays
# for disk reads (the first server measured would otherwise).
warm_page_cache() {
    local f
    for f in "$@"; do
        timeout 300 cat -- "$f" >/dev/null || die "could not read $f"
    done
}

# header_value FILE NAME: value of header NAME (case-insensitive) in a curl -D dump.
header_value() {
    awk -v want="$2" 'BEGIN { want = tolower(want) }
        { sub(/\r$/, "") }
        { i = index($0, ":"); if (i && tolower(substr($0, 1, i - 1)) == want) {
            v = substr($0, i + 1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v); print v; exit } }' "$1"
}

# fetch URL BODY HEADERS [CURL_ARGS...]: one bounded request; prints the status.
fetch() {
    local url=$1 body=$2 headers=$3
    shift 3
    timeout 60 curl -sS --max-time 30 -o "$body" -D "$headers" -w '%{http_code}' "$@" "$url" ||
        die "$SERVER_NAME: request to $url failed"
}

# verify_full_get URL FILE: 200, Content-Length = size of FILE, same bytes.
verify_full_get() {
    local url=$1 file=$2 status len size
    size=$(stat -c %s -- "$file")
    status=$(fetch "$url" "$TMP_DIR/check.body" "$TMP_DIR/check.hdr")
    len=$(header_value "$TMP_DIR/check.hdr" Content-Length)
    [[ $status == 200 && $len == "$size" ]] ||
        die "$SERVER_NAME: GET $url returned status $status, Content-Length '$len' (expected 200, $size)"
    cmp -s -- "$TMP_DIR/check.body" "$file" || die "$SERVER_NAME: GET $url: body differs from $file"
    rm -f -- "$TMP_DIR/check.body"
}

# verify_head_length URL FILE: HEAD gives 200 and Content-Length = size of FILE.
verify_head_length() {
    local url=$1 file=$2 status len size
    size=$(stat -c %s -- "$file")
    status=$(fetch "$url" /dev/null "$TMP_DIR/check.hdr" -I)
    len=$(header_value "$TMP_DIR/check.hdr" Content-Length)
    [[ $status == 200 && $len == "$size" ]] ||
        die "$SERVER_NAME: HEAD $url returned status $status, Content-Length '$len' (expected 200, $size)"
}

# verify_range URL FILE OFFSET LENGTH: 206, the right Content-Range and
# Content-Length, and the same bytes as FILE at OFFSET.
verify_range() {
    local url=$1 file=$2 first=$3 count=$4 status len crange size last
    size=$(stat -c %s -- "$file")
    last=$((first + count - 1))
    status=$(fetch "$url" "$TMP_DIR/check.body" "$TMP_DIR/check.hdr" -H "Range: bytes=$first-$last")
    len=$(header_value "$TMP_DIR/check.hdr" Content-Length)
    crange=$(header_value "$TMP_DIR/check.hdr" Content-Range)
    [[ $status == 206 && $len == "$count" && $crange == "bytes $first-$last/$size" ]] ||
        die "$SERVER_NAME: GET $url with Range: bytes=$first-$last returned status $status, Content-Length '$len', Content-Range '$crange' (expected 206, $count, 'bytes $first-$last/$size')"
    dd if="$file" of="$TMP_DIR/check.want" bs=64K iflag=skip_bytes,count_bytes \
        skip="$first" count="$count" status=none || die "could not read $file"
    cmp -s -- "$TMP_DIR/check.body" "$TMP_DIR/check.want" ||
        die "$SERVER_NAME: GET $url bytes $first-$last differ from $file"
    rm -f -- "$TMP_DIR/check.body" "$TMP_DIR/check.want"
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

# Convert a wrk size (e.g. 1.50GB, 12.00MB, 512B; binary units) to bytes.
to_bytes() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "B") f = 1; else if (u == "KB") f = 1024; else if (u == "MB") f = 1024 ^ 2
        else if (u == "GB") f = 1024 ^ 3; else if (u == "TB") f = 1024 ^ 4
        else if (u == "PB") f = 1024 ^ 5; else { print "NaN"; exit }
        printf "%.0f\n", n * f }'
}

# run_client LIMIT OUTFILE COMMAND...: COMMAND pinned to the client CPU,
# killed after LIMIT seconds, stdout and stderr into OUTFILE; returns its
# status. Runs in the background and is waited for, so INT/TERM are handled
# at once.
run_client() {
    local limit=$1 out=$2 rc=0
    shift 2
    taskset -c "$CLIENT_CPU" timeout "$limit" "$@" >"$out" 2>&1 </dev/null &
    CLIENT_PID=$!
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=
    return "$rc"
}

# run_wrk SECONDS CONNECTIONS OUTFILE WRK_ARGS...: `wrk -t1` through
# run_client, bounded to SECONDS + 30. WRK_ARGS hold the URL (and, after it,
# any `-- script args`).
run_wrk() {
    local secs=$1 conns=$2 out=$3
    shift 3
    run_client $((secs + 30)) "$out" wrk -t1 -c"$conns" -d"${secs}s" "$@"
}

# wrk_parse OUTFILE: sets WRK_RPS, WRK_P50_US and WRK_P99_US (empty without
# --latency), WRK_REQUESTS, WRK_SECS, WRK_BYTES (all bytes read, including
# those of responses still in flight at the end) and WRK_ERRORS (wrk's
# non-2xx/3xx and socket error lines, '; '-joined, empty if none).
wrk_parse() {
    local out=$1 line read_size
    WRK_RPS=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
    WRK_P50_US=$(awk '$1 == "50%" { print $2 }' "$out")
    WRK_P99_US=$(awk '$1 == "99%" { print $2 }' "$out")
    [[ -z $WRK_P50_US ]] || WRK_P50_US=$(to_us "$WRK_P50_US")
    [[ -z $WRK_P99_US ]] || WRK_P99_US=$(to_us "$WRK_P99_US")
    # "  1234 requests in 10.00s, 1.23GB read"
    line=$(grep -E '^[[:space:]]*[0-9]+ requests in ' "$out" || true)
    WRK_REQUESTS=$(awk '{ print $1 }' <<<"$line")
    WRK_SECS=$(awk '{ sub(/,$/, "", $4); print $4 + 0 }' <<<"$line")
    read_size=$(awk '{ print $5 }' <<<"$line")
    WRK_BYTES=
    [[ -z $read_size ]] || WRK_BYTES=$(to_bytes "$read_size")
    WRK_ERRORS=
    line=$(grep -E '^[[:space:]]*Non-2xx or 3xx responses:' "$out" | sed 's/^[[:space:]]*//' || true)
    [[ -n $line ]] && WRK_ERRORS+="$line; "
    line=$(grep -E '^[[:space:]]*Socket errors:' "$out" | sed 's/^[[:space:]]*//' || true)
    [[ -n $line ]] && WRK_ERRORS+="$line; "
    WRK_ERRORS=${WRK_ERRORS%; }
    [[ -n $WRK_RPS ]]
}

# wrk_measure LABEL PORT SECONDS CONNECTIONS OUTBASE WRK_ARGS...: against the
# fresh server that is already up and checked: a 1 s warm-up, then the
# measured run (with --latency), then checks the server survived and stops
# it. Leaves the measured wrk output in OUTBASE.txt, the figures in WRK_*
# (see wrk_parse) and SERVER_CPU_PCT / CLIENT_CPU_PCT of the measured run
# (see cpu_meter_stop); dies if p50/p99 cannot be parsed.
wrk_measure() {
    local label=$1 port=$2 secs=$3 conns=$4 outbase=$5 name=$SERVER_NAME
    shift 5
    log "$label on port $port: warm-up 1 s"
    if ! run_wrk 1 "$conns" "$outbase-warmup.txt" "$@"; then
        cat "$outbase-warmup.txt" >&2
        server_died "during the warm-up"
        die "warm-up wrk against $name failed"
    fi
    server_died "during the warm-up"

    log "$label: measuring ${secs} s"
    local -a pids
    mapfile -t pids < <(server_pids)
    cpu_meter_start "${pids[@]}"
    if ! run_wrk "$secs" "$conns" "$outbase.txt" --latency "$@"; then
        cat "$outbase.txt" >&2
        server_alive_or_die
        die "wrk against $name failed"
    fi
    cpu_meter_stop
    server_alive_or_die
    stop_server

    if ! wrk_parse "$outbase.txt" || [[ -z $WRK_P50_US || -z $WRK_P99_US ]]; then
        cat "$outbase.txt" >&2
        die "could not parse wrk output for $name"
    fi
}

# -------------------------------------------------------------- statistics

# median FILE SERVER COLUMN: median of COLUMN over the TSV rows of FILE
# whose column 2 is SERVER.
median() {
    awk -F'\t' -v s="$2" -v c="$3" '$2 == s { print $c }' "$1" | sort -g |
        awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.10g\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }

# abba_runs RUNS A B: calls `measure NAME RUN` for RUN = 1..RUNS, A then B in
# odd runs and B then A in even ones: a server that always went second would
# always meet the machine's drift first.
abba_runs() {
    local runs=$1 a=$2 b=$3 run
    for ((run = 1; run <= runs; run++)); do
        if ((run % 2)); then
            measure "$a" "$run"; measure "$b" "$run"
        else
            measure "$b" "$run"; measure "$a" "$run"
        fi
    done
}

# paired_ratios FILE COL [A B]: one line per run found for both servers in FILE
# (TSV: run, server, ...), A's column COL divided by B's in the same run (A and
# B default to vstream and nginx). The two runs of a pair sit side by side in
# time and share that moment's machine noise, so their ratio is steadier than
# a ratio of medians.
paired_ratios() {
    awk -F'\t' -v c="$2" -v a="${3:-vstream}" -v b="${4:-nginx}" '
        $2 == a { x[$1] = $c } $2 == b { y[$1] = $c }
        END { for (r in x) if ((r in y) && y[r] > 0) printf "%.10g\n", x[r] / y[r] }' "$1"
}

# paired_summary FILE COL higher|lower [A B]: "median ratio (A at or better in
# W of N runs)" over the pairs of paired_ratios.
paired_summary() {
    local a=${4:-vstream}
    paired_ratios "$1" "$2" "$a" "${5:-nginx}" | sort -g | awk -v better="$3" -v a="$a" '
        { v[NR] = $1; if ((better == "higher" && $1 >= 1) || (better == "lower" && $1 <= 1)) w++ }
        END {
            if (NR == 0) { print "n/a"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.3f (%s at or better in %d of %d runs)", m, a, w, NR
        }'
}

# ---------------------------------------------------------------- Markdown

# md_header TITLE:ALIGN...: a table header; ALIGN is l or r.
md_header() {
    local cell title line1="|" line2="|" dashes
    for cell in "$@"; do
        title=${cell%:*}
        line1+=" $title |"
        printf -v dashes '%*s' $((${#title} + 1)) ''
        dashes=${dashes// /-}
        if [[ ${cell##*:} == r ]]; then line2+="$dashes:|"; else line2+="$dashes-|"; fi
    done
    printf '%s\n%s\n' "$line1" "$line2"
}

# md_rows FILE FORMAT...: one table row per TSV line of FILE, column i
# printed with printf FORMAT i (%s, %.0f, ...).
md_rows() {
    local file=$1
    shift
    awk -F'\t' -v formats="$*" 'BEGIN { n = split(formats, f, " ") }
        { line = "|"; for (i = 1; i <= n; i++) line = line " " sprintf(f[i], $i) " |"; print line }' "$file"
}

# md_env: the bullet lines common to every report (date, machine, versions).
md_env() {
    local cpu_model wrk_version
    cpu_model=$(lscpu 2>/dev/null | awk -F: '/^Model name/ { sub(/^[ \t]+/, "", $2); print $2; exit }')
    wrk_version=$(wrk -v 2>&1 | head -n 1 | awk '{ print $1, $2 }' || true)
    cat <<EOF
- Date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')
- Machine: ${cpu_model:-unknown CPU}, nproc=$(nproc)
- Kernel: $(uname -sr)
- wrk: ${wrk_version}; nginx: $(nginx_version)
EOF
}

# ------------------------------------------------------------ RSS sampling
# (stream_rss.sh, upload_bench.sh; SAMPLE_INTERVAL is the caller's, in seconds)

# read_rss PID...: one line "VmRSS RssAnon RssFile VmHWM" (KiB, summed over
# the PIDs); fails once one of them is gone. Pure bash: no process per sample.
read_rss() {
    local pid key val _ rss=0 anon=0 file=0 hwm=0
    for pid in "$@"; do
        [[ -r /proc/$pid/status ]] || return 1
        while read -r key val _; do
            case $key in
                VmRSS:)   rss=$((rss + val)) ;;
                RssAnon:) anon=$((anon + val)) ;;
                RssFile:) file=$((file + val)) ;;
                VmHWM:)   hwm=$((hwm + val)) ;;
            esac
        done <"/proc/$pid/status"
    done
    printf '%s\t%s\t%s\t%s\n' "$rss" "$anon" "$file" "$hwm"
}

# sample_rss OUTFILE PID...: appends a read_rss line every SAMPLE_INTERVAL
# until killed or until a PID exits. Meant to run in the background.
sample_rss() {
    local out=$1
    shift
    while read_rss "$@" >>"$out" 2>/dev/null; do
        sleep "$SAMPLE_INTERVAL"
    done
}

kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# column_max FILE COLUMN: largest value of a TSV column.
column_max() { awk -F'\t' -v c="$2" 'NR == 1 || $c > m { m = $c } END { print m + 0 }' "$1"; }
