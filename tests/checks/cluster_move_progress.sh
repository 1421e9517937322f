#!/usr/bin/env bash
# The progress and limits of the rebalancer's moves (issue 11; docs/membership.md, "Progress"
# and "Limits"), on real processes: a sharded Raft cluster of 3 nodes (S = 8, R = 3, 3,000 keys
# of 512 bytes, a snapshot every 300 entries so that a new replica is caught up with a snapshot)
# with --snapshot-bandwidth 64k on every node grows by a 4th node with `chorus cluster add
# --wait`, which must end with exit status 0 once the cluster is balanced (checked on every
# node). Meanwhile `chorus cluster status --moves` must show a move whose snapshot bytes grow,
# reported by its shard's leader, at a rate near the limit (at most 1.5 x, at least 1/8: a
# loaded machine may be slower, never faster), and `chorus cluster status` its table row. INFO
# counts the bytes sent for moves and the chunks the limit delayed. Last, `cluster remove 4
# --wait --wait-timeout 1` ends with exit status 3 (not balanced in time), and the removal goes
# on to a balanced cluster of 3.
# timeout: 150
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
set -u

CHORUS=$BUILD/bin/chorus
LIMIT=65536
NODE_FLAGS="--replicas 3 --snapshot-entries 300 --snapshot-bandwidth 64k"
add_pid=""
trap '[ -n "$add_pid" ] && kill "$add_pid" 2>/dev/null; cluster_cleanup' EXIT

