#!/usr/bin/env bash
# bench/vs.sh — chorus beside etcd and Redis, measured one after the other in one run on this
# machine (issue 12). Absolute rates move with the machine and its disk, so the targets are
# ratios between figures taken in the same run. Prints one markdown table (date in UTC and the
# disk's bare append+fdatasync rate in its header) and saves it in $BUILD/bench-vs.md.
#   disk:   $BUILD/bench/wal_bench, the bare append+fdatasync rate (as bench/run.sh reads it)
#   chorus: 3 chorusd on loopback (tests/cluster/lib.sh), fsync on, 256-byte values,
#           redis-benchmark -r 100000 -d 256 against the leader: SET -c 50, SET -P 16 -c 50,
#           SET -c 1, for each protocol; then S = 16 shards (R = 3) with SET -c 50 plain against
#           node 1 and with redis-benchmark --cluster (to every shard's leader)
#   etcd:   Debian's etcd 3.4, 3 members on loopback, its own load generator (tools/benchmark,
#           built by ../shared/bench/build-etcd-benchmark.sh): put, 64 clients on 8 connections,
#           to the leader, 256-byte values, 8-byte keys out of 100,000; then 1 client for latency
#   Redis:  one Debian redis-server, appendonly yes, appendfsync always: SET -c 50, -P 16 -c 50,
#           -c 1, the same value size and key range
# Every chorus and Redis row also says where the CPU went during its run: the share of the
# machine's CPUs that were busy (servers, load generator and all: about 100 % means the run was
# limited by the CPUs, not by waiting on the disk) and the servers' CPU per request (the three
# chorusd together; redis-server alone).
# It installs what it needs from Debian (root, or sudo). When etcd's load generator cannot be
# built it says so and reports chorus and Redis alone.
# Every command is bounded (timeout); every process and directory it made goes at exit (trap).
# Knobs (environment):
#   VS_REQUESTS (100000)        SET -c 50 requests, for chorus and Redis
#   VS_PIPE_REQUESTS (300000)   SET -P 16 -c 50 requests
#   VS_C1_REQUESTS (5000)       SET -c 1 requests
#   VS_ETCD_TOTAL (70000)       etcd puts at 64 clients (about 10 s at 7,000/s)
#   VS_ETCD_TOTAL_C1 (3000)     etcd puts at 1 client
#   VS_PROTOCOLS ("raft paxos") chorus protocols measured
#   VS_SHARDS (16)              the sharded run's S; 0 skips it
#   VS_PORT_BASE (32400)        chorus base+1.., etcd base+101.. and base+111.., Redis base+150
#   VS_ETCD_BENCH (/tmp/etcd-benchmark), VS_ETCD_BUILD_TIMEOUT_S (900), VS_SKIP_ETCD (0)
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
REQ=${VS_REQUESTS:-100000}
PREQ=${VS_PIPE_REQUESTS:-300000}
REQ1=${VS_C1_REQUESTS:-5000}
ETCD_TOTAL=${VS_ETCD_TOTAL:-70000}
ETCD_TOTAL1=${VS_ETCD_TOTAL_C1:-3000}
PROTOCOLS=${VS_PROTOCOLS:-raft paxos}
SHARDED=${VS_SHARDS:-16}
BASE=${VS_PORT_BASE:-32400}
ETCD_BENCH=${VS_ETCD_BENCH:-/tmp/etcd-benchmark}
ETCD_BUILDER=${VS_ETCD_BUILDER:-../shared/bench/build-etcd-benchmark.sh}
OUT=$BUILD/bench-vs.md
# A server outlives this script by at most this long even if the script is killed with
# SIGKILL (no trap then): each is started under timeout(1).
SERVER_LIFETIME_S=${VS_SERVER_LIFETIME_S:-1800}
t_start=$(date +%s)

for v in "$REQ" "$PREQ" "$REQ1" "$ETCD_TOTAL" "$ETCD_TOTAL1" "$SHARDED" "$BASE"; do
    [[ $v =~ ^[0-9]+$ ]] || { echo "bench/vs.sh: the VS_* counts and VS_PORT_BASE take integers"; exit 2; }
