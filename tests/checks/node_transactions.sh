#!/usr/bin/env bash
# node_transactions.sh — redis-py pipelines and MULTI/EXEC/WATCH transactions against a
# 3-node cluster (leader and follower), Raft and Multi-Paxos (tests/cluster/transactions.py).
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u
/usr/bin/python3 -c 'import redis' || fail "python3-redis missing (make deps installs it)"
status=0
for protocol in raft paxos; do
    PROTOCOL=$protocol
    cluster_start 3 || fail "start ($protocol)"
    leader=$(wait_leader 200) || fail "no leader ($protocol)"
    follower=$(( leader % 3 + 1 ))
    echo "== $protocol: leader $leader, follower $follower"
    timeout 240 /usr/bin/python3 tests/cluster/transactions.py "$(client_port "$leader")" \
        "$(client_port "$follower")" || status=1
    for i in 1 2 3; do node_stop "$i"; done
    rm -rf "$CLUSTER_DIR"/node*
done
exit "$status"
