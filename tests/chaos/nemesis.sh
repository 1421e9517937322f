#!/usr/bin/env bash
# nemesis.sh — the faults of the chaos harness, each with its heal. Sourced by run.sh, which
# provides NODES, NODE_PID, node_start, node_leader, log_event and the rand helper.
#
# Each nemesis NAME has nemesis_NAME (apply) and records how to undo it in the HEAL_* globals,
# which nemesis_heal_all undoes. Targets are chosen from the seeded RANDOM in this shell (never
# inside $(...), whose RANDOM would not advance ours), so a seed names the schedule; the
# timing of the real processes around it is not reproducible.
#
#   network (iptables in the node namespaces; clients always reach every node):
#     partition-halves   a random minority cut from the majority
#     partition-one      one random node isolated
#     partition-leader   the current leader isolated (the leader of the one shard there is)
#     partition-bridge   each node sees only its ring neighbours (5 nodes); with 3, two nodes
#                        cannot see each other and the third sees both (Jepsen's bridge)
#     loss-oneway        one node stops receiving from all others (it still sends), with
#                        probability 1 or 0.5 per packet
#   process:
#     kill               SIGKILL a node (the leader half of the time), restarted at the heal
#     kill-majority      SIGKILL a majority of the nodes at once, all restarted at the heal
#     stop               SIGSTOP a node (the leader half of the time), SIGCONT at the heal
#   disk (strace attached to the running node, all threads):
#     disk-slow          every fdatasync delayed by 20-200 ms, or stalled
#                        2.5 s (half of the time), longer than the 2 s request timeout
#     disk-fail          fdatasync fails with EIO: the node must stop (exit 2, "WAL write/
#                        fdatasync failed"); restarted at the heal. A node still running after
#                        an injected EIO fails the run.
#   not yet (chorusd has neither): membership, shard-move. Their hook is nemesis_membership /
#   nemesis_shard_move below: once `chorusd` has a membership command, they add or remove a
#   node (or move a shard) during the faults; the scheduler already lists them.
set -u
NEMESES_NET="partition-halves partition-one partition-leader partition-bridge loss-oneway"
NEMESES_PROC="kill kill-majority stop"
NEMESES_DISK="disk-slow disk-fail"
NEMESES_FUTURE="membership shard-move"
NEMESES_ALL="$NEMESES_NET $NEMESES_PROC $NEMESES_DISK"

HEAL_NET=0          # 1: iptables rules to flush
HEAL_KILLED=""      # nodes to restart
HEAL_STOPPED=""     # nodes to SIGCONT
HEAL_STRACE_PID=""  # strace to detach
DISK_FAIL_NODE=""   # the node whose exit 2 is expected
declare -A FAULT_COUNT

nemesis_count() { FAULT_COUNT[$1]=$(( ${FAULT_COUNT[$1]:-0} + 1 )); FAULTS=$((FAULTS + 1)); }

# pick_node: sets T to a random node, or to the leader half of the time when $1 = leader-ok.
pick_node() {
    rand "$NODES"; T=$((R + 1))
    if [ "${1:-}" = leader-ok ]; then
        rand 2
        if [ "$R" = 0 ]; then local l; l=$(node_leader) && T=$l; fi
    fi
}

isolate() {
    local i=$1 j
    for j in $(seq 1 "$NODES"); do [ "$j" != "$i" ] && net_cut "$i" "$j"; done
    HEAL_NET=1
}

nemesis_partition_halves() {
    local order=() i j k small
    for i in $(seq 1 "$NODES"); do order+=("$i"); done
    for ((i = NODES - 1; i > 0; i--)); do rand $((i + 1)); k=${order[$i]}; order[$i]=${order[$R]}; order[$R]=$k; done
    small=$((NODES / 2))
    for ((i = 0; i < small; i++)); do
        for ((j = small; j < NODES; j++)); do net_cut "${order[$i]}" "${order[$j]}"; done
    done
    HEAL_NET=1
    log_event "partition-halves: {${order[*]:0:small}} | {${order[*]:small}}"
}

nemesis_partition_one() { pick_node; isolate "$T"; log_event "partition-one: node $T isolated"; }

nemesis_partition_leader() {
    local l
    l=$(node_leader) || { pick_node; l=$T; log_event "partition-leader: no leader known, node $l"; }
    isolate "$l"; log_event "partition-leader: node $l isolated"
}

nemesis_partition_bridge() {
    local i j d
    if [ "$NODES" -le 3 ]; then
        pick_node; local a=$(( T % NODES + 1 )) b=$(( (T + 1) % NODES + 1 ))
        net_cut "$a" "$b"; log_event "partition-bridge: node $T bridges $a and $b"
    else
        for i in $(seq 1 "$NODES"); do
            for j in $(seq $((i + 1)) "$NODES"); do
                d=$((j - i)); [ "$d" -ne 1 ] && [ "$d" -ne $((NODES - 1)) ] && net_cut "$i" "$j"
            done
        done
        log_event "partition-bridge: each node sees only its ring neighbours"
    fi
    HEAL_NET=1
}

