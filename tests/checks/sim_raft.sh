#!/usr/bin/env bash
# sim_raft.sh — the deterministic simulator on the Raft core: 3-node and 5-node clusters with
# every fault enabled. Fails unless each run exits 0 and ran every seed with "violations: 0",
# commits, elections, crashes, client operations, snapshot installs and every history decided
# (tests/checks/lib/sim.sh). Builds nothing: uses ${BUILD:-build}/bin/chorus-sim.
# Takes ~10-20 s on 2 cores.
# timeout: 180
set -u
cd "$(dirname "$0")/../.."
. tests/checks/lib/sim.sh
sim_run "raft, 3 nodes" 2000 "" -- --protocol raft --jobs 2 --nodes 3
sim_run "raft, 5 nodes" 1000 "" -- --protocol raft --jobs 2 --start 100000 --nodes 5
exit $SIM_STATUS
