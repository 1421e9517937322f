#!/usr/bin/env bash
# timeout: 300
# expiry.sh — key expiry on a 3-node cluster (S = 1), with Raft and then Multi-Paxos
# (docs/expiry.md):
#  1. a key SET with PX 300 disappears on the leader and through the followers' (ReadIndex)
#     reads within 3 s, and not before 290 ms (log time runs at the monotonic clock's rate
#     with a 1 % slew at most);
#  2. PTTL counts down on an idle cluster (the leader's clock entry at least every second);
#  3. a kill -9 of the leader neither revives an expired key nor expires a live one early:
#     a key with EX 8 is still there on the new leader, then goes, not before 7.9 s after it
#     was set, and the restarted old leader does not bring back either;
#  4. active expiry: 300 keys with PX 400 that nobody reads go from every replica (INFO
#     keyspace's expires= and keys= drop on all three nodes), deleted by the leader's clock
#     entries.
# Then (Raft, S = 16, shards led by different nodes and quiet when idle): 200 keys with PX 500
# spread over the shards go from every node, and PTTL counts down through a node that leads
# none of the key's shard. Last (Raft, S = 1, snapshots every 300 entries): a follower that
# missed a compaction catches up by snapshot and then holds the leader's deadlines (INFO
# keyspace equal, PTTL within 5 s), and not a key that expired meanwhile.
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
set -u
PROTOCOLS=${PROTOCOLS:-raft paxos}

