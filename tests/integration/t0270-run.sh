#!/bin/bash
# cairn run: the image's command and config, docker's flags, the escape
# checklist inside a container, stop signals, and nothing left afterwards.
. "$(dirname "$0")/lib.sh"

build_busybox || finish

run_cairn run busybox sh -c 'exit 7'
check "the process's exit status is cairn's" test "$status" -eq 7
run_cairn run busybox sh -c 'echo out; echo err >&2'
check "stdout and stderr come through" test "$(cat "$T/out")" = out -a "$(cat "$T/err")" = err
run_cairn run busybox no-such-command
check "a command not found exits 127" test "$status" -eq 127
check "...and says so" grep -q "exec no-such-command: not found" "$T/err"
expect_fail "an unknown image" 125 "image 'nope:1' not found" run nope:1 true

# The image's config: Entrypoint + Cmd, Env, WorkingDir, User.
mkdir -p "$T/cfg"
buildfile "$T/cfg" <<'EOF2'
FROM busybox
RUN echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1234:' >> /etc/group
ENV GREETING=hello WHO=world
WORKDIR /srv
USER app
ENTRYPOINT ["sh", "-c", "echo \"$GREETING $WHO $(id -u) $(pwd) $0 $*\"", "arg0"]
CMD ["default"]
EOF2
expect_ok "an image with a config" build -q -t cfg:1 "$T/cfg"
run_cairn run cfg:1
check "Entrypoint + Cmd, Env, User, WorkingDir" test "$(cat "$T/out")" = "hello world 1234 /srv arg0 default"
run_cairn run cfg:1 given args
check "arguments replace Cmd" test "$(cat "$T/out")" = "hello world 1234 /srv arg0 given args"
printf 'WHO=file\n# comment\n\nEXTRA=1\n' >"$T/envfile"
run_cairn run -e GREETING=hi --env-file "$T/envfile" -u 0 -w /tmp/new/dir cfg:1
check "-e, --env-file, -u, -w override the image" test "$(cat "$T/out")" = "hi file 0 /tmp/new/dir arg0 default"
printf 'GREETING=from-file\n' >"$T/envfile2"
run_cairn run -e GREETING=from-e --env-file "$T/envfile2" -u 0 -w /srv cfg:1
check "-e wins over --env-file, even given before it (docker)" \
	test "$(cat "$T/out")" = "from-e world 0 /srv arg0 default"
FROM_HOST=yes run_cairn run -e FROM_HOST busybox sh -c 'echo $FROM_HOST'
check "-e NAME takes cairn's value" test "$(cat "$T/out")" = yes
run_cairn run -u 1500:1600 busybox id
check "-u UID:GID" grep -q "uid=1500 gid=1600" "$T/out"

# Changes are discarded; -v binds the host's files; --read-only.
run_cairn run busybox sh -c 'echo x > /created'
run_cairn run busybox test -e /created
check "changes are discarded when the container ends" test "$status" -eq 1
mkdir -p "$T/vol"
echo hostdata >"$T/vol/in"
run_cairn run -v "$T/vol:/data" busybox sh -c 'cat /data/in && echo fromc > /data/out'
check "-v SRC:DST: host files in, container files out" \
	test "$(cat "$T/out")" = hostdata -a "$(cat "$T/vol/out")" = fromc
run_cairn run -v "$T/vol:/data:ro" busybox sh -c 'echo x > /data/out2'
check "-v ...:ro is read-only" test "$status" -ne 0 -a ! -e "$T/vol/out2"
run_cairn run -v "$T/vol/in:/etc/infile:ro" busybox cat /etc/infile
check "-v binds a single file" test "$(cat "$T/out")" = hostdata
expect_fail "-v with a relative source" 125 "not a valid volume name" run -v ./vol:/data busybox true
run_cairn run --read-only busybox sh -c 'touch /x'
check "--read-only: the root refuses writes" grep -q "Read-only file system" "$T/err"
run_cairn run --read-only busybox sh -c 'echo x > /dev/shm/x && cat /dev/shm/x'
check "--read-only: /dev/shm stays writable (as docker)" test "$(cat "$T/out")" = x

# stdin with -i only; a terminal with -t.
run_cairn run busybox cat </etc/hostname
check "without -i stdin is empty" test ! -s "$T/out"
echo piped | "$CAIRN" run -i busybox sh -c 'cat; echo done' >"$T/out" 2>"$T/err"
check "-i passes stdin through, then EOF" test "$(cat "$T/out" | tr '\n' ' ')" = "piped done "
run_cairn run -t busybox sh -c 'test -t 0 && test -t 1 && tty'
check "-t: stdin and stdout are the sandbox's own pty" grep -q '^/dev/pts/0' "$T/out"
run_cairn run busybox sh -c 'test -t 1'
check "without -t no terminal" test "$status" -eq 1
if command -v script >/dev/null; then
	# A real terminal of 33x77 on the outside; the container's pty follows it.
	script -qec "stty rows 33 cols 77; $CAIRN run -it busybox stty size" /dev/null </dev/null >"$T/tty.out" 2>&1
	check "-it: the pty takes the terminal's size" grep -q "33 77" "$T/tty.out"
