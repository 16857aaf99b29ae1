#!/bin/bash
# The build cache shared through a registry (issue 11): a build exported with
# --cache-to type=registry lets a build in another store, from another copy
# of the context (other mtimes, other inodes), run no step at all and get the
# same image, downloading only what the image needs; a changed file reruns
# only the steps from its COPY on. mode=max also shares the steps of stages
# the image does not contain, mode=min does not. Over TLS with htpasswd
# users, credentials work for the export and the import as for push and pull.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
. "$(dirname "$0")/rcache.sh"
trap 'stop_registry; cleanup_test_dir' EXIT

STORE_A=$T/store
build_busybox || finish
REG_TLS=0 start_registry none || { fail "start the registry"; finish; }
NT=(--tls-verify=false)
expect_ok "push the base image from store A" push -q "${NT[@]}" busybox:latest "$REG/lib/busybox:1"
CACHE=$REG/team/app:buildcache

# ---- one context, two copies ----
ctxA=$T/ctxA ctxB=$T/ctxB
mkdir -p "$ctxA/sub"
echo alpha >"$ctxA/a.txt"
echo beta >"$ctxA/sub/b.txt"
buildfile "$ctxA" <<EOF2
FROM $REG/lib/busybox:1
COPY a.txt /a.txt
RUN echo RAN-STEP-3; cat /a.txt /a.txt > /a2.txt
ENV GREETING=hello
COPY sub/b.txt /b.txt
RUN echo RAN-STEP-6; cat /b.txt > /b2.txt; echo "\$GREETING" >> /b2.txt
EOF2
nsteps=5   # after FROM
cp -a "$ctxA" "$ctxB"
i=0
while read -r f; do
	i=$((i + 1))
	touch -h -d "@$((1710000000 + i * 1000))" "$f"
done < <(find "$ctxB" -depth)
check "the copy's files have other mtimes and inodes" \
	test "$(stat -c '%i %Y' "$ctxA/a.txt")" != "$(stat -c '%i %Y' "$ctxB/a.txt")"

# ---- store A: build and export (mode=max) ----
expect_ok "store A: build with --cache-to type=registry,mode=max" \
	build "${NT[@]}" --cache-to "type=registry,ref=$CACHE,mode=max" -t app:1 "$ctxA"
check "store A: every RUN ran" test "$(ran RAN-STEP-3)" -eq 1 -a "$(ran RAN-STEP-6)" -eq 1
check "store A: the export summary names the ref, records and layers" \
	grep -qE "$(export_line_re "$CACHE")" "$T/err"
digestA=$(tag_digest app:1)
mapfile -t layersA < <(layers_of app:1)
reg_manifest team/app buildcache >"$T/cache.json"
check "the cache is an OCI image manifest in the registry" \
	test "$(jq -r .mediaType "$T/cache.json")" = "$OCI_MANIFEST"
check "... with the cache artifact type, config type and version annotation" \
	test "$(jq -r '[.artifactType, .config.mediaType, .annotations["org.cairn.buildcache.version"]] | join(" ")' "$T/cache.json")" = \
	"application/vnd.cairn.buildcache.v1 application/vnd.cairn.buildcache.config.v1+json 1"
doc=$(jq -r .config.digest "$T/cache.json")
doc_ok() {
	reg_blob team/app "$doc" >"$T/doc.json" &&
		test "sha256:$(sha256sum <"$T/doc.json" | cut -d' ' -f1)" = "$doc" && jq -e . "$T/doc.json" >/dev/null
}
check "... whose config (the cache document) is JSON with that digest" doc_ok
missing=0
for l in "${layersA[@]}"; do
	jq -e --arg l "$l" '[.layers[].digest] | index($l) != null' "$T/cache.json" >/dev/null || missing=$((missing + 1))
done
check "... whose layers hold every layer of the image (${#layersA[@]})" test "${#layersA[@]}" -ge 5 -a "$missing" -eq 0
all_in_repo() {
	local d
	[ -s "$T/cache.json" ] || { echo "no cache manifest"; return 1; }
	for d in $(jq -r '.layers[].digest' "$T/cache.json"); do
		curl -sf -o /dev/null -I "http://$REG/v2/team/app/blobs/$d" || { echo "missing $d"; return 1; }
	done
}
check "every layer it names is in the repository" all_in_repo

