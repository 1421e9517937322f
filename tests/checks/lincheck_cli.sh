#!/usr/bin/env bash
# Drives chorus-lincheck over the hand-written histories of tests/lincheck/ and checks each
# verdict, the exit code, and for violations the lines of the operations reported:
#   ok_*.jsonl        linearizable, exit 0
#   bad_*.jsonl       NOT linearizable, exit 1, exactly the lines listed below
#   malformed_*.jsonl rejected with "line 2: ...", exit 3
# plus stdin ("-"), several files at once (worst status wins), budgets (exit 2) and bad usage.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
tool=$BUILD/bin/chorus-lincheck
dir=tests/lincheck
[ -x "$tool" ] || { echo "missing $tool (build first)"; exit 1; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The lines each violation must report (the minimal set), space-separated.
declare -A expected_lines=(
    [bad_stale_read]="2 3"
    [bad_never_written]="2"
    [bad_lost_write]="3 4"
    [bad_inverted_order]="3 4 5"
    [bad_cas_impossible]="2"
    [bad_cas_overwritten]="2 3"
    [bad_incr_duplicate]="1 2"
    [bad_incr_on_string]="2"
    [bad_unknown_put_cannot_explain]="3 4"
    [bad_read_before_write_called]="1"
    [bad_counter_stale_read]="2 3"
    [bad_counter_gap_unfilled]="2"
    [bad_stale_read_after_del]="2 3"
    [bad_queue_lost_element]="2 3"
    [bad_queue_delivered_twice]="2 3"
    [bad_set_stale_read]="3 4"
)

run() { # run FILE... ; sets out, err, rc
    out=$("$tool" "$@" 2>/tmp/lincheck_cli_err.$$); rc=$?
    err=$(cat /tmp/lincheck_cli_err.$$); rm -f /tmp/lincheck_cli_err.$$
}

count=0
for file in "$dir"/*.jsonl; do
    name=$(basename "$file" .jsonl)
    run "$file"
    count=$((count + 1))
    case $name in
    ok_*)
        [ $rc -eq 0 ] || fail "$name: exit $rc, want 0"
        [[ $out == linearizable* ]] || fail "$name: output '$out'" ;;
    bad_*)
        [ $rc -eq 1 ] || fail "$name: exit $rc, want 1"
        [[ $out == "NOT linearizable"* ]] || fail "$name: output '$out'"
        lines=$(grep -o '^  line [0-9]*' <<<"$out" | awk '{print $2}' | xargs)
        want=${expected_lines[$name]:-}
        [ -n "$want" ] || fail "$name: no expected lines in this script"
        [ "$lines" = "$want" ] || fail "$name: reported lines '$lines', want '$want'" ;;
    malformed_*)
        [ $rc -eq 3 ] || fail "$name: exit $rc, want 3"
        [[ $err == *"line 2: "* ]] || fail "$name: error '$err' lacks 'line 2: '" ;;
    *) fail "$name: unknown prefix" ;;
    esac
done
[ $count -ge 20 ] || fail "only $count histories found"

run - <"$dir/bad_stale_read.jsonl"
[ $rc -eq 1 ] || fail "stdin: exit $rc, want 1"
run "$dir/ok_issue_example.jsonl" "$dir/bad_lost_write.jsonl"
[ $rc -eq 1 ] || fail "ok+bad: exit $rc, want 1"
[[ $out == *"ok_issue_example.jsonl: linearizable"* ]] || fail "ok+bad: output '$out'"
run "$dir/bad_lost_write.jsonl" "$dir/malformed_json.jsonl"
[ $rc -eq 3 ] || fail "bad+malformed: exit $rc, want 3"
run --memory-mb 0.001 "$dir/ok_issue_example.jsonl"
[ $rc -eq 2 ] || fail "memory budget: exit $rc, want 2"
[[ $out == unknown* ]] || fail "memory budget: output '$out'"
run --timeout 5 "$dir/ok_issue_example.jsonl"
[ $rc -eq 0 ] || fail "--timeout 5: exit $rc, want 0"
run --timeout
[ $rc -eq 3 ] || fail "--timeout without a value: exit $rc, want 3"
run "$dir/no_such_file.jsonl"
[ $rc -eq 3 ] || fail "missing file: exit $rc, want 3"
run
[ $rc -eq 3 ] || fail "no file: exit $rc, want 3"
printf '' | { out=$("$tool" - 2>&1); rc=$?; [ $rc -eq 0 ] || echo "FAIL: empty stdin: exit $rc"; } | grep FAIL && failures=$((failures + 1))

echo "lincheck_cli: $count histories, $failures failures"
[ $failures -eq 0 ]
