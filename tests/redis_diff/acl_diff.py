#!/usr/bin/env python3
"""acl_diff.py — ACL users, differentially: one fixed script of steps (several connections:
an administrator on the default user, clients that AUTH as named users) runs against
redis-server and against one chorus node; every reply must be the same bytes, including a
connection closed (a deleted user's). Steps marked '-' are sent to both but not compared
(cleanup of a previous run).

    acl_diff.py --redis PORT --chorus PORT

Exits 1 on the first difference, printing the step and both replies.
"""
import argparse
import socket
import sys


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.closed = False

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        """One whole reply, as its raw bytes (RESP2 and RESP3)."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        raw = line + b"\r\n"
        if kind in (b"$", b"=", b"!") and rest != b"-1":
            raw += self._exact(int(rest)) + b"\r\n"
        elif kind in (b"*", b"~", b">") and rest != b"-1":
            for _ in range(int(rest)):
                raw += self.reply()
        elif kind in (b"%", b"|"):
            for _ in range(2 * int(rest)):
                raw += self.reply()
        return raw

    def run(self, args):
        if self.closed:
            return b"<closed>"
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        try:
            self.sock.sendall(out)
            return self.reply()
        except (EOFError, ConnectionResetError, BrokenPipeError):
            self.closed = True
            return b"<closed>"


# (connection, compare, command): 'a' is the administrator (the default user, nopass).
# Redis 7.0 lists the single commands of a user in the order of its command table, a hash
# table with a random seed: no user compared here has more than one single command.
STEPS = [
    ("a", False, ["ACL", "DELUSER", "reader", "writer", "sub", "gone", "none"]),
    ("a", False, ["FLUSHALL"]),
    ("a", True, ["ACL", "SETUSER", "reader", "on", ">rpw", "~app:*", "+@read"]),
    ("a", True, ["ACL", "SETUSER", "writer", "on", ">wpw", ">wpw2", "allkeys", "+@all",
                 "-@dangerous", "-@admin"]),
    ("a", True, ["ACL", "SETUSER", "sub", "on", "nopass", "-@all", "+acl|whoami", "+@read",
                 "&news.*", "~s*"]),
    ("a", True, ["ACL", "SETUSER", "gone", "off", "resetkeys", "resetchannels", "nocommands"]),
    ("a", True, ["ACL", "LIST"]),
    ("a", True, ["ACL", "USERS"]),
    ("a", True, ["ACL", "GETUSER", "sub"]),
    ("a", True, ["ACL", "GETUSER", "writer"]),
    ("a", True, ["ACL", "GETUSER", "nosuch"]),
    ("a", True, ["ACL", "CAT"]),
    ("a", True, ["ACL", "WHOAMI"]),
    # Errors, each changing nothing.
    ("a", True, ["ACL", "SETUSER", "reader", "-get", "bogus"]),
    ("a", True, ["ACL", "SETUSER", "x", "+nosuchcommand"]),
    ("a", True, ["ACL", "SETUSER", "x", "+@nosuchcategory"]),
    ("a", True, ["ACL", "SETUSER", "x", "#abc"]),
    ("a", True, ["ACL", "SETUSER", "x", "!0123"]),
    ("a", True, ["ACL", "SETUSER", "x", "allkeys", "~k"]),
    ("a", True, ["ACL", "SETUSER", "x", "&*", "&k"]),
    ("a", True, ["ACL", "SETUSER", "a b", "on"]),
    ("a", True, ["ACL", "SETUSER"]),
    ("a", True, ["ACL", "DELUSER"]),
    ("a", True, ["ACL", "DELUSER", "default"]),
    ("a", True, ["ACL", "GETUSER"]),
    ("a", True, ["ACL", "WHOAMI", "extra"]),
    ("a", True, ["ACL", "CAT", "nosuch"]),
    ("a", True, ["ACL", "NOSUCH"]),
    ("a", True, ["ACL"]),
    ("a", True, ["ACL", "LIST"]),
    # Wrong and missing passwords for named users.
    ("r", True, ["AUTH", "reader", "wrong"]),
    ("r", True, ["AUTH", "nosuch", "rpw"]),
    ("r", True, ["AUTH", "gone", ""]),
    ("r", True, ["AUTH", "reader"]),
    ("r", True, ["HELLO", "3", "AUTH", "reader", "wrong"]),
    ("r", True, ["AUTH", "reader", "rpw"]),
    ("r", True, ["ACL", "WHOAMI"]),
    ("r", True, ["ACL", "WHOAMI", "extra"]),
    ("r", True, ["CLIENT", "GETNAME", "extra"]),
    ("r", True, ["GET", "app:1"]),
    ("r", True, ["GET", "other"]),
    ("r", True, ["MGET", "app:1", "other"]),
    ("r", True, ["EXISTS", "app:1", "app:2"]),
    ("r", True, ["SET", "app:1", "v"]),
    ("r", True, ["SET", "other", "v"]),
    ("r", True, ["DEL", "app:1"]),
    ("r", True, ["HGET", "app:h", "f"]),
    ("r", True, ["ACL", "LIST"]),
    ("r", True, ["FLUSHALL"]),
    # A user without dangerous and admin commands.
    ("w", True, ["AUTH", "writer", "wpw2"]),
    ("w", True, ["SET", "app:1", "one"]),
    ("w", True, ["MSET", "app:2", "two", "other", "x"]),
    ("w", True, ["FLUSHALL"]),
    ("w", True, ["ACL", "SETUSER", "writer", "+@admin"]),
    ("w", True, ["CONFIG", "GET", "nosuchparameter"]),
    ("w", True, ["CLIENT", "LIST"]),
    ("w", True, ["CLIENT", "GETNAME"]),
    ("w", True, ["ACL", "WHOAMI"]),
    ("w", True, ["MULTI"]),
    ("w", True, ["SET", "app:3", "three"]),
    ("w", True, ["FLUSHALL"]),
    ("w", True, ["EXEC"]),
    ("w", True, ["GET", "app:3"]),
    ("r", True, ["GET", "app:1"]),
    ("r", True, ["MGET", "app:1", "app:2"]),
    # A subcommand allowed alone, keys by pattern.
    ("s", True, ["AUTH", "sub", "anything"]),
    ("s", True, ["ACL", "WHOAMI"]),
    ("s", True, ["ACL", "LIST"]),
    ("s", True, ["GET", "s1"]),
    ("s", True, ["GET", "app:1"]),
    ("s", True, ["SET", "s1", "x"]),
    # Subcommands of other containers have their own permissions too.
    ("a", True, ["ACL", "SETUSER", "sub", "+config|get", "-@read"]),
    ("a", False, ["ACL", "GETUSER", "sub"]),  # two single commands: Redis's order is random
    ("s", True, ["CONFIG", "GET", "nosuchparameter"]),
    ("s", True, ["CLIENT", "GETNAME"]),
    ("s", True, ["GET", "s1"]),
    ("a", True, ["ACL", "SETUSER", "sub", "-config", "+@admin"]),
    ("s", True, ["CONFIG", "GET", "nosuchparameter"]),
    ("s", True, ["CLIENT", "GETNAME"]),
    ("s", True, ["CLIENT", "ID", "extra"]),
    # Changes reach connections already authenticated as the user.
    ("a", True, ["ACL", "SETUSER", "reader", "-get", "~other"]),
    ("r", True, ["GET", "app:1"]),
    ("r", True, ["MGET", "app:1", "other"]),
    ("a", True, ["ACL", "SETUSER", "reader", "<rpw", ">new"]),
    ("r", True, ["STRLEN", "other"]),
    ("r2", True, ["AUTH", "reader", "rpw"]),
    ("r2", True, ["AUTH", "reader", "new"]),
    ("a", True, ["ACL", "SETUSER", "reader", "reset"]),
    ("a", True, ["ACL", "GETUSER", "reader"]),
    ("r", True, ["STRLEN", "other"]),
    ("a", True, ["ACL", "DELUSER", "reader", "nosuch", "gone"]),
    ("r", True, ["PING"]),
    ("r2", True, ["PING"]),
    ("w", True, ["PING"]),
    ("a", True, ["ACL", "USERS"]),
    ("a", True, ["ACL", "LIST"]),
    # A user without any command may still AUTH, HELLO and QUIT (Redis's no_auth commands).
    ("a", True, ["ACL", "SETUSER", "none", "on", ">npw"]),
    ("n", True, ["AUTH", "none", "npw"]),
    ("n", True, ["PING"]),
    ("n", True, ["ACL", "WHOAMI"]),
    ("n", True, ["HELLO", "3", "AUTH", "none", "wrong"]),
    ("n", True, ["AUTH", "default", "x"]),
    ("n", True, ["ACL", "WHOAMI"]),
    ("n", True, ["AUTH", "none", "npw"]),
    ("n", True, ["QUIT"]),
    ("a", True, ["ACL", "DELUSER", "none"]),
    ("a", False, ["ACL", "DELUSER", "writer", "sub"]),
    ("a", False, ["FLUSHALL"]),
]


def run(redis_port, chorus_port):
    conns = {}
    for i, (name, compare, cmd) in enumerate(STEPS):
        if name not in conns:
            conns[name] = (Conn(redis_port), Conn(chorus_port))
        r, c = conns[name]
        want, got = r.run(cmd), c.run(cmd)
        if compare and want != got:
            print("step %d on %s: %s" % (i, name, " ".join(cmd)))
            print("  redis:  %r" % want)
            print("  chorus: %r" % got)
            return 1
    print("acl_diff: %d steps, replies identical" % len(STEPS))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis", type=int, required=True)
    ap.add_argument("--chorus", type=int, required=True)
    args = ap.parse_args()
    sys.exit(run(args.redis, args.chorus))


if __name__ == "__main__":
    main()
