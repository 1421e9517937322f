#!/usr/bin/env bash
# make run: a local 3-node chorus cluster in the foreground.
#   clients (RESP) on 127.0.0.1:7001-7003, peers on 127.0.0.1:8001-8003, data under ./data/.
# Ctrl-C stops all three cleanly (SIGTERM to each, then wait).
set -u
BUILD=${1:-build}
BIN=$BUILD/bin/chorusd
PROTOCOL=${PROTOCOL:-raft}
CLUSTER="1=127.0.0.1:8001,2=127.0.0.1:8002,3=127.0.0.1:8003"
mkdir -p data
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
for i in 1 2 3; do
    "$BIN" --id "$i" --cluster "$CLUSTER" --protocol "$PROTOCOL" --data-dir "data/node$i" \
        --listen "127.0.0.1:700$i" --peer-listen "127.0.0.1:800$i" 2> "data/node$i.log" &
    pids+=($!)
done
leader=""
for attempt in $(seq 1 50); do
    for i in 1 2 3; do
        role=$(redis-cli -p "700$i" info chorus 2>/dev/null | tr -d '\r' | sed -n 's/^role://p')
        if [ "$role" = leader ]; then leader=$i; break 2; fi
    done
    sleep 0.1
done
echo "chorus: a 3-node $PROTOCOL cluster is running (logs in data/node*.log)"
if [ -n "$leader" ]; then echo "  leader: node $leader (client port 700$leader)"; else echo "  no leader yet"; fi
cat <<TXT
  talk to any node, e.g.:
    redis-cli -p 7001 set a 1
    redis-cli -p 7002 get a
    redis-cli -p 7003 info chorus
  press Ctrl-C to stop all three.
TXT
wait
