#!/usr/bin/env bash
# membership_lib.sh — shared steps of the membership checks of a sharded cluster (issue 11;
# docs/membership.md, "Sharded clusters" and "The rebalancer"). Sourced after lib.sh, with
# SHARDS set. The checks keep NODES_UP, the nodes they may ask (a killed or removed node is
# never asked: its answers would be a timeout or "this node was removed").
set -u
CHORUS=$BUILD/bin/chorus
LINCHECK=$BUILD/bin/chorus-lincheck
NODES_UP=""
bench_pid=""
marker_count=0
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
plan_lines() { cli "$1" cluster members 2>/dev/null | tr -d '\r' | grep '^move:'; }
placement() { cli "$1" cluster members 2>/dev/null | tr -d '\r' | grep '^shard_'; }
removed_answer() { [[ "$(cli "$1" get x 2>&1)" == *"this node was removed"* ]]; }
nodes_lines() { [ "$(cli "$1" cluster nodes 2>/dev/null | grep -c .)" = "$2" ]; }
first_up() { set -- $NODES_UP; echo "$1"; }

# balanced N — every node of NODES_UP has the topology of N nodes, none joining or leaving,
# the same placement, and no move left.
balanced() {
    local i ref
    ref=$(placement "$(first_up)")
    [ -n "$ref" ] || return 1
    for i in $NODES_UP; do
        topology_nodes_is "$i" "$1" || return 1
        [ "$(members_field "$i" rebalance_moves)" = 0 ] || return 1
        [ "$(members_field "$i" topology_joining)" = 0 ] || return 1
        [ "$(members_field "$i" topology_leaving)" = 0 ] || return 1
        [ "$(placement "$i")" = "$ref" ] || return 1
    done
}
# wait_balanced N TIMEOUT_S WHAT — waits for balanced N; fails with every node's plan if not.
wait_balanced() {
    local i
    wait_for "$2" balanced "$1" && return 0
    for i in $NODES_UP; do echo "node $i: $(placement "$i" | paste -sd' ')"; plan_lines "$i"; done
    fail "$3 did not end balanced on $1 nodes"
}

# hosts_as_placed NODE — NODE hosts exactly the shards whose replicas include it (INFO shards,
# a line per hosted group), and a shard it does not host left no directory (shard 0's lives in
# the data directory itself, in snap/; the others' in groups/N).
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
# all_hosts_as_placed WHAT — every node of NODES_UP hosts as placed (a replica that moved off
# is deleted once the WAL's reset of its group is durable: waited for).
all_hosts_as_placed() {
    local i
    for i in $NODES_UP; do
        wait_for 20 hosts_as_placed "$i" >/dev/null || { hosts_as_placed "$i"; fail "node $i's replicas differ from the topology $1"; }
    done
}

# marker NODE — an acknowledged write through NODE (retried while the cluster answers
# -TRYAGAIN, as a client would), remembered for the end.
marker_set() { reply_is "$1" OK set "$2" "$3"; }
marker() {
    marker_count=$((marker_count + 1))
    wait_for 20 marker_set "$1" "marker:$marker_count" "v$marker_count" ||
        fail "marker write marker:$marker_count through node $1"
}
# markers_readable NODE — every marker written so far reads back through NODE.
markers_readable() {
    local k
    for k in $(seq 1 "$marker_count"); do
        wait_for 10 reply_is "$1" "v$k" get "marker:$k" || fail "marker:$k not readable through node $1"
    done
}

# bulk_load COUNT NODE — COUNT keys bulk:1.. of 512 bytes through NODE, so that a new replica
# is caught up with a snapshot, then the log. In pipelines of 200, each retried up to 3 times
# (SET is idempotent): all at once they would overrun the forwarding bounds (-TRYAGAIN).
BULK_VALUE=$(head -c 500 /dev/zero | tr '\0' v)
BULK_KEYS=0
bulk_chunk() { local i; for i in $(seq "$1" "$2"); do echo "set bulk:$i $BULK_VALUE$i"; done | cli_load "$3" >/dev/null; }
bulk_load() {
    local first last
    for first in $(seq 1 200 "$1"); do
        last=$((first + 199))
        bulk_chunk "$first" "$last" "$2" || bulk_chunk "$first" "$last" "$2" ||
            bulk_chunk "$first" "$last" "$2" || fail "bulk load of keys $first-$last"
    done
    BULK_KEYS=$1
}
# bulk_sample_readable NODE — a sample of the bulk keys reads back through NODE.
bulk_sample_readable() {
    local k
    for k in 1 17 $((BULK_KEYS / 3)) $((BULK_KEYS / 2)) "$BULK_KEYS"; do
        wait_for 10 reply_is "$1" "$BULK_VALUE$k" get "bulk:$k" || fail "bulk:$k not readable through node $1"
    done
}