fi

# Escape checklist, inside a container: the process as pid 1 (docker's
# way), and under cairn's reaper (--init), where pid 1 is cairn's code
# (which keeps no fd of cairn's open).
for mode in "" --init; do
run_cairn run $mode --network none --hostname box busybox sh -c '
	set -e
	test "$(cat /proc/1/status | grep -c "^PPid:.0$")" = 1
	test "$(ls -d /proc/[0-9]* | wc -l)" -le 6
	test "$(hostname)" = box
	grep -q "^CapBnd:.00000000a80425fb$" /proc/self/status
	grep -q "^NoNewPrivs:.1$" /proc/self/status
	grep -q "^Seccomp:.2$" /proc/self/status
	! mount -t tmpfs none /mnt 2>/dev/null
	! sh -c "echo x > /proc/sys/kernel/domainname" 2>/dev/null
	test "$(cat /proc/kcore | wc -c)" = 0
	! touch /sys/x 2>/dev/null
	test "$(ls /sys/class/net)" = lo
	grep -q "^0::/$" /proc/self/cgroup
	for n in null zero full random urandom tty; do test -c /dev/$n; done
	test -c /dev/pts/ptmx && test -L /dev/ptmx
	[ $$ = 1 ] || { set -- /proc/1/fd/*; test "$*" = "/proc/1/fd/0 /proc/1/fd/1 /proc/1/fd/2"; }
	echo all-checks-passed'
check "escape checklist inside cairn run ${mode:-(the process as pid 1)}" grep -q all-checks-passed "$T/out"
[ "$status" -eq 0 ] || sed 's/^/#   /' "$T/err"
done
run_cairn run --network private busybox ls /sys/class/net
check "--network private: loopback only" test "$(cat "$T/out")" = lo

# Ctrl-C: the signal reaches the process; nothing is left.
marker=$((800000 + RANDOM))
"$CAIRN" run --memory 256m busybox sh -c "trap 'echo got INT; exit 5' INT; sleep $marker & wait" >"$T/int.out" 2>"$T/int.err" &
pid=$!
for _ in $(seq 100); do pgrep -f "^sleep $marker" >/dev/null && break; sleep 0.1; done
kill -INT $pid
wait $pid
status=$?
check "SIGINT to cairn reaches the process" grep -q "got INT" "$T/int.out"
check "...and cairn exits with the process's status" test "$status" -eq 5
check "no process left" test -z "$(pgrep -f "^sleep $marker")"
check "no mount left" no_mounts_left
check "no temp dir left" no_tmp_left
check "no cgroup left" test -z "$(find /sys/fs/cgroup -maxdepth 8 -type d -name "run-$pid-*" 2>/dev/null)"

# StopSignal and --stop-timeout: SIGTERM to cairn sends the image's stop signal.
mkdir -p "$T/stop"
printf 'FROM busybox\nSTOPSIGNAL SIGUSR1\nCMD ["sh", "-c", "trap \\"echo got USR1; exit 9\\" USR1; trap \\"\\" TERM INT; sleep %s & wait; sleep %s & wait"]\n' "$marker" "$marker" | buildfile "$T/stop"
expect_ok "an image with STOPSIGNAL" build -q -t stop:1 "$T/stop"
"$CAIRN" run stop:1 >"$T/stop.out" 2>&1 &
pid=$!
for _ in $(seq 100); do pgrep -f "^sleep $marker" >/dev/null && break; sleep 0.1; done
kill -TERM $pid
wait $pid
status=$?
check "STOPSIGNAL is sent on SIGTERM" grep -q "got USR1" "$T/stop.out"
check "...and the status is the process's" test "$status" -eq 9
"$CAIRN" run --stop-timeout 1 busybox sh -c "trap '' TERM INT; sleep $marker" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do pgrep -f "^sleep $marker" >/dev/null && break; sleep 0.1; done
kill -TERM $pid
wait $pid
status=$?
check "a process ignoring the stop signal is killed after --stop-timeout (137)" test "$status" -eq 137
check "no process left after the timeout" test -z "$(pgrep -f "^sleep $marker")"
check "no mount left" no_mounts_left
check "no temp dir left" no_tmp_left
check "store consistent" store_is_consistent
finish