done
[ -x "$BUILD/bin/chorusd" ] && [ -x "$BUILD/bench/wal_bench" ] ||
    { echo "bench/vs.sh: $BUILD/bin/chorusd or $BUILD/bench/wal_bench missing: make BUILD=$BUILD first"; exit 2; }

# ---- what it needs from Debian
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
missing=""
for pair in etcd-server:etcd etcd-client:etcdctl redis-server:redis-server redis-tools:redis-benchmark \
            redis-tools:redis-cli; do
    command -v "${pair##*:}" >/dev/null || missing="$missing ${pair%%:*}"
done
if [ -n "$missing" ]; then
    echo "== installing from Debian:$missing"
    as_root timeout 300 apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    as_root env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq $missing >/dev/null
fi
for c in redis-server redis-benchmark redis-cli; do
    command -v "$c" >/dev/null || { echo "bench/vs.sh: $c is not installed and could not be"; exit 1; }
done
etcd_ok=1
etcd_why=""
if [ "${VS_SKIP_ETCD:-0}" = 1 ]; then
    etcd_ok=0; etcd_why="skipped (VS_SKIP_ETCD=1)"
elif ! command -v etcd >/dev/null; then
    etcd_ok=0; etcd_why="etcd is not installed and could not be"
elif [ ! -x "$ETCD_BENCH" ]; then
    echo "== building etcd's load generator ($ETCD_BUILDER -> $ETCD_BENCH)"
    if [ ! -f "$ETCD_BUILDER" ]; then
        etcd_ok=0; etcd_why="$ETCD_BUILDER not found"
    elif ! as_root timeout "${VS_ETCD_BUILD_TIMEOUT_S:-900}" bash "$ETCD_BUILDER" "$ETCD_BENCH" \
            >"/tmp/vs-etcd-build.$$.log" 2>&1 || [ ! -x "$ETCD_BENCH" ]; then
        etcd_ok=0; etcd_why="its load generator could not be built ($(tail -n 2 "/tmp/vs-etcd-build.$$.log" | tr '\n' ' '))"
    fi
    rm -f "/tmp/vs-etcd-build.$$.log"
fi
[ "$etcd_ok" = 1 ] || echo "bench/vs.sh: etcd is left out: $etcd_why; chorus and Redis alone"

