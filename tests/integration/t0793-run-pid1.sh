#!/bin/bash
# cairn run: the image's process is pid 1 of its pid namespace, as in
# docker; --init puts cairn's reaper in front of it (pid 1, the process
# pid 2). Signals, exit statuses, STOPSIGNAL, --stop-timeout, -t, run -d,
# logs and stop in both modes; zombies reaped with --init only; RUN steps
# keep the reaper.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/containers.sh"

build_busybox || finish
marker=$((600000 + RANDOM))
exited_with() { "$CAIRN" ps -a | grep -qE " Exited \\($2\\) .* $1\$"; }
# The last NSpid field of a host pid: its pid in the container's namespace.
ns_pid() { awk '/^NSpid:/ { print $NF }' "/proc/$1/status"; }

run_cairn run busybox sh -c 'echo $$'
check "the process is pid 1" test "$status" -eq 0 -a "$(cat "$T/out")" = 1
run_cairn run --init busybox sh -c 'echo $$'
check "--init: the process is pid 2" test "$status" -eq 0 -a "$(cat "$T/out")" = 2
run_cairn run --init busybox sh -c 'cat /proc/1/comm; grep PPid /proc/$$/status'
check "--init: pid 1 is cairn's reaper, the process's parent" \
	test "$(cat "$T/out" | tr '\n' ' ' | tr -s '\t' ' ')" = "cairn PPid: 1 "
run_cairn run --init=false busybox sh -c 'echo $$'
check "--init=false: pid 1 again" test "$(cat "$T/out")" = 1
printf 'init = true\n' >"$T/cairn.conf"
CAIRN_CONFIG=$T/cairn.conf run_cairn run busybox sh -c 'echo $$'
check "cairn.conf init = true makes --init the default" test "$(cat "$T/out")" = 2
CAIRN_CONFIG=$T/cairn.conf run_cairn run --init=false busybox sh -c 'echo $$'
check "...and --init=false overrides it" test "$(cat "$T/out")" = 1
printf 'init = maybe\n' >"$T/bad.conf"
CAIRN_CONFIG=$T/bad.conf expect_fail "cairn.conf init must be true or false" 125 \
	"bad.conf:1: init 'maybe' is not true or false" run busybox true
expect_fail "--init=maybe is a usage error" 125 "--init: 'maybe' is not true or false" \
	run --init=maybe busybox true

# A zombie: a process that forks a child which forks again and exits; the
# grandchild, reparented to pid 1, exits later. The same script, with cat
# (which never waits) as the process at the end: pid 1 without --init
# leaves it a zombie, as in docker; cairn's reaper as pid 1 reaps it.
zombie_script='(sleep 2 & echo $! >/tmp/z); z=$(cat /tmp/z); grep PPid /proc/$z/status >/tmp/ppid
mkfifo /tmp/f
(i=0; while [ $i -lt 200 ]; do
	s=$(sed -n "s/^State:.\(.\).*/\1/p" /proc/$z/status 2>/dev/null)
	[ "$s" = Z ] && { echo zombie $(cat /tmp/ppid) >/tmp/f; exit; }
	[ -z "$s" ] && { echo reaped $(cat /tmp/ppid) >/tmp/f; exit; }
	sleep 0.1; i=$((i+1))
done; echo undecided >/tmp/f) &
exec cat /tmp/f'
run_cairn run busybox sh -c "$zombie_script"
check "without --init an orphan's zombie stays (pid 1 is the process)" \
	test "$(tr -s '\t ' ' ' <"$T/out")" = "zombie PPid: 1"
run_cairn run --init busybox sh -c "$zombie_script"
check "--init: the orphan's zombie is reaped by pid 1" test "$(tr -s '\t ' ' ' <"$T/out")" = "reaped PPid: 1"

# Exit statuses pass through in both modes; signals from inside the
# namespace do not kill pid 1 when it has no handler (the kernel's rule).
for mode in "" --init; do
	m=${mode:-"pid 1"}
	run_cairn run $mode busybox sh -c 'exit 7'
	check "$m: the exit status is the process's" test "$status" -eq 7
	run_cairn run $mode busybox no-such-command
	check "$m: a missing command exits 127" test "$status" -eq 127
done
run_cairn run busybox sh -c 'kill -USR1 $$; echo survived'
check "pid 1 survives its own default-action signal (docker's semantics)" \
	test "$status" -eq 0 -a "$(cat "$T/out")" = survived
run_cairn run --init busybox sh -c 'kill -USR1 $$; echo survived'
check "--init: the process is no pid 1, the signal kills it: 128+10" \
	test "$status" -eq 138 -a ! -s "$T/out"

# -t: the process as pid 1 leads its session and owns the pty.
run_cairn run -t busybox sh -c 'echo $$; tty; exec 3</dev/tty && echo ctty'
check "-t as pid 1: the pty is stdin and the controlling terminal" \
	test "$(tr -d '\r' <"$T/out" | tr '\n' ' ')" = "1 /dev/pts/0 ctty "
run_cairn run -t --init busybox sh -c 'echo $$; tty; exec 3</dev/tty && echo ctty'
check "-t --init: the same for pid 2" test "$(tr -d '\r' <"$T/out" | tr '\n' ' ')" = "2 /dev/pts/0 ctty "
echo piped | "$CAIRN" run -i busybox sh -c 'echo $$; cat' >"$T/out" 2>"$T/err"
check "-i as pid 1" test "$(tr '\n' ' ' <"$T/out")" = "1 piped "
mkdir -p "$T/vol"
run_cairn run --rm -v "$T/vol:/data" busybox sh -c 'echo $$ >/data/pid'
check "--rm and -v as pid 1" test "$status" -eq 0 -a "$(cat "$T/vol/pid")" = 1

