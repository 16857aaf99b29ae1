#!/bin/bash
# cairn exec (issue 12): a command in a running detached container sees its
# files, hostname and processes (ps lists the container's only), gets the
# command's exit status (127 not found, 126 not executable), -e, -u, -w,
# -i and -t work, and it can do no more than the container's own process
# (same bounding set, seccomp filter, no_new_privs, cgroup, user namespace).
# Without --init ps shows the image's process as pid 1; with --init it is
# cairn's reaper's child, and exec gets the process's capabilities, not the
# reaper's. A stopped container is refused; rootless exec works, joining
# through pid 1 or, under --init, through the reaper's child.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/containers.sh"
. "$(dirname "$0")/rootless.sh"

U=cnex$$
# The user's containers go first, while the user still exists.
rootless_extra_cleanup() { kill_containers; }
exec_cleanup() {
	if id -u "$U" >/dev/null 2>&1; then
		as "$U" "$T/cairn" rm -f rl rli >/dev/null 2>&1
	fi
	rootless_cleanup
}
trap exec_cleanup EXIT

build_busybox || finish
marker=$((800000 + RANDOM))
# The host pid of the container's process running `sleep MARKER`: pid 1
# itself, or with --init the child of cairn's reaper.
proc_of() {
	local init
	init=$(state "$1" .init.pid)
	if [ "$(cat "/proc/$init/comm" 2>/dev/null)" = sleep ]; then
		echo "$init"
	else
		pgrep -P "$init" -f "sleep $2" | head -1
	fi
}

buildfile "$T/app" <<'EOF'
FROM busybox
RUN echo from-the-image >/marker && mkdir -p /srv/data /home/app && \
    echo 'app:x:1000:1000::/home/app:/bin/sh' >>/etc/passwd
ENV GREETING=hello
WORKDIR /srv
EOF
expect_ok "build the app image" build -q -t app "$T/app"

run_cairn run -d --name box --hostname boxhost -e FROMRUN=yes app sleep "$marker"
check "run -d" test "$status" -eq 0
expect_ok "exec cat a file of the image" exec box cat /marker
check "...sees the container's files" test "$(cat "$T/out")" = from-the-image
"$CAIRN" exec box sh -c 'echo written-inside >/srv/data/new' >/dev/null 2>&1
expect_ok "exec sees what another exec wrote" exec box cat /srv/data/new
check "...the container's own root" test "$(cat "$T/out")" = written-inside
check "...not the host's" test ! -e /srv/data/new
expect_ok "exec hostname" exec box hostname
check "...is the container's" test "$(cat "$T/out")" = boxhost
expect_ok "exec ps" exec box ps -o pid,args
check "ps lists the container's sleep" grep -q "sleep $marker" "$T/out"
check "...and its own ps" grep -q "ps -o pid,args" "$T/out"
n=$(tail -n +2 "$T/out" | wc -l)
check "...and nothing else: 2 processes (sleep, ps)" test "$n" -eq 2
check "...no host process (this test's shell)" sh -c "! grep -q t0794 '$T/out'"
check "...pid 1 is the image's process (no --init)" \
	test "$(awk '$1 == 1 { $1 = ""; print substr($0, 2) }' "$T/out")" = "sleep $marker"
check "...recorded as no reaper" test "$(state box .init.reaper)" = false
run_cairn exec box sh -c 'exit 5'
check "exit status 5 from sh -c 'exit 5'" test "$status" -eq 5
expect_fail "a missing command: 127" 127 "not found" exec box nosuchcommand
expect_fail "a command that cannot be run: 126" 126 "Permission denied" exec box /marker
expect_fail "an unknown -u user: 126" 126 "unknown user" exec -u nosuchuser box true
run_cairn exec box sh -c 'kill -TERM $$'
check "killed by a signal: 128+N" test "$status" -eq 143