mark=$(reg_mark)
expect_ok "store A: the same build exported again" \
	build "${NT[@]}" --cache-to "type=registry,ref=$CACHE,mode=max" -t app:1 "$ctxA"
reg_blob_puts "$mark" >"$T/puts"
printf '%s\n' "${layersA[@]}" | sort -u >"$T/layersA"
check "... uploads no layer (the registry has them all)" test -z "$(comm -12 "$T/puts" "$T/layersA")"
check "... and puts the cache manifest again" test "$(reg_requests PUT /manifests/buildcache)" -ge 2
check "... and leaves the image as it was" test -n "$digestA" -a "$(tag_digest app:1)" = "$digestA"

# The document store B is to read: the one the last export put.
doc=$(reg_manifest team/app buildcache | jq -r .config.digest)

# ---- store B: a fresh store imports ----
export CAIRN_ROOT=$T/storeB
mark=$(reg_mark)
expect_ok "store B: build the copy with --cache-from type=registry" \
	build "${NT[@]}" --cache-from "type=registry,ref=$CACHE" -t app:1 "$ctxB"
st=$status
reg_blob_gets "$mark" >"$T/gets"
check "store B: every step after FROM is CACHED ($CACHE) ($nsteps)" test "$(cached_from "$CACHE")" -eq "$nsteps"
check "store B: no RUN step ran" test "$st" -eq 0 -a "$(ran RAN-STEP-3)" -eq 0 -a "$(ran RAN-STEP-6)" -eq 0
check "store B: the same image digest as store A" test -n "$digestA" -a "$(tag_digest app:1)" = "$digestA"
check "store B: the import summary counts the hits" \
	grep -qE "$(import_line_re "$CACHE" "$nsteps")" "$T/err"
check "store B: no warning" test "$st" -eq 0 -a "$(warnings warning:)" -eq 0
# What store B may have downloaded: the base image (FROM pulls it), the
# layers of the image, the cache document. Nothing else: no state the build
# did not need, no config (the document holds them).
{
	layers_of app:1
	# From the registry: with --cache-from, FROM fetches only the base's
	# manifest and config when the cache holds its layers (not tagged in B).
	reg_manifest lib/busybox 1 | jq -r '.config.digest, .layers[].digest'
	echo "$doc"
} | sort -u >"$T/allowed"
check "store B downloaded the cache document" grep -qx "$doc" "$T/gets"
check "store B downloaded no blob but the base image's, the image's layers and the document" \
	test -s "$T/gets" -a -z "$(comm -23 "$T/gets" "$T/allowed")"
[ -z "$(comm -23 "$T/gets" "$T/allowed")" ] || comm -23 "$T/gets" "$T/allowed" | sed 's/^/#   unexpected GET /'
expect_ok "store B: fsck" fsck
expect_ok "store B: the same build again, without --cache-from" build "${NT[@]}" -t app:1 "$ctxB"
check "... every step comes from the store's own cache now (the imported hits were kept)" \
	test "$(cached_from local)" -eq "$nsteps" -a "$(ran RAN-STEP-3)" -eq 0
files_ok() {
	unpack_with_umoci app:1 "$T/uB" &&
		test "$(cat "$T/uB/rootfs/a2.txt")" = "$(printf 'alpha\nalpha')" &&
		test "$(cat "$T/uB/rootfs/b2.txt")" = "$(printf 'beta\nhello')"
}
check "store B: the image holds what the RUN steps wrote" files_ok

# ---- a change in the copy: only the steps from its COPY on rerun ----
echo gamma >"$ctxB/sub/b.txt"
expect_ok "store B: rebuild after b.txt changed" \
	build "${NT[@]}" --cache-from "type=registry,ref=$CACHE" -t app:2 "$ctxB"
st=$status
check "the steps before the changed COPY are CACHED (3)" test "$(cached_any)" -eq 3
check "the steps before it did not run" test "$st" -eq 0 -a "$(ran RAN-STEP-3)" -eq 0
check "the changed COPY is not CACHED" not_cached 5
check "the RUN after it ran, once" test "$(ran RAN-STEP-6)" -eq 1
check "a new image" test "$(tag_digest app:2)" != "$digestA"

