#!/usr/bin/env bash
# restart_bench.sh — how long a node takes to come back over a long WAL tail (not part of
# make test). One chorusd (--cluster 1=...), --snapshot-entries 1000000000 (no snapshot by
# entry count); RESTART_KEYS distinct keys (default 1,000,000) written once each with
# RESTART_VALUE_BYTES-byte values (default 100) through chunked `redis-cli --pipe` (one WAL
# entry per key, about 138 bytes); then
#   1. SIGTERM, restart: time until it answers PING, until INFO applied_index reaches the
#      last index before the stop, and until it is leader with applied_index = last_index;
#   2. the same after SIGKILL (RESTART_KILL=0 skips it).
# Prints the WAL size, the node's "restored:" line, the times and the resident memory.
#
# The WAL tail. The Raft core holds at most 64 MiB of entry data above the snapshot
# (cn_config.log_bytes_max; beyond it every write gets -BUSY) and since dba4a98 the node
# snapshots when that log reaches half the bound, whatever --snapshot-entries says. So a
# 100 MiB tail cannot exist any more: the longest is ~32 MiB of entry data (~243,000 entries
# of 100-byte values). After the 1,000,000 keys the tail is wherever the last snapshot left
# it, so extra keys are written (RESTART_LONG_TAIL=1, default) until the tail is ~90% of the
# snapshot interval seen during the load (interval = snapshot_index / snapshots_taken).
#
# Bounded: the load stops at RESTART_LOAD_SECONDS (default 300 s) and each wait at
# RESTART_WAIT_SECONDS (default 120 s): under 10 minutes in all. Scale down with
# RESTART_KEYS=100000.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CHORUSD=$BUILD/bin/chorusd
KEYS=${RESTART_KEYS:-1000000}
VALUE_BYTES=${RESTART_VALUE_BYTES:-100}
SNAPSHOT_ENTRIES=${RESTART_SNAPSHOT_ENTRIES:-1000000000}
LOAD_SECONDS=${RESTART_LOAD_SECONDS:-300}
WAIT_SECONDS=${RESTART_WAIT_SECONDS:-120}
PORT=${RESTART_PORT:-$((24000 + $$ % 1000))}
PEER=$((PORT + 1000))
[ -x "$CHORUSD" ] || { echo "restart_bench: $CHORUSD not built (make BUILD=$BUILD)"; exit 1; }
work=$(mktemp -d /tmp/chorus-restart.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
field() { timeout 5 redis-cli -p "$PORT" info chorus 2>/dev/null | tr -d '\r' | sed -n "s/^$1://p"; }
start_node() {
    "$CHORUSD" --id 1 --cluster "1=127.0.0.1:$PEER" --data-dir "$work/data" \
        --listen "127.0.0.1:$PORT" --peer-listen "127.0.0.1:$PEER" \
        --snapshot-entries "$SNAPSHOT_ENTRIES" --request-timeout-ms 30000 --shards 1 >>"$work/node.log" 2>&1 &
    pid=$!
}
rss() { awk '/VmRSS/ { print $2 / 1024 " MiB" }' "/proc/$pid/status" 2>/dev/null; }

# measure LABEL TARGET — restarts the node and times PING, applied >= TARGET, applied = last.
measure() {
    local label=$1 target=$2 t0 t_ping="" t_target="" t_last="" applied last deadline
    t0=$(ms_now)
    start_node
    deadline=$((t0 + WAIT_SECONDS * 1000))
    while [ "$(ms_now)" -lt "$deadline" ]; do
        kill -0 "$pid" 2>/dev/null || { echo "$label: chorusd exited; log:"; tail -5 "$work/node.log"; return 1; }
        timeout 2 redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG && { t_ping=$(ms_now); break; }
        sleep 0.01
    done
    while [ -n "$t_ping" ] && [ "$(ms_now)" -lt "$deadline" ]; do
        applied=$(field applied_index); last=$(field last_index)
        if [ -n "$applied" ] && [ -z "$t_target" ] && [ "$applied" -ge "$target" ]; then t_target=$(ms_now); fi
        if [ -n "$t_target" ] && [ "$applied" = "$last" ] && [ "$(field role)" = leader ]; then
            t_last=$(ms_now); break
        fi
        sleep 0.02
    done
    echo "$label: $(grep 'restored:' "$work/node.log" | tail -1 | sed 's/^.*info: //')"
    printf '%s: PING after %s ms; applied_index >= %s after %s ms; leader with applied = last_index (%s) after %s ms; RSS %s\n' \
        "$label" "${t_ping:+$((t_ping - t0))}" "$target" "${t_target:+$((t_target - t0))}" "${last:-?}" \
        "${t_last:+$((t_last - t0))}" "$(rss)"
    [ -n "$t_last" ] || { echo "$label: did not catch up within $WAIT_SECONDS s"; return 1; }
}

echo "restart_bench: $KEYS keys, $VALUE_BYTES-byte values, --snapshot-entries $SNAPSHOT_ENTRIES, build $BUILD, data in $work"
start_node
for t in $(seq 1 200); do timeout 2 redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
for t in $(seq 1 100); do [ "$(field role)" = leader ] && break; sleep 0.05; done
# load_range LO HI — SET key:LO..key:HI ("key:%010d" -> the number padded to VALUE_BYTES), in
# RESP, streamed in chunks of RESTART_CHUNK commands (default 1000), one `redis-cli --pipe`
# each (split --filter). Chunks stay small because of a server bug: a pipeline of more than
# 1024 commands arriving at once can leave commands unparsed in the node's input buffer for
# good (tests/cluster/repro_pipeline_hang.sh); with 50,000 the load sometimes stalled.
# Adds to the globals errors and replies; returns the exit status of the pipeline.
CHUNK=${RESTART_CHUNK:-1000}
export PORT
errors=0; replies=0
load_range() {
    local left=$(( LOAD_SECONDS - ($(ms_now) - t0) / 1000 )) rc
    [ "$left" -gt 0 ] || return 124
    awk -v lo="$1" -v hi="$2" -v vb="$VALUE_BYTES" 'BEGIN {
        pad = sprintf("%*s", vb, ""); gsub(/ /, "v", pad)
        for (i = lo; i <= hi; i++) {
            k = sprintf("key:%010d", i); v = substr(i pad, 1, vb)
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(k), k, length(v), v
        } }' | timeout "$left" split -l $((CHUNK * 7)) \
            --filter='redis-cli -p "$PORT" --pipe --pipe-timeout 30 2>&1 | grep -v -e "^All data" -e "^Last reply"' \
            >"$work/load.out" 2>&1
    rc=$?
    errors=$((errors + $(awk '/^errors: / { s += $2 } END { print s + 0 }' "$work/load.out")))
    replies=$((replies + $(awk '/replies: / { s += $NF } END { print s + 0 }' "$work/load.out")))
    grep -v -e '^errors: ' "$work/load.out" >>"$work/load.errors"
    return "$rc"
}
t0=$(ms_now)
load_range 1 "$KEYS"; load_rc=$?
total=$KEYS
if [ "$load_rc" = 0 ] && [ "${RESTART_LONG_TAIL:-1}" = 1 ]; then
    snap=$(field snapshot_index); last=$(field last_index)
    taken=$(timeout 5 redis-cli -p "$PORT" info stats | tr -d '\r' | sed -n 's/^snapshots_taken://p')
    if [ "${taken:-0}" -gt 0 ]; then
        interval=$((snap / taken)); extra=$((interval * 9 / 10 - (last - snap)))
        [ "$extra" -gt 0 ] || extra=$((interval - (last - snap) + interval * 9 / 10))
        echo "load: $KEYS keys, tail $((last - snap)) entries, snapshot interval ~$interval: $extra more keys"
        load_range $((KEYS + 1)) $((KEYS + extra)); load_rc=$?
        total=$((KEYS + extra))
    fi
