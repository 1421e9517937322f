#!/usr/bin/python3
"""pipeline_semantics.py — regression tests for the connection bugs of issue 15, against a
running chorus cluster whose client ports are given on the command line.

Each test names the bug it guards; a failure prints what was expected and what came back, and
the exit status is 1. Only the standard library: raw sockets, so that exactly the bytes a
pipelining client sends (several commands in one write) reach the node.

usage: pipeline_semantics.py LEADER_PORT FOLLOWER_PORT ALL_PORTS(comma separated)
"""
import socket
import sys
import time

TIMEOUT_S = 20.0
failures = []


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Reader:
    """Reads RESP2 replies from a socket, as raw values: bytes for simple/bulk, int, None,
    list, or ('err', text). Consumed bytes are skipped by an offset and dropped only now and
    then: deleting each reply from the front of a 65 MiB buffer cost the client seconds of CPU,
    which it took from the nodes on a 2-core machine."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.pos = 0

    def _fill(self):
        if self.pos > (1 << 20) and self.pos * 2 > len(self.buf):
            del self.buf[: self.pos]
            self.pos = 0
        chunk = self.sock.recv(4 << 20)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos: i])
                self.pos = i + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = bytes(self.buf[self.pos: self.pos + n])
        self.pos += n + 2
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return ("err", rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("bad reply line %r" % line)

    def at_eof(self):
        """Whether the peer closed with nothing more to read."""
        if self.pos < len(self.buf):
            return False
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False


def check(name, ok, detail=""):
    print("%-60s %s %s" % (name, "ok" if ok else "FAILED", detail if not ok else ""))
    if not ok:
        failures.append(name)


def info_field(port, section, field):
    s = connect(port)
    s.sendall(encode("INFO", section))
    text = Reader(s).reply().decode()
    s.close()
    for line in text.split("\r\n"):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return None


def ping_ok(port):
    try:
        s = connect(port)
        s.sendall(b"PING\r\n")
        ok = Reader(s).reply() == b"PONG"
        s.close()
        return ok
    except OSError:
        return False


def test_sigpipe(port, role):
    """Bug 0: 10,000 inline SETs in one write, then close at once: the node must not die of
    SIGPIPE writing replies into the reset connection."""
    for trial in range(3):
        s = connect(port)
        s.sendall(b"".join(b"SET sp%d:%d v\r\n" % (trial, i) for i in range(10000)))
        # A plain close: the node's first reply write draws a reset, its next one EPIPE (and,
        # were SIGPIPE not ignored, the signal); a reset sent at once would fail the first.
        s.close()
    time.sleep(0.5)  # replies are being written into the reset socket now
    check("bug 0: node survives clients closing with replies pending (%s)" % role,
          ping_ok(port))


def test_order(port, role, rounds=30):
    """Bug 1: a connection's pipelined commands take effect in the order sent."""
    bad = []
    for i in range(rounds):
        k, c, k2 = "ord:%s:%d:%f" % (role, i, time.time()), "ordc:%s:%d:%f" % (role, i, time.time()), \
            "ord2:%s:%d:%f" % (role, i, time.time())
        cmds = [("SET", k, "x"), ("GET", k), ("INCR", c), ("GET", c), ("DEL", k), ("GET", k),
                ("GET", k2), ("SET", k2, "new"), ("GET", k2), ("APPEND", k2, "er"),
                ("MGET", k, k2), ("EXISTS", k2)]
        want = [b"OK", b"x", 1, b"1", 1, None, None, b"OK", b"new", 5, [None, b"newer"], 1]
        s = connect(port)
        s.sendall(b"".join(encode(*cmd) for cmd in cmds))
        r = Reader(s)
        got = [r.reply() for _ in cmds]
        s.close()
        if got != want:
            bad.append((i, got))
    check("bug 1: pipelined commands take effect in order (%s, %d connections)" % (role, rounds),
          not bad, "first bad: %r" % (bad[:1],))


