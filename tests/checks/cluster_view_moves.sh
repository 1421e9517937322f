#!/usr/bin/env bash
# timeout: 300
# Replica moves as the watchers see them (issue 14: "moves in flight once those exist"; the
# rebalancer of docs/membership.md), on real processes: a sharded cluster (S = 8, R = 3, Raft,
# --http on every node) grows from 3 to 4 nodes. Node 4 joins with --http-dev and cuts itself
# off from its peers (/dev/partition) before `chorus cluster add`, so that the first move to it
# stays in flight (its learner cannot catch up) while three observers, in one Python process,
# must each see the moves:
#   - /metrics of every node, parsed with Prometheus's own parser (python3-prometheus-client),
#     polled throughout: chorus_rebalance_moves > 0 on the old nodes;
#   - GET /events of every node: a state event's "moves" lists (shard, from, to) for every move,
#     each to node 4 from an old node, and the same moves as CLUSTER MEMBERS' move: lines;
#   - the page in headless Chromium (watching all 4 nodes): a row of the moves table per move
#     of the stream, and a dashed arc on the ring per move (screenshot view-move.png).
# Then node 4 is healed and the moves run; once the cluster is balanced (every node has the
# topology of 4 nodes, the same placement, no move), all three must return to nothing: gauges 0
# on every node, empty "moves" in every stream, "no moves" on the page and no dashed arc
# (screenshot view-moves-done.png); and the counters must have risen while the moves ran:
# chorus_rebalance_replicas_created_total on node 4 and _deleted_total over the old nodes, by at
# least the number of moves the plan had, each seen above its start while moves were left.
# The screenshots are kept in $BUILD/artifacts/. Waits on conditions, never on sleeps.
cd "$(dirname "$0")/../.." || exit 1
. tests/cluster/lib.sh
SHARDS=8
. tests/cluster/membership_lib.sh
. tests/cluster/browser_lib.sh

browser_require prometheus_client.parser
# Client ports are PORT_BASE + 1..4 and peer ports + 11..14: the HTTP ports go between.
http_port() { echo $((PORT_BASE + 5 + $1)); }
ARTIFACTS=$BUILD/artifacts
mkdir -p "$ARTIFACTS"
FLAGS="--replicas 3 --snapshot-entries 200"

NODES=3
for i in 1 2 3; do
    NODE_FLAGS="$FLAGS --http 127.0.0.1:$(http_port "$i")"
    node_start "$i" || fail "start node $i"
done
NODES_UP="1 2 3"
wait_for 30 all_verified || fail "the meta group did not verify the topology on every node"
balanced 3 || fail "a new cluster is not balanced"
# A few hundred entries a shard, past --snapshot-entries: a new replica gets a snapshot.
bulk_load 2400 1

log "node 4 joins (--http-dev) and is cut off from its peers"
NODE_FLAGS=$FLAGS JOIN_FLAGS="--http 127.0.0.1:$(http_port 4) --http-dev" join_start 4 2 ||
    fail "node 4 (--join) did not start"
expect_eq "$(dev_post "127.0.0.1:$(http_port 4)" "/dev/partition?seconds=120")" 200 "cutting node 4 off"

READY=$CLUSTER_DIR/observer-ready SEEN=$CLUSTER_DIR/observer-seen BALANCED=$CLUSTER_DIR/balanced
/usr/bin/python3 - "$(for i in 1 2 3 4; do http_port "$i"; done | paste -sd,)" \
    "$(for i in 1 2 3 4; do client_port "$i"; done | paste -sd,)" "$ARTIFACTS" "$CLUSTER_DIR" \
    "$READY" "$SEEN" "$BALANCED" "$SHARDS" <<'PY' >"$CLUSTER_DIR/observer.out" 2>&1 &
import json, os, signal, subprocess, sys, threading, time, urllib.request
from prometheus_client.parser import text_string_to_metric_families
sys.path.insert(0, "tests/cluster")
import chorus_browser

http_ports = sys.argv[1].split(",")
resp_ports = sys.argv[2].split(",")
artifacts, cluster_dir, ready, seen_file, balanced = sys.argv[3:8]
shards = int(sys.argv[8])
nodes = [1, 2, 3, 4]
lock = threading.Lock()
# Stopped by the shell (a failure there): the browser is closed on the way out.
signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by the shell"))

# The metrics poller: every node's /metrics about 5 times a second, parsed; each round is kept.
rounds = []  # [{node: {"moves":, "runnable":, "created":, "deleted":}}]
def metrics_of(node):
    url = "http://127.0.0.1:%s/metrics" % http_ports[node - 1]
    with urllib.request.urlopen(url, timeout=3) as r:
        text = r.read().decode("utf-8")
    want = {"chorus_rebalance_moves": "moves", "chorus_rebalance_moves_runnable": "runnable",
            "chorus_rebalance_replicas_created_total": "created",
            "chorus_rebalance_replicas_deleted_total": "deleted"}
    got = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in want and not s.labels:
                got[want[s.name]] = int(s.value)
    if len(got) != len(want):
        raise ValueError("node %d: /metrics lacks %s" % (node, set(want.values()) - set(got)))
    return got