# ---- environment, user, working directory ----
expect_ok "exec env" exec box env
check "the image's env" grep -qx GREETING=hello "$T/out"
check "...and run's -e" grep -qx FROMRUN=yes "$T/out"
expect_ok "exec -e" exec -e GREETING=bye -e NEW=1 box sh -c 'echo $GREETING $NEW $FROMRUN'
check "...-e sets and overrides" test "$(cat "$T/out")" = "bye 1 yes"
export CAIRN_EXEC_FROM_HOST=passed
expect_ok "exec -e KEY takes cairn's value" exec -e CAIRN_EXEC_FROM_HOST box sh -c 'echo $CAIRN_EXEC_FROM_HOST'
check "...passed" test "$(cat "$T/out")" = passed
printf 'FROMFILE=f1\n# comment\n' >"$T/envfile"
expect_ok "exec --env-file" exec --env-file "$T/envfile" box sh -c 'echo $FROMFILE'
check "...read" test "$(cat "$T/out")" = f1
expect_ok "exec -e A --env-file F (F sets A too)" exec -e FROMFILE=from-e --env-file "$T/envfile" box \
	sh -c 'echo $FROMFILE'
check "...-e wins, even given before it (docker)" test "$(cat "$T/out")" = from-e
expect_ok "exec pwd" exec box pwd
check "the workdir defaults to the container's" test "$(cat "$T/out")" = /srv
expect_ok "exec -w" exec -w /srv/data box pwd
check "...-w sets it" test "$(cat "$T/out")" = /srv/data
expect_fail "-w must be absolute" 125 "absolute" exec -w rel box pwd
# docker exec does not create a missing working directory (runc: "chdir to
# cwd ... no such file or directory", 126): a root exec creating one where
# the container's symlinks say would write where the container chooses.
expect_fail "-w to a missing directory fails as docker's (126)" 126 "chdir to cwd /srv/made/y" \
	exec -w /srv/made/y box true
expect_ok "...and creates nothing" exec box sh -c 'test ! -e /srv/made && echo absent'
check "...(/srv/made is absent)" test "$(cat "$T/out")" = absent

# No process with the host's root may ever be in the container's pid
# namespace: the container could reach the host through /proc/N/root
# while exec sets up. strace delays every write (the middle process's
# pid, cairn exec's "go") to hold exec in its setup meanwhile.
if command -v strace >/dev/null && command -v pgrep >/dev/null; then
	init=$(state box .init.pid)
	croot=$(stat -L -c %d:%i "/proc/$init/root")
	# (An ASan build's LeakSanitizer cannot run under ptrace.)
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -qq -o /dev/null -e trace=write -e inject=write:delay_enter=500000 \
		"$CAIRN" exec box true >/dev/null 2>&1 &
	sp=$!
	seen="" hostroot=""
	while kill -0 "$sp" 2>/dev/null; do
		for p in $(pgrep --ns "$init" --nslist pid .); do
			[ "$p" = "$init" ] && continue
			r=$(stat -L -c %d:%i "/proc/$p/root" 2>/dev/null) || continue
			seen=1
			case "$r $hostroot " in
			"$croot "*|*" $p("*) ;;
			*) hostroot="$hostroot $p($(cat "/proc/$p/comm" 2>/dev/null))" ;;
			esac
		done
	done
	wait "$sp"
	check "exec under strace (writes delayed) ran" test "$?" -eq 0
	check "...its process was seen in the container's pid namespace during setup" test -n "$seen"
	check "...never with the host's root:${hostroot:- none}" test -z "$hostroot"
else
	skip "no host root in the container during exec setup" "strace or pgrep is missing"
fi
expect_ok "exec id" exec box id -u
check "the user defaults to the container's (root)" test "$(cat "$T/out")" = 0
expect_ok "exec -u 1000" exec -u 1000 box sh -c 'id -u; echo $HOME'
check "...runs as uid 1000 with its passwd home" test "$(cat "$T/out" | tr '\n' ' ')" = "1000 /home/app "
expect_ok "exec -u app" exec -u app box id -un
check "...names resolve in the container's passwd" test "$(cat "$T/out")" = app