nemesis_loss_oneway() {
    local j p=1
    pick_node leader-ok; rand 2; [ "$R" = 0 ] && p=0.5
    for j in $(seq 1 "$NODES"); do [ "$j" != "$T" ] && net_drop "$T" "$j" "$p"; done
    HEAL_NET=1
    log_event "loss-oneway: node $T drops what it receives from its peers (p=$p), still sends"
}

nemesis_kill() {
    pick_node leader-ok
    node_alive "$T" || { log_event "kill: node $T already down"; return; }
    kill -9 "${NODE_PID[$T]}"; wait "${NODE_PID[$T]}" 2>/dev/null; NODE_PID[$T]=""
    HEAL_KILLED="$HEAL_KILLED $T"; log_event "kill: SIGKILL node $T"
}

nemesis_kill_majority() {
    local order=() i k victims=""
    for i in $(seq 1 "$NODES"); do order+=("$i"); done
    for ((i = NODES - 1; i > 0; i--)); do rand $((i + 1)); k=${order[$i]}; order[$i]=${order[$R]}; order[$R]=$k; done
    for i in "${order[@]:0:$((NODES / 2 + 1))}"; do
        node_alive "$i" || continue
        kill -9 "${NODE_PID[$i]}"; wait "${NODE_PID[$i]}" 2>/dev/null; NODE_PID[$i]=""
        victims="$victims $i"
    done
    HEAL_KILLED="$HEAL_KILLED$victims"; log_event "kill-majority: SIGKILL nodes$victims"
}

nemesis_stop() {
    pick_node leader-ok
    node_alive "$T" || { log_event "stop: node $T is down"; return; }
    kill -STOP "${NODE_PID[$T]}"; HEAL_STOPPED="$HEAL_STOPPED $T"; log_event "stop: SIGSTOP node $T"
}

# strace_attach NODE INJECT: strace on every thread of the node, injecting into fdatasync.
strace_attach() {
    strace -f -qq -p "${NODE_PID[$1]}" -o "$WORK/strace.out" -e trace=fdatasync -e "inject=fdatasync:$2" &
    HEAL_STRACE_PID=$!
}

nemesis_disk_slow() {
    pick_node leader-ok
    node_alive "$T" || { log_event "disk-slow: node $T is down"; return; }
    rand 10; local us=$(( (R + 1) * 20000 ))
    rand 2; [ "$R" = 0 ] && us=2500000
    strace_attach "$T" "delay_enter=$us"; log_event "disk-slow: node $T fdatasync +$((us / 1000)) ms"
}

nemesis_disk_fail() {
    pick_node leader-ok
    node_alive "$T" || { log_event "disk-fail: node $T is down"; return; }
    DISK_FAIL_NODE=$T
    strace_attach "$T" "error=EIO"; log_event "disk-fail: node $T fdatasync -> EIO"
}

# Hooks for what chorusd cannot do yet; listed so that a schedule naming them fails loudly.
nemesis_membership() { echo "chaos: nemesis membership: chorusd has no membership change yet" >&2; return 1; }
nemesis_shard_move() { echo "chaos: nemesis shard-move: chorusd has no sharding yet" >&2; return 1; }

# nemesis_apply NAME: applies one fault and counts it.
nemesis_apply() {
    local fn="nemesis_${1//-/_}"
    "$fn" || return 1
    nemesis_count "$1"
}

nemesis_heal_all() {
    local i
    if [ -n "$HEAL_STRACE_PID" ]; then
        kill -INT "$HEAL_STRACE_PID" 2>/dev/null; wait "$HEAL_STRACE_PID" 2>/dev/null
        HEAL_STRACE_PID=""
    fi
    if [ -n "$DISK_FAIL_NODE" ] && node_alive "$DISK_FAIL_NODE" && grep -q INJECTED "$WORK/strace.out" 2>/dev/null; then
        log_event "node $DISK_FAIL_NODE KEPT RUNNING after an injected fdatasync EIO"
        CRASHED="${CRASHED}node $DISK_FAIL_NODE kept running after an injected fdatasync EIO; "
    fi
    [ "$HEAL_NET" = 1 ] && { net_heal "$NODES"; HEAL_NET=0; }
    for i in $HEAL_STOPPED; do node_alive "$i" && kill -CONT "${NODE_PID[$i]}"; done
    HEAL_STOPPED=""
    nodes_check_exits
    for i in $(seq 1 "$NODES"); do
        node_alive "$i" || { node_start "$i" || return 1; }
    done
    HEAL_KILLED=""; DISK_FAIL_NODE=""
    log_event "healed"
}
