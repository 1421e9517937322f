#!/usr/bin/env bash
# The leader of a moving shard SIGKILLed while the shard is in its joint configuration
# C(old, new) (issue 11; docs/membership.md, "The rebalancer", "Crashes"; Raft §6), on real
# processes (S = 4, R = 3, Raft, --http-dev, election timeouts of 3-6 s) under a client workload
# recorded for chorus-lincheck. A joint configuration normally lasts a round trip or two; it is
# held here with the dev controls:
#   1. node 4 joins, cuts itself off (/dev/partition) and is added: the leader L of the first
#      shard to move holds it as a learner catching up. If L is the replica moving off (it
#      would hand leadership over before the joint configuration), L is paused until another
#      replica leads the shard;
#   2. the two other replicas of the shard (the one moving off and the one staying) are paused
#      (/dev/pause: no ticks, every message dropped), then L hears node 4 (which learned the
#      topology from the meta leader and created its replica meanwhile: L dropped node 4's
#      messages then, unless L leads the meta group too), counts it caught up, and enters C({L, from, other}, {L, other, 4}), which cannot commit without a
#      majority of the old voters. L is SIGKILLed as soon as its CLUSTER MEMBERS shows the move
#      `joint` (the check fails if it never does), then the two are healed and L restarted;
#   3. the joint configuration is resumed or rolled back by the next leader (node 4 holds the
#      joint entry, the paused two do not): either way every move ends, no move is left, every
#      node hosts exactly the replicas the topology lists and no directory of a replica that
#      moved off, node 4 is a voter of the meta group;
# then the history is linearizable, and every acknowledged marker write and a sample of the
# bulk keys are readable through every node. Waits on conditions, never on sleeps.
# timeout: 240
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
SHARDS=4
. tests/cluster/membership_lib.sh

# Election timeouts of 3-6 s (300 ticks of 10 ms): L must keep leading, without a majority of
# its old voters, until node 4 caught up and the joint configuration is entered; check-quorum
# makes it step down one election timeout after it last heard from one.
NODE_FLAGS="--replicas 3 --snapshot-entries 300 --election-ticks 300 --heartbeat-ticks 10"
LOAD_SECONDS=${LOAD_SECONDS:-120}
dev_nodes 1 2 3

sharded_start 3
bulk_load 1000 1
marker 1
load_start "$LOAD_SECONDS" 1 2 3

log "1. node 4 joins, cut off from its peers, and is added"
add_cut_off 4 2
shard=$MOVE_SHARD; from=$MOVE_FROM; leader=$MOVE_LEADER
log "shard $shard moves from node $from to node 4 (replicas $(shard_replicas "$shard")); node $leader leads it"
if [ "$leader" = "$from" ]; then
    dev "$leader" "/dev/pause?seconds=12"
    NODES_UP=$(nodes_but "$from" 1 2 3)
    wait_for 30 move_catching_up 4 && [ "$MOVE_SHARD" = "$shard" ] ||
        fail "no other replica of shard $shard took the move over from node $from"
    leader=$MOVE_LEADER
    log "node $from (moving off) paused until node $leader led the shard"
    dev "$from" /dev/heal
    NODES_UP="1 2 3"
fi
other=$(for i in $(shard_replicas "$shard"); do [ "$i" != "$leader" ] && [ "$i" != "$from" ] && echo "$i"; done)
[ -n "$other" ] || fail "shard $shard has no third replica besides $leader and $from"
# Node 4 must learn the topology that gives it the shard from the meta log, create its replica,
# and answer the leader only once the two others are paused. When the leader also leads the
# meta group, node 4 learns the topology from it: the two are paused first, then node 4 is
# healed. Otherwise the leader first drops node 4's messages (node 4 learns the topology from
# the meta leader and creates its replica, but the leader cannot count it caught up), then the
# two are paused, then the leader hears node 4 again.
meta=$(wait_for 20 meta_leader >/dev/null && meta_leader) || fail "no meta leader"
created() { grep -q "created a replica of shard $shard;" "$CLUSTER_DIR/node4.log"; }
if [ "$meta" != "$leader" ]; then
    dev "$leader" "/dev/partition?seconds=60&node=4"
    dev 4 /dev/heal
    wait_for 30 created || fail "node 4 did not create its replica of shard $shard"
fi
log "2. nodes $from and $other paused; node $leader (meta leader: node $meta) hears node 4 and enters the joint configuration alone"
load_still_running "the pause"
dev "$from" "/dev/pause?seconds=30"
dev "$other" "/dev/pause?seconds=30"
if [ "$meta" != "$leader" ]; then dev "$leader" /dev/heal; else dev 4 /dev/heal; fi
in_joint() { plan_lines "$leader" | grep -Eq "^move:shard=$shard,from=$from,to=4,state=joint(,|$)"; }
wait_for 20 in_joint || { plan_lines "$leader"; fail "node $leader never showed shard $shard in its joint configuration"; }
node_kill "$leader"
log "node $leader SIGKILLed in the joint configuration of shard $shard"
dev "$from" /dev/heal
dev "$other" /dev/heal

log "3. node $leader restarts; the joint configuration is resumed or rolled back"
node_start "$leader" || fail "node $leader did not restart"
NODES_UP="1 2 3 4"
load_still_running "the restart"
add_finish 4
wait_balanced 4 90 "3 -> 4 with the shard leader killed in the joint configuration"
all_hosts_as_placed "after the moves"
wait_meta_voters 1,2,3,4
entered=$(grep -h "shard $shard: joint configuration, node 4 in" "$CLUSTER_DIR"/node*.log | wc -l)
log "balanced at epoch $(members_field 1 topology_epoch): $(placement 1 | paste -sd' '); shard $shard entered its joint configuration $entered time(s) ($([ "$entered" -gt 1 ] && echo "rolled back, then again" || echo "resumed"))"
marker 4

log "the end: history, markers, bulk keys"
end_checks
echo "cluster_move_joint_kill: ok (shard $shard, leader $leader killed in joint, $marker_count markers, $(wc -l <"$HISTORY") operations)"
