#!/bin/bash
# cairn re-imports its own images (issue 14, finding 5): a layer of 600 MiB
# of zeros (a few KB compressed) goes through save/load and push/pull. A
# layer is refused only past --max-layer-size (or CAIRN_MAX_LAYER_SIZE) or
# the store's free space, and the error names the flag; nothing stays.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_registry; cleanup_test_dir' EXIT

mkdir -p "$T/ctx"
truncate -s 600M "$T/ctx/zeros"
printf 'FROM scratch\nCOPY zeros /zeros\n' >"$T/ctx/Buildfile"
expect_ok "build an image with a 600 MiB layer of zeros" build -q -t big:1 "$T/ctx"
digest=$(tag_digest big:1)
layer=$(jq -r '.layers[0].digest' "$CAIRN_ROOT/blobs/sha256/${digest#sha256:}")
echo "# layer blob: $(stat -c %s "$CAIRN_ROOT/blobs/sha256/${layer#sha256:}") bytes"
expect_ok "save it" save -o "$T/big.tar" big:1

S2=$T/store2
CAIRN_ROOT=$S2 run_cairn load -i "$T/big.tar"
check "cairn loads its own 600 MiB layer back (status $status: $(cat "$T/err"))" test "$status" -eq 0
check "the loaded image has the same digest" test "$(CAIRN_ROOT=$S2 tag_digest big:1)" = "$digest"

# A smaller cap, by flag or environment: refused, naming the flag.
S3=$T/store3
CAIRN_ROOT=$S3 expect_fail "load --max-layer-size 100m refuses the layer, naming the flag" 1 \
	"--max-layer-size" load --max-layer-size 100m -i "$T/big.tar"
check "the refusal names the archive entry" grep -qF "entry \"blobs/sha256/${layer#sha256:}\"" "$T/err"
check "nothing is tagged" eval "! grep -qs big:1 $S3/index.json"
check "no temp entries left" test -z "$(ls -A "$S3/tmp" 2>/dev/null)"
CAIRN_ROOT=$S3 CAIRN_MAX_LAYER_SIZE=100m expect_fail "CAIRN_MAX_LAYER_SIZE=100m refuses it too" 1 \
	"--max-layer-size" load -i "$T/big.tar"
CAIRN_ROOT=$S3 expect_fail "a bad size is a usage error" 2 "not a size" load --max-layer-size 12q -i "$T/big.tar"

# A store with less free space than the layer needs: refused, naming why.
mkdir -p "$T/small"
if mount -t tmpfs -o size=200m tmpfs "$T/small" 2>/dev/null; then
	CAIRN_ROOT=$T/small/store expect_fail "a store without room for the layer refuses it, naming --max-layer-size" 1 \
		"--max-layer-size" load -i "$T/big.tar"
	check "the refusal says the free space is the limit" grep -qF "free space" "$T/err"
	check "no temp entries left on the small store" test -z "$(ls -A "$T/small/store/tmp" 2>/dev/null)"
	umount "$T/small"
else
	skip "a store without room for the layer" "cannot mount a tmpfs"
fi

# Push and pull back through a registry.
start_registry none || { fail "start the registry"; finish; }
expect_ok "push the image with the 600 MiB layer" push -q --cert-dir "$REG_CERTS" big:1 "$REG/team/big:1"
CAIRN_ROOT=$T/store4 run_cairn pull -q --cert-dir "$REG_CERTS" "$REG/team/big:1"
check "pull of the 600 MiB layer works (status $status: $(cat "$T/err"))" test "$status" -eq 0
check "the pulled image has the same digest" test "$(cat "$T/out")" = "$digest"
CAIRN_ROOT=$T/store5 expect_fail "pull --max-layer-size=100m refuses it, naming the flag" 1 \
	"--max-layer-size" pull -q --max-layer-size=100m --cert-dir "$REG_CERTS" "$REG/team/big:1"
check "nothing is tagged after the refused pull" eval "! grep -qs team/big $T/store5/index.json"
stop_registry
finish
