#!/usr/bin/env bash
# bench/stages.sh — where one write's time goes, stage by stage (issue 12, "Measure first").
# For each protocol and client count: a fresh 3-node cluster (S = 1, fsync on), redis-benchmark
# SET (256-byte values, -r 100000) against the leader, then the leader's INFO stages (the
# averages of one sampled write in 16, src/node/stages.c): received -> proposed -> appended to
# the open WAL batch -> that batch's write begins -> write + fdatasync done -> committed (a
# majority, followers included) -> applied (the pass's LMDB commit) -> reply queued.
# Prints a markdown table and saves it in $BUILD/bench-stages.md. Knobs: PROTOCOLS ("raft
# paxos"), STAGE_CLIENTS ("1 50"), STAGE_REQUESTS_1 (5000), STAGE_REQUESTS_50 (100000).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
PROTOCOLS=${PROTOCOLS:-raft paxos}
CLIENTS=${STAGE_CLIENTS:-1 50}
OUT=$BUILD/bench-stages.md
PORT_BASE=${PORT_BASE:-25400}
. tests/cluster/lib.sh
NODES=3
STAGES="proposed appended wal_start wal_done committed applied replied"
die() { echo "bench/stages.sh: $*"; exit 1; }

header="| protocol | clients | SET/s | p50 ms (client) | samples |"
sep="|---|---|---|---|---|"
for s in $STAGES; do header="$header -> $s µs |"; sep="$sep---|"; done
header="$header total µs |"; sep="$sep---|"
rows=()
for protocol in $PROTOCOLS; do
    for c in $CLIENTS; do
        PROTOCOL=$protocol
        for i in 1 2 3; do [ -n "${NODE_PID[$i]:-}" ] && node_kill "$i"; done
        rm -rf "$CLUSTER_DIR"/node*
        cluster_start 3 >/dev/null || die "$protocol: start"
        leader=$(wait_leader 200) || die "$protocol: no leader"
        n=${STAGE_REQUESTS_50:-100000}
        [ "$c" = 1 ] && n=${STAGE_REQUESTS_1:-5000}
        csv=$(timeout 300 redis-benchmark -p "$(client_port "$leader")" -t set -n "$n" -d 256 \
            -r 100000 -c "$c" -q --csv 2>/dev/null </dev/null | tail -1 | tr -d '"')
        rps=$(echo "$csv" | cut -d, -f2); p50=$(echo "$csv" | cut -d, -f5)
        [ -n "$rps" ] && [ "$rps" != rps ] || die "$protocol c$c: redis-benchmark gave no result"
        info=$(cli "$leader" info stages | tr -d '\r')
        samples=$(echo "$info" | sed -n 's/^stage_samples://p')
        [ "${samples:-0}" -gt 0 ] || die "$protocol c$c: no write was sampled"
        row="| $protocol | $c | ${rps%.*} | $p50 | $samples |"
        for s in $STAGES total; do
            row="$row $(echo "$info" | sed -n "s/^stage_${s}_us://p") |"
        done
        rows+=("$row")
        echo "$row"
    done
done
{
    echo "bench/stages.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null)"
    echo
    echo "$header"
    echo "$sep"
    printf '%s\n' "${rows[@]}"
} > "$OUT"
echo
cat "$OUT"