# ---- ports, directories, cleanup
PORT_BASE=$BASE
export PORT_BASE
. tests/cluster/lib.sh
. tests/cluster/shards_lib.sh
work=$(mktemp -d /tmp/chorus-vs.XXXXXX)
ETCD_PIDS=()
REDIS_PID=""
# stop_pid PID — SIGTERM, up to 5 s to go, then SIGKILL; reaps it.
stop_pid() {
    kill -TERM "$1" 2>/dev/null || return 0
    wait_for 5 pid_gone "$1" || kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
pid_gone() { ! kill -0 "$1" 2>/dev/null; }
vs_cleanup() {
    local p
    for p in "${ETCD_PIDS[@]}" $REDIS_PID; do stop_pid "$p"; done
    ETCD_PIDS=(); REDIS_PID=""
    # lib.sh's cleanup kills the chorusd nodes, reaps every child and removes CLUSTER_DIR.
    cluster_cleanup
    rm -rf "$work"
}
trap vs_cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench/vs.sh: $*"; exit 1; }

port_busy() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
ETCD_CLIENT=(); ETCD_PEER=()
for i in 1 2 3; do ETCD_CLIENT[i]=$((BASE + 100 + i)); ETCD_PEER[i]=$((BASE + 110 + i)); done
REDIS_PORT=$((BASE + 150))
for p in $(seq $((BASE + 1)) $((BASE + 13))) "${ETCD_CLIENT[@]}" "${ETCD_PEER[@]}" "$REDIS_PORT"; do
    port_busy "$p" && die "port $p is in use: set VS_PORT_BASE to another base"
done

# ---- figures
# Every measurement is kept as NAME_rps, NAME_p50, NAME_p99 (ms) in M[].
declare -A M
rows=()
# CSV of redis-benchmark: "test","rps","avg_latency_ms","min","p50","p95","p99","max".
field() { echo "$1" | tr -d '"' | cut -d, -f"$2"; }
# rb PORT ARGS... — one bounded redis-benchmark run; its CSV line for the last test.
rb() {
    local port=$1; shift
    timeout 300 redis-benchmark -p "$port" -d 256 -r 100000 -q --csv "$@" 2>/dev/null </dev/null | tail -n 1
}
# cpu_machine — all CPUs' clock ticks so far and the idle ones among them (/proc/stat).
cpu_machine() { awk '/^cpu / { t = 0; for (i = 2; i <= NF; i++) t += $i; print t, $5 + $6 }' /proc/stat; }
# pids_ticks PID... — the user + system ticks those processes used so far (all threads).
pids_ticks() {
    local p t sum=0
    for p in "$@"; do
        t=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }')
        sum=$((sum + ${t:-0}))
    done
    echo "$sum"
}
TICKS=$(getconf CLK_TCK)
# rbm NAME REQUESTS "PIDS" PORT ARGS... — rb, kept under NAME, with where the CPU went: the
# share of the machine's CPUs busy during the run (servers, load generator and all) and the
# servers' CPU per request. A run at about 100 % busy is limited by the CPUs, not by waiting.
rbm() {
    local name=$1 n=$2 pids=$3 mt0 mi0 mt1 mi1 p0 p1 csv
    shift 3
    read -r mt0 mi0 < <(cpu_machine)
    # shellcheck disable=SC2086 # PIDS is a list.
    p0=$(pids_ticks $pids)
    csv=$(rb "$@")
    read -r mt1 mi1 < <(cpu_machine)
    # shellcheck disable=SC2086
    p1=$(pids_ticks $pids)
    keep "$name" "$csv" || return 0
    M[${name}_cpu]=$(awk -v t="$((mt1 - mt0))" -v i="$((mi1 - mi0))" -v p="$((p1 - p0))" \
        -v k="$TICKS" -v n="$n" 'BEGIN { if (t <= 0) t = 1
            printf "CPUs %.0f %% busy, servers %.0f us CPU/req", (t - i) * 100 / t, p / k * 1e6 / n }')
    echo "    ${M[${name}_cpu]}"
}
# keep NAME CSV — stores a redis-benchmark CSV line's rps, p50 and p99 under NAME.
keep() {
    local rps
    rps=$(field "$2" 2)
    [[ $rps =~ ^[0-9.]+$ ]] || { echo "  $1: no result"; return 1; }
    M[$1_rps]=$rps; M[$1_p50]=$(field "$2" 5); M[$1_p99]=$(field "$2" 7)
    echo "  $1: ${M[$1_rps]} req/s, p50 ${M[$1_p50]} ms, p99 ${M[$1_p99]} ms"
}
# fmt_int N — 12345.6 -> 12,346 (the C locale has no thousands separator: sed inserts it).
fmt_int() { LC_ALL=C printf '%.0f' "$1" | sed ':a; s/\B[0-9]\{3\}\>/,&/; ta'; }
# row LABEL NAME NOTE — a measurement row from M[] (blank cells for what is missing).
row() {
    local rps=${M[$2_rps]:-} p50=${M[$2_p50]:-} p99=${M[$2_p99]:-}
    [ -n "$rps" ] && rps=$(fmt_int "$rps")
    local note=$3 cpu=${M[$2_cpu]:-}
    [ -n "$cpu" ] && note="${note:+$note; }$cpu"
    rows+=("| $1 | ${rps:-n/a} | ${p50:-} | ${p99:-} | $note |")
}
# ratio LABEL A B TARGET_OP TARGET — A / B, met when A / B TARGET_OP TARGET (>= or <=); with
# TARGET_OP "report" the ratio alone.
ratio() {
    local label=$1 a=$2 b=$3 op=$4 target=$5 r met
    if [ -z "$a" ] || [ -z "$b" ]; then
        rows+=("| $label | | | | n/a (a figure is missing) |"); return
    fi
    r=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "inf"; else printf "%.2f", a / b }')
    [ "$op" = report ] && { rows+=("| $label | | | | **${r} x** |"); return; }
    met=$(awk -v r="$r" -v t="$target" -v op="$op" 'BEGIN {
        if (r == "inf") { print (op == ">=" ? "met" : "not met"); exit }
        if (op == ">=") print (r + 0 >= t + 0 ? "met" : "not met"); else print (r + 0 <= t + 0 ? "met" : "not met") }')
    rows+=("| $label | | | | **${r} x** (target $op $target x: $met) |")
}
# limit LABEL VALUE_MS LIMIT_MS — a latency against an absolute bound.
limit() {
    local met
    [ -n "$2" ] || { rows+=("| $1 | | | | n/a; target <= $3 ms |"); return; }
    met=$(awk -v v="$2" -v t="$3" 'BEGIN { print (v + 0 <= t + 0 ? "met" : "not met") }')
    rows+=("| $1 | | | | **$2 ms** (target <= $3 ms: $met) |")
}

