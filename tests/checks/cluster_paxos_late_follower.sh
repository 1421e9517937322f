#!/usr/bin/env bash
# cluster_paxos_late_follower.sh — a Multi-Paxos follower that comes back while its group is
# idle reports the leader's ballot from its leases alone, and serves writes at once.
#
# Node 3 is SIGKILLed; node 1 is SIGKILLed and restarted, so that nodes 1 and 2 elect a leader
# in a new ballot that node 3 never heard of. The group is then idle: no accept will come, only
# leases. Node 3 restarts with its old promise. A lease does not raise an acceptor's promise,
# and before the fix node 3 reported that old promise as its term; the node fences forwarded
# writes by the term in which their sender saw the leader lead (src/node/forwards.c), so every
# write sent to node 3 was refused, answered -TRYAGAIN after the 5 s request timeout, until
# some election or some write came (seconds to minutes). Now the core reports the ballot of
# the leader it follows (paxos_reported_term, not a promise): node 3 must report the leader's
# term within 3 s of starting, and a write sent to it must answer OK within 2 s.
# docs/membership.md, docs/raft-vs-paxos.md.
# timeout: 90
set -u
cd "$(dirname "$0")/../.."
PROTOCOL=paxos
. tests/cluster/lib.sh

cluster_start 3 || fail "start"
leader=$(wait_leader 200) || fail "no leader"
expect_eq "$(cli "$leader" set before 1)" OK "a write before"
wait_for 10 info_at_least 3 applied_index "$(info_field "$leader" commit_index)" ||
    fail "node 3 did not apply the first write"
old_term=$(info_field "$leader" term)
node_kill 3
node_kill 1
node_start 1 || fail "restart of node 1"
new_leader() { local l; l=$(cluster_leader) && [ "$(info_field "$l" term)" -gt "$1" ]; }
wait_for 20 new_leader "$old_term" || fail "nodes 1 and 2 elected no leader in a new ballot"
leader=$(cluster_leader)
term=$(info_field "$leader" term)
echo "leader $leader in ballot $term; node 3 restarts with its old promise"

node_start 3 || fail "restart of node 3"
knows_leader() {
    local l t
    l=$(cluster_leader) || return 1
    t=$(info_field "$l" term)
    [ "$(info_field 3 term)" = "$t" ] && [ "$(info_field 3 leader_id)" = "$l" ]
}
wait_for 3 knows_leader ||
    fail "node 3 does not follow the leader's ballot within 3 s: term $(info_field 3 term)," \
        "leader $(info_field 3 leader_id); the leader's term $(info_field "$leader" term)"
t0=${EPOCHREALTIME//[!0-9]/}
reply=$(cli 3 set late 1 2>&1)
t1=${EPOCHREALTIME//[!0-9]/}
elapsed_ms=$(( (t1 - t0) / 1000 ))
echo "SET through node 3: '$reply' in $elapsed_ms ms"
expect_eq "$reply" OK "a write sent to node 3"
[ "$elapsed_ms" -lt 2000 ] || fail "the write through node 3 took $elapsed_ms ms"
expect_eq "$(cli "$(cluster_leader)" get late)" 1 "the write read back on the leader"
echo "cluster_paxos_late_follower: PASS"
