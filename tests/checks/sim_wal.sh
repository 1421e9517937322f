#!/usr/bin/env bash
# sim_wal.sh — the deterministic simulator on the Raft core with storage "wal": every node
# persists through the real WAL over a simulated file system whose unsynced writes are lost,
# kept or torn at a crash (src/sim/simfs.h, src/sim/disk_wal.c); a crashed node is restored
# from what its WAL recovers, which must be the acknowledged state plus a prefix of the batch
# in flight. 3-node and 5-node clusters, every fault enabled. Fails unless each run exits 0
# and ran every seed with "violations: 0", commits, elections, crashes, client operations,
# snapshot installs, every history decided (tests/checks/lib/sim.sh), and torn writes and
# truncated torn tails actually happened. Builds nothing: uses ${BUILD:-build}/bin/chorus-sim.
# Takes ~20-40 s on 2 cores.
# timeout: 240
set -u
cd "$(dirname "$0")/../.."
. tests/checks/lib/sim.sh
sim_run "wal, 3 nodes" 3000 "torn_writes torn_tails" -- --protocol raft --storage wal --jobs 2 --nodes 3
sim_run "wal, 5 nodes" 1000 "torn_writes torn_tails" -- --protocol raft --storage wal --jobs 2 \
    --start 200000 --nodes 5
exit $SIM_STATUS
