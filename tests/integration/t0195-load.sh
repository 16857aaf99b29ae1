#!/bin/bash
# load reads what cairn save, skopeo and podman write (OCI and docker
# archives, plain or compressed) into a store whose images build and verify;
# hostile archives are refused with the entry named, nothing tagged and
# nothing written outside the store.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
printf 'FROM busybox\nRUN echo loaded >/marker && chmod 600 /marker\nCMD ["cat", "/marker"]\n' | buildfile "$T/app"
expect_ok "build the image" build -t app:1 "$T/app"
digest=$(tag_digest app:1)
expect_ok "save two images" save -o "$T/app.tar" app:1 busybox:latest

# ---- round trip into an empty store ----
S2=$T/store2
c2() { "$CAIRN" --root "$S2" "$@"; }
c2 load -i "$T/app.tar" >"$T/out" 2>"$T/err"
check "load of cairn's own save" grep -qx 'Loaded image: app:1' "$T/out"
check "an OCI round trip keeps the manifest digest" test "$(CAIRN_ROOT=$S2 tag_digest app:1)" = "$digest"
check "both images are tagged" test "$(jq '.manifests | length' "$S2/index.json")" = 2
check "fsck is clean after load" c2 fsck
printf 'FROM app:1\nRUN cat /marker >/copy\n' | buildfile "$T/from"
check "a build FROM the loaded image works" c2 build -q -t from:1 "$T/from"
c2 log app:1 >"$T/log.out" 2>&1
check "its tag log says load" grep -qE ' load( \*)?$' "$T/log.out"

# ---- compressed, through stdin ----
for z in gzip zstd xz bzip2; do
	rm -rf "$S2"
	$z -c "$T/app.tar" >"$T/app.tar.z"
	c2 load <"$T/app.tar.z" >"$T/out" 2>"$T/err"
	check "load of a $z-compressed archive from stdin" test "$(CAIRN_ROOT=$S2 tag_digest app:1)" = "$digest"
done

# ---- archives made by skopeo and podman ----
# Docker archives cannot carry zstd layers for skopeo/podman: go through gzip.
rm -rf "$T/gz"
skopeo copy -q --dest-compress --dest-compress-format gzip "oci:$CAIRN_ROOT:app:1" "oci:$T/gz:app" 2>"$T/err" || fail "skopeo copy to gzip"
skopeo copy -q "oci:$T/gz:app" "docker-archive:$T/sk-docker.tar:skopeo/app:d" 2>>"$T/err"
skopeo copy -q "oci:$CAIRN_ROOT:app:1" "oci-archive:$T/sk-oci.tar:skopeo/app:o" 2>>"$T/err"
rm -rf "$S2"
c2 load -i "$T/sk-docker.tar" >"$T/out" 2>"$T/err"
check "load of skopeo's docker-archive (legacy <id>/layer.tar symlinks, plain layers), tagged from RepoTags" \
	grep -qx 'Loaded image: skopeo/app:d' "$T/out"
check "its synthesized manifest has plain tar layers" \
	test "$(jq -r '.layers[0].mediaType' "$S2/blobs/sha256/$(CAIRN_ROOT=$S2 tag_digest skopeo/app:d | cut -d: -f2)")" = application/vnd.oci.image.layer.v1.tar
check "load of skopeo's oci-archive" c2 load -i "$T/sk-oci.tar"
check "tagged from ref.name, digest kept" test "$(CAIRN_ROOT=$S2 tag_digest skopeo/app:o)" = "$digest"
pm() { podman --root "$T/podman/root" --runroot "$T/podman/run" --storage-driver vfs "$@"; }
pm load -q -i "$T/sk-docker.tar" >/dev/null 2>&1
pm save -q --format docker-archive -o "$T/pm-docker.tar" localhost/skopeo/app:d 2>"$T/err" ||
	pm save -q --format docker-archive -o "$T/pm-docker.tar" skopeo/app:d 2>"$T/err"
