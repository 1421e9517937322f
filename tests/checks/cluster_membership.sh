#!/usr/bin/env bash
# Membership change of a running one-group cluster (S = 1) on real processes, under a client
# workload recorded for chorus-lincheck (docs/membership.md, "Node level"). Three segments,
# each with its own `chorus bench --history` (keys of their own) on nodes it does not remove:
#   1. grow 3 -> 5: nodes 4 and 5 start with --join and are added with `chorus cluster add`;
#      node 5 is paused (--http-dev's /dev/pause: it answers the probe, then drops every
#      message of its peers) before it is added, so the leader holds it as a learner that has
#      not caught up; it is SIGKILLed there (mid catch-up), restarted without flags (it knows
#      the cluster from data-dir/members), catches up and is promoted;
#   2. shrink 5 -> 4 removing the leader: leadership moves, the removed node answers
#      -ERR this node was removed from the cluster and disrupts nobody (the term holds while
#      the load commits 300 more entries), and its data directory is deleted;
#   3. replace a node: node 6 joins through a follower and is added, then a follower removed.
# Each history must be linearizable (and a corrupted copy of the first rejected); marker keys
# written (acknowledged) after every step must be readable on every member at the end, and
# every member must hold the same values of every bench key. Waits on conditions throughout.
# timeout: 300
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u

CHORUS=$BUILD/bin/chorus
LINCHECK=$BUILD/bin/chorus-lincheck
BENCH_SECONDS=${BENCH_SECONDS:-60}
NODE_FLAGS="--snapshot-entries 2000"

declare -A MEMBER   # the ids that are voters now
bench_pid=""
# The workload goes with the cluster, whatever way the script ends.
trap '[ -n "$bench_pid" ] && kill "$bench_pid" 2>/dev/null; cluster_cleanup' EXIT
marker_count=0
now() { date +%T.%N | cut -c1-12; }
log() { echo "$(now) $*"; }

