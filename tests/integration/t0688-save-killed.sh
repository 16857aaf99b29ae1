#!/bin/bash
# A killed `save -o DIR/NAME` leaves its partial file next to the target
# (issue 14, finding 8): the next save to that directory removes it, and
# never the partial file of a save still running.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/ctx" "$T/dest"
head -c 150000000 /dev/urandom >"$T/ctx/random"
printf 'FROM scratch\nCOPY random /random\n' >"$T/ctx/Buildfile"
expect_ok "build an image with 150 MB of random data" build -q -t rnd:1 "$T/ctx"
echo keep >"$T/dest/.notes.tmp-abcdef"     # someone else's file: not ours to remove

leftover() { ls -A "$T/dest" | grep -c 'cairn-tmp' ; }
# Wait (up to 5 s) until a save has its partial file.
wait_partial() {
	for _ in $(seq 1 500); do
		[ "$(leftover)" -gt 0 ] && return
		sleep 0.01
	done
}
killed=0
for i in 1 2 3; do
	"$CAIRN" save -o "$T/dest/img.tar" rnd:1 &
	pid=$!
	wait_partial
	kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
	wait "$pid" 2>/dev/null
	[ "$(leftover)" -gt 0 ] && break
done
echo "# killed $killed save(s); partial files: $(ls -A "$T/dest" | tr '\n' ' ')"
check "a killed save leaves a recognizable partial file" test "$(leftover)" -gt 0
if [ "$(leftover)" -gt 0 ]; then
	expect_ok "a second save to the same directory" save -o "$T/dest/other.tar" rnd:1
	check "the killed save's partial file is gone" test "$(leftover)" -eq 0
	check "the second save's output is complete" tar -tf "$T/dest/other.tar"
fi
check "a file that is not cairn's stays" test -f "$T/dest/.notes.tmp-abcdef"

# A save in progress keeps its partial file through another save's sweep.
"$CAIRN" save -o "$T/dest/slow.tar" rnd:1 &
pid=$!
wait_partial
expect_ok "another save while one is running" save -o "$T/dest/quick.tar" rnd:1
wait "$pid"
check "the running save was not disturbed (exit 0, complete output)" tar -tf "$T/dest/slow.tar"
check "no partial files left" test "$(leftover)" -eq 0
finish
