#!/bin/bash
# `cairn images` on a store with many images and tags: every tag listed
# once, newest first, each image's id, size and labels as for one image,
# -q once per id, -a with the build steps' states, untagged ones shown.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
n=12
for i in $(seq $n); do
	printf 'FROM busybox\nLABEL n=%d\nRUN echo %d > /f\n' "$i" "$i" | buildfile "$T/c$i"
	"$CAIRN" build -q -t "img$i:latest" "$T/c$i" >/dev/null 2>&1 || fail "build img$i"
done
# 240 more tags of those images.
for i in $(seq $n); do
	for j in $(seq 20); do
		"$CAIRN" tag "img$i:latest" "tag$i-$j:v" >/dev/null 2>&1 || fail "tag img$i"
	done
done
# An untagged image: lonely:1 moved to a new build.
for v in a b; do
	printf 'FROM busybox\nRUN echo %s > /f\n' "$v" | buildfile "$T/lonely-$v"
	expect_ok "build lonely:1 ($v)" build -q -t lonely:1 "$T/lonely-$v"
done

expect_ok "images" images --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}'
cp "$T/out" "$T/list"
check "one row per tag ($((n + n * 20 + 2)) tags)" \
	test "$(grep -vc '^<none>' "$T/list")" -eq $((n + n * 20 + 2))
check "the untagged image is listed" grep -q '^<none>:<none> ' "$T/list"
ids_ok() {   # every tagN-J row has imgN's id
	local i id
	for i in $(seq 2 $n); do
		id=$(awk -v r="img$i:latest" '$1 == r { print $2 }' "$T/list")
		[ -n "$id" ] || { echo "img$i missing"; return 1; }
		[ "$(grep -c "^tag$i-[0-9]*:v $id " "$T/list")" -eq 20 ] || { echo "tag$i-*: not $id"; return 1; }
	done
}
check "each tag shows its image's id" ids_ok
check "every img and tag has the same size (busybox and a small file)" \
	test "$(awk '$1 ~ /^(img|tag)/ { print $3 }' "$T/list" | sort -u | wc -l)" -eq 1
expect_ok "images -q" images -q
check "-q prints each id once ($n images, both lonely:1 and busybox)" \
	test "$(sort "$T/out" | uniq -d | wc -l)" -eq 0 -a "$(wc -l <"$T/out")" -eq $((n + 3))
expect_ok "images --filter label=n=7" images --format '{{.Repository}}:{{.Tag}}' --filter label=n=7
check "the label filter finds img7 and its 20 tags" test "$(wc -l <"$T/out")" -eq 21
expect_ok "images -a" images -a --format '{{.Repository}}:{{.Tag}} {{.ID}}'
check "-a adds the build steps' states" \
	test "$(grep -c '^<none>:<none> ' "$T/out")" -gt "$(grep -c '^<none>:<none> ' "$T/list")"
run_cairn images --format '{{.Repository}}:{{.Tag}}'
check "newest first: the rebuilt lonely:1 on top" test "$(head -1 "$T/out")" = lonely:1
finish
