#!/usr/bin/python3
"""shards_client.py — the client side of the sharded-cluster checks (tests/checks/cluster_shards*.sh)
and of bench/shards.sh, against chorusd nodes whose client ports are given on the command line.

Everything a check decides is computed here independently of the server: a key's slot (Redis
Cluster's CRC16-XMODEM with the hash-tag rule), the slot ranges of S shards (redis-cli --cluster
create's single-precision split), which key lands in which shard. The server's answers are then
compared with those.

usage: shards_client.py SUBCOMMAND [ARGS]   (see main() for the list; each prints what it checked)
Exit status: 0 when every check of the subcommand held, 1 otherwise, 2 for a usage error.
"""
import argparse
import json
import logging
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

import redis

SLOT_COUNT = 16384
CROSSSLOT_REPLY = b"-CROSSSLOT Keys in request don't hash to the same slot\r\n"
# CLUSTER KEYSLOT answers of redis-server 7.0.15 (cluster mode), captured for these keys.
REDIS_KEYSLOTS = [
    ("foo", 12182), ("bar", 5061), ("", 0), ("{user1000}.following", 3443),
    ("{user1000}.followers", 3443), ("foo{}{bar}", 8363), ("foo{{bar}}zap", 4015),
    ("foo{bar}{zap}", 5061), ("a", 15495), ("b", 3300), ("{t}a", 15891), ("key:1", 6657),
    ("hello", 866),
]
# Every socket operation of these checks is bounded; a node that does not answer in this time
# counts as not answering.
SOCKET_TIMEOUT_S = 2.0
failures = []
# redis-py's cluster client logs every MOVED it follows with a traceback: following them is its
# job, and a failure surfaces as an exception anyway.
logging.getLogger("redis.cluster").setLevel(logging.CRITICAL)


def check(name, ok, detail=""):
    print("%-72s %s %s" % (name, "ok" if ok else "FAILED", "" if ok else detail), flush=True)
    if not ok:
        failures.append(name)
    return ok


# ---------------------------------------------------------------------------------------------
# Slots and shards, computed here.

