#!/usr/bin/env bash
# make bench: the benchmarks of chorus, each bounded in time. Prints a markdown table.
#   storage:  WAL (one entry per fdatasync vs a bare loop; 64 x 256 B batches), LMDB apply
#   checker:  chorus-lincheck on a 100,000-operation history
#   cluster:  3 chorusd on loopback, fsync on, 256-byte values, redis-benchmark against the
#             leader: SET -c 50, GET -c 50, SET -c 1, SET -P 16; failover over 10 SIGKILLs of
#             the leader under load; resident memory of each node.
# BENCH_REQUESTS (default 100000) and BENCH_FAILOVERS (default 10) scale it.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
REQ=${BENCH_REQUESTS:-100000}
FAILOVERS=${BENCH_FAILOVERS:-10}
OUT=$BUILD/bench-results${BENCH_SUFFIX:-}.md
work=$(mktemp -d /tmp/chorus-bench.XXXXXX)
rows=()
row() { rows+=("| $1 | $2 | $3 |"); echo "  $1: $2"; }

PROTOCOL=${PROTOCOL:-raft}
export PROTOCOL
if [ "${BENCH_SKIP_STORAGE:-0}" != 1 ]; then
echo "== storage"
mkdir -p "$work/wal"
wal=$("$BUILD/bench/wal_bench" --dir "$work/wal" 2>&1 | tail -3)
echo "$wal"
row "WAL bare append+fdatasync (median)" "$(echo "$wal" | sed -n 's/.*bare append+fdatasync: *\([0-9]*\).*/\1 syncs\/s/p')" "disk's own rate"
row "WAL 1 entry per fdatasync" "$(echo "$wal" | sed -n 's/.*wal 1 entry per sync: *\([0-9]*\) entries\/s *(\([^)]*\)).*/\1\/s (\2)/p')" ">= 90% of bare"
row "WAL 64 x 256 B per fdatasync" "$(echo "$wal" | sed -n 's/.*wal 64 x 256 B per sync: *\([0-9]*\).*/\1 entries\/s/p')" ">= 200,000/s"
kvb=$("$BUILD/bench/kv_bench" 500000 2>&1)
echo "$kvb" | grep -E "^put"
row "LMDB apply, 256 B puts in batches of 64, sequential keys" "$(echo "$kvb" | sed -n 's/^put sequential keys: *\([0-9]*\) puts.*/\1 puts\/s/p')" ">= 500,000/s"
row "LMDB apply, 256 B puts in batches of 64, random keys" "$(echo "$kvb" | sed -n 's/^put random keys: *\([0-9]*\) puts.*/\1 puts\/s/p')" ">= 500,000/s"
lc=$("$BUILD/bench/lincheck_bench" 100000 50 1000 2>&1 | grep -m1 '^history')
echo "$lc"
row "lincheck, 100,000 ops, 50 clients, 1,000 keys" "$(echo "$lc" | sed -n 's/.*check *\([0-9.]*\) s.*/\1 s/p')" "< 5 s"
lt=$(timeout 300 "$BUILD/bench/lincheck_bench" targets 2>&1)
echo "$lt" | grep -E '^(register|counter)'
row "lincheck, one key, 50 clients: register 10,000 ops / counter 4,000 ops (1% unknown)" \
    "$(echo "$lt" | awk '$1 == "register" {r = $9} $1 == "counter-unk" {c = $9} END {print r " s / " c " s"}')" "< 2 s each"

fi

echo "== cluster ($PROTOCOL)"
. tests/cluster/lib.sh
cluster_start 3 || { echo "cluster did not start"; exit 1; }
leader=$(wait_leader) || { echo "no leader"; exit 1; }
port=$(client_port "$leader")
rb() { timeout 300 redis-benchmark -p "$port" -d 256 -r 100000 "$@" 2>/dev/null; }
summary() { tr '\r' '\n' | grep -A3 "throughput summary" | tail -3 | tr -s ' '; }
s50=$(rb -t set -n "$REQ" -c 50 -q --csv | tail -1)
# Where the time of a write goes: the leader's WAL syncs during that run.
sync_stats=$(cli "$leader" info stats | tr -d '\r' | grep -E '^wal_(syncs|sync_avg_us|sync_max_us|entries_per_sync):' | tr '\n' ' ')
echo "  leader WAL during SET -c 50: $sync_stats"
g50=$(rb -t get -n "$REQ" -c 50 -q --csv | tail -1)
s1=$(rb -t set -n $((REQ / 10)) -c 1 -q --csv | tail -1)
sp=$(rb -t set -n "$REQ" -c 50 -P 16 -q --csv | tail -1)
# CSV: "test","rps","avg","min","p50","p95","p99","max"
field() { echo "$1" | tr -d '"' | cut -d, -f"$2"; }
row "$PROTOCOL: SET, 50 clients" "$(field "$s50" 2) req/s, p50 $(field "$s50" 5) ms, p99 $(field "$s50" 7) ms" ">= 40,000/s, p99 < 5 ms"
row "  leader's WAL during that run" "$sync_stats" "(profile)"
row "$PROTOCOL: linearizable GET, 50 clients" "$(field "$g50" 2) req/s, p99 $(field "$g50" 7) ms" ">= 60,000/s"
row "$PROTOCOL: SET, 1 client" "$(field "$s1" 2) req/s, p50 $(field "$s1" 5) ms" "p50 <= 0.4 ms"
row "$PROTOCOL: SET pipelined -P 16, 50 clients" "$(field "$sp" 2) req/s" ">= 150,000/s"
rss() { local total="" i; for i in 1 2 3; do node_alive "$i" && total="$total n$i=$(( $(awk '/VmRSS/ {print $2}' /proc/${NODE_PID[$i]}/status) / 1024 ))MiB"; done; echo "$total"; }
row "$PROTOCOL: resident memory after the runs" "$(rss)" "report"

# Failover: SIGKILL the leader under load; time until a write succeeds again.
times=()
for trial in $(seq 1 "$FAILOVERS"); do
    leader=$(wait_leader 200) || break
    other=$(( leader % 3 + 1 ))
    timeout 30 redis-benchmark -p "$(client_port "$other")" -t set -n 1000000 -c 20 -d 256 -q >/dev/null 2>&1 &
    load=$!
    sleep 0.5
    t0=$(date +%s%N)
    node_kill "$leader"
    # Until a write succeeds on some surviving node (each try bounded at 1 s).
    ok=""
    for try in $(seq 1 200); do
        for i in 1 2 3; do
            [ "$i" = "$leader" ] && continue
            [ "$(timeout 1 redis-cli -p "$(client_port "$i")" set failover "$trial" 2>/dev/null)" = OK ] && { ok=1; break 2; }
        done
    done
    t1=$(date +%s%N)
    [ -n "$ok" ] || echo "  trial $trial: no write succeeded"
    times+=($(( (t1 - t0) / 1000000 )))
    kill "$load" 2>/dev/null; wait "$load" 2>/dev/null
    node_start "$leader" >/dev/null || break
    sleep 0.5
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
row "$PROTOCOL: failover after SIGKILL of the leader (${#times[@]} trials)" "median ${median} ms; all: ${sorted}ms" "median <= 400 ms"

rm -rf "$work"
{
    echo "| benchmark | measured | target |"
    echo "|---|---|---|"
    printf '%s\n' "${rows[@]}"
} > "$OUT"
echo
cat "$OUT"
echo "(table saved in $OUT)"
