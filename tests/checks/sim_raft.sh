#!/usr/bin/env bash
# sim_raft.sh — the deterministic simulator on the Raft core: 3-node and 5-node clusters with
# every fault enabled. Fails unless each run's summary line reports "violations: 0".
# Builds nothing: uses ${BUILD:-build}/bin/chorus-sim. Takes ~10-20 s on 2 cores.
set -u
cd "$(dirname "$0")/../.."
sim=${BUILD:-build}/bin/chorus-sim
if [ ! -x "$sim" ]; then
    echo "sim_raft: $sim not built"
    exit 1
fi
status=0
run() {
    local out summary
    out=$("$sim" --protocol raft --jobs 2 "$@" 2>&1)
    summary=$(printf '%s\n' "$out" | tail -n 1)
    printf '%s\n' "$out" | grep -E '^seed [0-9]+: VIOLATION|^  replay:' | head -n 20
    echo "chorus-sim $*: $summary"
    case "$summary" in
        seeds:*", violations: 0,"*) ;;
        *) status=1 ;;
    esac
}
run --seeds 2000 --nodes 3
run --seeds 1000 --start 100000 --nodes 5
exit $status
