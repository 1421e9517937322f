#!/usr/bin/env bash
# shards_lib.sh — helpers for sharded clusters (--shards S > 1), on top of lib.sh (source lib.sh
# first). The decisions (slots, shard ranges, which key is in which shard) are made by
# tests/cluster/shards_client.py, independently of the server; these functions run it against
# the live nodes. Every call is bounded in time.
set -u
SHARDS_PYTHON=/usr/bin/python3
SHARDS_CLIENT=tests/cluster/shards_client.py

# shards_py SUBCOMMAND ARGS... — runs shards_client.py with --shards $SHARDS, bounded by
# SHARDS_PY_TIMEOUT_S (default 120 s).
shards_py() {
    local sub=$1; shift
    timeout "${SHARDS_PY_TIMEOUT_S:-120}" "$SHARDS_PYTHON" "$SHARDS_CLIENT" "$sub" \
        --shards "${SHARDS:-1}" "$@"
}

# shards_ports [EXCEPT] — the client ports of the live nodes, comma separated, leaving out node
# EXCEPT (which may be stopped: it is never asked).
shards_ports() {
    local i out=""
    for i in $(seq 1 "${NODES:-3}"); do
        [ "$i" = "${1:-}" ] && continue
        node_alive "$i" || continue
        out="$out${out:+,}$(client_port "$i")"
    done
    echo "$out"
}

# shards_node_of_port PORT — the node id whose client port is PORT.
shards_node_of_port() { echo $(($1 - PORT_BASE)); }

# shards_writable TIMEOUT_S ACKED PREFIX [EXCEPT] — every shard takes a SET through the live
# nodes but EXCEPT within TIMEOUT_S; the acknowledged ones are appended to ACKED. Prints the
# slowest shard's time. Returns non-zero when some shard took none.
shards_writable() {
    shards_py write-all --ports "$(shards_ports "${4:-}")" --timeout-s "$1" --acked "$2" \
        --prefix "$3"
}

# shards_writable_through NODE TIMEOUT_S ACKED PREFIX — the same, through NODE alone.
shards_writable_through() {
    shards_py write-all --ports "$(client_port "$1")" --timeout-s "$2" --acked "$3" \
        --prefix "$4" --quiet
}

# shards_led_once — (quiet, for wait_for) every shard has exactly one leader among the live
# nodes: INFO chorus groups_leading summed over them is S.
shards_led_once() { shards_py leading-is --ports "$(shards_ports)" >/dev/null 2>&1; }

# shards_nodes_agree — (quiet, for wait_for) CLUSTER NODES is the same text on every live node
# apart from "myself,".
shards_nodes_agree() { shards_py nodes-same --ports "$(shards_ports)" >/dev/null 2>&1; }

# shards_busiest — prints "NODE COUNT": the live node leading the most shards, and how many.
shards_busiest() {
    local line port
    line=$(shards_py busiest --ports "$(shards_ports)") || return 1
    port=${line%% *}
    echo "$(shards_node_of_port "$port") ${line#* }"
}

# shards_cluster_stop — stops every node (SIGTERM) and forgets their data: the next
# cluster_start begins a fresh cluster (S may differ then).
shards_cluster_stop() {
    local i
    for i in $(seq 1 "${NODES:-3}"); do node_alive "$i" && node_stop "$i"; done
    rm -rf "${CLUSTER_DIR:?}"/node*
}

# shards_rss_kib NODE — the node's resident memory in KiB (/proc/PID/status).
shards_rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/${NODE_PID[$1]}/status"; }

# shards_cpu_ticks NODE — user + system CPU time of the node so far, in clock ticks
# (/proc/PID/stat fields 14 and 15, counted after the parenthesised command name).
shards_cpu_ticks() {
    local stat
    stat=$(cat "/proc/${NODE_PID[$1]}/stat") || return 1
    stat=${stat##*) }
    # After "pid (comm) ", field 3 is the state: utime and stime are fields 14 and 15 overall.
    echo "$stat" | awk '{print $12 + $13}'
}