def crc16_xmodem(data):
    """CRC-16/XMODEM (polynomial 0x1021, initial value 0), bit by bit: Redis's crc16()."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def key_slot(key):
    """Redis Cluster's slot: the CRC of the bytes between the first '{' and the next '}' when
    there is at least one byte between them, else of the whole key."""
    k = key if isinstance(key, bytes) else key.encode()
    start = k.find(b"{")
    if start >= 0:
        end = k.find(b"}", start + 1)
        if end > start + 1:
            k = k[start + 1: end]
    return crc16_xmodem(k) % SLOT_COUNT


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def shard_ranges(shards):
    """The slot ranges redis-cli --cluster create gives `shards` masters: its loop in single
    precision, step for step (redis-cli.c, clusterManagerCommandCreate)."""
    per = f32(SLOT_COUNT / shards)
    first, cursor, ranges = 0, f32(0.0), []
    for i in range(shards):
        value = f32(f32(cursor + per) - 1.0)
        last = int(value + 0.5) if value >= 0 else -int(-value + 0.5)  # lround
        if last > SLOT_COUNT or i == shards - 1:
            last = SLOT_COUNT - 1
        last = max(last, first)
        ranges.append((first, last))
        first = last + 1
        cursor = f32(cursor + per)
    return ranges


def shard_of_slot(ranges, slot):
    for i, (lo, hi) in enumerate(ranges):
        if lo <= slot <= hi:
            return i
    raise ValueError("slot %d in no range" % slot)


def shard_tags(shards, prefix):
    """One hash tag per shard: tags[i] is a string whose slot lies in shard i, so that
    "{tags[i]}..." is a key of shard i. Found by counting up; bounded by 64 x S tries per shard
    (a slot range holds at least 1/S of the slots, so the expected tries are S)."""
    ranges = shard_ranges(shards)
    tags = [None] * shards
    missing = shards
    for n in range(64 * SLOT_COUNT):
        tag = "%s%d" % (prefix, n)
        i = shard_of_slot(ranges, key_slot(tag))
        if tags[i] is None:
            tags[i] = tag
            missing -= 1
            if missing == 0:
                return tags
    raise RuntimeError("no tag found for some shard")


# ---------------------------------------------------------------------------------------------
# Connections.

def ports_of(text):
    return [int(p) for p in text.split(",") if p]


def client(port, timeout_s=SOCKET_TIMEOUT_S):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=timeout_s,
                       socket_connect_timeout=min(timeout_s, 1.0), decode_responses=False)


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def raw_call(port, *args):
    """Sends one command on a fresh connection and returns the first line of the reply, exactly
    as it came (with its CRLF): enough for the status and error replies compared here."""
    with socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S) as s:
        s.sendall(encode(*args))
        data = b""
        while b"\r\n" not in data and len(data) < 65536:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data[: data.find(b"\r\n") + 2] if b"\r\n" in data else data


def cluster_slots(port):
    """CLUSTER SLOTS as a list of (start, end, master_port, master_id)."""
    out = []
    for entry in client(port).execute_command("CLUSTER", "SLOTS"):
        master = entry[2]
        out.append((int(entry[0]), int(entry[1]), int(master[1]), master[2].decode()))
    return sorted(out)


def leader_ports(port, shards):
    """The master port CLUSTER SLOTS of `port` shows for each shard."""
    ranges = shard_ranges(shards)
    by_slot = cluster_slots(port)
    result = []
    for lo, _ in ranges:
        owner = [e[2] for e in by_slot if e[0] <= lo <= e[1]]
        result.append(owner[0] if owner else None)
    return result


# ---------------------------------------------------------------------------------------------
# Subcommands.

def cmd_keyslot(args):
    """CLUSTER KEYSLOT on every node equals Redis's answers, and this file's own CRC agrees."""
    for key, want in REDIS_KEYSLOTS:
        check("own CRC16 of %r is Redis's %d" % (key, want), key_slot(key) == want, key_slot(key))
    for port in ports_of(args.ports):
        r = client(port)
        got = [r.execute_command("CLUSTER", "KEYSLOT", key) for key, _ in REDIS_KEYSLOTS]
        want = [w for _, w in REDIS_KEYSLOTS]
        check("CLUSTER KEYSLOT of %d keys on port %d is Redis's" % (len(want), port),
              got == want, "got %r, want %r" % (got, want))
        rng = random.Random(port)
        keys = ["".join(rng.choice("ab{}x:") for _ in range(rng.randint(0, 12))) for _ in range(200)]
        bad = [k for k in keys if r.execute_command("CLUSTER", "KEYSLOT", k) != key_slot(k)]
        check("CLUSTER KEYSLOT of 200 random keys with braces on port %d" % port, not bad,
              "differs for %r" % bad[:5])


def cmd_slots(args):
    """CLUSTER SLOTS on every node: the shards' ranges exactly (redis-cli's split), every slot
    once, every master one of the cluster's nodes; the same on every node once stable."""
    ports = ports_of(args.ports)
    ranges = shard_ranges(args.shards)
    views = {}
    for port in ports:
        entries = cluster_slots(port)
        views[port] = entries
        covered = [s for e in entries for s in (e[0], e[1])]
        bounds = set(lo for lo, _ in ranges) | set(hi for _, hi in ranges)
        check("CLUSTER SLOTS on %d: ranges contiguous from 0 to 16383" % port,
              entries and entries[0][0] == 0 and entries[-1][1] == SLOT_COUNT - 1 and
              all(entries[i][1] + 1 == entries[i + 1][0] for i in range(len(entries) - 1)),
              repr([(e[0], e[1]) for e in entries]))
        check("CLUSTER SLOTS on %d: range ends are shard boundaries of S=%d" % (port, args.shards),
              all(s in bounds for s in covered), repr([(e[0], e[1]) for e in entries][:8]))
        check("CLUSTER SLOTS on %d: every master is a cluster node" % port,
              all(e[2] in ports for e in entries), repr(sorted(set(e[2] for e in entries))))
    first = views[ports[0]]
    check("CLUSTER SLOTS: the same view on all %d nodes" % len(ports),
          all(v == first for v in views.values()))
    masters = sorted(set(e[2] for e in first))
    print("shards led per port: %s" % ", ".join(
        "%d:%d" % (p, sum(1 for i in leader_ports(ports[0], args.shards) if i == p)) for p in masters))


