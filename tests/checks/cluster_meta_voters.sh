#!/usr/bin/env bash
# cluster_meta_voters.sh — the meta group regains a voter after a voter's removal (issue 11;
# docs/membership.md, "The meta group's voters"). A sharded cluster's topology lives in the meta
# group, which has at most 5 voters; a node beyond them follows it as a learner. Here: 5 nodes
# (S = 2, R = 3), node 6 joins (--join, `chorus cluster add`) and becomes a learner of the meta
# group; then node 1, a voter, is removed (`chorus cluster remove 1`: its replicas move off,
# then it leaves the topology and the meta group). The meta leader must then promote node 6,
# so the meta group is back to 5 voters, and stay so; a write through every member works after.
# Without the promotion the group would be left with 4 voters (one failure from a stall at the
# next loss). Waits on conditions.
# timeout: 240
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
set -u

CHORUS=$BUILD/bin/chorus
SHARDS=2
NODE_FLAGS="--replicas 3"
trap 'cluster_cleanup' EXIT

members_field() { cli "$1" cluster members 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
verified() { [ "$(info_field "$1" topology_verified)" = 1 ]; }
all_verified() { local i; for i in $NODES_UP; do verified "$i" || return 1; done; }
meta_leader() {
    local i
    for i in $NODES_UP; do [ "$(info_field "$i" meta_role)" = leader ] && { echo "$i"; return 0; }; done
    return 1
}
# settled N — every node up has the topology of N nodes with no move left and nobody joining.
settled() {
    local i
    for i in $NODES_UP; do
        [ "$(members_field "$i" topology_nodes)" = "$1" ] || return 1
        [ "$(members_field "$i" rebalance_moves)" = 0 ] || return 1
        [ "$(members_field "$i" topology_joining)" = 0 ] || return 1
    done
}
# meta_is VOTERS LEARNERS — the meta leader's configuration, settled (not joint, not pending).
meta_is() {
    local l
    l=$(meta_leader) || return 1
    [ "$(members_field "$l" voters)" = "$1" ] && [ "$(members_field "$l" learners)" = "$2" ] &&
        [ "$(members_field "$l" pending)" = 0 ]
}
join_start() {
    local i=$1 via=$2
    "$CHORUSD" --id "$i" --join "127.0.0.1:$(peer_port "$via")" --protocol "$PROTOCOL" \
        --data-dir "$CLUSTER_DIR/node$i" --listen "127.0.0.1:$(client_port "$i")" \
        --peer-listen "127.0.0.1:$(peer_port "$i")" $NODE_FLAGS >>"$CLUSTER_DIR/node$i.log" 2>&1 &
    NODE_PID[$i]=$!
    wait_for 10 node_started_or_exited "$i"
    node_alive "$i" && node_answers_ping "$i" || { tail -20 "$CLUSTER_DIR/node$i.log"; return 1; }
}
show_meta() { local l; l=$(meta_leader) && cli "$l" cluster members | tr -d '\r' | grep -E '^(voters|learners|pending|change|last_change):'; }

SHARDS=$SHARDS cluster_start 5 || fail "start"
NODES_UP="1 2 3 4 5"
wait_for 60 all_verified || fail "the meta group did not verify the topology on every node"
wait_for 20 meta_is "1,2,3,4,5" "" || { show_meta; fail "a new 5-node cluster's meta group is not 5 voters"; }

echo "== node 6 joins: a learner of the meta group (it has 5 voters)"
join_start 6 2 || fail "node 6 (--join) did not start"
timeout 150 "$CHORUS" -p "$(client_port 1)" cluster add "127.0.0.1:$(peer_port 6)" ||
    fail "chorus cluster add 6 failed"
NODES_UP="1 2 3 4 5 6"
wait_for 120 settled 6 || fail "6 nodes never settled"
wait_for 20 meta_is "1,2,3,4,5" "6" || { show_meta; fail "node 6 is not a learner of the meta group"; }

echo "== node 1, a voter, is removed: node 6 must take its place among the voters"
timeout 150 "$CHORUS" -p "$(client_port 2)" cluster remove 1 || fail "chorus cluster remove 1 failed"
NODES_UP="2 3 4 5 6"
wait_for 120 settled 5 || fail "5 nodes never settled after removing node 1"
wait_for 30 meta_is "2,3,4,5,6" "" || { show_meta; fail "the meta group did not regain its fifth voter"; }
leader=$(meta_leader)
grep -q "promoting its learner 6" "$CLUSTER_DIR/node$leader.log" ||
    grep -q "promoting its learner 6" "$CLUSTER_DIR"/node*.log || fail "no node logged the promotion of node 6"
for i in $NODES_UP; do
    reply_is "$i" OK set "after:$i" "v$i" || fail "a write through node $i after the promotion"
done
echo "meta group: $(members_field "$leader" voters) voters, leader node $leader"
echo "cluster_meta_voters: ok"
