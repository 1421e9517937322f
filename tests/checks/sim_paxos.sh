#!/usr/bin/env bash
# sim_paxos.sh — the deterministic simulator on the Multi-Paxos core: 3-node and 5-node
# clusters with every fault enabled, the protocol-neutral checks plus Paxos's own (chosen
# values unique and stable over every acceptor's disk, applied values chosen, promises never
# going backwards; src/sim/check_paxos.c). Fails unless each run's summary line reports
# "violations: 0". Builds nothing: uses ${BUILD:-build}/bin/chorus-sim. Takes ~20 s on 2 cores.
set -u
cd "$(dirname "$0")/../.."
sim=${BUILD:-build}/bin/chorus-sim
if [ ! -x "$sim" ]; then
    echo "sim_paxos: $sim not built"
    exit 1
fi
status=0
run() {
    local out summary
    out=$("$sim" --protocol paxos --jobs 2 "$@" 2>&1)
    summary=$(printf '%s\n' "$out" | tail -n 1)
    printf '%s\n' "$out" | grep -E '^seed [0-9]+: VIOLATION|^  replay:' | head -n 20
    echo "chorus-sim $*: $summary"
    case "$summary" in
        seeds:*", violations: 0,"*) ;;
        *) status=1 ;;
    esac
}
run --seeds 2500 --nodes 3
run --seeds 700 --start 100000 --nodes 5
exit $status
