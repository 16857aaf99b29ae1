#!/bin/bash
# Layer compression on the way out (issue 17): tools that read no zstd read
# a default (gzip) build as it is: skopeo's docker-archive:, umoci, LXC's oci
# template; save always writes layers docker load reads; push, save and
# export --compression-format convert (streamed), and a second push of the
# same image converts nothing and uploads nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_registry; cleanup_test_dir' EXIT

ZS=application/vnd.oci.image.layer.v1.tar+zstd
GZ=application/vnd.oci.image.layer.v1.tar+gzip
build_busybox || finish
printf 'FROM busybox\nRUN echo made >/made\n' | buildfile "$T/app"
expect_ok "a default build" build -q -t app:1 "$T/app"
expect_ok "a zstd build" build -q --compression zstd -t appz:1 "$T/app"

# Readers of gzip only, on the default build, with no conversion.
expect_ok "save of the default build" save -o "$T/app.tar" app:1
check "its layers are the store's (nothing converted)" test \
	"$(tar -xOf "$T/app.tar" manifest.json | jq -r '.[0].Layers | map(sub("blobs/sha256/"; "sha256:")) | join(",")')" = \
	"$(jq -r '[.layers[].digest] | join(",")' "$CAIRN_ROOT/blobs/sha256/$(tag_digest app:1 | cut -d: -f2)")"
check "skopeo inspect docker-archive: reads it" skopeo inspect "docker-archive:$T/app.tar"
check "skopeo copy docker-archive: -> oci: reads every layer" \
	skopeo copy -q "docker-archive:$T/app.tar" "oci:$T/from-docker:app"
rm -rf "$T/copy" "$T/bundle"
if skopeo copy -q "oci:$CAIRN_ROOT:app:1" "oci:$T/copy:app" >"$T/sk.err" 2>&1 &&
	umoci unpack --image "$T/copy:app" "$T/bundle" >"$T/umoci.err" 2>&1; then
	pass "umoci unpack reads a default build (gzip, not recompressed)"
	check "with its file" grep -qx made "$T/bundle/rootfs/made"
else
	fail "umoci unpack reads a default build"
	sed 's/^/#   /' "$T/sk.err" "$T/umoci.err" | tail -10
fi
check "umoci unpack cannot read the zstd build (why gzip is the default)" sh -c \
	"skopeo copy -q 'oci:$CAIRN_ROOT:appz:1' 'oci:$T/copyz:app' && ! umoci unpack --image '$T/copyz:app' '$T/bundlez' >/dev/null 2>&1"
if command -v lxc-create >/dev/null && [ -e /usr/share/lxc/templates/lxc-oci ]; then
	if lxc-create -n cairn-t0781 -t oci -- --url "oci:$T/copy:app" >"$T/lxc.out" 2>&1; then
		pass "lxc-create -t oci reads a default build"
	else
		fail "lxc-create -t oci reads a default build"; sed 's/^/#   /' "$T/lxc.out" | tail -10
	fi
	lxc-destroy -n cairn-t0781 >/dev/null 2>&1
else
	skip "lxc-create -t oci reads a default build" "lxc (lxc-create and its oci template) is not installed here"
fi

# save: a docker archive never carries zstd.
expect_ok "save of the zstd build" save -o "$T/appz.tar" appz:1
check "is written with gzip layers" test "$(tar -xOf "$T/appz.tar" index.json | jq -r '.manifests[0].digest' |
	xargs -I{} sh -c 'tar -xOf "$1" blobs/sha256/$(echo {} | cut -d: -f2)' _ "$T/appz.tar" |
	jq -r '[.layers[].mediaType] | unique | join(",")')" = "$GZ"
check "that skopeo's docker-archive: reads" skopeo copy -q "docker-archive:$T/appz.tar" "oci:$T/from-z:app"
expect_fail "save --compression-format zstd is refused, saying why" 2 "docker load cannot read zstd" \
	save --compression-format zstd -o "$T/x.tar" app:1
expect_ok "save --compression-format none" save --compression-format none -o "$T/none.tar" app:1
check "writes plain tar layers" test "$(tar -xOf "$T/none.tar" index.json | jq -r '.manifests[0].digest' |
	xargs -I{} sh -c 'tar -xOf "$1" blobs/sha256/$(echo {} | cut -d: -f2)' _ "$T/none.tar" |
	jq -r '[.layers[].mediaType] | unique | join(",")')" = application/vnd.oci.image.layer.v1.tar
