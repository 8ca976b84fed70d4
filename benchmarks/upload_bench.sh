#!/usr/bin/env bash
#
# upload_bench.sh: memory (RSS) and throughput of vstream-serve while it
# receives a 2 GiB upload, against the disk's own write speed measured by dd
# in the same run.
#
# Uploads (each one a fresh vstream-serve --upload-dir DIR --threads 1, one
# curl, one 2 GiB file of random bytes):
#   put             PUT /upload/NAME, the raw body (curl -T FILE)
#   multipart       POST /upload, multipart/form-data (curl -F f=@FILE)
#   put-sync        as put, server started with --upload-sync (fdatasync
#                   before the file is named and the 201 sent)
#   multipart-sync  as multipart, with --upload-sync
# Baselines, in the same run and on the same filesystem:
#   dd              dd if=/dev/zero of=DIR/dd.bin bs=1M count=2048
#                   (page-cache speed: what put/multipart compare with, since
#                   vstream does not fsync by default)
#   dd-sync         the same with conv=fdatasync (what the -sync uploads
#                   compare with)
#
# What is measured: an upload's time is curl's time_total, from connecting to
# the end of the 201 response; MB/s = 2147483648 bytes / that time / 10^6.
# dd's time is the one dd prints (with conv=fdatasync it includes the
# fdatasync). The ratio is upload MB/s / baseline MB/s (medians). During each
# upload the server's /proc/PID/status is sampled every 100 ms (VmRSS,
# RssAnon, RssFile) and VmHWM read at the end; the target is a peak RSS (the
# largest of the samples and VmHWM) under --rss-limit-mib (default 32 MiB).
#
# Checks, any failure ends the script: every response is a 201 whose JSON
# lists exactly one file with size 2147483648 and the sha256 of the source
# (sha256sum, computed once and cached next to it); the stored file has that
# size and the same bytes (cmp).
#
# How: as in stream_rss.sh (shared parts in lib/common.sh): server pinned to
# CPU 0, curl, dd and the RSS sampler pinned to CPU 1, loopback (127.0.0.1)
# only, a fresh server on a free port per upload, every wait bounded. The
# source file is generated once into the data dir (default
# /tmp/vstream-bench-upload) and read before each upload so it is in the page
# cache; the upload dir and dd's file live in a temp dir inside the data dir
# (same filesystem), emptied and `sync -f`ed before every measurement (so one
# measurement's writeback does not slow the next) and removed on exit. The
# Markdown report goes to stdout, progress to stderr:
#   benchmarks/upload_bench.sh > report.md
#
# Requirements: curl, taskset, at least 2 usable CPUs, ~6.5 GiB free in the
# data dir (source + upload + dd file + margin; 2 GiB less once the source
# exists), RAM to cache the source, and a vstream-serve that has --upload-dir
# (and --upload-sync for the -sync variants). Nothing is installed.

set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib/common.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/common.sh"

readonly SOURCE_NAME=source-2g.bin
readonly UPLOAD_BYTES=2147483648
readonly GIB=1073741824
readonly SAMPLE_INTERVAL=0.1
readonly ALL_VARIANTS=(put multipart put-sync multipart-sync)

BUILD_DIR=build-release
DATA_DIR=/tmp/vstream-bench-upload
RUNS=3
TIMEOUT=600
RSS_LIMIT_MIB=32
SETTLE=auto
VARIANTS_ARG=$(IFS=,; echo "${ALL_VARIANTS[*]}")

COMMAND_LINE=$(quote_command "$0" "$@")