# The original three restart with their --cluster; joined nodes start with --join the first
# time and with neither flag afterwards.
join_start() {
    local i=$1 via=$2 flags=(${JOIN_FLAGS:-})
    [ -d "$CLUSTER_DIR/node$i" ] || flags+=(--join "127.0.0.1:$(peer_port "$via")")
    "$CHORUSD" --id "$i" "${flags[@]}" --protocol "$PROTOCOL" --data-dir "$CLUSTER_DIR/node$i" \
        --listen "127.0.0.1:$(client_port "$i")" --peer-listen "127.0.0.1:$(peer_port "$i")" \
        $NODE_FLAGS >>"$CLUSTER_DIR/node$i.log" 2>&1 &
    NODE_PID[$i]=$!
    wait_for 10 node_started_or_exited "$i"
    node_alive "$i" && node_answers_ping "$i" || { tail -20 "$CLUSTER_DIR/node$i.log"; return 1; }
}
members_field() { cli "$1" cluster members 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
is_voter() { [[ ",$(members_field "$1" voters)," == *",$2,"* ]]; }
is_learner() { [[ ",$(members_field "$1" learners)," == *",$2,"* ]]; }
catching_up() { [ "$(members_field "$1" change)" = catching-up ] && is_learner "$1" "$2"; }
leader_of_members() {
    local i
    for i in "${!MEMBER[@]}"; do
        node_alive "$i" && [ "$(info_field "$i" role)" = leader ] && { echo "$i"; return 0; }
    done
    return 1
}
wait_member_leader() { WAIT_LEADER_ID=""; wait_for "${1:-10}" wait_member_leader_probe || return 1; echo "$WAIT_LEADER_ID"; }
wait_member_leader_probe() { WAIT_LEADER_ID=$(leader_of_members); }
nodes_list() { local l="" i; for i in "$@"; do l="$l${l:+,}127.0.0.1:$(client_port "$i")"; done; echo "$l"; }

# bench_start SEGMENT NODE... — the segment's workload on those nodes, in the background.
bench_start() {
    local seg=$1; shift
    "$CHORUS" bench -c 6 -t "$BENCH_SECONDS" -k 4 -d 0 --workload all --read-ratio 0.4 \
        --timeout 1000 --nodes "$(nodes_list "$@")" --history "$CLUSTER_DIR/history$seg.jsonl" \
        --key-prefix "seg$seg:" --seed "$$$seg" >"$CLUSTER_DIR/bench$seg.out" 2>&1 &
    bench_pid=$!
    bench_seg=$seg
    local l c0
    l=$(wait_member_leader) || fail "no leader at the start of segment $seg"
    c0=$(info_field "$l" commit_index)
    wait_for 15 info_at_least "$l" commit_index $((c0 + 200)) ||
        fail "segment $seg: the load does not commit"
}
bench_running() { kill -0 "$bench_pid" 2>/dev/null; }
committed_more() { local l; l=$(leader_of_members) && info_at_least "$l" commit_index "$1"; }
# progress N WHAT — the running load commits N more entries.
progress() {
    local l c0
    bench_running || fail "the load of segment $bench_seg ended before $2 (BENCH_SECONDS too short?)"
    l=$(wait_member_leader 15) || fail "no leader ($2)"
    c0=$(info_field "$l" commit_index)
    wait_for 20 committed_more $((c0 + $1)) || fail "fewer than $1 entries committed ($2)"
}
bench_check() {
    local seg=$bench_seg history=$CLUSTER_DIR/history$bench_seg.jsonl rc
    kill -TERM "$bench_pid" 2>/dev/null # the segment's faults are over: its load ends now
    wait "$bench_pid"; rc=$?
    tail -4 "$CLUSTER_DIR/bench$seg.out"
    [ "$rc" -eq 0 ] || { cat "$CLUSTER_DIR/bench$seg.out"; fail "segment $seg: chorus bench exited $rc"; }
    echo "segment $seg: $(wc -l <"$history") operations, $(grep -c '"return":null' "$history") unknown"
    timeout 90 "$LINCHECK" --timeout 60 "$history" >"$CLUSTER_DIR/lincheck$seg.out" 2>&1; rc=$?
    if [ "$rc" -ne 0 ]; then
        head -20 "$CLUSTER_DIR/lincheck$seg.out"
        mkdir -p "$BUILD/test-logs"
        cp "$history" "$BUILD/test-logs/cluster_membership.history$seg.jsonl"
        fail "segment $seg: chorus-lincheck exit $rc (history kept in $BUILD/test-logs)"
    fi
    echo "segment $seg: linearizable"
}
# marker — an acknowledged write, checked on every member at the end.
marker() {
    local l
    marker_count=$((marker_count + 1))
    l=$(wait_member_leader 15) || fail "no leader for marker $marker_count"
    wait_for 10 reply_is "$l" OK set "marker:$marker_count" "value-$marker_count" ||
        fail "marker $marker_count was not acknowledged"
}
# add ID — `chorus cluster add` through node VIA's client port, to completion.
cluster_add() {
    local id=$1 via=$2
    log "chorus cluster add node $id (asked of node $via)"
    timeout 150 "$CHORUS" -p "$(client_port "$via")" cluster add "127.0.0.1:$(peer_port "$id")" ||
        fail "chorus cluster add $id failed"
    MEMBER[$id]=1
}
cluster_remove() {
    local id=$1 via=$2
    log "chorus cluster remove $id (asked of node $via)"
    timeout 150 "$CHORUS" -p "$(client_port "$via")" cluster remove "$id" ||
        fail "chorus cluster remove $id failed"
    unset "MEMBER[$id]"
}
removed_refuses() {
    [ "$(cli "$1" get marker:1 2>&1)" = "ERR this node was removed from the cluster" ]
}

NODES=3
cluster_start 3 || fail "start"
NODES=9 # cluster_leader and friends look at every id this test may use
MEMBER=([1]=1 [2]=1 [3]=1)
wait_member_leader >/dev/null || fail "no leader elected"
marker

# The refusals first: a data directory that is not empty, a second change at once, the last
# voter, an unknown node.
mkdir -p "$CLUSTER_DIR/busy"; touch "$CLUSTER_DIR/busy/file"
"$CHORUSD" --id 9 --join "127.0.0.1:$(peer_port 1)" --data-dir "$CLUSTER_DIR/busy" \
    --listen "127.0.0.1:$(client_port 9)" --peer-listen "127.0.0.1:$(peer_port 9)" \
    >"$CLUSTER_DIR/busy.log" 2>&1 && fail "--join accepted a non-empty data directory"
grep -q "needs an empty data directory" "$CLUSTER_DIR/busy.log" || fail "no clear --join error"
l=$(wait_member_leader) || fail "no leader"
r=$(cli "$l" cluster forget 42); expect_eq "$r" "ERR Unknown node 42" "FORGET of a stranger"
r=$(cli "$l" cluster meet 127.0.0.1 notaport); [[ $r == "ERR Invalid node address"* ]] || fail "MEET bad port: $r"
f=1; [ "$l" = 1 ] && f=2
r=$(cli "$f" cluster forget 3); [[ $r == "TRYAGAIN not the leader: ask node $l at"* ]] || fail "FORGET on a follower: $r"

# ---- segment 1: grow 3 -> 5, the joining node killed mid catch-up -------------------------
bench_start 1 1 2 3
progress 300 "before node 4 joins"
join_start 4 1 || fail "node 4 --join"
cluster_add 4 2
marker
progress 300 "before node 5 joins"
http5=127.0.0.1:$(client_port 8)
JOIN_FLAGS="--http $http5 --http-dev" join_start 5 3 || fail "node 5 --join"
paused=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-Chorus-Dev: 1' \
    "http://$http5/dev/pause?seconds=300")
expect_eq "$paused" 200 "pausing node 5"
log "node 5 paused; chorus cluster add node 5 --no-wait"
timeout 30 "$CHORUS" -p "$(client_port 1)" cluster add "127.0.0.1:$(peer_port 5)" --no-wait ||
    fail "chorus cluster add 5 --no-wait"
l=$(wait_member_leader) || fail "no leader"
wait_for 20 catching_up "$l" 5 || fail "node 5 did not become a learner catching up"
r=$(cli "$l" cluster meet 127.0.0.1 "$(peer_port 5)")
expect_eq "$r" "TRYAGAIN a membership change is in progress" "a second change at once"
log "node 5 is a learner catching up: SIGKILL"
node_kill 5
progress 300 "while node 5 is dead"
catching_up "$l" 5 || fail "the change did not wait for node 5"
join_start 5 3 || fail "restart of node 5 (without flags)"
log "node 5 restarted"
promoted5() { is_voter "$(leader_of_members)" 5; }
wait_for 120 promoted5 || fail "node 5 was not promoted after its restart"
MEMBER[5]=1
log "node 5 is a voter"
expect_eq "$(members_field 5 voters)" "1,2,3,4,5" "node 5's configuration"
marker
progress 200 "after the growth"
bench_check

# ---- segment 2: shrink 5 -> 4, removing the leader -----------------------------------------
victim=$(wait_member_leader) || fail "no leader"
others=(); for i in "${!MEMBER[@]}"; do [ "$i" != "$victim" ] && others+=("$i"); done
bench_start 2 "${others[@]}"
cluster_remove "$victim" "${others[0]}"
removed_victim() { removed_refuses "$victim"; }
wait_for 10 removed_victim || fail "node $victim (removed) still serves: $(cli "$victim" get marker:1 2>&1)"
l=$(wait_member_leader 15) || fail "no leader after removing the leader"
[ "$l" != "$victim" ] || fail "the removed node still leads"
log "leader $victim removed; node $l leads"
term=$(info_field "$l" term)
progress 300 "with the removed node still running"
expect_eq "$(info_field "$(wait_member_leader)" term)" "$term" "the term, while the removed node runs"
marker
node_stop "$victim"
rm -rf "${CLUSTER_DIR:?}/node$victim"
log "node $victim stopped, its data directory deleted"
progress 200 "after the removal"
bench_check

# ---- segment 3: replace a follower with node 6 ---------------------------------------------
l=$(wait_member_leader) || fail "no leader"
old=""; for i in "${!MEMBER[@]}"; do [ "$i" != "$l" ] && { old=$i; break; }; done
others=(); for i in "${!MEMBER[@]}"; do [ "$i" != "$old" ] && others+=("$i"); done
bench_start 3 "${others[@]}"
join_start 6 "$old" || fail "node 6 --join"
cluster_add 6 "$old"
marker
cluster_remove "$old" "$l"
removed_old() { removed_refuses "$old"; }
wait_for 15 removed_old || fail "node $old (removed) still serves"
marker
progress 200 "after the replacement"
bench_check

# ---- every acknowledged write on every member ------------------------------------------------
final=$(printf '%s\n' "${!MEMBER[@]}" | sort -n | paste -sd,)
log "members now: $final"
l=$(wait_member_leader) || fail "no leader at the end"
expect_eq "$(members_field "$l" voters)" "$final" "the final configuration"
for i in "${!MEMBER[@]}"; do
    for m in $(seq 1 "$marker_count"); do
        wait_for 10 reply_is "$i" "value-$m" get "marker:$m" ||
            fail "node $i: marker:$m is $(cli "$i" get "marker:$m")"
    done
    values=""
    for seg in 1 2 3; do for k in $(seq 0 3); do
        values="$values $(cli "$i" mget "seg$seg:k$k" "seg$seg:c$k" | tr '\n' ' ')"
    done; done
    if [ -z "${reference:-}" ]; then reference=$values; else
        expect_eq "$values" "$reference" "node $i's bench keys"
    fi
done
echo "markers: $marker_count acknowledged writes read back on nodes $final"

# The checker must be able to fail on these histories.
awk 'done != 1 && /"op":"get"/ && /"output":"/ { sub(/"output":"[^"]*"}/, "\"output\":\"never-written\"}"); done = 1 } { print }' \
    "$CLUSTER_DIR/history1.jsonl" >"$CLUSTER_DIR/corrupted.jsonl"
timeout 60 "$LINCHECK" --timeout 30 "$CLUSTER_DIR/corrupted.jsonl" >/dev/null 2>&1; rc=$?
[ "$rc" -eq 1 ] || fail "chorus-lincheck did not reject a corrupted copy of the history (exit $rc)"
echo "control: a corrupted copy of a history is rejected"
echo "cluster_membership: ok"