# ---- mode=min and mode=max, two stages ----
export CAIRN_ROOT=$STORE_A
ms=$T/ms
mkdir -p "$ms"
echo source >"$ms/src.txt"
buildfile "$ms" <<EOF2
FROM $REG/lib/busybox:1 AS builder
COPY src.txt /src.txt
RUN echo RAN-BUILDER; cat /src.txt /src.txt > /artifact
FROM $REG/lib/busybox:1
COPY --from=builder /artifact /app/artifact
RUN echo RAN-FINAL; wc -l /app/artifact > /final
EOF2
expect_ok "store A: a two-stage build exported with mode=min and mode=max (two --cache-to)" \
	build "${NT[@]}" --cache-to "type=registry,ref=$REG/team/ms:min,mode=min" \
	--cache-to "type=registry,ref=$REG/team/ms:max,mode=max" -t ms:1 "$ms"
msdigest=$(tag_digest ms:1)
rmin=$(sed -nE "s#^cache export $(re "$REG/team/ms:min"): ([0-9]+) records?,.*#\1#p" "$T/err")
rmax=$(sed -nE "s#^cache export $(re "$REG/team/ms:max"): ([0-9]+) records?,.*#\1#p" "$T/err")
check "one export summary per --cache-to" test -n "$rmin" -a -n "$rmax" -a \
	"$(count_re "$(export_line_re "$REG/team/ms:min")" "$T/err")$(count_re "$(export_line_re "$REG/team/ms:max")" "$T/err")" = 11
check "mode=min records fewer steps than mode=max ($rmin < $rmax)" test "${rmin:-0}" -lt "${rmax:-0}"

export CAIRN_ROOT=$T/storeC
mark=$(reg_mark)
expect_ok "store C: build with --cache-from the mode=max cache" \
	build "${NT[@]}" --cache-from "type=registry,ref=$REG/team/ms:max" -t ms:1 "$ms"
st=$status
reg_blob_gets "$mark" >"$T/gets"
{
	layers_of ms:1
	reg_manifest lib/busybox 1 | jq -r '.config.digest'
	reg_manifest team/ms max | jq -r '.config.digest'
} | sort -u >"$T/allowed"
check "store C: the builder stage's own layers were not downloaded (only the image's, the base's config, the document)" \
	test -s "$T/gets" -a -z "$(comm -23 "$T/gets" "$T/allowed")"
check "store C: the builder stage's COPY and RUN are CACHED from it" \
	test "$(step_result 2 | cut -d' ' -f1-3)" = "--> CACHED ($REG/team/ms:max)" -a \
	"$(step_result 3 | cut -d' ' -f1-3)" = "--> CACHED ($REG/team/ms:max)"
check "store C: the builder's RUN did not run" test "$st" -eq 0 -a "$(ran RAN-BUILDER)" -eq 0
check "store C: nothing ran, every step is CACHED (4)" test "$(ran RAN-FINAL)" -eq 0 -a "$(cached_from "$REG/team/ms:max")" -eq 4
check "store C: the same image" test -n "$msdigest" -a "$(tag_digest ms:1)" = "$msdigest"

export CAIRN_ROOT=$T/storeD
expect_ok "store D: build with --cache-from the mode=min cache" \
	build "${NT[@]}" --cache-from "type=registry,ref=$REG/team/ms:min" -t ms:1 "$ms"
check "store D: the builder stage's RUN ran (mode=min leaves it out)" test "$(ran RAN-BUILDER)" -eq 1
check "store D: the builder stage's steps are not CACHED" not_cached 2 3
check "store D: the same image all the same (the build is reproducible)" test -n "$msdigest" -a "$(tag_digest ms:1)" = "$msdigest"

