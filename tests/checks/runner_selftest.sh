#!/usr/bin/env bash
# runner_selftest.sh — tests/run.sh itself must fail when a test did not really pass. Runs a
# copy of it over small fake test trees (fake cmocka binaries are shell scripts that print
# cmocka's lines) and checks its summary line and exit status for:
#   a sound tree (passes: the runner is not failing everything), a binary that crashes after
#   announcing 3 cases, a binary that hangs (time limit), a source without its binary, a
#   binary that exits non-zero with every case passed, a script that hangs past its own
#   "# timeout: N" (and the background process it started is killed with it), an empty tree,
#   and counts below the floors of expected-min.
# timeout: 120
set -u
cd "$(dirname "$0")/../.."
RUNNER=$PWD/tests/run.sh
# The fake trees' limits are exact seconds: the scale this suite itself runs under (make asan
# sets 3) is not theirs.
unset TEST_TIMEOUT_SCALE
work=$(mktemp -d /tmp/chorus-runner-selftest.XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# tree NAME — a fresh fake repository root: tests/run.sh (a copy), tests/unit, tests/checks,
# build/tests; prints its path.
tree() {
    local root=$work/$1
    mkdir -p "$root/tests/unit" "$root/tests/scenarios" "$root/tests/checks" "$root/build/tests"
    cp "$RUNNER" "$root/tests/run.sh"
    echo "$root"
}
# fake_binary ROOT NAME BODY — tests/unit/NAME.c (empty) and build/tests/NAME running BODY.
fake_binary() {
    : >"$1/tests/unit/$2.c"
    printf '#!/usr/bin/env bash\n%s\n' "$3" >"$1/build/tests/$2"
    chmod +x "$1/build/tests/$2"
}
ok_cases() { # ok_cases N — what cmocka prints for N passing cases
    printf 'echo "[==========] Running %d test(s)."\n' "$1"
    for i in $(seq 1 "$1"); do printf 'echo "[ RUN      ] case%d"; echo "[       OK ] case%d"\n' "$i" "$i"; done
    printf 'echo "[==========] %d test(s) run."; echo "[  PASSED  ] %d test(s)."\n' "$1" "$1"
}
floors() { printf 'cmocka_cases %s\nbinaries %s\nscripts %s\n' "$2" "$3" "$4" >"$1/tests/expected-min"; }

# run ROOT [ENV...] — runs the copy; sets out, rc and last (its last line).
run() {
    local root=$1; shift
    out=$(cd "$root" && env BUILD=build "$@" timeout 60 bash tests/run.sh 2>&1); rc=$?
    last=$(printf '%s\n' "$out" | tail -n 1)
}
# expect NAME SUMMARY RC [TEXT] — the last line is SUMMARY, the status RC, the output has TEXT.
expect() {
    local before=$failures
    [ "$last" = "$2" ] || fail "$1: last line '$last', want '$2'"
    [ "$rc" = "$3" ] || fail "$1: exit $rc, want $3"
    [ -z "${4:-}" ] || grep -qF -- "$4" <<<"$out" || fail "$1: no '$4' in the output"
    if [ "$failures" -gt "$before" ]; then printf '%s\n' "$out" | sed 's/^/    | /' | tail -n 15
    else echo "$1: ok"; fi
}

# 1. A sound tree passes, and the floors are reported.
r=$(tree sound)
fake_binary "$r" test_good "$(ok_cases 3)"
printf '#!/usr/bin/env bash\nexit 0\n' >"$r/tests/checks/good.sh"
floors "$r" 3 1 1
run "$r"; expect sound "tests: 4 passed, 0 failed" 0 "expected-min: 3 cmocka_cases >= 3"

# 2. A binary that announces 3 cases, passes one and dies (an assert: abort).
r=$(tree crash)
fake_binary "$r" test_crash 'echo "[==========] Running 3 test(s)."; echo "[ RUN      ] a"; echo "[       OK ] a"; echo "[ RUN      ] b"; kill -ABRT $$'
floors "$r" 3 1 0
run "$r"; expect crash "tests: 1 passed, 2 failed" 1 "2 announced case(s) never finished"

# 3. A binary that hangs: killed at its time limit, failed by name.
r=$(tree hang)
fake_binary "$r" test_hang 'echo "[==========] Running 1 test(s)."; sleep 100'
floors "$r" 1 1 0
run "$r" TEST_BIN_TIMEOUT_S=1; expect hang "tests: 0 passed, 1 failed" 1 "test_hang: 0 passed, 1 failed"
grep -qF "TIMED OUT after 1 s" <<<"$out" || fail "hang: no 'TIMED OUT after 1 s'"

# 4. A test source whose binary was not built.
r=$(tree missing)
fake_binary "$r" test_good "$(ok_cases 2)"
: >"$r/tests/unit/test_unbuilt.c"
floors "$r" 2 1 0
run "$r"; expect missing "tests: 2 passed, 1 failed" 1 "test_unbuilt: FAILED, not built"

# 5. Every case passed, but the binary exited non-zero (a leak checker, an atexit assert).
r=$(tree exitcode)
fake_binary "$r" test_exit "$(ok_cases 2); exit 3"
floors "$r" 2 1 0
run "$r"; expect exitcode "tests: 2 passed, 1 failed" 1 "exit 3"

# 6. A script that hangs past its "# timeout: 1"; the process it started in the background
#    must not outlive it.
r=$(tree script-hang)
printf '#!/usr/bin/env bash\n# timeout: 1\nsleep 300 &\necho $! >"%s/bg.pid"\nwait\n' "$r" >"$r/tests/checks/stuck.sh"
floors "$r" 0 0 1
run "$r"; expect script-hang "tests: 0 passed, 1 failed" 1 "check stuck: FAILED, TIMED OUT after 1 s"
# TEST_TIMEOUT_SCALE multiplies the script's own limit.
run "$r" TEST_TIMEOUT_SCALE=2; expect script-hang-scaled "tests: 0 passed, 1 failed" 1 "check stuck: FAILED, TIMED OUT after 2 s"
bg=$(cat "$r/bg.pid" 2>/dev/null)
[ -n "$bg" ] || fail "script-hang: the script did not run"
# Killed, it may linger as a zombie until its new parent reaps it: that is not alive.
bg_state=$( [ -n "$bg" ] && ps -o stat= -p "$bg" 2>/dev/null)
case $bg_state in
    ""|Z*) ;;
    *) fail "script-hang: its background process $bg survived ($bg_state)"; kill "$bg" ;;
