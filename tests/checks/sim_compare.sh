#!/usr/bin/env bash
# sim_compare.sh — chorus-sim --compare on 200 seeds (raft and paxos, 3 nodes, every fault):
# fails unless it exits 0, reports "violations 0", and its table shows that both protocols
# really ran every seed ("0 in 200 seeds"), committed client writes and recovered from leader
# crashes (the summary line repeats the seeds asked for, not the seeds run). Builds nothing:
# uses ${BUILD:-build}/bin/chorus-sim. Takes ~10 s on 2 cores.
# timeout: 180
set -u
cd "$(dirname "$0")/../.."
SEEDS=200
sim=${BUILD:-build}/bin/chorus-sim
if [ ! -x "$sim" ]; then
    echo "sim_compare: $sim not built"
    exit 1
fi
out=$("$sim" --compare --seeds "$SEEDS" --start 5000 --nodes 3 --jobs 2 2>&1)
rc=$?
printf '%s\n' "$out" | grep -E '^seed [0-9]+: VIOLATION|^  replay:|^chorus-sim: ' | head -n 20
summary=$(printf '%s\n' "$out" | tail -n 1)
echo "chorus-sim --compare: $summary"
status=0
bad() { echo "sim_compare: $*"; status=1; }
[ "$rc" = 0 ] || bad "exit status $rc"
case "$summary" in
    compare:*", violations 0,"*) ;;
    *) bad "unexpected summary" ;;
esac
printf '%s\n' "$out" | grep -q '^| measure (simulated) | raft | paxos |$' || bad "no table"
for row in "commit latency" "messages and bytes" "persistence steps" "leader recovery" \
           "throughput, leader isolated"; do
    printf '%s\n' "$out" | grep -q "^| $row" || bad "no row '$row'"
done
# row NAME — the table's row NAME, its two protocol cells separated by a tab.
row() { printf '%s\n' "$out" | awk -F' [|] ' -v r="$1" 'index($1, "| " r) == 1 { sub(/ [|]$/, "", $3); print $2 "\t" $3; exit }'; }
violations=$(row violations)
echo "violations: $violations"
[ "$violations" = "0 in $SEEDS seeds	0 in $SEEDS seeds" ] ||
    bad "the violations row is not '0 in $SEEDS seeds' for both protocols: '$violations'"
writes=$(row "client writes committed")
echo "client writes committed: $writes"
for n in $writes; do [ "$n" -ge "$SEEDS" ] 2>/dev/null || bad "too few client writes committed: '$writes'"; done
[ "$(printf '%s\n' "$writes" | wc -w)" = 2 ] || bad "no 'client writes committed' row for both protocols"
recovery=$(row "leader recovery after a leader crash")
echo "leader recovery: $recovery"
crashes=$(printf '%s\n' "$recovery" | grep -Eo '\(([0-9]+) crashes' | grep -Eo '[0-9]+')
[ "$(printf '%s\n' "$crashes" | grep -c '^[1-9]')" = 2 ] ||
    bad "leader crashes did not happen under both protocols: '$recovery'"
[ "$status" = 0 ] && echo "sim_compare: ok"
exit $status
