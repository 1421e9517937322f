#!/usr/bin/env bash
# cluster_topology_membership.sh on Multi-Paxos (--protocol paxos) with S = 8: membership
# change of a sharded cluster, each shard replica moved by its group's reconfiguration
# (Lamport's alpha window, default alpha 1024: src/paxos/membership.c) behind the same
# rebalancer steps as Raft (src/node/rebalance.c; docs/membership.md, "The rebalancer"). Under
# a client load recorded for chorus-lincheck: grow 3 -> 4 (node 4 joins with --join, is added
# with `chorus cluster add`, is SIGKILLed after creating its first replica and restarted), the
# moves end with every node hosting exactly the replicas the topology lists and no directory
# left of a replica that moved off; then shrink 4 -> 3 removing node 1 (a shard leader): its
# replicas move off, it is removed and holds no replica data. The history is linearizable and
# every acknowledged marker and a sample of the bulk keys are readable through every member.
# A smaller bulk load (1,500 keys) than the Raft run. Waits on conditions throughout.
# timeout: 300
cd "$(dirname "$0")/../.."
PROTOCOL=paxos SHARDS=${SHARDS:-8} BULK_KEYS=${BULK_KEYS:-1500} BENCH_SECONDS=${BENCH_SECONDS:-120} \
    exec bash tests/checks/cluster_topology_membership.sh
