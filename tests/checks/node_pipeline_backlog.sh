#!/usr/bin/env bash
# node_pipeline_backlog.sh — regression check (exit 1 = the bug is back).
# A client that sends a pipeline of N SETs at once and then waits gets fewer than N replies,
# forever, when the last read leaves complete commands unparsed in the node's input buffer:
#   - N = 4000: 3072 replies (client_process_input parses at most NODE_CLIENT_PIPELINE_MAX =
#     1024 commands per read callback; the rest waits for a read event that never comes);
#   - N = 5000: 4096 replies (reading is paused at NODE_CLIENT_WAITING_MAX = 4096 waiting
#     commands; node_client_flush resumes with uv_read_start but never parses what is
#     already buffered).
# INFO shows pending_requests:0 meanwhile: the commands are neither executed nor answered.
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u
NODES=1
node_start 1 || fail "start"
wait_leader >/dev/null || fail "no leader"
bad=0
total=0
for n in ${COUNTS:-1000 4000 5000}; do
    total=$((total + n))
    awk -v n="$n" 'BEGIN { for (i = 1; i <= n; i++) { k = sprintf("p%d:%d", n, i)
        printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$1\r\nv\r\n", length(k), k } }' |
        timeout 30 redis-cli -p "$(client_port 1)" --pipe --pipe-timeout 5 >"$CLUSTER_DIR/out.$n" 2>&1
    replies=$(sed -n 's/.*replies: \([0-9]*\).*/\1/p' "$CLUSTER_DIR/out.$n")
    echo "pipeline of $n SETs: ${replies:-?} replies; pending_requests $(cli 1 info stats | tr -d '\r' | sed -n 's/^pending_requests://p')"
    [ "${replies:-0}" = "$n" ] || bad=1
done
# Every reply must stand for an executed SET: the keys are distinct, so DBSIZE counts them.
keys=$(cli 1 dbsize)
echo "dbsize: $keys (want $total)"
[ "$keys" = "$total" ] || { echo "FAIL: $keys keys after $total distinct SETs"; bad=1; }
[ "$bad" = 0 ] && echo "no hang" || echo "BUG: replies missing (commands stuck unparsed in the node)"
exit "$bad"
