#!/usr/bin/env bash
# lib.sh — start, stop, kill and query local chorusd clusters for the real-process tests.
# Every process listens on 127.0.0.1 only; everything lives under a temporary directory
# that cluster_cleanup removes (it runs on exit).
set -u
BUILD=${BUILD:-build}
CHORUSD=${CHORUSD:-$BUILD/bin/chorusd}
PORT_BASE=${PORT_BASE:-$((20000 + ($$ % 400) * 20))}
PROTOCOL=${PROTOCOL:-raft}
CLUSTER_DIR=$(mktemp -d /tmp/chorus-cluster.XXXXXX)
declare -A NODE_PID

client_port() { echo $((PORT_BASE + $1)); }
peer_port() { echo $((PORT_BASE + 10 + $1)); }
cli() { local node=$1; shift; timeout 10 redis-cli -p "$(client_port "$node")" "$@"; }
# Bulk load: commands on stdin, one per line, sent pipelined (redis-cli --pipe); fails unless
# every one got a reply without error. A plain `cli` sends one command per round trip, and
# its 10 s timeout could cut a long load short on a loaded machine.
cli_load() {
    local out
    out=$(sed 's/$/\r/' | timeout 120 redis-cli -p "$(client_port "$1")" --pipe 2>&1)
    case $out in *"errors: 0,"*) return 0 ;; esac
    echo "bulk load on node $1 failed: $out"; return 1
}

cluster_spec() {
    local n=$1 spec="" i
    for i in $(seq 1 "$n"); do spec="$spec${spec:+,}$i=127.0.0.1:$(peer_port "$i")"; done
    echo "$spec"
}

node_start() {
    local i=$1 n=${NODES:-3}
    "$CHORUSD" --id "$i" --cluster "$(cluster_spec "$n")" --protocol "$PROTOCOL" \
        --data-dir "$CLUSTER_DIR/node$i" --listen "127.0.0.1:$(client_port "$i")" \
        --peer-listen "127.0.0.1:$(peer_port "$i")" ${NODE_FLAGS:-} \
        >>"$CLUSTER_DIR/node$i.log" 2>&1 &
    NODE_PID[$i]=$!
    local t
    for t in $(seq 1 100); do
        cli "$i" ping >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    echo "node $i did not start; its log:"; tail -20 "$CLUSTER_DIR/node$i.log"; return 1
}

cluster_start() {
    local n=${1:-3} i
    NODES=$n
    for i in $(seq 1 "$n"); do node_start "$i" || return 1; done
}

node_kill() { kill -9 "${NODE_PID[$1]}" 2>/dev/null; wait "${NODE_PID[$1]}" 2>/dev/null; NODE_PID[$1]=""; }
node_stop() { kill -TERM "${NODE_PID[$1]}" 2>/dev/null; wait "${NODE_PID[$1]}" 2>/dev/null; NODE_PID[$1]=""; }
node_alive() { [ -n "${NODE_PID[$1]:-}" ] && kill -0 "${NODE_PID[$1]}" 2>/dev/null; }

info_field() { cli "$1" info chorus 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }

# Prints the id of the node that says it is leader and is accepted by the others' view.
cluster_leader() {
    local i
    for i in $(seq 1 "${NODES:-3}"); do
        node_alive "$i" || continue
        [ "$(info_field "$i" role)" = leader ] && { echo "$i"; return 0; }
    done
    return 1
}

wait_leader() {
    local t leader
    for t in $(seq 1 "${1:-100}"); do
        leader=$(cluster_leader) && { echo "$leader"; return 0; }
        sleep 0.05
    done
    return 1
}

cluster_cleanup() {
    local i
    for i in "${!NODE_PID[@]}"; do
        [ -n "${NODE_PID[$i]}" ] && kill -9 "${NODE_PID[$i]}" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "${KEEP_CLUSTER_DIR:-0}" = 1 ]; then echo "kept $CLUSTER_DIR"; else rm -rf "$CLUSTER_DIR"; fi
}
trap cluster_cleanup EXIT

fail() { echo "FAIL: $*"; for f in "$CLUSTER_DIR"/node*.log; do echo "== $f"; tail -15 "$f"; done; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
