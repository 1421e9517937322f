#!/usr/bin/env bash
# bench/collections.sh — HSET, LPUSH, SADD and ZADD at 50 clients against a one-element and a
# million-element collection (issue 17: a collection is one LMDB record per element, a sorted
# set two, so the rates should be the same within 20 %), and ZRANGE BYSCORE and LRANGE of 100
# elements from the middle of the million-element sorted set and list at one client (issue 17:
# under 1 ms on the leader; redis-benchmark's p50 at one client is that, plus the loopback
# round trip). 3 chorusd on loopback (tests/cluster/lib.sh), fsync on, redis-benchmark against
# the leader:
#   small hash: HSET bench:h1 f __rand_int__      (one field, rewritten)
#   big hash:   HSET bench:hbig __rand_int__ v     (-r N: fields of the N written before)
#   small list: LPUSH bench:l1 x                    (a new list: it grows to BENCH_REQUESTS
#               elements, as small as redis-benchmark can keep one under LPUSH alone)
#   big list:   LPUSH bench:lbig __rand_int__       (in front of N elements)
#   small set:  SADD bench:s1 m                    (one member, always there)
#   big set:    SADD bench:sbig __rand_int__       (-r N: members of the N written before)
#   small zset: ZADD bench:z1 __rand_int__ m       (one member, rescored)
#   big zset:   ZADD bench:zbig __rand_int__ __rand_int__ (-r N: a member of the N written
#               before, rescored within 0..N)
#   range:      ZRANGE bench:zbig N/2 +inf BYSCORE LIMIT 0 100   (1 client)
#   list range: LRANGE bench:lbig N/2 N/2+99                    (1 client)
# The big ones are filled first with N elements named as redis-benchmark names them (12
# digits; member i of the sorted set has score i), 1,000 per command. Prints a markdown table and saves it in $BUILD/bench-collections.md.
# Knobs: COLL_ELEMENTS (1000000), BENCH_REQUESTS (100000), PROTOCOL (raft).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
N=${COLL_ELEMENTS:-1000000}
REQ=${BENCH_REQUESTS:-100000}
OUT=$BUILD/bench-collections.md
. tests/cluster/lib.sh
cluster_start 3 || { echo "cluster did not start"; exit 1; }
leader=$(wait_leader) || { echo "no leader"; exit 1; }
port=$(client_port "$leader")

# Fills a collection with N elements, 1,000 per command, pipelined 16 commands deep.
fill() {
    timeout 600 /usr/bin/python3 - "$port" "$1" "$2" "$N" <<'EOF'
import socket, sys
port, command, key, n = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode(), int(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port), timeout=120)
f = s.makefile("rb")
def enc(args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
sent = pending = 0
while sent < n or pending:
    batch = []
    while sent < n and len(batch) < 16:
        args = [command, key]
        for i in range(sent, min(sent + 1000, n)):
            if command == b"ZADD":
                args.append(b"%d" % i)
            args += [b"%012d" % i] + ([b"v"] if command == b"HSET" else [])
        sent = min(sent + 1000, n)
        batch.append(enc(args))
    s.sendall(b"".join(batch))
    pending += len(batch)
    while pending:
        line = f.readline()
        if not line.startswith(b":"):
            sys.exit("fill: %r" % line)
        pending -= 1
EOF
}
# rb RANGE COMMAND...: redis-benchmark's options must come before the command.
rb() {
    local range=$1
    shift
    timeout 300 redis-benchmark -p "$port" -c 50 -n "$REQ" -r "$range" -q --csv "$@" 2>/dev/null | tail -1
}
field() { echo "$1" | tr -d '"' | cut -d, -f"$2"; }
started=$(date +%s)
fill HSET bench:hbig || { echo "filling the hash failed"; exit 1; }
fill RPUSH bench:lbig || { echo "filling the list failed"; exit 1; }
fill SADD bench:sbig || { echo "filling the set failed"; exit 1; }
fill ZADD bench:zbig || { echo "filling the sorted set failed"; exit 1; }
echo "  filled 4 x $N elements in $(( $(date +%s) - started )) s"
[ "$(cli "$leader" hlen bench:hbig)" = "$N" ] || { echo "the big hash has $(cli "$leader" hlen bench:hbig) fields"; exit 1; }
[ "$(cli "$leader" llen bench:lbig)" = "$N" ] || { echo "the big list has $(cli "$leader" llen bench:lbig) elements"; exit 1; }
[ "$(cli "$leader" zcard bench:zbig)" = "$N" ] || { echo "the big sorted set has $(cli "$leader" zcard bench:zbig) members"; exit 1; }
h1=$(rb 100000000 hset bench:h1 f __rand_int__)
hb=$(rb "$N" hset bench:hbig __rand_int__ v)
# The list's range first, before LPUSH moves its middle: 100 elements from there.
lr=$(timeout 300 redis-benchmark -p "$port" -c 1 -n $(( REQ / 10 )) -q --csv \
    lrange bench:lbig $(( N / 2 )) $(( N / 2 + 99 )) 2>/dev/null | tail -1)
l1=$(rb 1 lpush bench:l1 x)
lb=$(rb "$N" lpush bench:lbig __rand_int__)
s1=$(rb 1 sadd bench:s1 m)
sb=$(rb "$N" sadd bench:sbig __rand_int__)
# The range first, while member i still has score i: 100 members from the middle.
zr=$(timeout 300 redis-benchmark -p "$port" -c 1 -n $(( REQ / 10 )) -q --csv \
    zrange bench:zbig $(( N / 2 )) +inf byscore limit 0 100 2>/dev/null | tail -1)
z1=$(rb 100000000 zadd bench:z1 __rand_int__ m)
zb=$(rb "$N" zadd bench:zbig __rand_int__ __rand_int__)
rows=()
row() { rows+=("| $1 | $(field "$2" 2) req/s, p50 $(field "$2" 5) ms, p99 $(field "$2" 7) ms |"); }
row "HSET, 50 clients, 1-field hash" "$h1"
row "HSET, 50 clients, $N-field hash" "$hb"
row "LPUSH, 50 clients, new list" "$l1"
row "LPUSH, 50 clients, $N-element list" "$lb"
row "SADD, 50 clients, 1-member set" "$s1"
row "SADD, 50 clients, $N-member set" "$sb"
row "ZADD, 50 clients, 1-member sorted set" "$z1"
row "ZADD, 50 clients, $N-member sorted set" "$zb"
row "ZRANGE BYSCORE LIMIT 0 100 from the middle, 1 client, $N-member sorted set" "$zr"
row "LRANGE of 100 from the middle, 1 client, $N-element list" "$lr"
ratio() { awk -v a="$(field "$1" 2)" -v b="$(field "$2" 2)" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "n/a" }'; }
{
    echo "chorus collections, $(date -u +%Y-%m-%dT%H:%MZ), ${PROTOCOL:-raft}, $REQ requests each"
    echo
    echo "| case | result |"
    echo "|---|---|"
    printf '%s\n' "${rows[@]}"
    echo "| big / small rate | HSET $(ratio "$h1" "$hb"), LPUSH $(ratio "$l1" "$lb"), SADD $(ratio "$s1" "$sb"), ZADD $(ratio "$z1" "$zb") (target: 0.8 to 1.2) |"
} | tee "$OUT"
