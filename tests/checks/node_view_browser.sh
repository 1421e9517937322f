#!/usr/bin/env bash
# timeout: 300
# The live view in a real browser: Debian's headless Chromium, driven by Selenium through
# chromedriver, loads node 1's page watching all 3 nodes of a cluster (S = 4: groups 0..3 and
# the meta group; the nodes run with --http-dev). The page must show the 3 nodes up and a
# leader for every group. Its "pause" button on group 0's leader must make another node lead
# group 0 while the pause lasts (4 s). Then the page must name for group 0 the leader INFO
# names, and after a SIGKILL of that node show the node down and another node leading group 0
# (the one the survivors' INFO names) within 20 s. Then, with the killed node still down,
# 4,000 writes make every group snapshot and compact its log; a page loaded anew must show the
# killed node, restarted, receiving a snapshot and installing it (its event log says so, and
# a cell shows the transfer) within 30 s. The screenshots are kept in $BUILD/artifacts/.
cd "$(dirname "$0")/../.."
PORT_BASE=${PORT_BASE:-28300}
. tests/cluster/lib.sh
. tests/cluster/browser_lib.sh
set -u

browser_require
http_port() { echo $((PORT_BASE + 5 + $1)); }
SHARDS=4
NODES=3
for i in 1 2 3; do
    NODE_FLAGS="--http 127.0.0.1:$(http_port "$i") --http-dev --snapshot-entries 200"
    node_start "$i" || fail "start node $i"
done
NODE_FLAGS=""
ARTIFACTS=$BUILD/artifacts
mkdir -p "$ARTIFACTS"

/usr/bin/python3 - "$(http_port 1),$(http_port 2),$(http_port 3)" "$ARTIFACTS" \
    "${NODE_PID[1]},${NODE_PID[2]},${NODE_PID[3]}" "$(client_port 1),$(client_port 2),$(client_port 3)" \
    "$CLUSTER_DIR" <<'PY' > "$CLUSTER_DIR/browser.out" 2>&1
import os, subprocess, sys, time
from selenium.webdriver.common.by import By
sys.path.insert(0, "tests/cluster")
import chorus_browser

http_ports, artifacts = sys.argv[1].split(","), sys.argv[2]
pids = [int(p) for p in sys.argv[3].split(",")]
resp_ports = sys.argv[4].split(",")
profile = os.path.join(sys.argv[5], "chromium-profile")

def info_role(node):
    out = subprocess.run(["redis-cli", "-p", resp_ports[node - 1], "info", "chorus"],
                         capture_output=True, text=True, timeout=5).stdout
    for line in out.splitlines():
        if line.startswith("role:"):
            return line.split(":", 1)[1].strip()
    return None

driver = chorus_browser.start(profile)
wait_until = chorus_browser.waiter(
    driver, os.path.join(artifacts, "view-failed.png"),
    lambda: "the page says: %s; console: %s" % (driver.find_element(By.ID, "summary").text,
                                                 driver.get_log("browser")[-5:]))
