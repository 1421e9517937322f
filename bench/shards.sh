#!/usr/bin/env bash
# bench/shards.sh — what sharding costs and gives (issue 10, "Performance"); run by make bench.
# Prints a markdown table and saves it in $BUILD/bench-shards.md.
#   disk:     the bare append + fdatasync rate (bench/wal_bench, as bench/run.sh measures it)
#   SET:      3 nodes, R = 3, 50 clients, 256-byte values, S = 1, 4, 16, 64 side by side, each a
#             fresh cluster: redis-benchmark against node 1 (plain: node 1 forwards what it does
#             not lead) and redis-benchmark --cluster (to every shard's leader; S > 1); node 1's
#             fdatasyncs per second during the plain run, and each node's resident memory
#   idle:     S = 1,000 shards on 3 nodes, R = 3 (every node hosts all 1,000 groups): time until
#             every shard took a write, then CPU % of one core per node over 30 s of idleness
#             (/proc/PID/stat utime + stime) and resident memory
#   failover: S = 64 on 3 nodes under a SET load: SIGKILL of the node leading the most shards,
#             time until every shard took a write again through the others; median of 10 trials
# Every step is bounded (timeouts on every command, bounded waits). Knobs: BENCH_REQUESTS
# (default 100000), BENCH_SHARDS_LIST ("1 4 16 64"), BENCH_IDLE_SHARDS (1000),
# BENCH_IDLE_SECONDS (30), BENCH_FAILOVERS (10), PROTOCOL (raft).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
PROTOCOL=${PROTOCOL:-raft}
export PROTOCOL
REQ=${BENCH_REQUESTS:-100000}
SHARDS_LIST=${BENCH_SHARDS_LIST:-1 4 16 64}
IDLE_SHARDS=${BENCH_IDLE_SHARDS:-1000}
IDLE_SECONDS=${BENCH_IDLE_SECONDS:-30}
# Quiescence starts a few ticks after the last request; the CPU window starts after this.
IDLE_SETTLE_SECONDS=5
FAILOVERS=${BENCH_FAILOVERS:-10}
FAILOVER_SHARDS=64
OUT=$BUILD/bench-shards${BENCH_SUFFIX:-}.md
. tests/cluster/lib.sh
. tests/cluster/shards_lib.sh
NODES=3
NODE_FLAGS="--replicas 3"
ACKED=$CLUSTER_DIR/acked.jsonl
rows=()
row() { rows+=("| $1 | $2 | $3 |"); echo "  $1: $2"; }
die() { echo "bench/shards.sh: $*"; for f in "$CLUSTER_DIR"/node*.log; do [ -f "$f" ] && { echo "== $f"; tail -5 "$f"; }; done; exit 1; }

# start_shards S — a fresh 3-node cluster with S shards, every shard writable and led once.
start_shards() {
    SHARDS=$1
    shards_cluster_stop
    : >"$ACKED"
    NODE_START_TIMEOUT_S=60 cluster_start "$NODES" || die "start with S = $1"
    shards_writable 120 "$ACKED" "start$1" >/dev/null || die "S = $1: not every shard writable in 120 s"
    wait_for 30 shards_led_once || die "S = $1: groups_leading never added up to $1"
}

# rb ARGS... — one bounded redis-benchmark run, its CSV line for the last test.
rb() { timeout 300 redis-benchmark -d 256 -r 100000 -c 50 -q --csv "$@" 2>/dev/null </dev/null | tail -1; }
# CSV: "test","rps","avg","min","p50","p95","p99","max"
field() { echo "$1" | tr -d '"' | cut -d, -f"$2"; }
summary() { [ -n "$1" ] && echo "$(field "$1" 2) req/s, p50 $(field "$1" 5) ms, p99 $(field "$1" 7) ms"; }
rss_all() { local i out=""; for i in 1 2 3; do out="$out n$i=$(( $(shards_rss_kib "$i") / 1024 ))MiB"; done; echo "${out# }"; }

echo "== disk"
mkdir -p "$CLUSTER_DIR/wal"
wal=$(timeout 120 "$BUILD/bench/wal_bench" --dir "$CLUSTER_DIR/wal" --seconds 0.5 2>&1)
rm -rf "$CLUSTER_DIR/wal"
bare=$(echo "$wal" | sed -n 's/.*bare append+fdatasync: *\([0-9]*\).*/\1/p')
row "disk: bare append+fdatasync (median of 5 rounds)" "${bare:-?} syncs/s" "the disk's own rate"

