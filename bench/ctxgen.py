#!/usr/bin/env python3
"""make bench's 'context' case: a build context of N small files (argv[2],
default 1,000,000) under DIR (argv[1]), 1,000 per directory, directories two
levels deep (dNNN/dNN/fN), each file a line of its own number. Same N, same
tree."""
import os, sys

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000000
flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
for i in range(n):
    leaf = i // 1000
    d = os.path.join(out, "d%03d" % (leaf // 100), "d%02d" % (leaf % 100))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    fd = os.open(os.path.join(d, "f%d" % i), flags, 0o644)
    os.write(fd, b"%d\n" % i)
    os.close(fd)