usage() {
    cat <<EOF
Usage: $0 [--build-dir DIR] [--data-dir DIR] [--runs N] [--variants LIST]
          [--timeout SECONDS] [--rss-limit-mib N] [--settle SECONDS]

Uploads a 2 GiB file of random bytes into vstream-serve --upload-dir (server
pinned to CPU $SERVER_CPU, --threads 1; curl, dd and the RSS sampler pinned to
CPU $CLIENT_CPU; loopback only) and reports, per upload variant, the server's
idle and peak RSS and the upload throughput against dd's write speed into the
same filesystem, measured in the same run.

Upload variants (one fresh server each, per run):
  put             PUT /upload/NAME with the raw body: curl -T FILE -H 'Expect:'
  multipart       POST /upload, multipart/form-data: curl -F 'f=@FILE' -H 'Expect:'
  put-sync        put against a server started with --upload-sync
  multipart-sync  multipart against a server started with --upload-sync
Baselines (per run): dd if=/dev/zero of=DIR/dd.bin bs=1M count=2048, without
(page cache; compared with put, multipart) and with conv=fdatasync (compared
with the -sync variants).

Each response must be a 201 whose JSON lists one file of 2147483648 bytes with
the source's sha256 (sha256sum, computed once and cached in FILE.sha256), and
the stored file must have the same bytes (cmp); otherwise the script stops.
Throughput is 2147483648 bytes / time until the 201 arrived (curl's
time_total), in MB/s (10^6 bytes/s); medians over the runs.

Within a run the measurements go in a fixed cycle (dd, dd-sync, then the
variants in --variants order), started one step further on in each run, so
that no measurement always comes first. Before every one of them the previous
files are deleted, the filesystem is flushed (sync -f) and the script waits
--settle seconds. The pause makes every measurement start from the same
memory state: in a VM with virtio-balloon free page reporting, memory freed a
moment ago is still backed by the host and fast to reuse, while memory freed
longer ago has been handed back to the host (gradually, over some 15-30 s)
and faults in again, which makes page-cache writes several times slower (on
the 2-vCPU test VM, dd of 2 GiB into the page cache: 3.2 GB/s right after
freeing 2 GiB, ~0.6 GB/s 5 s later, ~0.25 GB/s 15-30 s later).

Options:
  --build-dir DIR      Meson build directory containing examples/vstream-serve
                       (default: build-release)
  --data-dir DIR       where the 2 GiB source file is generated once and
                       reused; the uploads and dd's file go to a temp dir in
                       it (same filesystem), removed on exit
                       (default: /tmp/vstream-bench-upload; needs ~6.5 GiB free,
                       2 GiB less once the source exists)
  --runs N             measurement rounds; each does dd, dd-sync and every
                       variant once (default: 3)
  --variants LIST      comma list of upload variants (default: $VARIANTS_ARG)
  --timeout SECONDS    bound on each upload and each dd (default: 600)
  --rss-limit-mib N    target: the server's peak RSS during an upload must stay
                       under N MiB (default: 32)
  --settle SECONDS     pause before every measurement, after the previous
                       files are deleted and the filesystem flushed (default:
                       auto = 20 if virtio-balloon free page reporting is
                       active, else 2; see above)
  -h, --help           show this help

The Markdown report is written to stdout, progress to stderr. Exit status:
0 on success, 1 on a setup/run failure or a failed check (wrong status, size,
sha256 or stored bytes), 3 if the peak RSS reached --rss-limit-mib (the report
is still printed, with a warning).
EOF
}

# ---------------------------------------------------------------- arguments

while [[ $# -gt 0 ]]; do
    case $1 in
        --build-dir | --build-dir=*)         take_arg BUILD_DIR "$@"; shift "$ARG_SHIFT" ;;
        --data-dir | --data-dir=*)           take_arg DATA_DIR "$@"; shift "$ARG_SHIFT" ;;
        --runs | --runs=*)                   take_arg RUNS "$@"; shift "$ARG_SHIFT" ;;
        --variants | --variants=*)           take_arg VARIANTS_ARG "$@"; shift "$ARG_SHIFT" ;;
        --timeout | --timeout=*)             take_arg TIMEOUT "$@"; shift "$ARG_SHIFT" ;;
        --rss-limit-mib | --rss-limit-mib=*) take_arg RSS_LIMIT_MIB "$@"; shift "$ARG_SHIFT" ;;
        --settle | --settle=*)               take_arg SETTLE "$@"; shift "$ARG_SHIFT" ;;
        -h | --help)                         usage; exit 0 ;;
        *)                                   usage >&2; die "unknown argument: $1" ;;
    esac
done

