#!/usr/bin/env bash
# sim_expiry.sh — the simulator's log time checks (docs/expiry.md, "What the simulator must
# prove"; src/sim/clock.c): every simulated node's wall clock drifts up to 1 % and jumps by
# up to an hour, and its leaders stamp their entries with storage/kv_logclock.c as chorusd
# does. On every apply: the state machine's log time never goes back along a replica's log,
# every replica is at the same log time after the same index, and (Raft) a leader's stamps
# never go back within its term. Raft and Multi-Paxos, 3 and 5 nodes, every fault, and with
# several groups on the real WAL: no violation (tests/checks/lib/sim.sh). Then the planted
# bug (--plant wall-stamp: a leader stamps its wall clock as it reads) must be caught, as a
# "log time" violation, in at least a fifth of the seeds (Raft; about 40 % do).
# Builds nothing: uses ${BUILD:-build}/bin/chorus-sim. Takes ~15 s on 2 cores.
# timeout: 240
set -u
cd "$(dirname "$0")/../.."
. tests/checks/lib/sim.sh
sim_run "log time, raft, 3 nodes" 1000 "" -- --protocol raft --jobs 2 --start 700000 --nodes 3
sim_run "log time, raft, 5 nodes" 300 "" -- --protocol raft --jobs 2 --start 710000 --nodes 5
sim_run "log time, paxos, 3 nodes" 1000 "" -- --protocol paxos --jobs 2 --start 720000 --nodes 3
sim_run "log time, raft, 4 groups, wal" 200 "torn_writes" -- --protocol raft --jobs 2 \
    --start 730000 --groups 4 --storage wal
sim_expect_violations "planted wall-stamp, raft" 200 40 "log time: " -- \
    --protocol raft --jobs 2 --start 740000 --plant wall-stamp
exit $SIM_STATUS