# ---- disk
echo "== disk: bare append+fdatasync"
mkdir -p "$work/wal"
wal=$(timeout 120 "$BUILD/bench/wal_bench" --dir "$work/wal" --seconds 0.5 2>&1)
rm -rf "$work/wal"
bare=$(echo "$wal" | sed -n 's/.*bare append+fdatasync: *\([0-9]*\).*/\1/p')
echo "  ${bare:-?} syncs/s"

# ---- chorus
# chorus_fresh PROTOCOL S — a fresh 3-node cluster; with S > 1, R = 3 and every shard writable
# and led once.
chorus_fresh() {
    shards_cluster_stop
    # shellcheck disable=SC2034 # lib.sh's node_start reads PROTOCOL, SHARDS and NODE_FLAGS.
    PROTOCOL=$1
    # shellcheck disable=SC2034
    SHARDS=$2
    # shellcheck disable=SC2034
    if [ "$2" -gt 1 ]; then NODE_FLAGS="--replicas 3"; else NODE_FLAGS=""; fi
    NODE_START_TIMEOUT_S=60 cluster_start 3 || return 1
    if [ "$2" -gt 1 ]; then
        : >"$work/acked.jsonl"
        shards_writable 120 "$work/acked.jsonl" "vs$1" >/dev/null || { echo "not every shard writable"; return 1; }
        wait_for 30 shards_led_once || { echo "groups_leading never added up to $2"; return 1; }
    fi
}
leader_wal() {
    cli "$1" info stats 2>/dev/null | tr -d '\r' |
        awk -F: '$1 == "wal_entries_per_sync" {e = $2} $1 == "wal_sync_avg_us" {a = $2} $1 == "wal_syncs" {s = $2}
                 END {printf "leader %s syncs since start, %s entries/sync, %s us/sync", s, e, a}'
}
for proto in $PROTOCOLS; do
    echo "== chorus, $proto, 3 nodes, S = 1"
    chorus_fresh "$proto" 1 || die "chorus ($proto) did not start"
    leader=$(wait_leader 200) || die "chorus ($proto): no leader"
    port=$(client_port "$leader")
    nodes="${NODE_PID[1]} ${NODE_PID[2]} ${NODE_PID[3]}"
    rbm "c_${proto}_c50" "$REQ" "$nodes" "$port" -t set -n "$REQ" -c 50
    M[c_${proto}_wal]=$(leader_wal "$leader")
    rbm "c_${proto}_p16" "$PREQ" "$nodes" "$port" -t set -n "$PREQ" -c 50 -P 16
    rbm "c_${proto}_c1" "$REQ1" "$nodes" "$port" -t set -n "$REQ1" -c 1
    if [ "$SHARDED" -gt 1 ]; then
        echo "== chorus, $proto, 3 nodes, S = $SHARDED, R = 3"
        if chorus_fresh "$proto" "$SHARDED"; then
            lead=""; for i in 1 2 3; do lead="$lead n$i=$(info_field "$i" groups_leading)"; done
            M[c_${proto}_s_lead]="leaders${lead}"
            nodes="${NODE_PID[1]} ${NODE_PID[2]} ${NODE_PID[3]}"
            rbm "c_${proto}_s_plain" "$REQ" "$nodes" "$(client_port 1)" -t set -n "$REQ" -c 50
            rbm "c_${proto}_s_cluster" "$REQ" "$nodes" "$(client_port 1)" --cluster -t set -n "$REQ" -c 50
        else
            echo "  S = $SHARDED did not start: left out"
        fi
    fi