def nodes_normalized(port):
    text = client(port).execute_command("CLUSTER", "NODES")
    text = text.decode() if isinstance(text, bytes) else text
    return text.replace("myself,", "")


def cmd_nodes_same(args):
    """Exit 0 when CLUSTER NODES is the same text (apart from "myself,") on every node: used to
    wait for a stable view. Quiet."""
    try:
        texts = [nodes_normalized(p) for p in ports_of(args.ports)]
    except (redis.RedisError, OSError):
        return 1
    return 0 if all(t == texts[0] for t in texts) else 1


def cmd_nodes(args):
    """CLUSTER NODES: one line per node, the same on every node apart from "myself,", which is on
    the answering node's own line; MYID is that line's id; the masters' slots cover every slot
    exactly once."""
    ports = ports_of(args.ports)
    texts = {}
    for port in ports:
        r = client(port)
        raw = r.execute_command("CLUSTER", "NODES")
        raw = raw.decode() if isinstance(raw, bytes) else raw
        lines = [l for l in raw.split("\n") if l]
        texts[port] = raw.replace("myself,", "")
        check("CLUSTER NODES on %d: %d lines, one per node" % (port, len(ports)),
              len(lines) == len(ports), "%d lines" % len(lines))
        mine = [l for l in lines if "myself" in l.split()[2]]
        myid = r.execute_command("CLUSTER", "MYID")
        myid = myid.decode() if isinstance(myid, bytes) else myid
        check("CLUSTER NODES on %d: myself is its own line, id = CLUSTER MYID" % port,
              len(mine) == 1 and mine[0].split()[1].startswith("127.0.0.1:%d@" % port) and
              mine[0].split()[0] == myid, "myself lines %r, MYID %r" % (mine, myid))
        owned = [0] * SLOT_COUNT
        for l in lines:
            fields = l.split()
            if "master" not in fields[2]:
                continue
            for r_ in fields[8:]:
                lo, _, hi = r_.partition("-")
                for s in range(int(lo), int(hi or lo) + 1):
                    owned[s] += 1
        check("CLUSTER NODES on %d: every slot owned by exactly one master" % port,
              all(c == 1 for c in owned), "%d slots not owned once" % sum(1 for c in owned if c != 1))
    first = texts[ports[0]]
    differ = [p for p in ports if texts[p] != first]
    check("CLUSTER NODES: the same text on all %d nodes apart from myself," % len(ports),
          not differ, "ports %r differ from %d:\n%s\n---\n%s" % (
              differ, ports[0], first, texts[differ[0]] if differ else ""))


def cmd_crossslot(args):
    """CROSSSLOT with Redis's exact bytes for multi-key commands across slots (nothing of them is
    written); the same commands on keys of one slot (hash tags) work and are atomic."""
    pfx = args.prefix
    for port in ports_of(args.ports):
        a, b = "%s:%d:a" % (pfx, port), "%s:%d:b" % (pfx, port)
        if key_slot(a) == key_slot(b):
            b += "x"
        for cmd in (("MSET", a, "1", b, "2"), ("MGET", a, b), ("DEL", a, b), ("EXISTS", a, b),
                    ("MSETNX", a, "1", b, "2"), ("RENAME", a, b)):
            got = raw_call(port, *cmd)
            check("%s across slots on %d answers -CROSSSLOT" % (cmd[0], port),
                  got == CROSSSLOT_REPLY, repr(got))
        check("the refused MSET wrote nothing (%d)" % port,
              raw_call(port, "EXISTS", a) == b":0\r\n" and raw_call(port, "EXISTS", b) == b":0\r\n")
        ta, tb = "{%s%d}a" % (pfx, port), "{%s%d}b" % (pfx, port)
        check("MSET {t}a 1 {t}b 2 on %d answers +OK" % port,
              raw_call(port, "MSET", ta, "1", tb, "2") == b"+OK\r\n")
        r = client(port)
        check("MGET {t}a {t}b on %d" % port, r.mget(ta, tb) == [b"1", b"2"], repr(r.mget(ta, tb)))
        check("MSETNX on one slot refuses when one key exists (%d)" % port,
              r.msetnx({ta: "x", "{%s%d}c" % (pfx, port): "y"}) is False and r.get(ta) == b"1")
        check("DEL {t}a {t}b on %d deletes 2" % port, r.delete(ta, tb) == 2)
    check("MSET a 1 b 2 (the issue's example) answers -CROSSSLOT",
          raw_call(ports_of(args.ports)[0], "MSET", "a", "1", "b", "2") == CROSSSLOT_REPLY)
    check("MSET {t}a 1 {t}b 2 (the issue's example) answers +OK",
          raw_call(ports_of(args.ports)[0], "MSET", "{t}a", "1", "{t}b", "2") == b"+OK\r\n")


