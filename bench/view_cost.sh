#!/usr/bin/env bash
# bench/view_cost.sh — what watching a cluster costs (issue 14: "serving metrics and the page
# costs under 2 % of SET throughput"). One 3-node cluster (S = 4, R = 3, fsync on, --http on
# every node) serves redis-benchmark SET -c 50 -d 256 against node 1 in short runs, in PAIRS:
# one run with nobody watching and one with everything watching at once (on every node one
# GET /events subscriber, as an open page receives it, and a GET /metrics each second, as a
# Prometheus scraper does). The watchers are toggled on the SAME cluster (started before a
# watched run, stopped after it), and the order inside a pair alternates (unwatched first in
# odd pairs, watched first in even ones) so that a linear drift of the disk or the machine
# cancels out of the pairs.
#
# Two measures, each as a paired difference with its 95 % confidence interval (Student's t
# over the pairs, which are independent of one another while the runs inside one are not):
#  - throughput: per pair, (unwatched - watched) / unwatched in percent of SET/s;
#  - serving CPU: per pair, the CPU seconds (user + system, /proc/PID/stat) the three chorusd
#    spent per 100,000 SETs, watched minus unwatched, and that in percent of the unwatched.
#    Throughput on a shared machine swings by tens of percent from run to run; the CPU a node
#    spends per write swings far less, and it is what serving the view takes from the node.
# Pairs run until the throughput interval's half-width is below VIEW_TARGET_PCT (then the
# measurement can tell a cost of 2 % from none: "resolved") or VIEW_PAIRS_MAX pairs ran. On a
# 2-core machine where the three nodes, redis-benchmark and the watchers share the cores, a
# run's throughput swings by tens of percent and the pairs rarely get there; so a third
# measure decides, "serving, amplified": with no load, the nodes' CPU per second unwatched
# against watched VIEW_AMPLIFY times over (that many subscribers and scrapes a second on every
# node), over VIEW_IDLE_PAIRS pairs of VIEW_IDLE_SECONDS windows, as a share of the CPU per
# second the nodes spend under the load (see the comment at that measure for why it bounds
# the throughput cost).
# The watchers (curl) run on the same machine: their own CPU competes with the cluster for
# the cores in the throughput measure (a browser elsewhere would not), not in the CPU ones.
# Prints markdown tables and saves them in $BUILD/bench-view-cost.md. Needs a quiet machine for
# numbers worth keeping. A smoke run: VIEW_PAIRS_MIN=2 VIEW_PAIRS_MAX=2 VIEW_REQUESTS=3000
# VIEW_IDLE_PAIRS=2 VIEW_IDLE_SECONDS=1.
# Knobs: VIEW_PAIRS_MIN (12), VIEW_PAIRS_MAX (24), VIEW_REQUESTS (30000 per run),
# VIEW_TARGET_PCT (2), VIEW_IDLE_PAIRS (10), VIEW_IDLE_SECONDS (5), VIEW_AMPLIFY (10),
# VIEW_PORT_BASE (33400).
set -u
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
export BUILD
PAIRS_MIN=${VIEW_PAIRS_MIN:-12}
PAIRS_MAX=${VIEW_PAIRS_MAX:-24}
REQ=${VIEW_REQUESTS:-30000}
TARGET=${VIEW_TARGET_PCT:-2}
IDLE_PAIRS=${VIEW_IDLE_PAIRS:-10}
IDLE_SECONDS=${VIEW_IDLE_SECONDS:-5}
AMPLIFY=${VIEW_AMPLIFY:-10}
PORT_BASE=${VIEW_PORT_BASE:-33400}
OUT=$BUILD/bench-view-cost.md
. tests/cluster/lib.sh
http_port() { echo $((PORT_BASE + 5 + $1)); }
# To stderr: a run whose standard output is discarded (the warm-up) still says why it stopped.
die() { echo "bench/view_cost.sh: $*" >&2; exit 1; }
command -v curl >/dev/null || die "curl is not installed"
command -v redis-benchmark >/dev/null || die "redis-benchmark is not installed (make deps)"
for v in "$PAIRS_MIN" "$PAIRS_MAX" "$REQ" "$IDLE_PAIRS" "$IDLE_SECONDS" "$AMPLIFY"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "the VIEW_ knobs take positive integers"
done
[ "$PAIRS_MIN" -ge 2 ] || die "VIEW_PAIRS_MIN must be at least 2 (an interval needs two pairs)"
[ "$IDLE_PAIRS" -ge 2 ] || die "VIEW_IDLE_PAIRS must be at least 2 (an interval needs two pairs)"
[ "$PAIRS_MAX" -ge "$PAIRS_MIN" ] || PAIRS_MAX=$PAIRS_MIN
TICKS=$(getconf CLK_TCK)

