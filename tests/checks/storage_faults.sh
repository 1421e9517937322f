#!/usr/bin/env bash
# storage_faults.sh — a damaged WAL and failing syscalls, on real chorusd processes.
#
#  1. Corruption (3 nodes): a follower is stopped cleanly (SIGTERM); one byte in the payload of
#     a record in the middle of its last segment (followed by records of later writes) is
#     inverted. Restarting must FAIL (non-zero exit) with an error naming the segment file and
#     the offset of that record. With the byte restored it starts and rejoins.
#  2. Torn tail (3 nodes): the leader is killed with SIGKILL under load, the last 8 payload
#     bytes of the last record of its last segment are garbled (once both survivors hold
#     everything committed: that record was synced, and may have counted). It must start, log
#     "torn tail at offset X truncated" for that record, rejoin and serve every acknowledged
#     write; every node must hold every acknowledged write.
#  3. Syscall faults (1 node, strace): chorusd runs under strace (path-filtered to its WAL
#     segment, so LMDB's pwrite64 is not hit) while writers write; the N-th fdatasync fails
#     with EIO, or the N-th pwrite64 fails with ENOSPC (N counts per thread in strace).
#     The node must exit non-zero logging "fdatasync failed" / "write failed". For EIO the
#     bytes of the batch whose fdatasync failed are then zeroed in the segment (the kernel may
#     drop such dirty pages: what the node must assume), for ENOSPC the write never happened;
#     restarted WITHOUT strace, the node must start and serve every write that got +OK.
# The WAL writes with pwrite64 and syncs with fdatasync (strace -f -c on chorusd); new
# segments get a directory fsync. strace and perl are required: missing, the check FAILS. So
# does a run where the fault never hit a batch holding an entry (3 tries), or nothing was
# acknowledged before it. Waits on conditions (acknowledged writes, a process gone), bounded.
# timeout: 300
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
. tests/cluster/storage_lib.sh
set -u

SEED=${SEED:-$$}
RANDOM=$SEED
LOGS=$BUILD/test-logs/storage_faults
EIO_WHEN=${EIO_WHEN:-40}
ENOSPC_WHEN=${ENOSPC_WHEN:-40}
echo "seed $SEED"
command -v strace >/dev/null || { echo "FAIL: strace is not installed (make deps)"; exit 1; }
command -v perl >/dev/null || { echo "FAIL: perl is not installed"; exit 1; }

faults_fail() {
    sl_writers_kill
    [ -n "${STRACE_PID:-}" ] && { kill -9 "$(pgrep -P "$STRACE_PID")" "$STRACE_PID" 2>/dev/null; wait "$STRACE_PID" 2>/dev/null; }
    mkdir -p "$LOGS"
    (cd "$CLUSTER_DIR" && find . -name '*.log' -o -name 'acked*' -o -name 'notexec*' -o -name 'unknown*' \
        -o -name 'check*' -o -name '*.out' -o -name 'writer.err' | tar -cf - -T - 2>/dev/null) | tar -xf - -C "$LOGS"
    echo "logs copied to $LOGS (seed $SEED)"
    fail "$@"
}
now() { date +%T.%N | cut -c1-12; }

# check_nodes DIR NODE... — every node returns every acknowledged write of DIR/acked.
check_nodes() {
    local dir=$1 i; shift
    for i in "$@"; do
        wait_for 10 sl_check_acked "$(client_port "$i")" "$dir/acked" "$dir/check.node$i"
        [ -s "$dir/check.node$i" ] && { head -5 "$dir/check.node$i"
            faults_fail "node $i: $(wc -l <"$dir/check.node$i") acknowledged writes missing or wrong"; }
    done
    return 0
}
# catch_up NODE... — waits until every listed node applied the leader's commit index.
catch_up() {
    local leader commit i
    leader=$(wait_leader 200) || faults_fail "no leader"
    commit=$(info_field "$leader" commit_index)
    for i in "$@"; do sl_wait_applied "$i" "$commit" 150 || faults_fail "node $i did not catch up to $commit"; done
}
# run_foreground NODE SECONDS — runs chorusd for NODE in the foreground (its log appended to
# nodeN.log), killed after SECONDS if it is still running; prints its exit status.
run_foreground() {
    local i=$1 rc=0
    timeout -s KILL "$2" "$CHORUSD" --id "$i" --cluster "$(cluster_spec "$NODES")" \
        --data-dir "$CLUSTER_DIR/node$i" --listen "127.0.0.1:$(client_port "$i")" \
        --peer-listen "127.0.0.1:$(peer_port "$i")" --shards "${SHARDS:-1}" ${NODE_FLAGS:-} \
        >>"$CLUSTER_DIR/node$i.log" 2>&1 || rc=$?
    echo "$rc"
}

