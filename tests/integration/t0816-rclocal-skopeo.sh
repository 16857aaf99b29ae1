#!/bin/bash
# A type=local build cache is a plain OCI image layout: skopeo reads the
# cache manifest test_rclocal writes (tags v1 and v2) byte for byte, and
# copies the whole cache (every blob it names) to another layout.
. "$(dirname "$0")/lib.sh"

unit=${UNIT_DIR:-$(dirname "$CAIRN")/tests}/test_rclocal
if [ ! -x "$unit" ]; then
	skip "skopeo reads a local cache" "no test_rclocal binary (UNIT_DIR)"
	finish
fi
command -v skopeo >/dev/null || { skip "skopeo reads a local cache" "no skopeo"; finish; }

L=$T/layout
CAIRN_TEST_LAYOUT=$L "$unit" >"$T/unit.out" 2>&1
check "test_rclocal writes the layout" test -s "$L/index.json"
grep -q '^not ok' "$T/unit.out" && { fail "test_rclocal passes"; sed 's/^/#   /' "$T/unit.out" | grep -A2 '^not ok'; }

for tag in v1 v2; do
	d=$(jq -r --arg t "$tag" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$L/index.json")
	skopeo inspect --raw "oci:$L:$tag" >"$T/raw.$tag" 2>"$T/err"
	check "skopeo inspect --raw reads tag $tag" cmp "$T/raw.$tag" "$L/blobs/sha256/${d#sha256:}"
done
check "the manifest is the cache artifact" \
	test "$(jq -r .artifactType "$T/raw.v1")" = application/vnd.cairn.buildcache.v1
check "v1 names both layers" test "$(jq '.layers | length' "$T/raw.v1")" = 2

# skopeo copy reads every blob the manifest names (and checks its digest).
if skopeo copy -q "oci:$L:v1" "oci:$T/copy:v1" >"$T/out" 2>"$T/err"; then
	pass "skopeo copy reads every blob of the cache"
	check "the copy has the same manifest" cmp "$T/raw.v1" <(skopeo inspect --raw "oci:$T/copy:v1")
else
	fail "skopeo copy reads every blob of the cache"
	sed 's/^/#   /' "$T/err" | tail -5
fi

finish
