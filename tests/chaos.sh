#!/usr/bin/env bash
# chaos.sh — `make chaos`: the long chaos matrix on real chorusd processes (tests/chaos/run.sh),
# as root. For each protocol and cluster size, CHAOS_SEEDS runs of CHAOS_SECONDS with every
# nemesis, a network fault combined with a process or disk fault; then, on 3 nodes, each nemesis
# alone for CHAOS_ALONE_SECONDS. Writes the table of results, with date and commit, to
# $BUILD/chaos/results.md (paste it into docs/testing.md after a release run); a failed run's
# history, logs and schedule are kept under $BUILD/chaos/failed/ for replay.
#
#   CHAOS_SECONDS (120)   CHAOS_SEEDS ("1 2")   CHAOS_PROTOCOLS ("raft paxos")
#   CHAOS_NODES ("3 5")   CHAOS_ALONE_SECONDS (30; 0 skips the one-nemesis runs)
# Prints one line per run; exits 1 when any run failed. A whole default matrix takes about
# 25 minutes.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
SECONDS_RUN=${CHAOS_SECONDS:-120}
SEEDS=${CHAOS_SEEDS:-1 2}
PROTOCOLS=${CHAOS_PROTOCOLS:-raft paxos}
SIZES=${CHAOS_NODES:-3 5}
ALONE_SECONDS=${CHAOS_ALONE_SECONDS:-30}
OUT=$BUILD/chaos
mkdir -p "$OUT"
ROWS=$OUT/rows.$$
: >"$ROWS"
trap 'rm -f "$ROWS"' EXIT
. tests/chaos/nemesis.sh

runs=0; failed=0
one_run() {
    runs=$((runs + 1))
    local rc
    timeout -s INT $(( $2 + 600 )) bash tests/chaos/run.sh --results "$ROWS" "$@" >"$OUT/last-run.out" 2>&1
    rc=$?
    grep -E '^chaos|^VIOLATION|^==' "$OUT/last-run.out" | head -20
    [ "$rc" = 0 ] || failed=$((failed + 1))
}
# one_run's second argument must be the length: keep "--seconds S" first.
for protocol in $PROTOCOLS; do
    for n in $SIZES; do
        for seed in $SEEDS; do
            one_run --seconds "$SECONDS_RUN" --protocol "$protocol" --nodes "$n" --seed "$seed" --nemesis all
        done
    done
    if [ "$ALONE_SECONDS" -gt 0 ]; then
        for nemesis in $NEMESES_ALL; do
            one_run --seconds "$ALONE_SECONDS" --protocol "$protocol" --nodes 3 --seed 1 --nemesis "$nemesis" --alone
        done
    fi
done

{
    echo "# chorus chaos results"
    echo
    commit="unknown (not a git checkout)"
    if git rev-parse --short HEAD >/dev/null 2>&1; then
        commit=$(git rev-parse --short HEAD)
        git diff --quiet HEAD 2>/dev/null || commit="$commit (with uncommitted changes)"
    fi
    echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') on commit $commit, $(nproc) cores; \`make chaos\` with CHAOS_SECONDS=$SECONDS_RUN CHAOS_SEEDS=\"$SEEDS\" CHAOS_ALONE_SECONDS=$ALONE_SECONDS."
    echo "ops: history operations (bench + final reads); ok: bench operations acknowledged; failed: certainly not executed (-TRYAGAIN, -BUSY, refused);"
    echo "unknown: outcome unknown; faults: nemeses applied; pipeline: replies checked against their connection's earlier commands."
    echo
    echo "| protocol | nodes | seed | seconds | nemesis | ops | ok | failed | unknown | faults | pipeline | verdict | result |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    cat "$ROWS"
    echo
    echo "$runs runs, $failed failed."
} >"$OUT/results.md"
echo "chaos: $runs runs, $failed failed; table in $OUT/results.md"
[ "$runs" -gt 0 ] || { echo "chaos: FAILED: no run (CHAOS_PROTOCOLS/CHAOS_NODES/CHAOS_SEEDS empty?)"; exit 1; }
[ "$failed" = 0 ]
