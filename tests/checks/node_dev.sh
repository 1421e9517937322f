#!/usr/bin/env bash
# timeout: 150
# The live view's development controls (--http-dev, dev.c) on real processes, 3 nodes, S = 1:
#  - chorusd refuses --http-dev on a listener that is not loopback;
#  - the guards: GET 405, no X-Chorus-Dev header 403, a foreign Origin 403, a preflight from a
#    loopback origin 204 with CORS, bad or missing seconds 400, an unknown control 404;
#  - pausing the leader as the page does (it pauses, the others drop its messages) makes
#    another node leader; its /events says paused; after the pause it catches up with a
#    write made meanwhile;
#  - a partition of a follower for 60 s ends at once with /dev/heal;
#  - /dev/kill ends the node as SIGKILL does, and the others go on.
cd "$(dirname "$0")/../.."
PORT_BASE=${PORT_BASE:-28400}
. tests/cluster/lib.sh
set -u

http_port() { echo $((PORT_BASE + 5 + $1)); }
url() { echo "http://127.0.0.1:$(http_port "$1")"; }
# dev NODE ACTION [QUERY] — POSTs a control as the page does; prints the status code.
dev() { curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-Chorus-Dev: 1' "$(url "$1")/dev/$2${3:-}"; }
# state NODE EXPR — a Python expression over node NODE's latest state event (s).
state() {
    /usr/bin/python3 - "$(http_port "$1")" "$2" <<'PY'
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
buf = b""
while buf.count(b"event: state\ndata: ") < 1 or not buf.rstrip(b"\n").endswith(b"}"):
    chunk = s.recv(65536)
    if not chunk:
        sys.exit(1)
    buf += chunk
line = buf.split(b"event: state\ndata: ", 1)[1].split(b"\n", 1)[0]
print(eval(sys.argv[2], {"s": json.loads(line)}))
PY
}

"$CHORUSD" --id 1 --cluster "$(cluster_spec 1)" --data-dir "$CLUSTER_DIR/refused" \
    --listen 127.0.0.1:$((PORT_BASE + 50)) --peer-listen 127.0.0.1:$((PORT_BASE + 51)) \
    --http "0.0.0.0:$((PORT_BASE + 52))" --http-dev > "$CLUSTER_DIR/refused.log" 2>&1 &
refused_pid=$!
wait_for 10 eval '! kill -0 $refused_pid 2>/dev/null' || fail "chorusd with --http-dev on 0.0.0.0 kept running"
wait "$refused_pid" && fail "chorusd with --http-dev on 0.0.0.0 exited 0"
grep -q -- "--http-dev needs --http on a loopback address" "$CLUSTER_DIR/refused.log" ||
    fail "no reason given: $(cat "$CLUSTER_DIR/refused.log")"

NODES=3
for i in 1 2 3; do
    NODE_FLAGS="--http 127.0.0.1:$(http_port "$i") --http-dev"
    node_start "$i" || fail "start node $i"
done
NODE_FLAGS=""
leader=$(wait_leader 200) || fail "no leader"
expect_eq "$(state 1 's["dev"]["enabled"]')" True "dev.enabled in /events"

# The guards.
u=$(url 1)
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$u/dev/pause?seconds=5")" 405 "GET /dev/pause"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$u/dev/pause?seconds=5")" 403 "no X-Chorus-Dev"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-Chorus-Dev: 1' \
    -H 'Origin: http://evil.example' "$u/dev/pause?seconds=5")" 403 "a foreign Origin"
pre=$(curl -s -i -X OPTIONS -H 'Origin: http://127.0.0.1:9001' \
    -H 'Access-Control-Request-Method: POST' "$u/dev/pause" | tr -d '\r')
printf '%s\n' "$pre" | head -1 | grep -q '^HTTP/1.1 204' || fail "preflight: $pre"
printf '%s\n' "$pre" | grep -qi '^Access-Control-Allow-Origin: http://127.0.0.1:9001$' || fail "preflight CORS: $pre"
printf '%s\n' "$pre" | grep -qi '^Access-Control-Allow-Headers: X-Chorus-Dev$' || fail "preflight headers: $pre"
for q in "" "?seconds=0" "?seconds=301" "?seconds=x" "?seconds=5&node=9"; do
    expect_eq "$(dev 1 partition "$q")" 400 "partition$q"
done
expect_eq "$(dev 1 nope '?seconds=5')" 404 "an unknown control"
expect_eq "$(state 1 's["dev"]["paused_ms"] + s["dev"]["isolated_ms"]')" 0 "nothing held after refusals"
expect_eq "$(cli 1 ping)" PONG "RESP after the refusals"

# Pause the leader as the page does: another node leads within 10 s.
expect_eq "$(dev "$leader" pause '?seconds=6')" 200 "pause node $leader"
for i in 1 2 3; do
    [ "$i" = "$leader" ] && continue
    expect_eq "$(dev "$i" partition "?seconds=6&node=$leader")" 200 "node $i drops node $leader"
done
paused_ms=$(state "$leader" 's["dev"]["paused_ms"]')
[ "$paused_ms" -gt 0 ] || fail "node $leader's /events does not say paused"
new=$(wait_leader_other_than "$leader" 10) || fail "no other leader within 10 s of pausing node $leader"
echo "node $leader paused (${paused_ms} ms left): node $new leads"
expect_eq "$(cli "$new" set during-pause yes)" OK "a write during the pause"
# After the pause the old leader hears the new term and catches up.
caught_up() { [ "$(cli "$leader" get during-pause 2>/dev/null)" = yes ]; }
wait_for 20 caught_up || fail "node $leader did not catch up after its pause"
expect_eq "$(state "$leader" 's["dev"]["paused_ms"]')" 0 "the pause ended by itself"
echo "node $leader caught up after its pause"

# A partition of a follower for 60 s, ended at once by /dev/heal on every node.
f=$(( new % 3 + 1 )); [ "$f" = "$new" ] && f=$(( f % 3 + 1 ))
for i in 1 2 3; do expect_eq "$(dev "$i" partition "?seconds=60&node=$f")" 200 "partition node $f on node $i"; done
expect_eq "$(state "$f" 's["dev"]["isolated_ms"] > 0')" True "node $f cut off"
expect_eq "$(cli "$new" set during-partition yes)" OK "a write while node $f is cut off"
for i in 1 2 3; do expect_eq "$(dev "$i" heal)" 200 "heal node $i"; done
healed() { [ "$(cli "$f" get during-partition 2>/dev/null)" = yes ]; }
wait_for 15 healed || fail "node $f did not catch up within 15 s of the heal"
expect_eq "$(state "$f" 'len(s["dev"]["dropping_from"]) + s["dev"]["isolated_ms"]')" 0 "healed"
for i in 1 2 3; do node_alive "$i" || fail "node $i died"; done

# /dev/kill: the follower answers, then dies of SIGKILL; the other two still take writes.
expect_eq "$(dev "$f" kill)" 200 "kill node $f"
killed_pid=${NODE_PID[$f]}
dead() { ! kill -0 "$killed_pid" 2>/dev/null; }
wait_for 5 dead || fail "node $f still runs 5 s after /dev/kill"
wait "$killed_pid" 2>/dev/null; rc=$?
expect_eq "$rc" 137 "node $f's exit status (SIGKILL)"
NODE_PID[$f]=""
expect_eq "$(cli "$new" set after-kill yes)" OK "a write after node $f was killed"
echo "node_dev: ok"