# load_start SECONDS NODE... — `chorus bench --history` on those nodes, in the background,
# recorded into $HISTORY for chorus-lincheck; returns once the history grows.
load_start() {
    local seconds=$1 nodes="" i; shift
    for i in "$@"; do nodes="$nodes${nodes:+,}127.0.0.1:$(client_port "$i")"; done
    HISTORY=$CLUSTER_DIR/history.${LOAD_SEGMENT:-1}.jsonl
    "$CHORUS" bench -c 6 -t "$seconds" -k 16 -d 0 --workload all --read-ratio 0.4 \
        --timeout 1000 --nodes "$nodes" --history "$HISTORY" --seed "$$" \
        >"$CLUSTER_DIR/bench.${LOAD_SEGMENT:-1}.out" 2>&1 &
    bench_pid=$!
    wait_for 30 history_grown 20000 || fail "the load does not run"
}
history_grown() { [ "$(stat -c %s "$HISTORY" 2>/dev/null || echo 0)" -ge "$1" ]; }
load_running() { [ -n "$bench_pid" ] && kill -0 "$bench_pid" 2>/dev/null; }
# load_still_running WHAT — fails when the load ended before WHAT: it would have hit nothing.
load_still_running() { load_running || fail "the load ended before $1 (its seconds too short?)"; }
# load_check — waits for the load to end and checks its history with chorus-lincheck. With
# LOAD_KEEP_DIR set, a history that is not linearizable is kept there with the node logs.
load_check() {
    # The faults are over: the load ends now (chorus bench ends a run on SIGTERM as at its
    # deadline), not after the length chosen for the slowest machine.
    kill -TERM "$bench_pid" 2>/dev/null
    wait "$bench_pid" || { cat "$CLUSTER_DIR/bench.${LOAD_SEGMENT:-1}.out"; fail "chorus bench failed"; }
    bench_pid=""
    grep '^history:' "$CLUSTER_DIR/bench.${LOAD_SEGMENT:-1}.out"
    timeout 120 "$LINCHECK" "$HISTORY" >"$CLUSTER_DIR/lincheck.out" 2>&1 && return 0
    cat "$CLUSTER_DIR/lincheck.out"
    if [ -n "${LOAD_KEEP_DIR:-}" ]; then
        mkdir -p "$LOAD_KEEP_DIR" && cp "$HISTORY" "$CLUSTER_DIR"/node*.log "$LOAD_KEEP_DIR/"
        fail "the history is not linearizable (history and node logs kept in $LOAD_KEEP_DIR)"
    fi
    fail "the history $HISTORY is not linearizable"
}

# join_start ID VIA — starts node ID with --join through node VIA's peer port when its data
# directory does not exist, else restarts it from its directory alone (no flags), with
# $NODE_FLAGS and $JOIN_FLAGS.
join_start() {
    local i=$1 via=$2 flags=()
    [ -d "$CLUSTER_DIR/node$i" ] || flags+=(--join "127.0.0.1:$(peer_port "$via")")
    "$CHORUSD" --id "$i" "${flags[@]}" --protocol "$PROTOCOL" --data-dir "$CLUSTER_DIR/node$i" \
        --listen "127.0.0.1:$(client_port "$i")" --peer-listen "127.0.0.1:$(peer_port "$i")" \
        ${NODE_FLAGS:-} ${JOIN_FLAGS:-} >>"$CLUSTER_DIR/node$i.log" 2>&1 &
    NODE_PID[$i]=$!
    wait_for 10 node_started_or_exited "$i"
    node_alive "$i" && node_answers_ping "$i" || { tail -20 "$CLUSTER_DIR/node$i.log"; return 1; }
}

# cluster_add VIA ID — `chorus cluster add` of node ID, asked of node VIA (it follows the
# leader and waits out a change or moves in progress).
cluster_add() { timeout 150 "$CHORUS" -p "$(client_port "$1")" cluster add "127.0.0.1:$(peer_port "$2")"; }
cluster_remove() { timeout 150 "$CHORUS" -p "$(client_port "$1")" cluster remove "$2"; }

# dev_post HTTP_ADDR PATH — one of --http-dev's controls (src/node/dev.c).
dev_post() {
    curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-Chorus-Dev: 1' "http://$1$2"
}

# shard_leader SHARD — the node of NODES_UP that says it leads SHARD (INFO shards).
shard_leader() {
    local i
    for i in $NODES_UP; do
        cli "$i" info shards 2>/dev/null | tr -d '\r' | grep -q "^shard_$1:.*role=leader," &&
            { echo "$i"; return 0; }
    done
    return 1
}

