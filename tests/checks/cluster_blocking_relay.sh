#!/usr/bin/env bash
# cluster_blocking_relay.sh — blocking pops on a node that holds no replica of the key's shard
# (issues 10 and 17; src/node/blocking.c, proxy.c): 4 nodes, S = 4, R = 3, so each shard is
# missing from one node, and every node serves every key. On node X without the shard:
#  1. BLPOP k 0 waits (relayed to a replica, whose stand-in blocks) and receives the element
#     an RPUSH through another node brings; before the relay it answered -MOVED;
#  2. BLPOP with a timeout answers a null array after at least that time;
#  3. pipelined "BLPOP k 0.4" then "RPUSH k x" on one connection: the pop times out first,
#     then the push runs (the connection runs nothing else while its pop waits, as Redis);
#  4. BLMOVE between two keys of the shard moves the element pushed later;
#  5. the node the pop waits on is SIGKILLed: the pop fails with -UNKNOWN (it may have run)
#     within a few seconds rather than waiting for ever; the node restarts and the shard serves.
# Waits on conditions, every one bounded.
# timeout: 180
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
. tests/cluster/shards_lib.sh
set -u

SHARDS=4
NODES=4
NODE_FLAGS="--replicas 3"
OUT=$CLUSTER_DIR/out
mkdir -p "$OUT"
blocked_clients() { cli "$1" info clients 2>/dev/null | tr -d '\r' | sed -n 's/^blocked_clients://p'; }
blocked_somewhere() {
    local i v
    for i in $(seq 1 "$NODES"); do
        [ "$i" = "$X" ] && continue
        node_alive "$i" || continue
        v=$(blocked_clients "$i"); [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] && return 0
    done
    return 1
}
gone() { ! kill -0 "$1" 2>/dev/null; }
hosts() { cli "$1" info shards 2>/dev/null | tr -d '\r' | grep -q "^shard_$2:"; }
shard_leader() {
    local i
    for i in $(seq 1 "$NODES"); do
        node_alive "$i" || continue
        cli "$i" info shards 2>/dev/null | tr -d '\r' | grep -q "^shard_$1:.*role=leader" && { echo "$i"; return 0; }
    done
    return 1
}

cluster_start "$NODES" || fail "start"
: >"$CLUSTER_DIR/acked.jsonl"
shards_writable 60 "$CLUSTER_DIR/acked.jsonl" "w" >/dev/null || fail "not every shard writable"
mapfile -t KEYS < <(shards_py shard-keys --prefix q)
[ "${#KEYS[@]}" = "$SHARDS" ] || fail "shard-keys gave ${#KEYS[@]} keys"
X="" S=""
for x in $(seq 1 "$NODES"); do
    for s in $(seq 0 $((SHARDS - 1))); do hosts "$x" "$s" || { X=$x; S=$s; break 2; }; done
done
[ -n "$X" ] || fail "every node hosts every shard: nothing to relay"
K=${KEYS[$S]}
TAG=${K%%\}*}}
OTHER=$(( X % NODES + 1 ))
echo "node $X holds no replica of shard $S (key $K); pushes go through node $OTHER"

echo "== 1. BLPOP 0 on node $X waits and receives"
timeout 60 redis-cli -p "$(client_port "$X")" blpop "$K" 0 >"$OUT/1" 2>&1 &
p1=$!
wait_for 20 blocked_somewhere || { cat "$OUT/1"; fail "the relayed pop is not blocked on a replica"; }
gone "$p1" && fail "the pop answered before any push: $(cat "$OUT/1")"
reply_is "$OTHER" 1 rpush "$K" v1 || fail "rpush through node $OTHER"
wait_for 20 gone "$p1" || fail "the relayed pop did not receive the element"
[ "$(tr -d '\r' <"$OUT/1" | paste -sd' ')" = "$K v1" ] || fail "the pop answered: $(cat "$OUT/1")"
[ "$(cli "$OTHER" llen "$K")" = 0 ] || fail "the element was not taken from the list"

echo "== 2. a timeout answers nil after its time"
start=$(date +%s%N)
out=$(timeout 30 redis-cli -p "$(client_port "$X")" blpop "$K" 0.5 2>&1)
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ -z "$(echo "$out" | tr -d '\r\n')" ] || [ "$out" = "(nil)" ] || fail "a timed-out pop answered: $out"
[ "$ms" -ge 500 ] || fail "the pop timed out after $ms ms, before its 0.5 s"
echo "timed out after $ms ms"

echo "== 3. pipelined: the pop times out before the push on the same connection runs"
out=$(printf 'BLPOP %s 0.4\r\nRPUSH %s x\r\n' "$K" "$K" | timeout 30 redis-cli -p "$(client_port "$X")" 2>&1 | tr -d '\r' | paste -sd' ')
[ "$out" = " 1" ] || [ "$out" = "1" ] || fail "pipelined pop then push answered: '$out'"
reply_is "$OTHER" x lpop "$K" || fail "the pipelined push did not leave its element"

echo "== 4. BLMOVE between two keys of the shard"
SRC="${TAG}:src"; DST="${TAG}:dst"
timeout 60 redis-cli -p "$(client_port "$X")" blmove "$SRC" "$DST" LEFT RIGHT 0 >"$OUT/4" 2>&1 &
p4=$!
wait_for 20 blocked_somewhere || fail "the relayed BLMOVE is not blocked"
reply_is "$OTHER" 1 rpush "$SRC" m1 || fail "rpush src"
wait_for 20 gone "$p4" || fail "BLMOVE did not move the element"
[ "$(tr -d '\r' <"$OUT/4")" = m1 ] || fail "BLMOVE answered: $(cat "$OUT/4")"
reply_is "$OTHER" m1 lindex "$DST" 0 || fail "the element is not in the destination"

echo "== 5. the node the pop waits on dies: -UNKNOWN, not a wait for ever"
timeout 60 redis-cli -p "$(client_port "$X")" blpop "$K" 0 >"$OUT/5" 2>&1 &
p5=$!
wait_for 20 blocked_somewhere || fail "the relayed pop is not blocked"
victim=""
for i in $(seq 1 "$NODES"); do
    [ "$i" = "$X" ] && continue
    v=$(blocked_clients "$i"); [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] && { victim=$i; break; }
done
[ -n "$victim" ] || fail "no node holds the stand-in's pop"
node_kill "$victim"
echo "node $victim (holding the stand-in) SIGKILLed"
wait_for 20 gone "$p5" || fail "the pop still waits 20 s after the node it waits on died"
grep -q "UNKNOWN" "$OUT/5" || fail "the pop answered: $(cat "$OUT/5")"
node_start "$victim" || fail "restart of node $victim"
wait_for 30 shard_leader "$S" >/dev/null || fail "shard $S has no leader after the restart"
wait_for 30 reply_is "$OTHER" 1 rpush "$K" after || fail "shard $S does not take a push after the restart"
echo "cluster_blocking_relay: ok"
