#!/usr/bin/env bash
# Linearizability of lists used as queues and of sets on a real 3-node cluster with leader
# kills (issue 17): two `chorus bench --history` loads run at once, `--workload queue` (RPUSH of
# unique elements, LPOP, BLPOP with a 50 ms timeout, over 3 lists; every list drained at the
# end) and `--workload sets` (SADD, SREM, SISMEMBER of 8 members over 3 sets), while the leader
# is SIGKILLed twice (restarted once another node leads). chorus-lincheck checks each history
# with its queue and set models: no acknowledged element lost, none delivered twice, FIFO
# order, no stale membership. Each fault waits for conditions (entries committed, a new leader),
# never fixed sleeps; the loads must still run when the faults are over, the queue history must
# hold pops that returned elements and empty pops, and a corrupted copy of each history (an
# element delivered twice; a member added twice with no removal) must be rejected.
# timeout: 200
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u

CHORUS=$BUILD/bin/chorus
LINCHECK=$BUILD/bin/chorus-lincheck
BENCH_SECONDS=${BENCH_SECONDS:-20}
QUEUE_HISTORY=$CLUSTER_DIR/queue.jsonl
SET_HISTORY=$CLUSTER_DIR/sets.jsonl

cluster_start 3 || fail "start"
leader=$(wait_leader) || fail "no leader elected"
nodes="127.0.0.1:$(client_port 1),127.0.0.1:$(client_port 2),127.0.0.1:$(client_port 3)"

"$CHORUS" bench -c 6 -t "$BENCH_SECONDS" -k 3 --workload queue --timeout 1000 \
    --nodes "$nodes" --history "$QUEUE_HISTORY" --key-prefix queue. --seed "$$" \
    >"$CLUSTER_DIR/queue.out" 2>&1 &
queue_pid=$!
"$CHORUS" bench -c 6 -t "$BENCH_SECONDS" -k 3 --workload sets --read-ratio 0.4 --timeout 1000 \
    --nodes "$nodes" --history "$SET_HISTORY" --key-prefix sets. --seed "$$" \
    >"$CLUSTER_DIR/sets.out" 2>&1 &
sets_pid=$!

loads_running() { kill -0 "$queue_pid" 2>/dev/null && kill -0 "$sets_pid" 2>/dev/null; }
committed_at_least() { local l; l=$(cluster_leader) && info_at_least "$l" commit_index "$1"; }
committed_or_ended() { ! loads_running || committed_at_least "$1"; }
# progress N WHEN — waits (at most 15 s) until N more entries are committed: the loads run and
# the cluster serves them, before the next fault.
progress() {
    local l c0
    loads_running || fail "a load ended before $2 (BENCH_SECONDS=$BENCH_SECONDS too short?)"
    l=$(wait_leader 200) || fail "no leader ($2)"
    c0=$(info_field "$l" commit_index)
    wait_for 15 committed_or_ended $((c0 + $1)) && committed_at_least $((c0 + $1)) ||
        fail "fewer than $1 entries committed after $c0 ($2): a load ended or the cluster stalled"
}
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
loads_running || fail "a load ended before the faults were over (BENCH_SECONDS=$BENCH_SECONDS too short?)"
progress 200 "after the second kill"

wait "$queue_pid"; queue_rc=$?
wait "$sets_pid"; sets_rc=$?
cat "$CLUSTER_DIR/queue.out" "$CLUSTER_DIR/sets.out"
[ "$queue_rc" -eq 0 ] || fail "chorus bench --workload queue exited $queue_rc"
[ "$sets_rc" -eq 0 ] || fail "chorus bench --workload sets exited $sets_rc"
grep -q "not drained" "$CLUSTER_DIR/queue.out" && fail "the queues were not drained"

pushes=$(grep -c '"op":"push".*"output":[0-9]' "$QUEUE_HISTORY")
delivered=$(grep -c '"op":"pop".*"output":"' "$QUEUE_HISTORY")
empty=$(grep -c '"op":"pop".*"return":[0-9]*,"output":null' "$QUEUE_HISTORY")
unknown=$(grep -c '"return":null' "$QUEUE_HISTORY")
echo "queue history: $(wc -l <"$QUEUE_HISTORY") operations: $pushes pushes acknowledged, $delivered pops returned an element, $empty found the list empty, $unknown unknown"
[ "$pushes" -ge 300 ] && [ "$delivered" -ge 300 ] && [ "$empty" -ge 20 ] ||
    fail "the queue load did too little to check"