pm save -q --format oci-archive -o "$T/pm-oci.tar" skopeo/app:d 2>>"$T/err"
rm -rf "$T/podman"
check "load of podman save --format docker-archive" c2 load -i "$T/pm-docker.tar"
check "load of podman save --format oci-archive" c2 load -i "$T/pm-oci.tar"
check "fsck is clean" c2 fsck
printf 'FROM skopeo/app:d\nRUN cat /marker\n' | buildfile "$T/from2"
check "a build FROM an image podman saved works" c2 build -q -t from:2 "$T/from2"

# ---- hostile archives ----
cp "$CAIRN_ROOT/index.json" "$T/index.before"
canary=$(mktemp -d /tmp/cairn-canary.XXXXXX)
shadow_links=$(stat -c %h /etc/shadow)
python3 - "$T/h" "$canary" <<'PY'
import hashlib, io, json, os, subprocess, sys, tarfile
out, canary = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

def add(t, name, data=b"", **kw):
    i = tarfile.TarInfo(name); i.size = len(data)
    for k, v in kw.items(): setattr(i, k, v)
    t.addfile(i, io.BytesIO(data) if data else None)

def layer(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries: add(t, *e[:2], **(e[2] if len(e) > 2 else {}))
    return b.getvalue()

def docker_archive(path, blob, tar_bytes, extra_manifest=None):
    # One image: config with the right diff_id, the layer as "layer.tar".
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(tar_bytes).hexdigest()]}}).encode()
    man = extra_manifest or [{"Config": "config.json", "RepoTags": ["evil:1"], "Layers": ["layer.tar"]}]
    with tarfile.open(path, "w") as t:
        add(t, "config.json", cfg); add(t, "layer.tar", blob)
        add(t, "manifest.json", json.dumps(man).encode())

def simple(path, entries):
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as t:
        for e in entries: add(t, *e[:2], **(e[2] if len(e) > 2 else {}))

simple(f"{out}/dots.tar", [("../../../../../.." + canary + "/dots", b"x")])
simple(f"{out}/abs.tar", [(canary + "/abs", b"x")])
simple(f"{out}/symlink.tar", [("blobs/sha256/" + "a" * 64, b"", {"type": tarfile.SYMTYPE, "linkname": "/etc/passwd"})])
simple(f"{out}/mismatch.tar", [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("blobs/sha256/" + "0" * 64, b"not the digest")])
tb = layer([("f", b"x")])
docker_archive(f"{out}/outside.tar", tb, tb,
    [{"Config": "config.json", "RepoTags": ["evil:1"], "Layers": ["../../etc/passwd"]}])
with open(f"{out}/huge.tar", "wb") as f:
    i = tarfile.TarInfo("huge"); i.size = 1 << 45
    f.write(i.tobuf(format=tarfile.GNU_FORMAT)); f.write(b"\0" * 1024)
tb = layer([("../../../../../.." + canary + "/layer-dots", b"x")])
docker_archive(f"{out}/layer-dots.tar", tb, tb)
tb = layer([("shadow", b"", {"type": tarfile.LNKTYPE, "linkname": "/etc/shadow"})])
docker_archive(f"{out}/layer-hardlink.tar", tb, tb)
tb = layer([("etc/", b"", {"type": tarfile.DIRTYPE}), ("etc/.wh..", b"")])
docker_archive(f"{out}/layer-whiteout.tar", tb, tb)
tb = layer([("f", b"x" * 1000)])
zb = subprocess.run(["zstd", "-q", "--long=31", "-c"], input=tb, stdout=subprocess.PIPE, check=True).stdout
docker_archive(f"{out}/layer-zstd-window.tar", zb, tb)

# A zstd bomb: 600 MiB of zeros in a few hundred KiB, streamed (never in memory).
class Zeros:
    def __init__(self, n): self.n = n
    def read(self, k=-1):
        k = self.n if k < 0 else min(k, self.n); self.n -= k; return b"\0" * k
class Tee:
    def __init__(self, f): self.f, self.h = f, hashlib.sha256()
    def write(self, b): self.h.update(b); return self.f.write(b)