try:
    driver.set_page_load_timeout(20)
    driver.get("http://127.0.0.1:%s/?nodes=%s" % (http_ports[0], ",".join(http_ports)))
    summary = lambda: driver.find_element(By.ID, "summary")
    attr = lambda el, name: el.get_attribute(name)

    def all_up_and_led():
        s = summary()
        return (attr(s, "data-nodes-up") == "3" and attr(s, "data-nodes") == "3" and
                attr(s, "data-groups") == "5" and attr(s, "data-groups-led") == "5")
    wait_until(20, "the page shows 3 nodes up and a leader for each of 5 groups", all_up_and_led)
    # Read in one script: the page redraws parts of itself every 250 ms, so elements found
    # in one call may be gone by the next.
    def page_facts():
        return driver.execute_script("""
            const all = s => [...document.querySelectorAll(s)];
            return {rows: all('#grid tr[data-node-row]').length,
                    roles: all('#grid td.cell').map(c => c.dataset.role),
                    cards: all('[data-node-card]').map(c => c.dataset.up),
                    samples: all('#samples tr').length};""")
    def grid_settled():
        f = page_facts()
        return (f if f["rows"] == 3 and len(f["roles"]) == 15 and f["roles"].count("leader") == 5
                and all(r in ("leader", "follower") for r in f["roles"]) and
                f["cards"] == ["true"] * 3 and f["samples"] > 1 else None)
    wait_until(10, "the grid shows 3 rows of 5 groups, 5 leaders, 3 node cards up", grid_settled)

    # The dev panel's pause button on group 0's leader: another node leads it meanwhile.
    paused = int(attr(driver.find_element(By.ID, "leader-g0"), "data-leader"))
    seconds = driver.find_element(By.ID, "dev-seconds")
    seconds.clear()
    seconds.send_keys("4")
    driver.find_element(By.CSS_SELECTOR,
                        '#devnodes button[data-action="pause"][data-node="%d"]' % paused).click()
    def other_leads():
        lead = int(attr(driver.find_element(By.ID, "leader-g0"), "data-leader"))
        said = driver.find_element(By.ID, "dev-status-%d" % paused).text
        return lead if lead not in (0, paused) and "paused" in said else 0
    during = wait_until(10, "another leader of group 0 while node %d is paused" % paused, other_leads)
    driver.save_screenshot(os.path.join(artifacts, "view-paused.png"))
    wait_until(10, "node %d's pause ends" % paused,
               lambda: "paused" not in driver.find_element(By.ID, "dev-status-%d" % paused).text)
    print("pause button: node %d paused, node %d led group 0 meanwhile" % (paused, during))

    # Group 0's leader on the page is the one INFO names (leadership balance may still move
    # it once: the two must agree for a moment).
    def leader_agrees():
        on_page = int(attr(driver.find_element(By.ID, "leader-g0"), "data-leader"))
        return on_page if on_page > 0 and info_role(on_page) == "leader" else 0
    old = wait_until(15, "the page's leader of group 0 agrees with INFO", leader_agrees)
    driver.save_screenshot(os.path.join(artifacts, "view-3-nodes.png"))
    print("page: 3 nodes up, 5 groups led; group 0 led by node %d" % old)

    os.kill(pids[old - 1], 9)
    killed_at = time.time()
    def new_leader():
        lead = int(attr(driver.find_element(By.ID, "leader-g0"), "data-leader"))
        down = attr(driver.find_element(By.ID, "cell-%d-0" % old), "data-role") == "down"
        up = attr(summary(), "data-nodes-up") == "2"
        return lead if lead not in (0, old) and down and up else 0
    new = wait_until(20, "the page shows a new leader of group 0 and node %d down" % old, new_leader)
    took = time.time() - killed_at
    # The page and INFO agree on the new leader (leadership balance may move it once more,
    # to the shard's preferred node: they must agree at some moment).
    def new_leader_agrees():
        on_page = int(attr(driver.find_element(By.ID, "leader-g0"), "data-leader"))
        return on_page if on_page not in (0, old) and info_role(on_page) == "leader" else 0
    wait_until(10, "the page's new leader of group 0 agrees with INFO", new_leader_agrees)
    # The event log is redrawn every other frame: it may tell the change a moment later.
    def log_tells():
        log = driver.find_element(By.ID, "log").text
        return ("node %d (127.0.0.1:" % old) in log and " is down" in log and \
            ("node %d leads" % new) in log
    wait_until(5, "the event log tells node %d down and node %d leading" % (old, new), log_tells)
    driver.save_screenshot(os.path.join(artifacts, "view-leader-killed.png"))
    print("after SIGKILL of node %d: the page shows node %d leading group 0 after %.1f s" % (old, new, took))
    print("KILLED %d" % old)
    severe = chorus_browser.console_errors(driver)
    if severe:
        sys.exit("errors in the browser's console: %s" % severe)
finally:
    driver.quit()
PY
rc=$?
cat "$CLUSTER_DIR/browser.out"
[ "$rc" = 0 ] || fail "the page in Chromium"
killed=$(sed -n 's/^KILLED //p' "$CLUSTER_DIR/browser.out")
NODE_PID[$killed]=""
for i in 1 2 3; do [ "$i" = "$killed" ] || node_alive "$i" || fail "node $i died"; done