esac

# 7. An empty tree (nothing built, no scripts) fails on the floors.
r=$(tree empty)
floors "$r" 1 1 1
run "$r"; expect empty "tests: 0 passed, 3 failed" 1 "0 cmocka_cases, fewer than the floor 1"

# 8. Fewer cases than the floor (a test file lost half its cases), and no floor file at all.
r=$(tree floor)
fake_binary "$r" test_good "$(ok_cases 2)"
floors "$r" 5 1 0
run "$r"; expect floor "tests: 2 passed, 1 failed" 1 "2 cmocka_cases, fewer than the floor 5"
rm "$r/tests/expected-min"
run "$r"; expect no-floor-file "tests: 2 passed, 3 failed" 1 "no 'cmocka_cases N' line"

# alive PID — the process exists and is not a zombie (killed, waiting to be reaped).
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null); [ -n "$st" ] && [ "${st#Z}" = "$st" ]; }

# 9. A script that passes but leaves a process running: it is killed before the next test.
r=$(tree leftover)
printf '#!/usr/bin/env bash\nsleep 300 >/dev/null 2>&1 &\necho $! >"%s/left.pid"\nexit 0\n' "$r" >"$r/tests/checks/leaky.sh"
floors "$r" 0 0 1
run "$r"; expect leftover "tests: 1 passed, 0 failed" 0 "note: 1 process(es) left running by leaky.sh; killed"
left=$(cat "$r/left.pid" 2>/dev/null)
[ -n "$left" ] && alive "$left" && { fail "leftover: process $left still running"; kill "$left"; }

# 10. SIGTERM to the runner (CI cancelling, or Ctrl-C from a terminal) stops the running test's
#     whole process group at once, not after its time limit.
r=$(tree interrupt)
printf '#!/usr/bin/env bash\nsleep 300 &\necho $! >"%s/int.pid"\nwait\n' "$r" >"$r/tests/checks/long.sh"
floors "$r" 0 0 1
(cd "$r" && BUILD=build exec bash tests/run.sh >"$r/int.out" 2>&1) &
runner=$!
wait_s=0
until [ -s "$r/int.pid" ] || [ "$wait_s" -ge 100 ]; do sleep 0.1; wait_s=$((wait_s + 1)); done
kill -TERM "$runner"
wait "$runner"; rc=$?
[ "$rc" = 130 ] || fail "interrupt: runner exited $rc, want 130"
grep -q "tests: interrupted" "$r/int.out" || fail "interrupt: no 'tests: interrupted' line"
bg=$(cat "$r/int.pid" 2>/dev/null)
[ -n "$bg" ] || fail "interrupt: the script did not start"
# The group gets SIGTERM; give it a moment to go (bounded: 5 s).
for i in $(seq 1 50); do [ -n "$bg" ] && alive "$bg" || break; sleep 0.1; done
[ -n "$bg" ] && alive "$bg" && { fail "interrupt: the test's process $bg survived the runner"; kill "$bg"; }
[ "$failures" = 0 ] && echo "interrupt: ok"

echo "runner_selftest: $failures failure(s)"
[ "$failures" -eq 0 ]