def poll_metrics():
    while True:
        one = {}
        for n in nodes:
            try:
                one[n] = metrics_of(n)
            except OSError:
                pass  # a node too busy to answer in 3 s: this round goes without it
        with lock:
            rounds.append((time.time(), one))
        time.sleep(0.2)

# The stream of every node: its latest state's moves, and every move ever listed.
latest = {}      # node -> (moves_total, [(shard, from, to, running)])
listed = set()   # (shard, from, to) seen in any state
def follow(node):
    url = "http://127.0.0.1:%s/events" % http_ports[node - 1]
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                name = None
                for raw in r:
                    line = raw.decode("utf-8").rstrip("\n")
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: ") and name == "state":
                        st = json.loads(line[6:])
                        moves = [(m["shard"], m["from"], m["to"], m["running"]) for m in st["moves"]]
                        with lock:
                            latest[node] = (st["moves_total"], moves)
                            listed.update(m[:3] for m in moves)
        except OSError:
            time.sleep(0.2)  # the stream ended or timed out: subscribe again

for target, args in [(poll_metrics, ())] + [(follow, (n,)) for n in nodes]:
    threading.Thread(target=target, args=args, daemon=True).start()

def members_moves(node):
    out = subprocess.run(["redis-cli", "-p", resp_ports[node - 1], "cluster", "members"],
                         capture_output=True, text=True, timeout=5).stdout
    moves = set()
    for line in out.splitlines():
        if line.startswith("move:"):
            f = dict(kv.split("=", 1) for kv in line[5:].strip().split(","))
            moves.add((int(f["shard"]), int(f["from"]), int(f["to"])))
    return moves

driver = chorus_browser.start(os.path.join(cluster_dir, "chromium-profile"))
def observed():
    with lock:
        return "streams: %s; last metrics: %s" % (latest, rounds[-1] if rounds else None)
wait_until = chorus_browser.waiter(driver, os.path.join(artifacts, "view-moves-failed.png"),
                                   observed)

# What the page shows of moves, read in one script (it redraws every 250 ms).
def page_moves():
    return driver.execute_script("""
        const rows = [...document.querySelectorAll('#moves tr[data-shard]')].map(r =>
            [+r.dataset.shard, +r.dataset.from, +r.dataset.to, r.dataset.running === 'true']);
        const arcs = [...document.querySelectorAll('#ring path[data-move-shard]')].filter(p =>
            p.getAttribute('stroke-dasharray')).map(p => +p.dataset.moveShard);
        const s = document.getElementById('summary');
        return {rows: rows, arcs: arcs, none: document.getElementById('moves').innerText,
                up: +s.dataset.nodesUp};""")

