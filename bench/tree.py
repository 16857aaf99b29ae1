#!/usr/bin/env python3
"""bench-commit's input: a ~1 GiB tree of real files, half text-heavy
(/usr/share), half binaries and libraries (/usr/lib), each half the first
files in sorted order until 512 MiB. Same machine, same tree."""
import os, shutil, sys

out = sys.argv[1]
half = int(sys.argv[2]) if len(sys.argv) > 2 else 512 << 20
for src in ("/usr/share", "/usr/lib/x86_64-linux-gnu"):
    total = 0
    for root, dirs, files in os.walk(src):
        dirs.sort()
        for f in sorted(files):
            p = os.path.join(root, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            size = os.path.getsize(p)
            if size > 64 << 20:
                continue
            dst = os.path.join(out, os.path.basename(src), os.path.relpath(p, src))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(p, dst)
            total += size
            if total >= half:
                break
        if total >= half:
            break
