#!/usr/bin/env bash
# timeout: 90
# Protected mode on real processes (issue 16). Inside a network namespace of its own (so the
# host's interfaces are not touched) one end of a veth pair carries 10.216.0.1, which is not a
# loopback address: a connection from it to a node listening there is what a client from
# another host looks like. A node with no password and protected mode on must answer such a
# connection with the -DENIED error (saying how to fix it) and close it, while a loopback
# client is served; --protected-mode no, or a password (then -NOAUTH, not -DENIED), serve it.
cd "$(dirname "$0")/../.."
set -u
BUILD=${BUILD:-build}
CHORUSD=$BUILD/bin/chorusd
PORT=${PORT_BASE:-27200}
NS="h16pm$$"
WORK=$(mktemp -d /tmp/chorus-protected.XXXXXX)
PID=""
cleanup() {
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
    wait 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$WORK/node.log" 2>/dev/null; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (a network namespace)"
ip netns add "$NS" || fail "ip netns add"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up || fail "lo up"
in_ns ip link add d0 type veth peer name d1 || fail "veth pair"
in_ns ip addr add 10.216.0.1/24 dev d0 || fail "address"
in_ns ip link set d0 up || fail "d0 up"
in_ns ip link set d1 up || fail "d1 up"

# start FLAGS... — one node listening on 10.216.0.1 and 127.0.0.1 is not possible at once
# (one --listen), so the remote side is 10.216.0.1 and the loopback client is checked on a
# second node of the same flags listening on 127.0.0.1.
start() {
    local addr=$1; shift
    rm -rf "$WORK/data"
    # Not through in_ns: `function &` forks a subshell, and $! would not be chorusd.
    ip netns exec "$NS" "$CHORUSD" --id 1 --cluster "1=127.0.0.1:$((PORT + 10))" --shards 1 \
        --data-dir "$WORK/data" --listen "$addr:$PORT" --peer-listen "127.0.0.1:$((PORT + 10))" \
        "$@" >>"$WORK/node.log" 2>&1 &
    PID=$!
    local i
    for i in $(seq 1 200); do
        in_ns bash -c "exec 3<>/dev/tcp/$addr/$PORT" 2>/dev/null && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    fail "node on $addr did not start"
}
stop() { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=""; }
# ask ADDR COMMAND... — the raw first reply line to COMMAND from inside the namespace.
ask() {
    local addr=$1; shift
    in_ns timeout 10 /usr/bin/python3 - "$addr" "$PORT" "$*" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=8)
s.sendall(sys.argv[3].encode() + b"\r\n")
data = b""
while not data.endswith(b"\r\n"):
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
# After -DENIED the node closes (at the latest 2 s later): recv gives b"". A served
# connection stays open: recv times out.
s.settimeout(4)
try:
    rest = s.recv(10)
except socket.timeout:
    rest = None
print(data.decode().rstrip("\r\n") + ("|closed" if rest == b"" else "|open"))
PY
}

start 10.216.0.1
reply=$(ask 10.216.0.1 PING)
case $reply in
    "-DENIED chorus is running in protected mode"*"--protected-mode no"*"|closed") ;;
    *) fail "a non-loopback client without a password got '$reply'" ;;
esac
stat=$(in_ns redis-cli -h 10.216.0.1 -p "$PORT" info stats 2>&1 | tr -d '\r')
case $stat in *DENIED*) ;; *) fail "redis-cli was not refused: $stat" ;; esac
stop
start 127.0.0.1
expect=$(ask 127.0.0.1 PING)
[ "$expect" = "+PONG|open" ] || fail "a loopback client got '$expect'"
stop
start 10.216.0.1 --protected-mode no
expect=$(ask 10.216.0.1 PING)
[ "$expect" = "+PONG|open" ] || fail "--protected-mode no: got '$expect'"
stop
start 10.216.0.1 --requirepass pw-$$
expect=$(ask 10.216.0.1 PING)
[ "$expect" = "-NOAUTH Authentication required.|open" ] || fail "with a password: got '$expect'"
expect=$(ask 10.216.0.1 AUTH pw-$$)
[ "$expect" = "+OK|open" ] || fail "AUTH from a non-loopback client: got '$expect'"
stop
echo "node_protected_mode: ok"
