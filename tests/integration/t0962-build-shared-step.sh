#!/bin/bash
# Two builds on one store that miss the same step at the same time (as
# `cairn compose build` runs services side by side) run it once: the second
# waits for the first and takes its result from the cache; if the first
# fails or is killed, the second runs it; Ctrl-C ends a wait. Deterministic:
# the shared step holds until the test has seen the other build waiting
# (it polls a file in a cache mount, which the test creates), so nothing
# depends on timing.
. "$(dirname "$0")/lib.sh"

build_busybox || finish

# A step both Buildfiles share (same base, same text: same cache key), then
# one of each's own. "ran-$((6*7))" prints ran-42 only when the step runs
# (the instruction's own text, shown by the progress, does not contain it).
# Its first runner fails when /c/fail exists (removing it first).
shared='RUN --mount=type=cache,target=/c while [ ! -e /c/go ]; do sleep 0.1; done; '\
'if [ -e /c/fail ]; then rm /c/fail; exit 3; fi; echo "ran-$((6*7))"; '\
'echo "$(date +%s%N) $$ $RANDOM" >/shared'
for n in 1 2; do
	printf 'FROM busybox\n%s\nRUN echo %d >/which\n' "$shared" "$n" | buildfile "$T/c$n"
done

# hold DESC CMD...: wait (at most 2 minutes: a hang guard, not a timing
# assertion) until CMD succeeds.
hold() {
	local desc=$1 i; shift
	for ((i = 0; i < 1200; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	fail "$desc (not seen in 2 minutes)"
	return 1
}

cache_dir() { ls -d "$CAIRN_ROOT"/mounts/*/ 2>/dev/null | head -1; }
waiting() { grep -l -- "--> waiting: another build is running this step" "$T"/c[12].out 2>/dev/null | head -1; }
one_waits() { [ -n "$(cache_dir)" ] && [ -n "$(waiting)" ]; }

# both: start the two builds, let the step go once one of them waits.
both() {
	local prep=$1
	pids=()
	for n in 1 2; do
		"$CAIRN" build --progress plain -t "c:$n" "$T/c$n" >"$T/c$n.out" 2>"$T/c$n.err" &
		pids+=($!)
	done
	hold "one build waits for the other's step" one_waits || {
		kill "${pids[@]}" 2>/dev/null
		touch "$(cache_dir)go" 2>/dev/null
		wait
		return 1
	}
	$prep
	touch "$(cache_dir)go"
	st=()
	for n in 1 2; do
		wait "${pids[$((n - 1))]}"
		st+=($?)
	done
}

if both :; then
	check "both builds succeed" test "${st[0]}" -eq 0 -a "${st[1]}" -eq 0
	check "the shared step ran once" test "$(cat "$T"/c[12].out | grep -c '^ran-42$')" -eq 1
	w=$(waiting)
	check "the waiting build took the step from the cache" grep -q -- "--> CACHED (local)" "$w"
	check "the waiting build did not run it" test "$(grep -c '^ran-42$' "$w")" -eq 0
	a=$("$CAIRN" run --rm c:1 cat /shared) b=$("$CAIRN" run --rm c:2 cat /shared)
	check "both images hold the one result of the shared step" test -n "$a" -a "$a" = "$b"
	check "each image has its own last step" \
		test "$("$CAIRN" run --rm c:1 cat /which)$("$CAIRN" run --rm c:2 cat /which)" = 12
	check "no step lock left in the store" no_tmp_left
fi

# The first runner fails: the waiting build runs the step itself.
rm -f "$(cache_dir)go"
sed -i 's|/shared$|/shared; echo second|' "$T/c1/Buildfile" "$T/c2/Buildfile"
fail_first() { touch "$(cache_dir)fail"; }
if both fail_first; then
	check "one build fails, the other succeeds" test "$((st[0] + st[1] > 0))" = 1 -a \
		"$((st[0] == 0 || st[1] == 0))" = 1
	w=$(waiting)
	check "the build that waited ran the step after the other's failure" grep -q '^ran-42$' "$w"
	check "the step ran in the waiting build only once" test "$(grep -c '^ran-42$' "$w")" -eq 1
	check "no step lock left after a failed step" no_tmp_left
fi

# Ctrl-C while waiting ends the wait: exit 130, the other build goes on.
rm -f "$(cache_dir)go" "$(cache_dir)fail"
sed -i 's/echo second/echo third/' "$T/c1/Buildfile" "$T/c2/Buildfile"
interrupt_waiter() {
	local w n
	w=$(waiting)
	n=${w##*/c}; n=${n%.out}
	kill -INT "${pids[$((n - 1))]}"
	waiter=$n
}
if both interrupt_waiter; then
	check "Ctrl-C: the waiting build exits 130" test "${st[$((waiter - 1))]}" -eq 130
	check "Ctrl-C: the waiting build says it was interrupted" grep -q interrupted "$T/c$waiter.err"
	check "Ctrl-C: the other build succeeds" test "${st[$((2 - waiter))]}" -eq 0
	check "Ctrl-C: no step lock left" no_tmp_left
fi

# kill -9 of the build running the step: the kernel drops its lock, and
# the waiting build runs the step itself.
rm -f "$(cache_dir)go"
sed -i 's/echo third/echo fourth/' "$T/c1/Buildfile" "$T/c2/Buildfile"
kill_holder() {
	local w n
	w=$(waiting)
	n=${w##*/c}; n=${n%.out}
	waiter=$n
	kill -9 "${pids[$((2 - n))]}"
}
# (bash's "Killed" notice for the killed build goes nowhere: not a result.)
exec 3>&2 2>/dev/null
both kill_holder
killed=$?
exec 2>&3 3>&-
if [ "$killed" -eq 0 ]; then
	check "kill -9: the waiting build succeeds" test "${st[$((waiter - 1))]}" -eq 0
	check "kill -9: it ran the step itself" test "$(grep -c '^ran-42$' "$T/c$waiter.out")" -eq 1
	"$CAIRN" images >/dev/null 2>&1     # the next command sweeps what the killed one left
	check "kill -9: no step lock or temp dir left" no_tmp_left
fi

# --no-cache neither looks up nor waits: it runs the step.
touch "$(cache_dir)go"
expect_ok "--no-cache after the shared build" build --progress plain --no-cache -t c:3 "$T/c1"
check "--no-cache ran the step" grep -q '^ran-42$' "$T/out"
check "--no-cache did not wait" test -z "$(grep -- '--> waiting' "$T/out")"

check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
check "no temp dirs left" no_tmp_left
finish
