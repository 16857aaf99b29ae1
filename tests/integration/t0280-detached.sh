#!/bin/bash
# Detached containers: cairn run -d, ps, logs, stop, rm; stop signals, name
# conflicts, --rm, a supervisor killed with -9, prune, and nothing left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/containers.sh"

build_busybox || finish
marker=$((700000 + RANDOM))
ps_line() { "$CAIRN" ps "${@:2}" | grep " $1\$"; }

# Two containers started from a script: run -d returns with the id.
run_cairn run -d --name one busybox sh -c "echo one says hi; echo one err >&2; exec sleep $marker"
id_one=$(cat "$T/out")
check "run -d prints a 64-hex id and exits 0" test "$status" -eq 0 -a ${#id_one} -eq 64
check "...the id is hex" grep -qE '^[0-9a-f]{64}$' "$T/out"
run_cairn run -d --name two busybox sh -c "i=0; while :; do echo two tick \$i; i=\$((i+1)); sleep $marker; done"
id_two=$(cat "$T/out")
check "a second one" test "$status" -eq 0 -a ${#id_two} -eq 64
run_cairn ps
check "ps shows both as Up" sh -c "grep -E '^${id_one:0:12} +busybox +\"sh -c echo one says…\" +.* Up .* one\$' '$T/out' && grep -q ' Up .* two\$' '$T/out'"
check "ps has docker's columns" grep -qE '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$' "$T/out"
run_cairn ps -q
check "ps -q lists short ids" test "$(sort "$T/out")" = "$(printf '%s\n%s\n' "${id_one:0:12}" "${id_two:0:12}" | sort)"
wait_for "logs shows the container's stdout" logs_have one "one says hi"
check "...and stderr" logs_have one "one err"
wait_for "logs by id prefix" logs_have "${id_two:0:7}" "two tick 0"
check "the container runs under its supervisor" test -d "/proc/$(state one .init.pid)" -a -d "/proc/$(state one .supervisor.pid)"
expect_fail "a name in use is refused, naming it" 125 'container name "one" is already in use' \
	run -d --name one busybox true
expect_fail "an unknown container" 1 "no such container: nope" logs nope
expect_fail "rm of a running container is refused" 1 "container one is running" rm one
check "...and it still runs" ps_line one

# logs -f follows until the container exits.
run_cairn run -d --name follow busybox sh -c 'echo first; sleep 1; echo second'
timeout 30 "$CAIRN" logs -f follow >"$T/follow.out" 2>&1
check "logs -f returns when the container exits" test $? -eq 0
check "...having printed everything" test "$(cat "$T/follow.out")" = "$(printf 'first\nsecond')"
run_cairn ps -a
check "ps -a shows the exit status" grep -qE ' Exited \(0\) .* ago +follow$' "$T/out"
run_cairn ps
check "ps without -a does not" test -z "$(grep ' follow$' "$T/out")"
run_cairn run -d --name seven busybox sh -c 'exit 7'
wait_for "a container's exit code is recorded" sh -c "'$CAIRN' ps -a | grep -qE ' Exited \\(7\\) .* seven\$'"

# stop: the image's STOPSIGNAL; the process traps it and exits 0.
mkdir -p "$T/stop"
printf 'FROM busybox\nSTOPSIGNAL SIGUSR1\nCMD ["sh", "-c", "trap \\"echo got USR1; exit 0\\" USR1; trap \\"\\" TERM INT; echo ready; sleep %s & wait"]\n' "$marker" | buildfile "$T/stop"
expect_ok "an image with STOPSIGNAL SIGUSR1" build -q -t stop:1 "$T/stop"
run_cairn run -d --name usr1 stop:1
wait_for "it started" logs_have usr1 ready
run_cairn stop usr1
check "stop prints the name and exits 0" test "$status" -eq 0 -a "$(cat "$T/out")" = usr1
check "stop returns once it exited" ps_line usr1 -a
check "...with the status the process chose" sh -c "'$CAIRN' ps -a | grep -qE ' Exited \\(0\\) .* usr1\$'"
check "logs shows what the trap printed" logs_have usr1 "got USR1"

# A process that ignores the stop signal is killed after -t seconds.
run_cairn run -d --name stubborn busybox sh -c "trap '' TERM INT; echo ready; sleep $marker & wait"
wait_for "a container ignoring SIGTERM started" logs_have stubborn ready
run_cairn stop -t 1 stubborn
check "stop -t 1 returns" test "$status" -eq 0
check "...and it was SIGKILLed (137)" sh -c "'$CAIRN' ps -a | grep -qE ' Exited \\(137\\) .* stubborn\$'"

# stop of two at once, then rm.
run_cairn stop -t 5 one two
check "stop of two containers" test "$status" -eq 0 -a "$(cat "$T/out")" = "$(printf 'one\ntwo')"
check "no container process left" test -z "$(pgrep -f "^sleep $marker")"
expect_ok "rm of exited containers" rm one two follow seven usr1 stubborn
check "rm removes their state" test -z "$("$CAIRN" ps -a -q)" -a ! -e "$CAIRN_ROOT/containers/$id_one"

# rm -f of a running one; --rm removes itself; a cgroup is removed.
run_cairn run -d --name forced --memory 64m busybox sleep $marker
id_forced=$(cat "$T/out")
check "a container with --memory has a cgroup" test -n "$(find /sys/fs/cgroup -maxdepth 8 -type d -name "ctr-${id_forced:0:12}" 2>/dev/null)"
expect_ok "rm -f of a running container" rm -f forced
check "...it is gone" test -z "$(pgrep -f "^sleep $marker")" -a ! -e "$CAIRN_ROOT/containers/$id_forced"
check "...and so is its cgroup" test -z "$(find /sys/fs/cgroup -maxdepth 8 -type d -name "ctr-${id_forced:0:12}" 2>/dev/null)"
run_cairn run -d --rm --name gone busybox sh -c 'echo bye'
id_gone=$(cat "$T/out")
wait_for "--rm: the state goes when the container exits" test ! -e "$CAIRN_ROOT/containers/$id_gone"
run_cairn run -d --rm --name gone2 busybox sleep $marker
expect_ok "--rm: stop" stop -t 1 gone2
check "...leaves nothing" test -z "$("$CAIRN" ps -a -q)"

# A supervisor killed with -9: the kernel kills the container with it;
# ps shows it exited, rm removes it, the next command sweeps its temp dir.
run_cairn run -d --name orphan busybox sleep $marker
sup=$(state orphan .supervisor.pid)
init=$(state orphan .init.pid)
kill -9 "$sup"
wait_for "the container dies with its supervisor" sh -c "! pgrep -f '^sleep $marker'"
run_cairn ps
check "ps does not list it as running" test -z "$(grep ' orphan$' "$T/out")"
run_cairn ps -a
check "ps -a shows it exited" grep -qE ' Exited \(unknown: supervisor gone\) +orphan$' "$T/out"
expect_ok "stop of a stale container" stop orphan
expect_ok "rm of a stale container (no -f)" rm orphan
check "its state is gone" test -z "$("$CAIRN" ps -a -q)"
dead() { [ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status"; }
check "its sandbox is gone" dead "$init"

# An exec failure is an error of run -d, and leaves no container.
expect_fail "run -d of a missing command exits 127" 127 "exec no-such-command" run -d busybox no-such-command
check "...and leaves no container" test -z "$("$CAIRN" ps -a -q)"
expect_fail "-d with -i is refused" 125 "attaching" run -d -i busybox true

# prune keeps the image of a running container even when untagged.
mkdir -p "$T/keep"
printf 'FROM busybox\nRUN echo kept > /kept\n' | buildfile "$T/keep"
expect_ok "an image to prune" build -q -t keep:1 "$T/keep"
diff_id=$(image_config keep:1 | jq -r '.rootfs.diff_ids[-1]')
run_cairn run -d --name keeper keep:1 sh -c "cat /kept; sleep $marker"
expect_ok "rmi its tag" rmi keep:1
expect_ok "prune while it runs" prune --all
check "its layer's snapshot is kept" test -d "$CAIRN_ROOT/snapshots/${diff_id#sha256:}"
wait_for "it still reads its files" logs_have keeper kept
expect_ok "stop it" stop -t 1 keeper
expect_ok "prune after it exited" prune --all
check "now the snapshot goes" test ! -d "$CAIRN_ROOT/snapshots/${diff_id#sha256:}"
expect_ok "rm" rm keeper

# Nothing left: processes, supervisors, mounts, temp dirs, cgroups.
check "no process left" test -z "$(pgrep -f "^sleep $marker")"
check "no supervisor left" test -z "$(pgrep -f "^$CAIRN run -d")"
check "no mount left" no_mounts_left
check "no temp dir left" no_tmp_left
check "no container state left" test -z "$(ls "$CAIRN_ROOT/containers" | grep -v '^lock$')"
check "store consistent" store_is_consistent
finish