z = subprocess.Popen(["zstd", "-q", "-1", "-c"], stdin=subprocess.PIPE, stdout=open(f"{out}/bomb.zst", "wb"))
tee = Tee(z.stdin)
with tarfile.open(fileobj=tee, mode="w|") as t:
    i = tarfile.TarInfo("zeros"); i.size = 600 << 20; t.addfile(i, Zeros(i.size))
z.stdin.close(); z.wait()
bomb = open(f"{out}/bomb.zst", "rb").read()
cfg_diff = tee.h.hexdigest()
docker_archive(f"{out}/layer-zstd-bomb.tar", bomb, b"")
# the config must carry the real diff_id: rewrite it
import shutil
with tarfile.open(f"{out}/layer-zstd-bomb.tar") as src, tarfile.open(f"{out}/bomb2.tar", "w") as dst:
    for m in src.getmembers():
        data = src.extractfile(m).read()
        if m.name == "config.json":
            c = json.loads(data); c["rootfs"]["diff_ids"] = ["sha256:" + cfg_diff]; data = json.dumps(c).encode()
        add(dst, m.name, data)
shutil.move(f"{out}/bomb2.tar", f"{out}/layer-zstd-bomb.tar")
PY
h=$T/h
expect_fail "an entry climbing out with .. is refused, naming it" 1 "/dots\": '..' refused" load -i "$h/dots.tar"
expect_fail "an absolute entry is refused, naming it" 1 "$canary/abs\": absolute name refused" load -i "$h/abs.tar"
expect_fail "a symlink entry pointing out is refused" 1 "entry \"blobs/sha256/aaaa" load -i "$h/symlink.tar"
check "(the symlink message)" grep -q "symlink to an absolute path refused" "$T/err"
expect_fail "a blob that does not match its name is refused" 1 "entry \"blobs/sha256/0000000000000000000000000000000000000000000000000000000000000000\": content hashes to" load -i "$h/mismatch.tar"
expect_fail "manifest.json naming a path outside is refused" 1 "manifest.json: image 1: layer 1 '../../etc/passwd': '..' refused" load -i "$h/outside.tar"
expect_fail "a huge declared size is refused" 1 "entry \"huge\": declared size exceeds the archive size limit" load -i "$h/huge.tar"
expect_fail "a layer entry climbing out is refused, naming it" 1 "/layer-dots\": path escapes the root" load -i "$h/layer-dots.tar"
check "(and naming the archive entry holding the layer)" grep -q "entry \"layer.tar\": layer: entry" "$T/err"
run_cairn load -i "$h/layer-hardlink.tar"
check "a layer hardlink to /etc/shadow is refused, naming it" sh -c "test $status = 1 && grep -q 'shadow' '$T/err'"
check "/etc/shadow's link count is unchanged" test "$(stat -c %h /etc/shadow)" = "$shadow_links"
expect_fail "a whiteout escaping its directory is refused" 1 "etc/.wh.." load -i "$h/layer-whiteout.tar"
expect_fail "a zstd layer asking for a 2 GiB window is refused" 1 "layer" load -i "$h/layer-zstd-window.tar"
check "(the window message)" grep -qi "window\|memory\|frame" "$T/err"
# 600 MiB of zeros is a legitimate layer (cairn builds them); past a cap it
# is refused, and the error names the flag that raises the cap.
expect_fail "a zstd bomb (600 MiB of zeros in $(($(stat -c %s "$h/bomb.zst") / 1024)) KiB) is refused past --max-layer-size" 1 "raise it with --max-layer-size" load --max-layer-size 512m -i "$h/layer-zstd-bomb.tar"
check "(naming the layer's entry)" grep -q 'entry "layer.tar": layer: entry "zeros"' "$T/err"
check "nothing was written outside the store" test -z "$(ls -A "$canary")"
rm -rf "$canary"
check "no tag changed" cmp -s "$T/index.before" "$CAIRN_ROOT/index.json"
check "fsck is clean after the refusals" "$CAIRN" fsck
expect_fail "a file that is not an archive" 1 "Unrecognized archive format" load -i "$T/app/Buildfile"
check "store consistent" store_is_consistent
check "no temp dirs left" no_tmp_left
check "no mounts left" no_mounts_left
finish
