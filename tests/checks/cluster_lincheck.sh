#!/usr/bin/env bash
# Linearizability of a real 3-node cluster under faults: `chorus bench --history` runs ~10
# clients over a handful of keys on all three nodes for ~20 s while the leader is SIGKILLed
# twice (restarted once another node leads) and one leader is paused with SIGSTOP/SIGCONT
# until another node leads; chorus-lincheck
# then checks the recorded history. Prints operations, unknown outcomes and the verdict.
# Each fault waits for conditions, not fixed sleeps: 500 more entries committed before it,
# a new leader elected before the killed node restarts or the paused one resumes; the load
# must still be running when the faults are over.
# timeout: 180
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u

CHORUS=$BUILD/bin/chorus
LINCHECK=$BUILD/bin/chorus-lincheck
BENCH_SECONDS=${BENCH_SECONDS:-90}
HISTORY=$CLUSTER_DIR/history.jsonl

cluster_start 3 || fail "start"
leader=$(wait_leader) || fail "no leader elected"
nodes="127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"

"$CHORUS" bench -c 10 -t "$BENCH_SECONDS" -k 4 -d 0 --workload all --read-ratio 0.4 \
    --timeout 1000 --nodes "$nodes" --history "$HISTORY" --seed "$$" \
    >"$CLUSTER_DIR/bench.out" 2>&1 &
bench_pid=$!

# progress N WHEN — waits (at most 15 s) until the leader has committed N entries more than
# when called: the load runs and the cluster serves it, before the next fault. Fails at once
# when the load has ended: a fault after it would hit nothing.
bench_running() { kill -0 "$bench_pid" 2>/dev/null; }
committed_at_least() { local l; l=$(cluster_leader) && info_at_least "$l" commit_index "$1"; }
committed_or_bench_ended() { ! bench_running || committed_at_least "$1"; }
progress() {
    local l c0
    bench_running || fail "chorus bench ended before $2 (BENCH_SECONDS=$BENCH_SECONDS too short?)"
    l=$(wait_leader 200) || fail "no leader ($2)"
    c0=$(info_field "$l" commit_index)
    wait_for 15 committed_or_bench_ended $((c0 + $1)) && committed_at_least $((c0 + $1)) ||
        fail "fewer than $1 entries committed after $c0 ($2): the load ended or the cluster stalled"
}
# kill_leader: SIGKILL the current leader; restart it once another node leads.
kill_leader() {
    local victim next
    victim=$(wait_leader 100) || fail "no leader before kill $1"
    echo "$(date +%T.%N | cut -c1-12) kill -9 leader $victim"
    node_kill "$victim"
    next=$(wait_leader_other_than "$victim" 15) || fail "no new leader within 15 s of killing $victim"
    echo "$(date +%T.%N | cut -c1-12) leader $next elected"
    node_start "$victim" || fail "restart of $victim"
    echo "$(date +%T.%N | cut -c1-12) restarted $victim"
}

progress 500 "before the first kill"
kill_leader 1
progress 500 "after the first kill"
kill_leader 2
progress 500 "after the second kill"
paused=$(wait_leader 100) || fail "no leader before the pause"
echo "$(date +%T.%N | cut -c1-12) SIGSTOP leader $paused"
kill -STOP "${NODE_PID[$paused]}"
next=$(wait_leader_other_than "$paused" 15) ||
    { kill -CONT "${NODE_PID[$paused]}"; fail "no new leader within 15 s of pausing $paused"; }
echo "$(date +%T.%N | cut -c1-12) leader $next elected"
kill -CONT "${NODE_PID[$paused]}"
echo "$(date +%T.%N | cut -c1-12) SIGCONT $paused"
# Every fault must have hit the running load: the history checks nothing otherwise.
bench_running || fail "chorus bench ended before the pause was over (BENCH_SECONDS=$BENCH_SECONDS too short?)"
progress 200 "after the pause"

# Its faults are over: the load ends now (chorus bench ends a run on SIGTERM as at its
# deadline), not after the length chosen for the slowest machine.
kill -TERM "$bench_pid" 2>/dev/null
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
