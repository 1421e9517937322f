#!/usr/bin/env bash
# Runs every test of chorus and ends with one summary line, "tests: N passed, N failed".
#  - each cmocka binary under $BUILD/tests counts its own test cases;
#  - each script under tests/checks/*.sh counts as one test (simulator seeds, real clusters...).
# Exits non-zero when anything failed.
set -u
# Tests read no input; a closed standard input would let a socket become fd 0, which libuv
# refuses to close (CI may start us with none).
exec </dev/null
BUILD=${BUILD:-build}
export BUILD
cd "$(dirname "$0")/.."
passed=0; failed=0; failures=()
log_dir=$BUILD/test-logs; mkdir -p "$log_dir"

for bin in "$BUILD"/tests/*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin")
    start=$(date +%s)
    "$bin" >"$log_dir/$name.log" 2>&1; rc=$?
    p=$(grep -Eo '\[  PASSED  \] [0-9]+' "$log_dir/$name.log" | awk '{s+=$NF} END {print s+0}')
    f=$(grep -Eo '\[  FAILED  \] [0-9]+ test' "$log_dir/$name.log" | awk '{s+=$(NF-1)} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    echo "$name: $p passed, $f failed ($(( $(date +%s) - start ))s)"
    if [ "$f" -gt 0 ]; then failures+=("$name"); sed -n '1,200p' "$log_dir/$name.log" | grep -E 'FAIL|ERROR|error|Assert|assert' | head -20; fi
done

for check in tests/checks/*.sh; do
    [ -f "$check" ] || continue
    name=$(basename "$check" .sh)
    start=$(date +%s)
    if bash "$check" >"$log_dir/check-$name.log" 2>&1; then
        passed=$((passed + 1)); echo "check $name: ok ($(( $(date +%s) - start ))s)"
    else
        failed=$((failed + 1)); failures+=("check-$name")
        echo "check $name: FAILED ($(( $(date +%s) - start ))s); last lines:"; tail -20 "$log_dir/check-$name.log"
    fi
done

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]} (logs in $log_dir)"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
