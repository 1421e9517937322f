#!/usr/bin/env bash
# sim_compare.sh — chorus-sim --compare on 200 seeds (raft and paxos, 3 nodes, every fault):
# fails unless it exits 0, reports "violations 0" and prints the table with both protocols.
# Builds nothing: uses ${BUILD:-build}/bin/chorus-sim. Takes ~10 s on 2 cores.
set -u
cd "$(dirname "$0")/../.."
sim=${BUILD:-build}/bin/chorus-sim
if [ ! -x "$sim" ]; then
    echo "sim_compare: $sim not built"
    exit 1
fi
out=$("$sim" --compare --seeds 200 --start 5000 --nodes 3 --jobs 2 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^seed [0-9]+: VIOLATION|^  replay:' | head -n 20
summary=$(printf '%s\n' "$out" | tail -n 1)
echo "chorus-sim --compare: $summary"
[ "$rc" = 0 ] || { echo "sim_compare: exit status $rc"; exit 1; }
case "$summary" in
    compare:*", violations 0,"*) ;;
    *) echo "sim_compare: unexpected summary"; exit 1 ;;
esac
printf '%s\n' "$out" | grep -q '^| measure (simulated) | raft | paxos |$' ||
    { echo "sim_compare: no table"; exit 1; }
for row in "commit latency" "messages and bytes" "persistence steps" "leader recovery" \
           "throughput, leader isolated"; do
    printf '%s\n' "$out" | grep -q "^| $row" || { echo "sim_compare: no row '$row'"; exit 1; }
done
exit 0
