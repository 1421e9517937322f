#!/usr/bin/env bash
# make run: a local chorus cluster in the foreground, sharded: the keyspace's 16,384 slots in
# S shards (default 16), each a consensus group of up to 3 replicas.
#   NODES=5 make run  starts 5 nodes; SHARDS=1 make run  one group (standalone Redis).
#   clients (RESP) on 127.0.0.1:7001.., peers on 127.0.0.1:8001.., Prometheus metrics on
#   http://127.0.0.1:9001/metrics.., the live view at http://127.0.0.1:9001/?nodes=9001,9002,..
#   (any node serves it), data under ./data/. DEV=1 make run  adds --http-dev: the page can
#   then pause a node or cut it off from its peers.
#   TLS=1 make run  also serves clients over TLS on 127.0.0.1:7101.. with a test CA and
#   certificates that tools/tls-test-ca.sh makes once in ./data/tls/ (client certificates
#   required: data/tls/client.crt and client.key), and the nodes talk to each other over
#   mutual TLS (--tls-replication yes) with the same certificates.
# Ctrl-C stops every node cleanly (SIGTERM to each, then wait).
set -u
BUILD=${1:-build}
BIN=$BUILD/bin/chorusd
PROTOCOL=${PROTOCOL:-raft}
NODES=${NODES:-3}
case $NODES in ''|*[!0-9]*) echo "NODES must be a number" >&2; exit 2 ;; esac
if [ "$NODES" -lt 1 ] || [ "$NODES" -gt 9 ]; then echo "NODES: 1..9" >&2; exit 2; fi
CLUSTER=""
for i in $(seq 1 "$NODES"); do
    CLUSTER="$CLUSTER${CLUSTER:+,}$i=127.0.0.1:800$i/127.0.0.1:700$i"
done
# --shards only when asked for: a data directory keeps the number it was created with.
SHARD_FLAGS=()
[ -n "${SHARDS:-}" ] && SHARD_FLAGS=(--shards "$SHARDS")
DEV_FLAGS=()
[ "${DEV:-0}" = 1 ] && DEV_FLAGS=(--http-dev)
mkdir -p data
TLS_ON=0
[ "${TLS:-0}" = 1 ] && TLS_ON=1
# A data/tls from before peer TLS has a server certificate without client usage, which peers
# refuse: it is issued again from the same CA (clients that trust data/tls/ca.crt keep working).
if [ "$TLS_ON" = 1 ] && { [ ! -f data/tls/server.crt ] ||
    ! openssl x509 -in data/tls/server.crt -noout -ext extendedKeyUsage 2>/dev/null |
        grep -q "Client Authentication"; }; then
    tools/tls-test-ca.sh data/tls >/dev/null || { echo "TLS=1: tools/tls-test-ca.sh failed" >&2; exit 1; }
fi
tls_flags() { # tls_flags I — node I's TLS listener, peer TLS and files, or nothing
    [ "$TLS_ON" = 1 ] && echo "--tls-port 127.0.0.1:710$1 --tls-replication yes" \
        "--tls-cert data/tls/server.crt --tls-key data/tls/server.key --tls-ca data/tls/ca.crt"
}
pids=()
stop() {
    trap - INT TERM
    echo
    echo "stopping the cluster..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    wait
    echo "stopped; data is kept in ./data (rm -rf data to start afresh)"
    exit 0
}
trap stop INT TERM
for i in $(seq 1 "$NODES"); do
    "$BIN" --id "$i" --cluster "$CLUSTER" --protocol "$PROTOCOL" --data-dir "data/node$i" \
        --listen "127.0.0.1:700$i" --peer-listen "127.0.0.1:800$i" --http "127.0.0.1:900$i" \
        "${SHARD_FLAGS[@]}" "${DEV_FLAGS[@]}" $(tls_flags "$i") \
        2> "data/node$i.log" &
    pids+=($!)
done
info() { redis-cli -p "$1" info "$2" 2>/dev/null | tr -d '\r' | sed -n "s/^$3://p"; }
# Ready once every shard has a leader (CLUSTER INFO says ok) or, with one shard, a leader.
ready=""
for attempt in $(seq 1 100); do
    shards=$(info 7001 chorus shards)
    if [ "${shards:-0}" -gt 1 ]; then
        state=$(redis-cli -p 7001 cluster info 2>/dev/null | tr -d '\r' | sed -n 's/^cluster_state://p')
        leading=0
        for i in $(seq 1 "$NODES"); do leading=$((leading + $(info "700$i" chorus groups_leading || echo 0))); done
        [ "$state" = ok ] && [ "$leading" -ge "$shards" ] && { ready=1; break; }
    elif [ -n "$shards" ]; then
        for i in $(seq 1 "$NODES"); do
            [ "$(info "700$i" chorus role)" = leader ] && { ready=1; break 2; }
        done
    fi
    sleep 0.1
done
shards=$(info 7001 chorus shards)
replicas=$(info 7001 chorus replicas)
echo "chorus: a $NODES-node $PROTOCOL cluster is running (logs in data/node*.log)"
if [ "${shards:-1}" -gt 1 ]; then
    echo "  sharding is on: $shards shards of the 16,384 slots, $replicas replicas each"
    for i in $(seq 1 "$NODES"); do
        echo "  node $i: 127.0.0.1:700$i, leads $(info "700$i" chorus groups_leading) shards"
    done
else
    echo "  one shard (one consensus group): standalone Redis semantics"
fi
VIEW_NODES=""
for i in $(seq 1 "$NODES"); do VIEW_NODES="$VIEW_NODES${VIEW_NODES:+,}900$i"; done
echo "  live view (every node's groups, messages, shards and clients, in a browser):"
echo "    http://127.0.0.1:9001/?nodes=$VIEW_NODES"
if [ "${DEV:-0}" = 1 ]; then
    echo "    (development mode: its panel pauses or partitions a node)"
else
    echo "    (DEV=1 make run adds buttons to pause or partition a node)"
fi
echo "  metrics (Prometheus text format):"
for i in $(seq 1 "$NODES"); do echo "    http://127.0.0.1:900$i/metrics"; done
if [ "$TLS_ON" = 1 ]; then
    echo "  TLS on 127.0.0.1:7101..710$NODES, and between the nodes (test CA in data/tls):"
    echo "    redis-cli --tls --cacert data/tls/ca.crt --cert data/tls/client.crt --key data/tls/client.key -p 7101 ping"
fi
[ -n "$ready" ] || echo "  (some shards have no leader yet: commands wait for one)"
cat <<TXT
  talk to any node; it serves every key (forwarding to the key's shard leader):
    redis-cli -p 7001 set a 1
    redis-cli -p 7002 get a
    redis-cli -c -p 7001 cluster slots     # cluster clients find each shard's leader
    redis-benchmark --cluster -p 7001 -t set,get -q
    build/bin/chorus status                 # every shard: slots, leader, term, indexes
  press Ctrl-C to stop every node.
TXT
wait
