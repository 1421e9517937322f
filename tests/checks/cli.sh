#!/usr/bin/env bash
# The `chorus` command-line client against a real 3-node cluster: every subcommand, its output
# and its exit status (0 ok, 1 error reply, 2 connection or usage error), the status table,
# and short bench runs of every workload.
cd "$(dirname "$0")/../.."
. tests/cluster/lib.sh
set -u

CHORUS=$BUILD/bin/chorus
cluster_start 3 || fail "start"
leader=$(wait_leader) || fail "no leader elected"
P1=$(client_port 1); P2=$(client_port 2); P3=$(client_port 3)
nodes="127.0.0.1:$P1,127.0.0.1:$P2,127.0.0.1:$P3"

# run EXPECTED_RC EXPECTED_OUTPUT ARGS...: runs chorus, checks exit status and stdout.
run() {
    local want_rc=$1 want_out=$2 out rc
    shift 2
    out=$(timeout 20 "$CHORUS" "$@" 2>/dev/null); rc=$?
    [ "$rc" = "$want_rc" ] || fail "chorus $*: exit $rc, expected $want_rc (output: $out)"
    [ "$out" = "$want_out" ] || fail "chorus $*: printed '$out', expected '$want_out'"
}

run 0 OK -p "$P1" set greeting hello
run 0 hello -p "$P2" get greeting
run 0 hello -h localhost -p "$P3" get greeting
run 0 "(nil)" -p "$P1" get missing
run 0 "(integer) 1" -p "$P2" cas greeting hello bye
run 0 "(integer) 0" -p "$P3" cas greeting hello again
run 0 bye -p "$P1" get greeting
run 0 "(integer) 1" -p "$P1" incr counter
run 0 "(integer) 2" -p "$P3" incr counter
run 0 OK -p "$P2" set spaced "two words"
run 0 "two words" -p "$P2" get spaced
run 1 "(error) ERR value is not an integer or out of range" -p "$P1" incr greeting
run 0 "(integer) 2" -p "$P2" del greeting counter missing
run 0 "(nil)" -p "$P3" get counter
run 0 PONG -p "$P1" ping
# usage errors
run 2 "" -p "$P1" get
run 2 "" -p "$P1" set onlykey
run 2 "" -p "$P1" cas a b
run 2 "" -p "$P1" frobnicate x
run 2 "" -p 0 get x
run 2 "" -p "$P1" bench -c 0
run 2 "" -p "$P1" bench --workload nope
run 2 "" -p "$P1" status --nodes nonsense
run 2 ""
# connection errors: nothing listens on this port
dead=$((PORT_BASE + 19))
run 2 "" -p "$dead" get x
out=$(timeout 20 "$CHORUS" -p "$dead" status); rc=$?
[ "$rc" = 2 ] || fail "status of a dead node: exit $rc, expected 2"
echo "$out" | grep -q "DOWN (connection refused)" || fail "status of a dead node: $out"

# status without --nodes: the queried node, then "?" for the others.
out=$(timeout 20 "$CHORUS" -p "$P1" status) || fail "status exit $?"
echo "$out"
[ "$(echo "$out" | grep -c '^[123] ')" = 3 ] || fail "status should list 3 members"
[ "$(echo "$out" | grep -Ec '^[123] +\? ')" = 2 ] || fail "status without --nodes: two unknown rows"
# status with --nodes: three rows, exactly one leader, all in the same term, the right leader.
out=$(timeout 20 "$CHORUS" status --nodes "$nodes") || fail "status --nodes exit $?"
echo "$out"
[ "$(echo "$out" | grep -Ec '^[123] +127\.0\.0\.1:')" = 3 ] || fail "status --nodes: 3 member rows"
[ "$(echo "$out" | grep -c ' leader ')" = 1 ] || fail "status --nodes: exactly one leader"
[ "$(echo "$out" | grep -Ec ' follower ')" = 2 ] || fail "status --nodes: two followers"
echo "$out" | grep -q "^leader: node $leader " || fail "status names leader $leader"
[ "$(echo "$out" | awk '$1 ~ /^[123]$/ {print $5}' | sort -u | wc -l)" = 1 ] \
    || fail "status --nodes: members disagree on the term"

# bench: every workload runs, reports throughput and percentiles, no errors.
for workload in set get mixed cas incr all; do
    out=$(timeout 60 "$CHORUS" bench -c 4 -n 400 -k 20 --workload "$workload" --nodes "$nodes") \
        || fail "bench --workload $workload exit $?"
    echo "$out" | grep -q '^throughput: 400 ok' || fail "bench $workload: $out"
    echo "$out" | grep -q 'p99.9' || fail "bench $workload: no percentiles: $out"
    echo "$out" | grep -q '^errors: 0 ' || fail "bench $workload: errors: $out"
done
out=$(timeout 30 "$CHORUS" -p "$P2" bench -c 3 -t 1 -d 100 --workload mixed --read-ratio 0.9) \
    || fail "bench -t exit $?"
echo "$out"
echo "$out" | grep -Eq '^throughput: [1-9][0-9]* ok' || fail "bench -t 1: nothing succeeded: $out"
# bench --history writes a history that chorus-lincheck reads and accepts.
timeout 60 "$CHORUS" bench -c 5 -n 500 -k 3 --workload all --nodes "$nodes" \
    --history "$CLUSTER_DIR/h.jsonl" >/dev/null || fail "bench --history exit $?"
ops=$(wc -l <"$CLUSTER_DIR/h.jsonl")
[ "$ops" -ge 500 ] || fail "the history holds $ops operations, fewer than the 500 of the bench"
out=$(timeout 60 "$BUILD/bin/chorus-lincheck" "$CLUSTER_DIR/h.jsonl") || fail "history not linearizable: $out"
echo "$out"
case $out in "linearizable ($ops operations,"*) ;; *) fail "chorus-lincheck did not check all $ops operations: $out" ;; esac

# A node down: status still prints the others, marks it DOWN and exits 1.
down=1; [ "$down" = "$leader" ] && down=2
node_kill "$down"
out=$(timeout 20 "$CHORUS" status --nodes "$nodes"); rc=$?
echo "$out"
[ "$rc" = 1 ] || fail "status with a node down: exit $rc, expected 1"
echo "$out" | grep -q "127.0.0.1:$(client_port "$down") .*DOWN (connection refused)" \
    || fail "status does not show node $down as down"
echo "cli: ok"
