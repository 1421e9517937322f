#!/usr/bin/env bash
# cluster_shards_lincheck.sh — linearizability of a sharded chorus (issue 10) under leader
# faults: 5 nodes, S = 16, R = 3 (Raft). `chorus bench --history` runs 10 clients on all five
# nodes over 48 keys spread over the shards (GET, SET, CAS, DEL, INCR) while the node leading
# the most shards is SIGKILLed twice (restarted once every shard took a write without it) and
# then paused with SIGSTOP until every shard took a write without it. chorus-lincheck checks
# the history; the keys must fall in at least 12 of the 16 shards, no reply may be an error
# other than -TRYAGAIN/-BUSY/-UNKNOWN (every node forwards), and a corrupted copy of the history
# must be rejected (the checker can fail on it).
# Faults wait on conditions: the history grew by 40 KB (about 300 operations) before each, and
# every shard took a write (tests/cluster/shards_client.py write-all) before a node comes back.
# timeout: 240
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
. tests/cluster/shards_lib.sh
set -u

CHORUS=$BUILD/bin/chorus
LINCHECK=$BUILD/bin/chorus-lincheck
BENCH_SECONDS=${BENCH_SECONDS:-120}
HISTORY=$CLUSTER_DIR/history.jsonl
PROBES=$CLUSTER_DIR/probes.jsonl
SHARDS=16
NODES=5
NODE_FLAGS="--replicas 3"
GROWTH_BYTES=40000
WRITABLE_BOUND_S=10

"$SHARDS_PYTHON" -c 'import redis' || fail "python3-redis missing (make deps installs it)"
cluster_start "$NODES" || fail "start"
shards_writable 30 "$PROBES" start || fail "not every shard writable after start"
wait_for 20 shards_led_once || fail "groups_leading never added up to S = $SHARDS"
nodes=""
for i in $(seq 1 "$NODES"); do nodes="$nodes${nodes:+,}127.0.0.1:$(client_port "$i")"; done

: >"$HISTORY"
"$CHORUS" bench -c 10 -t "$BENCH_SECONDS" -k 24 -d 0 --workload all --read-ratio 0.4 \
    --timeout 1000 --nodes "$nodes" --history "$HISTORY" --seed "$$" \
    >"$CLUSTER_DIR/bench.out" 2>&1 &
bench_pid=$!

bench_running() { kill -0 "$bench_pid" 2>/dev/null; }
history_bytes() { stat -c %s "$HISTORY"; }
grown_or_bench_ended() { ! bench_running || [ "$(history_bytes)" -ge "$1" ]; }
# progress WHEN — waits (at most 20 s) until the history grew by GROWTH_BYTES: the load runs and
# the cluster serves it before the next fault. Fails when the load ended: a fault after it
# would hit nothing.
progress() {
    local target=$(( $(history_bytes) + GROWTH_BYTES ))
    bench_running || fail "chorus bench ended before $1 (BENCH_SECONDS=$BENCH_SECONDS too short?)"
    wait_for 20 grown_or_bench_ended "$target" && [ "$(history_bytes)" -ge "$target" ] ||
        fail "the history grew by less than $GROWTH_BYTES bytes in 20 s ($1): the load ended or the cluster stalled"
}
stamp() { echo "$(date +%T.%N | cut -c1-12) $*"; }

# kill_busiest N — SIGKILL the node leading the most shards; every shard takes a write without
# it; restart it and wait until it serves every shard.
kill_busiest() {
    local victim count
    read -r victim count < <(shards_busiest) || fail "no busiest node before kill $1"
    [ "${count:-0}" -ge 1 ] || fail "the busiest node leads no shard (kill $1)"
    stamp "kill -9 node $victim (leads $count shards)"
    node_kill "$victim"
    shards_writable "$WRITABLE_BOUND_S" "$PROBES" "kill$1" "$victim" ||
        fail "some shard took no write within $WRITABLE_BOUND_S s of killing node $victim"
    stamp "every shard took a write"
    node_start "$victim" || fail "restart of $victim"
    wait_for 20 shards_writable_through "$victim" 5 "$PROBES" "back$1" ||
        fail "restarted node $victim did not serve every shard within 20 s"
    stamp "restarted node $victim serves every shard"
}

