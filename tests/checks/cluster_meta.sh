#!/usr/bin/env bash
# timeout: 240
# cluster_meta.sh — the meta group (src/node/meta.c) on real processes: the topology is written
# once into a consensus group of its own and every node checks its own topology against it.
# 6 nodes, S = 16, R = 3, Raft: nodes 1..5 are the meta group's voters, node 6 is not.
#  - Every node reports topology_verified:1 and the same topology_epoch; the five voters agree
#    on one meta leader; node 6 (meta_role:none) learned the result from the beats.
#  - A node started with other flags (--replicas 2 on a fresh data directory: another
#    placement) stops with a message naming the difference, both when it is not a meta voter
#    (node 6: it learns from the beats) and when it is one (node 4). Meanwhile the cluster
#    keeps serving, and no running node stops.
#  - Restarted with the right flags on its own data, each of them verifies again. A node
#    restarted on its own data with another --replicas is refused at start (groups.c).
#  - The whole cluster stopped and started: every node verifies again, and every key written
#    before is there.
cd "$(dirname "$0")/../.." || exit 1
# Ports 28000..31999: apart from lib.sh's default range and below the ephemeral ports.
PORT_BASE=${PORT_BASE:-$((28000 + ($$ % 200) * 20))}
. tests/cluster/lib.sh
. tests/cluster/shards_lib.sh
set -u

SHARDS=16
NODES=6
NODE_FLAGS="--replicas 3"
MISMATCH="differs from the one"

# verified NODE — the node answers and says its topology is the cluster's.
verified() { [ "$(info_field "$1" topology_verified)" = 1 ]; }
all_verified() {
    local i
    for i in $(seq 1 "$NODES"); do verified "$i" || return 1; done
}

# check_agreement — one epoch on every node, one meta leader among the voters (1..5), and the
# non-voter (6) outside the group.
check_agreement() {
    local i epoch leader e l
    epoch=$(info_field 1 topology_epoch)
    [[ $epoch =~ ^[0-9]+$ ]] || fail "node 1 reports no topology_epoch"
    leader=$(info_field 1 meta_leader_id)
    [[ $leader =~ ^[1-5]$ ]] || fail "node 1 names no meta leader among 1..5 (got '$leader')"
    for i in $(seq 1 "$NODES"); do
        e=$(info_field "$i" topology_epoch)
        expect_eq "$e" "$epoch" "topology_epoch on node $i"
    done
    for i in 1 2 3 4 5; do
        l=$(info_field "$i" meta_leader_id)
        expect_eq "$l" "$leader" "meta_leader_id on node $i"
    done
    expect_eq "$(info_field 6 meta_role)" none "meta_role on node 6 (not a voter)"
    echo "  epoch $epoch on all 6 nodes, meta leader $leader"
}
meta_leader_agreed() {
    local i first l
    first=$(info_field 1 meta_leader_id)
    [[ $first =~ ^[1-5]$ ]] || return 1
    for i in 2 3 4 5; do
        l=$(info_field "$i" meta_leader_id)
        [ "$l" = "$first" ] || return 1
    done
}

# write_keys PREFIX COUNT — COUNT keys through the nodes in turn (each forwards to the shard's
# leader); check_keys PREFIX COUNT NODE — all of them read back through NODE.
write_keys() {
    local i n
    for i in $(seq 1 "$2"); do
        n=$(( (i % NODES) + 1 ))
        node_alive "$n" || n=1
        # A stopped node's shards elect new leaders first: -TRYAGAIN meanwhile, retried.
        wait_for 10 reply_is "$n" OK set "$1:$i" "v$i" || fail "SET $1:$i through node $n: $(cli "$n" set "$1:$i" "v$i")"
    done
}
check_keys() {
    local i
    for i in $(seq 1 "$2"); do
        wait_for 10 reply_is "$3" "v$i" get "$1:$i" || fail "GET $1:$i through node $3: $(cli "$3" get "$1:$i")"
    done
}