now_ms() { local us=${EPOCHREALTIME//[!0-9]/}; echo $((us / 1000)); }
absent_on() { local node=$1 key=$2; [ -z "$(cli "$node" get "$key" 2>/dev/null)" ] && \
    [ "$(cli "$node" exists "$key" 2>/dev/null)" = 0 ]; }
absent_everywhere() { local key=$1 i; for i in 1 2 3; do absent_on "$i" "$key" || return 1; done; }
keyspace() { cli "$1" info keyspace 2>/dev/null | tr -d '\r' | sed -n 's/^db0://p'; }


# A write that may meet a leadership transfer (-UNKNOWN, -TRYAGAIN) is retried until it gives
# the reply wanted: every write here may apply twice without harm.
write_ok() { local node=$1 want=$2; shift 2; wait_for 10 reply_is "$node" "$want" "$@"; }
# A bulk load retried the same way (cli_load fails on any error reply).
load_retry() { local node=$1 file="$CLUSTER_DIR/load.txt" try; cat >"$file"
    for try in 1 2 3; do cli_load "$node" <"$file" && return 0; done; return 1; }
pttl_below() { local v; v=$(cli "$1" pttl "$2"); [ -n "$v" ] && [ "$v" -ge 0 ] && [ "$v" -lt "$3" ]; }

for PROTOCOL in $PROTOCOLS; do
    echo "== $PROTOCOL"
    cluster_start 3 || fail "$PROTOCOL: start"
    leader=$(wait_leader) || fail "$PROTOCOL: no leader"
    wait_for 20 reply_is "$leader" OK set warm 1 || fail "$PROTOCOL: no write within 20 s"
    others=$(for i in 1 2 3; do [ "$i" != "$leader" ] && echo "$i"; done | tr '\n' ' ')

    # 1. PX 300: gone within a bound everywhere, never early.
    t0=$(now_ms)
    write_ok "$leader" OK set short v px 300 || fail "$PROTOCOL: set px 300"
    wait_for 5 absent_on "$leader" short || fail "$PROTOCOL: px 300 key still on the leader"
    t1=$(now_ms)
    [ $((t1 - t0)) -ge 290 ] || fail "$PROTOCOL: px 300 key gone after $((t1 - t0)) ms"
    [ $((t1 - t0)) -le 3000 ] || fail "$PROTOCOL: px 300 key gone only after $((t1 - t0)) ms"
    for f in $others; do
        absent_on "$f" short || fail "$PROTOCOL: node $f still reads the expired key"
    done
    expect_eq "$(cli "$leader" ttl short)" -2 "$PROTOCOL: ttl of the expired key"

    # 2. PTTL counts down with nobody writing.
    write_ok "$leader" OK set countdown v ex 100 || fail "$PROTOCOL: set ex 100"
    first=$(cli "$leader" pttl countdown)
    [ "$first" -gt 98000 ] && [ "$first" -le 100000 ] || fail "$PROTOCOL: pttl $first"
    wait_for 5 pttl_below "$leader" countdown $((first - 1000)) ||
        fail "$PROTOCOL: pttl did not count down on the leader"
    f1=${others%% *}
    wait_for 5 pttl_below "$f1" countdown $((first - 1000)) ||
        fail "$PROTOCOL: pttl did not count down on follower $f1"
    expect_eq "$(cli "$f1" ttl nosuchkey)" -2 "$PROTOCOL: ttl of a missing key"
    expect_eq "$(cli "$f1" ttl warm)" -1 "$PROTOCOL: ttl of a key without a deadline"

    # 3. kill -9 of the leader: no revival, no early expiry.
    write_ok "$leader" OK set gone v px 200 || fail "$PROTOCOL: set px 200"
    wait_for 5 absent_everywhere gone || fail "$PROTOCOL: px 200 key not gone everywhere"
    t0=$(now_ms)
    write_ok "$leader" OK set survivor v ex 8 || fail "$PROTOCOL: set ex 8"
    write_ok "$leader" OK hmset hsurvivor f v || fail "$PROTOCOL: hmset"
    write_ok "$leader" 1 pexpire hsurvivor 8000 || fail "$PROTOCOL: pexpire of a hash"
    old=$leader
    node_kill "$old"
    leader=$(wait_leader_other_than "$old" 20) || fail "$PROTOCOL: no new leader after kill -9"
    wait_for 10 reply_is "$leader" OK set after-kill 1 || fail "$PROTOCOL: new leader takes no write"
    t1=$(now_ms)
    if [ $((t1 - t0)) -lt 7000 ]; then
        expect_eq "$(cli "$leader" get survivor)" v "$PROTOCOL: the ex 8 key expired early on the new leader"
        expect_eq "$(cli "$leader" hget hsurvivor f)" v "$PROTOCOL: the hash expired early"
    else
        echo "note: the election took $((t1 - t0)) ms, the early-expiry read is skipped"
    fi
    absent_on "$leader" gone || fail "$PROTOCOL: the expired key came back on the new leader"
    wait_for 20 absent_on "$leader" survivor || fail "$PROTOCOL: ex 8 key never expired"
    t2=$(now_ms)
    [ $((t2 - t0)) -ge 7900 ] || fail "$PROTOCOL: ex 8 key gone after $((t2 - t0)) ms"
    wait_for 5 absent_on "$leader" hsurvivor || fail "$PROTOCOL: the hash never expired"
    node_start "$old" || fail "$PROTOCOL: restart of node $old"
    wait_for 20 reply_is "$old" OK set rejoined 1 || fail "$PROTOCOL: node $old takes no write"
    for key in gone survivor hsurvivor; do
        wait_for 10 absent_everywhere "$key" || fail "$PROTOCOL: $key is back after the restart"
    done

    # 4. Active expiry of keys nobody reads.
    keys_before=$(keyspace "$leader" | sed 's/,.*//')
    for i in $(seq 1 300); do echo "SET idle$i v PX 400"; done | load_retry "$leader" ||
        fail "$PROTOCOL: load of 300 volatile keys"
    expires=$(keyspace "$leader" | sed -n 's/.*expires=\([0-9]*\).*/\1/p')
    [ "${expires:-0}" -ge 1 ] || fail "$PROTOCOL: INFO keyspace counts no expires after the load"
    # countdown (ex 100) is the one volatile key left once the idle keys are gone.
    left() { local i; for i in 1 2 3; do
        [ "$(keyspace "$i" | sed 's/,avg_ttl.*//')" = "$keys_before,expires=1" ] || return 1
    done; }
    wait_for 15 left || fail "$PROTOCOL: idle keys not deleted everywhere: $(keyspace 1) / $(keyspace 2) / $(keyspace 3) (before: $keys_before)"

    for i in 1 2 3; do node_stop "$i"; rm -rf "$CLUSTER_DIR/node$i"; done
done
echo "== raft, 16 shards"
PROTOCOL=raft SHARDS=16
cluster_start 3 || fail "S = 16: start"
wait_for 20 reply_is 1 OK set probe 1 || fail "S = 16: no write within 20 s"
for i in $(seq 1 200); do echo "SET s16k$i v PX 500"; done | load_retry 1 || fail "S = 16: load"
shards_gone() { local i; for i in 1 2 3; do
    [ "$(keyspace "$i" | sed 's/,avg_ttl.*//')" = "keys=1,expires=0" ] || return 1; done; }
wait_for 15 shards_gone || fail "S = 16: keys left: $(keyspace 1) / $(keyspace 2) / $(keyspace 3)"
write_ok 2 OK set t v ex 100 || fail "S = 16: set ex 100"
first=$(cli 3 pttl t)
[ "$first" -gt 98000 ] || fail "S = 16: pttl $first"
wait_for 5 pttl_below 3 t $((first - 1000)) || fail "S = 16: pttl did not count down"
for i in 1 2 3; do node_stop "$i"; rm -rf "$CLUSTER_DIR/node$i"; done

echo "== raft, a snapshot carrying deadlines"
SHARDS=1 NODE_FLAGS="--snapshot-entries 300"
cluster_start 3 || fail "snapshot: start"
leader=$(wait_leader 200) || fail "snapshot: no leader"
wait_for 20 reply_is "$leader" OK set warm 1 || fail "snapshot: no write within 20 s"
follower=1; while [ "$follower" = "$leader" ]; do follower=$((follower + 1)); done
follower_last=$(info_field "$follower" last_index)
[[ $follower_last =~ ^[0-9]+$ ]] || fail "snapshot: no last_index from node $follower"
node_kill "$follower"
{ for k in $(seq 1 50); do echo "SET vol$k v EX 1000"; done
  echo "HSET volhash f v"; echo "EXPIRE volhash 2000"; echo "SET brief v PX 300"
  for k in $(seq 1 600); do echo "SET plain$k v"; done; } | load_retry "$leader" ||
    fail "snapshot: load"
wait_for 10 absent_on "$leader" brief || fail "snapshot: px 300 key still on the leader"
wait_for 10 info_at_least "$leader" first_index $((follower_last + 2)) ||
    fail "snapshot: leader $leader did not compact past index $((follower_last + 1))"
node_start "$follower" || fail "snapshot: restart of $follower"
wait_for 10 reply_is "$follower" v get plain600 || fail "snapshot: follower did not catch up"
installed=$(info_stat "$follower" snapshots_installed)
[ "${installed:-0}" -ge 1 ] || fail "snapshot: follower $follower installed no snapshot"
same_keyspace() { [ "$(keyspace "$follower" | sed 's/,avg_ttl.*//')" = \
    "$(keyspace "$leader" | sed 's/,avg_ttl.*//')" ]; }
wait_for 10 same_keyspace || fail "snapshot: keyspace $(keyspace "$follower") vs $(keyspace "$leader")"
expect_eq "$(keyspace "$follower" | sed 's/.*expires=\([0-9]*\).*/\1/')" 51 "snapshot: expires= on the follower"
lp=$(cli "$leader" pttl volhash) fp=$(cli "$follower" pttl volhash)
[ "$fp" -gt 0 ] && [ $((lp - fp)) -le 5000 ] && [ $((fp - lp)) -le 5000 ] ||
    fail "snapshot: pttl of the hash $fp on the follower, $lp on the leader"
absent_on "$follower" brief || fail "snapshot: the expired key is on the follower"
echo "expiry: ok"
