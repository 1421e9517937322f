#!/usr/bin/env bash
# timeout: 240
# node_blocking.sh — blocking list pops (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH) on a 3-node
# cluster of real processes (issue 17; src/node/blocking.c).
#  1. Arrival order: three clients block on a follower one after another (each seen in INFO
#     blocked_clients before the next starts); three pushes through the leader, one at a time,
#     serve them in that order, one element each.
#  2. A timeout answers nil after at least its time; BLMOVE moves an element that arrives.
#  3. Pipelined "BLPOP k 0.3" then "RPUSH k x" on one connection: the pop times out first (the
#     connection runs nothing else while it blocks, as Redis), then the push runs.
#  4. A client killed while it blocks pops nothing: a later push stays in the list.
#  5. Leader change: a client blocked on a follower keeps waiting through a kill -9 of the
#     leader and receives what is pushed through the new leader.
#  6. A queue: 4 consumers looping BLPOP on every node, 300 elements pushed by 3 producers
#     through every node: every element is received exactly once, none is left over.
# Waits on conditions (INFO counters, process exits), every one bounded.
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
set -u

blocked_clients() { cli "$1" info clients 2>/dev/null | tr -d '\r' | sed -n 's/^blocked_clients://p'; }
blocked_at_least() { local v; v=$(blocked_clients "$1"); [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge "$2" ]; }
blocked_is() { [ "$(blocked_clients "$1")" = "$2" ]; }
gone() { ! kill -0 "$1" 2>/dev/null; }
OUT=$CLUSTER_DIR/out
mkdir -p "$OUT"

cluster_start 3 || fail "start"
leader=$(wait_leader 200) || fail "no leader"
follower=$(( leader % 3 + 1 ))

echo "== 1. arrival order"
pids=()
for i in 1 2 3; do
    timeout 30 redis-cli -p "$(client_port "$follower")" blpop fifo 20 >"$OUT/fifo$i" 2>&1 &
    pids+=($!)
    wait_for 10 blocked_at_least "$follower" "$i" || fail "waiter $i never blocked"
done
for i in 1 2 3; do
    expect_eq "$(cli "$leader" rpush fifo "e$i")" 1 "push e$i"
    wait_for 10 gone "${pids[$((i - 1))]}" || fail "waiter $i not served by push $i"
    expect_eq "$(tr '\n' ' ' <"$OUT/fifo$i")" "fifo e$i " "waiter $i's element"
done
expect_eq "$(cli "$leader" llen fifo)" 0 "fifo left empty"
wait_for 10 blocked_is "$follower" 0 || fail "blocked_clients did not return to 0"
woken=$(info_stat "$follower" blocking_wakeups)
[ "${woken:-0}" -ge 3 ] || fail "blocking_wakeups $woken < 3"

echo "== 2. timeout, BLMOVE"
start=$(date +%s%N)
expect_eq "$(cli "$follower" blpop empty 0.3)" "" "timed-out BLPOP"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed_ms" -ge 300 ] || fail "BLPOP 0.3 answered after $elapsed_ms ms"
timeout 30 redis-cli -p "$(client_port "$leader")" blmove src dst LEFT RIGHT 20 >"$OUT/move" 2>&1 &
mover=$!
wait_for 10 blocked_at_least "$leader" 1 || fail "BLMOVE never blocked"
cli "$follower" rpush src m1 m2 >/dev/null
wait_for 10 gone "$mover" || fail "BLMOVE not served"
expect_eq "$(cat "$OUT/move")" m1 "BLMOVE's element"
expect_eq "$(cli "$leader" lrange dst 0 -1)" m1 "BLMOVE's destination"
expect_eq "$(cli "$leader" lrange src 0 -1)" m2 "BLMOVE's source"

echo "== 3. a pipelined push waits behind the blocking pop"
got=$(printf 'BLPOP piped 0.3\nRPUSH piped x\n' | timeout 10 redis-cli -p "$(client_port "$leader")" | tr '\n' ' ')
expect_eq "$got" " 1 " "pipelined BLPOP then RPUSH"
expect_eq "$(cli "$leader" llen piped)" 1 "the pushed element stays"

echo "== 4. a departed waiter pops nothing"
# No `timeout` wrapper: the kill must reach redis-cli itself (its own timeout bounds it).
redis-cli -p "$(client_port "$follower")" blpop departed 20 >/dev/null 2>&1 &
departed=$!
wait_for 10 blocked_at_least "$follower" 1 || fail "departing waiter never blocked"
kill -9 "$departed"
wait_for 10 blocked_is "$follower" 0 || fail "the departed waiter still counts as blocked"
cli "$leader" rpush departed kept >/dev/null
expect_eq "$(cli "$leader" lrange departed 0 -1)" kept "element pushed after the waiter left"

echo "== 5. leader change"
timeout 60 redis-cli -p "$(client_port "$follower")" brpop failover 45 >"$OUT/failover" 2>&1 &
survivor=$!
wait_for 10 blocked_at_least "$follower" 1 || fail "failover waiter never blocked"
node_kill "$leader"
new_leader=$(wait_leader_other_than "$leader" 30) || fail "no new leader"
pushed() { [ "$(cli "$new_leader" rpush failover v)" = 1 ]; }
wait_for 20 pushed || fail "push through the new leader"
wait_for 20 gone "$survivor" || fail "waiter on node $follower not served after the leader change"
expect_eq "$(tr '\n' ' ' <"$OUT/failover")" "failover v " "element after the leader change"
node_start "$leader" || fail "restart node $leader"

echo "== 6. a queue: every element exactly once"
consumers=()
for c in 1 2 3 4; do
    node=$(( (c - 1) % 3 + 1 ))
    (
        while :; do
            r=$(timeout 10 redis-cli -p "$(client_port "$node")" blpop jobs 3 2>&1)
            [ -z "$r" ] && exit 0              # 3 s without an element: the queue is done
            printf '%s\n' "$r" | sed -n 2p >>"$OUT/consumed$c"
            case $r in jobs*) ;; *) echo "consumer $c: $r" >>"$OUT/errors";; esac
        done
    ) &
    consumers+=($!)
done
for p in 1 2 3; do
    ( for n in $(seq 1 100); do
          timeout 10 redis-cli -p "$(client_port "$p")" rpush jobs "p$p-$n" >/dev/null ||
              echo "producer $p: push $n failed" >>"$OUT/errors"
      done ) &
    producers[$p]=$!
done
for p in 1 2 3; do wait "${producers[$p]}"; done
for c in "${consumers[@]}"; do
    wait_for 60 gone "$c" || fail "consumer did not finish"
done
[ -s "$OUT/errors" ] && fail "errors: $(head -5 "$OUT/errors")"
cat "$OUT"/consumed* | sort >"$OUT/all"
expect_eq "$(wc -l <"$OUT/all")" 300 "elements received"
expect_eq "$(sort -u "$OUT/all" | wc -l)" 300 "distinct elements received"
expect_eq "$(cli "$new_leader" llen jobs)" 0 "elements left over"
busy=0
for c in 1 2 3 4; do [ -s "$OUT/consumed$c" ] && busy=$((busy + 1)); done
[ "$busy" -ge 2 ] || fail "only $busy consumer(s) received elements"
echo "node_blocking: ok"
