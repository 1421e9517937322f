#!/usr/bin/env bash
# timeout: 240
# redis_diff.sh — differential test: the same seeded random command sequences (single and
# pipelined, on several connections, to the leader and to followers) go to Debian's
# redis-server and to a 3-node chorus cluster, with Raft and then with Multi-Paxos; every
# reply must agree byte for byte, except for the documented rules and exceptions in
# tests/redis_diff/difftest.py (EXCEPTIONS; difftest.py --print-exceptions prints them).
# Fails on any difference (printing the shortest sequence found that reproduces it) or when
# fewer commands than expected were compared. SEEDS, OPS, PROTOCOLS and TIMEOUT_S make other
# runs, e.g. SEEDS=1-300 OPS=300 TIMEOUT_S=600.
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u
SEEDS=${SEEDS:-1-24}
OPS=${OPS:-250}
PROTOCOLS=${PROTOCOLS:-raft paxos}
TIMEOUT_S=${TIMEOUT_S:-110}   # per protocol; raise it with SEEDS
command -v redis-server >/dev/null || fail "redis-server is missing (make deps installs it)"
REDIS_PORT=$((PORT_BASE + 19))
REDIS_DIR="$CLUSTER_DIR/redis"
mkdir -p "$REDIS_DIR"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$REDIS_DIR" \
    --logfile "$REDIS_DIR/redis.log" >/dev/null 2>&1 &
REDIS_PID=$!
stop_redis() { kill -9 "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; cluster_cleanup; }
trap stop_redis EXIT
for t in $(seq 1 100); do
    timeout 5 redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
done
timeout 5 redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 || fail "redis-server did not start"
seeds_count() { case $1 in *-*) echo $(( ${1#*-} - ${1%-*} + 1 )) ;; *) echo "$1" | tr , "\n" | wc -l ;; esac; }
# Every seed generates at least OPS commands; SCANALL counts once for its whole iteration and
# a QUIT ends its pipeline early, hence the margin.
min_ops=$(( $(seeds_count "$SEEDS") * OPS * 8 / 10 ))
for PROTOCOL in $PROTOCOLS; do
    echo "== $PROTOCOL"
    cluster_start 3 || fail "$PROTOCOL cluster start"
    wait_leader >/dev/null || fail "$PROTOCOL: no leader"
    timeout "$TIMEOUT_S" /usr/bin/python3 tests/redis_diff/difftest.py --redis "$REDIS_PORT" \
        --chorus "$(client_port 1),$(client_port 2),$(client_port 3)" --seeds "$SEEDS" \
        --ops "$OPS" --min-ops "$min_ops" --shrink-s 15 ${ONLY:+--only "$ONLY"}
    rc=$?
    [ "$rc" = 0 ] || fail "$PROTOCOL: differences from redis-server (exit $rc)"
    for i in 1 2 3; do node_stop "$i"; rm -rf "$CLUSTER_DIR/node$i"; done
done
echo "redis_diff: no difference"
