#!/usr/bin/env bash
# timeout: 240
# node_zsets.sh — sorted sets on real processes (issue 17).
#  1. S = 16, 3 nodes: ZUNIONSTORE, ZINTERSTORE and ZRANGESTORE answer -CROSSSLOT for keys of
#     two slots (the destination's included) and run for keys of one (a hash tag); COMMAND
#     GETKEYS of ZUNIONSTORE names the destination and the inputs; ZADD and ZPOPMIN proposed
#     through every node in turn leave each node's own replica (a read there is served from its
#     store) with the same members and scores; ZRANDMEMBER on any node picks members; TYPE,
#     OBJECT ENCODING, SCAN TYPE, WRONGTYPE, RENAME, COPY and DEL.
#  2. S = 1, snapshots every 300 entries: a follower that missed a compaction catches up by
#     snapshot and then answers score ranges, ranks and ZSCORE as the leader does, and not for
#     the sorted set deleted meanwhile.
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
set -u

SHARDS=16
cluster_start 3 || fail "start (S = 16)"
wait_for 20 reply_is 1 OK set probe 1 || fail "no shard took a write within 20 s"
# Every shard has a leader once each of these keys (one per shard, found by trying) takes a
# write through node 1.
for k in $(seq 1 200); do wait_for 10 reply_is 1 1 zadd "warm$k" 1 m || fail "zadd warm$k"; done

crossslot="CROSSSLOT Keys in request don't hash to the same slot"
expect_eq "$(cli 1 zadd '{t}a' 1 x 2 y 3 z)" 3 "zadd {t}a"
expect_eq "$(cli 2 zadd '{t}b' 10 y 20 z 30 w)" 3 "zadd {t}b"
expect_eq "$(cli 1 zunionstore '{t}c' 2 '{t}a' other)" "$crossslot" "zunionstore of two slots"
expect_eq "$(cli 1 zunionstore other 2 '{t}a' '{t}b')" "$crossslot" "zunionstore into another slot"
expect_eq "$(cli 1 zinterstore '{t}c' 2 other '{t}b')" "$crossslot" "zinterstore of two slots"
expect_eq "$(cli 1 zrangestore other '{t}a' 0 -1)" "$crossslot" "zrangestore of two slots"
expect_eq "$(cli 3 zunionstore '{t}c' 2 '{t}a' '{t}b' weights 1 2)" 4 "zunionstore of one slot"
expect_eq "$(cli 2 zrange '{t}c' 0 -1 withscores | tr '\n' ' ')" "x 1 y 22 z 43 w 60 " "the stored union"
expect_eq "$(cli 1 zinterstore '{t}d' 2 '{t}a' '{t}b' aggregate min)" 2 "zinterstore of one slot"
expect_eq "$(cli 3 zrange '{t}d' 0 -1 withscores | tr '\n' ' ')" "y 2 z 3 " "the stored intersection"
expect_eq "$(cli 2 zrangestore '{t}e' '{t}c' '(1' 50 byscore limit 0 2)" 2 "zrangestore of one slot"
expect_eq "$(cli 1 zrange '{t}e' 0 -1 | tr '\n' ' ')" "y z " "the stored range"
expect_eq "$(cli 1 command getkeys zunionstore d 2 x y weights 1 2 | tr '\n' ' ')" "d x y " "getkeys zunionstore"

# 300 members added through the nodes in turn, then 20 pops of 5 through the nodes in turn:
# every replica holds the same members and scores.
for i in $(seq 0 29); do
    node=$(( (i % 3) + 1 ))
    args=""
    for j in $(seq 1 10); do args="$args $((i * 10 + j)).5 m$((i * 10 + j))"; done
    expect_eq "$(cli "$node" zadd '{p}z' $args)" 10 "zadd $i on node $node"
done
for i in $(seq 1 20); do
    node=$(( (i % 3) + 1 ))
    expect_eq "$(cli "$node" zpopmin '{p}z' 5 | wc -l)" 10 "zpopmin $i on node $node"
done
expect_eq "$(cli 2 zpopmax '{p}z' | tr '\n' ' ')" "m300 300.5 " "zpopmax on node 2"
expect_eq "$(cli 3 zincrby '{p}z' 1000 m150)" 1150.5 "zincrby on node 3"
left1=$(cli 1 zrange '{p}z' 0 -1 withscores | md5sum)
for i in 2 3; do
    expect_eq "$(cli "$i" zrange '{p}z' 0 -1 withscores | md5sum)" "$left1" "node $i's replica of the popped sorted set"
    expect_eq "$(cli "$i" zcard '{p}z')" 199 "zcard on node $i"
    expect_eq "$(cli "$i" zrank '{p}z' m150)" 198 "zrank on node $i"
    expect_eq "$(cli "$i" zrangebyscore '{p}z' '(150' 152 | tr '\n' ' ')" "m151 " "zrangebyscore on node $i"
