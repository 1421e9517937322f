#!/usr/bin/env python3
"""files_with.py NEEDLE PATH... — prints every regular file under the PATHs (files or
directories, walked like grep -r) whose bytes contain NEEDLE, one a line. Like
`grep -rla -- NEEDLE PATH...`, but it reads only a file's data, skipping its holes
(SEEK_DATA/SEEK_HOLE): LMDB's data.mdb is a sparse file as large as its map (4 GiB), and
grep reads every zero of it. A hole reads as zeros, and NEEDLE holds no zero byte, so no
match is missed."""
import errno
import os
import sys

CHUNK = 1 << 20


def has(path, needle):
    with open(path, "rb") as f:
        fd = f.fileno()
        size = os.fstat(fd).st_size
        pos = 0
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError as e:
                if e.errno == errno.ENXIO:  # no data after pos
                    return False
                raise
            end = os.lseek(fd, start, os.SEEK_HOLE)
            os.lseek(fd, start, os.SEEK_SET)
            tail = b""
            at = start
            while at < end:
                block = os.read(fd, min(CHUNK, end - at))
                if not block:
                    break
                at += len(block)
                if needle in tail + block:
                    return True
                tail = block[-(len(needle) - 1):] if len(needle) > 1 else b""
            pos = end
    return False


def main():
    needle = sys.argv[1].encode()
    if not needle or b"\0" in needle:
        sys.exit("files_with.py: the needle must be non-empty and hold no zero byte")
    for root in sys.argv[2:]:
        if os.path.isdir(root):
            paths = [os.path.join(d, n) for d, _, names in os.walk(root) for n in sorted(names)]
        else:
            paths = [root]
        for p in paths:
            if os.path.isfile(p) and not os.path.islink(p) and has(p, needle):
                print(p)


if __name__ == "__main__":
    main()
