#!/usr/bin/env bash
# A node that dies for good, replaced (issue 11; docs/membership.md, "The rebalancer"), on real
# processes (4 nodes, S = 4, R = 3, Raft, every node a voter of the meta group) under a client
# workload recorded for chorus-lincheck on the three other nodes, after a bulk load:
#   1. the meta group's leader is SIGKILLed and never restarted;
#   2. `chorus cluster remove` of it, asked of a survivor: it is marked LEAVING, each of its
#      replicas is re-created on the survivor that lacked the shard, caught up from the
#      shard's remaining replicas (the joint configurations need only the survivors'
#      majorities), then the meta leader drops it from the topology and the meta group. At
#      the end: 3 nodes, no move left, every survivor hosts every shard (R = 3) and nothing
#      else, the meta group's voters are the survivors;
#   3. node 5 joins with an empty data directory (--join) and is added: it receives its share
#      of the replicas, and every node hosts exactly what the topology lists, no directory
#      left of a replica that moved off;
# then the history is linearizable, and every acknowledged marker write and a sample of the
# bulk keys are readable through every node. Waits on conditions, never on sleeps.
# timeout: 240
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
SHARDS=4
. tests/cluster/membership_lib.sh

NODE_FLAGS="--replicas 3 --snapshot-entries 300"
LOAD_SECONDS=${LOAD_SECONDS:-120}

sharded_start 4
bulk_load 2000 1
marker 1
victim=$(wait_for 20 meta_leader >/dev/null && meta_leader) || fail "no meta leader"
survivors=$(nodes_but "$victim" 1 2 3 4)
held=$(placement 1 | awk -F'[_:=,]' -v me="$victim" \
    '{ for (k = 4; k <= NF; k++) if ($k == me) { print $2; break } }' | paste -sd,)
[ -n "$held" ] || fail "node $victim holds no replica: nothing to re-create"
created_before=0
for i in $survivors; do created_before=$((created_before + $(members_field "$i" rebalance_replicas_created))); done
# shellcheck disable=SC2086
load_start "$LOAD_SECONDS" $survivors

log "1. node $victim (the meta leader, holding shards $held) is SIGKILLed for good"
node_kill "$victim"
NODES_UP=$survivors
new_meta=$(wait_for 30 meta_leader >/dev/null && meta_leader) || fail "no new meta leader without node $victim"
marker "$new_meta"

log "2. chorus cluster remove $victim, through node $new_meta"
cluster_remove "$new_meta" "$victim" || fail "chorus cluster remove $victim failed"
load_still_running "the removal"
wait_balanced 3 90 "removing the dead node $victim"
all_hosts_as_placed "after node $victim's removal"
created=0
for i in $survivors; do created=$((created + $(members_field "$i" rebalance_replicas_created))); done
held_count=$(echo "$held" | tr ',' '\n' | grep -c .)
[ $((created - created_before)) -ge "$held_count" ] ||
    fail "the survivors created $((created - created_before)) replicas, node $victim held $held_count"
survivor_list=$(echo "$survivors" | tr ' ' ',')
wait_meta_voters "$survivor_list"
for i in $survivors; do
    nodes_lines "$i" 3 || fail "CLUSTER NODES on node $i does not list 3 nodes"
    markers_readable "$i"
done
log "node $victim removed at epoch $(members_field "$new_meta" topology_epoch): $(placement "$new_meta" | paste -sd' ')"
marker "$(first_up)"

log "3. node 5 joins with an empty data directory and receives its share"
join_start 5 "$(first_up)" || fail "node 5 (--join) did not start"
cluster_add "$(first_up)" 5 || fail "chorus cluster add 5 failed"
NODES_UP="$survivors 5"
wait_balanced 4 90 "adding node 5"
all_hosts_as_placed "after node 5 joined"
[ "$(info_field 5 groups_hosted)" -gt 0 ] || fail "node 5 holds no replica after the moves"
wait_meta_voters "$survivor_list,5"
marker 5

log "the end: history, markers, bulk keys"
end_checks
echo "cluster_replace_dead_node: ok (node $victim replaced, shards $held re-created, node 5 holds $(info_field 5 groups_hosted), $marker_count markers, $(wc -l <"$HISTORY") operations)"
