#!/bin/bash
# Layer compression (issue 17): gzip by default, so docker before 23, umoci,
# LXC's oci template and skopeo's docker-archive read a default build;
# --compression zstd gives an image whose every layer is zstd, the base
# image's converted (once: the store remembers the conversion); the
# configuration file sets the default and names FILE:LINE when wrong.
. "$(dirname "$0")/lib.sh"

manifest() { cat "$CAIRN_ROOT/blobs/sha256/$(tag_digest "$1" | cut -d: -f2)"; }
layer_types() { manifest "$1" | jq -r '[.layers[].mediaType] | unique | join(",")'; }
GZ=application/vnd.oci.image.layer.v1.tar+gzip
ZS=application/vnd.oci.image.layer.v1.tar+zstd

build_busybox || finish
check "a default build's layers are gzip (media type)" test "$(layer_types busybox:latest)" = "$GZ"
first=$(manifest busybox:latest | jq -r '.layers[0].digest' | cut -d: -f2)
check "and gzip bytes" test "$(head -c 2 "$CAIRN_ROOT/blobs/sha256/$first" | od -An -tx1 | tr -d ' ')" = 1f8b

printf 'FROM busybox\nRUN echo hi >/x\n' | buildfile "$T/z"
expect_ok "build --compression zstd on a gzip base" build -q --compression zstd -t z:1 "$T/z"
check "every layer of it is zstd, the base's too" test "$(layer_types z:1)" = "$ZS"
check "its diff_ids start with the base's (same tars)" test \
	"$(image_config z:1 | jq -c '.rootfs.diff_ids[:-1]')" = "$(image_config busybox:latest | jq -c '.rootfs.diff_ids')"
for d in $(manifest z:1 | jq -r '.layers[].digest' | cut -d: -f2); do
	[ "$(head -c 4 "$CAIRN_ROOT/blobs/sha256/$d" | od -An -tx1 | tr -d ' ')" = 28b52ffd ] || echo "$d" >>"$T/notzstd"
done
check "and zstd bytes" test ! -e "$T/notzstd"
expect_ok "the converted image runs" run --rm z:1 cat /x
check "its file is there" grep -qx hi "$T/out"

nblobs=$(ls "$CAIRN_ROOT/blobs/sha256" | wc -l)
printf 'FROM busybox\nRUN echo other >/y\n' | buildfile "$T/z2"
expect_ok "a second zstd build on the same base" build -q --compression zstd -t z:2 "$T/z2"
check "converts nothing: the same base layers" test \
	"$(manifest z:2 | jq -c '.layers[:-1]')" = "$(manifest z:1 | jq -c '.layers[:-1]')"
check "and adds only its layer, config and manifest" test "$(ls "$CAIRN_ROOT/blobs/sha256" | wc -l)" -eq $((nblobs + 3))

printf 'FROM busybox\n' | buildfile "$T/from"
expect_ok "FROM alone, --compression zstd" build -q --compression zstd -t z:from "$T/from"
check "gives the base in zstd" test "$(layer_types z:from)" = "$ZS"
check "with the same config (the same image id)" test \
	"$(manifest z:from | jq -r .config.digest)" = "$(manifest busybox:latest | jq -r .config.digest)"
expect_ok "--compression gzip keeps a gzip base" build -q --compression gzip -t g:from "$T/from"
check "as it is (the same manifest)" test "$(tag_digest g:from)" = "$(tag_digest busybox:latest)"

# The configuration file.
printf '# cairn defaults\ncompression = "zstd"   # for our registry\n' >"$T/cairn.conf"
CAIRN_CONFIG=$T/cairn.conf expect_ok "CAIRN_CONFIG with compression = \"zstd\"" build -q -t c:1 "$T/z"
check "sets zstd" test "$(layer_types c:1)" = "$ZS"
CAIRN_CONFIG=$T/cairn.conf expect_ok "--compression gzip overrides the file" build -q --compression gzip -t c:2 "$T/z"
check "gzip" test "$(layer_types c:2)" = "$GZ"
mkdir -p "$T/xdg/cairn"
printf "compression = 'zstd'\n" >"$T/xdg/cairn/cairn.conf"
if [ -e /etc/cairn/cairn.conf ]; then
	skip "the user's file" "/etc/cairn/cairn.conf exists on this machine"
else
	(unset CAIRN_CONFIG; XDG_CONFIG_HOME=$T/xdg "$CAIRN" build -q -t c:3 "$T/z" >"$T/out" 2>"$T/err")
	check "\$XDG_CONFIG_HOME/cairn/cairn.conf is read" test "$(layer_types c:3)" = "$ZS"
fi
printf 'compression = "zstd"\ncompresion = "gzip"\n' >"$T/bad.conf"
CAIRN_CONFIG=$T/bad.conf expect_fail "an unknown key is an error" 1 "$T/bad.conf:2: unknown key 'compresion'" build -q "$T/z"
printf '\ncompression = "lz4"\n' >"$T/bad2.conf"
CAIRN_CONFIG=$T/bad2.conf expect_fail "a bad value names FILE:LINE" 1 "$T/bad2.conf:2: compression 'lz4' is not zstd or gzip" build -q "$T/z"
CAIRN_CONFIG=$T/none.conf expect_fail "a missing CAIRN_CONFIG file is an error" 1 "$T/none.conf" build -q "$T/z"

# The conversions are remembered in the store, and prune keeps them
# consistent: fsck sees no problem while images use them, prune removes the
# converted blobs with the last image using them, and their entries.
expect_ok "fsck with converted layers" fsck
conv=$(manifest z:1 | jq -r '.layers[0].digest')
for t in z:1 z:2 z:from c:1 c:3; do "$CAIRN" rmi "$t" >/dev/null 2>&1; done
expect_ok "prune --all" prune --all
check "the converted blob is gone with its images" test ! -e "$CAIRN_ROOT/blobs/sha256/${conv#sha256:}"
check "and no cache entry names it" sh -c "! grep -rqs '$conv' '$CAIRN_ROOT/cache'"
expect_ok "fsck after prune" fsck
check "busybox is still gzip and whole" test "$(layer_types busybox:latest)" = "$GZ"
expect_ok "a zstd build after prune converts again" build -q --compression zstd -t z:3 "$T/z"
check "zstd" test "$(layer_types z:3)" = "$ZS"
expect_ok "fsck at the end" fsck
finish