def cmd_cluster_client(args):
    """redis-py's RedisCluster (4.3.x), started from one node: SET/GET of many keys, MGET/MSET on
    hash tags, the non-atomic cross-slot helpers, a cluster pipeline, client-side slot = server
    slot; with --forwarding, every key read back through every node with a plain client too."""
    ports = ports_of(args.ports)
    rc = redis.cluster.RedisCluster(host="127.0.0.1", port=ports[0], socket_timeout=5,
                                    socket_connect_timeout=2)
    primaries = sorted(n.port for n in rc.get_primaries())
    check("RedisCluster found primaries among the nodes: %r" % primaries,
          len(primaries) >= 2 and all(p in ports for p in primaries))
    keys = ["%s:key:%d" % (args.prefix, i) for i in range(args.keys)]
    ok = all(rc.set(k, "v%d" % i) is True for i, k in enumerate(keys))
    check("RedisCluster SET of %d keys" % len(keys), ok)
    got = [rc.get(k) for k in keys]
    check("RedisCluster GET of %d keys" % len(keys),
          got == [b"v%d" % i for i in range(len(keys))])
    slots = set(key_slot(k) for k in keys)
    ranges = shard_ranges(args.shards)
    shards = set(shard_of_slot(ranges, s) for s in slots)
    check("the keys cover every shard (%d of %d)" % (len(shards), args.shards),
          len(shards) == args.shards)
    bad = []
    for t in range(20):
        tag = "{%s:user%d}" % (args.prefix, t)
        set_ok = rc.mset({tag + "a": "1", tag + "b": "2", tag + "c": str(t)}) is True
        got = rc.mget(tag + "a", tag + "b", tag + "c", tag + "none")
        if not set_ok or got != [b"1", b"2", str(t).encode(), None]:
            bad.append((tag, set_ok, got))
    check("RedisCluster MSET/MGET on 20 hash tags", not bad, repr(bad[:3]))
    try:
        rc.mget(keys[0], keys[1] if key_slot(keys[1]) != key_slot(keys[0]) else keys[2])
        check("RedisCluster refuses MGET across slots", False, "no exception")
    except redis.exceptions.RedisClusterException:
        check("RedisCluster refuses MGET across slots", True)
    got = rc.mget_nonatomic(keys)
    check("RedisCluster mget_nonatomic over %d keys of all shards" % len(keys),
          got == [b"v%d" % i for i in range(len(keys))])
    pipe = rc.pipeline()
    for i, k in enumerate(keys[:100]):
        pipe.incr("%s:counter:%d" % (args.prefix, i))
        pipe.get(k)
    got = pipe.execute()
    check("RedisCluster pipeline of 200 commands over many slots",
          got == [x for i in range(100) for x in (1, b"v%d" % i)], repr(got[:6]))
    for k in keys[:50]:
        if rc.cluster_keyslot(k) != key_slot(k) or rc.keyslot(k) != key_slot(k):
            check("RedisCluster keyslot (client) = CLUSTER KEYSLOT (server) = own", False, k)
            break
    else:
        check("RedisCluster keyslot (client) = CLUSTER KEYSLOT (server) = own, 50 keys", True)
    info = rc.cluster_info()
    check("CLUSTER INFO via RedisCluster: cluster_state ok, 16384 slots assigned",
          str(info.get("cluster_state")) == "ok" and int(info.get("cluster_slots_assigned", 0)) == 16384,
          repr(info))
    if args.forwarding:
        for port in ports:
            r = client(port)
            got = r.mget(*keys[:1]) + [r.get(k) for k in keys]
            check("every key read back through node %d with a plain client" % port,
                  got[1:] == [b"v%d" % i for i in range(len(keys))])
    rc.close()


