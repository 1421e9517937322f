#!/usr/bin/env bash
# chaos_short.sh — the short seeded chaos run of `make test`: tests/chaos/run.sh for 25 s on a
# 3-node cluster, once with Raft and once with Multi-Paxos (about a minute each), every nemesis
# enabled, a network fault combined with a process or disk fault. Fails when either run fails
# (a history that is not linearizable, a pipeline reply out of order, a node that crashed on its
# own, a node that cannot serve reads after the heal, too little progress, no fault applied, or
# a control that chorus-lincheck did not reject). A failed run's history and logs are kept in
# $BUILD/chaos/failed/. CHAOS_SEED and CHAOS_SECONDS change the seed (default 1) and length.
# timeout: 600
cd "$(dirname "$0")/../.."
set -u
BUILD=${BUILD:-build}
export BUILD
SEED=${CHAOS_SEED:-1}
SECONDS_RUN=${CHAOS_SECONDS:-25}
[ "$(id -u)" = 0 ] || { echo "FAIL: the chaos run needs root (network namespaces)"; exit 1; }
rc=0
for protocol in raft paxos; do
    timeout -s INT $((SECONDS_RUN + 240)) bash tests/chaos/run.sh --protocol "$protocol" --nodes 3 \
        --seed "$SEED" --seconds "$SECONDS_RUN" --nemesis all || { rc=1; echo "FAIL: chaos $protocol seed $SEED"; }
done
[ "$rc" = 0 ] && echo "chaos_short: ok"
exit "$rc"