# ---- stdin and a terminal ----
run_cairn exec -i box sh -c 'cat; echo done' <<<"piped-in"
check "-i: stdin reaches the command" test "$status" -eq 0 -a "$(cat "$T/out" | tr '\n' ' ')" = "piped-in done "
run_cairn exec box sh -c 'cat; echo done' <<<"piped-in"
check "without -i: stdin is empty" test "$(cat "$T/out")" = done
if command -v python3 >/dev/null; then
	python3 - "$CAIRN" >"$T/tty.out" 2>&1 <<'EOF'
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "exec", "-it", "box", "sh"])
os.write(fd, b"tty; echo sum=$((6*7)); exit 6\n")
out = b""
while True:
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    out += d
_, st = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
print("status=%d" % os.waitstatus_to_exitcode(st))
EOF
	check "-it: a shell on a terminal runs what is typed" grep -qx "sum=42" "$T/tty.out"
	check "...its tty is the container's /dev/pts" grep -qx "/dev/pts/[0-9]*" "$T/tty.out"
	check "...and its exit status comes back" grep -qx "status=6" "$T/tty.out"
else
	skip "-it" "python3 is missing"
fi
if command -v script >/dev/null; then
	script -qec "stty cols 91 rows 33; '$CAIRN' exec -t box stty size" /dev/null </dev/null >"$T/script.out" 2>&1
	check "-t: the pty has the terminal's size" grep -q "^33 91" "$T/script.out"
else
	skip "-t size" "script is missing"
fi

# ---- no more than the container can ----
sleeper=$(proc_of box "$marker")
expect_ok "exec reads its own status" exec box cat /proc/self/status
for f in CapBnd CapEff CapPrm NoNewPrivs Seccomp; do
	check "$f equals the container process's" \
		test "$(grep "^$f:" "$T/out")" = "$(grep "^$f:" "/proc/$sleeper/status")"
done
run_cairn exec box mount -t tmpfs none /mnt
check "mount is refused" test "$status" -ne 0
check "...with EPERM" grep -qiE "permission denied|not permitted" "$T/err"
run_cairn run -d --name weak --cap-drop ALL --pids-limit 40 app sleep "$marker"
check "run -d --cap-drop ALL --pids-limit 40" test "$status" -eq 0
expect_ok "exec into it" exec weak grep CapBnd /proc/self/status
check "...keeps its empty bounding set" test "$(cat "$T/out")" = "$(printf 'CapBnd:\t0000000000000000')"
run_cairn exec weak chown 1000 /marker
check "...and cannot chown (no CAP_CHOWN)" test "$status" -ne 0
( "$CAIRN" exec weak sleep "$((marker + 1))" >/dev/null 2>&1 & )
for _ in $(seq 100); do
	p=$(pgrep -x -f "sleep $((marker + 1))") && break
	sleep 0.1
done
init=$(state weak .init.pid)
check "exec sleep in the background: found on the host" test -n "${p:-}" -a -n "$init"
check "the exec'd process is in the container's pids cgroup" \
	test "$(grep -E ':pids:|^0::' "/proc/${p:-0}/cgroup")" = "$(grep -E ':pids:|^0::' "/proc/$init/cgroup")"
check "...the container's pid namespace" test "$(readlink "/proc/${p:-0}/ns/pid")" = "$(readlink "/proc/$init/ns/pid")"
check "...and mount namespace" test "$(readlink "/proc/${p:-0}/ns/mnt")" = "$(readlink "/proc/$init/ns/mnt")"
[ -n "${p:-}" ] && kill "$p"
# The change of user clears the parent-death signal: set again, so a
# kill -9 of cairn exec still ends its process.
"$CAIRN" exec -u 1000 weak sleep "$((marker + 3))" >/dev/null 2>&1 &
execpid=$!
for _ in $(seq 100); do
	p=$(pgrep -x -f "sleep $((marker + 3))") && break
	sleep 0.1
done
check "exec -u 1000 sleep in the background: running as uid 1000" \
	test -n "${p:-}" -a "$(stat -c %u "/proc/${p:-0}" 2>/dev/null)" = 1000
kill -9 "$execpid"
wait "$execpid" 2>/dev/null
for _ in $(seq 100); do
	pgrep -x -f "sleep $((marker + 3))" >/dev/null || break
	sleep 0.1
done
check "...a kill -9 of cairn exec ends it" sh -c "! pgrep -x -f 'sleep $((marker + 3))'"

