#!/usr/bin/env bash
# storage_crash.sh — nodes writing under load are killed with SIGKILL at random points and
# restarted; nothing acknowledged may be lost.
#
#  1. Three nodes, four writers (unique keys, one request in flight each, over all three
#     nodes; every +OK recorded before the next request). CRASH_ROUNDS rounds (default 6) of:
#     SIGKILL the leader (odd rounds) or a random node (even rounds), at a random moment, then
#     restart it after a random pause; one round kills two nodes at once (quorum lost) and the
#     last round kills all three (a whole-cluster power cut). At the end every node must be up,
#     have caught up, and return every acknowledged key with its value (MGET: linearizable
#     reads), and no key whose write got -TRYAGAIN/-BUSY ("not executed") may exist.
#  2. One node (--cluster 1=...): writers on it, killed mid-load SINGLE_ROUNDS times (default
#     3) and restarted: after each restart every write acknowledged so far is present (WAL
#     recovery alone: no peer can fill a gap).
# SEED=N replays the random choices. On failure the logs and outcome files are copied to
# $BUILD/test-logs/storage_crash/ (KEEP_CLUSTER_DIR=1 keeps the data directories too).
# Every crash hits a node or cluster that acknowledged writes since the previous one (waited
# for, bounded): a round without load would check nothing.
# timeout: 300
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
. tests/cluster/storage_lib.sh
set -u

SEED=${SEED:-$$}
RANDOM=$SEED
CRASH_ROUNDS=${CRASH_ROUNDS:-6}
SINGLE_ROUNDS=${SINGLE_ROUNDS:-3}
WRITERS=${WRITERS:-6}
LOGS=$BUILD/test-logs/storage_crash
echo "seed $SEED"
command -v perl >/dev/null || { echo "FAIL: perl missing"; exit 1; }

crash_fail() {
    sl_writers_kill
    mkdir -p "$LOGS"
    (cd "$CLUSTER_DIR" && find . -name '*.log' -o -name 'acked*' -o -name 'notexec*' -o -name 'unknown*' \
        -o -name 'check*' -o -name 'writer.err' | tar -cf - -T - 2>/dev/null) | tar -xf - -C "$LOGS"
    echo "logs and outcome files copied to $LOGS (seed $SEED)"
    fail "$@"
}
now() { date +%T.%N | cut -c1-12; }
rand_sleep() { sleep "$(( $1 + RANDOM % ($2 - $1 + 1) ))e-3"; } # rand_sleep MIN_MS MAX_MS

# verify_all NODES... : every listed node returns every acknowledged key (retried a few
# times: a node that just restarted may still be catching up; a read on it waits anyway).
verify_all() {
    local dir=$1 i; shift
    for i in "$@"; do
        wait_for 10 sl_check_acked "$(client_port "$i")" "$dir/acked" "$dir/check.node$i"
        [ -s "$dir/check.node$i" ] && {
            echo "node $i: $(wc -l <"$dir/check.node$i") acknowledged writes missing or wrong, first:"
            head -5 "$dir/check.node$i"
            crash_fail "node $i lost acknowledged writes"
        }
        sl_check_absent "$(client_port "$i")" "$dir/notexec" "$dir/check.notexec.node$i" || {
            head -5 "$dir/check.notexec.node$i"
            crash_fail "node $i holds writes that were answered 'not executed'"
        }
    done
    return 0
}

# ---- 1. three nodes ---------------------------------------------------------------------
W=$CLUSTER_DIR/three
NODE_FLAGS="--request-timeout-ms 2000"
cluster_start 3 || crash_fail "start"
leader=$(wait_leader) || crash_fail "no leader elected"
sl_writers_start "$WRITERS" "$W" "$(client_port 1)" "$(client_port 2)" "$(client_port 3)"
acked=0
for r in $(seq 1 "$CRASH_ROUNDS"); do
    # Every crash hits a cluster that acknowledged writes since the previous one.
    wait_for 20 sl_acked_more_than "$W" "$acked" ||
        crash_fail "no write acknowledged in 20 s before round $r ($acked so far)"
    rand_sleep 200 1200
    if [ "$r" = "$CRASH_ROUNDS" ]; then
        victims="1 2 3"; what="the whole cluster"
    elif [ "$r" = $((CRASH_ROUNDS - 1)) ]; then
        a=$((1 + RANDOM % 3)); b=$((1 + (a + RANDOM % 2) % 3)); victims="$a $b"; what="two nodes"
    elif [ $((r % 2)) = 1 ]; then
        victims=$(wait_leader 100) || crash_fail "no leader before round $r"; what="the leader"
    else
        victims=$((1 + RANDOM % 3)); what="a random node"
    fi
    acked=$(sl_acked_count "$W")
    for v in $victims; do node_kill "$v"; done
    echo "$(now) round $r: kill -9 $what ($victims), $acked acknowledged so far"
    rand_sleep 100 800
    for v in $victims; do node_start "$v" || crash_fail "restart of node $v (round $r)"; done
    echo "$(now) round $r: restarted $victims"
