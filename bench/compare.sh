#!/usr/bin/env bash
# compare.sh — Raft against Multi-Paxos, measured two ways, written into docs/raft-vs-paxos.md.
#   1. the simulator: chorus-sim --compare on the same seeds and fault schedules for both
#      protocols (COMPARE_SEEDS, default 1000, 3 nodes, every fault, 2 jobs), then 5 nodes
#      (COMPARE_SEEDS_5, default 500);
#   2. a real 3-node chorusd cluster on loopback per protocol (tests/cluster/lib.sh with
#      PROTOCOL=raft, then PROTOCOL=paxos), fsync on, 256-byte values, redis-benchmark against
#      the leader: SET -c 50, linearizable GET -c 50, SET -c 1 (COMPARE_REQUESTS each, default
#      20000; a tenth of that for -c 1), in COMPARE_ROUNDS rounds (default 3) alternating the
#      protocols, each cell the median round.
# The two tables replace what stands between the marker comments of the doc; the prose stays.
# Build first: make BUILD=build-compare && BUILD=build-compare bench/compare.sh
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
SEEDS=${COMPARE_SEEDS:-1000}
SEEDS5=${COMPARE_SEEDS_5:-500}
REQ=${COMPARE_REQUESTS:-20000}
ROUNDS=${COMPARE_ROUNDS:-3}
DOC=docs/raft-vs-paxos.md
sim=$BUILD/bin/chorus-sim
[ -x "$sim" ] && [ -x "$BUILD/bin/chorusd" ] || { echo "compare: build first (make BUILD=$BUILD)"; exit 1; }
[ -f "$DOC" ] || { echo "compare: $DOC is missing"; exit 1; }
work=$(mktemp -d /tmp/chorus-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== simulator: $SEEDS seeds per protocol"
sim_cmd="chorus-sim --compare --seeds $SEEDS --nodes 3 --jobs 2"
"$sim" --compare --seeds "$SEEDS" --nodes 3 --jobs 2 > "$work/sim.out"
sim_rc=$?
cat "$work/sim.out"
[ "$sim_rc" = 0 ] || { echo "compare: the simulator found violations or failed (rc $sim_rc)"; exit 1; }
{
    grep '^|' "$work/sim.out"
    echo
    echo "\`$sim_cmd\`: $(grep '^compare:' "$work/sim.out" | sed 's/^compare: //')"
} > "$work/sim.md"

echo "== simulator, 5 nodes: $SEEDS5 seeds per protocol"
"$sim" --compare --seeds "$SEEDS5" --nodes 5 --jobs 2 > "$work/sim5.out"
sim_rc=$?
cat "$work/sim5.out"
[ "$sim_rc" = 0 ] || { echo "compare: the simulator found violations or failed (rc $sim_rc)"; exit 1; }
{
    grep '^|' "$work/sim5.out"
    echo
    echo "\`chorus-sim --compare --seeds $SEEDS5 --nodes 5 --jobs 2\`: $(grep '^compare:' "$work/sim5.out" | sed 's/^compare: //')"
} > "$work/sim5.md"

# One protocol's real-cluster numbers as "set50|get50|set1" cells, in a subshell so that
# lib.sh's cluster (and its exit trap) belong to that protocol alone.
cluster_cells() {
    (
        PROTOCOL=$1
        . tests/cluster/lib.sh
        cluster_start 3 >&2 || { echo "cluster did not start|-|-"; exit 0; }
        leader=$(wait_leader 200) || { echo "no leader|-|-"; exit 0; }
        port=$(client_port "$leader")
        rb() { timeout 120 redis-benchmark -p "$port" -d 256 -r 100000 "$@" 2>/dev/null; }
        # CSV: "test","rps","avg","min","p50","p95","p99","max"
        field() { echo "$1" | tr -d '"' | cut -d, -f"$2"; }
        s50=$(rb -t set -n "$REQ" -c 50 -q --csv | tail -1)
        g50=$(rb -t get -n "$REQ" -c 50 -q --csv | tail -1)
        s1=$(rb -t set -n $((REQ / 10)) -c 1 -q --csv | tail -1)
        echo "$(field "$s50" 2) req/s, p50 $(field "$s50" 5) ms, p99 $(field "$s50" 7) ms|$(field "$g50" 2) req/s, p50 $(field "$g50" 5) ms, p99 $(field "$g50" 7) ms|$(field "$s1" 2) req/s, p50 $(field "$s1" 5) ms"
    )
}

# The machine is shared: rounds alternate the protocols, and each cell is the round with the
# median request rate for that measure (its text is that round's, latencies included).
echo "== real cluster: $ROUNDS rounds per protocol, $REQ requests per run"
: > "$work/raft.rounds"
: > "$work/paxos.rounds"
for round in $(seq 1 "$ROUNDS"); do
    for protocol in raft paxos; do
        line=$(cluster_cells "$protocol")
        echo "round $round $protocol: $line"
        echo "$line" >> "$work/$protocol.rounds"
    done
done
median_cell() {
    cut -d'|' -f"$2" "$work/$1.rounds" | sort -n | awk '{a[NR] = $0} END {print a[int((NR + 1) / 2)]}'
}
raft="$(median_cell raft 1)|$(median_cell raft 2)|$(median_cell raft 3)"
paxos="$(median_cell paxos 1)|$(median_cell paxos 2)|$(median_cell paxos 3)"
cell() { echo "$1" | cut -d'|' -f"$2"; }
{
    echo "| measure (3 chorusd on loopback, fsync on, 256 B values) | raft | paxos |"
    echo "|---|---|---|"
    echo "| SET, 50 clients, $REQ requests | $(cell "$raft" 1) | $(cell "$paxos" 1) |"
    echo "| linearizable GET, 50 clients, $REQ requests | $(cell "$raft" 2) | $(cell "$paxos" 2) |"
    echo "| SET, 1 client, $((REQ / 10)) requests | $(cell "$raft" 3) | $(cell "$paxos" 3) |"
    echo
    echo "Median of $ROUNDS rounds (alternating raft and paxos). Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(uname -m)), a shared machine that was busy with other builds (load average $(cut -d' ' -f1 /proc/loadavg) at the end)."
} > "$work/cluster.md"

# Replaces the lines between "<!-- NAME:begin -->" and "<!-- NAME:end -->" with a file.
splice() {
    awk -v name="$1" -v file="$2" '
        $0 == "<!-- " name ":begin -->" { print; while ((getline line < file) > 0) print line; skip = 1; next }
        $0 == "<!-- " name ":end -->" { skip = 0 }
        !skip { print }' "$DOC" > "$work/doc" && cat "$work/doc" > "$DOC"
}
splice compare-sim "$work/sim.md"
splice compare-sim-5 "$work/sim5.md"
splice compare-cluster "$work/cluster.md"
echo
cat "$work/sim.md"
echo
cat "$work/sim5.md"
echo
cat "$work/cluster.md"
echo "(tables written into $DOC)"
