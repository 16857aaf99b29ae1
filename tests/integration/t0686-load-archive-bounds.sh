#!/bin/bash
# load's archive-level bounds (issue 14, findings 4 and 6): 19,000 entries
# whose names share a 4 KB prefix load (names are looked up in a hash table,
# not compared one by one); a compressed archive whose entries declare more
# than the store has room for is refused before anything is written, naming
# the archive and the entry; an entry no image references does not stay.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/ctx"
echo hello >"$T/ctx/f"
printf 'FROM scratch\nCOPY f /f\n' >"$T/ctx/Buildfile"
expect_ok "build a small image" build -q -t small:1 "$T/ctx"
expect_ok "save it" save -o "$T/small.tar" small:1
digest=$(tag_digest small:1)

# ---- 19,000 entries with 4 KB shared prefixes ----
python3 - "$T/small.tar" "$T/many.tar" <<'PY'
import sys, tarfile
src, dst = sys.argv[1], sys.argv[2]
prefix = "pad/" + "p" * 4000 + "/"
with tarfile.open(src) as i, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as o:
    for m in i.getmembers():
        o.addfile(m, i.extractfile(m) if m.isfile() else None)
    for n in range(19000):
        e = tarfile.TarInfo(prefix + "%05d" % n)
        e.type = tarfile.SYMTYPE
        e.linkname = "x"
        o.addfile(e)
PY
S2=$T/store2
start=$(date +%s.%N)
CAIRN_ROOT=$S2 run_cairn load -i "$T/many.tar"
end=$(date +%s.%N)
echo "# load of 19,000 entries with 4 KB shared prefixes: $(echo "$end - $start" | bc) s"
check "an archive of 19,000 entries with 4 KB shared prefixes loads (status $status: $(head -c 300 "$T/err"))" test "$status" -eq 0
check "its image is there" test "$(CAIRN_ROOT=$S2 tag_digest small:1)" = "$digest"

# ---- a decompression bomb: an entry declaring more than the store's free space ----
python3 - "$T/small.tar" "$T/bomb.tar" <<'PY'
import sys, tarfile, io
src, dst = sys.argv[1], sys.argv[2]
class Zeros(io.RawIOBase):
    def __init__(self, n): self.n = n
    def readable(self): return True
    def readinto(self, b):
        k = min(len(b), self.n); b[:k] = bytes(k); self.n -= k; return k
with tarfile.open(src) as i, tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as o:
    e = tarfile.TarInfo("junk/zeros")
    e.size = 300 << 20
    o.addfile(e, io.BufferedReader(Zeros(e.size)))
    for m in i.getmembers():
        o.addfile(m, i.extractfile(m) if m.isfile() else None)
PY
zstd -q -19 --rm "$T/bomb.tar" -o "$T/bomb.tar.zst"
echo "# the bomb: $(stat -c %s "$T/bomb.tar.zst") bytes of .tar.zst holding a 300 MiB entry"
mkdir -p "$T/small"
if mount -t tmpfs -o size=100m tmpfs "$T/small" 2>/dev/null; then
	S3=$T/small/store
	CAIRN_ROOT=$S3 expect_fail "an entry declaring more than the free space is refused" 1 \
		"more than the" load -i "$T/bomb.tar.zst"
	check "the error names the archive and the entry" grep -qF "archive '$T/bomb.tar.zst': entry \"junk/zeros\"" "$T/err"
	check "nothing stays: no blob of it, no temp file" test "$(du -sk "$S3" | cut -f1)" -lt 1024
	check "no temp entries left" test -z "$(ls -A "$S3/tmp" 2>/dev/null)"
	umount "$T/small"
else
	skip "the bomb on a small store" "cannot mount a tmpfs"
fi
# With room for it: loaded, but the entry no image names does not stay.
S4=$T/store4
CAIRN_ROOT=$S4 run_cairn load -i "$T/bomb.tar.zst"
check "the archive with a stray 300 MiB entry loads where there is room" test "$status" -eq 0
check "the stray entry's blob does not stay in the store" test "$(du -sk "$S4/blobs" | cut -f1)" -lt 10240
# A failed load removes the blobs it brought in.
python3 - "$T/small.tar" "$T/broken.tar" <<'PY'
import sys, tarfile, io
src, dst = sys.argv[1], sys.argv[2]
with tarfile.open(src) as i, tarfile.open(dst, "w") as o:
    for m in i.getmembers():
        if m.name == "index.json":
            data = b'{"schemaVersion":2,"manifests":[{"digest":"sha256:' + b"0" * 64 + b'"}]}'
            m.size = len(data)
            o.addfile(m, io.BytesIO(data))
        else:
            o.addfile(m, i.extractfile(m) if m.isfile() else None)
PY
S5=$T/store5
CAIRN_ROOT=$S5 expect_fail "an archive naming a missing manifest is refused" 1 "missing" load -i "$T/broken.tar"
check "a failed load leaves no blobs behind" test -z "$(ls -A "$S5/blobs/sha256" 2>/dev/null)"
# While another command holds the store (here fsck's shared lock, taken
# with flock(1)), a failed load leaves what it brought for prune: that
# command may have found the same bytes and be about to use them.
S6=$T/store6
CAIRN_ROOT=$S6 "$CAIRN" images >/dev/null 2>&1
flock -s "$S6/gc.lock" sleep 30 &
holder=$!
sleep 0.3
CAIRN_ROOT=$S6 expect_fail "a failed load beside another command" 1 "missing" load -i "$T/broken.tar"
check "it leaves its blobs while the other command runs" test -n "$(ls -A "$S6/blobs/sha256" 2>/dev/null)"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
CAIRN_ROOT=$S6 expect_ok "prune afterwards" prune
check "prune freed them" test -z "$(ls -A "$S6/blobs/sha256" 2>/dev/null)"
finish