require_positive_int runs "$RUNS"
require_positive_int timeout "$TIMEOUT"
require_positive_int rss-limit-mib "$RSS_LIMIT_MIB"
[[ $SETTLE =~ ^([0-9]+|auto)$ ]] || die "--settle must be a whole number of seconds or auto (got '$SETTLE')"
parse_list VARIANTS variants "$VARIANTS_ARG" "${ALL_VARIANTS[@]}"
[[ -n $DATA_DIR ]] || die "--data-dir must not be empty"
DATA_DIR=$(realpath -m -- "$DATA_DIR")

NEED_SYNC=0
for v in "${VARIANTS[@]}"; do
    [[ $v != *-sync ]] || NEED_SYNC=1
done

# free_page_reporting: "yes" if a virtio-balloon device offers free page
# reporting (feature bit 5, VIRTIO_BALLOON_F_REPORTING), else "no".
free_page_reporting() {
    local f bits
    for f in /sys/bus/virtio/drivers/virtio_balloon/virtio*/features; do
        [[ -r $f ]] || continue
        bits=$(<"$f")
        [[ ${bits:5:1} == 1 ]] && { echo yes; return 0; }
    done
    echo no
}
PAGE_REPORTING=$(free_page_reporting)
if [[ $SETTLE == auto ]]; then
    if [[ $PAGE_REPORTING == yes ]]; then SETTLE=20; else SETTLE=2; fi
fi

# ------------------------------------------------------------ preconditions

require_vstream_bin "$BUILD_DIR"
require_tools curl taskset timeout awk sort cmp dd head stat realpath getconf sleep \
    sha256sum df sync date wc grep cut
require_vstream_flag --upload-dir
[[ $NEED_SYNC == 0 ]] || require_vstream_flag --upload-sync
require_cpus

FILE=$DATA_DIR/$SOURCE_NAME
mkdir -p -- "$DATA_DIR" || die "cannot create the data dir $DATA_DIR"
[[ -w $DATA_DIR ]] || die "the data dir $DATA_DIR is not writable"

# Free space: the source (unless it is there already), one upload and dd's
# file (never both at once, but counted both), plus 0.5 GiB of margin.
check_free_space() {
    local avail need size
    size=$(stat -c %s -- "$FILE" 2>/dev/null || echo -1)
    need=$((4 * GIB + GIB / 2))
    [[ $size == "$UPLOAD_BYTES" ]] || need=$((need + UPLOAD_BYTES))
    avail=$(df -B1 --output=avail -- "$DATA_DIR" | tail -n 1 | tr -d ' ') || true
    [[ $avail =~ ^[0-9]+$ ]] || die "cannot read the free space of $DATA_DIR (df)"
    if ((avail < need)); then
        die "not enough free space in $DATA_DIR: $(awk -v b="$avail" 'BEGIN { printf "%.1f", b / 2^30 }') GiB free, $(awk -v b="$need" 'BEGIN { printf "%.1f", b / 2^30 }') GiB needed
       (2 GiB source$([[ $size == "$UPLOAD_BYTES" ]] && echo ' (present)') + 2 GiB upload + 2 GiB dd file + 0.5 GiB margin); pass --data-dir DIR on a larger filesystem"
    fi
    log "free space in $DATA_DIR: $(awk -v b="$avail" 'BEGIN { printf "%.1f", b / 2^30 }') GiB (need $(awk -v b="$need" 'BEGIN { printf "%.1f", b / 2^30 }') GiB)"
}
check_free_space

# The temp dir (binary copy, logs, upload dir, dd's file) goes inside the data
# dir so that uploads and dd write to the source's filesystem; bench_cleanup
# stops the server first, then removes it.
TMPDIR=$DATA_DIR bench_init
snapshot_vstream_bin
UPLOAD_DIR=$TMP_DIR/uploads
DD_FILE=$TMP_DIR/dd.bin
mkdir -p -- "$UPLOAD_DIR"

# ----------------------------------------------------------------- helpers

mb_per_s() { awk -v b="$UPLOAD_BYTES" -v s="$1" 'BEGIN { if (s > 0) printf "%.1f", b / s / 1e6; else print 0 }'; }

