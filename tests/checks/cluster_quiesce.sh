#!/usr/bin/env bash
# timeout: 180
# cluster_quiesce.sh — idle groups quiesce (src/node/quiesce.c) on real processes: 3 nodes,
# S = 64 shards, R = 3 (every node hosts every group), Raft.
#  - Idle, every group goes quiet: groups_quiet = groups_hosted on every node (waited for).
#  - Quiet costs little: over 5 s of idleness each chorusd uses at most 15% of a core
#    (/proc/PID/stat utime + stime), makes at most 200 write system calls a second and writes
#    at most 100 KB a second (/proc/PID/io syscw, wchar). A node's beat goes to each of its 2
#    peers every heartbeat (3 ticks of 10 ms): about 67 writes and 7-45 KB a second (measured
#    on 71c7b4f and d158e47). With every group ticking (the build before quiescence, 705abd0)
#    the same cluster made about 300 writes and 225 KB a second but used only 3-4% of a core:
#    at S = 64 the write counts, not the CPU, are the sharp witness of quiet groups ticking.
#  - A quiet group wakes for a client: one key written to each of the 64 shards, each within
#    10 s, read back through every node; then every group goes quiet again.
#  - A quiet group notices a lost leader: the node leading most shards is SIGKILLed while
#    everything is quiet; with no client traffic at all, the shards it led get a new leader
#    on the other nodes within 10 s (their followers wake because its beats stopped), then
#    every shard takes a write within 10 s through them. The node restarts, serves every
#    shard, the groups go quiet again, and every acknowledged key reads back through every
#    node.
#  - Awake groups' heartbeats travel coalesced (heartbeats.c): after the writes, every node
#    sent node-level heartbeat messages carrying more than one heartbeat each on average.
#  - S = 1 never quiesces (a single group keeps standalone behaviour): groups_quiet stays 0
#    on 3 nodes for 2 s of idleness, far beyond the 30 idle ticks that quiet a group; and it
#    coalesces no heartbeats (one group: nothing to coalesce).
cd "$(dirname "$0")/../.." || exit 1
# Ports 28000..31999: apart from lib.sh's default range and below the ephemeral ports.
PORT_BASE=${PORT_BASE:-$((28000 + ($$ % 200) * 20))}
. tests/cluster/lib.sh
. tests/cluster/shards_lib.sh
set -u

SHARDS=64
NODES=3
NODE_FLAGS="--replicas 3"
QUIET_BOUND_S=60
WRITABLE_BOUND_S=10
IDLE_WINDOW_S=5
CPU_PERCENT_MAX=15
SYSCW_PER_S_MAX=200
WCHAR_KB_PER_S_MAX=100
ACKED=$CLUSTER_DIR/acked.jsonl
: >"$ACKED"

# ok NAME COMMAND... — a failed check fails the test with the node logs.
ok() { local name=$1; shift; "$@" || fail "$name"; }

# all_quiet — (for wait_for) every live node hosts groups and all of them are quiet.
all_quiet() {
    local i hosted quiet
    for i in $(seq 1 "$NODES"); do
        node_alive "$i" || continue
        hosted=$(info_field "$i" groups_hosted)
        quiet=$(info_field "$i" groups_quiet)
        [[ $hosted =~ ^[1-9][0-9]*$ ]] && [ "$quiet" = "$hosted" ] || return 1
    done
}

# quiet_report — one line per live node: groups hosted, quiet and led.
quiet_report() {
    local i
    for i in $(seq 1 "$NODES"); do
        node_alive "$i" || { echo "  node $i: down"; continue; }
        echo "  node $i: groups_hosted=$(info_field "$i" groups_hosted)" \
             "groups_quiet=$(info_field "$i" groups_quiet) groups_leading=$(info_field "$i" groups_leading)"
    done
}

# wait_all_quiet WHEN — waits (bounded) until every group on every live node is quiet.
wait_all_quiet() {
    local start=$EPOCHREALTIME
    wait_for "$QUIET_BOUND_S" all_quiet ||
        { quiet_report; fail "$1: not every group quiet within $QUIET_BOUND_S s"; }
    echo "$1: every group quiet after $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
}

# io_field NODE FIELD — a counter of /proc/PID/io (syscw: write system calls).
io_field() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/${NODE_PID[$1]}/io"; }

