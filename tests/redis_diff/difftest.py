#!/usr/bin/python3
"""difftest.py -- differential tests of chorus against redis-server.

From a seed, generates random command sequences for every command chorus implements -- single
commands and pipelines (several commands in one write), on several connections, with keys from
a small keyspace (so that they collide), binary / empty / large values, options, wrong
arguments and wrong arities -- sends the same sequence to a redis-server and to a chorus
cluster (each connection to a node chosen by the seed: leader or follower), and compares every
reply byte for byte, except where a comparison rule below says otherwise.

On a difference it prints the sequence and both replies, then shrinks the sequence to a short
one that still differs (replaying candidates against FLUSHALLed servers on fresh connections)
and prints that too. Exit status: 0 all replies equal and at least --min-ops compared,
1 a difference or too few operations, 2 a usage or connection error.

Only Debian's /usr/bin/python3 and its standard library: no pip.
"""
import argparse
import random
import socket
import sys
import time

# ---- The exception list (copied into README.md; keep both in step) ------------------------
EXCEPTIONS = """\
Where chorus differs from Redis on purpose, the differential test does not compare bytes:
- Limits: keys are at most 4 KiB and values at most 1 MiB (Redis: 512 MiB). A SETRANGE,
  SETBIT, APPEND or INCRBYFLOAT result beyond 1 MiB, or a key beyond 4 KiB, answers an -ERR
  from chorus; the tester does not generate them, and LCS of two strings whose table exceeds
  chorus's bound answers chorus's -ERR (accepted when Redis answers anything).
- CAS is chorus's own command (Redis has none): not compared.
- Unsupported features answer an -ERR that names them: SELECT of a database other than 0,
  COPY ... DB n with n != 0, CLIENT subcommands other than SETNAME,
  GETNAME, ID, INFO, LIST, CLIENT LIST's filters, COMMAND LIST FILTERBY, CONFIG but GET
  (which knows save and appendonly, and chorus's appendonly is yes), AUTH, and inside
  MULTI any command but chorus's key-value writes, GET, MGET, EXISTS, STRLEN and the hash,
  set, list and sorted set commands; the tester does not generate them.
- Hashes, sets and lists: fields and members are at most 4 KiB, list elements 1 MiB
  (chorus answers an -ERR beyond; the tester does not generate them). Elements come in chorus's own order (the hash order of
  its storage), so HKEYS, HVALS, HGETALL, SMEMBERS, SINTER, SUNION, SDIFF, SPOP with a count
  are compared as sets (HGETALL as a set of pairs), and HSCAN and SSCAN by the elements of a
  call from cursor 0 that ends the iteration on both. Random picks (HRANDFIELD, SRANDMEMBER):
  the same reply type and length, and every element a member of the collection; SPOP
  without a count is not generated (it would pick different members). OBJECT ENCODING
  answers chorus's own encodings (raw, hashtable, linkedlist, skiplist), not compared. Lists
  are compared byte for byte.
- Sorted sets are compared byte for byte (scores formatted as Redis 7.0 does), except: a
  score of -0 is kept as 0, as Redis keeps it in its small (listpack) encoding but not in its
  skiplist one, so the tester makes no -0 score (nor a weight that would make one); two
  members longer than 476 bytes that share their first 476 bytes and their score are ordered
  by a hash of the rest, not by its bytes; BYLEX ranges run only on sorted sets whose scores
  are all equal (Redis leaves other cases unspecified). ZSCAN is compared as HSCAN,
  ZRANDMEMBER as HRANDFIELD.
- WATCH: chorus aborts EXEC when a watched key's value (or existence) at EXEC differs from
  what it was at WATCH; Redis aborts on any write to it, even one that restores the value
  (write then delete, SET of the same value). The tester watches only where no other
  connection writes between WATCH and EXEC, or where a write surely changes the value.
- Expiry: a key's time to live is counted by chorus in log time (docs/expiry.md), so TTL,
  PTTL, EXPIRETIME and PEXPIRETIME are compared by a rule: -1 and -2 exactly, other values
  within 5 s (5,000 ms) of Redis's. The tester gives deadlines far from now (1,000 s and more,
  or the years 2100 to 2102) or already passed, never ones that could pass during a run, and
  NX/XX/GT/LT to relative EXPIRE/PEXPIRE only where their outcome does not depend on the
  millisecond the two commands ran in (NX, XX, and combinations that are errors).
- Bounds of chorus's own: a client name of at most 127 bytes, KEYS on stores of at most
  262,144 keys (use SCAN), a MATCH pattern of at most 4352 bytes, an LCS table of at most
  64 MiB, a transaction of at most 4096 commands and 2 MiB.
- State that differs between two different servers, compared by a rule instead of bytes:
  INFO, CLIENT LIST (both a bulk string), CLIENT ID (both an integer), CLIENT INFO (the name=
  field only), MEMORY USAGE (both an integer, or both null), HELLO (the same map keys, and
  the same proto), COMMAND COUNT (both an integer), COMMAND INFO (name, arity, flags, first
  key, last key, step of each entry), CONFIG GET (the same names), SCAN (the set of keys over
  a complete iteration; a single SCAN call: both a [cursor, keys] pair), COMMAND, COMMAND INFO
  without names and COMMAND DOCS (the same reply type; chorus's DOCS entries are empty
  maps), COMMAND LIST (chorus's names are all Redis's), KEYS (the same set), RANDOMKEY (null on both,
  or chorus's key exists in Redis).
"""

KEYS = [b"k0", b"k1", b"k2", b"k3", b"k4", b"k\r\n\x00", b"", b"x" * 600]


class Reply:
    """One reply: its exact bytes and a parsed value."""

    __slots__ = ("raw", "kind", "value")

    def __init__(self, raw, kind, value):
        self.raw, self.kind, self.value = raw, kind, value

    def __repr__(self):
        raw = self.raw if len(self.raw) <= 300 else self.raw[:300] + b"...(%d bytes)" % len(self.raw)
        return repr(raw)