check "with the same diff_ids" test "$(tar -xOf "$T/none.tar" manifest.json | jq -r '.[0].Config' |
	xargs -I{} tar -xOf "$T/none.tar" {} | jq -c .rootfs.diff_ids)" = "$(image_config app:1 | jq -c .rootfs.diff_ids)"
check "that docker-archive: reads" skopeo inspect "docker-archive:$T/none.tar"
expect_fail "export --format docker-archive --compression-format zstd is refused" 2 "docker load cannot read zstd" \
	export --format docker-archive --compression-format zstd app:1 "$T/dz.tar"
expect_fail "an unknown format names itself" 2 "'lz4'" push --compression-format lz4 app:1 x/y:1

# push --compression-format zstd of a gzip image.
start_registry none || { fail "start the registry"; finish; }
expect_ok "push --compression-format zstd of a gzip image" \
	push --cert-dir "$REG_CERTS" --compression-format zstd app:1 "$REG/comp/app:1"
# appz:1's build converted busybox's four layers already: only app:1's own is new.
check "says what it converted (its own layer; busybox's were converted before)" \
	grep -qE "layers as zstd: 1 converted \([0-9]+ -> [0-9]+ bytes\), 4 converted before" "$T/err"
skopeo inspect --raw --cert-dir "$REG_CERTS" "docker://$REG/comp/app:1" >"$T/remote.json" 2>"$T/sk.err"
check "the registry's manifest has zstd layers only" test "$(jq -r '[.layers[].mediaType] | unique | join(",")' "$T/remote.json")" = "$ZS"
check "and app:1's config (same image id)" test "$(jq -r .config.digest "$T/remote.json")" = \
	"$(jq -r .config.digest "$CAIRN_ROOT/blobs/sha256/$(tag_digest app:1 | cut -d: -f2)")"
check "app:1 itself stays gzip" test "$(jq -r '[.layers[].mediaType] | unique | join(",")' \
	"$CAIRN_ROOT/blobs/sha256/$(tag_digest app:1 | cut -d: -f2)")" = "$GZ"
posts=$(reg_requests POST /blobs/uploads/)
puts=$(reg_requests PUT /blobs/uploads/)
patches=$(reg_requests PATCH /blobs/uploads/)
cache_before=$(ls "$CAIRN_ROOT/cache" | sort | md5sum)
blobs_before=$(ls "$CAIRN_ROOT/blobs/sha256" | wc -l)
expect_ok "a second push of it" push --cert-dir "$REG_CERTS" --compression-format zstd app:1 "$REG/comp/app:1"
check "converts nothing (the store remembered every layer)" grep -q "layers as zstd: 0 converted (0 -> 0 bytes), 5 converted before" "$T/err"
check "reuses the store's conversion map as it was" test "$(ls "$CAIRN_ROOT/cache" | sort | md5sum)" = "$cache_before"
check "writes no new blob" test "$(ls "$CAIRN_ROOT/blobs/sha256" | wc -l)" -eq "$blobs_before"
check "uploads no blob (access log: no POST, PATCH or PUT to /blobs/uploads/)" test \
	"$(reg_requests POST /blobs/uploads/) $(reg_requests PATCH /blobs/uploads/) $(reg_requests PUT /blobs/uploads/)" = "$posts $patches $puts"
check "and says all were already there" grep -q "pushed: 0 blobs sent" "$T/err"
CAIRN_ROOT=$T/store2 expect_ok "pull it into a fresh store" pull -q --cert-dir "$REG_CERTS" "$REG/comp/app:1"
CAIRN_ROOT=$T/store2 expect_ok "it runs" run --rm "$REG/comp/app:1" cat /made
check "its file" grep -qx made "$T/out"
expect_fail "pull --compression-format is refused" 2 "push only" pull --compression-format zstd "$REG/comp/app:1"
expect_ok "then export --format oci-archive --compression-format zstd" \
	export --format oci-archive --compression-format zstd app:1 "$T/oz.tar"
check "gives zstd layers" test "$(skopeo inspect --raw "oci-archive:$T/oz.tar" | jq -r '[.layers[].mediaType] | unique | join(",")')" = "$ZS"
check "from the same converted blobs" test "$(skopeo inspect --raw "oci-archive:$T/oz.tar" | jq -c .layers)" = \
	"$(jq -c .layers "$T/remote.json")"
expect_ok "fsck" fsck
stop_registry
finish