# source_sha256: sha256sum of the source, cached in FILE.sha256 together with
# the file's size and mtime (recomputed when either changes).
source_sha256() {
    local cache=$FILE.sha256 stamp sum c_sum c_stamp
    stamp=$(stat -c '%s %Y' -- "$FILE")
    if [[ -r $cache ]] && read -r c_sum c_stamp <"$cache" && [[ $c_stamp == "${stamp// /:}" && $c_sum =~ ^[0-9a-f]{64}$ ]]; then
        echo "$c_sum"
        return 0
    fi
    log "computing the sha256 of $FILE"
    sum=$(timeout 600 sha256sum -- "$FILE" | awk '{ print $1 }') || die "sha256sum of $FILE failed"
    [[ $sum =~ ^[0-9a-f]{64}$ ]] || die "sha256sum of $FILE gave '$sum'"
    printf '%s %s\n' "$sum" "${stamp// /:}" >"$cache" || log "WARNING: cannot cache the sha256 in $cache"
    echo "$sum"
}

# settle: removes what earlier measurements wrote and flushes the filesystem
# (bounded), so that no writeback of theirs overlaps the next measurement,
# then waits SETTLE seconds (free page reporting, see --help).
settle() {
    rm -rf -- "$UPLOAD_DIR" "$DD_FILE"
    mkdir -p -- "$UPLOAD_DIR"
    timeout "$TIMEOUT" sync -f -- "$DATA_DIR" || die "sync -f $DATA_DIR did not finish within $TIMEOUT s"
    sleep "$SETTLE"
}

# cpu_busy_start / cpu_busy_stop: how busy SERVER_CPU was in between, whoever
# used it (%), in SERVER_CPU_BUSY_PCT (cpu_meter_* only measure CLIENT_CPU so).
cpu_busy_start() { CPU_BUSY0=$(cpu_jiffies "$SERVER_CPU"); }
cpu_busy_stop() {
    SERVER_CPU_BUSY_PCT=$(awk -v a="$CPU_BUSY0" -v b="$(cpu_jiffies "$SERVER_CPU")" \
        'BEGIN { split(a, x, " "); split(b, y, " "); d = y[2] - x[2]
                 printf "%.0f", (d > 0) ? (y[1] - x[1]) / d * 100 : 0 }')
}

# json_field FILE NAME: the values of "NAME": in a compact JSON document, one
# per line (strings without their quotes).
json_field() {
    grep -oE "\"$2\":(\"[^\"]*\"|[0-9]+)" -- "$1" | sed -E "s/^\"$2\"://; s/^\"//; s/\"$//" || true
}

RESULTS=$TMP_DIR/results.tsv
: >"$RESULTS"

# Rows of $RESULTS (TSV): run variant seconds MB/s idle_rss peak_rss
# peak_anon peak_file hwm (MiB) server_cpu% client_cpu_busy% samples
# server_cpu_busy%; the dd rows have "-" in the memory, server CPU and
# samples columns.

# measure_dd RUN VARIANT: dd (dd-sync with conv=fdatasync) of 2 GiB of zeros.
measure_dd() {
    local run=$1 name=$2 out=$TMP_DIR/dd-$2-$1.txt secs
    local -a args=(if=/dev/zero "of=$DD_FILE" bs=1M count=$((UPLOAD_BYTES / 1048576)))
    [[ $name == dd ]] || args+=(conv=fdatasync)
    settle
    log "run $run/$RUNS: dd ${args[*]}"
    cpu_meter_start $$
    cpu_busy_start
    if ! run_client $((TIMEOUT + 30)) "$out" dd "${args[@]}"; then
        cat "$out" >&2
        die "dd ${args[*]} failed"
    fi
    cpu_busy_stop
    cpu_meter_stop
    # "2147483648 bytes (2.1 GB, 2.0 GiB) copied, 1.23456 s, 1.7 GB/s"
    secs=$(awk '/ copied, / { for (i = 1; i < NF; i++) if ($(i + 1) == "s,") { print $i; exit } }' "$out")
    [[ $secs =~ ^[0-9.]+(e[-+]?[0-9]+)?$ ]] || { cat "$out" >&2; die "could not parse dd's output"; }
    grep -q "^$UPLOAD_BYTES bytes" "$out" || { cat "$out" >&2; die "dd did not write $UPLOAD_BYTES bytes"; }
    rm -f -- "$DD_FILE"
    log "run $run/$RUNS: $name: $secs s, $(mb_per_s "$secs") MB/s"
    printf '%s\t%s\t%s\t%s\t-\t-\t-\t-\t-\t-\t%s\t-\t%s\n' "$run" "$name" "$secs" "$(mb_per_s "$secs")" \
        "$CLIENT_CPU_PCT" "$SERVER_CPU_BUSY_PCT" >>"$RESULTS"
}