# ---- 1. corruption in the middle of a segment: the node must refuse to start ---------------
W=$CLUSTER_DIR/w3
NODE_FLAGS="--request-timeout-ms 2000"
cluster_start 3 || faults_fail "start"
leader=$(wait_leader) || faults_fail "no leader"
sl_writers_start 4 "$W" "$(client_port 1)" "$(client_port 2)" "$(client_port 3)"
# Enough writes that the middle of the victim's segment is followed by records of later ones.
wait_for 30 sl_acked_more_than "$W" 300 || faults_fail "fewer than 300 writes acknowledged in 30 s"
victim=$(( leader % 3 + 1 ))
node_stop "$victim"
echo "$(now) node $victim stopped cleanly (SIGTERM), $(sl_acked_count "$W") acknowledged so far"
seg=$(sl_wal_last_segment "$CLUSTER_DIR/node$victim")
[ -n "$seg" ] || faults_fail "node $victim has no WAL segment"
sl_wal_records "$seg" >"$CLUSTER_DIR/records.corrupt.out"
used=$(awk '$1 == "end" { print $2 }' "$CLUSTER_DIR/records.corrupt.out")
last_write=$(awk '$1 != "end" { w = $4 } END { print w }' "$CLUSTER_DIR/records.corrupt.out")
# The record holding the middle of the used bytes, of a write older than the last one.
read -r rec_off rec_len < <(awk -v mid=$((used / 2)) -v lw="$last_write" \
    '$1 != "end" && $1 + $2 > mid && $4 < lw && $3 == 1 { print $1, $5; exit }' "$CLUSTER_DIR/records.corrupt.out")
[ -n "${rec_off:-}" ] || faults_fail "no entry record found in the middle of $seg (used $used bytes)"
flip=$((rec_off + 24 + rec_len / 2))
orig=$(sl_byte "$seg" "$flip")
sl_flip_byte "$seg" "$flip"
echo "$(now) $(basename "$seg"): used $used bytes; inverted byte $flip (0x$orig -> 0x$(sl_byte "$seg" "$flip")) in the entry record at $rec_off"
rc=$(run_foreground "$victim" 10)
err=$(grep -E 'error: WAL:' "$CLUSTER_DIR/node$victim.log" | tail -1)
echo "exit $rc: $err"
[ "$rc" != 0 ] && [ "$rc" != 137 ] || faults_fail "node $victim started on a corrupt WAL (exit $rc)"
case $err in
    *"$seg: offset $rec_off:"*) ;;
    *) faults_fail "the error does not name $seg and offset $rec_off: '$err'" ;;
esac
sl_flip_byte "$seg" "$flip"
[ "$(sl_byte "$seg" "$flip")" = "$orig" ] || faults_fail "byte not restored"
node_start "$victim" || faults_fail "node $victim does not start with the byte restored"
echo "$(now) byte restored: node $victim started"

# ---- 2. torn tail: SIGKILL the leader under load, garble its last record --------------------
# The leader is killed under load: once writes are acknowledged again with all three up.
acked=$(sl_acked_count "$W")
wait_for 20 sl_acked_more_than "$W" $((acked + 100)) ||
    faults_fail "fewer than 100 writes acknowledged in 20 s after node $victim rejoined"
