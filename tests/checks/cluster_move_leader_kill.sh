#!/usr/bin/env bash
# The leader of a moving shard SIGKILLed in the middle of its move (issue 11; docs/membership.md,
# "The rebalancer", "Crashes"), on real processes (S = 4, R = 3, Raft) under a client workload
# recorded for chorus-lincheck, after a bulk load (so that the new replica is caught up with a
# snapshot, then the log):
#   1. node 4 joins (--join, --http-dev) and cuts itself off from every peer (/dev/partition),
#      then is added with `chorus cluster add`: the topology that names it is recorded, and the
#      leader of the first shard to move adds node 4 as a learner, which cannot catch up;
#   2. that leader (the node whose CLUSTER MEMBERS shows the move `catching-up`) is SIGKILLed:
#      another replica of the shard leads it and shows the move in progress itself (learner
#      kept, or added again when the entry was lost with the old leader);
#   3. the killed node restarts from its data directory, node 4 is healed: every move ends
#      (`chorus cluster add` is run again when the first one failed, which it does when the
#      killed node also led the meta group), no move is left, every node hosts exactly the
#      replicas the topology lists for it and no directory of a replica that moved off;
# then the history is linearizable, and every acknowledged marker write and a sample of the
# bulk keys are readable through every node. Waits on conditions, never on sleeps.
# timeout: 240
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
SHARDS=4
. tests/cluster/membership_lib.sh

NODE_FLAGS="--replicas 3 --snapshot-entries 300"
LOAD_SECONDS=${LOAD_SECONDS:-120}

sharded_start 3
bulk_load 2000 1
marker 1
load_start "$LOAD_SECONDS" 1 2 3

log "1. node 4 joins, cut off from its peers, and is added"
add_cut_off 4 2
victim=$MOVE_LEADER; MOVING_SHARD=$MOVE_SHARD; from=$MOVE_FROM
meta=$(meta_leader)
log "2. shard $MOVING_SHARD moves from node $from to node 4; its leader, node $victim, is SIGKILLed (meta leader: node $meta)"
load_still_running "the kill"
node_kill "$victim"
NODES_UP=$(nodes_but "$victim" 1 2 3)
# resumed — another replica leads the shard and shows the move at a stage of its own (the
# learner kept, or added again if the old leader's entry was lost).
resumed() {
    local l
    l=$(shard_leader "$MOVING_SHARD") || return 1
    plan_lines "$l" | grep -Eq "^move:shard=$MOVING_SHARD,from=$from,to=4,state=(adding-learner|catching-up|sending-snapshot)(,|$)"
}
wait_for 30 resumed || { for i in $NODES_UP; do plan_lines "$i"; done; fail "no new leader of shard $MOVING_SHARD carries the move on"; }
new_leader=$(shard_leader "$MOVING_SHARD")
log "node $new_leader leads shard $MOVING_SHARD and carries the move on; node $victim restarts, node 4 is healed"
marker "$new_leader"

log "3. the moves end"
node_start "$victim" || fail "node $victim did not restart"
dev 4 /dev/heal
NODES_UP="1 2 3 4"
load_still_running "the restart"
add_finish 4
wait_balanced 4 90 "3 -> 4 with the shard leader killed"
all_hosts_as_placed "after the moves"
log "balanced at epoch $(members_field 1 topology_epoch): $(placement 1 | paste -sd' ')"
wait_for 20 all_verified || fail "not every node verifies the topology"
# Node 4 ends a voter of the meta group (it has at most 5 voters) on every node.
wait_meta_voters 1,2,3,4
[ "$(info_field 4 groups_hosted)" -gt 0 ] || fail "node 4 holds no replica after the moves"
grep -q "created a replica of shard $MOVING_SHARD" "$CLUSTER_DIR/node4.log" || fail "node 4 never created shard $MOVING_SHARD's replica"
marker 4

log "the end: history, markers, bulk keys"
end_checks
echo "cluster_move_leader_kill: ok (shard $MOVING_SHARD, leader $victim killed, $marker_count markers, $(wc -l <"$HISTORY") operations)"
