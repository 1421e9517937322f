#!/usr/bin/env bash
# Linearizability of a real 3-node cluster under faults: `chorus bench --history` runs ~10
# clients over a handful of keys on all three nodes for ~15 s while the leader is SIGKILLed
# twice (restarted ~1 s later) and one leader is paused with SIGSTOP/SIGCONT; chorus-lincheck
# then checks the recorded history. Prints operations, unknown outcomes and the verdict.
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u

CHORUS=$BUILD/bin/chorus
LINCHECK=$BUILD/bin/chorus-lincheck
BENCH_SECONDS=${BENCH_SECONDS:-15}
HISTORY=$CLUSTER_DIR/history.jsonl

cluster_start 3 || fail "start"
leader=$(wait_leader) || fail "no leader elected"
nodes="127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"

"$CHORUS" bench -c 10 -t "$BENCH_SECONDS" -k 4 -d 0 --workload all --read-ratio 0.4 \
    --timeout 1000 --nodes "$nodes" --history "$HISTORY" --seed "$$" \
    >"$CLUSTER_DIR/bench.out" 2>&1 &
bench_pid=$!

# kill_leader: SIGKILL the current leader, restart it about a second later.
kill_leader() {
    local victim
    victim=$(wait_leader 100) || fail "no leader before kill $1"
    echo "$(date +%T.%N | cut -c1-12) kill -9 leader $victim"
    node_kill "$victim"
    sleep 1
    node_start "$victim" || fail "restart of $victim"
    echo "$(date +%T.%N | cut -c1-12) restarted $victim"
}

sleep 2
kill_leader 1
sleep 2
kill_leader 2
sleep 2
paused=$(wait_leader 100) || fail "no leader before the pause"
echo "$(date +%T.%N | cut -c1-12) SIGSTOP leader $paused"
kill -STOP "${NODE_PID[$paused]}"
sleep 1.5
kill -CONT "${NODE_PID[$paused]}"
echo "$(date +%T.%N | cut -c1-12) SIGCONT $paused"

wait "$bench_pid"; bench_rc=$?
cat "$CLUSTER_DIR/bench.out"
[ "$bench_rc" -eq 0 ] || fail "chorus bench exited $bench_rc"

operations=$(wc -l <"$HISTORY")
unknown=$(grep -c '"return":null' "$HISTORY")
ok_ops=$(grep -Eo 'throughput: [0-9]+' "$CLUSTER_DIR/bench.out" | grep -Eo '[0-9]+$')
echo "history: $operations operations, $unknown unknown"
[ "${ok_ops:-0}" -ge 500 ] || fail "too few operations succeeded (${ok_ops:-0}): the cluster did not recover"

timeout 60 "$LINCHECK" --timeout 30 "$HISTORY" >"$CLUSTER_DIR/lincheck.out" 2>&1; rc=$?
head -30 "$CLUSTER_DIR/lincheck.out"
echo "verdict: exit $rc ($( [ $rc -eq 0 ] && echo linearizable || echo NOT linearizable or unknown ))"
if [ "$rc" -ne 0 ]; then
    mkdir -p "$BUILD/test-logs"
    cp "$HISTORY" "$BUILD/test-logs/cluster_lincheck.history.jsonl"
    echo "history kept in $BUILD/test-logs/cluster_lincheck.history.jsonl"
    fail "chorus-lincheck exit $rc"
fi
# The checker must be able to fail on this very history: a read of a value never written.
awk 'done != 1 && /"op":"get"/ && /"output":"/ { sub(/"output":"[^"]*"}/, "\"output\":\"never-written\"}"); done = 1 } { print }' \
    "$HISTORY" >"$CLUSTER_DIR/corrupted.jsonl"
timeout 60 "$LINCHECK" --timeout 30 "$CLUSTER_DIR/corrupted.jsonl" >/dev/null 2>&1; rc=$?
[ "$rc" -eq 1 ] || fail "chorus-lincheck did not reject a corrupted copy of the history (exit $rc)"
echo "control: a corrupted copy of the history is rejected"
echo "cluster_lincheck: ok"
