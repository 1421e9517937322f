#!/usr/bin/env bash
# timeout: 180
# cluster_keyless.sh — the keyless commands of a sharded chorus on real processes (issue 10):
# DBSIZE, KEYS, RANDOMKEY, SCAN and FLUSHALL visit every shard, and on a node that does not
# host a shard they relay that shard's part (commands_chain.c, proxy.c). 5 nodes, S = 16,
# R = 3, so that every node lacks some shards; Raft, then a shorter pass with Multi-Paxos.
#  - An empty cluster: on every node DBSIZE is 0, RANDOMKEY nil, KEYS * and a full SCAN empty.
#  - 300 keys (204 plain ones spread over the slots, 6 hash-tagged ones in each shard) written
#    through the nodes in turn. Then from EVERY node: DBSIZE is 300; KEYS * is exactly the set
#    (each key once); KEYS with patterns (*, ?, [..] and a hash tag) the exact subset; full
#    SCAN iterations (no COUNT, COUNT 7, COUNT 1000, MATCH with COUNT) return every key at
#    least once and nothing else; RANDOMKEY returns keys of the set, and 200 of them from one
#    node fall in at least 8 of the 16 shards.
#  - FLUSHALL through a node without shard 0 (the chain starts relayed), and later through a
#    node with shard 0 but without some other one (it relays midway): right after its +OK,
#    every node sees DBSIZE 0, KEYS * empty, RANDOMKEY nil; then new writes work and the
#    checks above hold for them.
# The expected sets are computed by the checker below from what it wrote, with its own slot
# and shard arithmetic (tests/cluster/shards_client.py); a transient -TRYAGAIN or a timeout
# (a leader change) is retried for at most 10 s, a wrong answer fails at once.
cd "$(dirname "$0")/../.." || exit 1
# Ports 28000..31999: apart from lib.sh's default range and below the ephemeral ports.
PORT_BASE=${PORT_BASE:-$((28000 + ($$ % 200) * 20))}
. tests/cluster/lib.sh
. tests/cluster/shards_lib.sh
set -u

"$SHARDS_PYTHON" -c 'import redis' || fail "python3-redis missing (make deps installs it)"
SHARDS=16
NODES=5
NODE_FLAGS="--replicas 3"
CHECKER=$CLUSTER_DIR/keyless.py

cat >"$CHECKER" <<'PYTHON'
"""The client side of cluster_keyless.sh: writes a known set of keys, then compares what the
keyless commands answer on each node with that set."""
import argparse
import fnmatch
import json
import sys
import time

sys.path.insert(0, "tests/cluster")
import redis  # noqa: E402
import shards_client as sc  # noqa: E402

# A leader change may answer -TRYAGAIN or time out; the command is asked again, this long.
RETRY_S = 10.0
RETRIED_ERRORS = ("TRYAGAIN", "UNKNOWN", "CLUSTERDOWN", "BUSY")
retries = 0


def ask(r, *args):
    """One command, asked again after a transient error (bounded by RETRY_S). Only the errors
    a leader change causes are retried: any other error, and every answer, goes back."""
    global retries
    deadline = time.monotonic() + RETRY_S
    while True:
        try:
            return r.execute_command(*args)
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError) as e:
            transient = not isinstance(e, redis.ResponseError) or str(e).startswith(RETRIED_ERRORS)
            if not transient or time.monotonic() >= deadline:
                raise
            retries += 1
            time.sleep(0.05)


def conn(port):
    return sc.client(port, timeout_s=5.0)


def key_shard(ranges, key):
    return sc.shard_of_slot(ranges, sc.key_slot(key))


def scan_all(r, calls_max, match=None, count=None):
    """A full SCAN iteration: every key returned (with repeats) and the number of calls; fails
    the check when the cursor does not come back to 0 within calls_max calls."""
    args = []
    if match is not None:
        args += ["MATCH", match]
    if count is not None:
        args += ["COUNT", count]
    keys, cursor = [], b"0"
    for calls in range(1, calls_max + 1):
        cursor, batch = ask(r, "SCAN", cursor, *args)
        keys.extend(k.decode() for k in batch)
        if cursor in (b"0", 0, "0"):
            return keys, calls
    return None, calls_max


def written_keys(shards, prefix, plain):
    tags = sc.shard_tags(shards, "kl")
    keys = ["%s:user:%d" % (prefix, i) for i in range(plain)]
    keys += ["{%s}:%s:item:%d" % (tags[s], prefix, j) for s in range(shards) for j in range(6)]
    return keys, tags


