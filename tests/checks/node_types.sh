#!/usr/bin/env bash
# timeout: 240
# node_types.sh — hashes, sets and lists on real processes (issue 17).
#  1. S = 16, 3 nodes: multi-key commands (SUNION, SINTERSTORE, SMOVE, SINTERCARD, LMOVE) answer
#     -CROSSSLOT for keys of two slots and run for keys of one (a hash tag); SPOP's random
#     choice is made once: after pops proposed through every node, each node's own replica
#     (a read there is served from its store) holds exactly the same members; TYPE, OBJECT
#     ENCODING, SCAN TYPE and WRONGTYPE.
#  2. S = 1, snapshots every 300 entries: a follower that missed a compaction catches up by
#     snapshot and then holds the same big hash, set and list as the leader, and not the
#     set deleted meanwhile.
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
set -u

# The reply of a command on node $1, its lines sorted (for unordered replies).
sorted() { local node=$1; shift; cli "$node" "$@" | sort; }

SHARDS=16
cluster_start 3 || fail "start (S = 16)"
wait_for 20 reply_is 1 OK set probe 1 || fail "no shard took a write within 20 s"
# Every shard has a leader once each of these keys (one per shard, found by trying) takes a
# write through node 1.
for k in $(seq 1 200); do wait_for 10 reply_is 1 1 sadd "warm$k" m || fail "sadd warm$k"; done

crossslot="CROSSSLOT Keys in request don't hash to the same slot"
expect_eq "$(cli 1 sadd '{t}a' 1 2 3)" 3 "sadd {t}a"
expect_eq "$(cli 2 sadd '{t}b' 2 3 4)" 3 "sadd {t}b"
expect_eq "$(cli 1 sunion a b)" "$crossslot" "sunion of two slots"
expect_eq "$(cli 1 sinterstore '{t}c' '{t}a' other)" "$crossslot" "sinterstore of two slots"
expect_eq "$(cli 1 smove '{t}a' other 1)" "$crossslot" "smove of two slots"
expect_eq "$(cli 1 sintercard 2 '{t}a' other)" "$crossslot" "sintercard of two slots"
expect_eq "$(cli 3 sintercard 2 '{t}a' '{t}b')" 2 "sintercard of one slot"
expect_eq "$(cli 3 sinterstore '{t}c' '{t}a' '{t}b')" 2 "sinterstore of one slot"
expect_eq "$(sorted 2 smembers '{t}c' | tr '\n' ' ')" "2 3 " "the stored intersection"
expect_eq "$(cli 1 smove '{t}a' '{t}b' 1)" 1 "smove of one slot"
expect_eq "$(cli 1 command getkeys sintercard 2 x y limit 1 | tr '\n' ' ')" "x y " "getkeys sintercard"
expect_eq "$(cli 2 rpush '{t}l' 1 2 3)" 3 "rpush"
expect_eq "$(cli 2 lmove '{t}l' other left right)" "$crossslot" "lmove of two slots"
expect_eq "$(cli 3 lmove '{t}l' '{t}m' left right)" 1 "lmove of one slot"
expect_eq "$(cli 1 rpoplpush '{t}l' '{t}m')" 3 "rpoplpush"
expect_eq "$(cli 2 lrange '{t}m' 0 -1 | tr '\n' ' ')" "3 1 " "the moved elements"

# SPOP: 300 members, 20 pops of 5 proposed through the nodes in turn, then every replica.
members=$(seq 1 300 | tr '\n' ' ')
expect_eq "$(cli 1 sadd '{p}s' $members)" 300 "sadd 300"
for i in $(seq 1 20); do
    node=$(( (i % 3) + 1 ))
    expect_eq "$(cli "$node" spop '{p}s' 5 | wc -l)" 5 "spop $i on node $node"
done
one=$(cli 2 spop '{p}s')
[[ $one =~ ^[0-9]+$ ]] || fail "spop without a count: '$one'"
left1=$(sorted 1 smembers '{p}s' | tr '\n' ' ')
for i in 2 3; do
    expect_eq "$(sorted "$i" smembers '{p}s' | tr '\n' ' ')" "$left1" "node $i's replica of the popped set"
