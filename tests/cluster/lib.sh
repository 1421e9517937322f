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
# Flags of one node only (e.g. NODE_EXTRA_FLAGS[2]="--http ... --http-dev"), after NODE_FLAGS.
declare -A NODE_EXTRA_FLAGS

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

# wait_for TIMEOUT_S COMMAND [ARGS...] — runs COMMAND every 50 ms until it succeeds; returns 0
# then, or 1 once TIMEOUT_S seconds (an integer) have passed without success. This is how the
# checks synchronise with the cluster: on a condition (an INFO field, a reply), never on a
# fixed sleep, and never without a bound. The command's own run time counts against the limit.
wait_for() {
    local timeout_s=$1; shift
    [[ $timeout_s =~ ^[0-9]+$ ]] || { echo "wait_for: bad timeout '$timeout_s'" >&2; return 1; }
    local now_us deadline_us
    now_us=${EPOCHREALTIME//[!0-9]/}
    deadline_us=$((now_us + timeout_s * 1000000))
    while :; do
        "$@" && return 0
        now_us=${EPOCHREALTIME//[!0-9]/}
        [ "$now_us" -ge "$deadline_us" ] && return 1
        sleep 0.05
    done
}

# Every node's peer address and, after the slash, its client address (CLUSTER SLOTS and
# -MOVED name the client addresses of other nodes).
cluster_spec() {
    local n=$1 spec="" i
    for i in $(seq 1 "$n"); do
        spec="$spec${spec:+,}$i=127.0.0.1:$(peer_port "$i")/127.0.0.1:$(client_port "$i")"
    done
    echo "$spec"
}

node_start() {
    local i=$1 n=${NODES:-3}
    "$CHORUSD" --id "$i" --cluster "$(cluster_spec "$n")" --protocol "$PROTOCOL" \
        --data-dir "$CLUSTER_DIR/node$i" --listen "127.0.0.1:$(client_port "$i")" \
        --peer-listen "127.0.0.1:$(peer_port "$i")" --shards "${SHARDS:-1}" ${NODE_FLAGS:-} ${NODE_EXTRA_FLAGS[$i]:-} \
        >>"$CLUSTER_DIR/node$i.log" 2>&1 &
    NODE_PID[$i]=$!
    # Stops waiting early when the process exited: it will not answer.
    wait_for "${NODE_START_TIMEOUT_S:-10}" node_started_or_exited "$i"
    node_alive "$i" && node_answers_ping "$i" && return 0
    echo "node $i did not start; its log:"; tail -20 "$CLUSTER_DIR/node$i.log"; return 1
}
node_answers_ping() { [ "$(timeout 2 redis-cli -p "$(client_port "$1")" ping 2>/dev/null)" = PONG ]; }
node_started_or_exited() { ! node_alive "$1" || node_answers_ping "$1"; }

cluster_start() {
    local n=${1:-3} i
    NODES=$n
    for i in $(seq 1 "$n"); do node_start "$i" || return 1; done
}

node_kill() { kill -9 "${NODE_PID[$1]}" 2>/dev/null; wait "${NODE_PID[$1]}" 2>/dev/null; NODE_PID[$1]=""; }
node_stop() { kill -TERM "${NODE_PID[$1]}" 2>/dev/null; wait "${NODE_PID[$1]}" 2>/dev/null; NODE_PID[$1]=""; }
node_alive() { [ -n "${NODE_PID[$1]:-}" ] && kill -0 "${NODE_PID[$1]}" 2>/dev/null; }

info_field() { cli "$1" info chorus 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
info_stat() { cli "$1" info stats 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }
# info_at_least NODE FIELD MIN — the node's INFO chorus FIELD is a number >= MIN.
info_at_least() {
    local v
    v=$(info_field "$1" "$2")
    [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge "$3" ]
}
# stat_at_least NODE FIELD MIN — the same for an INFO stats field.
stat_at_least() {
    local v
    v=$(info_stat "$1" "$2")
    [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge "$3" ]
}
# role_is_not NODE ROLE — the node answers INFO and its role is not ROLE.
role_is_not() { local r; r=$(info_field "$1" role); [ -n "$r" ] && [ "$r" != "$2" ]; }
# reply_is NODE EXPECTED COMMAND... — the command's reply on NODE is EXPECTED.
reply_is() { local node=$1 want=$2; shift 2; [ "$(cli "$node" "$@" 2>/dev/null)" = "$want" ]; }

# Prints the id of the node that says it is leader and is accepted by the others' view.
cluster_leader() {
    local i
    for i in $(seq 1 "${NODES:-3}"); do
        node_alive "$i" || continue
        [ "$(info_field "$i" role)" = leader ] && { echo "$i"; return 0; }
    done
    return 1
}

# wait_leader [TRIES] — waits for cluster_leader and prints it; TRIES counts 50 ms steps (so
# 100, the default, is 5 s; the bound is rounded up to whole seconds).
wait_leader() {
    local limit_s=$(( (${1:-100} + 19) / 20 ))
    WAIT_LEADER_ID=""
    wait_for "$limit_s" wait_leader_probe || return 1
    echo "$WAIT_LEADER_ID"
}
wait_leader_probe() { WAIT_LEADER_ID=$(cluster_leader); }

# wait_leader_other_than NODE TIMEOUT_S — waits until a node other than NODE says it is
# leader (NODE is never asked) and prints it.
wait_leader_other_than() {
    WAIT_LEADER_ID=""
    wait_for "$2" wait_leader_other_probe "$1" || return 1
    echo "$WAIT_LEADER_ID"
}
wait_leader_other_probe() { WAIT_LEADER_ID=$(leader_other_than "$1"); }

# leader_other_than NODE — prints a live node other than NODE that says it is leader; NODE is
# never asked (it may be paused with SIGSTOP: a query to it would hang until cli's timeout).
leader_other_than() {
    local i
    for i in $(seq 1 "${NODES:-3}"); do
        [ "$i" = "$1" ] && continue
        node_alive "$i" || continue
        [ "$(info_field "$i" role)" = leader ] && { echo "$i"; return 0; }
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
