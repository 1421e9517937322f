#!/usr/bin/env bash
# Membership change of a sharded cluster (S = 4, R = 3, Raft; PROTOCOL, SHARDS and BULK_KEYS
# from the environment: cluster_topology_membership_paxos.sh runs it on Multi-Paxos) with the
# rebalancer moving replicas (issue 11; docs/membership.md, "Sharded clusters" and "The
# rebalancer"), on real processes under a client workload recorded for chorus-lincheck (on
# nodes 2 and 3), after a bulk load of 6,000 keys of 512 bytes (so that a new replica is
# caught up with a snapshot, then the log, --snapshot-entries 500):
#   1. grow 3 -> 4: node 4 starts with --join (it learns the member's topology through a probe
#      and hosts no shard) and is added with `chorus cluster add`: the topology of epoch 2 names
#      it, every node computes the same plan (every move goes to node 4), and the moves run one
#      at a time. Node 4 is SIGKILLed as soon as it created its first replica (mid-move) and
#      restarted without flags: the move resumes from the shard's configuration. At the end
#      no move is left, every node hosts exactly the replicas the topology lists for it, and a
#      replica that moved off has no directory left on its old node;
#   2. an original node restarted with its 3-node --cluster serves with the adopted topology;
#   3. shrink 4 -> 3 removing node 1, an original node that leads shards (node 4 replaces it):
#      `chorus cluster remove 1` marks it LEAVING, its replicas move off (leadership handed
#      away first where it leads), then the meta leader removes it from the topology and the
#      meta group: node 1 answers that it was removed and holds no shard replica (its
#      directories deleted);
#   4. refused: removing a node when too few would be left to hold R replicas;
# then the history (the load runs on nodes 2 and 3) is linearizable, every acknowledged marker
# write and a sample of the bulk keys are readable through every member. Waits on conditions.
# The shared steps are tests/cluster/membership_lib.sh's.
# timeout: 300
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
SHARDS=${SHARDS:-4}
# Read before membership_lib.sh, whose bulk_load keeps its own count in BULK_KEYS.
BULK_COUNT=${BULK_KEYS:-6000}
. tests/cluster/membership_lib.sh
set -u

BENCH_SECONDS=${BENCH_SECONDS:-120}
NODE_FLAGS="--replicas 3 --snapshot-entries 500"
# A failed linearizability check keeps the history and the node logs here (load_check).
LOAD_KEEP_DIR=$BUILD/test-logs/cluster_topology_membership.$PROTOCOL

# read_is NODE WANT KEY — GET KEY through NODE answers WANT, within 10 s: a read that meets a
# leadership moving (the balancer hands shards to a new node once the moves are done) is
# answered -TRYAGAIN and retried, as a client would; a wrong or missing value fails at the end
# with the last reply shown.
read_is() {
    local node=$1 want=$2 key=$3 got
    wait_for 10 reply_is "$node" "$want" get "$key" && return 0
    got=$(cli "$node" get "$key" 2>&1 | head -c 120)
    echo "GET $key through node $node: '$got'"
    return 1
}
created_replica() { grep -q "created a replica of shard" "$CLUSTER_DIR/node4.log"; }

sharded_start 3
bulk_load "$BULK_COUNT" 1
marker 1
load_start "$BENCH_SECONDS" 2 3

log "1. grow 3 -> 4: node 4 joins through node 2 and is added"
join_start 4 2 || fail "node 4 (--join) did not start"
[ "$(info_field 4 groups_hosted)" = 0 ] || fail "a joined node hosts no shard before replicas move"
cluster_add 1 4 || fail "chorus cluster add 4 failed"
wait_for 30 created_replica || fail "node 4 never created a replica"
epoch_at_kill=$(members_field 1 topology_epoch)
node_kill 4
log "node 4 SIGKILLed after creating its first replica (topology epoch $epoch_at_kill on node 1); restarted"
join_start 4 2 || fail "node 4 did not restart without flags"
NODES_UP="1 2 3 4"
wait_balanced 4 90 "3 -> 4"
all_hosts_as_placed "after the grow"
grep -q "snapshot installed" "$CLUSTER_DIR/node4.log" ||
    fail "node 4 installed no snapshot: its replicas were not caught up the way this test means to"
hosted4=$(info_field 4 groups_hosted)
[ "$hosted4" -gt 0 ] || fail "node 4 holds no replica after the moves"
log "balanced at epoch $(members_field 1 topology_epoch): node 4 holds $hosted4 replicas; $(placement 1 | paste -sd' ')"
for i in 1 2 3 4; do nodes_lines "$i" 4 || fail "CLUSTER NODES on node $i does not list 4 nodes"; done
# Once the moves are done, node 4 is ACTIVE and the preferred leaders are balanced again, so
# it leads shards and CLUSTER SLOTS (leaders) names it.
leading4() { [ "$(info_field 4 groups_leading)" -gt 0 ] && cli 1 cluster slots | grep -q "^$(client_port 4)$"; }
wait_for 20 leading4 || fail "node 4 leads no shard (or CLUSTER SLOTS does not show it) after the moves"
marker 4
read_is 1 v2 marker:2 || fail "a write through node 4 is not read through node 1"
read_is 4 "${BULK_VALUE}17" bulk:17 || fail "a bulk key is not read through node 4"

log "2. an original node restarted with its 3-node --cluster keeps the topology"
epoch=$(members_field 2 topology_epoch)
node_stop 2
node_start 2 || fail "node 2 did not restart"
wait_for 20 topology_nodes_is 2 4 || fail "node 2 restarted without the adopted topology"
[ "$(members_field 2 topology_epoch)" = "$epoch" ] || fail "node 2's epoch changed over its restart"
wait_for 20 all_verified || fail "not every node verified after the restart"
marker 3

log "3. shrink 4 -> 3: node 1 leaves (node 4 replaces it)"
leading1() { [ "$(info_field 1 groups_leading)" -gt 0 ]; }
wait_for 20 leading1 || fail "node 1 leads no shard before it leaves"
log "node 1 leads $(info_field 1 groups_leading) shards; meta leader: node $(meta_leader)"
cluster_remove 3 1 || fail "chorus cluster remove 1 failed"
# balanced compares placements with the first node up's: node 2's, now that node 1 is out.
NODES_UP="2 3 4"
wait_balanced 3 90 "4 -> 3 without node 1"
grep -q "handing leadership" "$CLUSTER_DIR/node1.log" ||
    fail "node 1 led shards but never handed leadership away before its replicas moved off"
wait_for 20 removed_answer 1 || fail "node 1 does not answer that it was removed"
no_replica_on_1() { [ "$(ls "$CLUSTER_DIR/node1/groups")" = meta ] && [ ! -d "$CLUSTER_DIR/node1/snap" ]; }
wait_for 20 no_replica_on_1 || fail "node 1 still holds replica data: $(ls "$CLUSTER_DIR/node1/groups")"
for i in 2 3 4; do nodes_lines "$i" 3 || fail "CLUSTER NODES on node $i does not list 3 nodes"; done
all_hosts_as_placed "after the shrink"
marker 4

log "4. refused: a node leaving would leave too few for R = 3"
out=$(cli "$(meta_leader)" cluster forget 2 2>&1)
[[ "$out" == *"node 2 cannot leave"* ]] || fail "FORGET with too few nodes left: $out"

log "the end: history, markers, bulk keys"
load_check
for i in 2 3 4; do
    markers_readable "$i"
    bulk_sample_readable "$i"
done
echo "cluster_topology_membership ($PROTOCOL, S = $SHARDS): ok ($marker_count markers, $(wc -l <"$HISTORY") operations)"
