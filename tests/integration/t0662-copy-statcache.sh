#!/bin/bash
# COPY of a tricky context through the stat cache (a sorted file read a
# block at a time): the layer is the same whether every file is hashed
# (no cache, a damaged cache) or taken from the cache, and a rebuild whose
# files all hit does not rewrite the cache. The tree has nested
# directories, symlinks, hard links, an ignored subtree with a re-included
# file, and names whose byte order is not their walk order ("a-b" < "a/b"
# bytewise; the walk visits "a/..." first).
. "$(dirname "$0")/lib.sh"

epoch=1700000000
ctx=$T/tricky
mkdir -p "$ctx/a/b/c/d" "$ctx/a-b" "$ctx/a.b" "$ctx/ignored/deep/er" "$ctx/sp ace" "$ctx/é"
for d in a a/b a/b/c a/b/c/d a-b a.b "sp ace" é; do
	for n in 0 1 "a-" "a.x" "a~" "Z" "z" "~"; do
		echo "$d/$n" >"$ctx/$d/$n"
	done
done
echo a >"$ctx/a0"
echo A >"$ctx/A"
echo hidden >"$ctx/ignored/deep/er/secret"
echo kept >"$ctx/ignored/deep/keep.txt"
ln -s a/b/c "$ctx/link-dir"
ln -s missing "$ctx/dangling"
ln "$ctx/a/b/0" "$ctx/a-b/hard"
ln "$ctx/a/b/0" "$ctx/hard-top"
printf 'ignored\n!ignored/deep/keep.txt\n' >"$ctx/.dockerignore"
buildfile "$ctx" <<'EOF2'
FROM scratch
COPY . /ctx
EOF2
# The stat cache records files whose times are over 2 s old only.
sleep 2.2

layer_of() {   # TAG -> the diff ids of its layers
	image_config "$1" | jq -r '.rootfs.diff_ids | join(",")'
}
build() {      # TAG [ARGS]: a reproducible build of the context
	local tag=$1; shift
	SOURCE_DATE_EPOCH=$epoch "$CAIRN" build -q "$@" -t "$tag" "$ctx" >"$T/out" 2>"$T/err" ||
		sed 's/^/#   /' "$T/err"
}

build cold:1
check "cold build" test -n "$(tag_digest cold:1)"
cold=$(layer_of cold:1)
stat_ino() { stat -c %i "$CAIRN_ROOT/cache/stat"; }
check "the stat cache file is written" test -s "$CAIRN_ROOT/cache/stat"
ino=$(stat_ino)
build warm:1 --no-cache
check "a build from the stat cache gives the same layer" test "$(layer_of warm:1)" = "$cold"
check "…and does not rewrite the cache (every file hit)" test "$(stat_ino)" = "$ino"
build cached:1
check "a cached rebuild gives the same image" test "$(tag_digest cached:1)" = "$(tag_digest warm:1)"

# A damaged cache is no cache: every file is hashed again, same layer.
size=$(stat -c %s "$CAIRN_ROOT/cache/stat")
printf 'X' | dd of="$CAIRN_ROOT/cache/stat" bs=1 seek=$((size / 2)) conv=notrunc status=none
build damaged:1 --no-cache
check "a damaged stat cache gives the same layer" test "$(layer_of damaged:1)" = "$cold"
check "…and is replaced" test "$(stat_ino)" != "$ino"

# A file changed since: hashed again, the layer changes with it.
echo changed >"$ctx/a/b/c/d/z"
build changed:1 --no-cache
check "a changed file changes the layer" test "$(layer_of changed:1)" != "$cold"
rm -f "$CAIRN_ROOT/cache/stat"
build nocache:1 --no-cache
check "…the same as without a stat cache" test "$(layer_of nocache:1)" = "$(layer_of changed:1)"

finish