members_field() { cli "$1" cluster members 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
verified() { [ "$(info_field "$1" topology_verified)" = 1 ]; }
# balanced N NODES... — every listed node has N nodes in its topology, no move, none joining
# or leaving.
balanced() {
    local n=$1 i; shift
    for i in "$@"; do
        [ "$(members_field "$i" topology_nodes)" = "$n" ] || return 1
        [ "$(members_field "$i" rebalance_moves)" = 0 ] || return 1
        [ "$(members_field "$i" topology_joining)" = 0 ] || return 1
        [ "$(members_field "$i" topology_leaving)" = 0 ] || return 1
    done
}

SHARDS=8 cluster_start 3 || fail "start"
for i in 1 2 3; do wait_for 30 verified "$i" || fail "node $i did not verify the topology"; done
value=$(head -c 512 /dev/zero | tr '\0' v)
bulk_chunk() { local i; for i in $(seq "$1" "$2"); do echo "set bulk:$i $value$i"; done | cli_load "$3" >/dev/null; }
for first in $(seq 1 500 3000); do
    last=$((first + 499))
    bulk_chunk "$first" "$last" 1 || bulk_chunk "$first" "$last" 2 || fail "bulk load of keys $first-$last"
done
[ "$(info_field 1 snapshot_bandwidth_bytes_per_s)" = "$LIMIT" ] || fail "INFO does not show the limit"

"$CHORUSD" --id 4 --join "127.0.0.1:$(peer_port 1)" --protocol "$PROTOCOL" \
    --data-dir "$CLUSTER_DIR/node4" --listen "127.0.0.1:$(client_port 4)" \
    --peer-listen "127.0.0.1:$(peer_port 4)" $NODE_FLAGS >>"$CLUSTER_DIR/node4.log" 2>&1 &
NODE_PID[4]=$!
wait_for 10 node_answers_ping 4 || fail "node 4 (--join) did not start"
NODES=4

# Not a tty: a plain line per update, then "balanced: ...".
timeout 120 "$CHORUS" -p "$(client_port 1)" cluster add "127.0.0.1:$(peer_port 4)" --wait \
    --wait-timeout 110 >"$CLUSTER_DIR/add.out" 2>&1 &
add_pid=$!

# A move's snapshot bytes, as its leader reports them through `cluster status --moves`, seen
# twice with more bytes the second time; the highest rate seen, and a table row of `status`.
seen_key="" seen_sent=0 grown="" rate_max=0 table_row=""
observe() {
    local line key sent total rate
    while IFS= read -r line; do
        [[ $line =~ ^move:shard=([0-9]+),from=([0-9]+),to=4,state=sending-snapshot,leader=[1-9][0-9]*,snapshot_sent=([0-9]+),snapshot_total=([0-9]+),snapshot_streamed=[0-9]+,rate=([0-9]+), ]] || continue
        key=${BASH_REMATCH[1]}/${BASH_REMATCH[2]} sent=${BASH_REMATCH[3]} total=${BASH_REMATCH[4]} rate=${BASH_REMATCH[5]}
        [ "$total" -gt 0 ] && [ "$sent" -le "$total" ] || fail "a move's bytes are not within its snapshot: $line"
        [ "$rate" -gt "$rate_max" ] && rate_max=$rate
        if [ "$key" = "$seen_key" ] && [ "$sent" -gt "$seen_sent" ]; then
            grown="shard/from $key: $seen_sent then $sent of $total bytes"
        elif [ "$key" != "$seen_key" ] || [ "$sent" -lt "$seen_sent" ]; then
            seen_key=$key seen_sent=$sent
        fi
    done < <("$CHORUS" -p "$(client_port 2)" cluster status --moves 2>/dev/null)
    if [ -z "$table_row" ]; then
        table_row=$("$CHORUS" -p "$(client_port 3)" cluster status 2>/dev/null |
            grep -E '^ +[0-9]+ +[0-9]+ +4 +sending-snapshot +[0-9.]+ [KM]?i?B / [0-9.]+ [KM]?i?B \([0-9]+%\) +[0-9.]+ [KM]?i?B/s ')
    fi
    [ -n "$grown" ] && [ -n "$table_row" ]
}
wait_for 60 observe || fail "no move with growing snapshot bytes and a status row seen (grown: '$grown', row: '$table_row'); add: $(cat "$CLUSTER_DIR/add.out")"
echo "bytes grow: $grown; status row: $table_row"
# The rate needs a window of samples (200 ms at least): sampled until one near the limit shows,
# while moves are left; every sample must stay below 1.5 x the limit.
rate_near_limit() { observe; [ "$rate_max" -ge $((LIMIT / 8)) ]; }
wait_for 30 rate_near_limit
echo "highest rate seen: $rate_max B/s (limit $LIMIT)"
[ "$rate_max" -le $((LIMIT * 3 / 2)) ] || fail "a move's rate $rate_max B/s is above the limit $LIMIT"
[ "$rate_max" -ge $((LIMIT / 8)) ] || fail "a move's rate $rate_max B/s is far below the limit $LIMIT"

wait "$add_pid"
rc=$?
add_pid=""
cat "$CLUSTER_DIR/add.out"
[ "$rc" = 0 ] || fail "chorus cluster add --wait ended with $rc"
grep -qE '^\[[#.]+\] [0-9]+/[0-9]+ moves ' "$CLUSTER_DIR/add.out" || fail "cluster add --wait showed no progress line"
grep -q '^balanced: ' "$CLUSTER_DIR/add.out" || fail "cluster add --wait did not say balanced"
balanced 4 1 2 3 4 || fail "cluster add --wait ended but the cluster is not balanced"
[ "$(info_field 4 groups_hosted)" -gt 0 ] || fail "node 4 holds no replica"

sent=0 delayed=0
for i in 1 2 3; do
    sent=$((sent + $(info_field "$i" rebalance_snapshot_bytes_sent)))
    delayed=$((delayed + $(info_field "$i" snapshot_chunks_delayed)))
done
echo "INFO: $sent snapshot bytes sent for moves, $delayed chunks delayed by the limit"
[ "$sent" -gt 0 ] || fail "INFO counts no snapshot bytes sent for moves"
[ "$delayed" -gt 0 ] || fail "INFO counts no chunk delayed by the limit"
[ "$(info_field 1 rebalance_moves_in_flight)" = 0 ] || fail "moves in flight after balance"

timeout 30 "$CHORUS" -p "$(client_port 1)" cluster remove 4 --wait --wait-timeout 1 >"$CLUSTER_DIR/remove.out" 2>&1
rc=$?
cat "$CLUSTER_DIR/remove.out"
[ "$rc" = 3 ] || fail "cluster remove --wait --wait-timeout 1 ended with $rc, not 3 (not balanced in time)"
wait_for 90 balanced 3 1 2 3 || fail "the removal of node 4 did not end balanced"
echo "node 4 removed; the cluster of 3 is balanced"
