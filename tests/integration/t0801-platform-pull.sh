#!/bin/bash
# pull --platform and FROM choose from a registry's multi-platform index:
# platforms in any spelling containerd accepts (linux/aarch64 is
# linux/arm64, linux/arm64/v8 the same), attestation entries skipped; a
# single-platform image of another platform is refused, not pulled
# silently; an invalid platform is refused before any request.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
. "$(dirname "$0")/platform.sh"
trap 'stop_registry; cleanup_test_dir' EXIT

start_registry none || { fail "start the registry"; finish; }
TLS=(--cert-dir "$REG_CERTS")

# Two images of one Buildfile (no RUN: no emulation needed).
buildfile "$T/ctx" <<'B'
FROM scratch
COPY f /f
B
echo hello >"$T/ctx/f"
expect_ok "host image" build -q -t img:host "$T/ctx"
expect_ok "$other image" build -q -t "img:$other" --platform "linux/$other" "$T/ctx"
mh=$(tag_digest img:host)
mo=$(tag_digest "img:$other")

# An index of both, plus a BuildKit-style attestation entry, pushed by skopeo.
rm -rf "$T/idx"
skopeo copy -q "oci:$CAIRN_ROOT:img:host" "oci:$T/idx:h" >/dev/null &&
	skopeo copy -q "oci:$CAIRN_ROOT:img:$other" "oci:$T/idx:o" >/dev/null
# entry DIGEST PLATFORM-JSON: an index entry for a manifest in $T/idx.
entry() {
	jq -nc --arg d "$1" --argjson s "$(stat -c %s "$T/idx/blobs/sha256/${1#sha256:}")" --argjson p "$2" \
		'{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $d, size: $s, platform: $p}'
}
ovar=; [ "$other" = arm64 ] && ovar=',"variant":"v8"'
att=$(entry "$mh" '{"os":"unknown","architecture":"unknown"}' |
	jq -c --arg d "$mh" '.annotations = {"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": $d}')
jq -nc --argjson a "$att" --argjson o "$(entry "$mo" "{\"os\":\"linux\",\"architecture\":\"$other\"$ovar}")" \
	--argjson h "$(entry "$mh" "{\"os\":\"linux\",\"architecture\":\"$host_arch\"}")" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [$a, $o, $h]}' >"$T/index.tmp"
ih=$(sha256sum "$T/index.tmp" | cut -d' ' -f1)
mv "$T/index.tmp" "$T/idx/blobs/sha256/$ih"
jq -nc --arg d "sha256:$ih" --argjson s "$(stat -c %s "$T/idx/blobs/sha256/$ih")" \
	'{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
	  annotations: {"org.opencontainers.image.ref.name": "x"}}]}' >"$T/idx/index.json"
check "skopeo pushes the index" skopeo copy -q --all --dest-cert-dir "$REG_CERTS" "oci:$T/idx:x" "docker://$REG/team/multi:1"
check "a single-platform image too" skopeo copy -q --dest-cert-dir "$REG_CERTS" "oci:$CAIRN_ROOT:img:host" "docker://$REG/team/single:1"

export CAIRN_ROOT=$T/store2
expect_ok "pull from the index" pull -q "${TLS[@]}" "$REG/team/multi:1"
check "the host's platform was chosen" test "$(tag_digest "$REG/team/multi:1")" = "$mh"
spelled=linux/aarch64; [ "$other" = amd64 ] && spelled=linux/x86_64
expect_ok "pull --platform $spelled" pull -q "${TLS[@]}" --platform "$spelled" "$REG/team/multi:1"
check "... is linux/$other's entry" test "$(tag_digest "$REG/team/multi:1")" = "$mo"
check "... whose config says $other" test "$(image_config "$REG/team/multi:1" | jq -r .architecture)" = "$other"
if [ "$other" = arm64 ]; then
	expect_ok "pull --platform linux/arm64/v8 (the default variant)" pull -q "${TLS[@]}" --platform linux/arm64/v8 "$REG/team/multi:1"
	check "... is the same entry" test "$(tag_digest "$REG/team/multi:1")" = "$mo"
fi
expect_fail "a platform the index lacks is named, with what it has (no attestation)" 1 \
	"no image for linux/s390x in the index (it has: linux/$other" pull "${TLS[@]}" --platform linux/s390x "$REG/team/multi:1"
check "... the attestation entry is not offered" bash -c "! grep -q unknown '$T/err'"
expect_fail "pull --platform of a single-platform image of another platform is refused" 1 \
	"the image is linux/$host_arch only, not linux/$other" pull "${TLS[@]}" --platform "linux/$other" "$REG/team/single:1"
expect_no_tag_single() { expect_no_tag "$REG/team/single:1"; }
check "... and not tagged" expect_no_tag_single
expect_ok "pull --platform of its own platform" pull -q "${TLS[@]}" --platform "linux/$host_arch" "$REG/team/single:1"
expect_fail "an invalid --platform is refused before any request" 1 "invalid platform 'linux/'" \
	pull "${TLS[@]}" --platform linux/ "$REG/team/multi:1"

# FROM picks from the index: build --platform pulls the target's entry.
export CAIRN_ROOT=$T/store3
printf 'FROM %s/team/multi:1\nCOPY f /g\n' "$REG" | buildfile "$T/from"
echo x >"$T/from/f"
expect_ok "build --platform linux/$other FROM the index" build -q "${TLS[@]}" --platform "linux/$other" -t from:o "$T/from"
check "its base is the $other entry" test "$(tag_digest "$REG/team/multi:1")" = "$mo"
check "its config says $other" test "$(image_config from:o | jq -r .architecture)" = "$other"
expect_ok "a host build of it pulls the host's entry in place of the $other one" build -q "${TLS[@]}" -t from:h "$T/from"
check "... the name now the host's" test "$(tag_digest "$REG/team/multi:1")" = "$mh"
check "... its config says $host_arch" test "$(image_config from:h | jq -r .architecture)" = "$host_arch"
finish
