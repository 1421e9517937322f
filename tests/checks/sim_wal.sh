#!/usr/bin/env bash
# sim_wal.sh — the deterministic simulator on the Raft core with storage "wal": every node
# persists through the real WAL over a simulated file system whose unsynced writes are lost,
# kept or torn at a crash (src/sim/simfs.h, src/sim/disk_wal.c); a crashed node is restored
# from what its WAL recovers, which must be the acknowledged state plus a prefix of the batch
# in flight. 3-node and 5-node clusters, every fault enabled. Fails unless each run's summary
# line reports "violations: 0". Builds nothing: uses ${BUILD:-build}/bin/chorus-sim.
# Takes ~20-40 s on 2 cores.
set -u
cd "$(dirname "$0")/../.."
sim=${BUILD:-build}/bin/chorus-sim
if [ ! -x "$sim" ]; then
    echo "sim_wal: $sim not built"
    exit 1
fi
status=0
run() {
    local out summary
    out=$("$sim" --protocol raft --storage wal --jobs 2 "$@" 2>&1)
    summary=$(printf '%s\n' "$out" | tail -n 1)
    printf '%s\n' "$out" | grep -E '^seed [0-9]+: VIOLATION|^  replay:' | head -n 20
    printf '%s\n' "$out" | grep -E '^per seed:' | sed 's/^/  /'
    echo "chorus-sim --storage wal $*: $summary"
    case "$summary" in
        seeds:*", violations: 0,"*) ;;
        *) status=1 ;;
    esac
}
run --seeds 3000 --nodes 3
run --seeds 1000 --start 200000 --nodes 5
exit $status
