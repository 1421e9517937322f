#!/usr/bin/env bash
# timeout: 150
# A new node that dies for good in the middle of its additions is removed (issue 11;
# docs/membership.md, "A node that dies for good while it joins"), on real processes (3 nodes,
# S = 4, R = 3, Raft) under a client workload recorded for chorus-lincheck on nodes 2 and 3:
#   1. node 4 joins (--join) and is added with `chorus cluster add`; the rebalancer plans
#      replicas moving to it, and it is SIGKILLed as soon as it created its first replica,
#      never to come back;
#   2. `chorus cluster remove 4` succeeds within a bounded time (before this was built it was
#      refused for as long as the moves to node 4 were planned, that is for ever: "-TRYAGAIN
#      the rebalancer is moving replicas"). Its moves are abandoned: a shard that made it a
#      learner removes it again, one whose swap completed unrecorded brings the old replica
#      back, one whose move was recorded moves the replica off it (LEAVING);
#   3. the cluster settles back to 3 nodes: no move left, the same placement everywhere, the
#      meta group's voters are 1,2,3, and every shard's own configuration on every node is
#      exactly the topology's replicas (no learner, nothing outgoing);
# then the history is linearizable and every acknowledged marker write and a sample of the
# bulk keys are readable through every node. Waits on conditions, never on sleeps.
# About 30 s on a quiet machine (27 s measured; 60-75 s while others built and tested).
# BANDWIDTH_FLAG= (empty) runs it without the snapshot bandwidth limit: node 4 then usually
# holds a recorded replica when it dies (the LEAVING path).
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
SHARDS=4
. tests/cluster/membership_lib.sh

# Snapshot chunks to learners at 64 KiB/s: a shard's snapshot (about 128 KiB of the bulk keys) takes
# seconds to reach node 4, so that it dies while its first move catches up (a move that ends
# before the kill leaves node 4 holding a replica: then it is LEAVING, the other path).
NODE_FLAGS="--replicas 3 --snapshot-entries 300 ${BANDWIDTH_FLAG---snapshot-bandwidth 64k}"
LOAD_SECONDS=${LOAD_SECONDS:-90}

sharded_start 3
bulk_load 1000 1
marker 1
load_start "$LOAD_SECONDS" 2 3

log "1. node 4 joins and is added; SIGKILLed for good once it created its first replica"
join_start 4 2 || fail "node 4 (--join) did not start"
cluster_add 1 4 || fail "chorus cluster add 4 failed"
created_replica() { [ "$(info_field 4 groups_hosted 2>/dev/null)" -ge 1 ] 2>/dev/null; }
wait_for 30 created_replica || fail "node 4 never created a replica"
node_kill 4
log "node 4 SIGKILLed; the moves planned: $(plan_lines 1 | paste -sd' ')"
marker 2

log "2. chorus cluster remove 4 (bounded: the command's own retries for 45 s)"
leader=$(wait_for 20 meta_leader >/dev/null && meta_leader) || fail "no meta leader"
timeout 60 "$CHORUS" -p "$(client_port "$leader")" cluster remove 4 --wait-timeout 45 ||
    fail "chorus cluster remove 4 failed (a dead joining node cannot be removed)"
load_still_running "the removal"

log "3. back to 3 nodes, every shard's configuration its replicas"
wait_balanced 3 60 "removing the dead joining node 4"
all_hosts_as_placed "after node 4's removal"
meta_voters_all() { local i; for i in $NODES_UP; do [ "$(members_field "$i" voters)" = 1,2,3 ] || return 1; done; }
wait_for 30 meta_voters_all || fail "the meta group's voters are not 1,2,3: $(members_field 1 voters)"
sorted() { tr '/' '\n' | sort -n | paste -sd/; }
# configs_as_placed NODE — each shard NODE hosts has voters = the topology's replicas, no
# learner and nothing outgoing, by its own configuration (INFO shards).
configs_as_placed() {
    local line replicas voters
    while read -r line; do
        replicas=$(echo "$line" | sed -n 's/.*,replicas=\([0-9/]*\),.*/\1/p' | sorted)
        voters=$(echo "$line" | sed -n 's/.*,voters=\([0-9/]*\),.*/\1/p' | sorted)
        [ -n "$replicas" ] && [ "$replicas" = "$voters" ] || { echo "node $1: $line"; return 1; }
        [[ "$line" == *",learners=,outgoing=" ]] || { echo "node $1: $line"; return 1; }
    done < <(cli "$1" info shards 2>/dev/null | tr -d '\r' | grep '^shard_')
}
for i in $NODES_UP; do
    wait_for 30 configs_as_placed "$i" >/dev/null || { configs_as_placed "$i"; fail "node $i: a shard's configuration is not its replicas"; }
    nodes_lines "$i" 3 || fail "CLUSTER NODES on node $i does not list 3 nodes"
done
marker 3

log "the end: history, markers, bulk keys"
load_check
for i in $NODES_UP; do markers_readable "$i"; bulk_sample_readable "$i"; done
echo "cluster_forget_joining_dead: ok (node 4 removed at epoch $(members_field 1 topology_epoch), $marker_count markers, $(wc -l <"$HISTORY") operations)"