def cmd_info(args):
    """INFO: cluster_enabled:1 in section cluster; INFO chorus shards:S; groups hosted and led
    summed over the nodes are S x R and S."""
    hosted = leading = 0
    for port in ports_of(args.ports):
        r = client(port)
        cluster = r.info("cluster")
        check("INFO cluster on %d has cluster_enabled:1" % port,
              int(cluster.get("cluster_enabled", 0)) == 1, repr(cluster))
        chorus = r.info("chorus")
        check("INFO chorus on %d has shards:%d" % (port, args.shards),
              int(chorus.get("shards", -1)) == args.shards, repr(chorus.get("shards")))
        hosted += int(chorus.get("groups_hosted", 0))
        leading += int(chorus.get("groups_leading", 0))
    check("groups_hosted summed over the nodes is S x R = %d" % (args.shards * args.replicas),
          hosted == args.shards * args.replicas, "got %d" % hosted)
    check("groups_leading summed over the nodes is S = %d" % args.shards,
          leading == args.shards, "got %d" % leading)


def info_sum(ports, field):
    total = 0
    for port in ports:
        try:
            total += int(client(port).info("chorus").get(field, 0))
        except (redis.RedisError, OSError, ValueError):
            return -1
    return total


def cmd_leading_is(args):
    """Exit 0 when groups_leading summed over the given nodes is exactly S (every shard has one
    leader among them). Quiet: for waits."""
    return 0 if info_sum(ports_of(args.ports), "groups_leading") == args.shards else 1


def cmd_busiest(args):
    """Prints the port of the node leading the most shards (INFO chorus groups_leading) and the
    count."""
    best = None
    for port in ports_of(args.ports):
        n = int(client(port).info("chorus").get("groups_leading", 0))
        if best is None or n > best[1]:
            best = (port, n)
    print("%d %d" % best)
    return 0


class AckLog:
    """Acknowledged writes, one JSON line each, appended and flushed as they are acknowledged
    (the file outlives this process: the verification reads it)."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8")
        self.lock = threading.Lock()
        self.count = 0

    def add(self, key, value):
        with self.lock:
            self.file.write(json.dumps([key, value]) + "\n")
            self.file.flush()
            self.count += 1


def connect_all(ports, timeout_s):
    """A connection to each node that answers PING now (the others are left out: they are
    connected to on first use)."""
    conns = {}
    for port in ports:
        try:
            c = client(port, timeout_s=timeout_s)
            c.ping()
            conns[port] = c
        except (redis.RedisError, OSError):
            pass
    return conns


def write_until_acked(ports, key_of, value, deadline, acks, start_index=0, conns=None):
    """Writes until one SET is acknowledged or the deadline passes, cycling over the nodes. Each
    attempt has a key of its own (key_of(attempt)): a timed-out attempt may still apply later,
    and must not be taken for a lost acknowledged write. Returns the acknowledgement time, or
    None. Bounded by the deadline: every attempt's socket timeout ends by it (at least 0.2 s)."""
    attempt = 0
    conns = {} if conns is None else conns
    while time.monotonic() < deadline:
        port = ports[(start_index + attempt) % len(ports)]
        key = key_of(attempt)
        attempt += 1
        try:
            if port not in conns:
                conns[port] = client(port, timeout_s=max(0.2, min(1.0, deadline - time.monotonic())))
            if conns[port].set(key, value) is True:
                acks.add(key, value)
                return time.monotonic()
        except (redis.RedisError, OSError):
            conns.pop(port, None)
            time.sleep(0.005)  # a refused connection or an election: try the next node
    return None


# Threads writing to the shards at once: one per shard up to this many (S = 1,000 shares them).
WRITERS_MAX = 64


