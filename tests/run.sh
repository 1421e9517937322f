#!/usr/bin/env bash
# Runs every test of chorus and ends with one summary line, "tests: N passed, N failed".
#  - each cmocka binary under $BUILD/tests counts its own test cases; every source
#    tests/unit/test_*.c and tests/scenarios/test_*.c must have its binary (a missing one fails);
#  - each script under tests/checks/*.sh counts as one test (simulator seeds, real clusters...).
# Nothing can pass by accident:
#  - every binary and script runs under a time limit (TEST_BIN_TIMEOUT_S, default 120 s;
#    TEST_SCRIPT_TIMEOUT_S, default 300 s, or a line "# timeout: N" in a script's first 20
#    lines; all times TEST_TIMEOUT_SCALE); a test that hangs is killed with its whole process
#    group and fails, by name;
#  - a binary that exits before cmocka's summary, or runs fewer cases than it announced,
#    counts the missing cases as failed;
#  - whatever a test leaves running in its process group is killed before the next test, and
#    an interrupt (SIGINT, SIGTERM) of this script stops the running test's group too;
#  - tests/expected-min holds floors (cmocka cases, binaries, scripts): fewer fails the suite,
#    so an empty or half-built test tree cannot report "0 failed".
# Exits non-zero when anything failed.
set -u
# Tests read no input; a closed standard input would let a socket become fd 0, which libuv
# refuses to close (CI may start us with none).
exec </dev/null
BUILD=${BUILD:-build}
export BUILD
cd "$(dirname "$0")/.."
# The cmocka lines parsed below are its standard output format.
export CMOCKA_MESSAGE_OUTPUT=STDOUT
# TEST_TIMEOUT_SCALE multiplies every limit (an integer): sanitizer builds run several times
# slower (make asan could pass 3).
SCALE=${TEST_TIMEOUT_SCALE:-1}
for v in "$SCALE" "${TEST_BIN_TIMEOUT_S:-120}" "${TEST_SCRIPT_TIMEOUT_S:-300}"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] ||
        { echo "run.sh: TEST_TIMEOUT_SCALE, TEST_BIN_TIMEOUT_S and TEST_SCRIPT_TIMEOUT_S take positive integers"; exit 2; }
done
BIN_TIMEOUT_S=$(( ${TEST_BIN_TIMEOUT_S:-120} * SCALE ))
SCRIPT_TIMEOUT_S=${TEST_SCRIPT_TIMEOUT_S:-300}
# After the time limit's SIGTERM, this long for cleanup traps before SIGKILL.
KILL_AFTER_S=10
FLOOR_FILE=tests/expected-min
passed=0; failed=0; failures=()
cases_run=0; binaries_run=0; scripts_run=0
log_dir=$BUILD/test-logs; mkdir -p "$log_dir"
suite_start=$(date +%s)