def cmd_fill(a):
    """Writes the keys of one round through the nodes in turn; saves them to --state."""
    ports = sc.ports_of(a.ports)
    conns = [conn(p) for p in ports]
    keys, _ = written_keys(a.shards, a.prefix, a.plain)
    for i, k in enumerate(keys):
        reply = ask(conns[i % len(conns)], "SET", k, "v-" + k)
        if reply not in (b"OK", "OK", True):
            sc.check("SET %s through port %d" % (k, ports[i % len(ports)]), False, repr(reply))
            return 1
    with open(a.state, "w", encoding="utf-8") as f:
        json.dump({"prefix": a.prefix, "plain": a.plain, "keys": keys}, f)
    ranges = sc.shard_ranges(a.shards)
    shards = set(key_shard(ranges, k) for k in keys)
    sc.check("wrote %d keys through %d nodes, in %d of %d shards" % (
        len(keys), len(ports), len(shards), a.shards), len(shards) == a.shards)
    return 0


def check_empty(port):
    r = conn(port)
    sc.check("DBSIZE on %d is 0" % port, ask(r, "DBSIZE") == 0, repr(ask(r, "DBSIZE")))
    got = [ask(r, "RANDOMKEY") for _ in range(5)]
    sc.check("RANDOMKEY on %d is nil (5 calls)" % port, got == [None] * 5, repr(got))
    got = ask(r, "KEYS", "*")
    sc.check("KEYS * on %d is empty" % port, got == [], repr(got[:5]))
    got, calls = scan_all(r, 1000, count=100)
    sc.check("a full SCAN on %d returns nothing (%d calls)" % (port, calls), got == [], repr(got))


def cmd_empty(a):
    for port in sc.ports_of(a.ports):
        check_empty(port)
    return 0


def cmd_check(a):
    """From every node: DBSIZE, KEYS (all and patterns), full SCANs and RANDOMKEY against the
    written set."""
    with open(a.state, encoding="utf-8") as f:
        state = json.load(f)
    keys, prefix = state["keys"], state["prefix"]
    want = set(keys)
    ranges = sc.shard_ranges(a.shards)
    tags = sc.shard_tags(a.shards, "kl")
    patterns = ["%s:user:1*" % prefix, "%s:user:?" % prefix, "*:%s:item:[03]" % prefix,
                "*:user:[1-3]?", "{%s}*" % tags[5 % a.shards], "*item:5", "nothing:*"]
    calls_max = 10 * (len(keys) + a.shards) + 100
    for port in sc.ports_of(a.ports):
        r = conn(port)
        n = ask(r, "DBSIZE")
        sc.check("DBSIZE on %d is %d" % (port, len(keys)), n == len(keys), "got %r" % n)
        got = sorted(k.decode() for k in ask(r, "KEYS", "*"))
        sc.check("KEYS * on %d is exactly the %d keys, each once" % (port, len(keys)),
                 got == sorted(keys), "%d returned, %d distinct, %d missing, %d foreign" % (
                     len(got), len(set(got)), len(want - set(got)), len(set(got) - want)))
        for pattern in patterns:
            expect = sorted(k for k in keys if fnmatch.fnmatchcase(k, pattern))
            if pattern != "nothing:*" and not expect:
                sc.check("pattern %s selects some key" % pattern, False)
            got = sorted(k.decode() for k in ask(r, "KEYS", pattern))
            sc.check("KEYS %s on %d: the %d matching keys" % (pattern, port, len(expect)),
                     got == expect, "got %d: %r" % (len(got), got[:5]))
        for label, match, count in (("no COUNT", None, None), ("COUNT 7", None, 7),
                                    ("COUNT 1000", None, 1000),
                                    ("MATCH %s:user:1* COUNT 50" % prefix, "%s:user:1*" % prefix, 50)):
            expect = set(k for k in keys if match is None or fnmatch.fnmatchcase(k, match))
            got, calls = scan_all(r, calls_max, match, count)
            if got is None:
                sc.check("SCAN %s on %d ends within %d calls" % (label, port, calls_max), False)
                continue
            sc.check("SCAN %s on %d: all %d keys, nothing else (%d returned, %d calls)" % (
                label, port, len(expect), len(got), calls), set(got) == expect,
                "%d missing, foreign %r" % (len(expect - set(got)), sorted(set(got) - expect)[:5]))
        got = [ask(r, "RANDOMKEY") for _ in range(20)]
        bad = [k for k in got if k is None or k.decode() not in want]
        sc.check("RANDOMKEY on %d: 20 keys of the set" % port, not bad, repr(bad[:5]))
    port = sc.ports_of(a.ports)[a.random_from]
    r = conn(port)
    got = [ask(r, "RANDOMKEY") for _ in range(200)]
    bad = [k for k in got if k is None or k.decode() not in want]
    shards = set(key_shard(ranges, k.decode()) for k in got if k is not None)
    sc.check("RANDOMKEY x 200 on %d: keys of the set from %d of %d shards (at least 8)" % (
        port, len(shards), a.shards), not bad and len(shards) >= 8, repr(bad[:5]))
    return 0


def hosted_shards(port):
    return set(int(k[len("shard_"):]) for k in conn(port).info("shards") if k.startswith("shard_"))


def cmd_pick(a):
    """Prints a port whose node lacks some shard and has shard 0 (--with-shard0) or not."""
    for port in sc.ports_of(a.ports):
        hosted = hosted_shards(port)
        if len(hosted) < a.shards and (0 in hosted) == a.with_shard0:
            print(port)
            return 0
    print("no node lacks a shard %s shard 0" % ("but has" if a.with_shard0 else "and"),
          file=sys.stderr)
    return 1


