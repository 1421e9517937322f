#!/usr/bin/env bash
# sim_membership.sh — the deterministic simulator on both cores with membership changes
# (chorus-sim --membership, src/sim/membership.c): every group starts with nodes 1-3 as its
# voters, and while every fault runs its leaders are asked at random to add learners, promote
# them, demote, remove and replace voters (joint consensus, Raft §6). Elections must hold
# granted votes of a majority of each half of the leader's configuration, commits must be on
# the disks of a majority of each half of the configuration they were made under, one leader
# per term across configurations, and every other simulator check holds. Fails unless each run
# exits 0 with "violations: 0", and shows on average at least one accepted change and two
# committed configuration entries per seed besides what every simulator check requires
# (tests/checks/lib/sim.sh). 3,000 seeds of 5 nodes, 2,000 of 3 nodes, 400 with the WAL over
# the tearing file system, 200 of 4 groups. Then Multi-Paxos (Lamport's alpha window, alpha =
# 8, src/paxos/membership.c): every value a node applies must be on the disks of a majority of
# the voters of the configuration governing its slot (removed members and learners never
# count), with every other simulator check; 1,500 seeds of 5 nodes, 1,000 of 3 nodes (fewer
# changes apply to three: at least 1.5 committed per seed), 200 with the WAL, 150 of 4 groups;
# then the regression seeds 1001926 (5 nodes) and 2003895 (3 nodes), each alone.
# Builds nothing: uses ${BUILD:-build}/bin/chorus-sim. Takes ~15 s (Raft) + ~20 s (Multi-Paxos)
# on 2 cores.
# timeout: 400
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
sim_run "paxos membership, 5 nodes" 1500 "$need" -- --protocol paxos --jobs 2 --nodes 5 \
    --membership --start 700000
sim_run "paxos membership, 3 nodes" 1000 "membership_changes>=1 membership_committed>=1.5" -- \
    --protocol paxos --jobs 2 --nodes 3 --membership --start 800000
sim_run "paxos membership, 5 nodes, wal" 200 "$need torn_writes" -- --protocol paxos --jobs 2 \
    --nodes 5 --membership --storage wal --start 900000
sim_run "paxos membership, 5 nodes, 4 groups" 150 "$need groups_ops>=3.5" -- --protocol paxos \
    --jobs 2 --nodes 5 --membership --groups 4 --start 1100000
# Regression seeds of Multi-Paxos liveness, each run alone (they must exit 0 with no
# violation; the batch requirements above, snapshots installed among them, need not hold for
# one seed): 1001926 of 5 nodes (new voters that learned nothing did not hear the old
# leader's catch-up requests), 2003895 of 3 nodes (a removed node that lagged kept the
# voters' timers reset with its prepares). docs/membership.md.
sim_seed_passes() {
    local label=$1 out rc; shift
    out=$("$SIM" --seeds 1 "$@" 2>&1); rc=$?
    echo "chorus-sim --seeds 1 $*:"
    printf '%s\n' "$out" | grep -E '^seed [0-9]+: VIOLATION|^  replay:' | head -n 5
    printf '  %s\n' "$(printf '%s\n' "$out" | tail -n 1)"
    if [ "$rc" != 0 ] || ! printf '%s\n' "$out" | tail -n 1 | grep -q '^seeds: 1, violations: 0,'; then
        echo "$label: FAIL"; SIM_STATUS=1
    fi
}
sim_seed_passes "paxos membership, seed 1001926" --protocol paxos --nodes 5 --membership \
    --start 1001926
sim_seed_passes "paxos membership, seed 2003895" --protocol paxos --nodes 3 --membership \
    --start 2003895
exit $SIM_STATUS