# move_catching_up TO — a node of NODES_UP leads a shard that moves to node TO and waits for
# the new replica to catch up: sets MOVE_LEADER, MOVE_SHARD and MOVE_FROM.
move_catching_up() {
    local i line
    for i in $NODES_UP; do
        node_alive "$i" || continue
        line=$(plan_lines "$i" | grep ",to=$1,state=catching-up" | head -1)
        [ -n "$line" ] || continue
        MOVE_LEADER=$i
        MOVE_SHARD=$(echo "$line" | sed 's/^move:shard=\([0-9]*\),.*/\1/')
        MOVE_FROM=$(echo "$line" | sed 's/^move:shard=[0-9]*,from=\([0-9]*\),.*/\1/')
        return 0
    done
    return 1
}
# shard_replicas SHARD — the replicas the topology lists for SHARD, space-separated, as the
# first node of NODES_UP knows them.
shard_replicas() { placement "$(first_up)" | sed -n "s/^shard_$1:replicas=//p" | tr ',' ' '; }

# sharded_start N — N nodes, S = $SHARDS, whose meta group verified the topology everywhere.
sharded_start() {
    local i
    SHARDS=$SHARDS cluster_start "$1" || fail "start"
    NODES_UP=$(seq -s' ' 1 "$1")
    wait_for 30 all_verified || fail "the meta group did not verify the topology on every node"
    balanced "$1" || fail "a new cluster is not balanced"
}

# ---- steps the membership fault checks share (cluster_move_leader_kill.sh and the others) ----

# nodes_but NODE N... — the nodes N... but NODE, space-separated.
nodes_but() {
    local skip=$1 i out=""; shift
    for i in "$@"; do [ "$i" != "$skip" ] && out="$out${out:+ }$i"; done
    echo "$out"
}

# meta_voters_all LIST — every node of NODES_UP has the meta group's voters LIST (e.g. 1,2,4).
meta_voters_all() { local i; for i in $NODES_UP; do [ "$(members_field "$i" voters)" = "$1" ] || return 1; done; }
# wait_meta_voters LIST — waits 30 s for meta_voters_all LIST; fails with the voters seen if not.
wait_meta_voters() {
    wait_for 30 meta_voters_all "$1" ||
        fail "the meta group's voters are not $1: $(members_field "$(first_up)" voters)"
}

# http_addr NODE — the --http address of NODE: PORT_BASE + 6..9, between lib.sh's client and
# peer ports. dev NODE PATH — one of --http-dev's controls on NODE, which must answer 200.
http_addr() { echo "127.0.0.1:$((PORT_BASE + 5 + $1))"; }
dev() { expect_eq "$(dev_post "$(http_addr "$1")" "$2")" 200 "node $1: $2"; }
# dev_nodes N... — nodes N... start with --http and --http-dev (NODE_EXTRA_FLAGS).
dev_nodes() { local i; for i in "$@"; do NODE_EXTRA_FLAGS[$i]="--http $(http_addr "$i") --http-dev"; done; }

# add_cut_off NEW VIA — node NEW joins through node VIA with --http-dev and is cut off from its
# peers for 120 s before `chorus cluster add NEW` (asked of node 1, in the background: ADD_PID,
# its output in $CLUSTER_DIR/add.out), so that the first move to it stays catching up; returns
# once a shard leader shows that move (move_catching_up: MOVE_LEADER, MOVE_SHARD, MOVE_FROM).
add_cut_off() {
    local new=$1 via=$2 i
    JOIN_FLAGS="--http $(http_addr "$new") --http-dev" join_start "$new" "$via" ||
        fail "node $new (--join) did not start"
    dev "$new" "/dev/partition?seconds=120"
    cluster_add 1 "$new" >"$CLUSTER_DIR/add.out" 2>&1 &
    ADD_PID=$!
    wait_for 60 move_catching_up "$new" ||
        { for i in $NODES_UP; do plan_lines "$i"; done; fail "no shard leader shows a move to node $new catching up"; }
}
# add_finish NEW — waits for add_cut_off's `chorus cluster add`; one that failed (its node
# was killed or paused under it) is run again through the first node up.
add_finish() {
    if ! wait "$ADD_PID"; then
        log "the first cluster add failed ($(tail -1 "$CLUSTER_DIR/add.out")); run again"
        cluster_add "$(first_up)" "$1" || fail "chorus cluster add $1, run again, failed"
    fi
}

# end_checks [markers] — the faults are over: the history is linearizable (load_check), and
# through every node of NODES_UP every marker reads back, and a sample of the bulk keys (not
# with "markers").
end_checks() {
    local i
    load_check
    for i in $NODES_UP; do
        markers_readable "$i"
        [ "${1:-}" = markers ] || bulk_sample_readable "$i"
    done
}
