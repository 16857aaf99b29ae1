#!/usr/bin/env python3
"""Prints one line per entry of a directory tree, sorted, for diff: path,
type, mode (with setuid/setgid/sticky), owner, size, content hash or link
target, xattrs (name=hash of value) and, unless --no-mtime, the mtime.

usage: tree_list.py [--no-mtime] [--no-owner] DIR

Two unpacked images are the same tree when their listings are equal."""
import hashlib, os, stat, sys

args = sys.argv[1:]
mtime = "--no-mtime" not in args
owner = "--no-owner" not in args
root = [a for a in args if not a.startswith("--")][0]


def digest(data):
    return hashlib.sha256(data).hexdigest()[:16]


def line(path, rel):
    st = os.lstat(path)
    kind = {stat.S_IFREG: "f", stat.S_IFDIR: "d", stat.S_IFLNK: "l", stat.S_IFCHR: "c",
            stat.S_IFBLK: "b", stat.S_IFIFO: "p", stat.S_IFSOCK: "s"}[stat.S_IFMT(st.st_mode)]
    out = [rel, kind, "%04o" % stat.S_IMODE(st.st_mode)]
    if owner:
        out.append("%d:%d" % (st.st_uid, st.st_gid))
    if kind == "f":
        with open(path, "rb") as f:
            out += [str(st.st_size), digest(f.read())]
    elif kind == "l":
        out.append("-> " + os.readlink(path))
    elif kind in "cb":
        out.append("%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
    xs = []
    for x in sorted(os.listxattr(path, follow_symlinks=False)):
        xs.append("%s=%s" % (x, digest(os.getxattr(path, x, follow_symlinks=False))))
    out.append("xattrs[" + ",".join(xs) + "]")
    if mtime:
        out.append("mtime=%d" % int(st.st_mtime))
    return " ".join(out)


lines = [line(root, ".")]
for d, dirs, files in os.walk(root):
    for n in dirs + files:
        p = os.path.join(d, n)
        lines.append(line(p, os.path.relpath(p, root)))
print("\n".join(sorted(lines)))
