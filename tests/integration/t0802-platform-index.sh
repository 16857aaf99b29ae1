#!/bin/bash
# build --platform A,B builds each platform and tags an OCI image index:
# index.json's entry is the index, images/inspect/run take the host's
# image, prune keeps every platform's, push sends the index and its
# manifests (skopeo inspect --raw shows both platforms), and pull
# --platform takes one back. Where qemu-aarch64 is registered, the arm64
# image's RUN steps ran as aarch64.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
. "$(dirname "$0")/platform.sh"
trap 'stop_registry; cleanup_test_dir' EXIT
IDX=application/vnd.oci.image.index.v1+json

buildfile "$T/ctx" <<'B'
FROM scratch
ARG TARGETARCH
COPY f /f
LABEL arch=$TARGETARCH
B
echo hello >"$T/ctx/f"

expect_fail "an empty element in the list is refused" 2 "invalid platform list" \
	build -q --platform "linux/amd64,,linux/arm64" "$T/ctx"
expect_fail "a platform named twice is refused" 2 "'linux/aarch64' is named twice" \
	build -q --platform "linux/arm64,linux/aarch64" "$T/ctx"
expect_ok "a two-platform build" build -t multi:1 --platform "linux/$host_arch,linux/$other" "$T/ctx"
check "each platform is built in turn" test "$(grep -c '^PLATFORM ' "$T/out")" = 2
di=$(tag_digest multi:1)
check "the tag is an image index in index.json" test "$(jq -r --arg r multi:1 '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .mediaType' "$CAIRN_ROOT/index.json")" = "$IDX"
check "the last line printed is the index digest" test "$(tail -1 "$T/out")" = "$di"
idx=$CAIRN_ROOT/blobs/sha256/${di#sha256:}
check "the index has both platforms" test "$(jq -r '[.manifests[].platform.architecture] | sort | join(",")' "$idx")" = "$(printf '%s\n' "$host_arch" "$other" | sort | paste -sd,)"
mo=$(jq -r --arg a "$other" '.manifests[] | select(.platform.architecture == $a) | .digest' "$idx")
mh=$(jq -r --arg a "$host_arch" '.manifests[] | select(.platform.architecture == $a) | .digest' "$idx")
check "the $other image says $other (config and TARGETARCH)" test "$(image_config_of "$mo" | jq -r '.architecture + " " + .config.Labels.arch')" = "$other $other"
check "the host image says $host_arch" test "$(image_config_of "$mh" | jq -r '.architecture + " " + .config.Labels.arch')" = "$host_arch $host_arch"
expect_ok "inspect of the tag" inspect multi:1
check "... is the host's image" grep -q "\"architecture\": *\"$host_arch\"\|$mh" "$T/out"
expect_ok "tag the multi-platform tag" tag multi:1 multicopy:1
check "... the new tag names the index, every platform (not the host's image)" test "$(tag_digest multicopy:1)" = "$di"
expect_ok "tag the index by its digest" tag "$di" multicopy:2
check "... names the index too" test "$(tag_digest multicopy:2)" = "$di"
expect_ok "images lists the tag" images
check "... once" test "$(grep -c '^multi ' "$T/out")" = 1
printf 'FROM multi:1\nLABEL child=1\n' | buildfile "$T/from"
expect_ok "FROM the multi-platform tag for linux/$other" build -q -t from:o --platform "linux/$other" "$T/from"
check "... takes its $other image" test "$(image_config from:o | jq -r '.architecture + " " + .config.Labels.arch')" = "$other $other"
expect_ok "FROM it for the host" build -q -t from:h "$T/from"
check "... takes the host's image" test "$(image_config from:h | jq -r '.architecture + " " + .config.Labels.arch')" = "$host_arch $host_arch"
expect_fail "FROM it for a platform it lacks names what it has" 1 "no image for linux/s390x in the index (it has: linux/" \
	build -q --platform linux/s390x "$T/from"
expect_ok "prune" prune
check "prune keeps both platforms' images" test -e "$CAIRN_ROOT/blobs/sha256/${mo#sha256:}" -a -e "$CAIRN_ROOT/blobs/sha256/${mh#sha256:}"
expect_ok "the $other image is still whole" inspect "$mo"
check "store consistent" store_is_consistent

# ---- push, skopeo, pull --platform ----
# fsck: an index is checked platform by platform; one without this host's
# platform is no problem, and --repair never removes a whole index.
expect_ok "a build for two foreign platforms" build -q -t foreign:1 --platform linux/ppc64le,linux/s390x "$T/ctx"
expect_ok "fsck: a multi-platform tag without the host's platform is consistent" fsck
expect_ok "images lists it" images foreign
check "... by its first platform's image, not as unreadable" sh -c "grep -qE '^foreign +1 +[0-9a-f]{12} ' '$T/out' && ! grep -q unreadable '$T/out'"
expect_ok "fsck --repair leaves it" fsck --repair
check "... the tag is still the index" test -n "$(tag_digest foreign:1)"
fi_child=$(jq -r '.manifests[0].digest' "$CAIRN_ROOT/blobs/sha256/$(tag_digest foreign:1 | cut -d: -f2)")
mv "$CAIRN_ROOT/blobs/sha256/${fi_child#sha256:}" "$T/child.blob"
run_cairn fsck
check "fsck: a platform's missing manifest is reported on the index's tag" \
	sh -c "test $status -eq 1 && grep -q \"^tag 'foreign:1': image $fi_child: manifest missing\" '$T/out'"
mv "$T/child.blob" "$CAIRN_ROOT/blobs/sha256/${fi_child#sha256:}"
expect_ok "fsck is clean again" fsck

start_registry none || { fail "start the registry"; finish; }
TLS=(--cert-dir "$REG_CERTS")
expect_fail "push --compression-format of a multi-platform image is refused, saying so" 1 \
	"not supported for a multi-platform image" push "${TLS[@]}" --compression-format zstd multi:1 "$REG/team/multi:z"
expect_ok "push the multi-platform image" push "${TLS[@]}" multi:1 "$REG/team/multi:1"
check "push prints the index digest" test "$(tail -1 "$T/out")" = "$di"
skopeo inspect --raw --tls-verify=false "docker://$REG/team/multi:1" >"$T/raw" 2>"$T/raw.err"
check "skopeo inspect --raw shows the index" test "$(jq -r .mediaType "$T/raw")" = "$IDX"
check "... with both platforms" test "$(jq -r '[.manifests[].platform | .os + "/" + .architecture] | sort | join(",")' "$T/raw")" = "$(printf 'linux/%s\n' "$host_arch" "$other" | sort | paste -sd,)"
check "... the same bytes as the store's" cmp -s "$T/raw" "$idx"
export CAIRN_ROOT=$T/store2
expect_ok "pull --platform linux/$other" pull -q "${TLS[@]}" --platform "linux/$other" "$REG/team/multi:1"
check "... gets the $other manifest" test "$(tag_digest "$REG/team/multi:1")" = "$mo"
expect_ok "pull (host)" pull -q "${TLS[@]}" "$REG/team/multi:1"
check "... gets the host manifest" test "$(tag_digest "$REG/team/multi:1")" = "$mh"

# ---- RUN under emulation, where qemu-aarch64 is registered ----
export CAIRN_ROOT=$T/store
if ! arm64_emulated; then
	skip "a two-platform build with RUN" "no enabled qemu-aarch64 binfmt_misc entry with the F flag"
	finish
fi
if ! bb=$(arm64_busybox); then
	skip "a two-platform build with RUN" "could not download Debian's busybox-static for arm64"
	finish
fi
mkdir -p "$T/b"
cp "$bb" "$T/b/busybox-arm64"
cp /bin/busybox "$T/b/busybox-amd64"
buildfile "$T/b" <<'B'
FROM scratch
ARG TARGETARCH
COPY busybox-$TARGETARCH /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox uname -m > /machine"]
B
expect_ok "a two-platform build with RUN" build -q -t bbmulti:1 --platform linux/amd64,linux/arm64 "$T/b"
bi=$CAIRN_ROOT/blobs/sha256/$(tag_digest bbmulti:1 | cut -d: -f2)
for a in amd64 arm64; do
	m=$(jq -r --arg a "$a" '.manifests[] | select(.platform.architecture == $a) | .digest' "$bi")
	expect_ok "run the $a image" run --rm "$m" /bin/busybox cat /machine
	want=x86_64; [ "$a" = arm64 ] && want=aarch64
	check "its RUN ran as $want" test "$(cat "$T/out")" = "$want"
done
finish