# measure_upload RUN VARIANT: one fresh server, one 2 GiB upload, sampled and
# checked.
measure_upload() {
    local run=$1 name=$2 port base stored url
    local -a server_args=(--upload-dir "$UPLOAD_DIR") curl_args
    [[ $name != *-sync ]] || server_args+=(--upload-sync)
    log "run $run/$RUNS: $name: warming the page cache"
    warm_page_cache "$FILE"
    settle
    port=$(free_port)
    base="http://127.0.0.1:$port"
    launch_server vstream "$TMP_DIR/vstream.log" "$TMP_DIR/vstream.log" \
        "$VSTREAM_EXEC" --host 127.0.0.1 --port "$port" --threads 1 --quiet "${server_args[@]}"
    wait_ready "$base/ping"

    case $name in
        put*)
            stored=upload-$run-$name.bin
            url=$base/upload/$stored
            curl_args=(-T "$FILE")
            ;;
        multipart*)
            stored=$SOURCE_NAME
            url=$base/upload
            curl_args=(-F "f=@$FILE;type=application/octet-stream")
            ;;
    esac

    local idle samples=$TMP_DIR/rss-$name-$run.tsv sampler
    idle=$(read_rss "$SERVER_PID") || die "$SERVER_NAME: cannot read /proc/$SERVER_PID/status"
    idle=${idle%%$'\t'*}
    : >"$samples"
    sample_rss "$samples" "$SERVER_PID" &
    sampler=$!
    track_bg "$sampler"
    taskset -p -c "$CLIENT_CPU" "$sampler" >/dev/null || die "cannot pin the RSS sampler to CPU $CLIENT_CPU"

    log "run $run/$RUNS: $name on port $port (pid $SERVER_PID): uploading 2 GiB to $url"
    local out=$TMP_DIR/curl-$name-$run.txt body=$TMP_DIR/body-$name-$run.json
    cpu_meter_start "$SERVER_PID"
    cpu_busy_start
    if ! run_client $((TIMEOUT + 30)) "$out" curl -sS --max-time "$TIMEOUT" -H 'Expect:' -o "$body" \
        -w '%{http_code} %{time_total} %{size_upload}\n' "${curl_args[@]}" "$url"; then
        cat "$out" >&2
        server_alive_or_die
        die "curl upload ($name) failed"
    fi
    cpu_busy_stop
    cpu_meter_stop
    local hwm
    hwm=$(read_rss "$SERVER_PID") || { server_alive_or_die; die "$SERVER_NAME exited during the upload"; }
    hwm=${hwm##*$'\t'}
    stop_pid "$sampler"
    untrack_bg "$sampler"
    server_alive_or_die
    stop_server

    # Checks: status, the JSON's file list, the stored bytes.
    local status secs sent sizes sums names n
    read -r status secs sent <"$out" || true
    [[ $status == 201 ]] || { cat "$body" >&2 2>/dev/null || true; echo >&2; die "$name: HTTP status $status (expected 201)"; }
    [[ $sent == "$((UPLOAD_BYTES))" || $name == multipart* ]] ||
        die "$name: curl sent $sent bytes, expected $UPLOAD_BYTES"
    sizes=$(json_field "$body" size)
    sums=$(json_field "$body" sha256)
    names=$(json_field "$body" name)
    n=$(grep -c . <<<"$sums" || true)
    [[ $n == 1 ]] || { cat "$body" >&2; echo >&2; die "$name: the response lists $n files, expected 1"; }
    [[ $sizes == "$UPLOAD_BYTES" ]] || { cat "$body" >&2; echo >&2; die "$name: the response gives size '$sizes', expected $UPLOAD_BYTES"; }
    [[ $sums == "$SOURCE_SHA256" ]] || { cat "$body" >&2; echo >&2; die "$name: the response gives sha256 '$sums', expected $SOURCE_SHA256"; }
    [[ $names == "$stored" ]] || { cat "$body" >&2; echo >&2; die "$name: the response names the file '$names', expected '$stored'"; }
    [[ $(stat -c %s -- "$UPLOAD_DIR/$stored" 2>/dev/null) == "$UPLOAD_BYTES" ]] ||
        die "$name: $UPLOAD_DIR/$stored is missing or does not have $UPLOAD_BYTES bytes"
    timeout 300 cmp -s -- "$UPLOAD_DIR/$stored" "$FILE" || die "$name: $UPLOAD_DIR/$stored differs from $FILE"
    rm -f -- "$UPLOAD_DIR/$stored"

    local n_samples peak anon file
    n_samples=$(wc -l <"$samples")
    [[ $n_samples -gt 0 ]] || die "no RSS samples for $name"
    peak=$(column_max "$samples" 1)
    anon=$(column_max "$samples" 2)
    file=$(column_max "$samples" 3)
    log "run $run/$RUNS: $name: 201 ok (size, sha256, bytes), $secs s, $(mb_per_s "$secs") MB/s; idle RSS $(kib_to_mib "$idle") MiB, peak $(kib_to_mib "$peak") MiB (VmHWM $(kib_to_mib "$hwm") MiB), $n_samples samples; server CPU ${SERVER_CPU_PCT}%, CPU $SERVER_CPU busy ${SERVER_CPU_BUSY_PCT}%, CPU $CLIENT_CPU busy ${CLIENT_CPU_PCT}%"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$name" "$secs" "$(mb_per_s "$secs")" \
        "$(kib_to_mib "$idle")" "$(kib_to_mib "$peak")" "$(kib_to_mib "$anon")" "$(kib_to_mib "$file")" \
        "$(kib_to_mib "$hwm")" "$SERVER_CPU_PCT" "$CLIENT_CPU_PCT" "$n_samples" "$SERVER_CPU_BUSY_PCT" >>"$RESULTS"
}