class Conn:
    """A RESP connection that returns each reply's exact bytes and parsed value."""

    def __init__(self, port, timeout_s):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self.buf = b""
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, commands):
        data = b"".join(encode(c) for c in commands)
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("connection closed by port %d" % self.port)
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end]
                self.pos = end + 2
                return line
            self._fill()

    def _bytes(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = self.buf[self.pos:self.pos + n]
        self.pos += n + 2
        return data

    def read(self):
        start_buf_len = len(self.buf) - self.pos
        del start_buf_len
        parts = []
        value = self._read_value(parts)
        raw = b"".join(parts)
        return Reply(raw, raw[:1], value)

    def _read_value(self, parts):
        line = self._line()
        parts.append(line + b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":", b",", b"#", b"("):
            return rest
        if kind == b"_":
            return None
        if kind in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                return None
            data = self._bytes(n)
            parts.append(data + b"\r\n")
            return data
        if kind in (b"*", b"~", b">", b"%", b"|"):
            n = int(rest)
            if n < 0:
                return None
            if kind in (b"%", b"|"):
                n *= 2
            items = [self._read_value(parts) for _ in range(n)]
            if kind == b"|":
                return self._read_value(parts)
            return items
        raise ValueError("unknown reply type %r from port %d" % (line[:40], self.port))


def encode(command):
    out = [b"*%d\r\n" % len(command)]
    for arg in command:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


# ---- The generator -------------------------------------------------------------------------

class Gen:
    def __init__(self, rng):
        self.r = rng

    def key(self):
        r = self.r
        if r.random() < 0.85:
            return KEYS[r.randrange(5)]
        return r.choice(KEYS[5:])

    def value(self):
        r = self.r
        p = r.random()
        if p < 0.1:
            return b""
        if p < 0.35:
            return str(r.randint(-1000, 1000)).encode()
        if p < 0.45:
            return r.choice([b"1.5", b"-0.25", b"3e2", b"10.0", b"0.1", b"1e-5", b" 1", b"12abc",
                             b"9223372036854775807", b"-9223372036854775808", b"inf", b"nan"])
        if p < 0.7:
            return r.choice([b"hello", b"world", b"abcdef", b"ohmytext", b"mynewtext", b"foo"])
        if p < 0.97:
            return bytes(r.choice(b"ab\r\n\x00\xffz") for _ in range(r.randint(1, 24)))
        return bytes(r.getrandbits(8) for _ in range(r.randint(1000, 100000)))

    def integer(self, low=-5, high=40):
        r = self.r
        p = r.random()
        if p < 0.85:
            return str(r.randint(low, high)).encode()
        return r.choice([b"abc", b"1.5", b"", b"9223372036854775807", b"-9223372036854775808",
                         b"99999999999999999999", b" 3", b"+3", b"007"])

    def keys(self, low=1, high=4):
        return [self.key() for _ in range(self.r.randint(low, high))]

    def command(self):
        """One random command (a list of bytes), maybe with a wrong arity."""
        name, make = self.r.choice(COMMANDS)
        cmd = [name] + make(self)
        p = self.r.random()
        if p < 0.03 and len(cmd) > 1 and name != b"SPOP":  # SPOP k: a random pick
            cmd = cmd[:-1]
        elif p < 0.05:
            cmd = cmd + [self.key()]
        return cmd


# Deadlines that cannot pass during a run (or passed long ago): see EXCEPTIONS, Expiry.
FAR_S = [b"4102444800", b"4133980800", b"4165516800"]  # 2100, 2101, 2102
FAR_MS = [t + b"000" for t in FAR_S]
EXPIRE_OPTS = [[b"EX", b"1000"], [b"PX", b"100000000"], [b"EXAT", FAR_S[0]],
               [b"PXAT", FAR_MS[1]], [b"KEEPTTL"], [b"keepttl"], [b"ex", b"5000"],
               [b"EX", b"0"], [b"PX", b"-1"], [b"EX", b"abc"], [b"EX"],
               [b"EX", b"9223372036854775807"], [b"PX", b"9223372036854775807"]]


def g_set(g):
    args = [g.key(), g.value()]
    opts = [b"NX", b"XX", b"GET", b"nx", b"get"]
    for _ in range(g.r.choice([0, 0, 1, 1, 2])):
        if g.r.random() < 0.35:
            args += g.r.choice(EXPIRE_OPTS)
        else:
            args.append(g.r.choice(opts))
    if g.r.random() < 0.03:
        args.append(b"FOO")
    return args


def g_expire_relative(g):
    """EXPIRE / PEXPIRE: NX and XX (GT and LT would compare two deadlines set a few ms apart)."""
    args = [g.key(), g.r.choice([b"1000", b"100000000", b"5000", b"0", b"-5", b"abc", b"",
                                 b"9223372036854775807", b"-9223372036854775808"])]
    if g.r.random() < 0.4:
        args.append(g.r.choice([b"NX", b"XX", b"nx", b"xx", b"FOO"]))
        if g.r.random() < 0.2:
            args.append(g.r.choice([b"XX", b"GT", b"LT", b"NX"]))  # errors when both given
            if args[-1] != b"NX" and upper(args[-2]) != b"NX":
                args[-2] = b"NX"
    return args


def g_expire_absolute(g, times):
    args = [g.key(), g.r.choice(times + [b"1", b"0", b"-1", b"x", b"9223372036854775807"])]
    for _ in range(g.r.choice([0, 1, 1, 2])):
        args.append(g.r.choice([b"NX", b"XX", b"GT", b"LT", b"gt", b"lt", b"BAD"]))
    return args


def g_getex(g):
    return [g.key()] + g.r.choice([[], [], [b"EX", b"1000"], [b"PX", b"100000000"],
                                   [b"EXAT", FAR_S[2]], [b"PXAT", FAR_MS[0]], [b"PERSIST"],
                                   [b"persist"], [b"EX", b"0"], [b"EX", b"x"], [b"EX"],
                                   [b"PERSIST", b"EX", b"10"], [b"EX", b"10", b"PX", b"10"],
                                   [b"EXAT", b"1"], [b"PXAT", b"1"], [b"FOO"], [b"KEEPTTL"]])


def g_bitcount(g):
    args = [g.key()]
    if g.r.random() < 0.6:
        args += [g.integer(-10, 10), g.integer(-10, 10)]
        if g.r.random() < 0.4:
            args.append(g.r.choice([b"BYTE", b"BIT", b"bit", b"WORD"]))
    return args


def g_acl(g):
    """ACL subcommands that change nothing (users are tested by acl_diff.py): reads of the
    default user, SETUSER's errors, DELUSER of users that do not exist or of default. Each
    SETUSER fails even with its last argument dropped or a key added (Gen.command's arity
    mutations), so that no user is created: the redis-server outlives one protocol's run."""
    return g.r.choice([
        [b"WHOAMI"], [b"USERS"], [b"LIST"], [b"CAT"], [b"GETUSER", b"default"],
        [b"GETUSER", b"nosuch"], [b"CAT", b"nosuchcategory"], [b"NOSUCH"], [b"WHOAMI", b"x"],
        [b"SETUSER", b"x", b"bogus", b"on"], [b"SETUSER", b"x", b"+nosuchcommand", b"on"],
        [b"SETUSER", b"x", b"+@nosuch", b"+@nosuch"], [b"SETUSER", b"x", b"#123", b"#123"],
        [b"SETUSER", b"a b", b"on"], [b"DELUSER", b"default"],
        [b"DELUSER", b"nosuch", b"nosuch2"], [b"GETUSER"],
    ])


def g_lcs(g):
    args = [g.key(), g.key()]
    for opt in (b"LEN", b"IDX", b"WITHMATCHLEN"):
        if g.r.random() < 0.3:
            args.append(opt)
    if g.r.random() < 0.3:
        args += [b"MINMATCHLEN", g.integer(0, 4)]
    return args


def g_scan(g):
    """SCAN with arguments that are probably wrong (a valid full scan is SCANALL)."""
    args = [g.r.choice([b"0", b"abc", b"-1", b"18446744073709551616", b"1.5"])]
    for _ in range(g.r.randint(0, 2)):
        args += g.r.choice([[b"COUNT", g.integer(-1, 5)], [b"MATCH", b"k*"], [b"TYPE", b"string"],
                            [b"FOO", b"1"], [b"COUNT"]])
    return args


def g_scanall(g):
    args = []
    if g.r.random() < 0.4:
        args += [b"MATCH", g.r.choice([b"k*", b"k[0-2]", b"*", b"k?", b"x*", b"nomatch", b"m1*"])]
    if g.r.random() < 0.5:
        args += [b"COUNT", str(g.r.randint(1, 5)).encode()]
    if g.r.random() < 0.3:
        args += [b"TYPE", g.r.choice([b"string", b"list", b"hash", b"STRING"])]
    return args


def g_client(g):
    r = g.r.random()
    if r < 0.3:
        return [b"SETNAME", g.r.choice([b"app1", b"worker-2", b"", b"bad name", b"x\ny"])]
    if r < 0.55:
        return [b"GETNAME"]
    if r < 0.7:
        return [b"INFO"]
    if r < 0.8:
        return [b"ID"]
    if r < 0.9:
        return [b"LIST"]
    return [b"NOSUCH"]


def g_command(g):
    r = g.r.random()
    names = [c[0].lower() for c in COMMANDS if c[0] not in (b"SCANALL", b"NOSUCHCMD")]
    if r < 0.2:
        return [b"COUNT"]
    if r < 0.3:
        return [b"LIST"]
    if r < 0.6:
        name, make = g.r.choice([c for c in COMMANDS if c[0] not in (b"SCANALL", b"NOSUCHCMD")])
        return [b"GETKEYS", name] + make(g)
    return [b"INFO"] + [g.r.choice(names) for _ in range(g.r.randint(1, 3))]


def g_hello(g):
    args = [g.r.choice([b"2", b"3", b"2", b"4", b"x"])]
    if g.r.random() < 0.3:
        args += [b"SETNAME", b"hello-name"]
    return args


FIELDS = [b"f1", b"f2", b"f3", b"f4", b"", b"fi\r\neld", b"10", b"-3", b"x" * 300]


def g_field(g):
    return g.r.choice(FIELDS)


def g_fields(g, low=1, high=4):
    return [g_field(g) for _ in range(g.r.randint(low, high))]


def g_hset(g):
    args = [g.key()]
    for _ in range(g.r.randint(1, 3)):
        args += [g_field(g), g.value()]
    return args


def g_hincrby(g):
    return [g.key(), g_field(g), g.integer(-100, 100)]


def g_hincrbyfloat(g):
    return [g.key(), g_field(g), g.r.choice([b"1.5", b"-0.1", b"3", b"1e3", b"abc", b"0.1",
                                              b"-7.25", b"inf", b"5.0e-3", b"", b"nan"])]


def g_scan_args(g):
    args = [g.r.choice([b"0", b"0", b"0", b"abc", b"-1", b"18446744073709551616"])]
    for _ in range(g.r.randint(0, 2)):
        args += g.r.choice([[b"COUNT", g.integer(-1, 1000)], [b"MATCH", b"f*"],
                            [b"MATCH", b"*"], [b"FOO", b"1"], [b"COUNT"],
                            [b"COUNT", b"1000"]])
    return args


def g_randcount(g, values):
    args = [g.key()]
    if g.r.random() < 0.8:
        args.append(g.r.choice([b"1", b"2", b"5", b"-1", b"-5", b"0", b"100", b"-100", b"abc",
                                b"9223372036854775807", b"-9223372036854775808"]))
        if values and g.r.random() < 0.5:
            args.append(g.r.choice([b"WITHVALUES", b"withvalues", b"WITHSCORES"]))
    return args


def g_intercard(g):
    keys = g.keys()
    args = [str(len(keys)).encode() if g.r.random() < 0.85 else g.r.choice([b"0", b"-1", b"9",
                                                                               b"x"])] + keys
    if g.r.random() < 0.4:
        args += [b"LIMIT", g.r.choice([b"0", b"1", b"2", b"-1", b"x"])]
    return args


def g_elements(g):
    return [g.r.choice(FIELDS[:6] + [g.value()]) for _ in range(g.r.randint(1, 4))]


def g_block_timeout(g):
    """A blocking pop's timeout: short, or one of the texts Redis refuses."""
    return g.r.choice([b"0.01", b"0.02", b"0.001", b"0.0001", b"abc", b"-1", b"1e400", b"inf",
                       b" 1", b"nan", b"0x0.01p1"])


def g_lpos(g):
    args = [g.key(), g_field(g)]
    for _ in range(g.r.randint(0, 3)):
        args += g.r.choice([[b"RANK", g.r.choice([b"1", b"2", b"-1", b"-2", b"0", b"x"])],
                            [b"COUNT", g.r.choice([b"0", b"1", b"2", b"-1", b"x"])],
                            [b"MAXLEN", g.r.choice([b"0", b"1", b"3", b"-1"])], [b"FOO"]])
    return args


def g_copy(g):
    args = [g.key(), g.key()]
    if g.r.random() < 0.4:
        args.append(b"REPLACE")
    if g.r.random() < 0.1:
        args += [b"DB", b"0"]
    return args


# Sorted sets. Scores avoid -0 (and weights that make one): Redis keeps -0 only in its
# skiplist encoding, chorus stores 0 as its listpack encoding does (exception list).
ZSCORES = [b"1", b"2", b"-1", b"0", b"1.5", b"0.1", b"3", b"inf", b"-inf", b"+inf", b"1e3",
           b"2.5", b"abc", b"nan", b"", b" 1", b"0x10", b"1.1", b"-2.75", b"100"]
ZMEMBERS = FIELDS + [b"m1", b"m2", b"y" * 600, b"zm17", b"zm600", b"zm1100"]
ZBOUNDS = [b"-inf", b"+inf", b"inf", b"0", b"1", b"(1", b"2", b"(2.5", b"1.5", b"(0", b"-1",
           b"x", b"", b"(", b"3", b"100", b"(inf"]
# BYLEX runs only on these keys, which hold score 0 only (Redis's rule for lex ranges).
LEXKEYS = [b"lx0", b"lx1"]
LEXBOUNDS = [b"-", b"+", b"[f1", b"(f1", b"[f3", b"(m1", b"[m", b"[", b"(", b"x", b"", b"+x",
             b"[x" + b"x" * 299, b"[10"]


def g_zmember(g):
    return g.r.choice(ZMEMBERS)


def g_zadd_big(g):
    """A big sorted set in one ZADD (Redis's skiplist encoding; chorus's ranks from its block
    counts, which need more than 1,024 members)."""
    args = [g.key()]
    for i in range(g.r.randint(1100, 1500)):
        args += [str(g.r.randint(0, 400)).encode() if g.r.random() < 0.9 else b"2.5", b"zm%d" % i]
    return args


def g_zrank_bound(g):
    if g.r.random() < 0.7:
        return g.integer(-6, 6)
    return str(g.r.choice([g.r.randint(500, 800), -g.r.randint(500, 800)])).encode()


def g_zadd(g):
    args = [g.key()]
    for _ in range(g.r.choice([0, 0, 0, 1, 1, 2])):
        args.append(g.r.choice([b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR", b"ch", b"gt"]))
    for _ in range(g.r.randint(1, 3)):
        args += [g.r.choice(ZSCORES[:12]) if g.r.random() < 0.9 else g.r.choice(ZSCORES),
                 g_zmember(g)]
    if g.r.random() < 0.03:
        args.append(b"dangling")
    return args


def g_zadd_lex(g):
    return [g.r.choice(LEXKEYS)] + sum(([b"0", g_zmember(g)] for _ in range(g.r.randint(1, 3))), [])


def g_zlimit(g):
    if g.r.random() < 0.3:
        return [b"LIMIT", g.r.choice([b"0", b"1", b"2", b"-1", b"5", b"x"]),
                g.r.choice([b"1", b"2", b"-1", b"0", b"10", b"x"])]
    return []


def g_zrange(g):
    r = g.r.random()
    opts = []
    if r < 0.45:
        args = [g.key(), g_zrank_bound(g), g_zrank_bound(g)]
        if g.r.random() < 0.1:
            opts += g_zlimit(g)
    elif r < 0.85:
        args = [g.key(), g.r.choice(ZBOUNDS), g.r.choice(ZBOUNDS)]
        opts.append(b"BYSCORE")
        opts += g_zlimit(g)
    else:
        args = [g.r.choice(LEXKEYS), g.r.choice(LEXBOUNDS), g.r.choice(LEXBOUNDS)]
        opts.append(b"BYLEX")
        opts += g_zlimit(g)
    if g.r.random() < 0.3:
        opts.append(b"REV")
    if g.r.random() < 0.4:
        opts.append(b"WITHSCORES")
    if g.r.random() < 0.03:
        opts.append(b"BOGUS")
    if g.r.random() < 0.2 and b"LIMIT" not in opts:
        g.r.shuffle(opts)
    return args + opts


def g_zrangestore(g):
    args = g_zrange(g)
    return [g.key()] + [a for a in args if a != b"WITHSCORES" or g.r.random() < 0.1]


def g_zbyscore(g):
    args = [g.key(), g.r.choice(ZBOUNDS), g.r.choice(ZBOUNDS)]
    if g.r.random() < 0.4:
        args.append(b"WITHSCORES")
    return args + g_zlimit(g)


def g_zbylex(g):
    return [g.r.choice(LEXKEYS), g.r.choice(LEXBOUNDS), g.r.choice(LEXBOUNDS)] + g_zlimit(g)


def g_zstore(g):
    keys = g.keys(1, 3) + (g.r.choice([[], [], [g.r.choice(LEXKEYS)]]))
    numkeys = str(len(keys)).encode() if g.r.random() < 0.9 else g.r.choice([b"0", b"-1", b"9", b"x"])
    args = [g.key(), numkeys] + keys
    if g.r.random() < 0.3:
        args += [b"WEIGHTS"] + [g.r.choice([b"1", b"2", b"0.5", b"3", b"x"]) for _ in keys]
    if g.r.random() < 0.3:
        args += [b"AGGREGATE", g.r.choice([b"SUM", b"MIN", b"MAX", b"max", b"AVG"])]
    return args


def g_zpop(g):
    return [g.key()] + g.r.choice([[], [], [b"1"], [b"2"], [b"10"], [b"0"], [b"-1"], [b"x"]])


def g_zrandmember(g):
    args = [g.key()]
    if g.r.random() < 0.8:
        args.append(g.r.choice([b"1", b"2", b"5", b"-1", b"-5", b"0", b"100", b"-100", b"abc"]))
        if g.r.random() < 0.5:
            args.append(g.r.choice([b"WITHSCORES", b"withscores", b"WITHVALUES"]))
    return args


def g_zremrange(g, kind):
    if kind == b"RANK":
        return [g.key(), g_zrank_bound(g), g_zrank_bound(g)]
    if kind == b"LEX":
        return [g.r.choice(LEXKEYS), g.r.choice(LEXBOUNDS), g.r.choice(LEXBOUNDS)]
    return [g.key(), g.r.choice(ZBOUNDS), g.r.choice(ZBOUNDS)]


COMMANDS = [
    (b"SET", g_set), (b"SET", g_set), (b"SET", g_set),
    (b"GET", lambda g: [g.key()]), (b"GET", lambda g: [g.key()]),
    (b"SETNX", lambda g: [g.key(), g.value()]),
    (b"GETSET", lambda g: [g.key(), g.value()]),
    (b"GETDEL", lambda g: [g.key()]),
    (b"DEL", lambda g: g.keys()), (b"UNLINK", lambda g: g.keys()),
    (b"EXISTS", lambda g: g.keys()),
    (b"INCR", lambda g: [g.key()]), (b"DECR", lambda g: [g.key()]),
    (b"INCRBY", lambda g: [g.key(), g.integer(-100, 100)]),
    (b"DECRBY", lambda g: [g.key(), g.integer(-100, 100)]),
    (b"INCRBYFLOAT", lambda g: [g.key(), g.r.choice([b"1.5", b"-0.1", b"3", b"1e3", b"abc", b"0.1",
                                                       b"-7.25", b"inf", b"5.0e-3", b""])]),
    (b"APPEND", lambda g: [g.key(), g.value()]),
    (b"STRLEN", lambda g: [g.key()]),
    (b"MGET", lambda g: g.keys()),
    (b"MSET", lambda g: sum(([g.key(), g.value()] for _ in range(g.r.randint(1, 3))), [])),
    (b"MSETNX", lambda g: sum(([g.key(), g.value()] for _ in range(g.r.randint(1, 3))), [])),
    (b"DBSIZE", lambda g: []),
    (b"GETRANGE", lambda g: [g.key(), g.integer(-10, 10), g.integer(-10, 10)]),
    (b"SETRANGE", lambda g: [g.key(), g.integer(0, 30), g.value()]),
    (b"GETBIT", lambda g: [g.key(), g.integer(0, 80)]),
    (b"SETBIT", lambda g: [g.key(), g.integer(0, 80), g.r.choice([b"0", b"1", b"1", b"2", b"x"])]),
    (b"BITCOUNT", g_bitcount),
    (b"LCS", g_lcs),
    (b"KEYS", lambda g: [g.r.choice([b"*", b"k*", b"k[1-3]", b"?", b"*\\**", b"nomatch", b"m?",
                                     b"m[1-3]*"])]),
    (b"TYPE", lambda g: [g.key()]),
    (b"RENAME", lambda g: [g.key(), g.key()]),
    (b"RENAMENX", lambda g: [g.key(), g.key()]),
    (b"COPY", g_copy),
    (b"RANDOMKEY", lambda g: []),
    (b"TOUCH", lambda g: g.keys()),
    (b"MEMORY", lambda g: [b"USAGE", g.key()] + ([b"SAMPLES", b"5"] if g.r.random() < 0.2 else [])),
    (b"FLUSHALL", lambda g: g.r.choice([[], [], [b"SYNC"], [b"ASYNC"], [b"BAD"]])),
    (b"FLUSHDB", lambda g: g.r.choice([[], [b"SYNC"]])),
    (b"PING", lambda g: g.r.choice([[], [g.value()]])),
    (b"ECHO", lambda g: [g.value()]),
    (b"SELECT", lambda g: [g.r.choice([b"0", b"0", b"x"])]),
    (b"CLIENT", g_client),
    (b"SCAN", g_scan),
    (b"SCANALL", g_scanall),
    (b"INFO", lambda g: g.r.choice([[], [b"server"], [b"keyspace"]])),
    (b"COMMAND", g_command),
    (b"HELLO", g_hello),
    (b"ACL", g_acl),
    (b"CONFIG", lambda g: [b"GET", g.r.choice([b"save", b"appendonly"])]),
    (b"NOSUCHCMD", lambda g: [g.value()]),
    # Outside a transaction block: UNWATCH, and EXEC/DISCARD without MULTI (errors). WATCH
    # comes only in transaction blocks and watch scenarios (see EXCEPTIONS: WATCH).
    # Hashes
    (b"HSET", g_hset), (b"HSET", g_hset), (b"HMSET", g_hset),
    (b"HSETNX", lambda g: [g.key(), g_field(g), g.value()]),
    (b"HGET", lambda g: [g.key(), g_field(g)]), (b"HGET", lambda g: [g.key(), g_field(g)]),
    (b"HMGET", lambda g: [g.key()] + g_fields(g)),
    (b"HDEL", lambda g: [g.key()] + g_fields(g)),
    (b"HEXISTS", lambda g: [g.key(), g_field(g)]),
    (b"HLEN", lambda g: [g.key()]),
    (b"HKEYS", lambda g: [g.key()]), (b"HVALS", lambda g: [g.key()]),
    (b"HGETALL", lambda g: [g.key()]),
    (b"HINCRBY", g_hincrby), (b"HINCRBYFLOAT", g_hincrbyfloat),
    (b"HSTRLEN", lambda g: [g.key(), g_field(g)]),
    (b"HRANDFIELD", lambda g: g_randcount(g, True)),
    (b"HSCAN", lambda g: [g.key()] + g_scan_args(g)),
    # Sets
    (b"SADD", lambda g: [g.key()] + g_fields(g)), (b"SADD", lambda g: [g.key()] + g_fields(g)),
    (b"SREM", lambda g: [g.key()] + g_fields(g)),
    (b"SISMEMBER", lambda g: [g.key(), g_field(g)]),
    (b"SMISMEMBER", lambda g: [g.key()] + g_fields(g)),
    (b"SMEMBERS", lambda g: [g.key()]), (b"SCARD", lambda g: [g.key()]),
    (b"SPOP", lambda g: [g.key(), g.r.choice([b"1000", b"0", b"-1", b"x"])]),
    (b"SRANDMEMBER", lambda g: g_randcount(g, False)),
    (b"SMOVE", lambda g: [g.key(), g.key(), g_field(g)]),
    (b"SINTER", lambda g: g.keys()), (b"SUNION", lambda g: g.keys()),
    (b"SDIFF", lambda g: g.keys()),
    (b"SINTERSTORE", lambda g: g.keys(2, 4)), (b"SUNIONSTORE", lambda g: g.keys(2, 4)),
    (b"SDIFFSTORE", lambda g: g.keys(2, 4)),
    (b"SINTERCARD", g_intercard),
    (b"SSCAN", lambda g: [g.key()] + g_scan_args(g)),
    # Lists
    (b"LPUSH", lambda g: [g.key()] + g_elements(g)), (b"RPUSH", lambda g: [g.key()] + g_elements(g)),
    (b"LPUSH", lambda g: [g.key()] + g_elements(g)), (b"RPUSH", lambda g: [g.key()] + g_elements(g)),
    (b"LPUSHX", lambda g: [g.key()] + g_elements(g)), (b"RPUSHX", lambda g: [g.key()] + g_elements(g)),
    (b"LPOP", lambda g: [g.key()] + g.r.choice([[], [], [g.integer(-1, 5)]])),
    (b"RPOP", lambda g: [g.key()] + g.r.choice([[], [], [g.integer(-1, 5)]])),
    (b"LLEN", lambda g: [g.key()]),
    (b"LRANGE", lambda g: [g.key(), g.integer(-8, 8), g.integer(-8, 8)]),
    (b"LRANGE", lambda g: [g.key(), b"0", b"-1"]),
    (b"LINDEX", lambda g: [g.key(), g.integer(-6, 6)]),
    (b"LSET", lambda g: [g.key(), g.integer(-6, 6), g.value()]),
    (b"LTRIM", lambda g: [g.key(), g.integer(-6, 6), g.integer(-6, 6)]),
    (b"LREM", lambda g: [g.key(), g.integer(-3, 3), g_field(g)]),
    (b"LINSERT", lambda g: [g.key(), g.r.choice([b"BEFORE", b"AFTER", b"after", b"MIDDLE"]),
                            g_field(g), g.value()]),
    (b"LPOS", g_lpos),
    (b"LMOVE", lambda g: [g.key(), g.key(), g.r.choice([b"LEFT", b"RIGHT", b"left", b"UP"]),
                          g.r.choice([b"LEFT", b"RIGHT", b"right"])]),
    (b"RPOPLPUSH", lambda g: [g.key(), g.key()]),
    # Sorted sets
    (b"ZADD", g_zadd), (b"ZADD", g_zadd), (b"ZADD", g_zadd), (b"ZADD", g_zadd_lex),
    (b"ZADD", g_zadd_big),
    (b"ZINCRBY", lambda g: [g.key(), g.r.choice(ZSCORES), g_zmember(g)]),
    (b"ZREM", lambda g: [g.key()] + [g_zmember(g) for _ in range(g.r.randint(1, 3))]),
    (b"ZSCORE", lambda g: [g.key(), g_zmember(g)]),
    (b"ZMSCORE", lambda g: [g.key()] + [g_zmember(g) for _ in range(g.r.randint(1, 3))]),
    (b"ZCARD", lambda g: [g.key()]),
    (b"ZCOUNT", lambda g: [g.key(), g.r.choice(ZBOUNDS), g.r.choice(ZBOUNDS)]),
    (b"ZLEXCOUNT", lambda g: [g.r.choice(LEXKEYS), g.r.choice(LEXBOUNDS), g.r.choice(LEXBOUNDS)]),
    (b"ZRANGE", g_zrange), (b"ZRANGE", g_zrange),
    (b"ZRANGE", lambda g: [g.key(), b"0", b"-1", b"WITHSCORES"]),
    (b"ZRANGEBYSCORE", g_zbyscore), (b"ZREVRANGEBYSCORE", g_zbyscore),
    (b"ZRANGEBYLEX", g_zbylex), (b"ZREVRANGEBYLEX", g_zbylex),
    (b"ZREVRANGE", lambda g: [g.key(), g_zrank_bound(g), g_zrank_bound(g)] +
     g.r.choice([[], [b"WITHSCORES"], [b"withscores"], [b"LIMIT", b"0", b"1"]])),
    (b"ZRANK", lambda g: [g.key(), g_zmember(g)]),
    (b"ZREVRANK", lambda g: [g.key(), g_zmember(g)]),
    (b"ZPOPMIN", g_zpop), (b"ZPOPMAX", g_zpop),
    (b"ZRANGESTORE", g_zrangestore),
    (b"ZUNIONSTORE", g_zstore), (b"ZINTERSTORE", g_zstore),
    (b"ZRANDMEMBER", g_zrandmember),
    (b"ZSCAN", lambda g: [g.key()] + g_scan_args(g)),
    (b"ZREMRANGEBYSCORE", lambda g: g_zremrange(g, b"SCORE")),
    (b"ZREMRANGEBYRANK", lambda g: g_zremrange(g, b"RANK")),
    (b"ZREMRANGEBYLEX", lambda g: g_zremrange(g, b"LEX")),
    # Expiry (docs/expiry.md): every type
    (b"EXPIRE", g_expire_relative), (b"PEXPIRE", g_expire_relative),
    (b"EXPIREAT", lambda g: g_expire_absolute(g, FAR_S)),
    (b"PEXPIREAT", lambda g: g_expire_absolute(g, FAR_MS)),
    (b"SETEX", lambda g: [g.key(), g.r.choice([b"1000", b"0", b"-1", b"x"]), g.value()]),
    (b"PSETEX", lambda g: [g.key(), g.r.choice([b"100000000", b"0", b"x"]), g.value()]),
    (b"GETEX", g_getex), (b"PERSIST", lambda g: [g.key()]),
    (b"TTL", lambda g: [g.key()]), (b"PTTL", lambda g: [g.key()]),
    (b"EXPIRETIME", lambda g: [g.key()]), (b"PEXPIRETIME", lambda g: [g.key()]),
    # Blocking pops: never a timeout of 0 on a list that may be empty, which would wait
    # forever; short ones (rounded up to a millisecond) answer a null array on both servers.
    (b"BLPOP", lambda g: g.keys(1, 3) + [g_block_timeout(g)]),
    (b"BRPOP", lambda g: g.keys(1, 3) + [g_block_timeout(g)]),
    (b"BLMOVE", lambda g: [g.key(), g.key(), g.r.choice([b"LEFT", b"RIGHT", b"left", b"UP"]),
                           g.r.choice([b"LEFT", b"RIGHT", b"right"]), g_block_timeout(g)]),
    (b"BRPOPLPUSH", lambda g: [g.key(), g.key(), g_block_timeout(g)]),
    (b"UNWATCH", lambda g: []),
    (b"EXEC", lambda g: []),
    (b"DISCARD", lambda g: []),
]

# What chorus runs inside MULTI (exception list): its key-value writes and GET, MGET, EXISTS,
# STRLEN.
TX_COMMANDS = [c for c in COMMANDS if c[0] in (
    b"SET", b"GET", b"SETNX", b"GETSET", b"GETDEL", b"DEL", b"UNLINK", b"EXISTS", b"INCR",
    b"DECR", b"INCRBY", b"DECRBY", b"INCRBYFLOAT", b"APPEND", b"STRLEN", b"MGET", b"MSET",
    b"MSETNX", b"SETRANGE", b"SETBIT", b"RENAME", b"RENAMENX", b"COPY",
    # hash and set commands whose replies have one order (inside EXEC compared as bytes)
    b"HSET", b"HMSET", b"HSETNX", b"HGET", b"HMGET", b"HDEL", b"HEXISTS", b"HLEN",
    b"HINCRBY", b"HINCRBYFLOAT", b"HSTRLEN", b"SADD", b"SREM", b"SISMEMBER", b"SMISMEMBER",
    b"SCARD", b"SMOVE", b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE", b"SINTERCARD",
    b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX", b"LPOP", b"RPOP", b"LLEN", b"LRANGE", b"LINDEX",
    b"LSET", b"LTRIM", b"LREM", b"LINSERT", b"LPOS", b"LMOVE", b"RPOPLPUSH",
    b"ZADD", b"ZINCRBY", b"ZREM", b"ZSCORE", b"ZMSCORE", b"ZCARD", b"ZCOUNT", b"ZLEXCOUNT",
    b"ZRANGE", b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE", b"ZRANGEBYLEX", b"ZREVRANGEBYLEX",
    b"ZREVRANGE", b"ZRANK", b"ZREVRANK", b"ZPOPMIN", b"ZPOPMAX", b"ZRANGESTORE",
    b"ZUNIONSTORE", b"ZINTERSTORE", b"ZREMRANGEBYSCORE", b"ZREMRANGEBYRANK",
    b"ZREMRANGEBYLEX",
    # expiry commands whose replies do not depend on time
    b"EXPIRE", b"PEXPIRE", b"EXPIREAT", b"PEXPIREAT", b"SETEX", b"PSETEX", b"GETEX",
    b"PERSIST",
    b"BLPOP", b"BRPOP", b"BLMOVE", b"BRPOPLPUSH")]


def transaction(g):
    """A pipelined transaction block: [WATCH keys], MULTI, commands, EXEC or DISCARD."""
    batch = []
    if g.r.random() < 0.3:
        batch.append([b"WATCH"] + g.keys())
    batch.append([b"MULTI"])
    for _ in range(g.r.randint(0, 5)):
        name, make = g.r.choice(TX_COMMANDS)
        cmd = [name] + make(g)
        if g.r.random() < 0.04:
            cmd = cmd[:1]  # a queue-time arity error: EXEC then aborts
        batch.append(cmd)
    batch.append([b"EXEC"] if g.r.random() < 0.85 else [b"DISCARD"])
    return batch

# Commands that read the keyspace but whose reply is compared by a rule, not byte for byte.
SINGLE_ONLY = (b"SCANALL", b"RANDOMKEY", b"HELLO")


def generate(seed, ops, conns):
    """The sequence of a seed: a list of steps (connection index, [commands...])."""
    rng = random.Random(seed)
    g = Gen(rng)
    steps = []
    total = 0
    while total < ops:
        conn = rng.randrange(conns)
        if rng.random() < 0.35:
            batch = [g.command() for _ in range(rng.randint(2, 8))]
            batch = [c for c in batch if c[0] not in SINGLE_ONLY] or [[b"PING"]]
            if rng.random() < 0.08:
                batch.append([b"QUIT"])  # replies to all before it, then the connection closes
        elif rng.random() < 0.08:
            batch = transaction(g)
        elif rng.random() < 0.04:
            # A watch scenario: WATCH on one connection, a write on another that surely
            # changes a watched key (a fresh random value) or surely touches none, then the
            # transaction: EXEC aborts exactly when a watched key changed.
            key = g.key()
            other = (conn + 1) % conns
            fresh = b"fresh-%d" % rng.getrandbits(48)
            target = key if rng.random() < 0.5 else b"unwatched"
            steps.append((conn, [[b"WATCH", key]]))
            steps.append((other, [[b"SET", target, fresh]]))
            batch = transaction(g)
            total += 2
        elif rng.random() < 0.03:
            # A larger keyspace for a while, so that SCAN and KEYS take several steps.
            batch = [[b"MSET"] + sum(([b"m%d" % i, b"%d" % i] for i in range(rng.randint(20, 60))), [])]
        else:
            batch = [g.command()]
        steps.append((conn, batch))
        total += len(batch)
    return steps


# ---- Comparison ----------------------------------------------------------------------------

def upper(b):
    return b.upper() if isinstance(b, bytes) else b


def is_error(rep):
    return rep.kind in (b"-", b"!")


def is_null(rep):
    return rep.raw in (b"$-1\r\n", b"*-1\r\n", b"_\r\n")


def map_pairs(rep):
    v = rep.value
    return dict(zip(v[0::2], v[1::2])) if isinstance(v, list) else {}


def client_info_name(rep):
    if not isinstance(rep.value, bytes):
        return None
    for field in rep.value.split(b" "):
        if field.startswith(b"name="):
            return field[5:]
    return None


UNORDERED = (b"HKEYS", b"HVALS", b"SMEMBERS", b"SINTER", b"SUNION", b"SDIFF", b"SPOP")


def pairs_of(values):
    return sorted(zip(values[0::2], values[1::2]))


def compare_collection(name, cmd, a, b):
    """The rules for hash and set replies in chorus's own order (exception list)."""
    if a.kind != b.kind:
        return "reply types differ"
    if name in UNORDERED:
        if isinstance(a.value, list) and isinstance(b.value, list):
            return None if sorted(a.value) == sorted(b.value) else "element sets differ"
        return None if a.raw == b.raw else "replies differ"
    if name == b"HGETALL":
        if isinstance(a.value, list) and isinstance(b.value, list):
            return None if pairs_of(a.value) == pairs_of(b.value) else "field sets differ"
        return None if a.raw == b.raw else "replies differ"
    if name in (b"HSCAN", b"SSCAN", b"ZSCAN"):
        ok = all(isinstance(r.value, list) and len(r.value) == 2 and isinstance(r.value[1], list)
                 for r in (a, b))
        if not ok:
            return None if a.raw == b.raw else "replies differ"
        # A call from cursor 0 that ends the iteration on both returns the same elements
        # (Redis's small encodings answer any cursor with every element: not compared).
        if a.value[0] == b"0" and b.value[0] == b"0" and cmd[2] == b"0":
            ea, eb = a.value[1], b.value[1]
            if name in (b"HSCAN", b"ZSCAN"):
                return None if pairs_of(ea) == pairs_of(eb) else "scanned pairs differ"
            return None if sorted(ea) == sorted(eb) else "scanned members differ"
        return None
    # HRANDFIELD, SRANDMEMBER: random picks (checked against the collection in run_steps);
    # RESP3's WITHVALUES pairs have the same shape on both sides
    if isinstance(a.value, list) and isinstance(b.value, list):
        if [isinstance(x, list) for x in a.value] != [isinstance(x, list) for x in b.value]:
            return "pick shapes differ"
        return None if len(a.value) == len(b.value) else "pick counts differ"
    if is_null(a) or is_null(b):
        return None if a.raw == b.raw else "null on one side only"
    return None


# Expiry replies counted in chorus's log time: -1 and -2 exactly, the rest within this.
TTL_TOLERANCE = {b"TTL": 5, b"PTTL": 5000, b"EXPIRETIME": 5, b"PEXPIRETIME": 5000}


def compare_ttl(name, a, b):
    if a.kind != b":" or b.kind != b":":
        return "not both integers"
    va, vb = int(a.value), int(b.value)
    if va < 0 or vb < 0:
        return None if va == vb else "replies differ"
    return None if abs(va - vb) <= TTL_TOLERANCE[name] else "beyond the tolerance"


def compare(cmd, a, b):
    """Returns None when chorus's reply b agrees with Redis's reply a for cmd, else a reason."""
    name = upper(cmd[0])
    sub = upper(cmd[1]) if len(cmd) > 1 else b""
    if name in UNORDERED + (b"HGETALL", b"HSCAN", b"SSCAN", b"ZSCAN", b"HRANDFIELD",
                            b"SRANDMEMBER", b"ZRANDMEMBER") and \
            not (is_error(a) or is_error(b)):
        return compare_collection(name, cmd, a, b)
    if name in TTL_TOLERANCE and not (is_error(a) or is_error(b)):
        return compare_ttl(name, a, b)
    if is_error(a) or is_error(b):
        if name == b"LCS" and is_error(b) and b"LCS" in b.raw and b"chorus" in b.raw:
            return None  # chorus's LCS table bound (exception list)
        if b.raw.startswith(b"-ERR key too large"):
            return None  # chorus's key bound (exception list)
        if name == b"OBJECT":
            return None  # chorus's own encodings (exception list)
        return None if a.raw == b.raw else "error replies differ"
    if name == b"INFO" or (name == b"CLIENT" and sub == b"LIST"):
        ok = a.kind in (b"$", b"=") and b.kind in (b"$", b"=")
        return None if ok else "not both bulk (or verbatim) strings"
    if name == b"CLIENT" and sub == b"ID":
        return None if a.kind == b.kind == b":" else "not both integers"
    if name == b"CLIENT" and sub == b"INFO":
        na, nb = client_info_name(a), client_info_name(b)
        return None if na == nb and na is not None else "name= differs: %r vs %r" % (na, nb)
    if name == b"MEMORY":
        if is_null(a) and is_null(b):
            return None
        return None if a.kind == b.kind == b":" else "not both integers or both null"
    if name == b"HELLO":
        ka, kb = map_pairs(a), map_pairs(b)
        if set(ka) != set(kb):
            return "map keys differ"
        return None if ka.get(b"proto") == kb.get(b"proto") else "proto differs"
    if name == b"SCAN":
        ok = all(isinstance(r.value, list) and len(r.value) == 2 and isinstance(r.value[1], list)
                 for r in (a, b))
        return None if ok else "not both [cursor, keys]"
    if name == b"COMMAND" and sub == b"LIST" and len(cmd) == 2:
        ok = (isinstance(a.value, list) and isinstance(b.value, list) and
              set(b.value) - {b"cas"} <= set(a.value))  # CAS is chorus's own (exceptions)
        return None if ok else "chorus lists a command Redis does not have"
    if name == b"COMMAND" and sub == b"GETKEYS":
        return None if a.raw == b.raw else "replies differ"
    if name == b"COMMAND" and (sub not in (b"COUNT", b"INFO") or len(cmd) == 2):
        return None if a.kind == b.kind else "not the same reply type"
    if name == b"COMMAND" and sub == b"COUNT":
        return None if a.kind == b.kind == b":" else "not both integers"
    if name == b"COMMAND" and sub == b"INFO":
        if not (isinstance(a.value, list) and isinstance(b.value, list)) or len(a.value) != len(b.value):
            return "entry counts differ"
        for ea, eb in zip(a.value, b.value):
            if (ea is None) != (eb is None):
                return "entry presence differs"
            if ea is not None and ea[:6] != eb[:6]:
                return "entry differs: %r vs %r" % (ea[:6], eb[:6])
        return None
    if name == b"CONFIG":
        ka, kb = map_pairs(a), map_pairs(b)
        return None if set(ka) == set(kb) else "config names differ"
    if name == b"KEYS":
        if not (isinstance(a.value, list) and isinstance(b.value, list)):
            return None if a.raw == b.raw else "replies differ"
        return None if sorted(a.value) == sorted(b.value) else "key sets differ"
    return None if a.raw == b.raw else "replies differ"


# ---- Running a sequence --------------------------------------------------------------------

class Side:
    """One server under test: a set of ports, one connection per logical connection."""

    def __init__(self, name, ports, conn_ports, timeout_s):
        self.name = name
        self.ports = ports
        self.conn_ports = conn_ports
        self.timeout_s = timeout_s
        self.conns = {}

    def conn(self, i):
        if i not in self.conns:
            self.conns[i] = Conn(self.conn_ports[i], self.timeout_s)
        return self.conns[i]

    def reset(self):
        for c in self.conns.values():
            c.close()
        self.conns = {}
        c = Conn(self.ports[0], self.timeout_s)
        c.send([[b"FLUSHALL"]])
        r = c.read()
        c.close()
        if r.raw != b"+OK\r\n":
            raise ConnectionError("%s: FLUSHALL answered %r" % (self.name, r))

    def run_batch(self, i, batch):
        """Sends the batch in one write and reads its replies; a QUIT ends the connection."""
        c = self.conn(i)
        c.send(batch)
        replies = []
        for cmd in batch:
            replies.append(c.read())
            if upper(cmd[0]) == b"QUIT":
                c.close()
                del self.conns[i]
                break
        return replies

    def scan_all(self, i, args, limit=100000):
        """A complete SCAN iteration: the sorted keys, or an error reply."""
        c = self.conn(i)
        cursor = b"0"
        keys = set()
        for _ in range(limit):
            c.send([[b"SCAN", cursor] + args])
            r = c.read()
            if is_error(r):
                return r
            cursor, batch = r.value
            keys.update(batch)
            if cursor == b"0":
                return sorted(keys)
        raise RuntimeError("%s: SCAN did not end after %d calls" % (self.name, limit))


class Difference(Exception):
    def __init__(self, step_index, cmd, a, b, reason):
        super().__init__(reason)
        self.step_index, self.cmd, self.a, self.b, self.reason = step_index, cmd, a, b, reason


def run_steps(redis, chorus, steps):
    """Runs steps on both sides; returns the number of commands compared or raises Difference."""
    redis.reset()
    chorus.reset()
    compared = 0
    for si, (ci, batch) in enumerate(steps):
        cmd0 = upper(batch[0][0])
        if cmd0 == b"SCANALL":
            a = redis.scan_all(ci, batch[0][1:])
            b = chorus.scan_all(ci, batch[0][1:])
            ar = a.raw if isinstance(a, Reply) else a
            br = b.raw if isinstance(b, Reply) else b
            if ar != br:
                raise Difference(si, batch[0], a, b, "full scans differ")
            compared += 1
            continue
        ra = redis.run_batch(ci, batch)
        rb = chorus.run_batch(ci, batch)
        for cmd, a, b in zip(batch, ra, rb):
            if upper(cmd[0]) == b"RANDOMKEY":
                reason = None
                if is_null(a) != is_null(b) or is_error(a) != is_error(b):
                    reason = "null on one side only"
                elif not is_null(b) and not is_error(b):
                    e = redis.run_batch(ci, [[b"EXISTS", b.value]])[0]
                    if e.raw != b":1\r\n":
                        reason = "chorus's random key does not exist in redis"
            else:
                reason = compare(cmd, a, b)
                # Picks are checked against Redis's collection when nothing ran after them.
                if reason is None and upper(cmd[0]) in (b"HRANDFIELD", b"SRANDMEMBER",
                                                        b"ZRANDMEMBER") and \
                        len(batch) == 1 and not is_error(b) and not is_null(b):
                    reason = picks_are_members(redis, ci, cmd, b)
            if reason is not None:
                raise Difference(si, cmd, a, b, reason)
            compared += 1
    return compared


def picks_are_members(redis, ci, cmd, b):
    """Every element chorus picked is in Redis's copy of the collection."""
    name = upper(cmd[0])
    key = cmd[1]
    picks = b.value if isinstance(b.value, list) else [b.value]
    if picks and isinstance(picks[0], list):  # RESP3 WITHVALUES: [field, value] pairs
        picks = [x for pair in picks for x in pair]
    if name == b"HRANDFIELD":
        whole = redis.run_batch(ci, [[b"HGETALL", key]])[0].value or []
        fields = dict(zip(whole[0::2], whole[1::2]))
        if len(cmd) == 4:  # WITHVALUES: field, value pairs
            for f, v in zip(picks[0::2], picks[1::2]):
                if fields.get(f) != v:
                    return "picked pair %r not in the hash" % ((f, v),)
            return None
        return None if all(p in fields for p in picks) else "picked field not in the hash"
    if name == b"ZRANDMEMBER":
        whole = redis.run_batch(ci, [[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"]])[0].value or []
        if whole and isinstance(whole[0], list):  # RESP3: [member, score] pairs
            whole = [x for pair in whole for x in pair]
        scores = dict(zip(whole[0::2], whole[1::2]))
        if len(cmd) == 4:  # WITHSCORES: member, score pairs (RESP3 scores are doubles)
            for m, v in zip(picks[0::2], picks[1::2]):
                if m not in scores or str(scores[m]) != str(v):
                    return "picked pair %r not in the sorted set" % ((m, v),)
            return None
        return None if all(p in scores for p in picks) else "picked member not in the sorted set"
    members = set(redis.run_batch(ci, [[b"SMEMBERS", key]])[0].value or [])
    return None if all(p in members for p in picks) else "picked member not in the set"


def show(cmd):
    parts = []
    for a in cmd:
        s = repr(a[:60])[2:-1] if len(a) <= 60 else repr(a[:40])[2:-1] + "...(%d bytes)" % len(a)
        parts.append(s if s else '""')
    return " ".join(parts)


def print_steps(steps, out):
    for si, (ci, batch) in enumerate(steps):
        if len(batch) == 1:
            print("  [%d] conn %d: %s" % (si, ci, show(batch[0])), file=out)
        else:
            print("  [%d] conn %d, pipelined:" % (si, ci), file=out)
            for cmd in batch:
                print("        %s" % show(cmd), file=out)


def still_differs(redis, chorus, steps):
    try:
        run_steps(redis, chorus, steps)
        return None
    except Difference as d:
        return d
    except (ConnectionError, OSError, ValueError):
        return None


def shrink(redis, chorus, steps, deadline):
    """Greedy shrinking: drop chunks of steps, then commands inside pipelines, while a
    difference remains. Bounded by the deadline."""
    steps = list(steps)
    chunk = max(1, len(steps) // 2)
    while chunk >= 1 and time.time() < deadline:
        i = 0
        while i < len(steps) and time.time() < deadline:
            candidate = steps[:i] + steps[i + chunk:]
            if candidate and still_differs(redis, chorus, candidate):
                steps = candidate
            else:
                i += chunk
        chunk //= 2
    for si in range(len(steps)):
        ci, batch = steps[si]
        j = 0
        while len(batch) > 1 and j < len(batch) and time.time() < deadline:
            candidate = steps[:si] + [(ci, batch[:j] + batch[j + 1:])] + steps[si + 1:]
            if still_differs(redis, chorus, candidate):
                steps, batch = candidate, batch[:j] + batch[j + 1:]
            else:
                j += 1
    return steps


def report(d, steps, out):
    print("DIFFERENCE at step %d: %s" % (d.step_index, d.reason), file=out)
    print("  command: %s" % show(d.cmd), file=out)
    print("  redis:   %r" % (d.a,), file=out)
    print("  chorus:  %r" % (d.b,), file=out)


def parse_seeds(text):
    if "-" in text:
        lo, hi = text.split("-", 1)
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def main():
    p = argparse.ArgumentParser(description="chorus vs redis-server differential test")
    p.add_argument("--redis", type=int, required=True, help="redis-server port")
    p.add_argument("--chorus", required=True, help="chorus client ports, comma separated")
    p.add_argument("--seeds", default="1-10", help="A-B or a,b,c")
    p.add_argument("--ops", type=int, default=200, help="commands per seed")
    p.add_argument("--conns", type=int, default=4, help="connections per side")
    p.add_argument("--min-ops", type=int, default=0, help="fail if fewer commands compared")
    p.add_argument("--shrink-s", type=float, default=30.0, help="time bound of shrinking")
    p.add_argument("--timeout-s", type=float, default=10.0, help="socket timeout")
    p.add_argument("--only", default="", help="generate only commands whose names start with "
                   "one of these comma-separated prefixes (e.g. Z,TYPE,DEL)")
    p.add_argument("--print-exceptions", action="store_true")
    args = p.parse_args()
    if args.only:
        prefixes = tuple(x.encode().upper() for x in args.only.split(","))
        COMMANDS[:] = [c for c in COMMANDS if c[0].startswith(prefixes)]
        TX_COMMANDS[:] = [c for c in TX_COMMANDS if c[0].startswith(prefixes)] or COMMANDS
    if args.print_exceptions:
        print(EXCEPTIONS, end="")
        return 0
    chorus_ports = [int(x) for x in args.chorus.split(",")]
    total = 0
    failed = 0
    for seed in parse_seeds(args.seeds):
        rng = random.Random(seed * 7919 + 1)
        conn_ports = [chorus_ports[rng.randrange(len(chorus_ports))] for _ in range(args.conns)]
        redis = Side("redis", [args.redis], [args.redis] * args.conns, args.timeout_s)
        chorus = Side("chorus", chorus_ports, conn_ports, args.timeout_s)
        steps = generate(seed, args.ops, args.conns)
        try:
            total += run_steps(redis, chorus, steps)
        except Difference as d:
            failed += 1
            print("seed %d (chorus connections on ports %s):" % (seed, conn_ports))
            report(d, steps, sys.stdout)
            small = shrink(redis, chorus, steps[:d.step_index + 1], time.time() + args.shrink_s)
            d2 = still_differs(redis, chorus, small)
            print("shortest sequence found (%d steps):" % len(small))
            print_steps(small, sys.stdout)
            if d2 is not None:
                report(d2, small, sys.stdout)
        except (ConnectionError, OSError, ValueError) as e:
            failed += 1
            print("seed %d: %s" % (seed, e))
    print("difftest: %d commands compared, %d seeds with a difference" % (total, failed))
    if failed:
        return 1
    if total < args.min_ops:
        print("FAIL: fewer than %d commands compared" % args.min_ops)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
