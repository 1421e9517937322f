#!/usr/bin/env bash
# bench/view_cost.sh — what watching a cluster costs its clients (issue 14: "serving metrics and
# the page costs under 2 % of SET throughput"). One 3-node cluster (S = 4, R = 3, fsync on,
# --http on every node), redis-benchmark SET -c 50 -d 256 against node 1, in rounds that
# alternate between nobody watching and everything watching at once: on every node a GET
# /metrics each second (as a Prometheus scraper does) and one GET /events subscriber (the live
# view's stream, as an open page receives it). Alternating rounds on the same cluster keep the
# disk's and the machine's drift out of the ratio; the median of each side is reported.
# Prints a markdown table and saves it in $BUILD/bench-view-cost.md.
# Knobs: VIEW_ROUNDS (4 per side), VIEW_REQUESTS (60000 per round), VIEW_PORT_BASE (33400).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
ROUNDS=${VIEW_ROUNDS:-4}
REQ=${VIEW_REQUESTS:-60000}
PORT_BASE=${VIEW_PORT_BASE:-33400}
OUT=$BUILD/bench-view-cost.md
. tests/cluster/lib.sh
http_port() { echo $((PORT_BASE + 5 + $1)); }
die() { echo "bench/view_cost.sh: $*"; exit 1; }
command -v curl >/dev/null || die "curl is not installed"

SHARDS=4
NODES=3
for i in 1 2 3; do
    NODE_FLAGS="--http 127.0.0.1:$(http_port "$i")"
    node_start "$i" || die "start node $i"
done
NODE_FLAGS=""
wait_leader 200 >/dev/null || die "no leader"

WATCHERS=()
watch_start() {
    local i
    for i in 1 2 3; do
        : >"$CLUSTER_DIR/events$i.out"
        timeout 600 curl -s -N "http://127.0.0.1:$(http_port "$i")/events" \
            >"$CLUSTER_DIR/events$i.out" 2>/dev/null &
        WATCHERS+=($!)
        ( while :; do curl -s --max-time 2 "http://127.0.0.1:$(http_port "$i")/metrics" >/dev/null
              sleep 1; done ) &
        WATCHERS+=($!)
    done
}
watch_stop() {
    local p
    for p in "${WATCHERS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${WATCHERS[@]}"; do wait "$p" 2>/dev/null; done
    WATCHERS=()
}
trap 'watch_stop' EXIT

# rps — one bounded redis-benchmark round against node 1; prints its requests per second.
rps() {
    timeout 300 redis-benchmark -p "$(client_port 1)" -t set -n "$REQ" -d 256 -r 100000 -c 50 \
        -q --csv 2>/dev/null </dev/null | tail -1 | tr -d '"' | cut -d, -f2
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
    else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

rps >/dev/null # warm up: the first round after start also fills LMDB's map
plain=() watched=()
for r in $(seq 1 "$ROUNDS"); do
    p=$(rps); [ -n "$p" ] || die "round $r: redis-benchmark gave no result (unwatched)"
    plain+=("$p")
    watch_start
    # Every subscriber has its first events before the load starts.
    subscribed() { local i; for i in 1 2 3; do
        grep -q '^event: state' "$CLUSTER_DIR/events$i.out" || return 1; done; }
    wait_for 10 subscribed || die "round $r: an /events subscriber got no state in 10 s"
    w=$(rps); [ -n "$w" ] || die "round $r: redis-benchmark gave no result (watched)"
    watched+=("$w")
    watch_stop
    echo "round $r: $p SET/s unwatched, $w SET/s watched"
done
mp=$(printf '%s\n' "${plain[@]}" | median)
mw=$(printf '%s\n' "${watched[@]}" | median)
cost=$(awk -v p="$mp" -v w="$mw" 'BEGIN { printf "%.1f", (p - w) * 100 / p }')
{
    echo "## The cost of watching ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null))"
    echo
    echo "3 nodes, S = 4, SET -c 50 -d 256 against node 1, $ROUNDS rounds a side, alternating;"
    echo "watched = on every node one /events subscriber and a /metrics scrape every second."
    echo
    echo "| | SET/s (median) | rounds |"
    echo "|---|---|---|"
    echo "| unwatched | $mp | ${plain[*]} |"
    echo "| watched | $mw | ${watched[*]} |"
    echo "| cost | $cost % | target < 2 % |"
} | tee "$OUT"