# A snapshot transfer on the page: every group snapshots and compacts while node $killed is down
# (about 1,000 entries a group against --snapshot-entries 200), then a page loaded anew watches
# node $killed come back and catch up by snapshot.
survivor=1; [ "$survivor" = "$killed" ] && survivor=2
# Every shard takes a write through the survivor first (each group elected a new leader).
. tests/cluster/shards_lib.sh
shards_writable_through "$survivor" 30 "$CLUSTER_DIR/acked.jsonl" snapready ||
    fail "not every shard writable through node $survivor within 30 s of node $killed's kill"
# In pipelines of 100 (4,000 at once overran the forwarding bounds of an ASan build: -TRYAGAIN
# by design), each retried up to 3 times (a SET may be repeated).
load_chunk() { local k; for k in $(seq "$1" $(($1 + 99))); do echo "SET snapview$k $k"; done | cli_load "$survivor"; }
for start in $(seq 1 100 4000); do
    load_chunk "$start" >/dev/null || load_chunk "$start" >/dev/null || load_chunk "$start" ||
        fail "load of keys $start.. while node $killed is down"
done
taken_all() { local i n=0; for i in 1 2 3; do [ "$i" = "$killed" ] && continue
    n=$((n + $(info_stat "$i" snapshots_taken))); done; [ "$n" -ge 8 ]; }
wait_for 20 taken_all || fail "the survivors took fewer than 8 snapshots in 20 s"
READY=$CLUSTER_DIR/page-ready
/usr/bin/python3 - "$(http_port 1),$(http_port 2),$(http_port 3)" "$ARTIFACTS" "$killed" \
    "$CLUSTER_DIR" "$READY" <<'PY' > "$CLUSTER_DIR/browser-snap.out" 2>&1 &
import os, sys
from selenium.webdriver.common.by import By
sys.path.insert(0, "tests/cluster")
import chorus_browser

http_ports, artifacts, killed = sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])
profile, ready = os.path.join(sys.argv[4], "chromium-profile-snap"), sys.argv[5]
driver = chorus_browser.start(profile)
wait_until = chorus_browser.waiter(
    driver, os.path.join(artifacts, "view-snapshot-failed.png"),
    lambda: "the log says: %s" % driver.find_element(By.ID, "log").text[:600], interval=0.05)
try:
    driver.set_page_load_timeout(20)
    driver.get("http://127.0.0.1:%s/?nodes=%s" % (
        http_ports[0] if killed != 1 else http_ports[1], ",".join(http_ports)))
    summary = lambda: driver.find_element(By.ID, "summary")
    wait_until(20, "the page shows 2 of 3 nodes up",
               lambda: summary().get_attribute("data-nodes-up") == "2")
    open(ready, "w").close()
    seen_cell = [False]
    def transferred():
        facts = driver.execute_script("""
            return {cells: document.querySelectorAll('#grid td.snapshot-in').length,
                    log: document.getElementById('log').innerText};""")
        if facts["cells"] > 0 and not seen_cell[0]:
            seen_cell[0] = True
            driver.save_screenshot(os.path.join(artifacts, "view-snapshot.png"))
        log = facts["log"]
        return (("node %d receives a snapshot" % killed) in log and
                ("node %d installed the snapshot" % killed) in log and seen_cell[0])
    wait_until(30, "the page shows node %d receiving and installing a snapshot" % killed,
               transferred)
    print("page: node %d received and installed a snapshot" % killed)
finally:
    driver.quit()
PY
browser=$!
wait_for 40 test -e "$READY" || { kill "$browser" 2>/dev/null; cat "$CLUSTER_DIR/browser-snap.out"; fail "the second page did not load"; }
NODE_FLAGS="--http 127.0.0.1:$(http_port "$killed") --http-dev --snapshot-entries 200"
node_start "$killed" || fail "restart of node $killed"
wait "$browser"
rc=$?
cat "$CLUSTER_DIR/browser-snap.out"
[ "$rc" = 0 ] || fail "the snapshot transfer on the page"
installed=$(info_stat "$killed" snapshots_installed)
[ "${installed:-0}" -ge 1 ] || fail "node $killed installed no snapshot (the page said it did)"
echo "screenshots: $ARTIFACTS/view-3-nodes.png $ARTIFACTS/view-paused.png $ARTIFACTS/view-leader-killed.png $ARTIFACTS/view-snapshot.png"
echo "node_view_browser: ok"