# ---- type=inline: the cache travels in the image's own config ----
export CAIRN_ROOT=$STORE_A
expect_ok "store A: build with --cache-to type=inline" build "${NT[@]}" --cache-to type=inline -t inl:1 "$ctxA"
inl=$(tag_digest inl:1)
expect_ok "store A: push that image" push -q "${NT[@]}" inl:1 "$REG/team/inl:1"
export CAIRN_ROOT=$T/storeI
expect_ok "store I: build with --cache-from the pushed image" \
	build "${NT[@]}" --cache-from "$REG/team/inl:1" -t inl:1 "$ctxA"
st=$status
check "store I: every step is CACHED ($REG/team/inl:1)" test "$(cached_from "$REG/team/inl:1")" -eq "$nsteps"
check "store I: nothing ran" test "$st" -eq 0 -a "$(ran RAN-STEP-3)$(ran RAN-STEP-6)" = 00
check "store I: the image of those steps, without the cache in its config (no --cache-to here)" \
	test -n "$inl" -a "$inl" != "$digestA" -a "$(tag_digest inl:1)" = "$digestA"

# ---- over TLS, with htpasswd users ----
stop_registry
REG_TLS=1 start_registry htpasswd || { fail "start the TLS registry"; finish; }
REG_SCHEME=https REG_CURL=(--cacert "$REG_CERTS/ca.crt" -u "$REG_USER:$REG_PASS")
TLS=(--cert-dir "$REG_CERTS") CREDS=(--creds "$REG_USER:$REG_PASS")
TCACHE=$REG/team/tls:c
export CAIRN_ROOT=$STORE_A
expect_ok "push the base image to the TLS registry" push -q "${TLS[@]}" "${CREDS[@]}" busybox:latest "$REG/lib/busybox:1"
# Store A has it under that name: the builds below do not pull.
expect_ok "tag it in store A" tag busybox:latest "$REG/lib/busybox:1"
tctx=$T/tctx
cp -a "$ctxA" "$tctx"
sed -i "1s|.*|FROM $REG/lib/busybox:1|" "$tctx/Buildfile"
expect_fail "store A: an export without credentials fails, naming the ref" 1 "$TCACHE" \
	build "${TLS[@]}" --cache-to "type=registry,ref=$TCACHE,mode=max" -t tls:1 "$tctx"
expect_ok "store A: export over TLS with --cert-dir and --creds" \
	build "${TLS[@]}" "${CREDS[@]}" --cache-to "type=registry,ref=$TCACHE,mode=max" -t tls:1 "$tctx"
check "... the export summary" grep -qE "$(export_line_re "$TCACHE")" "$T/err"
check "... the cache manifest is there (read with the credentials)" \
	test "$(reg_manifest team/tls c | jq -r .artifactType)" = application/vnd.cairn.buildcache.v1
tdigest=$(tag_digest tls:1)

export CAIRN_ROOT=$T/storeE
expect_ok "store E: import over TLS with --cert-dir and --creds" \
	build "${TLS[@]}" "${CREDS[@]}" --cache-from "$TCACHE" -t tls:1 "$tctx"
st=$status
check "store E: every step is CACHED ($TCACHE)" test "$(cached_from "$TCACHE")" -eq "$nsteps"
check "store E: nothing ran" test "$st" -eq 0 -a "$(ran RAN-STEP-3)" -eq 0 -a "$(ran RAN-STEP-6)" -eq 0
check "store E: the same image" test -n "$tdigest" -a "$(tag_digest tls:1)" = "$tdigest"

export CAIRN_ROOT=$T/storeF
expect_ok "store F: pull the base image" pull -q "${TLS[@]}" "${CREDS[@]}" "$REG/lib/busybox:1"
expect_ok "store F: an import without credentials: the build goes on without the cache" \
	build "${TLS[@]}" --cache-from "$TCACHE" -t tls:1 "$tctx"
check "store F: one warning naming the ref" test "$(warnings "warning: --cache-from $TCACHE")" -eq 1
check "store F: the steps ran" test "$(ran RAN-STEP-3)" -eq 1 -a "$(ran RAN-STEP-6)" -eq 1
stop_registry

for s in "$STORE_A" "$T/storeB" "$T/storeE"; do
	CAIRN_ROOT=$s check "$(basename "$s") consistent" store_is_consistent
done
check "no mounts left" no_mounts_left
finish