SHARDS=4
NODES=3
for i in 1 2 3; do
    NODE_FLAGS="--http 127.0.0.1:$(http_port "$i")"
    node_start "$i" || die "start node $i"
done
NODE_FLAGS=""
# Every shard has a leader (a write to a shard without one fails redis-benchmark's run).
all_led() { local i n=0; for i in 1 2 3; do n=$((n + $(info_field "$i" groups_leading))); done
    [ "$n" -ge "$SHARDS" ]; }
wait_for 60 all_led || die "not every shard has a leader after 60 s"

# cpu_ticks — the user + system clock ticks the three chorusd have used so far (fields 14
# and 15 of /proc/PID/stat, counted after the command name's closing parenthesis, which is
# field 2 and may hold spaces; all threads are included).
cpu_ticks() {
    local i sum=0 t
    for i in 1 2 3; do
        t=$(sed 's/.*) //' "/proc/${NODE_PID[$i]}/stat" | awk '{ print $12 + $13 }') ||
            die "node $i: /proc/${NODE_PID[$i]}/stat"
        sum=$((sum + t))
    done
    echo "$sum"
}

# The subscribers' streams go to tmpfs: written next to the nodes' data directories, they made
# every WAL fdatasync also commit the journal of a growing file (ext4 commits all pending
# metadata at once), a cost that a browser on another machine does not put on a node.
EVENTS_DIR=$(mktemp -d /dev/shm/view-cost.XXXXXX) || die "mktemp in /dev/shm"
WATCHERS=()
watch_start() {
    local i
    for i in 1 2 3; do
        : >"$EVENTS_DIR/events$i.out"
        timeout 900 curl -s -N "http://127.0.0.1:$(http_port "$i")/events" \
            >"$EVENTS_DIR/events$i.out" 2>/dev/null &
        WATCHERS+=($!)
    done
    ( while :; do
          for i in 1 2 3; do
              curl -s --max-time 2 "http://127.0.0.1:$(http_port "$i")/metrics" >/dev/null
          done
          sleep 1
      done ) &
    WATCHERS+=($!)
    # Every subscriber has its first state before the load starts.
    wait_for 10 subscribed || die "an /events subscriber got no state in 10 s"
}
subscribed() { local i; for i in 1 2 3; do
    grep -q '^event: state' "$EVENTS_DIR/events$i.out" || return 1; done; }
watch_stop() {
    local p
    for p in "${WATCHERS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${WATCHERS[@]}"; do wait "$p" 2>/dev/null; done
    WATCHERS=()
}
trap 'watch_stop; rm -rf "$EVENTS_DIR"; cluster_cleanup' EXIT

# run MODE — one bounded redis-benchmark run against node 1, watched or not (MODE); prints
# "RPS TICKS": its SET/s and the CPU ticks the nodes used during it.
run() {
    local t0 t1 r
    [ "$1" = watched ] && watch_start
    t0=$(cpu_ticks)
    r=$(timeout 300 redis-benchmark -p "$(client_port 1)" -t set -n "$REQ" -d 256 -r 100000 \
        -c 50 -q --csv 2>/dev/null </dev/null | tail -1 | tr -d '"' | cut -d, -f2)
    t1=$(cpu_ticks)
    [ "$1" = watched ] && watch_stop
    [[ $r =~ ^[0-9.]+$ ]] || { echo "bench/view_cost.sh: redis-benchmark gave no result ($1)" >&2; return 1; }
    echo "$r $((t1 - t0))"
}