done
leader=$(wait_leader 200) || crash_fail "no leader after the last round"
before=$(sl_acked_count "$W")
wait_for 20 sl_acked_more_than "$W" "$before" ||
    crash_fail "no write acknowledged in 20 s after the last restart ($before so far)"
sl_writers_stop "$W"
for i in 1 2 3; do node_alive "$i" || crash_fail "node $i is not running at the end"; done
leader=$(wait_leader 200) || crash_fail "no leader at the end"
commit=$(info_field "$leader" commit_index)
for i in 1 2 3; do sl_wait_applied "$i" "$commit" 150 || crash_fail "node $i did not catch up to $commit"; done
echo "three nodes: $(wc -l <"$W/acked") acknowledged, $(wc -l <"$W/notexec") not executed," \
     "$(wc -l <"$W/unknown") unknown; commit index $commit"
verify_all "$W" 1 2 3
echo "three nodes: every acknowledged write is on every node"

# ---- 2. one node: WAL recovery alone -----------------------------------------------------
for i in 1 2 3; do node_kill "$i"; done
mkdir -p "$CLUSTER_DIR/three-data"
mv "$CLUSTER_DIR"/node? "$CLUSTER_DIR"/node?.log "$CLUSTER_DIR/three-data/"
W=$CLUSTER_DIR/single
NODES=1
node_start 1 || crash_fail "single node start"
wait_leader 100 >/dev/null || crash_fail "single node: not leader"
sl_writers_start 3 "$W" "$(client_port 1)"
acked=0
for r in $(seq 1 "$SINGLE_ROUNDS"); do
    wait_for 20 sl_acked_more_than "$W" "$acked" ||
        crash_fail "single node: no write acknowledged in 20 s before round $r ($acked so far)"
    rand_sleep 500 1500
    node_kill 1
    acked=$(sl_acked_count "$W")
    echo "$(now) single round $r: kill -9, $acked acknowledged so far"
    cat "$W"/acked.* | sort -u >"$W/acked"
    : >"$W/notexec"
    rand_sleep 50 300
    node_start 1 || crash_fail "single node restart (round $r)"
    grep -h 'torn tail' "$CLUSTER_DIR/node1.log" | tail -1
    # Checked with the writers still running: the replies of this check are linearizable
    # reads on a node that just recovered from its WAL alone.
    sl_check_acked "$(client_port 1)" "$W/acked" "$W/check.round$r" || {
        head -5 "$W/check.round$r"
        crash_fail "single node lost $(wc -l <"$W/check.round$r") acknowledged writes (round $r)"
    }
    echo "$(now) single round $r: restarted, all $(wc -l <"$W/acked") acknowledged writes present"
done
wait_for 20 sl_acked_more_than "$W" "$acked" ||
    crash_fail "single node: no write acknowledged in 20 s after the last restart"
sl_writers_stop "$W"
grep -q . "$W/acked" || crash_fail "single node: nothing acknowledged"
verify_all "$W" 1
echo "single node: $(wc -l <"$W/acked") acknowledged, $(wc -l <"$W/unknown") unknown, all present"
# Controls: the checks must be able to fail on this very data.
{ head -1 "$W/acked" | awk '{ print $1, $2 "-changed" }'; echo "w999-1 never-written"; } >"$W/control.acked"
sl_check_acked "$(client_port 1)" "$W/control.acked" "$W/control.out" && crash_fail "control: a wrong value passed"
[ "$(wc -l <"$W/control.out")" = 2 ] || crash_fail "control: expected 2 mismatches, got: $(cat "$W/control.out")"
head -3 "$W/acked" >"$W/control.present"
sl_check_absent "$(client_port 1)" "$W/control.present" "$W/control.out2" &&
    crash_fail "control: acknowledged keys passed the absence check"
echo "controls: a wrong value, a never-written key and present keys are all detected"
echo "storage_crash: ok"
