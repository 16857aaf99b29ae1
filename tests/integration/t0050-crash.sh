#!/bin/bash
# kill -9 of cairn during a RUN and during a layer commit: no partial blob
# under any digest, no dangling tag, no process or mount left, and the next
# build succeeds (and sweeps the leftovers).
. "$(dirname "$0")/lib.sh"

build_busybox || finish
cp "$CAIRN_ROOT/index.json" "$T/index.before"

wait_for_process() {   # PATTERN: up to 10 s
	for _ in $(seq 100); do
		pgrep -f "$1" >/dev/null && return 0
		sleep 0.1
	done
	return 1
}
gone_within() {   # PATTERN: processes gone within 5 s
	for _ in $(seq 50); do
		pgrep -f "$1" >/dev/null || return 0
		sleep 0.1
	done
	return 1
}

marker=cairn-crash-$$-$RANDOM
mkdir -p "$T/run"
printf 'FROM busybox\nRUN echo x > /a && sleep 1000 && echo %s\n' "$marker" | buildfile "$T/run"
"$CAIRN" build -t crash:1 "$T/run" >"$T/out" 2>&1 &
pid=$!
check "the RUN step started" wait_for_process "$marker"
{ kill -9 "$pid"; wait "$pid"; } 2>/dev/null
check "kill -9 during RUN: the step's processes die with cairn" gone_within "$marker"
check "kill -9 during RUN: no mount left" no_mounts_left
check "kill -9 during RUN: no tag created" expect_no_tag crash:1
check "kill -9 during RUN: index.json untouched" cmp -s "$CAIRN_ROOT/index.json" "$T/index.before"
check "kill -9 during RUN: store consistent" store_is_consistent

# Deterministic kills at each commit point.
mkdir -p "$T/commit"
printf 'FROM busybox\nRUN head -c 3000000 /dev/urandom > /blob\n' | buildfile "$T/commit"
for point in ingest snapshot image; do
	# A subshell, so that bash's "Killed" report goes to /dev/null too.
	(CAIRN_TEST_CRASH_AT=$point "$CAIRN" build --no-cache -t commit:1 "$T/commit"; exit $?) >/dev/null 2>&1
	st=$?
	check "killed at '$point' (status 137)" test "$st" -eq 137
	check "killed at '$point': no tag" expect_no_tag commit:1
	check "killed at '$point': every blob hashes to its name" store_is_consistent
	check "killed at '$point': no mount left" no_mounts_left
done

# Random kills during a bigger commit.
printf 'FROM busybox\nRUN head -c 40000000 /dev/urandom > /big\n' | buildfile "$T/big"
for delay in 0.3 0.6 0.9 1.2 1.5; do
	"$CAIRN" build -t big:1 "$T/big" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	{ kill -9 "$pid"; wait "$pid"; } 2>/dev/null
	check "kill -9 after ${delay}s: store consistent" store_is_consistent
	check "kill -9 after ${delay}s: no mount left" no_mounts_left
	if [ -n "$(tag_digest big:1)" ]; then
		check "kill -9 after ${delay}s: a tag, if set, points at a complete image" \
			test -f "$CAIRN_ROOT/blobs/sha256/$(tag_digest big:1 | cut -d: -f2)"
	fi
done

# Ctrl-C while a layer is being committed: the build stops, nothing is tagged.
for point in ingest snapshot; do
	(CAIRN_TEST_CRASH_AT=$point:INT "$CAIRN" build --no-cache -t intr:1 "$T/commit"; exit $?) >"$T/intr.out" 2>"$T/intr.err"
	st=$?
	check "Ctrl-C at '$point': exit status 130" test "$st" -eq 130
	check "Ctrl-C at '$point': says interrupted" grep -q interrupted "$T/intr.err"
	check "Ctrl-C at '$point': no tag" expect_no_tag intr:1
	check "Ctrl-C at '$point': store consistent" store_is_consistent
	check "Ctrl-C at '$point': no temp dir left" no_tmp_left
done

expect_ok "the next build succeeds" build -t commit:1 "$T/commit"
check "it tagged the image" test -n "$(tag_digest commit:1)"
check "leftover temp files were swept" no_tmp_left
check "store consistent at the end" store_is_consistent
finish