# says_mismatch NODE — the node's log has the stop message.
says_mismatch() { grep -q "$MISMATCH" "$CLUSTER_DIR/node$1.log"; }
# exited NODE — the node's process is gone (a zombie until reaped counts as gone).
exited() {
    local state
    state=$(ps -o stat= -p "${NODE_PID[$1]}" 2>/dev/null) || return 0
    case $state in Z*) return 0 ;; esac
    return 1
}

# mismatched_start NODE — starts NODE with --replicas 2 on an empty data directory (its own
# set aside): it must stop by itself, saying why, while the others go on.
mismatched_start() {
    local i=$1 dir="$CLUSTER_DIR/node$1"
    node_stop "$i"
    mv "$dir" "$dir.saved"
    NODE_FLAGS="--replicas 2" NODE_START_TIMEOUT_S=1 node_start "$i" >/dev/null 2>&1
    wait_for 30 exited "$i" || fail "node $i, started with --replicas 2, kept running"
    says_mismatch "$i" || fail "node $i stopped without saying why: $(tail -3 "$CLUSTER_DIR/node$i.log")"
    grep "$MISMATCH" "$CLUSTER_DIR/node$i.log" | head -1 | cut -c1-160 | sed 's/^/  /'
    node_stop "$i"
    # Its log so far is set aside, so that a later mismatch check sees only new lines.
    mv "$CLUSTER_DIR/node$i.log" "$CLUSTER_DIR/node$i.log.mismatch"
    rm -rf "$dir"
    mv "$dir.saved" "$dir"
    local j
    for j in $(seq 1 "$NODES"); do
        [ "$j" = "$i" ] && continue
        node_alive "$j" || fail "node $j stopped while node $i ran with other flags"
    done
}

start_s=$SECONDS
echo "== 6 nodes, S = $SHARDS, R = 3; meta voters 1..5"
cluster_start "$NODES" || fail "start"
wait_for 30 shards_led_once || fail "groups_leading never added up to S = $SHARDS"
wait_for 30 all_verified || fail "not every node reports topology_verified:1"
wait_for 10 meta_leader_agreed || fail "the meta voters do not agree on a leader"
check_agreement
write_keys a 60

echo "== node 6 (not a voter) restarted with --replicas 2 on a fresh directory"
mismatched_start 6
write_keys b 30
echo "== node 6 restarted with the right flags on its own data"
node_start 6 || fail "restart node 6"
wait_for 30 verified 6 || fail "node 6 did not verify again"

echo "== node 4 (a voter) restarted with --replicas 2 on a fresh directory"
mismatched_start 4
write_keys c 30
echo "== node 4 restarted with the right flags on its own data"
node_start 4 || fail "restart node 4"
wait_for 30 verified 4 || fail "node 4 did not verify again"
check_keys a 60 4
check_keys b 30 6
check_keys c 30 6

echo "== node 5 restarted with --replicas 2 on its own data: refused at start"
node_stop 5
NODE_FLAGS="--replicas 2" NODE_START_TIMEOUT_S=5 node_start 5 >/dev/null 2>&1 &&
    fail "node 5 started with --replicas 2 on a directory made with 3"
wait_for 10 exited 5 || fail "node 5 with --replicas 2 kept running"
grep -q -- "--replicas 2, but the data directory" "$CLUSTER_DIR/node5.log" ||
    fail "node 5 refused --replicas 2 without saying why"
node_stop 5
node_start 5 || fail "restart node 5"
wait_for 30 verified 5 || fail "node 5 did not verify again"

echo "== the whole cluster stopped and started"
for i in $(seq 1 "$NODES"); do node_stop "$i"; done
for i in $(seq 1 "$NODES"); do node_start "$i" || fail "restart node $i"; done
wait_for 30 all_verified || fail "not every node verified after the full restart"
wait_for 10 meta_leader_agreed || fail "the meta voters do not agree on a leader after restart"
check_agreement
for i in $(seq 1 "$NODES"); do says_mismatch "$i" && fail "node $i logged a mismatch"; done
wait_for 30 shards_led_once || fail "groups_leading never added up to S after the restart"
check_keys a 60 2
check_keys b 30 5
check_keys c 30 3
for i in $(seq 1 "$NODES"); do node_alive "$i" || fail "node $i died"; done
echo "cluster_meta: ok ($((SECONDS - start_s)) s)"