# -------------------------------------------------------------------- main

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
ensure_data_file "$FILE" "$UPLOAD_BYTES"
SOURCE_SHA256=$(source_sha256)
log "source $FILE, sha256 $SOURCE_SHA256"

BASELINES=(dd)
[[ $NEED_SYNC == 0 ]] || BASELINES+=(dd-sync)

CYCLE=("${BASELINES[@]}" "${VARIANTS[@]}")
log "variants: ${VARIANTS[*]}; baselines: ${BASELINES[*]}; $RUNS runs; settle ${SETTLE}s (free page reporting: $PAGE_REPORTING); binary $VSTREAM_BIN ($VSTREAM_ID)"
for ((run = 1; run <= RUNS; run++)); do
    for ((i = 0; i < ${#CYCLE[@]}; i++)); do
        m=${CYCLE[(i + run - 1) % ${#CYCLE[@]}]}
        if [[ $m == dd* ]]; then measure_dd "$run" "$m"; else measure_upload "$run" "$m"; fi
    done
done
rm -rf -- "$UPLOAD_DIR" "$DD_FILE"

# ------------------------------------------------------------------ report

baseline_of() { if [[ $1 == *-sync ]]; then echo dd-sync; else echo dd; fi; }

# max_of VARIANT COLUMN: the largest value of COLUMN over the runs of VARIANT.
max_of() { awk -F'\t' -v s="$1" -v c="$2" '$2 == s && (!n++ || $c > m) { m = $c } END { print m + 0 }' "$RESULTS"; }

SUMMARY=$TMP_DIR/summary.tsv
PER_RUN=$TMP_DIR/per-run.tsv
: >"$SUMMARY"
: >"$PER_RUN"
WORST_PEAK=0
for v in "${VARIANTS[@]}"; do
    b=$(baseline_of "$v")
    up=$(median "$RESULTS" "$v" 4)
    base=$(median "$RESULTS" "$b" 4)
    peak=$(max_of "$v" 6)
    hwm=$(max_of "$v" 9)
    worst=$(awk -v a="$peak" -v b="$hwm" 'BEGIN { print (a > b ? a : b) }')
    WORST_PEAK=$(awk -v a="$WORST_PEAK" -v b="$worst" 'BEGIN { print (a > b ? a : b) }')
    verdict=$(awk -v w="$worst" -v l="$RSS_LIMIT_MIB" 'BEGIN { print (w < l ? "yes" : "**NO**") }')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$up" "$b" "$base" "$(ratio "$up" "$base")" \
        "$(median "$RESULTS" "$v" 5)" "$peak" "$(max_of "$v" 7)" "$hwm" "$verdict" \
        "$(median "$RESULTS" "$v" 10)" >>"$SUMMARY"
done
# Per-run table: uploads with their run's baseline.
awk -F'\t' 'NR == FNR { if ($2 ~ /^dd/) base[$1, $2] = $4; next }
    $2 !~ /^dd/ { b = ($2 ~ /-sync$/) ? "dd-sync" : "dd"; r = base[$1, b]
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", $1, $2, $3, $4, b, r,
            (r > 0 ? sprintf("%.3f", $4 / r) : "n/a"), $5, $6, $7, $8, $9, $10, $13, $11 }' \
    "$RESULTS" "$RESULTS" >"$PER_RUN"
DD_ROWS=$TMP_DIR/dd-rows.tsv
awk -F'\t' '$2 ~ /^dd/ { printf "%s\t%s\t%s\t%s\t%s\t%s\n", $1, $2, $3, $4, $13, $11 }' "$RESULTS" >"$DD_ROWS"

FS_DESC=$(findmnt -n -o SOURCE,FSTYPE,OPTIONS -T "$DATA_DIR" 2>/dev/null | awk '{ print $1 " (" $2 ", " $3 ")" }' || true)
[[ -n $FS_DESC ]] || FS_DESC=$(stat -f -c %T -- "$DATA_DIR")
CURL_VERSION=$(curl --version | head -n 1 | awk '{ print $1, $2 }')
RSS_OK=$(awk -v w="$WORST_PEAK" -v l="$RSS_LIMIT_MIB" 'BEGIN { print (w < l ? 1 : 0) }')
if [[ $RSS_OK == 1 ]]; then
    RSS_VERDICT="**met**: the largest peak over all uploads is $WORST_PEAK MiB < $RSS_LIMIT_MIB MiB"
else
    RSS_VERDICT="**MISSED**: the largest peak over all uploads is $WORST_PEAK MiB >= $RSS_LIMIT_MIB MiB"
fi

cat <<EOF
## Uploading a 2 GiB file into vstream-serve: memory and throughput

$(md_env | grep -v '^- wrk:')
- curl: $CURL_VERSION; filesystem of the data dir: $FS_DESC; RAM $(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), vm.dirty_ratio $(cat /proc/sys/vm/dirty_ratio 2>/dev/null || echo '?')%, vm.dirty_background_ratio $(cat /proc/sys/vm/dirty_background_ratio 2>/dev/null || echo '?')%
- Server: \`vstream-serve --host 127.0.0.1 --port PORT --threads 1 --quiet --upload-dir DIR [--upload-sync]\` on CPU $SERVER_CPU (default --upload-max-mb 4096), a fresh one per upload${VSTREAM_ID:+; binary \`$BUILD_DIR/examples/vstream-serve\` ($VSTREAM_ID), copied at start}
- Uploads, curl on CPU $CLIENT_CPU over loopback: put = \`curl -T FILE -H 'Expect:' http://127.0.0.1:PORT/upload/NAME\`; multipart = \`curl -F 'f=@FILE;type=application/octet-stream' -H 'Expect:' http://127.0.0.1:PORT/upload\`; *-sync = the same against a server with \`--upload-sync\`
- Baselines, on CPU $CLIENT_CPU, same filesystem, same run: dd = \`dd if=/dev/zero of=DIR/dd.bin bs=1M count=2048\` (page cache; for put and multipart); dd-sync = the same with \`conv=fdatasync\` (for the -sync variants)
- Throughput: 2147483648 bytes / time, in MB/s (10^6 bytes/s); an upload's time is curl's time_total (connect to the end of the 201), dd's the one it prints; Ratio = upload / baseline (medians over $RUNS runs)
- Order: each run does ${CYCLE[*]} as a cycle, starting one step further on in each run; before each measurement the previous files are deleted, the filesystem flushed (\`sync -f\`) and the script waits ${SETTLE}s; the source is read once before each upload (page cache warm)
- virtio-balloon free page reporting: $PAGE_REPORTING$([[ $PAGE_REPORTING == yes ]] && echo " (memory freed more than a few seconds ago is handed back to the host and faults in again when reused, so page-cache writes here are far slower than RAM speed; the ${SETTLE}s pause puts every measurement in that state, see --help)")
- Checks on every upload: 201, the JSON lists one file with size 2147483648 and sha256 \`$SOURCE_SHA256\` (sha256sum of the source), the stored file has the same bytes (cmp)
- Memory: /proc/PID/status sampled every ${SAMPLE_INTERVAL}s on CPU $CLIENT_CPU; Peak columns are the largest sample over the runs, VmHWM the largest kernel high-water mark read at the end of an upload; Idle is VmRSS after startup (median)
- CPU columns: Server CPU % is the server's CPU time over the upload's wall time (100 = one core); CPU $SERVER_CPU / CPU $CLIENT_CPU busy % is how busy each CPU was, whoever used it (other processes on the machine included: busy well above the server's or curl's own share means contention)
- Load average (1/5/15 min) at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg)
- Data: random bytes in \`$FILE\`
- Command: \`$COMMAND_LINE\`

### Summary (medians over $RUNS runs)

Target: peak RSS while uploading 2 GiB < $RSS_LIMIT_MIB MiB: $RSS_VERDICT.

$(md_header Variant:l "Upload (MB/s):r" Baseline:l "Baseline (MB/s):r" "Ratio:r" "Idle RSS (MiB):r" "Peak RSS (MiB):r" "Peak RssAnon (MiB):r" "VmHWM (MiB):r" "< $RSS_LIMIT_MIB MiB:l" "Server CPU %:r")
$(md_rows "$SUMMARY" %s %s %s %s %s %s %s %s %s %s %s)

### Every run

$(md_header Run:r Variant:l "Time (s):r" "MB/s:r" Baseline:l "Baseline MB/s:r" Ratio:r "Idle RSS (MiB):r" "Peak RSS (MiB):r" "Peak RssAnon (MiB):r" "Peak RssFile (MiB):r" "VmHWM (MiB):r" "Server CPU %:r" "CPU $SERVER_CPU busy %:r" "CPU $CLIENT_CPU busy %:r")
$(md_rows "$PER_RUN" %s %s %s %s %s %s %s %s %s %s %s %s %s %s %s)

$(md_header Run:r Baseline:l "Time (s):r" "MB/s:r" "CPU $SERVER_CPU busy %:r" "CPU $CLIENT_CPU busy %:r")
$(md_rows "$DD_ROWS" %s %s %s %s %s %s)
EOF

if [[ $RSS_OK != 1 ]]; then
    cat <<EOF

> **WARNING: the server's peak RSS reached $WORST_PEAK MiB, at or above the
> $RSS_LIMIT_MIB MiB target.**
EOF
    log "!!!!! WARNING: peak RSS $WORST_PEAK MiB >= $RSS_LIMIT_MIB MiB (see report)"
    exit 3
fi
log "done: peak RSS $WORST_PEAK MiB < $RSS_LIMIT_MIB MiB"