# ci — reads one number a line; prints "MEAN HALF N": the mean and the half-width of its
# two-sided 95 % confidence interval by Student's t with N - 1 degrees of freedom (a table up
# to 30, then the Cornish-Fisher expansion of t around z = 1.96, within 0.001 there).
ci() {
    awk 'BEGIN { split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228 2.201 " \
                       "2.179 2.160 2.145 2.131 2.120 2.110 2.101 2.093 2.086 2.080 2.074 " \
                       "2.069 2.064 2.060 2.056 2.052 2.048 2.045 2.042", t, " ") }
         { x[NR] = $1; s += $1 }
         END {
             n = NR; m = s / n; ss = 0
             for (i = 1; i <= n; i++) ss += (x[i] - m) ^ 2
             df = n - 1; z = 1.959964
             q = df <= 30 ? t[df] : z + (z^3 + z) / (4 * df) + (5 * z^5 + 16 * z^3 + 3 * z) / (96 * df^2)
             printf "%.3f %.3f %d\n", m, q * sqrt(ss / df / n), n
         }'
}
# interval MEAN HALF — "MEAN ± HALF (LOW .. HIGH)", one decimal.
interval() { awk -v m="$1" -v h="$2" 'BEGIN { printf "%.1f ± %.1f (%.1f .. %.1f)", m, h, m - h, m + h }'; }

# Warm up: the first run after start also fills LMDB's map; once more if leadership balance
# moved a shard's leader under it (-TRYAGAIN ends a redis-benchmark run).
( run unwatched >/dev/null ) 2>/dev/null || run unwatched >/dev/null
echo "pair: unwatched SET/s, watched SET/s, cost %; CPU s per 100k SETs unwatched, watched"
thr=() cpu=() cpu_pct=() plain_rps=() watched_rps=() plain_cpu=() watched_cpu=()
pair=0 resolved=no failures=0
while [ "$pair" -lt "$PAIRS_MAX" ]; do
    pair=$((pair + 1))
    pr="" wr=""
    if [ $((pair % 2)) = 1 ]; then
        read -r pr pt < <(run unwatched); read -r wr wt < <(run watched)
    else
        read -r wr wt < <(run watched); read -r pr pt < <(run unwatched)
    fi
    # A run cut short (an error reply ends redis-benchmark's run) spoils its pair: the pair is
    # run again, a few times at most.
    if [ -z "$pr" ] || [ -z "$wr" ]; then
        failures=$((failures + 1))
        [ "$failures" -le 3 ] || die "pair $pair: a run failed $failures times"
        pair=$((pair - 1))
        continue
    fi
    # CPU seconds per 100,000 SETs on each side.
    pc=$(awk -v t="$pt" -v k="$TICKS" -v n="$REQ" 'BEGIN { printf "%.4f", t / k * 100000 / n }')
    wc=$(awk -v t="$wt" -v k="$TICKS" -v n="$REQ" 'BEGIN { printf "%.4f", t / k * 100000 / n }')
    plain_rps+=("$pr") watched_rps+=("$wr") plain_cpu+=("$pc") watched_cpu+=("$wc")
    thr+=("$(awk -v p="$pr" -v w="$wr" 'BEGIN { printf "%.4f", (p - w) * 100 / p }')")
    cpu+=("$(awk -v p="$pc" -v w="$wc" 'BEGIN { printf "%.4f", w - p }')")
    cpu_pct+=("$(awk -v p="$pc" -v w="$wc" 'BEGIN { printf "%.4f", (w - p) * 100 / p }')")
    echo "pair $pair: $pr, $wr, ${thr[-1]}; $pc, $wc"
    [ "$pair" -ge "$PAIRS_MIN" ] || continue
    read -r _ half _ < <(printf '%s\n' "${thr[@]}" | ci)
    if awk -v h="$half" -v t="$TARGET" 'BEGIN { exit !(h < t) }'; then resolved=yes; break; fi
