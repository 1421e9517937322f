#!/usr/bin/env bash
# timeout: 180
# Client authentication on real processes (issue 16): 3 nodes, S = 4, R = 2 (so some commands
# are relayed to a node holding the shard, over the peer links, which need no client auth),
# started with --requirepass-file. Checks, against Debian's redis-server started with the same
# password: the replies to missing, wrong and right passwords byte for byte (NOAUTH, WRONGPASS,
# AUTH's and HELLO's errors, HELLO AUTH); then that wrong passwords are rate-limited (a
# connection's input is held after each failure; the node's bucket holds new unauthenticated
# connections while an authenticated one is served); then that the password appears nowhere:
# not in INFO, CONFIG GET, CLIENT LIST, the logs, nor in /proc/PID/cmdline with --requirepass.
cd "$(dirname "$0")/../.."
PORT_BASE=${PORT_BASE:-27100}
. tests/cluster/lib.sh
set -u

PW="s3cret-$$-pw"
printf '%s\n' "$PW" >"$CLUSTER_DIR/password"
chmod 600 "$CLUSTER_DIR/password"
export REDISCLI_AUTH="$PW" # lib.sh's cli and start-up PING authenticate with it
REDIS_PORT=$((PORT_BASE + 50))
reply_is_raw() { [ "$(timeout 2 redis-cli -p "$1" ping 2>/dev/null)" = "$2" ]; }

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --requirepass "$PW" \
    --dir "$CLUSTER_DIR" >"$CLUSTER_DIR/redis.log" 2>&1 &
NODE_PID[redis]=$! # cluster_cleanup kills it with the nodes
NODE_FLAGS="--requirepass-file $CLUSTER_DIR/password --replicas 2" SHARDS=4 cluster_start 3 ||
    fail "cluster did not start"
wait_for 10 reply_is_raw "$REDIS_PORT" PONG || fail "redis-server did not start"
wait_leader 200 >/dev/null || fail "no leader"

# 1. Unauthenticated replies, byte for byte against Redis. Each sequence runs on a fresh
# connection to each server; every reply is read whole (RESP), however long it is held.
/usr/bin/python3 - "$(client_port 1)" "$REDIS_PORT" "$PW" <<'PY' || fail "replies differ from redis-server's"
import socket, sys
chorus, redis, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()

