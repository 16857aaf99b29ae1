#!/bin/bash
# Several builds on one store at the same time: all succeed, each tag
# points at its own complete image, and nothing is left behind.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
for n in 1 2 3; do
	mkdir -p "$T/c$n"
	printf 'FROM busybox\nRUN for i in $(seq %d); do echo $i > /f$i; done\nRUN echo %d > /which\n' \
		$((n * 700)) "$n" | buildfile "$T/c$n"
done
pids=()
for n in 1 2 3; do
	"$CAIRN" build -q -t "c:$n" "$T/c$n" >"$T/c$n.out" 2>&1 &
	pids+=($!)
done
for n in 1 2 3; do
	wait "${pids[$((n - 1))]}"
	check "concurrent build $n succeeds" test $? -eq 0
done
for n in 1 2 3; do
	check "tag c:$n is the image its build printed" test "$(image_id "c:$n")" = "$(tail -1 "$T/c$n.out")"
	unpack_with_umoci "c:$n" "$T/u$n"
	check "image c:$n has its own content" test "$(cat "$T/u$n/rootfs/which")" = "$n" -a -f "$T/u$n/rootfs/f$((n * 700))"
done
check "store consistent" store_is_consistent
check "no temp dirs left" no_tmp_left
check "no mounts left" no_mounts_left
finish