progress "the first kill"
kill_busiest 1
progress "the second kill"
kill_busiest 2
progress "the pause"
read -r paused count < <(shards_busiest) || fail "no busiest node before the pause"
stamp "SIGSTOP node $paused (leads $count shards)"
kill -STOP "${NODE_PID[$paused]}"
shards_writable 15 "$PROBES" pause "$paused" ||
    { kill -CONT "${NODE_PID[$paused]}"; fail "some shard took no write within 15 s of pausing node $paused"; }
stamp "every shard took a write"
kill -CONT "${NODE_PID[$paused]}"
stamp "SIGCONT node $paused"
bench_running || fail "chorus bench ended before the pause was over (BENCH_SECONDS=$BENCH_SECONDS too short?)"
progress "after the pause"

# Its faults are over: the load ends now (chorus bench ends a run on SIGTERM as at its
# deadline), not after the length chosen for the slowest machine.
kill -TERM "$bench_pid" 2>/dev/null
wait "$bench_pid"; bench_rc=$?
cat "$CLUSTER_DIR/bench.out"
[ "$bench_rc" -eq 0 ] || fail "chorus bench exited $bench_rc"
for i in $(seq 1 "$NODES"); do node_alive "$i" || fail "node $i died"; done

operations=$(wc -l <"$HISTORY")
unknown=$(grep -c '"return":null' "$HISTORY")
ok_ops=$(grep -Eo 'throughput: [0-9]+' "$CLUSTER_DIR/bench.out" | grep -Eo '[0-9]+$')
echo "history: $operations operations, $unknown unknown"
[ "${ok_ops:-0}" -ge 500 ] || fail "too few operations succeeded (${ok_ops:-0}): the cluster did not recover"
# Every node accepts every key (it forwards): any error reply but -TRYAGAIN, -BUSY and -UNKNOWN
# (a -MOVED, a -CROSSSLOT, an -ERR) is a routing failure, and makes the history weaker.
other=$(sed -nE 's/^errors: .*other ([0-9]+).*/\1/p' "$CLUSTER_DIR/bench.out")
[ "${other:-x}" = 0 ] || fail "chorus bench met ${other:-an unknown number of} unexpected error replies"
shards_py history-shards --history "$HISTORY" --min 12 || fail "the history's keys cover too few shards"

timeout 90 "$LINCHECK" --timeout 60 "$HISTORY" >"$CLUSTER_DIR/lincheck.out" 2>&1; rc=$?
head -30 "$CLUSTER_DIR/lincheck.out"
echo "verdict: exit $rc ($( [ $rc -eq 0 ] && echo linearizable || echo NOT linearizable or unknown ))"
if [ "$rc" -ne 0 ]; then
    mkdir -p "$BUILD/test-logs"
    cp "$HISTORY" "$BUILD/test-logs/cluster_shards_lincheck.history.jsonl"
    echo "history kept in $BUILD/test-logs/cluster_shards_lincheck.history.jsonl"
    fail "chorus-lincheck exit $rc"
fi
# The checker must be able to fail on this very history: a read of a value never written.
awk 'done != 1 && /"op":"get"/ && /"output":"/ { sub(/"output":"[^"]*"}/, "\"output\":\"never-written\"}"); done = 1 } { print }' \
    "$HISTORY" >"$CLUSTER_DIR/corrupted.jsonl"
cmp -s "$HISTORY" "$CLUSTER_DIR/corrupted.jsonl" && fail "no read with a value in the history to corrupt"
timeout 90 "$LINCHECK" --timeout 60 "$CLUSTER_DIR/corrupted.jsonl" >/dev/null 2>&1; rc=$?
[ "$rc" -eq 1 ] || fail "chorus-lincheck did not reject a corrupted copy of the history (exit $rc)"
echo "control: a corrupted copy of the history is rejected"
echo "cluster_shards_lincheck: ok"