# run_limited LIMIT_S LOG COMMAND... — runs COMMAND under timeout(1) with its output in LOG and
# sets RUN_RC. timeout puts the command in a process group of its own (its pid), which is
# killed at the limit; whatever the test left behind in that group (a chorusd, a load
# generator) is killed when it ends, so that it cannot disturb the next test. The command
# runs in the background so that an interrupt of this script reaches the trap below at once.
RUN_GROUP=""
run_limited() {
    local limit=$1 log=$2 left; shift 2
    timeout -k "$KILL_AFTER_S" "$limit" "$@" >"$log" 2>&1 &
    RUN_GROUP=$!
    wait "$RUN_GROUP"; RUN_RC=$?
    # Zombies are dead already (waiting for a parent to reap them): not counted.
    left=$(ps -e -o pgid=,stat= | awk -v g="$RUN_GROUP" '$1 == g && $2 !~ /^Z/' | wc -l)
    if [ "$left" -gt 0 ]; then
        echo "note: $left process(es) left running by $(basename "${!#}"); killed" | tee -a "$log"
        kill -KILL -- "-$RUN_GROUP" 2>/dev/null
    fi
    RUN_GROUP=""
}
# Interrupted (Ctrl-C, or SIGTERM from CI), the running test's whole group goes too.
on_interrupt() {
    [ -n "$RUN_GROUP" ] && kill -TERM -- "-$RUN_GROUP" 2>/dev/null
    echo "tests: interrupted"
    exit 130
}
trap on_interrupt INT TERM

# record_failure NAME — remembers a failed test for the closing list.
record_failure() { failures+=("$1"); }

# count_first_numbers LOG REGEX — the sum, over LOG's lines matching REGEX, of the first number
# on each line (cmocka's "[==========] Running 12 test(s).").
count_first_numbers() {
    grep -E "$2" "$1" | sed -E 's/[^0-9]*([0-9]+).*/\1/' | awk '{ s += $1 } END { print s + 0 }'
}

# describe_exit RC LIMIT_S ELAPSED_S — words for an exit status. timeout(1) exits 124 after its
# SIGTERM and 137 when its SIGKILL was needed; 137 is also any other SIGKILL (the OOM killer),
# so the elapsed time decides.
describe_exit() {
    if { [ "$1" = 124 ] || [ "$1" = 137 ]; } && [ "$3" -ge "$2" ]; then
        echo "TIMED OUT after $2 s (killed)"
    elif [ "$1" -gt 128 ]; then
        echo "exit $1 (signal $(( $1 - 128 )))"
    else
        echo "exit $1"
    fi
}

# run_binary PATH — runs one cmocka binary under its time limit and adds its cases.
# cmocka prints "Running N test(s)." before a group, "[       OK ] NAME" for each case that
# passed and "[  FAILED  ] F test(s)" after a group; a case announced but neither passed nor
# failed (the binary crashed or was killed) counts as failed, and so does a binary that
# printed no group at all or exited non-zero with every case passed.
run_binary() {
    local bin=$1 name log start rc announced p f note=""
    name=$(basename "$bin"); log=$log_dir/$name.log
    start=$(date +%s)
    run_limited "$BIN_TIMEOUT_S" "$log" "$bin"; rc=$RUN_RC
    announced=$(count_first_numbers "$log" '^\[==========\] Running [0-9]+ test')
    p=$(grep -c '^\[       OK \] ' "$log")
    f=$(count_first_numbers "$log" '^\[  FAILED  \] [0-9]+ test')
    if [ "$announced" -gt $((p + f)) ]; then
        note="; $((announced - p - f)) announced case(s) never finished"
        f=$((announced - p))
    fi
    if [ "$announced" -eq 0 ]; then note="; printed no cmocka group"; f=$((f + 1)); fi
    if [ "$rc" -ne 0 ]; then
        note="$note; $(describe_exit "$rc" "$BIN_TIMEOUT_S" $(( $(date +%s) - start )))"
        [ "$f" -eq 0 ] && f=1
    fi
    cases_run=$((cases_run + announced)); binaries_run=$((binaries_run + 1))
    passed=$((passed + p)); failed=$((failed + f))
    echo "$name: $p passed, $f failed ($(( $(date +%s) - start ))s)$note"
    if [ "$f" -gt 0 ]; then
        record_failure "$name"
        grep -E 'FAIL|ERROR|error|Assert|assert' "$log" | head -20
        tail -5 "$log"
    fi
}

# script_timeout SCRIPT — its "# timeout: N" line (first 20 lines), else the default.
script_timeout() {
    local t
    t=$(head -n 20 "$1" | sed -nE 's/^# timeout: ([0-9]+)[[:space:]]*$/\1/p' | head -n 1)
    echo $(( ${t:-$SCRIPT_TIMEOUT_S} * SCALE ))
}

# run_script PATH — one check script under its time limit: one test, passed on exit 0.
run_script() {
    local check=$1 name log start rc limit
    name=$(basename "$check" .sh); log=$log_dir/check-$name.log
    limit=$(script_timeout "$check")
    start=$(date +%s)
    run_limited "$limit" "$log" bash "$check"; rc=$RUN_RC
    scripts_run=$((scripts_run + 1))
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1)); echo "check $name: ok ($(( $(date +%s) - start ))s)"
    else
        failed=$((failed + 1)); record_failure "check-$name"
        echo "check $name: FAILED, $(describe_exit "$rc" "$limit" $(( $(date +%s) - start ))) ($(( $(date +%s) - start ))s); last lines:"
        tail -20 "$log"
    fi
}

# Every test source must have been built; binaries without a source (stale) run too.
declare -A seen_bin=()
for src in tests/unit/test_*.c tests/scenarios/test_*.c; do
    [ -f "$src" ] || continue
    bin=$BUILD/tests/$(basename "$src" .c)
    seen_bin[$bin]=1
    if [ -x "$bin" ]; then
        run_binary "$bin"
    else
        failed=$((failed + 1)); record_failure "missing-$(basename "$bin")"
        echo "$(basename "$bin"): FAILED, not built from $src (expected $bin)"
    fi
done
for bin in "$BUILD"/tests/*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    [ -n "${seen_bin[$bin]:-}" ] && continue
    run_binary "$bin"
done

for check in tests/checks/*.sh; do
    [ -f "$check" ] || continue
    run_script "$check"
done

# floor KEY — the number after KEY in the floor file (empty when absent).
floor() { awk -v k="$1" '$1 == k && $2 ~ /^[0-9]+$/ { print $2 }' "$FLOOR_FILE" 2>/dev/null; }
check_floor() {
    local key=$1 have=$2 want
    want=$(floor "$key")
    if [ -z "$want" ]; then
        failed=$((failed + 1)); record_failure "expected-min"
        echo "expected-min: FAILED, no '$key N' line in $FLOOR_FILE"
    elif [ "$have" -lt "$want" ]; then
        failed=$((failed + 1)); record_failure "expected-min-$key"
        echo "expected-min: FAILED, $have $key, fewer than the floor $want ($FLOOR_FILE)"
    else
        echo "expected-min: $have $key >= $want"
    fi
}
check_floor cmocka_cases "$cases_run"
check_floor binaries "$binaries_run"
check_floor scripts "$scripts_run"

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]} (logs in $log_dir)"
echo "elapsed: $(( $(date +%s) - suite_start )) s"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