done
shards_cluster_stop

# ---- etcd
# etcd_summary NAME FILE — Requests/sec and the 50% / 99% lines of etcd-benchmark's summary.
etcd_summary() {
    local rps p50 p99
    rps=$(sed -n 's/^ *Requests\/sec:[[:space:]]*\([0-9.]*\).*/\1/p' "$2")
    p50=$(sed -n 's/^ *50% in \([0-9.]*\) secs.*/\1/p' "$2")
    p99=$(sed -n 's/^ *99% in \([0-9.]*\) secs.*/\1/p' "$2")
    [[ $rps =~ ^[0-9.]+$ ]] || { echo "  $1: no result"; tail -n 5 "$2"; return 1; }
    M[$1_rps]=$rps
    M[$1_p50]=$(awk -v s="$p50" 'BEGIN { printf "%.3f", s * 1000 }')
    M[$1_p99]=$(awk -v s="$p99" 'BEGIN { printf "%.3f", s * 1000 }')
    echo "  $1: ${M[$1_rps]} puts/s, p50 ${M[$1_p50]} ms, p99 ${M[$1_p99]} ms"
}
etcd_writable() {
    ETCDCTL_API=3 timeout 3 etcdctl --endpoints="127.0.0.1:${ETCD_CLIENT[1]}" --command-timeout=2s \
        put vs-probe x >/dev/null 2>&1
}
if [ "$etcd_ok" = 1 ]; then
    echo "== etcd $(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p'), 3 members"
    initial=""
    for i in 1 2 3; do initial="$initial${initial:+,}e$i=http://127.0.0.1:${ETCD_PEER[i]}"; done
    for i in 1 2 3; do
        timeout "$SERVER_LIFETIME_S" etcd --name "e$i" --data-dir "$work/etcd$i" \
            --listen-client-urls "http://127.0.0.1:${ETCD_CLIENT[i]}" \
            --advertise-client-urls "http://127.0.0.1:${ETCD_CLIENT[i]}" \
            --listen-peer-urls "http://127.0.0.1:${ETCD_PEER[i]}" \
            --initial-advertise-peer-urls "http://127.0.0.1:${ETCD_PEER[i]}" \
            --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token chorus-vs \
            --logger zap --log-level warn >"$work/etcd$i.log" 2>&1 </dev/null &
        ETCD_PIDS+=($!)
    done
    eps="127.0.0.1:${ETCD_CLIENT[1]},127.0.0.1:${ETCD_CLIENT[2]},127.0.0.1:${ETCD_CLIENT[3]}"
    if wait_for 30 etcd_writable; then
        eb() { timeout 300 "$ETCD_BENCH" --endpoints="$eps" --target-leader --precise "$@" 2>>"$work/etcd-bench.err" </dev/null; }
        eb --conns=8 --clients=64 put --key-size=8 --key-space-size=100000 --val-size=256 \
            --total="$ETCD_TOTAL" >"$work/etcd-c64.txt"
        etcd_summary e_c64 "$work/etcd-c64.txt"
        eb --conns=1 --clients=1 put --key-size=8 --key-space-size=100000 --val-size=256 \
            --total="$ETCD_TOTAL1" >"$work/etcd-c1.txt"
        etcd_summary e_c1 "$work/etcd-c1.txt"
    else
        etcd_why="the 3 members took no write in 30 s"
        echo "  $etcd_why; $(tail -n 3 "$work/etcd1.log")"
    fi
    for p in "${ETCD_PIDS[@]}"; do stop_pid "$p"; done
    ETCD_PIDS=()
    rm -rf "$work"/etcd?
fi

# ---- Redis
echo "== Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'), appendonly yes, appendfsync always"
mkdir -p "$work/redis"
timeout "$SERVER_LIFETIME_S" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$work/redis" \
    --appendonly yes --appendfsync always --save "" --daemonize no --protected-mode yes \
    --logfile "$work/redis/redis.log" </dev/null >/dev/null 2>&1 &