# Foreground stop: SIGTERM to cairn sends the stop signal; a pid 1 without a
# handler ignores it and is killed after --stop-timeout (137); with --init
# the process is no pid 1 and dies of it (143).
for mode in "" --init; do
	"$CAIRN" run $mode --stop-timeout 1 busybox sh -c "echo \$\$; sleep $marker" >"$T/fg.out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do pgrep -f "^sleep $marker" >/dev/null && break; sleep 0.1; done
	kill -TERM $pid
	wait $pid
	status=$?
	if [ -z "$mode" ]; then
		check "SIGTERM to cairn: pid 1 without a handler is killed after --stop-timeout (137)" \
			test "$status" -eq 137
	else
		check "--init: SIGTERM is forwarded and kills the process (143)" test "$status" -eq 143
	fi
	check "${mode:-pid 1}: nothing left" test -z "$(pgrep -f "^sleep $marker")"
done

# An image's STOPSIGNAL, in both modes, foreground and detached.
mkdir -p "$T/stop"
printf 'FROM busybox\nSTOPSIGNAL SIGUSR1\nCMD ["sh", "-c", "trap \\"echo got USR1; exit 9\\" USR1; echo ready $$; sleep %s & wait"]\n' \
	"$marker" | buildfile "$T/stop"
expect_ok "an image with STOPSIGNAL SIGUSR1" build -q -t stop:1 "$T/stop"
for mode in "" --init; do
	m=${mode:-"pid 1"}
	"$CAIRN" run $mode stop:1 >"$T/stop.out" 2>&1 &
	pid=$!
	for _ in $(seq 100); do pgrep -f "^sleep $marker" >/dev/null && break; sleep 0.1; done
	kill -TERM $pid
	wait $pid
	status=$?
	check "$m: SIGTERM to cairn sends STOPSIGNAL, the trap's status comes back" \
		test "$status" -eq 9 -a "$(grep -c 'got USR1' "$T/stop.out")" = 1
done

# run -d, logs, stop: the recorded init pid is the namespace's pid 1.
n=0
for mode in "" --init; do
	m=${mode:-"pid 1"}
	n=$((n + 1))
	want=$([ -z "$mode" ] && echo 1 || echo 2)
	run_cairn run -d $mode --name trap$n busybox sh -c "trap 'echo got TERM; exit 7' TERM; echo ready \$\$; sleep $marker & wait"
	check "$m: run -d" test "$status" -eq 0
	wait_for "$m: logs show the process's pid ($want)" logs_have trap$n "ready $want"
	init=$(state trap$n .init.pid)
	check "$m: the recorded init pid is pid 1 of the container" test "$(ns_pid "$init")" = 1
	reaper=$([ -z "$mode" ] && echo false || echo true)
	check "$m: config.json says whether pid 1 is the reaper ($reaper)" test "$(state trap$n .init.reaper)" = $reaper
	run_cairn inspect -f '{{.HostConfig.Init}} {{.State.Pid}}' trap$n
	check "$m: inspect shows HostConfig.Init and State.Pid as docker" test "$(cat "$T/out")" = "$reaper $init"
	run_cairn stop trap$n
	check "$m: stop of a shell trapping TERM" test "$status" -eq 0
	check "$m: ...exits with the trap's status 7" exited_with trap$n 7
	check "$m: ...having run the trap" logs_have trap$n "got TERM"

	run_cairn run -d $mode --name deaf$n busybox sh -c "trap '' TERM; echo ready; sleep $marker & wait"
	wait_for "$m: a container ignoring TERM started" logs_have deaf$n ready
	run_cairn stop -t 1 deaf$n
	check "$m: it is killed after the timeout (137)" exited_with deaf$n 137

	run_cairn run -d $mode --name usr$n stop:1
	wait_for "$m: an image with STOPSIGNAL, detached" logs_have usr$n ready
	run_cairn stop usr$n
	check "$m: stop sends STOPSIGNAL (9)" exited_with usr$n 9

	run_cairn run -d $mode --name again$n --restart on-failure:2 busybox sh -c 'echo pid $$; exit 3'
	wait_for "$m: --restart runs it 3 times" sh -c "'$CAIRN' logs again$n | grep -c 'pid $want' | grep -qx 3"
	wait_for "$m: ...and records the last status" exited_with again$n 3
done
check "no container process left" test -z "$(pgrep -f "^sleep $marker")"

# Killed with cairn: the process as pid 1 under another user dies with
# its supervisor too (the parent-death signal is set again after setuid).
run_cairn run -d -u 1000 --name orphan busybox sleep $marker
sup=$(state orphan .supervisor.pid)
check "a container running as uid 1000 is pid 1" test "$(ns_pid "$(state orphan .init.pid)")" = 1
kill -9 "$sup"
wait_for "...and dies with its supervisor (kill -9)" sh -c "! pgrep -f '^sleep $marker'"
"$CAIRN" run -u 1000 busybox sleep $marker >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do pgrep -f "^sleep $marker" >/dev/null && break; sleep 0.1; done
{ kill -9 $pid; wait $pid; } 2>/dev/null
wait_for "a foreground one dies with cairn run (kill -9)" sh -c "! pgrep -f '^sleep $marker'"

# RUN steps keep cairn's reaper.
mkdir -p "$T/build"
printf 'FROM busybox\nRUN echo $$ >/pid\n' | buildfile "$T/build"
expect_ok "a RUN step" build -q -t pid:1 "$T/build"
run_cairn run pid:1 cat /pid
check "a RUN step's process is pid 2, under the reaper" test "$(cat "$T/out")" = 2

kill_containers
check "no mount left" no_mounts_left
check "no temp dir left" no_tmp_left
check "store consistent" store_is_consistent
finish
