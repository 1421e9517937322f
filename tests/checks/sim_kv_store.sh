#!/usr/bin/env bash
# sim_kv_store.sh — the simulator with the real state machine on every replica (chorus-sim
# --kv-store, src/sim/kvstore.c; issue 17, "Replication rules"): a third of the clients'
# commands are hash, list, set and sorted set commands (HSET, HINCRBY, LPUSH, the blocking
# pops' attempts, LMOVE, SPOP, SMOVE, SINTERSTORE, ZADD, ZPOPMIN, ...), the random ones
# (SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER) carrying the proposer's seed; each replica
# applies them to its own src/storage store, and at every applied index every record of the
# store (byte for byte) and every result so far must be the same on every replica that
# applied it, and again at each seed's end. Raft and Multi-Paxos, every fault, one and 4
# groups, the sim disk and the real WAL: no violation, and commands and end-of-seed
# comparisons really happened. Then the planted bug own-seed (node 2 draws its own seed for
# the random commands, as a replica that ignored the entry's would) must be caught ("state
# machine safety") in at least a fifth of the seeds (about half do).
# Builds nothing: uses ${BUILD:-build}/bin/chorus-sim. About 60 s on 2 cores under a load of
# 20 (every replica commits an LMDB txn and digests its store per entry).
# timeout: 300
set -u
cd "$(dirname "$0")/../.."
. tests/checks/lib/sim.sh
req="no_snapshots kv_commands>=100 kv_compared"
sim_run "kv store, raft, 3 nodes" 80 "$req" -- --protocol raft --jobs 2 --start 900000 \
    --kv-store
sim_run "kv store, paxos, 3 nodes" 50 "$req" -- --protocol paxos --jobs 2 --start 910000 \
    --kv-store
sim_run "kv store, raft, 5 nodes, wal" 20 "$req torn_writes" -- --protocol raft --jobs 2 \
    --start 920000 --nodes 5 --storage wal --kv-store
sim_run "kv store, raft, 4 groups" 20 "$req groups_ops>=3" -- --protocol raft --jobs 2 \
    --start 930000 --groups 4 --kv-store
sim_expect_violations "planted own-seed, raft" 30 6 "state machine safety: |kv store: " -- \
    --protocol raft --jobs 2 --start 940000 --kv-store --plant own-seed
exit $SIM_STATUS
