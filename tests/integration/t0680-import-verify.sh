#!/bin/bash
# Every layer blob that enters the store is checked against the diff_id its
# config claims, even when a snapshot under that diff_id already exists: an
# archive claiming busybox's layer but carrying other content is refused
# (the layer named, nothing tagged), and fsck finds such an image when one
# was planted in the store by hand (issue 14, finding 1).
. "$(dirname "$0")/lib.sh"

build_busybox || finish
top=$(image_config busybox:latest | jq -r '.rootfs.diff_ids[-1]')
check "busybox has a snapshot for its top layer" test -d "$CAIRN_ROOT/snapshots/${top#sha256:}"

# An OCI layout whose one image (evil:1) claims busybox's top diff_id but
# whose gzip layer holds bin/evil.
python3 - "$T/layout" "$top" <<'PY' || { fail "craft the archive"; finish; }
import gzip, hashlib, io, json, os, sys, tarfile
layout, top = sys.argv[1], sys.argv[2]
blobs = os.path.join(layout, "blobs", "sha256")
os.makedirs(blobs)
def put(data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, h), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + h, "size": len(data)}
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for name in ("bin/",):
        i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)
    data = b"#!/bin/sh\necho pwned\n"
    i = tarfile.TarInfo("bin/evil"); i.mode = 0o755; i.size = len(data)
    t.addfile(i, io.BytesIO(data))
layer = put(gzip.compress(buf.getvalue(), mtime=0))
with open(os.path.join(layout, "layer.digest"), "w") as f:
    f.write(layer["digest"])
config = put(json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/evil"]},
                         "rootfs": {"type": "layers", "diff_ids": [top]}}).encode())
manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": dict(config, mediaType="application/vnd.oci.image.config.v1+json"),
    "layers": [dict(layer, mediaType="application/vnd.oci.image.layer.v1.tar+gzip")]}).encode())
with open(os.path.join(layout, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [dict(manifest,
        mediaType="application/vnd.oci.image.manifest.v1+json",
        annotations={"org.opencontainers.image.ref.name": "evil:1"})]}, f)
PY
evil=$(cat "$T/layout/layer.digest")
rm "$T/layout/layer.digest"
tar -C "$T/layout" -cf "$T/evil.tar" .

# ---- load: refused, the layer named, nothing tagged ----
expect_fail "load of an archive whose layer does not hold the diff_id it claims is refused" 1 \
	"entry \"blobs/sha256/${evil#sha256:}\": uncompressed content hashes to" load -i "$T/evil.tar"
check "... the error names the layer's digest once (issue 14: no 430-character lines)" \
	test "$(grep -o "${evil#sha256:}" "$T/err" | wc -l)" -eq 1
check "... the error names the claimed diff_id" grep -qF "the image config says $top" "$T/err"
check "... no tag evil:1" expect_no_tag evil:1
check "... cairn images lists no new tag" bash -c '! "$1" images | grep -q evil' _ "$CAIRN"
check "... busybox's snapshot is untouched (no bin/evil)" test ! -e "$CAIRN_ROOT/snapshots/${top#sha256:}/bin/evil"
check "... fsck says the store is consistent" "$CAIRN" fsck
check "... nothing left in tmp/" no_tmp_left
expect_fail "a second load is refused the same way" 1 "entry \"blobs/sha256/${evil#sha256:}\"" load -i "$T/evil.tar"
check "busybox still loads from its own save (a layer whose snapshot exists is hashed, not refused)" \
	bash -c '"$1" save -o "$2/bb.tar" busybox:latest && "$1" load -i "$2/bb.tar"' _ "$CAIRN" "$T"

# ---- fsck: a mismatching image planted by hand ----
for f in "$T"/layout/blobs/sha256/*; do
	install -m 0444 "$f" "$CAIRN_ROOT/blobs/sha256/"
done
jq --slurpfile add "$T/layout/index.json" '.manifests += $add[0].manifests' "$CAIRN_ROOT/index.json" >"$T/index.json"
cp "$T/index.json" "$CAIRN_ROOT/index.json"
run_cairn fsck
check "fsck reports the planted image (exit 1)" test "$status" = 1
check "... naming the tag, the layer and both digests" \
	grep -qE "^tag 'evil:1': layer $evil: uncompressed content hashes to sha256:[0-9a-f]{64}, but the image config says $top\$" "$T/out"
check "... and only that problem" test "$(wc -l <"$T/out")" = 1
run_cairn fsck --repair
check "fsck --repair removes the tag as for any incomplete image" grep -qx "tag 'evil:1': removed (its image is incomplete)" "$T/out"
check "... evil:1 is gone" expect_no_tag evil:1
check "... busybox:latest stays" test -n "$(tag_digest busybox:latest)"
check "... and fsck is clean afterwards" "$CAIRN" fsck
finish
