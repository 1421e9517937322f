#!/usr/bin/env bash
# node_log_bytes_bound.sh — regression check (exit 1 = the bug is back).
# With the DEFAULT --snapshot-entries (100000) and 1000-byte values, the Raft in-memory log
# reaches cn_config.log_bytes_max (64 MiB) after ~64,500 entries, before any snapshot is due
# (snapshots are triggered by entry count only, node_snapshot_maybe_take). From then on every
# write of that size is refused with "-BUSY too many pending requests" while INFO says
# pending_requests:0, and nothing ever frees the log: the node is stuck for good.
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u
NODES=1
node_start 1 || fail "start"
wait_leader >/dev/null || fail "no leader"
timeout 120 redis-benchmark -p "$(client_port 1)" -t set -d 1000 -n 70000 -r 100000 -P 16 -c 4 -q \
    >"$CLUSTER_DIR/bench.out" 2>&1
tr '\r' '\n' <"$CLUSTER_DIR/bench.out" | grep -m1 -i error
sleep 5
v=$(head -c 1000 /dev/zero | tr '\0' x)
reply=$(cli 1 set after-5s "$v")
echo "SET of 1000 bytes 5 s later: $reply"
cli 1 info | tr -d '\r' | grep -E '^(applied_index|last_index|snapshot_index|snapshots_taken|pending_requests):' | tr '\n' ' '; echo
[ "$reply" = OK ] && { echo "no stall"; exit 0; }
echo "BUG: writes refused for good (log bytes bound reached, no snapshot due)"; exit 1
