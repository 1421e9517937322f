#!/usr/bin/env bash
# An addition of a node to a sharded cluster interrupted by the loss of the meta group's leader
# right after it proposed the topology that names the new node, before the node became a
# member of the meta group (issue 11; docs/membership.md, "Sharded clusters", "A change a
# leader change interrupted"). Real processes (3 nodes, S = 4, R = 3, Raft, --http-dev) under a
# client workload recorded for chorus-lincheck (election timeouts of 1.5-3 s):
#   1. node 4 joins (--join); the meta leader cuts itself off from every message it would
#      receive (/dev/partition: it still sends) and is asked CLUSTER MEET of node 4: its
#      topology entry reaches the others, but no answer reaches it, so it commits nothing and
#      check-quorum makes it step down; another node leads the meta group and commits the
#      entry, so its topology names node 4 while the meta group does not (the interruption
#      this test is about: the check fails unless the new leader logs that it resumed the
#      addition, which it does only in that state);
#   2. the cut-off node is healed and nobody runs a command again: the new meta leader must
#      finish the addition by itself (node 4 a learner of the meta group, so that it learns
#      the topology, then a voter), the moves to node 4 run, and every node ends with the
#      topology of 4 nodes, no move left, exactly the replicas it lists and no directory of a
#      replica that moved off.
# Before the fix the moves to node 4 waited for ever (node 4 never learned the topology that
# named it) and CLUSTER MEET, run again, was refused while moves were planned (-TRYAGAIN).
# Then the history is linearizable and every acknowledged marker write is readable through
# every node. Waits on conditions, never on sleeps.
# timeout: 200
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
SHARDS=4
. tests/cluster/membership_lib.sh

# Election timeouts of 1.5-3 s (150 ticks of 10 ms, not 15): the cut-off meta leader must still
# lead when CLUSTER MEET reaches it, a few redis-cli starts after the cut on a loaded machine.
NODE_FLAGS="--replicas 3 --snapshot-entries 300 --election-ticks 150 --heartbeat-ticks 10"
LOAD_SECONDS=${LOAD_SECONDS:-120}
dev_nodes 1 2 3

sharded_start 3
bulk_load 600 1
marker 1
load_start "$LOAD_SECONDS" 1 2 3

log "1. node 4 joins; the meta leader is cut off and asked to add it"
join_start 4 1 || fail "node 4 (--join) did not start"
lost=$(wait_for 20 meta_leader >/dev/null && meta_leader) || fail "no meta leader"
others=$(nodes_but "$lost" 1 2 3)
dev "$lost" "/dev/partition?seconds=120"
out=$(cli "$lost" cluster meet 127.0.0.1 "$(peer_port 4)" 2>&1)
expect_eq "$out" OK "CLUSTER MEET on the cut-off meta leader"
NODES_UP=$others
new_meta() { NEW_META=$(meta_leader) && [ "$(members_field "$NEW_META" topology_nodes)" = 4 ]; }
wait_for 30 new_meta || fail "no other node leads the meta group with the topology naming node 4 (leader: $(meta_leader); topology nodes: $(members_field "$(first_up)" topology_nodes))"
meta_members=$(cli "$NEW_META" cluster members | tr -d '\r' | grep -E '^(voters|learners):' | paste -sd' ')
log "node $lost cut off as meta leader after proposing the topology of 4 nodes; node $NEW_META leads ($meta_members)"

log "2. node $lost healed; the new meta leader must finish the addition by itself"
dev "$lost" /dev/heal
load_still_running "the heal"
NODES_UP="1 2 3 4"
wait_balanced 4 90 "the interrupted addition of node 4"
all_hosts_as_placed "after the interrupted addition"
wait_meta_voters 1,2,3,4
[ "$(info_field 4 groups_hosted)" -gt 0 ] || fail "node 4 holds no replica after the moves"
grep -q "resuming the addition of node 4" "$CLUSTER_DIR"/node*.log || fail "no node says it resumed the addition"
log "balanced at epoch $(members_field 1 topology_epoch): $(placement 1 | paste -sd' ')"
marker 4

log "the end: history, markers"
end_checks markers
echo "cluster_add_meta_leader_lost: ok (meta leader $lost lost, node $NEW_META resumed, $(wc -l <"$HISTORY") operations)"