victim=$(wait_leader 200) || faults_fail "no leader before the torn-tail kill"
node_kill "$victim"
echo "$(now) kill -9 leader $victim under load, $(sl_acked_count "$W") acknowledged so far"
# The garbled record may hold an entry that was committed with this node's vote. A real torn
# write was never synced, so never counted; here it was. So before the restart both survivors
# must hold everything committed (a new leader elected among them, both applied its commit
# index), or this node's shortened log could help elect a node missing a committed entry.
survivors=$(for i in 1 2 3; do [ "$i" != "$victim" ] && echo "$i"; done)
catch_up $survivors
seg=$(sl_wal_last_segment "$CLUSTER_DIR/node$victim")
sl_wal_records "$seg" >"$CLUSTER_DIR/records.torn.out"
created=$(od -An -tu4 -j 24 -N 4 "$seg" | tr -d ' ')
read -r last_off last_len last_wo < <(awk '$1 != "end" { o = $1; l = $5; w = $4 } END { print o, l, w }' \
    "$CLUSTER_DIR/records.torn.out")
[ "$last_wo" -ge "$created" ] || faults_fail "setup: the last record is in the segment's creating write"
garble_at=$((last_off + 24 + last_len - 8))
[ "$last_len" -ge 8 ] || garble_at=$((last_off + 24))
sl_garble "$seg" "$garble_at" 8
echo "$(now) $(basename "$seg"): last record at $last_off (write at $last_wo, payload $last_len); garbled 8 bytes at $garble_at"
node_start "$victim" || faults_fail "node $victim does not start after a torn tail"
torn=$(grep 'torn tail' "$CLUSTER_DIR/node$victim.log" | tail -1)
echo "log: $torn"
# A write is all or nothing at recovery: the whole final write goes, from where it began.
case $torn in
    *"$seg: torn tail at offset $last_wo truncated"*) ;;
    *) faults_fail "node $victim did not log the torn tail at $last_wo (its write's start) of $seg" ;;
esac
acked=$(sl_acked_count "$W")
wait_for 20 sl_acked_more_than "$W" $((acked + 100)) ||
    faults_fail "fewer than 100 writes acknowledged in 20 s after node $victim restarted"
sl_writers_stop "$W"
catch_up 1 2 3
echo "three nodes: $(wc -l <"$W/acked") acknowledged, $(wc -l <"$W/unknown") unknown"
check_nodes "$W" 1 2 3
echo "torn tail: node $victim rejoined; every acknowledged write is on every node"
for i in 1 2 3; do node_kill "$i"; done
mkdir -p "$CLUSTER_DIR/three-data"
mv "$CLUSTER_DIR"/node? "$CLUSTER_DIR"/node?.log "$CLUSTER_DIR/three-data/"

