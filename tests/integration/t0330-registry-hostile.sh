#!/bin/bash
# Layers from a registry are hostile: a corpus of attacks (tests/integration/
# hostile_images.py) is pushed to a real registry with skopeo; every pull
# fails with an error naming the entry, or stays inside the store; nothing
# outside changes, nothing half-done is tagged, fsck passes. A blob corrupted
# in the registry's storage fails the pull on its digest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
. "$(dirname "$0")/hostile.sh"
trap 'stop_registry; cleanup_test_dir' EXIT

start_registry none || { fail "start the registry"; finish; }
hostile_corpus || { fail "make the corpus"; finish; }
for c in "${hostile_cases[@]}"; do
	tag=${c%%:*} want=${c#*:}
	if ! skopeo copy -q --dest-cert-dir "$REG_CERTS" "oci:$T/hostile:$tag" "docker://$REG/hostile/$tag:1" >/dev/null 2>"$T/sk.err"; then
		fail "push the '$tag' image with skopeo"
		sed 's/^/#   /' "$T/sk.err"
		continue
	fi
	# shellcheck disable=SC2046
	run_cairn pull -q $(hostile_flags "$tag") --cert-dir "$REG_CERTS" "$REG/hostile/$tag:1"
	sed "s/^/# $tag: /" "$T/err"
	if [ -n "$want" ] && [ "$want" != ok ]; then
		if [ "$status" -eq 1 ] && grep -q "entry" "$T/err" && grep -qF -- "$want" "$T/err"; then
			pass "pull of '$tag' fails naming the entry"
		else
			fail "pull of '$tag' fails naming the entry (status $status)"
			sed 's/^/#   /' "$T/err"
		fi
		check "nothing is tagged for '$tag'" expect_no_tag "$REG/hostile/$tag:1"
		# (skopeo may have recompressed it: the digest is the error's)
		layer=$(grep -o 'layer sha256:[0-9a-f]*' "$T/err" | head -1 | cut -d: -f2)
		check "'$tag': the refused layer's blob is not kept" \
			test -n "$layer" -a ! -e "$CAIRN_ROOT/blobs/sha256/$layer"
	else
		if [ "$status" -eq 0 ] || grep -q "entry" "$T/err"; then
			pass "pull of '$tag' is refused or stays confined"
		else
			fail "pull of '$tag' (status $status)"
			sed 's/^/#   /' "$T/err"
		fi
	fi
	[ "$want" = ok ] && check "pull of '$tag' works" test "$status" -eq 0
	check "'$tag': nothing outside the store changed" test "$(outside_state)" = "$before"
	check "'$tag': no temp dirs left" no_tmp_left
done
check "/etc/shadow is untouched" test "$(sha256sum /etc/shadow)" = "$shadow_before"
[ -z "$(tag_digest "$REG/hostile/absolute:1")" ] ||
	check "the absolute name landed inside the layer" \
		test -f "$CAIRN_ROOT/snapshots/$(jq -r '.rootfs.diff_ids[0]' <(image_config "$REG/hostile/absolute:1") | cut -d: -f2)$outside/absolute"
expect_ok "fsck passes after the hostile pulls" fsck

# A blob corrupted in the registry's storage (same size, one byte changed).
build_busybox || finish
expect_ok "push busybox" push -q --cert-dir "$REG_CERTS" busybox:latest "$REG/team/corrupt:1"
layer=$(jq -r '.layers[-1].digest' "$CAIRN_ROOT/blobs/sha256/$(tag_digest busybox:latest | cut -d: -f2)")
data=$REG_DIR/data/docker/registry/v2/blobs/sha256/$(echo "${layer#sha256:}" | cut -c1-2)/${layer#sha256:}/data
printf 'X' | dd of="$data" bs=1 seek=100 conv=notrunc 2>/dev/null
export CAIRN_ROOT=$T/store2
expect_fail "a corrupted blob fails the pull on its digest" 1 "content hashes to" \
	pull -q --cert-dir "$REG_CERTS" "$REG/team/corrupt:1"
check "nothing is tagged" expect_no_tag "$REG/team/corrupt:1"
check "the corrupted blob is not in the store" test ! -e "$CAIRN_ROOT/blobs/sha256/${layer#sha256:}"
expect_ok "fsck passes" fsck
check "no temp dirs left" no_tmp_left
stop_registry
finish