def test_many_reads(port, role, count=2000):
    """Bug 2: more than 256 pipelined reads (a follower forwards them) all answer at once."""
    s = connect(port)
    s.sendall(encode("SET", "manyreads", "v"))
    Reader(s).reply()
    start = time.monotonic()
    s.sendall(encode("GET", "manyreads") * count)
    r = Reader(s)
    got = [r.reply() for _ in range(count)]
    elapsed = time.monotonic() - start
    s.close()
    check("bug 2: %d pipelined GETs answered, under 3 s (%s)" % (count, role),
          got == [b"v"] * count and elapsed < 3.0, "%.2f s, %d wrong" %
          (elapsed, sum(1 for g in got if g != b"v")))


def terms(ports):
    return [info_field(p, "chorus", "term") for p in ports]


def test_big_reads(leader, ports):
    """Bug 3: MGETs of a 1 MiB value must not cost the leader its leadership; bug 4: a 65 MiB
    reply, and 70 pipelined GETs of 1 MiB, are served whole (no closed connection)."""
    big = b"b" * (1 << 20)
    s = connect(leader)
    s.sendall(encode("SET", "big", big))
    check("bug 3: SET of a 1 MiB value", Reader(s).reply() == b"OK")
    before = terms(ports)
    r = Reader(s)
    s.sendall(encode("MGET", *(["big"] * 30)) * 3 + encode("MGET", "big") * 30)
    replies = [r.reply() for _ in range(33)]
    ok = all(isinstance(x, list) and all(v == big for v in x) for x in replies)
    check("bug 3: 3 MGETs of 30 x 1 MiB and 30 of 1 MiB served whole", ok)
    time.sleep(1.0)  # an election, had one started, would have moved the term by now
    after = terms(ports)
    check("bug 3: no election during the large reads (terms %s -> %s)" % (before, after),
          before == after)
    s.sendall(encode("MGET", *(["big"] * 65)))
    x = r.reply()
    check("bug 4: MGET of 65 x 1 MiB (65 MiB reply) served whole",
          isinstance(x, list) and len(x) == 65 and all(v == big for v in x))
    s.sendall(encode("GET", "big") * 70)
    got = [r.reply() for _ in range(70)]
    check("bug 4: 70 pipelined GETs of a 1 MiB value served whole", got == [big] * 70)
    s.close()


def test_big_input(port, role, count=400000):
    """Bug 4: a pipeline larger than 4 MiB (redis-benchmark -t ping_mbulk -P 400000) is served
    by back-pressure, not closed."""
    s = connect(port)
    s.sendall(encode("PING") * count)
    r = Reader(s)
    n = 0
    try:
        while n < count and r.reply() == b"PONG":
            n += 1
    except (EOFError, OSError):
        pass
    s.close()
    check("bug 4: %d pipelined PINGs (%.1f MiB) all answered (%s)" %
          (count, len(encode("PING")) * count / 1048576.0, role), n == count, "%d answered" % n)


def test_quit(port, role):
    """Bug 5: QUIT behind pending commands answers them all, then closes."""
    s = connect(port)
    s.sendall(encode("SET", "quitk", "1") + encode("QUIT") + encode("SET", "quitk", "2"))
    r = Reader(s)
    got = []
    try:
        got = [r.reply(), r.reply()]
        eof = r.at_eof()
    except (EOFError, OSError):
        eof = False
    s.close()
    check("bug 5: SET, QUIT -> +OK +OK, then closed (%s)" % role,
          got == [b"OK", b"OK"] and eof, "got %r eof=%s" % (got, eof))
    s = connect(port)
    s.sendall(encode("GET", "quitk"))
    check("bug 5: the command after QUIT was not executed (%s)" % role,
          Reader(s).reply() == b"1")
    s.close()


def main():
    leader, follower = int(sys.argv[1]), int(sys.argv[2])
    ports = [int(p) for p in sys.argv[3].split(",")]
    for port, role in ((leader, "leader"), (follower, "follower")):
        test_sigpipe(port, role)
        test_order(port, role)
        test_many_reads(port, role)
        test_quit(port, role)
        test_big_input(port, role)
    test_big_reads(leader, ports)
    for p in ports:
        check("node on port %d still answers" % p, ping_ok(p))
    print("%d failed" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