# measure_idle — every node's CPU and write calls over IDLE_WINDOW_S of idleness (nothing is
# asked of the cluster meanwhile); fails above the bounds, or when a group woke meanwhile.
measure_idle() {
    local i hz start end cpu0=() sys0=() kb0=() cpu sys kb bad=""
    hz=$(getconf CLK_TCK)
    for i in $(seq 1 "$NODES"); do
        cpu0[$i]=$(shards_cpu_ticks "$i") || fail "no /proc stat for node $i"
        sys0[$i]=$(io_field "$i" syscw)
        kb0[$i]=$(io_field "$i" wchar)
        [ -n "${sys0[$i]}" ] && [ -n "${kb0[$i]}" ] || fail "no /proc io for node $i"
    done
    start=$EPOCHREALTIME
    # Measuring idleness takes time passing with nothing happening: this wait is the point.
    sleep "$IDLE_WINDOW_S"
    end=$EPOCHREALTIME
    for i in $(seq 1 "$NODES"); do
        cpu=$(shards_cpu_ticks "$i"); sys=$(io_field "$i" syscw); kb=$(io_field "$i" wchar)
        read -r cpu sys kb < <(awk -v c="$((cpu - cpu0[i]))" -v s="$((sys - sys0[i]))" \
            -v w="$((kb - kb0[i]))" -v hz="$hz" -v a="$start" -v b="$end" \
            'BEGIN { printf "%.1f %.0f %.0f\n", 100 * c / hz / (b - a), s / (b - a), w / 1000 / (b - a) }')
        echo "  node $i idle: ${cpu}% of a core, $sys write calls/s, $kb KB/s written" \
             "(bounds $CPU_PERCENT_MAX%, $SYSCW_PER_S_MAX/s, $WCHAR_KB_PER_S_MAX KB/s)"
        awk -v c="$cpu" -v m="$CPU_PERCENT_MAX" 'BEGIN { exit !(c > m) }' && bad="$bad node $i: CPU ${cpu}%;"
        [ "$sys" -gt "$SYSCW_PER_S_MAX" ] && bad="$bad node $i: $sys write calls/s;"
        [ "$kb" -gt "$WCHAR_KB_PER_S_MAX" ] && bad="$bad node $i: $kb KB/s written;"
    done
    [ -z "$bad" ] || fail "idle quiet cluster too busy:$bad"
    all_quiet || { quiet_report; fail "a group woke during $IDLE_WINDOW_S s of idleness"; }
}

# read_back_everywhere — every acknowledged key reads back with its value through each node.
read_back_everywhere() {
    local i
    for i in $(seq 1 "$NODES"); do
        ok "acknowledged keys read back through node $i" \
            shards_py verify --ports "$(client_port "$i")" --acked "$ACKED" --through-nodes --min "$1"
    done
}

echo "== raft: 3 nodes, S = $SHARDS, R = 3"
cluster_start "$NODES" || fail "start"
wait_for 30 shards_led_once || fail "groups_leading never added up to S = $SHARDS"
wait_all_quiet "after start"
quiet_report
measure_idle

echo "== a key in each of the $SHARDS shards wakes its group"
ok "every shard writable while quiet" shards_writable "$WRITABLE_BOUND_S" "$ACKED" quiet1
read_back_everywhere "$SHARDS"
wait_all_quiet "after the writes"
# The awake groups' heartbeats went coalesced (heartbeats.c): every node sent node-level
# heartbeat messages, each carrying more than one group's heartbeat or answer on average.
for i in $(seq 1 "$NODES"); do
    hb=$(info_stat "$i" heartbeats_coalesced); msgs=$(info_stat "$i" heartbeat_messages)
    [[ $hb =~ ^[0-9]+$ && $msgs =~ ^[0-9]+$ ]] || fail "node $i: no heartbeat counters in INFO"
    [ "$msgs" -gt 0 ] && [ "$hb" -gt "$msgs" ] ||
        fail "node $i: heartbeats not coalesced ($hb heartbeats in $msgs messages)"
    echo "node $i: $hb heartbeats and answers in $msgs messages"
done

echo "== kill -9 the busiest node while everything is quiet"
read -r victim led < <(shards_busiest) || fail "no node leads a shard"
echo "$(date +%T.%N | cut -c1-12) kill -9 node $victim (leading $led shards)"
node_kill "$victim"
# No client command until every shard has a leader again: only the missing beats can have
# woken the followers of the dead node's shards.
start=$EPOCHREALTIME
wait_for "$WRITABLE_BOUND_S" shards_led_once ||
    { quiet_report; fail "the $led shards node $victim led got no new leader within $WRITABLE_BOUND_S s without traffic"; }
echo "every shard led again after $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s, no client traffic"
quiet_report
ok "every shard writable with node $victim down" \
    shards_writable "$WRITABLE_BOUND_S" "$ACKED" "down$victim" "$victim"
node_start "$victim" || fail "restart of node $victim"
wait_for 20 shards_writable_through "$victim" 5 "$ACKED" "back$victim" ||
    fail "restarted node $victim did not serve every shard within 20 s"
wait_for 20 shards_led_once || fail "after node $victim restarted, groups_leading never added up to $SHARDS"
wait_all_quiet "after node $victim restarted"
quiet_report
read_back_everywhere $((3 * SHARDS))
for i in $(seq 1 "$NODES"); do node_alive "$i" || fail "node $i died"; done
shards_cluster_stop

echo "== S = 1: no quiescence"
SHARDS=1
cluster_start "$NODES" || fail "start with S = 1"
wait_leader >/dev/null || fail "no leader with S = 1"
ok "a write with S = 1" reply_is 1 OK set s1key v
ok "the read with S = 1" reply_is 2 v get s1key
# none_quiet — every node answers INFO with groups_hosted:1 and groups_quiet:0.
none_quiet() {
    local i
    for i in $(seq 1 "$NODES"); do
        [ "$(info_field "$i" groups_hosted)" = 1 ] && [ "$(info_field "$i" groups_quiet)" = 0 ] ||
            return 1
    done
}
# Quiet would come after 30 idle ticks (300 ms); 20 looks over 2 s must all see none.
for n in $(seq 1 20); do
    none_quiet || { quiet_report; fail "S = 1: a group went quiet (look $n)"; }
    sleep 0.1
done
echo "S = 1: groups_quiet stayed 0 on every node for 2 s of idleness"
for i in $(seq 1 "$NODES"); do
    expect_eq "$(info_stat "$i" heartbeat_messages)" 0 "S = 1: coalesced heartbeat messages on node $i"
done
quiet_report
shards_cluster_stop
echo "cluster_quiesce: ok"
