#!/usr/bin/env bash
# bench/rebalance.sh — what growing a sharded cluster by one node costs (issue 11, "Measured");
# run by make bench. Prints a markdown table and saves it in $BUILD/bench-rebalance.md.
#   3 nodes, S = 16, R = 3 (Raft), BENCH_KEYS keys of 256 bytes loaded; then node 4 joins and
#   is added while chorus bench runs SETs (50 clients) against node 1:
#   - shard replicas moved, against consistent hashing's expectation S x R / N;
#   - snapshot bytes node 4 received (chorus_group_snapshot_received_bytes_total);
#   - time from `chorus cluster add` to no move left and node 4 ACTIVE;
#   - SET throughput, p50 / p99 latency and error replies before the move and while it runs
#     (a run of the same length that starts with `cluster add`; chorus bench, 50 clients).
# Every step is bounded. Knobs: BENCH_KEYS (default 100000; the issue names 1,000,000),
# BENCH_SECONDS (each SET run, default 10), BENCH_LOAD_CHUNK (SETs per redis-cli --pipe, 500: a longer burst on a loaded machine outlasts the request timeout).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
KEYS=${BENCH_KEYS:-100000}
SECONDS_RUN=${BENCH_SECONDS:-10}
LOAD_CHUNK=${BENCH_LOAD_CHUNK:-500}
OUT=$BUILD/bench-rebalance.md
. tests/cluster/lib.sh
CHORUS=$BUILD/bin/chorus
SHARDS=16
NODE_FLAGS="--replicas 3 --snapshot-entries 2000"
die() { echo "bench/rebalance.sh: $*"; exit 1; }
members_field() { cli "$1" cluster members 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
verified() { [ "$(info_field "$1" topology_verified)" = 1 ]; }
settled() {
    local i
    for i in 1 2 3 4; do
        [ "$(members_field "$i" rebalance_moves)" = 0 ] && [ "$(members_field "$i" topology_joining)" = 0 ] || return 1
    done
}
# set_run LABEL — `chorus bench` SETs (50 clients, 256 bytes) on node 1 for BENCH_SECONDS;
# prints "ops/s p50 p99 errors" (ms). chorus bench goes on past error replies (a write whose
# leader changed answers -UNKNOWN or -TRYAGAIN), which redis-benchmark does not.
set_run() {
    timeout $((SECONDS_RUN + 60)) "$CHORUS" -p "$(client_port 1)" bench -c 50 -t "$SECONDS_RUN" -d 256 \
        -k 100000 --workload set >"$CLUSTER_DIR/bench-$1.out" 2>&1
    awk '/^throughput:/ { rps = $(NF - 1) } /^latency ms:/ { p50 = $6; p99 = $10 }
         /^errors:/ { errors = $2 } END { print rps, p50, p99, errors }' "$CLUSTER_DIR/bench-$1.out"
}

SHARDS=$SHARDS cluster_start 3 || die "start"
for i in 1 2 3; do wait_for 30 verified "$i" || die "node $i did not verify"; done
# Bulk load: chunks of LOAD_CHUNK SETs made by awk (a bash loop of echo made 1,000,000 keys
# take over an hour on a loaded machine), each piped through one redis-cli --pipe.
for first in $(seq 1 "$LOAD_CHUNK" "$KEYS"); do
    last=$((first + LOAD_CHUNK - 1)); [ "$last" -le "$KEYS" ] || last=$KEYS
    awk -v a="$first" -v b="$last" 'BEGIN { v = sprintf("%256s", ""); gsub(/ /, "v", v)
        for (i = a; i <= b; i++) printf "set key:%d %s\n", i, v }' > "$CLUSTER_DIR/chunk"
    # A chunk is SETs, so sending it again is harmless: a busy moment (a leadership hand-off
    # answering -TRYAGAIN) costs a retry through the next node, five at most.
    loaded=0
    for attempt in 1 2 3 4 5; do
        if out=$(cli_load $(( (first / LOAD_CHUNK + attempt) % 3 + 1 )) < "$CLUSTER_DIR/chunk"); then
            loaded=1; break
        fi
    done
    [ "$loaded" = 1 ] || die "loading keys from $first: $out"
done
read -r rps_before p50_before p99_before errors_before < <(set_run before) || die "chorus bench before"
http4=127.0.0.1:$((PORT_BASE + 19))
"$CHORUSD" --id 4 --join "127.0.0.1:$(peer_port 2)" --data-dir "$CLUSTER_DIR/node4" \
    --listen "127.0.0.1:$(client_port 4)" --peer-listen "127.0.0.1:$(peer_port 4)" \
    --http "$http4" $NODE_FLAGS >>"$CLUSTER_DIR/node4.log" 2>&1 &
NODE_PID[4]=$!
wait_for 10 node_answers_ping 4 || die "node 4 did not start"
set_run during > "$CLUSTER_DIR/during" &
bench_pid=$!
t0=${EPOCHREALTIME/./}
timeout 120 "$CHORUS" -p "$(client_port 1)" cluster add "127.0.0.1:$(peer_port 4)" >/dev/null || die "cluster add"
wait_for 600 settled || die "the moves did not end"
t1=${EPOCHREALTIME/./}
wait "$bench_pid"
read -r rps_during p50_during p99_during errors_during < "$CLUSTER_DIR/during"
moved=$(info_field 4 groups_hosted)
bytes=$(curl -s "http://$http4/metrics" | awk '/^chorus_group_snapshot_received_bytes_total/ { s += $2 } END { print s + 0 }')
seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
{
    echo "| what | value |"
    echo "|---|---|"
    echo "| keys loaded (256 bytes) | $KEYS |"
    echo "| shard replicas moved to node 4 | $moved (S x R / N = $((SHARDS * 3 / 4))) |"
    echo "| snapshot bytes node 4 received | $bytes |"
    echo "| cluster add to no move left | $seconds s |"
    echo "| SET before: ops/s, p50, p99 (ms), error replies | $rps_before, $p50_before, $p99_before, $errors_before |"
    echo "| SET from cluster add on (${SECONDS_RUN} s): ops/s, p50, p99 (ms), error replies | $rps_during, $p50_during, $p99_during, $errors_during |"
} | tee "$OUT"
