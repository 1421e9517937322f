#!/usr/bin/env bash
# plants.sh — the chaos harness must be able to fail: for each nemesis, chorusd built with a
# planted bug (-DCHORUS_PLANT_<NAME>, never on by default; hooks in src/node/, listed in
# docs/testing.md) runs under that nemesis alone, and the run must FAIL. Prints one line per
# pair, "caught" or "MISSED", and exits 1 when any was missed.
#
#   tests/chaos/plants.sh [--protocol raft|paxos] [--seconds S] [--seed N] [PLANT:NEMESIS ...]
#
# Without pairs it runs the table below (about 10 minutes). Each plant is built once into
# build-plant-<name>/ by run.sh. The pipeline clients are off: they would fail every run on
# their own while a pipeline-order bug is open, which would hide a plant that was missed.
set -u
cd "$(dirname "$0")/../.."
PROTOCOL=raft; SECONDS_RUN=20; SEED=1; PAIRS=()
while [ $# -gt 0 ]; do
    case $1 in
        --protocol) PROTOCOL=$2; shift ;;
        --seconds) SECONDS_RUN=$2; shift ;;
        --seed) SEED=$2; shift ;;
        *:*) PAIRS+=("$1") ;;
        *) echo "usage: $0 [--protocol P] [--seconds S] [--seed N] [PLANT:NEMESIS ...]"; exit 2 ;;
    esac
    shift
done
if [ ${#PAIRS[@]} -eq 0 ]; then
    PAIRS=(LOCAL_READ:partition-halves LOCAL_READ:partition-one LOCAL_READ:partition-bridge
           LOCAL_READ:loss-oneway LOCAL_READ:stop ACK_ON_PROPOSE:partition-leader
           ACK_ON_PROPOSE:kill ACK_ON_PROPOSE:kill-majority TIMEOUT_TRYAGAIN:disk-slow
           TIMEOUT_TRYAGAIN:stop IGNORE_SYNC_ERROR:disk-fail)
fi
missed=0
for pair in "${PAIRS[@]}"; do
    plant=${pair%%:*}; nemesis=${pair#*:}
    out=$(CHAOS_PLANT=$plant timeout -s INT $((SECONDS_RUN + 600)) bash tests/chaos/run.sh \
        --protocol "$PROTOCOL" --seconds "$SECONDS_RUN" --seed "$SEED" --nemesis "$nemesis" \
        --alone --pipeline-clients 0 2>&1)
    rc=$?
    why=$(echo "$out" | sed -n 's/^chaos: FAILED: //p' | cut -c1-120)
    if [ "$rc" = 1 ]; then
        echo "caught  $plant under $nemesis: $why"
    else
        echo "MISSED  $plant under $nemesis (exit $rc): $(echo "$out" | grep -m1 '^chaos ')"
        missed=$((missed + 1))
    fi
done
echo "plants: ${#PAIRS[@]} pairs, $missed missed"
[ "$missed" = 0 ]