done
read -r thr_mean thr_half n < <(printf '%s\n' "${thr[@]}" | ci)
read -r cpu_mean cpu_half _ < <(printf '%s\n' "${cpu[@]}" | ci)
read -r cpct_mean cpct_half _ < <(printf '%s\n' "${cpu_pct[@]}" | ci)
mean() { awk '{ s += $1 } END { printf "%.0f", s / NR }'; }
mean3() { awk '{ s += $1 } END { printf "%.3f", s / NR }'; }

# verdict MEAN HALF — what an interval says of the target.
verdict() {
    awk -v m="$1" -v h="$2" -v t="$TARGET" 'BEGIN {
        if (h >= t) printf "not resolved (half-width %.1f %% >= %s %%)", h, t
        else if (m + h < t) printf "resolved: below %s %%", t
        else if (m - h > t) printf "resolved: above %s %%", t
        else printf "resolved, but the interval holds %s %%", t }'
}

# Serving: with no load, the three chorusd's CPU per second over IDLE_SECONDS windows,
# alternately unwatched and watched: once as the throughput pairs watch (one subscriber and one
# scrape a second per node; this decides), and AMPLIFY times over (the scrapes of a second made
# by one curl process per node, URL globbing, so that few processes start; this shows how the
# cost grows with watchers). What serving costs the nodes does not depend on the load they
# carry (the state event and /metrics have the same size idle or loaded), and idle, nothing
# else moves the nodes' CPU: the paired difference is what serving takes, without the noise
# of a loaded run's throughput. It is compared with the CPU per second the nodes spend under
# load (the unwatched runs above): when the cluster is CPU-bound, its throughput falls by at
# most the share of the CPU that serving takes. The interval's upper end is used.
# amp_start K — K /events subscribers and K /metrics scrapes a second on every node.
amp_start() {
    local i k
    for i in 1 2 3; do
        for k in $(seq 1 "$1"); do
            timeout 900 curl -s -N "http://127.0.0.1:$(http_port "$i")/events" >/dev/null 2>&1 &
            WATCHERS+=($!)
        done
        ( while :; do
              curl -s --max-time 2 "http://127.0.0.1:$(http_port "$i")/metrics?n=[1-$1]" >/dev/null
              sleep 1
          done ) &
        WATCHERS+=($!)
    done
}
# idle_window K — the nodes' CPU ms per second over IDLE_SECONDS, watched K times over (0: not).
idle_window() {
    local t0 t1
    [ "$1" -gt 0 ] && amp_start "$1"
    t0=$(cpu_ticks); sleep "$IDLE_SECONDS"; t1=$(cpu_ticks)
    [ "$1" -gt 0 ] && watch_stop
    awk -v t="$((t1 - t0))" -v k="$TICKS" -v s="$IDLE_SECONDS" 'BEGIN { printf "%.1f", t / k / s * 1000 }'
}
# idle_pairs K — IDLE_PAIRS pairs of windows unwatched and watched K times over, the order
# alternating; prints "PLAIN_MEAN WATCHED_MEAN DIFF_MEAN DIFF_HALF".
idle_pairs() {
    local r a b plain=() watched=() diff=()
    for r in $(seq 1 "$IDLE_PAIRS"); do
        if [ $((r % 2)) = 1 ]; then a=$(idle_window 0); b=$(idle_window "$1")
        else b=$(idle_window "$1"); a=$(idle_window 0); fi
        plain+=("$a") watched+=("$b")
        diff+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", b - a }')")
    done
    read -r m h _ < <(printf '%s\n' "${diff[@]}" | ci)
    echo "$(printf '%s\n' "${plain[@]}" | mean1) $(printf '%s\n' "${watched[@]}" | mean1) $m $h"
}
mean1() { awk '{ s += $1 } END { printf "%.1f", s / NR }'; }
# The nodes' CPU per second under load: CPU seconds per 100k SETs times SET/s, unwatched runs.
loaded_ms=$(for k in "${!plain_rps[@]}"; do echo "${plain_cpu[$k]} ${plain_rps[$k]}"; done |
    awk '{ s += $1 * $2 / 100 } END { printf "%.0f", s / NR }')