done
expect_eq "$(cli 1 scard '{p}s')" 199 "scard after 101 pops"
expect_eq "$(echo "$left1" | wc -w)" 199 "smembers after 101 pops"
expect_eq "$(cli 3 sismember '{p}s' "$one")" 0 "the popped member is gone"

# Types and keyspace commands.
expect_eq "$(cli 2 hset h f v g w)" 2 "hset"
expect_eq "$(cli 3 type h)" hash "type hash"
expect_eq "$(cli 1 type '{t}a')" set "type set"
expect_eq "$(cli 1 object encoding h)" hashtable "object encoding hash"
expect_eq "$(cli 1 object encoding probe)" raw "object encoding string"
expect_eq "$(cli 1 object encoding '{t}m')" linkedlist "object encoding list"
expect_eq "$(cli 3 type '{t}m')" list "type list"
expect_eq "$(cli 1 get h)" "WRONGTYPE Operation against a key holding the wrong kind of value" "get of a hash"
expect_eq "$(cli 1 hget probe f)" "WRONGTYPE Operation against a key holding the wrong kind of value" "hget of a string"
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
expect_eq "$(scan_type 2 hash)" "h " "scan type hash"
expect_eq "$(scan_type 3 string)" "probe " "scan type string"
expect_eq "$(scan_type 1 set | wc -w)" 204 "scan type set"
expect_eq "$(scan_type 1 list)" "{t}l {t}m " "scan type list"
expect_eq "$(cli 1 del h)" 1 "del of a hash"
expect_eq "$(cli 1 del '{t}a' '{t}c')" 2 "del of two sets"
expect_eq "$(cli 2 exists '{t}a' '{t}b' '{t}c')" 1 "exists after del"
expect_eq "$(cli 3 type h)" none "type after del"

for i in 1 2 3; do node_stop "$i"; rm -rf "$CLUSTER_DIR/node$i"; done

# 2. A follower catches up by snapshot, collections included.
SHARDS=1
NODE_FLAGS="--snapshot-entries 300"
cluster_start 3 || fail "start (S = 1)"
leader=$(wait_leader 200) || fail "no leader"
follower=1; while [ "$follower" = "$leader" ]; do follower=$((follower + 1)); done
expect_eq "$(cli "$leader" sadd doomed a b c)" 3 "sadd doomed"
follower_last=$(info_field "$follower" last_index)
[[ $follower_last =~ ^[0-9]+$ ]] || fail "no last_index from node $follower"
node_kill "$follower"
for k in $(seq 1 1500); do echo "HSET bighash f$k v$k"; done | cli_load "$leader" || fail "load hash"
for k in $(seq 1 500); do echo "SADD bigset m$k"; done | cli_load "$leader" || fail "load set"
for k in $(seq 1 500); do echo "RPUSH biglist e$k"; done | cli_load "$leader" || fail "load list"
expect_eq "$(cli "$leader" del doomed)" 1 "del doomed"
wait_for 10 info_at_least "$leader" first_index $((follower_last + 2)) ||
    fail "leader $leader did not compact past index $((follower_last + 1))"
node_start "$follower" || fail "restart of $follower"
wait_for 10 reply_is "$follower" 500 scard bigset || fail "follower did not catch up"
installed=$(info_stat "$follower" snapshots_installed)
[ "${installed:-0}" -ge 1 ] || fail "follower $follower did not install a snapshot"
expect_eq "$(cli "$follower" hlen bighash)" 1500 "hlen on the follower"
expect_eq "$(sorted "$follower" hgetall bighash | md5sum)" "$(sorted "$leader" hgetall bighash | md5sum)" "the follower's hash"
expect_eq "$(sorted "$follower" smembers bigset | md5sum)" "$(sorted "$leader" smembers bigset | md5sum)" "the follower's set"
expect_eq "$(cli "$follower" lrange biglist 0 -1 | md5sum)" "$(cli "$leader" lrange biglist 0 -1 | md5sum)" "the follower's list"
expect_eq "$(cli "$follower" exists doomed)" 0 "the deleted set stays deleted"
expect_eq "$(cli "$follower" dbsize)" 3 "dbsize on the follower"
echo "node_types: ok"
