#!/usr/bin/env bash
# Node membership of a sharded cluster (S = 4, R = 3, Raft) recorded in the meta group's
# topology (issue 11; docs/membership.md, "Sharded clusters"), on real processes under a
# client workload recorded for chorus-lincheck:
#   1. node 4 starts with --join (it learns the member's topology through a probe and hosts
#      no shard) and is added with `chorus cluster add`: the topology of epoch 2 names it
#      (JOINING, no replica), every node adopts it, node 4 becomes a voter of the meta group,
#      serves clients (relaying to the shards' replicas), and CLUSTER NODES lists 4 nodes on
#      every node;
#   2. refusals: removing a node that holds replicas (they would have to move first), a
#      second change while one is in progress is covered by cluster_membership.sh;
#   3. restarts: an original node restarted with its 3-node --cluster serves with the adopted
#      topology (data-dir/topology), and node 4 restarts without flags;
#   4. `chorus cluster remove 4`: the topology of epoch 3 without it on every node, node 4
#      answers -ERR this node was removed from the cluster;
# then the history is linearizable, every acknowledged marker write is readable through
# every node, and each node still hosts exactly the shards the topology gives it.
# Waits on conditions throughout.
# timeout: 240
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
set -u

CHORUS=$BUILD/bin/chorus
LINCHECK=$BUILD/bin/chorus-lincheck
BENCH_SECONDS=${BENCH_SECONDS:-25}
HISTORY=$CLUSTER_DIR/history.jsonl
SHARDS=4
NODE_FLAGS="--replicas 3 --snapshot-entries 2000"
bench_pid=""
trap '[ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null; cluster_cleanup' EXIT
now() { date +%T.%N | cut -c1-12; }
log() { echo "$(now) $*"; }

