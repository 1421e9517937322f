#!/usr/bin/env bash
# The real-process scenarios of cluster_basic.sh, run with the Multi-Paxos core
# (--protocol paxos): reads and writes through every node, leader SIGKILL and restart (the
# per-slot WAL recovering accepted values with gaps), SIGSTOP/SIGCONT (no stale read),
# catch-up by snapshot install, redis-benchmark. cluster_basic.sh is reused as it is: it
# takes the protocol from $PROTOCOL (tests/cluster/lib.sh). Then two restart scenarios of
# its own: all nodes SIGKILLed at once, and the leader SIGKILLed in a pipelined burst.
#
# First checks that this chorusd knows the protocol: waits up to PAXOS_WAIT_S seconds
# (default 0) for a build that registers it, re-reading the binary each time.
# timeout: 480
cd "$(dirname "$0")/../.."
set -u
BUILD=${BUILD:-build}
CHORUSD=${CHORUSD:-$BUILD/bin/chorusd}
export BUILD CHORUSD

probe_dir=$(mktemp -d /tmp/chorus-paxos-probe.XXXXXX)
trap 'rm -rf "$probe_dir"' EXIT
# chorusd refuses an unregistered --protocol with "unknown --protocol" before anything else;
# the probe then stops at the invalid port 0, so it never listens. Private data dir.
paxos_known() {
    local out
    [ -x "$CHORUSD" ] || return 1
    out=$(timeout 2 "$CHORUSD" --id 1 --cluster 1=127.0.0.1:1 --protocol paxos \
        --data-dir "$probe_dir/data" --listen 127.0.0.1:0 --peer-listen 127.0.0.1:0 2>&1)
    ! echo "$out" | grep -q "unknown --protocol"
}
deadline=$(( $(date +%s) + ${PAXOS_WAIT_S:-0} ))
until paxos_known; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "FAIL: $CHORUSD does not accept --protocol paxos"
        exit 1
    fi
    sleep 5
done

PROTOCOL=paxos bash tests/checks/cluster_basic.sh || { echo "cluster_paxos: FAIL (cluster_basic)"; exit 1; }
# A concurrent workload under leader kills and pauses, checked with chorus-lincheck.
PROTOCOL=paxos bash tests/checks/cluster_lincheck.sh || { echo "cluster_paxos: FAIL (cluster_lincheck)"; exit 1; }

# Paxos-specific, on a fresh cluster: every node's accepted values come back from its
# per-slot WAL after all three are SIGKILLed at once, and writes acknowledged while the
# leader is SIGKILLed mid-burst all survive (the replies of a pipelined burst come in order:
# every line before the first non-OK was acknowledged).
(
    PROTOCOL=paxos
    . tests/cluster/lib.sh
    NODE_FLAGS="--snapshot-entries 200"
    cluster_start 3 || fail "start"
    leader=$(wait_leader) || fail "no leader"
    for k in $(seq 1 500); do echo "SET full$k $k"; done | cli_load "$leader" || fail "load full"
    for i in 1 2 3; do expect_eq "$(cli "$i" get full500)" 500 "full500 on node $i"; done
    for i in 1 2 3; do node_kill "$i"; done
    for i in 1 2 3; do node_start "$i" || fail "restart of $i"; done
    leader=$(wait_leader 200) || fail "no leader after the full restart"
    for i in 1 2 3; do for k in 1 77 200 201 499 500; do
        expect_eq "$(cli "$i" get "full$k")" "$k" "full$k on node $i after the full restart"
    done; done
    expect_eq "$(cli "$leader" dbsize)" 500 "dbsize after the full restart"

    out="$CLUSTER_DIR/burst.out"
    base=$(info_field "$leader" commit_index)
    [[ $base =~ ^[0-9]+$ ]] || fail "no commit_index from leader $leader"
    burst_n=20000
    for k in $(seq 1 "$burst_n"); do echo "SET burst$k $k"; done | cli "$leader" >"$out" 2>&1 &
    burst=$!
    # Kill mid-burst: once 1000 of its writes are committed, long before all of them are.
    wait_for 15 info_at_least "$leader" commit_index $((base + 1000)) ||
        fail "the burst did not commit 1000 writes in 15 s"
    old=$leader
    node_kill "$old"
    wait "$burst"
    acked=$(awk '$0 != "OK" { exit } { n++ } END { print n + 0 }' "$out")
    echo "burst: $acked writes acknowledged before leader $old was killed"
    [ "$acked" -gt 0 ] || fail "no write of the burst was acknowledged"
    [ "$acked" -lt "$burst_n" ] || fail "the whole burst was acknowledged: the kill was not mid-burst"
    leader=$(wait_leader 200) || fail "no new leader after killing $old"
    for k in 1 $((acked / 2)) "$acked"; do
        expect_eq "$(cli "$leader" get "burst$k")" "$k" "acknowledged burst$k after the kill"
    done
    missing=0
    # One GET per round trip: allow more than cli's 10 s for a long burst on a loaded machine.
    for k in $(seq 1 "$acked"); do echo "GET burst$k"; done |
        timeout 120 redis-cli -p "$(client_port "$leader")" >"$CLUSTER_DIR/burst.get"
    missing=$(awk -v n="$acked" '{ if ($0 != NR) m++ } END { if (NR < n) m += n - NR; print m + 0 }' \
        "$CLUSTER_DIR/burst.get")
    [ "$missing" = 0 ] || fail "$missing acknowledged burst writes lost or wrong"
    node_start "$old" || fail "restart of $old"
    wait_for 10 reply_is "$old" "$acked" get "burst$acked"
    expect_eq "$(cli "$old" get "burst$acked")" "$acked" "restarted $old has the burst"
    echo "paxos restarts: ok"
) || { echo "cluster_paxos: FAIL (restarts)"; exit 1; }
echo "cluster_paxos: ok"
