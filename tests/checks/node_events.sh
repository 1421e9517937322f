#!/usr/bin/env bash
# timeout: 150
# GET /events (--http), the live view's server-sent-events stream, on real processes: 3 nodes,
# S = 64 (so that a state event is large enough to fill a stalled reader's socket quickly).
#  - framing: 200, text/event-stream, CORS for the page, "retry:", then a topology event and
#    state events every ~250 ms, each one data line of JSON with the fields the page reads;
#  - the bound on subscribers: 16 are served, the 17th is answered 503, and a slot freed by a
#    subscriber that leaves is taken again;
#  - a subscriber that never reads is dropped (its socket reaches EOF) while another one keeps
#    getting events and the node keeps serving RESP;
#  - the page: GET / and its files, with their content types; a path not served is 404.
cd "$(dirname "$0")/../.."
PORT_BASE=${PORT_BASE:-28200}
. tests/cluster/lib.sh
set -u

http_port() { echo $((PORT_BASE + 5 + $1)); }
SHARDS=64
NODES=3
for i in 1 2 3; do
    NODE_FLAGS="--http 127.0.0.1:$(http_port "$i")"
    node_start "$i" || fail "start node $i"
done
NODE_FLAGS=""
all_led() { local i n=0; for i in 1 2 3; do n=$((n + $(info_field "$i" groups_leading))); done
    [ "$n" -ge 64 ]; }
wait_for 30 all_led || fail "not every shard has a leader after 30 s"

# The page and its files.
url="http://127.0.0.1:$(http_port 1)"
for f in /:text/html /index.html:text/html /view.js:text/javascript /view.css:text/css; do
    path=${f%%:*} want=${f#*:}
    got=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$url$path")
    case $got in "200 $want"*) ;; *) fail "GET $path: $got, wanted 200 $want" ;; esac
done
curl -s "$url/" | grep -q '<script src="/view.js">' || fail "GET / is not the page"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$url/nope.js")" 404 "GET /nope.js"

# Framing and content: the head, the retry line, a topology event, then 8 state events.
/usr/bin/python3 - "$(http_port 1)" <<'PY' || fail "/events framing"
import json, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
buf = b""
def more():
    global buf
    chunk = s.recv(65536)
    if not chunk:
        sys.exit("the stream ended")
    buf += chunk
while b"\r\n\r\n" not in buf:
    more()
head, buf = buf.split(b"\r\n\r\n", 1)
lines = head.decode().split("\r\n")
if lines[0] != "HTTP/1.1 200 OK":
    sys.exit("status: " + lines[0])
headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
if headers.get("content-type") != "text/event-stream":
    sys.exit("content type: %r" % headers.get("content-type"))
if headers.get("access-control-allow-origin") != "*" or "content-length" in headers:
    sys.exit("headers: %r" % headers)
def event():
    while b"\n\n" not in buf:
        more()
    return block()
def block():
    global buf
    text, buf = buf.split(b"\n\n", 1)
    return text.decode("utf-8")
first = event()
if first != "retry: 2000":
    sys.exit("first block: %r" % first)
events, started = [], time.time()
while len(events) < 9:
    lines = event().split("\n")
    if len(lines) != 2 or not lines[0].startswith("event: ") or not lines[1].startswith("data: "):
        sys.exit("a block that is not one event line and one data line: %r" % lines)
    events.append((lines[0][7:], json.loads(lines[1][6:])))
elapsed = time.time() - started
if events[0][0] != "topology" or any(name != "state" for name, _ in events[1:]):
    sys.exit("event names: %s" % [name for name, _ in events])
topo = events[0][1]
if [n["id"] for n in topo["nodes"]] != [1, 2, 3] or len(topo["shards"]) != 64 or topo["slots"] != 16384:
    sys.exit("topology: %s" % json.dumps(topo)[:300])
if topo["shards"][0]["first_slot"] != 0 or topo["shards"][-1]["last_slot"] != 16383:
    sys.exit("shard slots")
for _, st in events[1:]:
    if st["node"] != 1 or st["shards"] != 64:
        sys.exit("state header: %s" % json.dumps(st)[:200])
    ids = [g["id"] for g in st["groups"]]
    if ids != list(range(64)) + [64]: # R = N = 3: every shard here, then the meta group
        sys.exit("groups: %s" % ids)
    for g in st["groups"]:
        for k in ("role", "term", "leader", "commit", "applied", "persisted", "last", "members"):
            if k not in g:
                sys.exit("group without %s: %s" % (k, g))
        if g["applied"] > g["commit"] or g["role"] not in ("follower", "pre-candidate", "candidate", "leader"):
            sys.exit("group: %s" % g)
    for k in ("commands", "syncs", "synced_entries", "clients", "pending_requests"):
        if k not in st["stats"]:
            sys.exit("stats without %s" % k)
    seqs = [m["seq"] for m in st["samples"]]
    if not seqs or seqs != sorted(set(seqs)) or len(seqs) > 32:
        sys.exit("samples: %s" % seqs)
    for m in st["samples"]:
        if m["type"] in ("node-beat", "node-heartbeats", "propose", "propose-resp", "proxy",
                         "proxy-resp") or m["from"] not in (2, 3) or m["group"] > 64:
            sys.exit("a sample: %s" % m)
    lat = st["latency"]
    if len(lat["counts"]) != len(lat["bounds"]) + 1 or sorted(lat["bounds"]) != lat["bounds"]:
        sys.exit("latency: %s" % lat)
    if st.get("moves_total") != 0 or st.get("moves") != []:
        sys.exit("rebalancer moves on a cluster at its placement: %s" % st.get("moves"))
    if len(st["shard_leaders"]) != 64 or sorted(l["id"] for l in st["peers"]["links"]) != [2, 3]:
        sys.exit("shard leaders or links: %s" % json.dumps(st)[:300])