try:
    driver.set_page_load_timeout(20)
    driver.get("http://127.0.0.1:%s/?nodes=%s" % (http_ports[0], ",".join(http_ports)))

    # Before: no move anywhere, and the counters' starting points.
    def quiet():
        p = page_moves()
        with lock:
            last = rounds[-1][1] if rounds else {}
            streams = dict(latest)
        return (p["up"] == 4 and not p["rows"] and not p["arcs"] and "no moves" in p["none"] and
                len(last) == 4 and all(m["moves"] == 0 for m in last.values()) and
                len(streams) == 4 and all(t == 0 and not l for t, l in streams.values()))
    wait_until(30, "the page, the streams and /metrics of 4 nodes show no move", quiet)
    with lock:
        base = rounds[-1][1]
    open(ready, "w").close()
    print("before: no move; counters created/deleted %s" %
          {n: (m["created"], m["deleted"]) for n, m in base.items()})

    # During: node 4 cannot catch up, so the plan stays as recorded at the add.
    def in_flight():
        p = page_moves()
        with lock:
            gauge = max((m["moves"] for _, one in rounds for n, m in one.items() if n != 4), default=0)
            streams = {n: latest[n] for n in (1, 2, 3) if n in latest}
        listed_now = {n: set(m[:3] for m in l) for n, (t, l) in streams.items()}
        if gauge == 0 or not listed_now.get(1) or not p["rows"]:
            return None
        moves = listed_now[1]
        if any(to != 4 or frm not in (1, 2, 3) or not 0 <= s < shards for s, frm, to in moves):
            sys.exit("moves in node 1's stream that are not from an old node to node 4: %s" % moves)
        if any(len(l) != t for t, l in streams.values()):
            return None  # moves_total and the list must agree (fewer than 64 here)
        members = members_moves(1)
        page_rows = set(tuple(r[:3]) for r in p["rows"])
        # Every observer names the same moves: the plan is the topology's, and no move ends
        # while node 4 is cut off (a first move may still be starting: then look again).
        if members != moves or page_rows != moves or set(p["arcs"]) != {s for s, _, _ in moves}:
            return None
        if not any(r[3] for r in p["rows"]):
            return None  # the first move is runnable, so the page must show one in flight
        return moves, gauge
    moves, gauge = wait_until(90, "every observer shows the planned moves to node 4", in_flight)
    driver.save_screenshot(os.path.join(artifacts, "view-move.png"))
    planned = len(moves)
    print("in flight: %d moves %s in /metrics (gauge %d), the streams, CLUSTER MEMBERS and the "
          "page (rows and dashed arcs)" % (planned, sorted(moves), gauge))
    if gauge != planned:
        sys.exit("chorus_rebalance_moves %d, the stream lists %d moves" % (gauge, planned))
    open(seen_file, "w").close()

    # After: the shell heals node 4 and waits until the cluster is balanced.
    deadline = time.time() + 200
    while not os.path.exists(balanced):
        if time.time() > deadline:
            sys.exit("the shell never said the cluster was balanced")
        time.sleep(0.1)
    def all_clear():
        p = page_moves()
        with lock:
            last = rounds[-1][1] if rounds else {}
            streams = dict(latest)
        return (not p["rows"] and not p["arcs"] and "no moves" in p["none"] and len(last) == 4 and
                all(m["moves"] == 0 and m["runnable"] == 0 for m in last.values()) and
                all(t == 0 and not l for t, l in streams.values()))
    wait_until(30, "no move left on the page, in the streams and in /metrics", all_clear)
    driver.save_screenshot(os.path.join(artifacts, "view-moves-done.png"))
    with lock:
        history = list(rounds)
        streamed = set(listed)
    end = history[-1][1]
    created = end[4]["created"] - base[4]["created"]
    deleted = sum(end[n]["deleted"] - base[n]["deleted"] for n in (1, 2, 3))
    print("after: no move; node 4 created %d replicas, nodes 1-3 deleted %d; %d moves streamed "
          "in all" % (created, deleted, len(streamed)))
    if created < planned or deleted < planned:
        sys.exit("the counters rose by %d created, %d deleted: fewer than the %d moves" %
                 (created, deleted, planned))
    # Rising while the moves ran: a round where moves were left and the counter had moved.
    def seen_rising(counter, owners):
        return any(any(one[n]["moves"] > 0 for n in one) and
                   sum(one[n][counter] - base[n][counter] for n in owners if n in one) > 0
                   for _, one in history if all(n in one for n in owners))
    if planned >= 2 and not seen_rising("created", (4,)):
        sys.exit("node 4's created counter never rose while moves were left")
    if planned >= 2 and not seen_rising("deleted", (1, 2, 3)):
        sys.exit("the deleted counters never rose while moves were left")
    if not {m for m in moves} <= streamed or any(to != 4 for _, _, to in streamed):
        sys.exit("the streams listed moves %s" % sorted(streamed))
    severe = chorus_browser.console_errors(driver)
    if severe:
        sys.exit("errors in the browser's console: %s" % severe)
finally:
    driver.quit()
PY
observer=$!
add_pid=""
trap 'for p in $observer $add_pid; do kill "$p" 2>/dev/null; done; cluster_cleanup' EXIT
observer_wait() { kill -0 "$observer" 2>/dev/null && test -e "$1"; }
wait_for 60 observer_wait "$READY" || { kill "$observer" 2>/dev/null; cat "$CLUSTER_DIR/observer.out"; fail "the observers did not start"; }

log "node 4 is added"
cluster_add 1 4 >"$CLUSTER_DIR/add.out" 2>&1 &
add_pid=$!
wait_for 120 observer_wait "$SEEN" ||
    { kill "$observer" 2>/dev/null; wait "$observer"; cat "$CLUSTER_DIR/observer.out"
      for i in 1 2 3; do plan_lines "$i"; done; fail "the observers did not see the moves"; }

log "node 4 is healed; the moves run"
expect_eq "$(dev_post "127.0.0.1:$(http_port 4)" /dev/heal)" 200 "healing node 4"
NODES_UP="1 2 3 4"
add_ok=1; wait "$add_pid" || add_ok=0
add_pid=""
if [ "$add_ok" = 0 ]; then
    log "the first cluster add failed ($(tail -1 "$CLUSTER_DIR/add.out")); run again"
    cluster_add 1 4 || fail "chorus cluster add 4, run again, failed"
fi
wait_balanced 4 150 "3 -> 4 under the watchers"
touch "$BALANCED"
wait "$observer"
rc=$?
observer=""
cat "$CLUSTER_DIR/observer.out"
[ "$rc" = 0 ] || fail "the observers of the moves"
all_hosts_as_placed "after the moves"
echo "screenshots: $ARTIFACTS/view-move.png $ARTIFACTS/view-moves-done.png"
echo "cluster_view_moves: ok"