members_field() { cli "$1" cluster members 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
topology_is() { [ "$(members_field "$1" topology_epoch)" = "$2" ] && [ "$(members_field "$1" topology_nodes)" = "$3" ]; }
all_topology_is() { local i; for i in $NODES_UP; do topology_is "$i" "$2" "$3" || return 1; done; }
verified() { [ "$(info_field "$1" topology_verified)" = 1 ]; }
all_verified() { local i; for i in $NODES_UP; do verified "$i" || return 1; done; }
meta_leader() {
    local i
    for i in $NODES_UP; do [ "$(info_field "$i" meta_role)" = leader ] && { echo "$i"; return 0; }; done
    return 1
}
is_meta_voter() { local l; l=$(meta_leader) && [[ ",$(members_field "$l" voters)," == *",$1,"* ]]; }
nodes_lines() { [ "$(cli "$1" cluster nodes 2>/dev/null | grep -c .)" = "$2" ]; }
removed_answer() { [[ "$(cli "$1" get x 2>&1)" == *"this node was removed"* ]]; }

# With 3 nodes and R = 3 every node holds a replica of every shard; adding a node moves none
# (the rebalancer is not built), so each of the three hosts exactly shards 0..3 (INFO shards,
# one line per hosted group) and their replicas in the topology are still nodes 1-3.
hosted_all() {
    local got replicas
    got=$(cli "$1" info shards 2>/dev/null | tr -d '\r' | sed -n 's/^shard_\([0-9]*\):.*/\1/p' | paste -sd,)
    [ "$got" = "0,1,2,3" ] || { echo "node $1 hosts shards '$got'"; return 1; }
    replicas=$(cli "$1" info shards 2>/dev/null | tr -d '\r' | sed -n 's/.*replicas=//p' | tr / '\n' | sort -u | paste -sd,)
    [ "$replicas" = "1,2,3" ] || { echo "node $1: replicas in the topology '$replicas'"; return 1; }
}

# plan_lines NODE — the rebalancer's planned moves that NODE shows (CLUSTER MEMBERS).
plan_lines() { cli "$1" cluster members 2>/dev/null | tr -d '\r' | grep '^move:'; }
# plan_to_new NODE RUNNABLE — the plan moves replicas onto node 4 only (consistent hashing:
# a new node takes replicas, nobody else trades them), RUNNABLE of them at once, and INFO
# counts the same.
plan_to_new() {
    local n r
    n=$(members_field "$1" rebalance_moves)
    r=$(members_field "$1" rebalance_runnable)
    [ -n "$n" ] && [ "$n" -gt 0 ] && [ "$r" = "$2" ] || { echo "node $1: $n moves, $r runnable"; return 1; }
    [ "$(plan_lines "$1" | grep -c ',to=4,')" = "$n" ] || { echo "node $1: a move not to node 4"; return 1; }
    [ "$(plan_lines "$1" | grep -c 'state=runnable')" = "$r" ] || return 1
    [ "$(info_field "$1" rebalance_moves)" = "$n" ] || return 1
}

marker_count=0
# marker NODE — an acknowledged write through NODE, remembered for the end.
marker() {
    marker_count=$((marker_count + 1))
    local k="marker:$marker_count"
    reply_is "$1" OK set "$k" "v$marker_count" || fail "marker write $k through node $1"
}

join_start() {
    local i=$1 via=$2 flags=()
    [ -d "$CLUSTER_DIR/node$i" ] || flags+=(--join "127.0.0.1:$(peer_port "$via")")
    "$CHORUSD" --id "$i" "${flags[@]}" --protocol "$PROTOCOL" --data-dir "$CLUSTER_DIR/node$i" \
        --listen "127.0.0.1:$(client_port "$i")" --peer-listen "127.0.0.1:$(peer_port "$i")" \
        $NODE_FLAGS >>"$CLUSTER_DIR/node$i.log" 2>&1 &
    NODE_PID[$i]=$!
    wait_for 10 node_started_or_exited "$i"
    node_alive "$i" && node_answers_ping "$i" || { tail -20 "$CLUSTER_DIR/node$i.log"; return 1; }
}

SHARDS=$SHARDS cluster_start 3 || fail "start"
NODES_UP="1 2 3"
wait_for 30 all_verified || fail "the meta group did not verify the topology on every node"
all_topology_is x 1 3 || fail "a new cluster's topology is epoch 1 with 3 nodes"
marker 1

nodes=""
for i in 1 2 3; do nodes="$nodes${nodes:+,}127.0.0.1:$(client_port "$i")"; done
"$CHORUS" bench -c 6 -t "$BENCH_SECONDS" -k 16 -d 0 --workload all --read-ratio 0.4 \
    --timeout 1000 --nodes "$nodes" --history "$HISTORY" --seed "$$" \
    >"$CLUSTER_DIR/bench.out" 2>&1 &
bench_pid=$!
history_grown() { [ "$(stat -c %s "$HISTORY" 2>/dev/null || echo 0)" -ge "$1" ]; }
wait_for 20 history_grown 20000 || fail "the load does not run"

log "1. node 4 joins through node 2 and is added"
join_start 4 2 || fail "node 4 (--join) did not start"
grep -q "joined cluster" "$CLUSTER_DIR/node4.log" || fail "node 4 did not say it joined"
[ "$(info_field 4 groups_hosted)" = 0 ] || fail "a joined node hosts no shard before replicas move"
timeout 150 "$CHORUS" -p "$(client_port 1)" cluster add "127.0.0.1:$(peer_port 4)" ||
    fail "chorus cluster add 4 failed"
NODES_UP="1 2 3 4"
wait_for 30 all_topology_is x 2 4 || fail "not every node adopted the topology of epoch 2 with node 4"
wait_for 30 is_meta_voter 4 || fail "node 4 did not become a voter of the meta group"
for i in 1 2 3 4; do nodes_lines "$i" 4 || fail "CLUSTER NODES on node $i does not list 4 nodes"; done
wait_for 20 verified 4 || fail "node 4 did not verify the topology"
for i in 1 2 3 4; do plan_to_new "$i" 1 || fail "node $i's rebalancer plan"; done
for i in 2 3 4; do
    [ "$(plan_lines "$i")" = "$(plan_lines 1)" ] || fail "node $i plans other moves than node 1"
done
log "the plan: $(members_field 1 rebalance_moves) replicas to node 4: $(plan_lines 1 | cut -d: -f2 | paste -sd' ')"
marker 4
marker 2
reply_is 1 v2 get marker:2 || fail "a write relayed by node 4 is not read through node 1"
cli 4 cluster nodes | grep -q "^4 \|myself" || fail "node 4's CLUSTER NODES does not show itself"

log "2. refusals"
out=$(cli "$(meta_leader)" cluster forget 2 2>&1)
[[ "$out" == *"holds replicas of 4 shards"* ]] || fail "FORGET of a node holding replicas: $out"

log "3. restarts keep the adopted topology"
node_stop 1
NODE_FLAGS="$NODE_FLAGS --rebalance-moves-per-node 2" node_start 1 || fail "node 1 did not restart"
wait_for 20 topology_is 1 2 4 || fail "node 1 restarted with its 3-node --cluster lost the topology of epoch 2"
node_stop 4
join_start 4 2 || fail "node 4 did not restart without flags"
wait_for 20 topology_is 4 2 4 || fail "node 4 restarted without the topology of epoch 2"
wait_for 20 all_verified || fail "not every node verified after the restarts"
plan_to_new 1 2 || fail "node 1 with --rebalance-moves-per-node 2 does not run two moves at once"
marker 3
marker 4

log "4. node 4 removed"
timeout 150 "$CHORUS" -p "$(client_port 3)" cluster remove 4 || fail "chorus cluster remove 4 failed"
NODES_UP="1 2 3"
wait_for 30 all_topology_is x 3 3 || fail "not every node adopted the topology of epoch 3 without node 4"
wait_for 20 removed_answer 4 || fail "node 4 does not answer that it was removed"
for i in 1 2 3; do
    nodes_lines "$i" 3 || fail "CLUSTER NODES on node $i does not list 3 nodes"
    [ "$(members_field "$i" rebalance_moves)" = 0 ] || fail "node $i plans moves in a balanced topology"
done
marker 1

log "the end: history, markers, placement"
wait "$bench_pid"; bench_pid=""
"$LINCHECK" "$HISTORY" >"$CLUSTER_DIR/lincheck.out" 2>&1 ||
    { cat "$CLUSTER_DIR/lincheck.out"; fail "the history is not linearizable"; }
for i in 1 2 3; do
    for k in $(seq 1 "$marker_count"); do
        reply_is "$i" "v$k" get "marker:$k" || fail "marker:$k not readable through node $i"
    done
    hosted_all "$i" || fail "node $i's hosted shards differ from the topology"
done
[ "$(info_field 4 groups_hosted)" = 0 ] || fail "node 4 hosts a shard"
echo "cluster_topology_membership: ok ($marker_count markers, $(wc -l <"$HISTORY") operations)"
