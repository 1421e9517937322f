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
# timeout: 300
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
set -u

CHORUS=$BUILD/bin/chorus
LINCHECK=$BUILD/bin/chorus-lincheck
BENCH_SECONDS=${BENCH_SECONDS:-120}
HISTORY=$CLUSTER_DIR/history.jsonl
SHARDS=${SHARDS:-4}
BULK_KEYS=${BULK_KEYS:-6000}
NODE_FLAGS="--replicas 3 --snapshot-entries 500"
bench_pid=""
trap '[ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null; cluster_cleanup' EXIT
now() { date +%T.%N | cut -c1-12; }
log() { echo "$(now) $*"; }

members_field() { cli "$1" cluster members 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
topology_nodes_is() { [ "$(members_field "$1" topology_nodes)" = "$2" ]; }
verified() { [ "$(info_field "$1" topology_verified)" = 1 ]; }
all_verified() { local i; for i in $NODES_UP; do verified "$i" || return 1; done; }
meta_leader() {
    local i
    for i in $NODES_UP; do [ "$(info_field "$i" meta_role)" = leader ] && { echo "$i"; return 0; }; done
    return 1
}
nodes_lines() { [ "$(cli "$1" cluster nodes 2>/dev/null | grep -c .)" = "$2" ]; }
removed_answer() { [[ "$(cli "$1" get x 2>&1)" == *"this node was removed"* ]]; }
plan_lines() { cli "$1" cluster members 2>/dev/null | tr -d '\r' | grep '^move:'; }
placement() { cli "$1" cluster members 2>/dev/null | tr -d '\r' | grep '^shard_'; }

# balanced N — every node up has the topology of N nodes, the same placement, no move left.
balanced() {
    local i p1
    p1=$(placement 1)
    for i in $NODES_UP; do
        topology_nodes_is "$i" "$1" || return 1
        [ "$(members_field "$i" rebalance_moves)" = 0 ] || return 1
        [ "$(members_field "$i" topology_joining)" = 0 ] || return 1
        [ "$(placement "$i")" = "$p1" ] || return 1
    done
}

# hosts_as_placed NODE — NODE hosts exactly the shards whose replicas include it (INFO shards,
# a line per hosted group), and a shard it does not host left no directory.
hosts_as_placed() {
    local i=$1 want got s
    want=$(placement "$i" | awk -F'[_:=,]' -v me="$i" \
        '{ for (k = 4; k <= NF; k++) if ($k == me) { print $2; break } }' | paste -sd,)
    got=$(cli "$i" info shards 2>/dev/null | tr -d '\r' | sed -n 's/^shard_\([0-9]*\):.*/\1/p' | paste -sd,)
    [ "$want" = "$got" ] || { echo "node $i hosts shards '$got', the topology gives it '$want'"; return 1; }
    for s in $(seq 0 $((SHARDS - 1))); do
        [[ ",$got," == *",$s,"* ]] && continue
        if [ "$s" = 0 ]; then
            [ ! -d "$CLUSTER_DIR/node$i/snap" ] || { echo "node $i: shard 0's directory is left"; return 1; }
        else
            [ ! -d "$CLUSTER_DIR/node$i/groups/$s" ] || { echo "node $i: shard $s's directory is left"; return 1; }
        fi
    done
}

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
created_replica() { grep -q "created a replica of shard" "$CLUSTER_DIR/node4.log"; }

SHARDS=$SHARDS cluster_start 3 || fail "start"
NODES_UP="1 2 3"
wait_for 30 all_verified || fail "the meta group did not verify the topology on every node"
balanced 3 || fail "a new cluster is not balanced"
value=$(head -c 512 /dev/zero | tr '\0' v)
# In pipelines of 200, each retried up to 3 times (SET is idempotent): all at once they would
# overrun the forwarding bounds (-TRYAGAIN, by design).
bulk_chunk() { local i; for i in $(seq "$1" "$2"); do echo "set bulk:$i $value$i"; done | cli_load "$3" >/dev/null; }
for first in $(seq 1 200 "$BULK_KEYS"); do
    last=$((first + 199))
    bulk_chunk "$first" "$last" 1 || bulk_chunk "$first" "$last" 2 || bulk_chunk "$first" "$last" 3 ||
        fail "bulk load of keys $first-$last"
done
marker 1

nodes=""
for i in 2 3; do nodes="$nodes${nodes:+,}127.0.0.1:$(client_port "$i")"; done
"$CHORUS" bench -c 6 -t "$BENCH_SECONDS" -k 16 -d 0 --workload all --read-ratio 0.4 \
    --timeout 1000 --nodes "$nodes" --history "$HISTORY" --seed "$$" \
    >"$CLUSTER_DIR/bench.out" 2>&1 &
bench_pid=$!
history_grown() { [ "$(stat -c %s "$HISTORY" 2>/dev/null || echo 0)" -ge "$1" ]; }
wait_for 20 history_grown 20000 || fail "the load does not run"

log "1. grow 3 -> 4: node 4 joins through node 2 and is added"
join_start 4 2 || fail "node 4 (--join) did not start"
[ "$(info_field 4 groups_hosted)" = 0 ] || fail "a joined node hosts no shard before replicas move"
timeout 150 "$CHORUS" -p "$(client_port 1)" cluster add "127.0.0.1:$(peer_port 4)" ||
    fail "chorus cluster add 4 failed"
wait_for 30 created_replica || fail "node 4 never created a replica"
epoch_at_kill=$(members_field 1 topology_epoch)
node_kill 4
log "node 4 SIGKILLed after creating its first replica (topology epoch $epoch_at_kill on node 1); restarted"
join_start 4 2 || fail "node 4 did not restart without flags"
NODES_UP="1 2 3 4"
wait_for 90 balanced 4 || { for i in $NODES_UP; do echo "node $i:"; plan_lines "$i"; done; fail "3 -> 4 did not end balanced"; }
# A replica that moved off is deleted once the WAL's reset of its group is durable: waited for.
for i in 1 2 3 4; do wait_for 20 hosts_as_placed "$i" >/dev/null || { hosts_as_placed "$i"; fail "node $i's replicas differ from the topology"; }; done
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
read_is 4 "${value}17" bulk:17 || fail "a bulk key is not read through node 4"

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
timeout 150 "$CHORUS" -p "$(client_port 3)" cluster remove 1 || fail "chorus cluster remove 1 failed"
NODES_UP="2 3 4"
# balanced compares placements with node 1's: node 1 is out now, so node 2's is the reference.
balanced_without_1() { local p i; p=$(placement 2); for i in 2 3 4; do topology_nodes_is "$i" 3 && [ "$(members_field "$i" rebalance_moves)" = 0 ] && [ "$(placement "$i")" = "$p" ] || return 1; done; }
wait_for 90 balanced_without_1 || fail "4 -> 3 did not end balanced without node 1"
grep -q "handing leadership" "$CLUSTER_DIR/node1.log" ||
    fail "node 1 led shards but never handed leadership away before its replicas moved off"
wait_for 20 removed_answer 1 || fail "node 1 does not answer that it was removed"
no_replica_on_1() { [ "$(ls "$CLUSTER_DIR/node1/groups")" = meta ] && [ ! -d "$CLUSTER_DIR/node1/snap" ]; }
wait_for 20 no_replica_on_1 || fail "node 1 still holds replica data: $(ls "$CLUSTER_DIR/node1/groups")"
for i in 2 3 4; do
    nodes_lines "$i" 3 || fail "CLUSTER NODES on node $i does not list 3 nodes"
    wait_for 20 hosts_as_placed "$i" >/dev/null ||
        { hosts_as_placed "$i"; fail "node $i's replicas differ from the topology after the shrink"; }
done
marker 4

log "4. refused: a node leaving would leave too few for R = 3"
out=$(cli "$(meta_leader)" cluster forget 2 2>&1)
[[ "$out" == *"node 2 cannot leave"* ]] || fail "FORGET with too few nodes left: $out"

log "the end: history, markers, bulk keys"
kill -TERM "$bench_pid" 2>/dev/null # the faults are over: the load ends now
wait "$bench_pid"; bench_rc=$?; bench_pid=""
tail -3 "$CLUSTER_DIR/bench.out"
[ "$bench_rc" -eq 0 ] || { cat "$CLUSTER_DIR/bench.out"; fail "chorus bench exited $bench_rc"; }
if ! "$LINCHECK" "$HISTORY" >"$CLUSTER_DIR/lincheck.out" 2>&1; then
    cat "$CLUSTER_DIR/lincheck.out"
    kept=$BUILD/test-logs/cluster_topology_membership.$PROTOCOL
    mkdir -p "$kept" && cp "$HISTORY" "$CLUSTER_DIR"/node*.log "$kept/"
    fail "the history is not linearizable (history and node logs kept in $kept)"
fi
for i in 2 3 4; do
    for k in $(seq 1 "$marker_count"); do
        read_is "$i" "v$k" "marker:$k" || fail "marker:$k not readable through node $i"
    done
    for k in 1 $((BULK_KEYS / 3)) $((BULK_KEYS / 2)) $BULK_KEYS; do
        read_is "$i" "$value$k" "bulk:$k" || fail "bulk:$k not readable through node $i"
    done
done
echo "cluster_topology_membership ($PROTOCOL, S = $SHARDS): ok ($marker_count markers, $(wc -l <"$HISTORY") operations)"
