#!/usr/bin/env bash
# bench/peer_tls.sh — what TLS between the peers costs writes (issue 16: "report SET throughput
# with TLS on and off"). A 3-node cluster (S = 1, raft, fsync on, a cluster secret) is started
# afresh for every round, alternately with plain peer links and with --tls-replication yes
# (mutual TLS, tools/tls-test-ca.sh's certificates), and redis-benchmark (plain, so that only
# the peer links differ) writes to the leader: SET -c 50 -d 256, then the same with -P 16.
# Alternating rounds in one run keep the disk's and the machine's drift out of the ratio; the
# median of each side is reported. Needs a quiet machine for numbers worth keeping.
# Prints a markdown table and saves it in $BUILD/bench-peer-tls.md.
# Knobs: PEER_TLS_ROUNDS (3 per side), PEER_TLS_REQUESTS (100000 per measurement),
# PEER_TLS_PORT_BASE (33600). A smoke run: PEER_TLS_ROUNDS=1 PEER_TLS_REQUESTS=500.
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
ROUNDS=${PEER_TLS_ROUNDS:-3}
REQ=${PEER_TLS_REQUESTS:-100000}
PORT_BASE=${PEER_TLS_PORT_BASE:-33600}
OUT=$BUILD/bench-peer-tls.md
. tests/cluster/lib.sh
die() { echo "bench/peer_tls.sh: $*"; exit 1; }
command -v redis-benchmark >/dev/null || die "redis-benchmark is not installed (make deps)"

CA=$CLUSTER_DIR/tls
tools/tls-test-ca.sh "$CA" >/dev/null || die "tools/tls-test-ca.sh"
head -c 32 /dev/urandom | base64 >"$CLUSTER_DIR/secret"
TLS_FLAGS="--tls-replication yes --tls-cert $CA/server.crt --tls-key $CA/server.key --tls-ca $CA/ca.crt"
NODES=3
SHARDS=1

# rps LEADER [ARGS] — one bounded redis-benchmark SET against LEADER; its requests per second.
rps() {
    local leader=$1; shift
    timeout 300 redis-benchmark -p "$(client_port "$leader")" -t set -n "$REQ" -d 256 -r 100000 \
        -c 50 "$@" -q --csv 2>/dev/null </dev/null | tail -1 | tr -d '"' | cut -d, -f2
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2];
    else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# round MODE — a fresh cluster (MODE plain or tls), a warm-up, then both measurements; prints
# "c50 p16" requests per second.
round() {
    local mode=$1 flags="--cluster-secret-file $CLUSTER_DIR/secret" i leader c50 p16
    [ "$mode" = tls ] && flags="$flags $TLS_FLAGS"
    rm -rf "$CLUSTER_DIR"/node*
    for i in 1 2 3; do NODE_FLAGS=$flags node_start "$i" >&2 || die "$mode: start node $i"; done
    leader=$(wait_leader 200) || die "$mode: no leader"
    rps "$leader" >/dev/null # warm up: the first writes after start also grow LMDB's map
    c50=$(rps "$leader"); [ -n "$c50" ] || die "$mode: redis-benchmark gave no result"
    p16=$(rps "$leader" -P 16); [ -n "$p16" ] || die "$mode: redis-benchmark -P 16 gave no result"
    if [ "$mode" = tls ]; then
        [ "$(info_stat "$leader" peer_tls_failures)" = 0 ] || die "tls: handshakes failed"
    fi
    for i in 1 2 3; do node_stop "$i"; done
    echo "$c50 $p16"
}

plain_c50=() plain_p16=() tls_c50=() tls_p16=()
for r in $(seq 1 "$ROUNDS"); do
    # The order alternates too, so neither side always runs on a machine just warmed up.
    if [ $((r % 2)) = 1 ]; then order="plain tls"; else order="tls plain"; fi
    for mode in $order; do
        read -r c50 p16 < <(round "$mode")
        [ -n "${p16:-}" ] || die "round $r ($mode) failed"
        if [ "$mode" = plain ]; then plain_c50+=("$c50") plain_p16+=("$p16")
        else tls_c50+=("$c50") tls_p16+=("$p16"); fi
        echo "round $r, peer links $mode: SET c50 $c50/s, SET -P 16 $p16/s"
    done
done
m() { printf '%s\n' "$@" | median; }
pc50=$(m "${plain_c50[@]}") pp16=$(m "${plain_p16[@]}")
tc50=$(m "${tls_c50[@]}") tp16=$(m "${tls_p16[@]}")
cost() { awk -v p="$1" -v t="$2" 'BEGIN { printf "%.1f", (p - t) * 100 / p }'; }
{
    echo "## TLS between the peers ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null))"
    echo
    echo "3 nodes, S = 1, raft, a cluster secret, redis-benchmark SET -d 256 -c 50 (plain) against the"
    echo "leader, $REQ requests a measurement, $ROUNDS fresh clusters a side, alternating."
    echo
    echo "| peer links | SET c50 req/s (median) | SET -P 16 req/s (median) | rounds (c50 / -P 16) |"
    echo "|---|---|---|---|"
    echo "| plain | $pc50 | $pp16 | ${plain_c50[*]} / ${plain_p16[*]} |"
    echo "| TLS (--tls-replication yes) | $tc50 | $tp16 | ${tls_c50[*]} / ${tls_p16[*]} |"
    echo "| cost of TLS | $(cost "$pc50" "$tc50") % | $(cost "$pp16" "$tp16") % | |"
} | tee "$OUT"