# ---- --init: cairn's reaper is pid 1, the process pid 2 ----
run_cairn run -d --init --name reaped --cap-drop ALL --cap-add CHOWN app sleep "$marker"
check "run -d --init" test "$status" -eq 0
check "...recorded as a reaper" test "$(state reaped .init.reaper)" = true
expect_ok "exec ps into it" exec reaped ps -o pid,args
check "...the image's process is pid 2" \
	test "$(awk '$1 == 2 { $1 = ""; print substr($0, 2) }' "$T/out")" = "sleep $marker"
check "...pid 1 is cairn's reaper" sh -c "awk '\$1 == 1' '$T/out' | grep -q 'cairn run -d --init'"
check "...3 processes (the reaper, sleep, ps)" test "$(tail -n +2 "$T/out" | wc -l)" -eq 3
sleeper=$(proc_of reaped "$marker")
init=$(state reaped .init.pid)
check "...the host's sleep is the reaper's child" test -n "$sleeper" -a "$sleeper" != "$init"
expect_ok "exec reads its status under --init" exec reaped cat /proc/self/status
for f in CapBnd CapEff CapPrm NoNewPrivs Seccomp; do
	check "$f equals the process's, not the reaper's" \
		test "$(grep "^$f:" "$T/out")" = "$(grep "^$f:" "/proc/$sleeper/status")"
done
check "...the reaper's bounding set is cairn's, wider" \
	test "$(grep "^CapBnd:" "/proc/$init/status")" != "$(grep "^CapBnd:" "$T/out")"
expect_ok "exec -u 1000 under --init" exec -u 1000 reaped id -u
check "...uid 1000" test "$(cat "$T/out")" = 1000
run_cairn exec reaped sh -c 'exit 7'
check "...exit status 7" test "$status" -eq 7
expect_ok "stop reaped" stop -t 1 reaped
expect_fail "exec into it stopped" 1 "container reaped is not running" exec reaped true

# ---- what a process inherits: the container's, not exec's caller's ----
if env --block-signal=TERM true 2>/dev/null; then
	env --block-signal=TERM,INT "$CAIRN" exec weak grep SigBlk /proc/self/status >"$T/out" 2>"$T/err"
	check "a caller blocking TERM and INT: the exec'd process blocks nothing" \
		test "$(cat "$T/out")" = "$(printf 'SigBlk:\t0000000000000000')"
else
	skip "the signal mask" "env has no --block-signal"
fi
if command -v prlimit >/dev/null; then
	adj=$(cat /proc/self/oom_score_adj)
	want=$((adj == 123 ? 124 : 123))
	(echo "$want" >/proc/self/oom_score_adj &&
		exec prlimit --msgqueue=123456:234567 "$CAIRN" run -d --name lim --ulimit nofile=300:400 \
		app sleep "$marker") >/dev/null 2>&1
	expect_ok "exec into a container run with other limits and OOM score than exec's" \
		exec -u 1000 lim sh -c 'ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj;
			grep "Max msgqueue size" /proc/self/limits | tr -s " "'
	check "...run's --ulimit nofile=300:400" test "$(sed -n 1,2p "$T/out" | tr '\n' ' ')" = "300 400 "
	check "...run's OOM score adjustment ($want, exec's is $adj)" test "$(sed -n 3p "$T/out")" = "$want"
	check "...and its other limits (msgqueue 123456:234567)" \
		test "$(sed -n 4p "$T/out")" = "Max msgqueue size 123456 234567 bytes "
	"$CAIRN" rm -f lim >/dev/null 2>&1
else
	skip "the container's limits and OOM score" "prlimit is missing"
fi

# ---- not running ----
expect_ok "stop box" stop -t 1 box
expect_fail "exec into a stopped container" 1 "container box is not running" exec box true
expect_fail "exec into no container" 1 "no such container: nope" exec nope true
expect_fail "exec without a command" 125 "expected a container and a command" exec weak

# ---- --userns=auto ----
base=$(((RANDOM % 1000 + 100) * 65536))
printf 'root:%d:65536\n' "$base" >"$T/subuid"
cp "$T/subuid" "$T/subgid"
CAIRN_SUBUID_FILE=$T/subuid CAIRN_SUBGID_FILE=$T/subgid run_cairn run -d --name mapped --userns=auto app sleep "$marker"
check "run -d --userns=auto" test "$status" -eq 0
expect_ok "exec into it" exec mapped sh -c 'id -u; cat /proc/self/uid_map'
check "...root inside is root's subordinate uid outside: its user namespace" \
	test "$(tr -s ' ' <"$T/out" | sed 's/^ //' | tr '\n' ';')" = "0;0 $base 65536;"
