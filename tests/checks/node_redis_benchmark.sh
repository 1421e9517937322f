#!/usr/bin/env bash
# node_redis_benchmark.sh — redis-benchmark runs without errors against the leader and a
# follower of a 3-node cluster, plain and pipelined (-P 16), for its default list of tests, and
# for chorus's other commands given as custom commands. A run that printed
# no throughput line for a test, or met an error reply (it stops at the first), fails.
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u
command -v redis-benchmark >/dev/null || fail "redis-benchmark missing (make deps)"
cluster_start 3 || fail "start"
leader=$(wait_leader 200) || fail "no leader"
follower=$(( leader % 3 + 1 ))
status=0
# bench NODE LABEL ARGS...: one redis-benchmark run that must report every test without error.
bench() {
    local node=$1 label=$2 out; shift 2
    out=$(timeout 120 redis-benchmark -p "$(client_port "$node")" -q -c 20 -n 4000 \
          -r 1000 "$@" 2>&1 </dev/null)
    local rc=$? lines
    lines=$(printf '%s\n' "$out" | tr '\r' '\n' | grep -c 'requests per second')
    if [ $rc -ne 0 ] || printf '%s' "$out" | grep -qiE "error from server|^error"; then
        echo "FAILED: $label: exit $rc"; printf '%s\n' "$out" | tr '\r' '\n' | grep -iE -m5 "error from server|^error"
        status=1
    elif [ "$lines" -lt "${EXPECT:-1}" ]; then
        echo "FAILED: $label: $lines of ${EXPECT:-1} tests reported"; status=1
    else
        echo "ok: $label ($lines tests)"
    fi
}
for node in "$leader" "$follower"; do
    role=leader; [ "$node" = "$follower" ] && role=follower
    for p in 1 16; do
        # 20 tests: lrange is LPUSH then LRANGE_100, _300, _500 and _600
        EXPECT=20 bench "$node" "$role -P $p builtin" -P "$p" \
            -t ping_inline,ping_mbulk,set,get,incr,mset,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange
        # chorus's other commands, each as a custom command that cannot fail on these keys
        # (redis-benchmark stops at the first error reply). The sorted set STOREs combine the
        # 10-member zr: one of two 1,000-member sets costs ~5 ms to apply, and 320 of them in
        # flight outlast the request timeout of an ASan build (-UNKNOWN).
        while read -r name args; do
            EXPECT=1 bench "$node" "$role -P $p $name" -n 1000 -P "$p" $name $args
        done <<'COMMANDS'
del key:__rand_int__
append key:__rand_int__ x
exists key:__rand_int__ key:__rand_int__
mget key:__rand_int__ key:__rand_int__
cas counter:__rand_int__ x y
getset key:__rand_int__ v
getdel key:__rand_int__
setnx key:__rand_int__ v
msetnx nx:__rand_int__ a nx2:__rand_int__ b
strlen key:__rand_int__
incrbyfloat float:__rand_int__ 1.5
decrby counter2:__rand_int__ 3
setrange key:__rand_int__ 3 abc
getrange key:__rand_int__ 0 2
setbit bits:__rand_int__ 7 1
getbit bits:__rand_int__ 7
bitcount bits:__rand_int__
type key:__rand_int__
touch key:__rand_int__ key:__rand_int__
copy key:__rand_int__ copy:__rand_int__
dbsize
echo hello
scan 0 count 5
hget myhash element:__rand_int__
hincrby hcount:__rand_int__ f 1
hgetall hcount:__rand_int__
hdel myhash element:__rand_int__
smembers set:__rand_int__
sismember myset element:__rand_int__
srem myset element:__rand_int__
scard myset
lrange mylist 0 9
llen mylist
lindex mylist 0
rpoplpush mylist mylist2
lmove mylist2 mylist left right
lrem mylist2 1 nothing
type mylist
zadd zs __rand_int__ element:__rand_int__
zincrby zs 1 element:__rand_int__
zscore zs element:__rand_int__
zrank zs element:__rand_int__
zrevrank zs element:__rand_int__
zcard zs
zcount zs 100 +inf
zrange zs 0 9 withscores
zrange zs (100 500 byscore limit 0 10
zrevrangebyscore zs +inf -inf limit 0 5
zrandmember zs 3 withscores
zscan zs 0
zrangestore zr zs 0 9
zunionstore zu 2 zr zr weights 1 2
zinterstore zi 2 zr zs aggregate max
zrem zs element:__rand_int__
zremrangebyscore zs 999 999
zpopmax zs
COMMANDS
    done
done
for i in 1 2 3; do node_alive "$i" || { echo "node $i died"; tail -20 "$CLUSTER_DIR/node$i.log"; status=1; }; done
exit "$status"