echo "== SET, 3 nodes, R = 3, 50 clients, 256 B values ($PROTOCOL)"
for s in $SHARDS_LIST; do
    start_shards "$s"
    syncs0=$(info_stat 1 wal_syncs); t0=$(date +%s%N)
    plain=$(rb -p "$(client_port 1)" -t set -n "$REQ")
    syncs1=$(info_stat 1 wal_syncs); t1=$(date +%s%N)
    sync_rate=$(( (syncs1 - syncs0) * 1000000000 / (t1 - t0 > 0 ? t1 - t0 : 1) ))
    per_sync=$(info_stat 1 wal_entries_per_sync)
    if [ "$s" -gt 1 ]; then
        clustered=$(rb --cluster -p "$(client_port 1)" -t set -n "$REQ")
        cluster_text=$(summary "$clustered") || cluster_text="failed"
    else
        cluster_text="n/a (S = 1 is a standalone Redis)"
    fi
    row "S = $s: SET, plain, against node 1" "$(summary "$plain" || echo failed); node 1: $sync_rate fdatasyncs/s during it, $per_sync entries/sync since start" "S = 16 >= S = 1"
    row "S = $s: SET, --cluster (to each shard's leader)" "$cluster_text" "report"
    row "S = $s: resident memory after the runs" "$(rss_all)" "report"
done

echo "== $IDLE_SHARDS idle shards, 3 nodes, R = 3"
t0=$(date +%s%N)
start_shards "$IDLE_SHARDS"
ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
row "S = $IDLE_SHARDS: start until every shard took a write" "$ready_ms ms" "report"
sleep "$IDLE_SETTLE_SECONDS"
declare -A ticks0
for i in 1 2 3; do ticks0[$i]=$(shards_cpu_ticks "$i"); done
t0=$(date +%s%N)
sleep "$IDLE_SECONDS"
t1=$(date +%s%N)
hz=$(getconf CLK_TCK)
cpu=""
for i in 1 2 3; do
    node_alive "$i" || die "node $i died while idle"
    d=$(( $(shards_cpu_ticks "$i") - ticks0[$i] ))
    cpu="$cpu n$i=$(awk -v d="$d" -v hz="$hz" -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f%%", 100 * d / hz / (ns / 1e9) }')"
done
row "S = $IDLE_SHARDS idle: CPU of one core per node over ${IDLE_SECONDS} s" "${cpu# }" "< 2 %"
row "S = $IDLE_SHARDS idle: resident memory" "$(rss_all)" "bounded, reported"
hosted=""; for i in 1 2 3; do hosted="$hosted n$i=$(info_field "$i" groups_hosted)"; done
row "S = $IDLE_SHARDS idle: groups hosted" "${hosted# }" "S x R / N each"

echo "== failover: S = $FAILOVER_SHARDS, SIGKILL of the node leading the most shards, $FAILOVERS trials"
start_shards "$FAILOVER_SHARDS"
# balanced — every live node leads at least floor(S/N) - 1 shards (leaderships returned to the
# preferred leaders after a restart).
balanced() {
    local i n
    for i in 1 2 3; do
        n=$(info_field "$i" groups_leading)
        [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge $(( FAILOVER_SHARDS / NODES - 1 )) ] || return 1
    done
}
times=()
for trial in $(seq 1 "$FAILOVERS"); do
    wait_for 20 shards_led_once || die "trial $trial: groups_leading never added up to $SHARDS"
    wait_for 15 balanced || echo "  trial $trial: leaderships not balanced after 15 s"
    read -r victim count < <(shards_busiest) || die "trial $trial: no busiest node"
    survivor=$(( victim % NODES + 1 ))
    c0=$(info_stat "$survivor" total_commands_processed)
    timeout 120 redis-benchmark -p "$(client_port "$survivor")" -t set -n 10000000 -c 20 -d 256 \
        -r 100000 -q >/dev/null 2>&1 </dev/null &
    load=$!
    wait_for 10 stat_at_least "$survivor" total_commands_processed $((c0 + 1000)) ||
        echo "  trial $trial: the load did not start"
    result=$(shards_py failover --ports "$(shards_ports "$victim")" --pid "${NODE_PID[$victim]}" \
             --timeout-s 30 --acked "$ACKED" --prefix "f$trial")
    node_kill "$victim"
    kill "$load" 2>/dev/null; wait "$load" 2>/dev/null
    ms=$(echo "$result" | sed -n 's/^all_writable_ms \([0-9]*\) .*/\1/p')
    echo "  trial $trial: killed node $victim (led $count shards): ${ms:-no} ms ($result)"
    [ -n "$ms" ] && times+=("$ms")
    node_start "$victim" || die "restart of node $victim"
    wait_for 30 shards_writable_through "$victim" 5 "$ACKED" "back$trial" ||
        die "restarted node $victim did not serve every shard in 30 s"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
row "S = $FAILOVER_SHARDS: SIGKILL of the busiest node, until every shard took a write (${#times[@]} of $FAILOVERS trials)" \
    "median ${median:-?} ms; all: ${sorted}ms" "median <= 500 ms"
shards_py verify --ports "$(shards_ports)" --acked "$ACKED" >/dev/null ||
    row "S = $FAILOVER_SHARDS: acknowledged probe writes read back" "FAILED" "all"
shards_cluster_stop

{
    echo "| benchmark ($PROTOCOL, $(date -u +%F)) | measured | target |"
    echo "|---|---|---|"
    printf '%s\n' "${rows[@]}"
} >"$OUT"
echo
cat "$OUT"
echo "(table saved in $OUT)"