fi
load_ms=$(( $(ms_now) - t0 ))
[ "$replies" = "$total" ] || echo "load: $replies replies for $total commands (exit $load_rc)"
if [ "$load_rc" != 0 ] || [ "$errors" != 0 ]; then
    echo "load: $errors error replies: $(sort "$work/load.errors" | uniq -c | head -5 | tr '\n' ';')"
    echo "INFO now: $(timeout 5 redis-cli -p "$PORT" info | tr -d '\r' |
        grep -E '^(role|commit_index|applied_index|last_index|snapshot_index|pending_requests|snapshots_taken):' | tr '\n' ' ')"
fi
dbsize=$(timeout 30 redis-cli -p "$PORT" dbsize)
last=$(field last_index)
snap=$(field snapshot_index)
echo "load: exit $load_rc in $load_ms ms ($(( ${dbsize:-0} * 1000 / (load_ms + 1) )) keys/s); dbsize $dbsize; last_index $last; snapshot_index $snap (tail $((last - snap)) entries)"
[ "$dbsize" = "$total" ] || echo "load: incomplete (exit $load_rc): the figures below are for $dbsize keys"
echo "WAL: $(ls "$work/data/wal" | wc -l) segment(s), $(du -sm "$work/data/wal" | cut -f1) MiB on disk;" \
     "LMDB $(du -sm "$work/data/kv" | cut -f1) MiB; snapshots: $(ls "$work/data/snap" | wc -l)"
echo "before the stop: RSS $(rss)"

kill -TERM "$pid"; wait "$pid"; echo "SIGTERM: exit $?"; pid=""
measure "after SIGTERM" "$last" || exit 1
if [ "$dbsize" = "$total" ]; then
    [ "$(timeout 10 redis-cli -p "$PORT" get "key:$(printf %010d "$total")" | cut -c1-20)" != "" ] ||
        echo "WARNING: the last key is missing after the restart"
fi
if [ "${RESTART_KILL:-1}" = 1 ]; then
    last=$(field last_index)
    kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=""
    echo "SIGKILL (last_index $last)"
    measure "after SIGKILL" "$last" || exit 1
fi
echo "restart_bench: done"