run_cairn exec mapped mount -t tmpfs none /mnt
check "...and mount is refused there too" test "$status" -ne 0
kill_containers

# ---- rootless ----
rootless_exec() {
	rootless_need useradd userdel setpriv newuidmap newgidmap
	rootless_user "$U" "$((base + 131072))"
	rootless_probe "$U"
	cp -r "$REPO_DIR/examples/busybox" "$T/bb"
	chmod -R a+rX "$T/bb"
	AS_USER=$U expect_ok "rootless: build busybox" build -q -t busybox "$T/bb"
	AS_USER=$U expect_ok "rootless: run -d" run -d --name rl busybox sleep "$marker"
	AS_USER=$U expect_ok "rootless: exec" exec rl sh -c 'id -u; ps -o pid,args'
	check "...root inside" test "$(head -1 "$T/out")" = 0
	check "...ps lists the container's sleep and not the host's processes" \
		sh -c "grep -q 'sleep $marker' '$T/out' && ! grep -q t0794 '$T/out'"
	check "...pid 1 is the image's process, joined directly" \
		test "$(awk '$1 == 1 { $1 = ""; print substr($0, 2) }' "$T/out")" = "sleep $marker"
	AS_USER=$U run_cairn exec rl sh -c 'exit 5'
	check "rootless: exit status 5" test "$status" -eq 5
	AS_USER=$U expect_ok "rootless: exec -u 1000" exec -u 1000 rl id -u
	check "...uid 1000" test "$(cat "$T/out")" = 1000
	AS_USER=$U run_cairn exec rl mount -t tmpfs none /mnt
	check "rootless: mount is refused" test "$status" -ne 0
	AS_USER=$U expect_ok "rootless: exec reads its status" exec rl cat /proc/self/status
	sleeper=$(pgrep -u "$U" -x -f "sleep $marker" | head -1)
	check "rootless: CapBnd equals the container process's" \
		test "$(grep "^CapBnd:" "$T/out")" = "$(grep "^CapBnd:" "/proc/${sleeper:-0}/status")"
	AS_USER=$U expect_ok "rootless: stop" stop -t 1 rl
	AS_USER=$U expect_fail "rootless: exec into the stopped one" 1 "container rl is not running" exec rl true
	# --init: the reaper is undumpable (the user may not join through it);
	# exec joins through its child, the process.
	AS_USER=$U expect_ok "rootless: run -d --init" run -d --init --name rli busybox sleep "$((marker + 2))"
	AS_USER=$U expect_ok "rootless --init: exec" exec rli sh -c 'id -u; ps -o pid,args'
	check "...root inside" test "$(head -1 "$T/out")" = 0
	check "...the image's process is pid 2" \
		test "$(awk '$1 == 2 { $1 = ""; print substr($0, 2) }' "$T/out")" = "sleep $((marker + 2))"
	AS_USER=$U run_cairn exec rli sh -c 'exit 5'
	check "rootless --init: exit status 5" test "$status" -eq 5
	AS_USER=$U expect_ok "rootless --init: exec -u 1000" exec -u 1000 rli id -u
	check "...uid 1000" test "$(cat "$T/out")" = 1000
	AS_USER=$U expect_ok "rootless --init: exec reads its status" exec rli cat /proc/self/status
	sleeper=$(pgrep -u "$U" -x -f "sleep $((marker + 2))" | head -1)
	check "rootless --init: CapBnd and CapEff equal the process's, not the reaper's" \
		test "$(grep -E "^Cap(Bnd|Eff):" "$T/out")" = "$(grep -E "^Cap(Bnd|Eff):" "/proc/${sleeper:-0}/status")"
	AS_USER=$U run_cairn exec rli mount -t tmpfs none /mnt
	check "rootless --init: mount is refused" test "$status" -ne 0
	AS_USER=$U expect_ok "rootless --init: stop" stop -t 1 rli
}
rootless_exec

finish
