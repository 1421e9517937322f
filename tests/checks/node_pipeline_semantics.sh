#!/usr/bin/env bash
# node_pipeline_semantics.sh — regression tests for the connection bugs of issue 15, on a
# 3-node cluster, for Raft and for Multi-Paxos, against the leader and a follower:
# SIGPIPE on a reset client, pipelined commands taking effect out of order, follower reads
# beyond 256 stalling, large reads starving heartbeats, reply and input bounds closing
# connections, QUIT dropping earlier replies (tests/cluster/pipeline_semantics.py).
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || fail "no $PYTHON"
status=0
for protocol in raft paxos; do
    PROTOCOL=$protocol
    cluster_start 3 || fail "start ($protocol)"
    leader=$(wait_leader 200) || fail "no leader ($protocol)"
    follower=$(( leader % 3 + 1 ))
    echo "== $protocol: leader $leader, follower $follower"
    timeout 300 "$PYTHON" tests/cluster/pipeline_semantics.py "$(client_port "$leader")" \
        "$(client_port "$follower")" "$(client_port 1),$(client_port 2),$(client_port 3)" ||
        status=1
    for i in 1 2 3; do
        node_alive "$i" || { echo "node $i died; its log:"; tail -20 "$CLUSTER_DIR/node$i.log"; status=1; }
    done
    for i in 1 2 3; do node_stop "$i"; done
    rm -rf "$CLUSTER_DIR"/node*
done
exit "$status"
