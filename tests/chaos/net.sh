#!/usr/bin/env bash
# net.sh — the chaos harness's private network: one namespace per node, one for the clients,
# and a hub namespace holding the bridge that joins them. Sourced by tests/chaos/run.sh.
#
# Every name starts with "chx<harness pid>-", so a later run can tell its own namespaces from
# those a crashed run left behind (net_reap_stale). Nothing is created in the host's namespace:
# each veth pair is made inside the hub and its far end is moved straight into its namespace.
# Addresses: 10.77.0.<node id> for nodes, 10.77.0.100 for the clients, one /24 per bridge; two
# runs at once do not collide, since each has its own bridge in its own hub.
#
# Faults are iptables rules in the INPUT chain of a node's namespace, matching only node
# addresses: the clients always reach every node (as in Jepsen, the partitions are between
# replicas). net_heal flushes every node's INPUT chain.
set -u
CHX_TAG=${CHX_TAG:-chx$$}
CHX_SUBNET=10.77.0
CHX_CLIENT_IP=$CHX_SUBNET.100
CHX_CLIENT_PORT=7000
CHX_PEER_PORT=8000

net_ns() { echo "$CHX_TAG-$1"; }          # net_ns hub | cl | n3
node_ip() { echo "$CHX_SUBNET.$1"; }
in_node() { local i=$1; shift; ip netns exec "$(net_ns "n$i")" "$@"; }
in_clients() { ip netns exec "$(net_ns cl)" "$@"; }

# Removes the namespaces (and kills their processes) of harness runs that are no longer alive.
net_reap_stale() {
    local ns owner pid
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^chx[0-9]+-' || true); do
        owner=${ns%%-*}; owner=${owner#chx}
        [ "$owner" = "$$" ] && continue
        if kill -0 "$owner" 2>/dev/null && grep -q chaos "/proc/$owner/cmdline" 2>/dev/null; then
            continue
        fi
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -CONT "$pid" 2>/dev/null; kill -9 "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null && echo "removed stale namespace $ns"
    done
}

# net_attach NAME IP: a namespace with lo up and eth0 (IP/24) on the hub's bridge.
net_attach() {
    local name=$1 addr=$2 ns hub
    ns=$(net_ns "$name"); hub=$(net_ns hub)
    ip netns add "$ns" || return 1
    ip -n "$hub" link add "v-$name" type veth peer name eth0 netns "$ns" || return 1
    ip -n "$hub" link set "v-$name" master br0 up || return 1
    ip -n "$ns" addr add "$addr/24" dev eth0 || return 1
    ip -n "$ns" link set eth0 up || return 1
    ip -n "$ns" link set lo up
}

# net_create N: the hub with its bridge, N node namespaces and the clients' namespace.
net_create() {
    local n=$1 i hub
    hub=$(net_ns hub)
    ip netns add "$hub" || return 1
    ip -n "$hub" link set lo up
    ip -n "$hub" link add br0 type bridge || return 1
    ip -n "$hub" link set br0 up || return 1
    for i in $(seq 1 "$n"); do net_attach "n$i" "$(node_ip "$i")" || return 1; done
    net_attach cl "$CHX_CLIENT_IP"
}

# Kills whatever still runs inside this run's namespaces and deletes them.
net_destroy() {
    local ns pid
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$CHX_TAG-" || true); do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -CONT "$pid" 2>/dev/null; kill -9 "$pid" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
    done
}

# net_drop TO FROM [PROBABILITY]: node TO stops receiving packets from node FROM (one way).
net_drop() {
    local to=$1 from=$2 p=${3:-1}
    if [ "$p" = 1 ]; then
        in_node "$to" iptables -A INPUT -s "$(node_ip "$from")" -j DROP
    else
        in_node "$to" iptables -A INPUT -s "$(node_ip "$from")" -m statistic --mode random \
            --probability "$p" -j DROP
    fi
}
# net_cut A B: no packet between nodes A and B in either direction.
net_cut() { net_drop "$1" "$2"; net_drop "$2" "$1"; }
net_heal() { local i; for i in $(seq 1 "$1"); do in_node "$i" iptables -F INPUT; done; }