set_ops=$(grep -c '"op":"s' "$SET_HISTORY")
adds=$(grep -c '"op":"sadd".*"output":1' "$SET_HISTORY")
reads=$(grep -c '"op":"sismember".*"output":1' "$SET_HISTORY")
echo "set history: $set_ops operations, $adds adds of an absent member, $reads reads of a member"
[ "$adds" -ge 100 ] && [ "$reads" -ge 100 ] || fail "the set load did too little to check"

check() { # check NAME FILE
    timeout 90 "$LINCHECK" --timeout 60 "$2" >"$CLUSTER_DIR/$1.lincheck" 2>&1; local rc=$?
    head -20 "$CLUSTER_DIR/$1.lincheck"
    if [ "$rc" -ne 0 ]; then
        mkdir -p "$BUILD/test-logs"
        cp "$2" "$BUILD/test-logs/cluster_lincheck_collections.$1.jsonl"
        fail "$1: chorus-lincheck exit $rc (history kept in $BUILD/test-logs/)"
    fi
}
check queue "$QUEUE_HISTORY"
check sets "$SET_HISTORY"

# The checker must be able to fail on these very histories.
python3 - "$QUEUE_HISTORY" "$SET_HISTORY" "$CLUSTER_DIR" <<'PY' || fail "making the controls"
import json, sys
queue, sets, out = sys.argv[1], sys.argv[2], sys.argv[3]
def load(path):
    return [json.loads(line) for line in open(path) if line.strip()]
def end(ops):
    return max(max(o["call"], o["return"] or 0) for o in ops)
# The queue's control is made from a prefix: refuting a duplicate at the end of a long history
# with unknown operations (a fast machine makes 50,000) passes the checker's budget, and a
# verdict of "unknown" proves nothing. The prefix ends at the 3,000th call, or at the first
# operation of unknown outcome if earlier; what is still running there becomes unknown.
ops = sorted(load(queue), key=lambda o: o["call"])
cut = ops[min(len(ops), 3000) - 1]["call"] + 1
unknown = [o["call"] for o in ops if o["return"] is None]
if unknown and min(unknown) < cut:
    cut = min(unknown)
prefix = []
for o in ops:
    if o["call"] >= cut:
        continue
    if o["return"] is None or o["return"] >= cut:
        o = dict(o, output=None, **{"return": None})
    prefix.append(o)
with open(out + "/queue_prefix.jsonl", "w") as f:
    for o in prefix: f.write(json.dumps(o) + "\n")
pop = next(o for o in prefix if o["op"] == "pop" and o["output"] is not None)
twice = dict(pop, client=10**9, call=end(prefix) + 10, **{"return": end(prefix) + 20})
with open(out + "/queue_twice.jsonl", "w") as f:
    for o in prefix + [twice]: f.write(json.dumps(o) + "\n")
ops = load(sets)
add = next(o for o in ops if o["op"] == "sadd" and o["output"] == 1)
t = end(ops)
extra = [dict(add, client=10**9, call=t + 10, **{"return": t + 20}),
         dict(add, client=10**9, call=t + 30, **{"return": t + 40})]
with open(out + "/sets_twice.jsonl", "w") as f:
    for o in ops + extra: f.write(json.dumps(o) + "\n")
PY
timeout 90 "$LINCHECK" --timeout 60 "$CLUSTER_DIR/queue_prefix.jsonl" >/dev/null 2>&1; rc=$?
[ "$rc" -eq 0 ] || fail "the queue history's prefix is not found linearizable (exit $rc)"
for control in queue_twice sets_twice; do
    timeout 90 "$LINCHECK" --timeout 60 "$CLUSTER_DIR/$control.jsonl" >/dev/null 2>&1; rc=$?
    [ "$rc" -eq 1 ] || fail "chorus-lincheck did not reject $control (exit $rc)"
done
echo "controls: an element delivered twice and a member added twice are rejected"
echo "cluster_lincheck_collections: ok"