def cmd_flushall(a):
    r = conn(a.port)
    hosted = hosted_shards(a.port)
    got = ask(r, "FLUSHALL")
    sc.check("FLUSHALL through %d (hosting %d of %d shards, shard 0 %s) answers OK" % (
        a.port, len(hosted), a.shards, "among them" if 0 in hosted else "not"),
        got in (b"OK", "OK", True), repr(got))
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)

    def add(name, fn):
        s = sub.add_parser(name)
        s.set_defaults(fn=fn)
        s.add_argument("--shards", type=int, required=True)
        return s

    s = add("fill", cmd_fill)
    s.add_argument("--ports", required=True)
    s.add_argument("--prefix", required=True)
    s.add_argument("--plain", type=int, default=204)
    s.add_argument("--state", required=True)
    add("empty", cmd_empty).add_argument("--ports", required=True)
    s = add("check", cmd_check)
    s.add_argument("--ports", required=True)
    s.add_argument("--state", required=True)
    s.add_argument("--random-from", type=int, default=0, help="index into --ports")
    s = add("pick", cmd_pick)
    s.add_argument("--ports", required=True)
    s.add_argument("--with-shard0", action="store_true")
    add("flushall", cmd_flushall).add_argument("--port", type=int, required=True)
    a = p.parse_args()
    try:
        rc = a.fn(a)
    except (redis.RedisError, OSError) as e:
        sc.check("%s: no error from the cluster" % a.cmd, False, "%s: %s" % (type(e).__name__, e))
        rc = 1
    if retries:
        print("(%d transient errors retried)" % retries)
    return 1 if sc.failures else rc


if __name__ == "__main__":
    sys.exit(main())
PYTHON

# keyless SUBCOMMAND ARGS... — runs the checker with --shards $SHARDS, bounded in time.
keyless() {
    local sub=$1; shift
    timeout 120 "$SHARDS_PYTHON" "$CHECKER" "$sub" --shards "$SHARDS" "$@"
}
# ok NAME COMMAND... — a failed check fails the test with the node logs.
ok() { local name=$1; shift; "$@" || fail "$name"; }

# The nodes must be alive at the end of a pass: a crash anywhere fails the test.
all_alive() {
    local i
    for i in $(seq 1 "$NODES"); do node_alive "$i" || fail "node $i died"; done
}

# start_sharded — the 5 nodes, waited for until every shard has one leader (no key written:
# the first checks are on an empty cluster).
start_sharded() {
    cluster_start "$NODES" || fail "start ($PROTOCOL)"
    wait_for 30 shards_led_once || fail "groups_leading never added up to S = $SHARDS ($PROTOCOL)"
}

# round TAG PLAIN RANDOM_FROM — writes a round of keys (PLAIN plain ones and 6 per shard with
# hash tags) through every node, then checks every keyless command from every node, the
# 200 RANDOMKEYs from node RANDOM_FROM.
round() {
    local all; all=$(shards_ports)
    ok "write round $1 ($PROTOCOL)" keyless fill --ports "$all" --prefix "$1" --plain "$2" \
        --state "$CLUSTER_DIR/$1.json"
    ok "keyless commands, round $1 ($PROTOCOL)" keyless check --ports "$all" \
        --state "$CLUSTER_DIR/$1.json" --random-from "$(($3 - 1))"
}

# flush_through WITH_SHARD0 — FLUSHALL through a node lacking some shard (and shard 0 too,
# unless WITH_SHARD0 is --with-shard0); then every node must see an empty cluster at once.
flush_through() {
    local all port; all=$(shards_ports)
    port=$(keyless pick --ports "$all" ${1:-}) || fail "no node to flush through ($PROTOCOL)"
    ok "FLUSHALL through node $(shards_node_of_port "$port") ($PROTOCOL)" \
        keyless flushall --port "$port"
    ok "empty after FLUSHALL ($PROTOCOL)" keyless empty --ports "$all"
}

raft_pass() {
    PROTOCOL=raft
    echo "== raft: 5 nodes, S = $SHARDS, R = 3"
    start_sharded
    ok "empty cluster" keyless empty --ports "$(shards_ports)"
    round r1 204 1
    flush_through ""
    round r2 204 3
    flush_through --with-shard0
    round r3 40 5
    all_alive
    shards_cluster_stop
}

paxos_pass() {
    PROTOCOL=paxos
    echo "== paxos: 5 nodes, S = $SHARDS, R = 3 (shorter)"
    start_sharded
    ok "empty cluster (paxos)" keyless empty --ports "$(shards_ports)"
    round p1 104 2
    flush_through ""
    round p2 40 4
    all_alive
    shards_cluster_stop
}

start_s=$SECONDS
raft_pass
paxos_pass
echo "cluster_keyless: ok ($((SECONDS - start_s)) s)"
