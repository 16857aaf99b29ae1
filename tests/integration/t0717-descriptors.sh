#!/bin/bash
# Small ones from the hardening review: a descriptor's size must be a byte
# count that matches its blob (config, layers, index.json entries), a
# layer's compression must be the one its media type declares, and a mount
# target through a dangling symlink says so.
. "$(dirname "$0")/lib.sh"

# busybox with zstd layers: the liar below declares one gzip.
printf 'compression = "zstd"\n' >"$T/zstd.conf"
CAIRN_CONFIG=$T/zstd.conf build_busybox || finish
base=$(tag_digest busybox:latest)

# plant TAG EDIT: a copy of busybox's manifest changed by the python
# expression EDIT (on m, the manifest), stored and tagged TAG in index.json
# with the manifest's real size. Prints the new manifest digest.
plant() {
	python3 - "$CAIRN_ROOT" "$base" "$1" "$2" <<'PY'
import hashlib, json, os, sys
root, base, tag, edit = sys.argv[1:5]
blobs = os.path.join(root, "blobs", "sha256")
m = json.load(open(os.path.join(blobs, base[7:])))
exec(edit)
data = json.dumps(m).encode()
h = hashlib.sha256(data).hexdigest()
with open(os.path.join(blobs, h), "wb") as f:
    f.write(data)
idx = json.load(open(os.path.join(root, "index.json")))
idx["manifests"].append({"mediaType": m["mediaType"], "digest": "sha256:" + h, "size": len(data),
                         "annotations": {"org.opencontainers.image.ref.name": tag}})
json.dump(idx, open(os.path.join(root, "index.json"), "w"))
print("sha256:" + h)
PY
}

neg=$(plant neg:1 'm["config"]["size"] = -5')
expect_fail "a config size of -5 is refused on read" 1 "the config's size is not a byte count" inspect neg:1
expect_fail "fsck reports the config size of -5" 1 "problem" fsck
check "fsck names the tag and the manifest" grep -qF "tag 'neg:1': image $neg: image '$neg': manifest $neg: the config's size is not a byte count" "$T/out"
expect_fail "fsck --repair drops it" 1 "repaired" fsck --repair
check "the tag is gone" expect_no_tag neg:1
expect_ok "then fsck is clean" fsck

off=$(plant off:1 'm["config"]["size"] += 1')
expect_fail "a config size off by one is refused on read" 1 "the config is" inspect off:1
check "the message gives both sizes" grep -qE "the config is [0-9]+ bytes, the manifest says [0-9]+" "$T/err"
"$CAIRN" fsck --repair >/dev/null 2>&1

big=$(plant big:1 'm["layers"][0]["size"] = 1 << 60')
expect_fail "an absurd layer size is refused on read" 1 "layer 1: the size is not a byte count" inspect big:1
"$CAIRN" fsck --repair >/dev/null 2>&1

# index.json's entry for a tag says the wrong manifest size.
jq '(.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "busybox:latest") | .size) |= 7' \
	"$CAIRN_ROOT/index.json" >"$T/index.json" && cp "$T/index.json" "$CAIRN_ROOT/index.json"
expect_fail "fsck notices a wrong manifest size in index.json" 1 "problem" fsck
check "fsck names the tag and both sizes" grep -qE "tag 'busybox:latest': index.json says its manifest $base is 7 bytes, it is [0-9]+" "$T/out"
expect_fail "fsck --repair corrects it" 1 "repaired" fsck --repair
check "the entry now has the blob's size" \
	test "$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "busybox:latest") | .size' "$CAIRN_ROOT/index.json")" -eq "$(stat -c %s "$CAIRN_ROOT/blobs/sha256/${base#sha256:}")"
check "the tag still points at busybox" test "$(tag_digest busybox:latest)" = "$base"
expect_ok "fsck is clean after the correction" fsck

# A zstd layer declared gzip.
mt=$(jq -r '.layers[0].mediaType' "$CAIRN_ROOT/blobs/sha256/${base#sha256:}")
layer=$(jq -r '.layers[0].digest' "$CAIRN_ROOT/blobs/sha256/${base#sha256:}")
if [ "$mt" = application/vnd.oci.image.layer.v1.tar+zstd ]; then
	liar=$(plant liar:1 'm["layers"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"')
	run_cairn save -o "$T/liar.tar" liar:1
	check "save copies the lying image as it is" test "$status" -eq 0
	expect_fail "fsck: a zstd layer declared gzip" 1 "problem" fsck
	check "fsck names the layer and both formats" \
		grep -qF "layer $layer: declared gzip (application/vnd.oci.image.layer.v1.tar+gzip), but its content is zstd" "$T/out"
	"$CAIRN" fsck --repair >/dev/null 2>&1
	check "busybox is untouched by the repair" test "$(tag_digest busybox:latest)" = "$base"
	check "the lying tag is gone" expect_no_tag liar:1
	expect_fail "load refuses a zstd layer declared gzip, naming it" 1 \
		"layer $layer: declared gzip (application/vnd.oci.image.layer.v1.tar+gzip), but its content is zstd" load -i "$T/liar.tar"
	check "load left no tag" expect_no_tag liar:1
else
	skip "zstd layer declared gzip" "busybox's layer is $mt"
fi
expect_ok "fsck is clean at the end" fsck

# A mount target through a dangling symlink.
mkdir -p "$T/dangle"
printf 'FROM busybox\nRUN ln -s /no/such/dir /cachelink\nRUN --mount=type=cache,target=/cachelink true\n' \
	>"$T/dangle/Buildfile"
expect_fail "a mount target through a dangling symlink" 1 \
	"mount point /cachelink: /cachelink is a symlink to '/no/such/dir', which does not exist in the image" \
	build -q "$T/dangle"
check "not 'File exists'" sh -c "! grep -q 'File exists' '$T/err'"
check "store invariants" store_is_consistent
finish
