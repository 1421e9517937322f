#!/usr/bin/env bash
# node_log_bytes_bound.sh — regression check (exit 1 = the bug is back).
# With the DEFAULT --snapshot-entries (100000) and 1000-byte values, the Raft in-memory log
# reaches cn_config.log_bytes_max (64 MiB) after ~64,500 entries, before any snapshot is due
# (snapshots are triggered by entry count only, node_snapshot_maybe_take). From then on every
# write of that size is refused with "-BUSY too many pending requests" while INFO says
# pending_requests:0, and nothing ever frees the log: the node is stuck for good.
# The check fails too when what it exists to exercise did not happen: redis-benchmark missing,
# timed out or erring, fewer than 70,000 entries applied, or no snapshot taken (with fewer
# entries than --snapshot-entries, only the log's byte bound can have taken one).
# timeout: 300
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u
WRITES=70000
command -v redis-benchmark >/dev/null || fail "redis-benchmark is not installed (make deps: redis-tools)"
NODES=1
node_start 1 || fail "start"
wait_leader >/dev/null || fail "no leader"
timeout 180 redis-benchmark -p "$(client_port 1)" -t set -d 1000 -n "$WRITES" -r 100000 -P 16 -c 4 -q \
    >"$CLUSTER_DIR/bench.out" 2>&1; rc=$?
tr '\r' '\n' <"$CLUSTER_DIR/bench.out" | grep -v -e 'rps=' -e '^ *$' | tail -3
[ "$rc" = 0 ] || fail "redis-benchmark exited $rc (124: timed out): the load did not run to its end"
tr '\r' '\n' <"$CLUSTER_DIR/bench.out" | grep -qi error && fail "redis-benchmark reported errors"
grep -Eq 'SET: [0-9.]+ requests per second' "$CLUSTER_DIR/bench.out" || fail "redis-benchmark printed no SET result"
cli 1 info | tr -d '\r' | grep -E '^(applied_index|last_index|snapshot_index|snapshots_taken|pending_requests):' | tr '\n' ' '; echo
applied=$(info_field 1 applied_index)
[ "${applied:-0}" -ge "$WRITES" ] || fail "only ${applied:-0} entries applied, fewer than the $WRITES writes of the load"
taken=$(info_stat 1 snapshots_taken)
[ "${taken:-0}" -ge 1 ] || fail "no snapshot taken: the log's byte bound was never reached"
# The bug refused such writes for good; fixed, one succeeds at once (retried for 10 s).
v=$(head -c 1000 /dev/zero | tr '\0' x)
if wait_for 10 reply_is 1 OK set after-load "$v"; then echo "no stall: a 1000-byte SET after the load is acknowledged"; exit 0; fi
echo "last reply: $(cli 1 set after-load "$v" 2>&1 | head -c 200)"
echo "BUG: writes refused for good (log bytes bound reached, no snapshot due)"; exit 1
