#!/bin/bash
# Interop: Debian's umoci 0.4.7 writes layers that end right after the last
# entry's data (no tar padding, no end-of-archive blocks). An image made by
# `umoci insert` of a 2 MB file, pushed by skopeo, pulls and runs its file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_registry; cleanup_test_dir' EXIT

L=$T/layout
head -c 2000000 /dev/urandom >"$T/busybox"
umoci init --layout "$L" >/dev/null 2>&1 && umoci new --image "$L:base" >/dev/null 2>&1 &&
	umoci insert --image "$L:base" "$T/busybox" /bin/busybox >/dev/null 2>"$T/umoci.err" ||
	{ fail "make an image with umoci insert"; sed 's/^/#   /' "$T/umoci.err"; finish; }
blob=$(jq -r '.manifests[0].digest' "$L/index.json")
layer=$(jq -r '.layers[-1].digest' "$L/blobs/sha256/${blob#sha256:}")
tail_bytes=$(zcat "$L/blobs/sha256/${layer#sha256:}" | tail -c 1024 | tr -d '\0' | wc -c)
echo "# umoci's layer: $(zcat "$L/blobs/sha256/${layer#sha256:}" | wc -c) bytes of tar, non-zero bytes in its last 1024: $tail_bytes"

start_registry none || { fail "start the registry"; finish; }
skopeo copy -q --dest-cert-dir "$REG_CERTS" "oci:$L:base" "docker://$REG/umoci/app:1" >/dev/null 2>"$T/sk.err" ||
	{ fail "push the umoci image with skopeo"; sed 's/^/#   /' "$T/sk.err"; finish; }
expect_ok "pull of an image made by umoci insert" pull -q --cert-dir "$REG_CERTS" "$REG/umoci/app:1"
d=$(jq -r '.rootfs.diff_ids[-1]' <(image_config "$REG/umoci/app:1") 2>/dev/null | cut -d: -f2)
check "the 2 MB file is whole" cmp "$T/busybox" "$CAIRN_ROOT/snapshots/$d/bin/busybox"
expect_ok "fsck passes" fsck
check "no temp dirs left" no_tmp_left
stop_registry
finish
