#!/usr/bin/env bash
# sim_groups.sh — the deterministic simulator with many consensus groups on shared nodes
# (chorus-sim --groups, docs/sharding.md "Many groups on one node", step 4): every node hosts a
# replica of each of 4 groups (16 on 5 nodes in one run), their updates persisted in one batch
# with one sync per node, the clients' keys spread over the groups by slot and shard; every
# invariant checked per group, the history over keys of every group checked for
# linearizability. Raft and Multi-Paxos with every fault, and both on the real WAL shared by
# the groups (records tagged by group, Multi-Paxos's per slot, torn at crashes, every group
# recovered from it).
# Fails unless each run exits 0 and ran every seed with "violations: 0", commits, elections,
# crashes, client operations, snapshot installs, every history decided
# (tests/checks/lib/sim.sh), and client operations returned and writes committed in nearly
# every group (on average at least 3.5 of 4 per seed; 5 of 16, which 7 keys reach at most),
# and heartbeats coalesced as the node does (src/consensus/beats.h: one message per node pair
# per event carries every group's heartbeats and answers; records and messages both counted).
# Then two planted bugs (--plant) must be caught: a node applying one group's entries to
# another group's state machine (every seed: "state machine safety"), and a group's update
# acknowledged before the batch's shared sync (storage wal: "wal recovery" after a crash).
# Builds nothing: uses ${BUILD:-build}/bin/chorus-sim. Takes ~25 s on 2 cores (about
# 30 s of CPU).
# timeout: 240
set -u
cd "$(dirname "$0")/../.."
. tests/checks/lib/sim.sh
sim_run "groups, raft" 800 "groups_ops>=3.5 groups_writes>=3.5 beat_records beat_messages" -- \
    --protocol raft --jobs 2 --start 300000 --nodes 3 --groups 4
sim_run "groups, paxos" 800 "groups_ops>=3.5 groups_writes>=3.5 beat_records beat_messages" -- \
    --protocol paxos --jobs 2 --start 300000 --nodes 3 --groups 4
sim_run "groups, raft, 5 nodes, 16 groups" 150 "groups_ops>=5 groups_writes>=5 beat_records beat_messages" -- \
    --protocol raft --jobs 2 --start 310000 --nodes 5 --groups 16
sim_run "groups, paxos, 5 nodes, 16 groups" 150 "groups_ops>=5 groups_writes>=5 beat_records beat_messages" -- \
    --protocol paxos --jobs 2 --start 310000 --nodes 5 --groups 16
sim_run "groups, raft, wal" 600 "torn_writes torn_tails groups_ops>=3.5 groups_writes>=3.5 beat_records beat_messages" -- \
    --protocol raft --storage wal --jobs 2 --start 320000 --nodes 3 --groups 4
sim_run "groups, paxos, wal" 400 "torn_writes torn_tails groups_ops>=3.5 groups_writes>=3.5 beat_records beat_messages" -- \
    --protocol paxos --storage wal --jobs 2 --start 320000 --nodes 3 --groups 4
sim_run "paxos, wal, one group" 300 "torn_writes torn_tails" -- \
    --protocol paxos --storage wal --jobs 2 --start 325000 --nodes 3
# Node 1 applies group 1's entries to group 0's state machine: both groups' replicas then
# differ, and either group's check may see it first.
sim_expect_violations "planted cross-apply, raft" 30 all "state machine safety: group [01]:" -- \
    --protocol raft --jobs 2 --start 330000 --groups 4 --plant cross-apply
sim_expect_violations "planted cross-apply, paxos" 30 all "state machine safety: group [01]:" -- \
    --protocol paxos --jobs 2 --start 330000 --groups 4 --plant cross-apply
sim_expect_violations "planted early-ack, raft, wal" 200 5 "wal recovery: group [0-9]+:" -- \
    --protocol raft --storage wal --jobs 2 --start 340000 --groups 4 --plant early-ack
sim_expect_violations "planted early-ack, paxos, wal" 200 5 "wal recovery: group [0-9]+:" -- \
    --protocol paxos --storage wal --jobs 2 --start 340000 --groups 4 --plant early-ack
exit $SIM_STATUS