times = [st["now_ms"] for _, st in events[2:]]
gaps = [b - a for a, b in zip(times, times[1:])]
if min(gaps) < 150 or max(gaps) > 1500:
    sys.exit("state events %s ms apart" % gaps)
if not st["peers"]["received_by_type"].get("node-beat"):
    sys.exit("no node beats counted: %s" % st["peers"]["received_by_type"])
print("framing ok: topology + 8 states in %.1f s, %d bytes each" % (elapsed, len(json.dumps(st))))
PY

# 16 subscribers are served, the 17th is refused with 503, RESP answers meanwhile; once one
# leaves, its slot is taken again.
/usr/bin/python3 - "$(http_port 1)" "$(client_port 1)" <<'PY' || fail "subscriber bound"
import socket, subprocess, sys, time
port, resp_port = int(sys.argv[1]), sys.argv[2]
def subscribe():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    head = b""
    while b"\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            break
        head += chunk
    return s, head.split(b"\r\n", 1)[0].decode()
subs = []
for i in range(16):
    s, status = subscribe()
    if status != "HTTP/1.1 200 OK":
        sys.exit("subscriber %d: %s" % (i + 1, status))
    subs.append(s)
s, status = subscribe()
if status != "HTTP/1.1 503 Service Unavailable":
    sys.exit("the 17th: %s" % status)
s.close()
pong = subprocess.run(["redis-cli", "-p", resp_port, "ping"], capture_output=True, timeout=5)
if pong.stdout.strip() != b"PONG":
    sys.exit("no PONG with 16 subscribers")
subs.pop().close()
deadline = time.time() + 5
while True:
    s, status = subscribe()
    if status == "HTTP/1.1 200 OK":
        break
    s.close()
    if time.time() > deadline:
        sys.exit("a freed slot was not taken again within 5 s: %s" % status)
    time.sleep(0.05)
print("16 subscribers served, the 17th refused with 503, a freed slot taken again")
for s in subs:
    s.close()
PY

# A subscriber that never reads (and keeps its receive buffer small) is dropped: the node logs
# it, and its socket then reaches EOF. Another subscriber reads throughout and must keep
# getting state events; the node keeps serving RESP.
/usr/bin/python3 - "$(http_port 1)" "$(client_port 1)" "$CLUSTER_DIR/node1.log" <<'PY' || fail "stalled subscriber"
import socket, subprocess, sys, time
port, resp_port, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
stalled = socket.socket()
stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
stalled.connect(("127.0.0.1", port))
stalled.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
reader = socket.create_connection(("127.0.0.1", port), timeout=5)
reader.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
start, states, tail = time.time(), 0, b""
def dropped():
    with open(log, "rb") as f:
        return b"dropping a subscriber that does not read" in f.read()
while not dropped():
    if time.time() - start > 40:
        sys.exit("the stalled subscriber was not dropped within 40 s")
    chunk = tail + reader.recv(1 << 20)
    if not chunk:
        sys.exit("the reading subscriber's stream ended")
    states += chunk.count(b"event: state\n")
    tail = chunk[-16:]
waited = time.time() - start
stalled.settimeout(5)
try:
    while stalled.recv(1 << 20):
        pass
except ConnectionResetError:
    pass
except socket.timeout:
    sys.exit("the dropped subscriber's socket did not reach EOF")
if states < 4:
    sys.exit("the reading subscriber got %d state events meanwhile" % states)
reader.settimeout(5)
if b"event: state" not in reader.recv(1 << 20) + reader.recv(1 << 20):
    sys.exit("the reader stopped getting events")
pong = subprocess.run(["redis-cli", "-p", resp_port, "ping"], capture_output=True, timeout=5)
if pong.stdout.strip() != b"PONG":
    sys.exit("no PONG after the drop")
print("stalled subscriber dropped after %.1f s; the reader got %d states meanwhile" % (waited, states))
PY
for i in 1 2 3; do node_alive "$i" || fail "node $i died"; done
echo "node_events: ok"
