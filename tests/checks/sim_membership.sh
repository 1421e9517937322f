#!/usr/bin/env bash
# sim_membership.sh — the deterministic simulator on the Raft core with membership changes
# (chorus-sim --membership, src/sim/membership.c): every group starts with nodes 1-3 as its
# voters, and while every fault runs its leaders are asked at random to add learners, promote
# them, demote, remove and replace voters (joint consensus, Raft §6). Elections must hold
# granted votes of a majority of each half of the leader's configuration, commits must be on
# the disks of a majority of each half of the configuration they were made under, one leader
# per term across configurations, and every other simulator check holds. Fails unless each run
# exits 0 with "violations: 0", and shows on average at least one accepted change and two
# committed configuration entries per seed besides what every simulator check requires
# (tests/checks/lib/sim.sh). 3,000 seeds of 5 nodes, 2,000 of 3 nodes, 400 with the WAL over
# the tearing file system, 200 of 4 groups. Builds nothing: uses ${BUILD:-build}/bin/chorus-sim.
# Takes ~10-15 s on 2 cores.
# timeout: 240
set -u
cd "$(dirname "$0")/../.."
. tests/checks/lib/sim.sh
need="membership_changes>=1 membership_committed>=2"
sim_run "raft membership, 5 nodes" 3000 "$need" -- --protocol raft --jobs 2 --nodes 5 \
    --membership --start 300000
sim_run "raft membership, 3 nodes" 2000 "$need" -- --protocol raft --jobs 2 --nodes 3 \
    --membership --start 400000
sim_run "raft membership, 5 nodes, wal" 400 "$need torn_writes" -- --protocol raft --jobs 2 \
    --nodes 5 --membership --storage wal --start 500000
sim_run "raft membership, 5 nodes, 4 groups" 200 "$need groups_ops>=3.5" -- --protocol raft \
    --jobs 2 --nodes 5 --membership --groups 4 --start 600000
exit $SIM_STATUS
