#!/bin/bash
# The build cache in a directory (--cache-to type=local,dest=DIR,
# --cache-from type=local,src=DIR): an OCI image layout any OCI tool reads,
# holding one cache manifest per tag (tag=, default latest); a fresh store
# that imports it runs no step and gets the same image; exports to one
# directory add up. A value cairn cannot use is a usage error (exit 2) that
# names the flag and the attribute, before anything is built.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rcache.sh"

STORE_A=$T/store
build_busybox || finish
bbA=$(tag_digest busybox:latest)
ctx=$T/ctx ctx2=$T/ctx2
mkdir -p "$ctx" "$ctx2"
echo one >"$ctx/a.txt"
echo two >"$ctx/b.txt"
buildfile "$ctx" <<'EOF2'
FROM busybox
COPY a.txt /a.txt
RUN echo RAN-A3; cat /a.txt > /a2.txt
ENV WHO=local
COPY b.txt /b.txt
RUN echo RAN-A6; cat /b.txt > /b2.txt
EOF2
echo other >"$ctx2/c.txt"
buildfile "$ctx2" <<'EOF2'
FROM busybox
COPY c.txt /c.txt
RUN echo RAN-B3; cat /c.txt /c.txt > /c2.txt
EOF2

# ---- export, then import into a fresh store ----
LC=$T/lc
expect_ok "store A: build with --cache-to type=local,dest=DIR" build --cache-to "type=local,dest=$LC" -t app:1 "$ctx"
digestA=$(tag_digest app:1)
check "the export summary names local:DIR" \
	grep -qE "$(export_line_re "local:$LC")" "$T/err"
check "DIR is an OCI image layout" test -f "$LC/oci-layout" -a -f "$LC/index.json"
check "index.json names the cache manifest 'latest'" \
	test "$(jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | join(",")' "$LC/index.json" 2>&1)" = latest
check "skopeo reads its config type: the cache document's" \
	test "$(skopeo inspect --raw "oci:$LC:latest" 2>&1 | jq -r .config.mediaType 2>&1)" = application/vnd.cairn.buildcache.config.v1+json
check "... and its artifact type" \
	test "$(skopeo inspect --raw "oci:$LC:latest" 2>&1 | jq -r .artifactType 2>&1)" = application/vnd.cairn.buildcache.v1
