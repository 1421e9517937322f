#!/usr/bin/python3
"""transactions.py — redis-py pipelines and transactions against a chorus cluster, on the
leader and on a follower, as a Redis user writes them (Debian's python3-redis).

usage: transactions.py LEADER_PORT FOLLOWER_PORT
Exit status 1 when any check failed; each check prints one line.
"""
import sys
import threading

import redis

failures = []


def check(name, ok, detail=""):
    print("%-66s %s %s" % (name, "ok" if ok else "FAILED", "" if ok else detail))
    if not ok:
        failures.append(name)


def test_pipelines(r, role):
    p = r.pipeline(transaction=False)
    for i in range(300):
        p.set("pl:%s:%d" % (role, i), i)
        p.get("pl:%s:%d" % (role, i))
        p.incr("plc:%s" % role)
    got = p.execute()
    ok = all(got[3 * i] is True and got[3 * i + 1] == str(i).encode() and got[3 * i + 2] == i + 1
             for i in range(300))
    check("pipeline of 900 commands, results in order (%s)" % role, ok)


def test_transaction(r, role):
    k = "tx:%s" % role
    p = r.pipeline(transaction=True)
    p.set(k, 1).incr(k).get(k).mget(k, k + "none").exists(k, k).strlen(k).delete(k).get(k)
    got = p.execute()
    want = [True, 2, b"2", [b"2", None], 2, 1, 1, None]
    check("MULTI/EXEC through redis-py (%s)" % role, got == want, "got %r" % got)
    p = r.pipeline(transaction=True)
    p.set(k, "text").incr(k).set(k + "b", "ok")
    try:
        p.execute()
        check("a failing command inside EXEC raises (%s)" % role, False, "no error")
    except redis.ResponseError:
        check("a failing command inside EXEC raises, the rest runs (%s)" % role,
              r.get(k + "b") == b"ok" and r.get(k) == b"text")
    p = r.pipeline(transaction=True)
    p.execute_command("NOSUCHCOMMAND")
    p.set(k, "never")
    try:
        p.execute()
        check("an unknown command aborts EXEC (%s)" % role, False, "no error")
    except redis.ResponseError as e:
        # redis-py raises the first error of the pipeline: the unknown command's.
        check("an unknown command aborts EXEC (%s)" % role,
              "unknown command" in str(e) and r.get(k) == b"text", str(e))
    raw = r.connection_pool.get_connection("MULTI")
    try:
        raw.send_packed_command([b"MULTI\r\nNOSUCH\r\nSET " + k.encode() + b" never\r\nEXEC\r\n"])
        replies = []
        for _ in range(4):
            try:
                replies.append(raw.read_response())
            except redis.ResponseError as e:
                replies.append("error: " + str(e))
    finally:
        r.connection_pool.release(raw)
    check("MULTI, unknown, SET, EXEC -> OK, error, QUEUED, EXECABORT (%s)" % role,
          replies[0] == b"OK" and replies[1].startswith("error: unknown command") and
          replies[2] == b"QUEUED" and "Transaction discarded because of previous errors" in replies[3] and r.get(k) == b"text",
          "%r" % replies)


def test_watch(r, role):
    k = "w:%s" % role
    r.set(k, "0")
    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"])
    with r.pipeline() as p:
        p.watch(k)
        other.set(k, "changed")  # another client changes it between WATCH and EXEC
        p.multi()
        p.set(k, "mine")
        try:
            p.execute()
            aborted = False
        except redis.WatchError:
            aborted = True
    check("WATCH: a key changed by another client aborts EXEC (%s)" % role,
          aborted and r.get(k) == b"changed")


def test_optimistic_counter(ports):
    """Clients on every node increment one counter with WATCH/MULTI/EXEC: the final value is
    exactly the number of transactions that committed."""
    key = "occ:counter"
    redis.Redis(port=ports[0]).set(key, 0)
    done = []
    lock = threading.Lock()

    def worker(port, n):
        r = redis.Redis(port=port, socket_timeout=20)
        ok = 0

        def incr(pipe):
            v = int(pipe.get(key))
            pipe.multi()
            pipe.set(key, v + 1)
        for _ in range(n):
            r.transaction(incr, key)
            ok += 1
        with lock:
            done.append(ok)

    threads = [threading.Thread(target=worker, args=(ports[i % len(ports)], 25))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    final = int(redis.Redis(port=ports[0]).get(key))
    check("WATCH counter: 4 clients x 25 on leader and follower, final %d" % final,
          len(done) == 4 and final == sum(done) == 100, "done %r" % done)


def main():
    leader, follower = int(sys.argv[1]), int(sys.argv[2])
    for port, role in ((leader, "leader"), (follower, "follower")):
        r = redis.Redis(port=port, socket_timeout=20)
        test_pipelines(r, role)
        test_transaction(r, role)
        test_watch(r, role)
    test_optimistic_counter([leader, follower])
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
