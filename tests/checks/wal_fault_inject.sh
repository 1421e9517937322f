#!/usr/bin/env bash
# wal_fault_inject.sh — the WAL under real syscall failures, injected with strace.
#
# Runs `wal_bench --probe DIR N` (one entry per wal_sync; prints "durable I" only after entry
# I's sync returned) while strace makes one fdatasync fail with EIO, one pwrite fail with
# ENOSPC, or the directory fsync of a new segment fail. Each time the WAL must report a fatal
# error (exit 2, the failing call named), must never report durable the entry whose write or
# sync failed, nor anything after it, and a reopen must recover every entry reported durable,
# intact and in order. Skips nothing: a missing binary or strace fails the check.
# timeout: 120
set -euo pipefail
BUILD=${BUILD:-build}
cd "$(dirname "$0")/../.."
bench=$BUILD/bench/wal_bench
[ -x "$bench" ] || { echo "FAIL: $bench not built (run make BUILD=$BUILD)"; exit 1; }
command -v strace >/dev/null || { echo "FAIL: strace is not installed (make deps)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/chorus-wal-fault.XXXXXX")
trap 'rm -rf "$work"' EXIT
failures=0

# run_case NAME PRE_COUNT STRACE_INJECT EXPECT_DURABLE EXPECT_WORD
#   PRE_COUNT entries are written first without faults; then the probe runs under strace
#   for 10 entries and must report exactly EXPECT_DURABLE of them durable before dying.
run_case() {
    local name=$1 pre=$2 inject=$3 expect=$4 word=$5
    local dir=$work/$name out=$work/$name.out rc=0
    if [ "$pre" -gt 0 ]; then "$bench" --probe "$dir" "$pre" >/dev/null; fi
    # LeakSanitizer cannot run under ptrace: in a SANITIZE=1 build it is off for this run only
    # (ASan and UBSan stay on; the unit tests check for leaks).
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
        strace -f -o /dev/null -e "inject=$inject" "$bench" --probe "$dir" 10 >"$out" || rc=$?
    local durable last recovered
    durable=$(grep -c '^durable ' "$out" || true)
    last=$(grep '^durable ' "$out" | tail -1 | awk '{print $2}' || true)
    last=${last:-$pre}
    recovered=$("$bench" --verify "$dir" | awk '/^recovered/ {print $2}')
    local ok=1
    [ "$rc" -eq 2 ] || { echo "$name: exit $rc, want 2 (fatal)"; ok=0; }
    grep -q "^fatal: .*$word" "$out" || { echo "$name: no fatal error naming '$word'"; ok=0; }
    [ "$durable" -eq "$expect" ] || { echo "$name: $durable entries reported durable, want $expect"; ok=0; }
    [ "$last" -eq $((pre + expect)) ] || { echo "$name: last durable $last, want $((pre + expect))"; ok=0; }
    [ -n "$recovered" ] && [ "$recovered" -ge "$last" ] ||
        { echo "$name: recovered ${recovered:-nothing} < reported durable $last"; ok=0; }
    if [ "$ok" -eq 1 ]; then
        echo "ok   $name: fatal after $durable durable, recovered $recovered >= $last"
    else
        failures=$((failures + 1)); sed 's/^/     | /' "$out"
    fi
}

# Every batch is one pwrite + one fdatasync, except the first of a segment: the new segment
# gets two pwrites (header + checkpoint, batch), one fdatasync, a rename and a directory fsync.
run_case fdatasync-eio        0 fdatasync:error=EIO:when=4     3 "fdatasync failed"
run_case fdatasync-eio-first  0 fdatasync:error=EIO:when=1     0 "fdatasync failed"
run_case pwrite-enospc        0 pwrite64:error=ENOSPC:when=5   3 "write failed: No space left"
run_case dir-fsync-eio        0 fsync:error=EIO:when=1         0 "directory fsync failed"
run_case restart-then-eio     5 fdatasync:error=EIO:when=3     2 "fdatasync failed"
run_case restart-then-enospc  5 pwrite64:error=ENOSPC:when=2   1 "write failed"

if [ "$failures" -ne 0 ]; then echo "wal_fault_inject: $failures case(s) failed"; exit 1; fi
echo "wal_fault_inject: all cases passed"