blobs_ok() {   # DIR: every blob hashes to its name, none is missing
	local f d
	for f in "$1"/blobs/sha256/*; do
		[ -f "$f" ] || { echo "no blobs"; return 1; }
		[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || { echo "bad blob $f"; return 1; }
	done
	for d in $(skopeo inspect --raw "oci:$1:${2:-latest}" | jq -r '.config.digest, .layers[].digest'); do
		[ -f "$1/blobs/sha256/${d#sha256:}" ] || { echo "missing $d"; return 1; }
	done
}
check "its blobs are whole and hash to their names" blobs_ok "$LC"
check "no temp files left in DIR's blobs" test -d "$LC/blobs/sha256" -a -z "$(find "$LC/blobs" -type f 2>/dev/null | grep -vE '/blobs/sha256/[0-9a-f]{64}$')"

export CAIRN_ROOT=$T/storeB
build_busybox
check "store B: the same base image (a reproducible build)" test "$(tag_digest busybox:latest)" = "$bbA"
expect_ok "store B: build with --cache-from type=local,src=DIR" build --cache-from "type=local,src=$LC" -t app:1 "$ctx"
st=$status
check "store B: every step after FROM is CACHED (local:DIR) (5)" test "$(cached_from "local:$LC")" -eq 5
check "store B: no RUN step ran" test "$st" -eq 0 -a "$(ran RAN-A3)" -eq 0 -a "$(ran RAN-A6)" -eq 0
check "store B: the same image digest" test -n "$digestA" -a "$(tag_digest app:1)" = "$digestA"
check "store B: the import summary" grep -qE "$(import_line_re "local:$LC" 5)" "$T/err"
check "store B: no warning" test "$st" -eq 0 -a "$(warnings warning:)" -eq 0
expect_ok "store B: fsck" fsck
expect_ok "store B: a second build uses its own store now" build -t app:2 "$ctx"
check "... CACHED (local) for every step" test "$(count_re "$P--> CACHED \(local\) [0-9a-f]{12}" "$T/out")" -eq 5

# ---- exports to one directory add up ----
export CAIRN_ROOT=$STORE_A
expect_ok "store A: another Buildfile exported to the same DIR" build --cache-to "type=local,dest=$LC" -t other:1 "$ctx2"
otherA=$(tag_digest other:1)
export CAIRN_ROOT=$T/storeC
build_busybox
expect_ok "store C: the first Buildfile from DIR" build --cache-from "type=local,src=$LC" -t app:1 "$ctx"
check "store C: all CACHED (the older records were kept)" test "$(cached_from "local:$LC")" -eq 5
expect_ok "store C: the second Buildfile from DIR" build --cache-from "type=local,src=$LC" -t other:1 "$ctx2"
st=$status
check "store C: all CACHED, nothing ran" test "$st" -eq 0 -a "$(cached_from "local:$LC")" -eq 2 -a "$(ran RAN-B3)" -eq 0
check "store C: same images" test -n "$digestA" -a -n "$otherA" -a "$(tag_digest app:1)" = "$digestA" -a "$(tag_digest other:1)" = "$otherA"

# ---- tag= ----
LC2=$T/lc2
export CAIRN_ROOT=$STORE_A
expect_ok "store A: export with tag=one" build --cache-to "type=local,dest=$LC2,tag=one" -t app:1 "$ctx"
expect_ok "store A: export another build with tag=two" build --cache-to "type=local,dest=$LC2,tag=two" -t other:1 "$ctx2"
check "index.json names both tags" \
	test "$(jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | sort | join(",")' "$LC2/index.json" 2>&1)" = one,two
cfg_one=$(skopeo inspect --raw "oci:$LC2:one" | jq -r .config.digest)
cfg_two=$(skopeo inspect --raw "oci:$LC2:two" | jq -r .config.digest)
check "skopeo reads both" test -n "$cfg_one" -a -n "$cfg_two"
check "they are two caches" test -n "$cfg_one" -a "$cfg_one" != "$cfg_two"
check "their blobs are whole" blobs_ok "$LC2" one
export CAIRN_ROOT=$T/storeD
build_busybox
expect_ok "store D: --cache-from type=local,src=DIR,tag=two" build --cache-from "type=local,src=$LC2,tag=two" -t other:1 "$ctx2"
st=$status
check "store D: tag two's steps are CACHED" test "$st" -eq 0 -a "$(cached_from "local:$LC2")" -eq 2 -a "$(ran RAN-B3)" -eq 0
expect_ok "store D: --cache-from ...,tag=one" build --cache-from "type=local,src=$LC2,tag=one" -t app:1 "$ctx"
check "store D: tag one's steps are CACHED" test "$(cached_from "local:$LC2")" -eq 5
export CAIRN_ROOT=$T/storeE
build_busybox
expect_ok "a missing tag: the build goes on" build --cache-from "type=local,src=$LC2,tag=three" -t app:3 "$ctx"
check "... runs the steps, one warning at most" test "$(ran RAN-A3)" -eq 1 -a "$(warnings warning:)" -le 1
expect_ok "a missing directory: the build goes on" build --cache-from "type=local,src=$T/nodir" -t app:4 "$ctx"
check "... one warning at most, naming it" test "$status" -eq 0 -a "$(warnings warning:)" -le 1 -a \
	"$(warnings warning:)" -eq "$(count_re "^warning: --cache-from .*$(re "$T/nodir")" "$T/err")"
check "... and creates nothing" test ! -e "$T/nodir"

# ---- --cache-from twice: one that fails does not spoil the other ----
export CAIRN_ROOT=$T/storeF
build_busybox
expect_ok "two --cache-from, the first a missing directory" \
	build --cache-from "type=local,src=$T/nodir" --cache-from "type=local,src=$LC2,tag=two" -t other:1 "$ctx2"
st=$status
check "... the steps come from the second" test "$st" -eq 0 -a "$(cached_from "local:$LC2")" -eq 2 -a "$(ran RAN-B3)" -eq 0
check "... one import summary, for the one used" test "$(count_re '^cache import ' "$T/err")" -eq 1 -a \
	"$(count_re "$(import_line_re "local:$LC2" 2)" "$T/err")" -eq 1

# ---- attributes buildx has that cairn does not need are accepted ----
expect_ok "oci-mediatypes=, image-manifest=, compression-level= are accepted" \
	build --cache-to "type=local,dest=$T/lc3,mode=max,oci-mediatypes=true,image-manifest=true,compression-level=3" -t app:5 "$ctx"

# ---- usage errors: exit 2, the flag and the attribute named, nothing built ----
bad() {   # DESC FLAG VALUE ATTRIBUTE
	local desc=$1 flag=$2 value=$3 attr=$4
	rm -rf "$T/badlc"
	run_cairn build --no-cache "$flag" "$value" -t bad:1 "$ctx"
	if [ "$status" -eq 2 ] && grep -qF -- "$flag" "$T/err" && grep -qF -- "$attr" "$T/err" &&
		! grep -q "unknown flag" "$T/err" && [ "$(ran RAN-A3)" -eq 0 ] && [ ! -e "$T/badlc" ]; then
		pass "$desc"
	else
		fail "$desc (status $status, want 2; stderr should name '$flag' and '$attr', nothing run)"
		sed 's/^/#   /' "$T/err" | tail -5
	fi
}
bad "mode=maxx" --cache-to "type=local,dest=$T/badlc,mode=maxx" mode
bad "type=gha" --cache-to "type=gha" type
bad "type=gha in --cache-from" --cache-from "type=gha" type
bad "an unknown attribute" --cache-to "type=local,dest=$T/badlc,unknown=1" unknown
bad "an unknown attribute in --cache-from" --cache-from "type=local,src=$LC,bogus=2" bogus
bad "type=local without dest" --cache-to "type=local" dest
bad "type=local without src" --cache-from "type=local" src
bad "type=registry without ref" --cache-to "type=registry,mode=max" ref
bad "compression=lz4" --cache-to "type=local,dest=$T/badlc,compression=lz4" compression
bad "ignore-error=maybe" --cache-to "type=local,dest=$T/badlc,ignore-error=maybe" ignore-error
bad "an attribute without a value" --cache-to "type=local,dest" dest

export CAIRN_ROOT=$STORE_A
check "store consistent" store_is_consistent
check "no tmp left" no_tmp_left
finish
