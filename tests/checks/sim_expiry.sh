#!/usr/bin/env bash
# sim_expiry.sh — the simulator's log time checks (docs/expiry.md, "What the simulator must
# prove"; src/sim/clock.c): every simulated node's wall clock drifts up to 1 % and jumps by
# up to an hour, and its leaders stamp their entries with storage/kv_logclock.c as chorusd
# does. On every apply: the state machine's log time never goes back along a replica's log,
# every replica is at the same log time after the same index, and (Raft) a leader's stamps
# never go back within its term. One operation in ten writes a key with a time to live (20 ms
# to 3 s of log time) or reads one, outside the linearizability history: no read may return a
# key whose deadline is at or before the log time of its own state, or of the state an earlier
# read of the group (completed before it began) was served from. Raft and Multi-Paxos, 3 and
# 5 nodes, every fault, and with several groups on the real WAL: no violation
# (tests/checks/lib/sim.sh). Then two planted bugs must be caught in at least a fifth of the
# seeds: --plant wall-stamp (a leader stamps its wall clock as it reads: "log time", Raft,
# about 40 % of seeds) and --plant ignore-deadline (reads return expired keys: "expiry", Raft
# and Multi-Paxos, about half).
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
sim_expect_violations "planted ignore-deadline, raft" 200 40 "expiry: " -- \
    --protocol raft --jobs 2 --start 750000 --plant ignore-deadline
sim_expect_violations "planted ignore-deadline, paxos" 200 40 "expiry: " -- \
    --protocol paxos --jobs 2 --start 760000 --plant ignore-deadline
exit $SIM_STATUS