def write_every_shard(ports, shards, prefix, timeout_s, acks, before_start=None):
    """Writes a key of every shard until acknowledged, through the nodes in turn; up to
    WRITERS_MAX threads, each taking its shards one after the other. Returns the per-shard times
    (seconds since the start, None when the shard took no write in time). before_start, when
    given, runs once every connection is open, and the clock starts after it (failover: the
    kill)."""
    tags = shard_tags(shards, "t")
    writers = min(shards, WRITERS_MAX)
    conns = [connect_all(ports, 1.0) for _ in range(writers)]
    results = [None] * shards
    if before_start is not None:
        before_start()
    start = time.monotonic()
    deadline = start + timeout_s

    def run(w):
        for i in range(w, shards, writers):
            key_of = lambda n: "{%s}:%s:%d" % (tags[i], prefix, n)
            t = write_until_acked(ports, key_of, "%s-%d" % (prefix, i), deadline, acks, i, conns[w])
            results[i] = None if t is None else t - start

    threads = [threading.Thread(target=run, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout_s + 10)
    return results


def cmd_write_all(args):
    """Every shard takes a write (through any of the given nodes) within --timeout-s; prints the
    slowest shard's time."""
    acks = AckLog(args.acked)
    results = write_every_shard(ports_of(args.ports), args.shards, args.prefix,
                                args.timeout_s, acks)
    missing = [i for i, t in enumerate(results) if t is None]
    slowest = max((t for t in results if t is not None), default=0.0)
    if args.quiet:
        return 1 if missing else 0
    check("every one of %d shards took a write within %.0f s (slowest %.0f ms)" % (
        args.shards, args.timeout_s, slowest * 1000), not missing,
        "%d shards did not: %r" % (len(missing), missing[:20]))
    return 1 if missing else 0


def cmd_failover(args):
    """bench: SIGKILL --pid, then time until every shard took a write through the other nodes
    (--ports). Prints "all_writable_ms N slowest_shard I". The clock starts at the kill."""
    acks = AckLog(args.acked)
    results = write_every_shard(ports_of(args.ports), args.shards, args.prefix, args.timeout_s,
                                acks, lambda: os.kill(args.pid, signal.SIGKILL))
    missing = [i for i, t in enumerate(results) if t is None]
    if missing:
        print("all_writable_ms none missing %d" % len(missing))
        return 1
    slowest = max(range(args.shards), key=lambda i: results[i])
    print("all_writable_ms %.0f slowest_shard %d" % (results[slowest] * 1000, slowest))
    return 0


def cmd_load(args):
    """A background writer: --threads threads SET fresh keys (spread over all slots) through the
    nodes in turn until --stop-file exists or --seconds pass; every acknowledged SET goes to
    --acked. Prints how many were acknowledged; fails when none was."""
    acks = AckLog(args.acked)
    ports = ports_of(args.ports)
    end = time.monotonic() + args.seconds
    stop = threading.Event()

    def run(t):
        n = 0
        while not stop.is_set() and time.monotonic() < end:
            value = "%s-%d-%d" % (args.prefix, t, n)
            key_of = lambda a: "%s:%d:%d:%d" % (args.prefix, t, n, a)
            write_until_acked(ports, key_of, value, min(end, time.monotonic() + 2.0), acks, t + n)
            n += 1
            if os.path.exists(args.stop_file):
                stop.set()

    threads = [threading.Thread(target=run, args=(t,)) for t in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(args.seconds + 30)
    print("load: %d writes acknowledged" % acks.count)
    return 0 if acks.count > 0 else 1


def cmd_verify(args):
    """Every acknowledged write of --acked is read back with its value (keys are unique per
    attempt, so the acknowledged value is the value): through redis-py's RedisCluster, which
    follows MOVED, so that durability is checked whatever the routing does; with --through-nodes,
    through each node in turn with a plain client instead (every node serves every key)."""
    ports = ports_of(args.ports)
    acked = {}
    with open(args.acked, encoding="utf-8") as f:
        for line in f:
            key, value = json.loads(line)
            acked[key] = value
    if not args.through_nodes:
        conns = [redis.cluster.RedisCluster(host="127.0.0.1", port=ports[0], socket_timeout=10)]
    else:
        conns = [client(p, timeout_s=10) for p in ports]
    lost = []
    items = sorted(acked.items())
    for n in range(0, len(items), 200):
        batch = items[n: n + 200]
        r = conns[(n // 200) % len(conns)]
        pipe = r.pipeline(transaction=False) if args.through_nodes else r.pipeline()
        for key, _ in batch:
            pipe.get(key)
        for (key, value), got in zip(batch, pipe.execute()):
            if got != value.encode():
                lost.append((key, value, got))
    check("all %d acknowledged writes read back (%d nodes)" % (len(acked), len(ports)),
          len(acked) >= args.min and not lost,
          "%d lost or changed, e.g. %r; %d acked (min %d)" % (len(lost), lost[:3], len(acked), args.min))


def moved_look(ports, key, value):
    """One look at a shard in --redirect mode: every node's reply to SET KEY VALUE. Consistent
    when exactly one node serves and every other answers -MOVED <slot> <that node>."""
    replies = {p: raw_call(p, "SET", key, value) for p in ports}
    served = [p for p, r in replies.items() if r == b"+OK\r\n"]
    moved = {p: r for p, r in replies.items() if r.startswith(b"-MOVED ")}
    if len(served) != 1 or len(moved) != len(ports) - 1:
        return replies, None, moved
    want = b"-MOVED %d 127.0.0.1:%d\r\n" % (key_slot(key), served[0])
    return replies, (served[0] if all(r == want for r in moved.values()) else None), moved


def cmd_moved(args):
    """--redirect mode: for keys of every shard, exactly one node serves a SET (the shard's
    leader); every other node answers -MOVED <the key's slot> <that node's address>, and a GET
    there is served or MOVED to the same address. Leadership balancing may hand a shard over
    between the nodes' answers (each node then names the leader it knew at its moment), so a
    shard whose look disagrees is looked at again, up to 40 times within about 10 s; it fails
    only if the nodes never agree."""
    ports = ports_of(args.ports)
    tags = shard_tags(args.shards, "m")
    moved_seen = 0
    for i, tag in enumerate(tags):
        key = "{%s}:%s" % (tag, args.prefix)
        slot = key_slot(key)
        for attempt in range(40):
            replies, leader, moved = moved_look(ports, key, "s%d" % i)
            if leader is not None:
                break
            time.sleep(0.25)
        if not check("shard %d: one node serves SET %s, the other %d answer MOVED %d naming it "
                     "(%d looks)" % (i, key, len(ports) - 1, slot, attempt + 1),
                     leader is not None, repr(replies)):
            continue
        want = b"-MOVED %d 127.0.0.1:%d\r\n" % (slot, leader)
        moved_seen += len(moved)
        for p in ports:
            for attempt in range(40):
                r = raw_call(p, "GET", key)
                if r in (b"$%d\r\n" % len("s%d" % i), want):
                    break
                time.sleep(0.25)
            else:
                check("shard %d: GET on %d served or MOVED to the leader" % (i, p), False, repr(r))
    check("MOVED answers seen: %d" % moved_seen, moved_seen >= len(tags) * (len(ports) - 1))


def scan_all(r, match=None):
    """Every key of a full SCAN iteration (bounded: 200,000 calls)."""
    keys, cursor = [], 0
    for _ in range(200000):
        cursor, batch = r.scan(cursor=cursor, match=match, count=1000)
        keys.extend(batch)
        if cursor == 0:
            return keys
    raise RuntimeError("SCAN did not end in 200,000 calls")


def cmd_scan(args):
    """SCAN and DBSIZE cover the whole cluster, from every node: a full SCAN returns the same
    set of keys on every node, DBSIZE there is its size, and the keys matching --match are
    exactly --expect many (SCAN MATCH agrees). Run while nothing writes."""
    ports = ports_of(args.ports)
    first = None
    for port in ports:
        r = client(port, timeout_s=10)
        keys = set(scan_all(r))
        dbsize = r.dbsize()
        check("SCAN on %d: %d keys, each once per key (DBSIZE %d)" % (port, len(keys), dbsize),
              len(keys) == dbsize, "DBSIZE %d" % dbsize)
        matching = set(k for k in keys if k.decode(errors="replace").startswith(args.match.rstrip("*")))
        matched = set(scan_all(r, args.match))
        check("SCAN MATCH %s on %d: the %d keys written" % (args.match, port, args.expect),
              matched == matching and len(matched) == args.expect,
              "MATCH gave %d, full SCAN %d" % (len(matched), len(matching)))
        if first is None:
            first = keys
        elif keys != first:
            check("SCAN on %d: the same keys as on %d" % (port, ports[0]), False,
                  "%d only here, %d only there" % (len(keys - first), len(first - keys)))


def cmd_history_shards(args):
    """How many shards the keys of a chorus-lincheck history fall in; fails under --min."""
    ranges = shard_ranges(args.shards)
    keys, ops = set(), {}
    with open(args.history, encoding="utf-8") as f:
        for line in f:
            key = json.loads(line)["key"]
            keys.add(key)
            s = shard_of_slot(ranges, key_slot(key))
            ops[s] = ops.get(s, 0) + 1
    check("history: %d keys in %d of %d shards (at least %d)" % (
        len(keys), len(ops), args.shards, args.min), len(ops) >= args.min,
        "operations per shard %r" % ops)


def cmd_shard_keys(args):
    """Prints one key of each shard ("{tag}:PREFIX"), shard 0 first."""
    for tag in shard_tags(args.shards, "k"):
        print("{%s}:%s" % (tag, args.prefix))
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def add(name, fn, *opts):
        s = sub.add_parser(name)
        s.set_defaults(fn=fn)
        s.add_argument("--ports", required=name not in ("shard-keys", "history-shards"),
                       help="client ports, comma separated")
        s.add_argument("--shards", type=int, default=16)
        for o in opts:
            o(s)
        return s

    prefix = lambda s: s.add_argument("--prefix", default="p%d" % os.getpid())
    acked = lambda s: s.add_argument("--acked", required=True)
    timeout = lambda s: s.add_argument("--timeout-s", type=float, default=10.0)
    quiet = lambda s: s.add_argument("--quiet", action="store_true")
    add("keyslot", cmd_keyslot)
    add("slots", cmd_slots)
    add("nodes", cmd_nodes)
    add("nodes-same", cmd_nodes_same)
    add("crossslot", cmd_crossslot, prefix)
    add("cluster-client", cmd_cluster_client, prefix,
        lambda s: s.add_argument("--keys", type=int, default=500),
        lambda s: s.add_argument("--forwarding", action="store_true"))
    add("info", cmd_info, lambda s: s.add_argument("--replicas", type=int, default=3))
    add("leading-is", cmd_leading_is)
    add("busiest", cmd_busiest)
    add("write-all", cmd_write_all, prefix, acked, timeout, quiet)
    add("failover", cmd_failover, prefix, acked, timeout,
        lambda s: s.add_argument("--pid", type=int, required=True))
    add("load", cmd_load, prefix, acked,
        lambda s: s.add_argument("--stop-file", required=True),
        lambda s: s.add_argument("--seconds", type=float, default=120),
        lambda s: s.add_argument("--threads", type=int, default=4))
    add("verify", cmd_verify, acked, lambda s: s.add_argument("--min", type=int, default=1),
        lambda s: s.add_argument("--through-nodes", action="store_true"))
    add("moved", cmd_moved, prefix)
    add("scan", cmd_scan, lambda s: s.add_argument("--match", required=True),
        lambda s: s.add_argument("--expect", type=int, required=True))
    add("history-shards", cmd_history_shards,
        lambda s: s.add_argument("--history", required=True),
        lambda s: s.add_argument("--min", type=int, default=1))
    add("shard-keys", cmd_shard_keys, prefix)
    args = p.parse_args()
    if not 1 <= args.shards <= 1024:
        p.error("--shards takes 1..1024")
    try:
        rc = args.fn(args)
    except (redis.RedisError, OSError) as e:
        check("%s: no exception from the cluster" % args.cmd, False, "%s: %s" % (type(e).__name__, e))
        rc = 1
    if failures:
        return 1
    return rc or 0


if __name__ == "__main__":
    sys.exit(main())