read -r one_plain one_watched one_mean one_half < <(idle_pairs 1)
read -r amp_plain amp_watched amp_mean amp_half < <(idle_pairs "$AMPLIFY")
# share MEAN HALF DIVISOR — the interval's upper end, divided, in percent of the loaded CPU.
share() { awk -v m="$1" -v h="$2" -v d="$3" -v l="$loaded_ms" 'BEGIN { printf "%.2f", (m + h) / d * 100 / l }'; }
one_pct=$(share "$one_mean" "$one_half" 1)
amp_pct=$(share "$amp_mean" "$amp_half" "$AMPLIFY")
serve_verdict=$(awk -v p="$one_pct" -v t="$TARGET" 'BEGIN {
    if (p < t) printf "resolved: at most %s %%, below %s %%", p, t; else printf "not below %s %% (%s %%)", t, p }')

{
    echo "## The cost of watching ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null))"
    echo
    echo "3 nodes, S = 4, SET -c 50 -d 256 against node 1, $n pairs of runs of $REQ SETs on one"
    echo "cluster, the order alternating; watched = on every node one /events subscriber and a"
    echo "/metrics scrape every second. Paired differences, mean ± half-width of the 95 % CI."
    echo
    echo "| | unwatched (mean) | watched (mean) | cost, paired (95 % CI) | verdict |"
    echo "|---|---|---|---|---|"
    echo "| SET/s | $(printf '%s\n' "${plain_rps[@]}" | mean) | $(printf '%s\n' "${watched_rps[@]}" | mean) |" \
         "$(interval "$thr_mean" "$thr_half") % | $(verdict "$thr_mean" "$thr_half") |"
    echo "| chorusd CPU s per 100k SETs | $(printf '%s\n' "${plain_cpu[@]}" | mean3) |" \
         "$(printf '%s\n' "${watched_cpu[@]}" | mean3) | $(interval "$cpu_mean" "$cpu_half") s =" \
         "$(interval "$cpct_mean" "$cpct_half") % | $(verdict "$cpct_mean" "$cpct_half") |"
    echo
    echo "Serving: the three chorusd's CPU per second with no load, over $IDLE_PAIRS pairs of $IDLE_SECONDS s"
    echo "windows, unwatched against watched (1: the watch above; x$AMPLIFY: $AMPLIFY /events subscribers"
    echo "and $AMPLIFY /metrics scrapes a second on every node), as a share of the CPU per second the"
    echo "nodes spend under the load above (unwatched runs, $loaded_ms ms/s): the interval's upper end,"
    echo "for x$AMPLIFY divided by $AMPLIFY. When the cluster is CPU-bound, serving takes at most that share of"
    echo "its throughput."
    echo
    echo "| watch | unwatched ms/s (mean) | watched ms/s (mean) | serving cost, paired (95 % CI) | share of the loaded CPU | verdict |"
    echo "|---|---|---|---|---|---|"
    echo "| 1 | $one_plain | $one_watched | $(interval "$one_mean" "$one_half") ms/s | $one_pct % | $serve_verdict |"
    echo "| x$AMPLIFY | $amp_plain | $amp_watched | $(interval "$amp_mean" "$amp_half") ms/s | $amp_pct % per watcher | |"
    echo
    echo "Throughput: $resolved within $n pairs (stops once the half-width is below $TARGET %)."
    echo "Per pair (unwatched/watched SET/s): $(for k in "${!plain_rps[@]}"; do
        printf '%s/%s ' "${plain_rps[$k]}" "${watched_rps[$k]}"; done)"
} | tee "$OUT"