REDIS_PID=$!
redis_up() { [ "$(timeout 2 redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
if wait_for 10 redis_up; then
    redis_pids=$(pgrep -P "$REDIS_PID" redis-server | tr '\n' ' ')
    rbm r_c50 "$REQ" "$redis_pids" "$REDIS_PORT" -t set -n "$REQ" -c 50
    rbm r_p16 "$PREQ" "$redis_pids" "$REDIS_PORT" -t set -n "$PREQ" -c 50 -P 16
    rbm r_c1 "$REQ1" "$redis_pids" "$REDIS_PORT" -t set -n "$REQ1" -c 1
else
    echo "  redis-server did not answer in 10 s"
fi
stop_pid "$REDIS_PID"; REDIS_PID=""

# ---- the table
for proto in $PROTOCOLS; do
    row "chorus $proto: SET, 50 clients" "c_${proto}_c50" "${M[c_${proto}_wal]:-}; target p99 <= 5 ms"
    row "chorus $proto: SET -P 16, 50 clients" "c_${proto}_p16" "target >= 150,000/s"
    row "chorus $proto: SET, 1 client" "c_${proto}_c1" "target p50 <= 0.4 ms"
    if [ "$SHARDED" -gt 1 ]; then
        row "chorus $proto S = $SHARDED: SET, 50 clients, plain against node 1" "c_${proto}_s_plain" "${M[c_${proto}_s_lead]:-}"
        row "chorus $proto S = $SHARDED: SET, 50 clients, --cluster" "c_${proto}_s_cluster" "to each shard's leader"
    fi
done
if [ "$etcd_ok" = 1 ]; then
    row "etcd: put, 64 clients, 8 connections, to the leader" e_c64 "etcd-benchmark, --total $ETCD_TOTAL"
    row "etcd: put, 1 client" e_c1 "etcd-benchmark, --total $ETCD_TOTAL1"
else
    rows+=("| etcd | n/a | | | left out: $etcd_why |")
fi
row "Redis appendfsync always: SET, 50 clients" r_c50 "one node, no replication"
row "Redis appendfsync always: SET -P 16, 50 clients" r_p16 ""
row "Redis appendfsync always: SET, 1 client" r_c1 ""
for proto in $PROTOCOLS; do
    p99=${M[c_${proto}_c50_p99]:-}
    limit "$proto: SET c50 p99" "$p99" 5
    [ "$etcd_ok" = 1 ] && ratio "$proto: SET c50 / etcd put c64" "${M[c_${proto}_c50_rps]:-}" "${M[e_c64_rps]:-}" ">=" 4
    ratio "$proto: SET c50 / Redis SET c50" "${M[c_${proto}_c50_rps]:-}" "${M[r_c50_rps]:-}" ">=" 0.8
    ratio "$proto: SET -P 16 / 150,000" "${M[c_${proto}_p16_rps]:-}" 150000 ">=" 1
    ratio "$proto: SET -P 16 / Redis SET -P 16" "${M[c_${proto}_p16_rps]:-}" "${M[r_p16_rps]:-}" report ""
    limit "$proto: SET c1 p50" "${M[c_${proto}_c1_p50]:-}" 0.4
    [ "$etcd_ok" = 1 ] && ratio "$proto: SET c1 p50 / etcd put c1 p50" "${M[c_${proto}_c1_p50]:-}" "${M[e_c1_p50]:-}" "<=" 1
    if [ "$SHARDED" -gt 1 ]; then
        ratio "$proto: S = $SHARDED plain / S = 1 (SET c50)" "${M[c_${proto}_s_plain_rps]:-}" "${M[c_${proto}_c50_rps]:-}" ">=" 1
        ratio "$proto: S = $SHARDED --cluster / S = 1 (SET c50)" "${M[c_${proto}_s_cluster_rps]:-}" "${M[c_${proto}_c50_rps]:-}" ">=" 1
    fi
done

{
    echo "chorus vs etcd vs Redis, $(date -u '+%F %H:%M') UTC, $(nproc) CPUs; disk: bare append+fdatasync ${bare:-?} syncs/s (wal_bench); 3 nodes on loopback, fsync on, 256-byte values, redis-benchmark -r 100000 -d 256; took $(( $(date +%s) - t_start )) s"
    echo
    echo "| measurement | req/s | p50 ms | p99 ms | note / ratio |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$OUT"
echo
cat "$OUT"
echo "(table saved in $OUT)"