def read_reply(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise SystemExit("connection closed mid-reply: %r" % line)
    kind, rest = line[:1], line[1:-2]
    if kind in b"+-:,#_(":
        return line
    if kind in b"$=!":
        n = int(rest)
        return line if n < 0 else line + f.read(n + 2)
    if kind in b"*%~>|":
        n = int(rest) * (2 if kind in b"%|" else 1)
        return line + b"".join(read_reply(f) for _ in range(max(n, 0)))
    raise SystemExit("unexpected reply %r" % line)

def run(port, commands):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = s.makefile("rb")
    out = []
    for c in commands:
        s.sendall(c)
        out.append(read_reply(f))
    s.close()
    return out

sequences = [
    [b"GET a\r\n", b"PING\r\n", b"*2\r\n$3\r\nSET\r\n$1\r\na\r\n", b"FOO\r\n", b"GET\r\n",
     b"MULTI\r\n", b"CLIENT ID\r\n", b"CONFIG GET save\r\n", b"INFO\r\n", b"QUIT\r\n"],
    [b"AUTH\r\n", b"AUTH a b c\r\n", b"AUTH wrong\r\n", b"AUTH default wrong\r\n",
     b"AUTH Default " + pw + b"\r\n", b"AUTH bob " + pw + b"\r\n", b"PING\r\n",
     b"AUTH " + pw + b"\r\n", b"PING\r\n", b"AUTH wrong\r\n", b"PING\r\n"],
    [b"HELLO\r\n", b"HELLO 3\r\n", b"HELLO 2 SETNAME x\r\n", b"HELLO 3 AUTH default wrong\r\n",
     b"HELLO 3 AUTH default\r\n", b"HELLO 4\r\n", b"HELLO x\r\n", b"HELLO 2 FOO\r\n",
     b"HELLO 2 AUTH default " + pw + b" SETNAME bad\x01name\r\n", b"GET a\r\n",
     b"AUTH default " + pw + b"\r\n", b"DEL a\r\n"],
]
failed = False
for seq in sequences:
    a, b = run(chorus, seq), run(redis, seq)
    for cmd, x, y in zip(seq, a, b):
        if x != y:
            failed = True
            print("DIFF %r: chorus %r, redis %r" % (cmd, x[:200], y[:200]))
# HELLO AUTH that succeeds: a map in RESP3 with proto 3, then the connection is in.
for port in (chorus, redis):
    hello, ping = run(port, [b"HELLO 3 AUTH default " + pw + b"\r\n", b"PING\r\n"])
    if not hello.startswith(b"%7\r\n") or b"$5\r\nproto\r\n:3\r\n" not in hello or ping != b"+PONG\r\n":
        failed = True
        print("HELLO AUTH on %d: %r then %r" % (port, hello[:100], ping))
sys.exit(1 if failed else 0)
PY
echo "replies: identical to redis-server's"

# 2. The relay and forwarding between nodes need no client auth: every shard's keys, set
# through node 1 (which holds replicas of some shards only) and read on nodes 2 and 3.
for i in $(seq 1 40); do echo "SET key:$i v$i"; done | cli_load 1 || fail "load through node 1"
for n in 2 3; do
    expect_eq "$(cli "$n" get key:17)" v17 "GET on node $n"
    expect_eq "$(cli "$n" dbsize)" 40 "DBSIZE on node $n"
done
expect_eq "$(unset REDISCLI_AUTH; cli 2 get key:17 2>&1)" "NOAUTH Authentication required." "no password"

# 3a. Rate limiting per connection: four wrong passwords then PING, in one pipeline. Each
# failure holds the connection's next command (100, 200, 400, 800 ms), so the PING is answered
# 1.5 s later at the earliest; Redis answers at once.
elapsed_ms() {
    /usr/bin/python3 - "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
start = time.monotonic()
s.sendall(b"AUTH w1\r\nAUTH w2\r\nAUTH w3\r\nAUTH w4\r\nPING\r\n")
lines = [f.readline() for _ in range(5)]
assert lines[:4] == [b"-WRONGPASS invalid username-password pair or user is disabled.\r\n"] * 4, lines
assert lines[4] == b"-NOAUTH Authentication required.\r\n", lines
print(int((time.monotonic() - start) * 1000))
PY
}
before=$(info_stat 1 acl_access_denied_auth)
ms=$(elapsed_ms "$(client_port 1)") || fail "pipelined wrong passwords"
[ "$ms" -ge 1400 ] || fail "4 wrong passwords took $ms ms; expected the holds to add up to 1.5 s"
echo "rate limit: 4 wrong passwords, then PING after $ms ms"
after=$(info_stat 1 acl_access_denied_auth)
[ "$after" -ge $((before + 4)) ] || fail "acl_access_denied_auth went from $before to $after"

# 3b. The node's bucket (32 wrong passwords, 16/s): 64 connections each try one wrong
# password. The bucket runs dry, so the last ones are held, for 1.5 s at the least; an
# authenticated connection keeps being served meanwhile (its PING is answered before the
# last WRONGPASS).
/usr/bin/python3 - "$(client_port 1)" "$PW" <<'PY' || fail "the node's bucket of wrong passwords"
import socket, sys, time, selectors
port, pw = int(sys.argv[1]), sys.argv[2].encode()
admin = socket.create_connection(("127.0.0.1", port), timeout=30)
af = admin.makefile("rb")
admin.sendall(b"AUTH " + pw + b"\r\n")
assert af.readline() == b"+OK\r\n"
conns = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(64)]
start = time.monotonic()
for c in conns:
    c.sendall(b"AUTH wrong\r\n")
admin.sendall(b"PING\r\n")
assert af.readline() == b"+PONG\r\n"
pong_at = time.monotonic()
last = start
for c in conns:
    line = c.makefile("rb").readline()
    assert line == b"-WRONGPASS invalid username-password pair or user is disabled.\r\n", line
    last = max(last, time.monotonic())
print("bucket: 64 wrong passwords answered over %.2f s; the authenticated PING after %.2f s"
      % (last - start, pong_at - start))
assert last - start >= 1.5, "the bucket did not hold the connections"
assert pong_at < last, "the authenticated connection waited for the bucket"
PY

# 4. The password is nowhere to be read: INFO, CONFIG GET, CLIENT LIST, the logs, and the
# command line of a node started with --requirepass.
for n in 1 2 3; do
    out="$(cli "$n" info all) $(cli "$n" config get requirepass) $(cli "$n" config get '*')"
    out="$out $(cli "$n" client list)"
    case $out in *"$PW"*) fail "the password is in node $n's INFO/CONFIG/CLIENT LIST" ;; esac
done
node_stop 3
NODE_FLAGS="--requirepass $PW --replicas 2" SHARDS=4 node_start 3 || fail "restart with --requirepass"
tr '\0' ' ' <"/proc/${NODE_PID[3]}/cmdline" | grep -qF -- "$PW" && fail "the password is in /proc/PID/cmdline"
expect_eq "$(cli 3 get key:5)" v5 "GET after restart with --requirepass"
grep -qF -- "$PW" "$CLUSTER_DIR"/node*.log && fail "the password is in a log"
echo "node_auth: ok"