done
expect_eq "$(cli 1 zscore '{p}z' m100)" "" "a popped member is gone"
for i in 1 2 3; do
    pick=$(cli "$i" zrandmember '{p}z' -3 withscores | head -2 | tr '\n' ' ')
    member=${pick%% *}
    expect_eq "$(cli "$i" zscore '{p}z' "$member") " "${pick#* }" "zrandmember's pick on node $i"
done

# Types and keyspace commands.
expect_eq "$(cli 3 type '{t}a')" zset "type zset"
expect_eq "$(cli 1 object encoding '{t}a')" skiplist "object encoding zset"
expect_eq "$(cli 1 get '{t}a')" "WRONGTYPE Operation against a key holding the wrong kind of value" "get of a zset"
expect_eq "$(cli 2 zadd probe 1 m)" "WRONGTYPE Operation against a key holding the wrong kind of value" "zadd of a string"
expect_eq "$(cli 2 rename '{t}a' '{t}f')" OK "rename of a zset"
expect_eq "$(cli 3 copy '{t}f' '{t}g')" 1 "copy of a zset"
expect_eq "$(cli 1 zrem '{t}g' x)" 1 "zrem in the copy"
expect_eq "$(cli 2 zrange '{t}f' 0 -1 | tr '\n' ' ')" "x y z " "the copied-from zset keeps its members"
scan_type() { # all keys of TYPE $2 seen by a full SCAN through node $1
    local node=$1 type=$2 cursor=0 keys=""
    while :; do
        local out
        out=$(cli "$node" scan "$cursor" type "$type" count 100) || return 1
        cursor=$(echo "$out" | head -1)
        keys="$keys $(echo "$out" | tail -n +2)"
        [ "$cursor" = 0 ] && break
    done
    echo $keys | tr ' ' '\n' | sort | tr '\n' ' '
}
expect_eq "$(scan_type 2 zset | wc -w)" 207 "scan type zset"
expect_eq "$(cli 1 del '{t}f' '{t}g' '{t}c')" 3 "del of three zsets"
expect_eq "$(cli 3 type '{t}f')" none "type after del"

for i in 1 2 3; do node_stop "$i"; rm -rf "$CLUSTER_DIR/node$i"; done

# 2. A follower catches up by snapshot, sorted sets included.
SHARDS=1
NODE_FLAGS="--snapshot-entries 300"
cluster_start 3 || fail "start (S = 1)"
leader=$(wait_leader 200) || fail "no leader"
follower=1; while [ "$follower" = "$leader" ]; do follower=$((follower + 1)); done
expect_eq "$(cli "$leader" zadd doomed 1 a 2 b)" 2 "zadd doomed"
follower_last=$(info_field "$follower" last_index)
[[ $follower_last =~ ^[0-9]+$ ]] || fail "no last_index from node $follower"
node_kill "$follower"
for k in $(seq 1 2000); do echo "ZADD bigz $((k % 97)).25 m$k"; done | cli_load "$leader" || fail "load zset"
for k in $(seq 1 100); do echo "ZREM bigz m$((k * 7))"; done | cli_load "$leader" || fail "zrem"
expect_eq "$(cli "$leader" del doomed)" 1 "del doomed"
wait_for 10 info_at_least "$leader" first_index $((follower_last + 2)) ||
    fail "leader $leader did not compact past index $((follower_last + 1))"
node_start "$follower" || fail "restart of $follower"
wait_for 10 reply_is "$follower" 1900 zcard bigz || fail "follower did not catch up"
installed=$(info_stat "$follower" snapshots_installed)
[ "${installed:-0}" -ge 1 ] || fail "follower $follower did not install a snapshot"
expect_eq "$(cli "$follower" zrange bigz 0 -1 withscores | md5sum)" "$(cli "$leader" zrange bigz 0 -1 withscores | md5sum)" "the follower's sorted set"
expect_eq "$(cli "$follower" zrangebyscore bigz '(40' 41.25 | md5sum)" "$(cli "$leader" zrangebyscore bigz '(40' 41.25 | md5sum)" "a score range on the follower"
expect_eq "$(cli "$follower" zcount bigz 10 20)" "$(cli "$leader" zcount bigz 10 20)" "zcount on the follower"
expect_eq "$(cli "$follower" zrevrank bigz m1000)" "$(cli "$leader" zrevrank bigz m1000)" "zrevrank on the follower"
expect_eq "$(cli "$follower" zscore bigz m1999)" 59.25 "zscore on the follower"
expect_eq "$(cli "$follower" exists doomed)" 0 "the deleted sorted set stays deleted"
echo "node_zsets: ok"