# ---- 3. fdatasync EIO, pwrite64 ENOSPC under strace ----------------------------------------
# strace_run NAME SYSCALL ERRNO WHEN WORD — one run (see the header). The segment exists
# before strace starts (a first run without strace), so that -P can name it. Sets
# FAILED_LEN to the length of the write whose pwrite64 or fdatasync failed.
NODES=1
NODE_FLAGS=""
process_gone() { ! kill -0 "$1" 2>/dev/null; }
strace_node_up_or_gone() { process_gone "$STRACE_PID" || node_answers_ping 1; }
strace_run() {
    local name=$1 syscall=$2 errno=$3 when=$4 word=$5 w=$CLUSTER_DIR/$1 seg rc k out
    out=$CLUSTER_DIR/$name.strace.out
    rm -rf "$CLUSTER_DIR/node1" "$w"; : >"$CLUSTER_DIR/node1.log"
    node_start 1 || faults_fail "$name: first start"
    wait_leader 100 >/dev/null || faults_fail "$name: not leader"
    for k in $(seq 1 20); do echo "SET pre$k $k"; done | cli 1 >/dev/null
    node_stop 1
    seg=$(sl_wal_last_segment "$CLUSTER_DIR/node1")
    # LeakSanitizer cannot run under ptrace (SANITIZE=1 builds): off for this run only.
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
    strace -f -o "$out" -s 1 -P "$seg" -e trace=pwrite64,fdatasync \
        -e "inject=$syscall:error=$errno:when=$when" "$CHORUSD" --id 1 --cluster "$(cluster_spec 1)" \
        --data-dir "$CLUSTER_DIR/node1" --listen "127.0.0.1:$(client_port 1)" \
        --peer-listen "127.0.0.1:$(peer_port 1)" --shards 1 >>"$CLUSTER_DIR/node1.log" 2>&1 &
    STRACE_PID=$!
    wait_for 10 strace_node_up_or_gone || faults_fail "$name: chorusd under strace did not answer in 10 s"
    sl_writers_start 8 "$w" "$(client_port 1)"
    wait_for 20 process_gone "$STRACE_PID" ||
        faults_fail "$name: chorusd still running 20 s after the start (the fault never hit?)"
    wait "$STRACE_PID"; rc=$?
    STRACE_PID=""
    sl_writers_stop "$w"
    echo "$(now) $name ($syscall $errno at call $when of a thread): chorusd exited $rc;" \
         "$(wc -l <"$w/acked") acknowledged, $(wc -l <"$w/unknown") unknown"
    grep -E 'error: ' "$CLUSTER_DIR/node1.log" | tail -1
    [ "$rc" != 0 ] || faults_fail "$name: chorusd exited 0 after an injected failure"
    [ -s "$w/acked" ] || faults_fail "$name: nothing was acknowledged before the fault: no durability to check"
    grep -q "error: .*$word" "$CLUSTER_DIR/node1.log" || faults_fail "$name: no error naming '$word' in the log"
    grep -q 'INJECTED' "$out" || faults_fail "$name: strace injected nothing"
    # The pwrite64 calls of the thread whose call failed, since its last good fdatasync
    # (for ENOSPC: the failed pwrite64 itself, which wrote nothing).
    awk '
        { pid = $1 }
        / fdatasync\(/ && / = 0/ { n[pid] = 0 }
        /pwrite64\(/ && match($0, /[0-9]+, [0-9]+(\) += | <unfinished)/) {
            split(substr($0, RSTART, RLENGTH), a, /[^0-9]+/); len[pid, n[pid]] = a[1]; off[pid, n[pid]] = a[2]; n[pid]++ }
        /INJECTED/ { for (i = 0; i < n[pid]; i++) print off[pid, i], len[pid, i]; exit }' "$out" >"$out.batch"
    [ -s "$out.batch" ] || faults_fail "$name: cannot find the failed write in the strace log"
    FAILED_LEN=$(awk '{ s += $2 } END { print s }' "$out.batch")
    grep -B2 INJECTED "$out" | cut -c1-100
    if [ "$syscall" = fdatasync ]; then
        # What the kernel may do after a failed fdatasync: drop the dirty pages.
        while read -r off len; do
            sl_wal_records "$seg" | awk -v o="$off" -v l="$len" '$1 != "end" && $1 >= o && $1 < o + l {
                t[$3]++ } END { printf "records in the failed batch: %d entries, %d hard states, %d snapshot markers\n", t[1], t[2], t[3] }'
            perl -e 'my ($f, $o, $n) = @ARGV; open(my $fh, "+<:raw", $f) or die; seek($fh, $o, 0);
                     print $fh "\0" x $n; close($fh) or die' "$seg" "$off" "$len"
            echo "$name: zeroed the failed batch's write: $len bytes at $off"
        done <"$out.batch"
    fi
    node_start 1 || faults_fail "$name: restart without strace"
    wait_leader 100 >/dev/null || faults_fail "$name: not leader after restart"
    check_nodes "$w" 1
    echo "$name: restarted without strace, every acknowledged write is present"
    node_stop 1
}
# strace_case NAME SYSCALL ERRNO WHEN WORD — strace_run, again with WHEN+7 (at most 3 runs)
# while the failed batch held only a hard state (48 bytes: no entry could have been lost).
strace_case() {
    local name=$1 when=$4 attempt
    for attempt in 1 2 3; do
        strace_run "$1" "$2" "$3" "$when" "$5"
        [ "$FAILED_LEN" -gt 48 ] && break
        [ "$attempt" = 3 ] && faults_fail "$name: in 3 runs the failed batch never held an entry: no write's durability was tested"
        echo "$name: the failed batch held no entry ($FAILED_LEN bytes): again with when=$((when + 7))"
        when=$((when + 7))
    done
    mkdir -p "$CLUSTER_DIR/$name-data"
    mv "$CLUSTER_DIR/node1" "$CLUSTER_DIR/node1.log" "$CLUSTER_DIR/$name-data/"
}
strace_case fdatasync-eio fdatasync EIO "$EIO_WHEN" "fdatasync failed"
strace_case pwrite-enospc pwrite64 ENOSPC "$ENOSPC_WHEN" "write failed: No space left"
echo "storage_faults: ok"
