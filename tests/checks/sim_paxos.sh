#!/usr/bin/env bash
# sim_paxos.sh — the deterministic simulator on the Multi-Paxos core: 3-node and 5-node
# clusters with every fault enabled, the protocol-neutral checks plus Paxos's own (chosen
# values unique and stable over every acceptor's disk, applied values chosen, promises never
# going backwards; src/sim/check_paxos.c). Fails unless each run exits 0 and ran every seed
# with "violations: 0", commits, elections, crashes, client operations, snapshot installs and
# every history decided (tests/checks/lib/sim.sh). Builds nothing: uses
# ${BUILD:-build}/bin/chorus-sim. Takes ~20 s on 2 cores.
# timeout: 180
set -u
cd "$(dirname "$0")/../.."
. tests/checks/lib/sim.sh
sim_run "paxos, 3 nodes" 2500 "" -- --protocol paxos --jobs 2 --nodes 3
sim_run "paxos, 5 nodes" 700 "" -- --protocol paxos --jobs 2 --start 100000 --nodes 5
exit $SIM_STATUS
