#!/usr/bin/env bash
# Grow a sharded cluster 3 -> 5 with two joins back to back, then shrink it 5 -> 4 (issue 11;
# docs/membership.md, "Sharded clusters" and "The rebalancer"), on real processes (S = 4,
# R = 3, Raft) under a client workload recorded for chorus-lincheck on nodes 1 and 2, after a
# bulk load:
#   1. nodes 4 and 5 join (--join) and `chorus cluster add` runs for both at once: the second
#      waits out the first change and its moves (-TRYAGAIN), then runs. At the end: 5 nodes,
#      no move left, both new nodes voters of the meta group, every node hosting exactly the
#      replicas the topology lists, no directory left of a replica that moved off;
#   2. `chorus cluster remove 3`: node 3's replicas move off, it is dropped from the topology
#      and the meta group, answers that it was removed and holds no replica data; the four
#      others host exactly what the topology lists;
# then the history is linearizable, and every acknowledged marker write and a sample of the
# bulk keys are readable through every member. Waits on conditions, never on sleeps.
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
load_start "$LOAD_SECONDS" 1 2

log "1. grow 3 -> 5: nodes 4 and 5 join and are added back to back"
join_start 4 1 || fail "node 4 (--join) did not start"
join_start 5 2 || fail "node 5 (--join) did not start"
cluster_add 1 4 >"$CLUSTER_DIR/add4.out" 2>&1 &
add4_pid=$!
cluster_add 2 5 >"$CLUSTER_DIR/add5.out" 2>&1 || { cat "$CLUSTER_DIR/add5.out"; fail "chorus cluster add 5 failed"; }
wait "$add4_pid" || { cat "$CLUSTER_DIR/add4.out"; fail "chorus cluster add 4 failed"; }
NODES_UP="1 2 3 4 5"
wait_balanced 5 90 "3 -> 5"
all_hosts_as_placed "after growing to 5"
wait_meta_voters 1,2,3,4,5
hosted_new=$(( $(info_field 4 groups_hosted) + $(info_field 5 groups_hosted) ))
[ "$hosted_new" -ge 2 ] || fail "nodes 4 and 5 hold $hosted_new replicas after the moves"
for i in 1 2 3 4 5; do nodes_lines "$i" 5 || fail "CLUSTER NODES on node $i does not list 5 nodes"; done
log "5 nodes at epoch $(members_field 1 topology_epoch): $(placement 1 | paste -sd' ')"
marker 4
marker 5

log "2. shrink 5 -> 4: node 3 leaves"
load_still_running "the shrink"
cluster_remove 4 3 || fail "chorus cluster remove 3 failed"
NODES_UP="1 2 4 5"
wait_balanced 4 90 "5 -> 4"
all_hosts_as_placed "after node 3 left"
wait_for 20 removed_answer 3 || fail "node 3 does not answer that it was removed"
no_replica_on_3() { [ "$(ls "$CLUSTER_DIR/node3/groups")" = meta ] && [ ! -d "$CLUSTER_DIR/node3/snap" ]; }
wait_for 20 no_replica_on_3 || fail "node 3 still holds replica data: $(ls "$CLUSTER_DIR/node3/groups")"
wait_meta_voters 1,2,4,5
for i in $NODES_UP; do nodes_lines "$i" 4 || fail "CLUSTER NODES on node $i does not list 4 nodes"; done
log "4 nodes at epoch $(members_field 1 topology_epoch): $(placement 1 | paste -sd' ')"
marker 1

log "the end: history, markers, bulk keys"
end_checks
echo "cluster_grow_shrink: ok ($marker_count markers, $(wc -l <"$HISTORY") operations)"
