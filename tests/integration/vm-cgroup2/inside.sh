#!/bin/bash
# t0744's checks inside the VM (Debian 12, systemd, cgroup v2), run at boot
# as root by cairn-vmtest.service from the test disk mounted at /mnt/t.
# Prints TAP lines prefixed "vm: " on the serial console; t0744 counts them.
#
#   inside.sh            as root: the host facts, the refusal outside a
#                        delegated cgroup, then "inside.sh user" as the user
#                        in `systemd-run --user --scope -p Delegate=yes`,
#                        then root's own limits on cgroup v2, then
#                        run --systemd on v2 (systemd_part: busybox's view
#                        of its cgroup2 mount, the VM's systemd booted as
#                        a container's pid 1); only that part when the
#                        test disk has a file "only" holding "systemd"
#   inside.sh user       as the user, in that scope
set -u
D=/mnt/t
U=tester
UID_=1000
UCG=/sys/fs/cgroup/user.slice/user-$UID_.slice/user@$UID_.service
W=$(mktemp -d /tmp/vm.XXXXXX)
chmod 0755 "$W"

pass() { echo "vm: ok - $*"; }
fail() { echo "vm: not ok - $*"; }
note() { echo "vm: # $*"; }
show() { sed 's/^/vm: #   /' "$@" | tail -8; }
check() {   # DESC CMD...
	local desc=$1; shift
	if "$@" >"$W/.out" 2>&1; then pass "$desc"; else fail "$desc"; show "$W/.out"; fi
}
# c ARGS...: cairn, stdout in $W/out, stderr in $W/err, status in $status.
c() { cairn "$@" >"$W/out" 2>"$W/err"; status=$?; }
c_ok() {   # DESC ARGS...
	local desc=$1; shift
	c "$@"
	if [ "$status" = 0 ]; then pass "$desc"; else fail "$desc (status $status)"; show "$W/err"; fi
}
c_fail() {   # DESC STATUS SUBSTRING ARGS...
	local desc=$1 want=$2 sub=$3; shift 3
	c "$@"
	if [ "$status" = "$want" ] && grep -qF -- "$sub" "$W/err"; then
		pass "$desc"
	else
		fail "$desc (status $status, want $want and '$sub')"
		show "$W/err"
	fi
}
# r CMD...: like c, for any command; r_ok DESC after it.
r() { "$@" >"$W/out" 2>"$W/err"; status=$?; }
r_ok() {
	if [ "$status" = 0 ]; then pass "$1"; else fail "$1 (status $status)"; show "$W/err"; fi
}
# This shell's cgroup v2 directory.
own() { echo "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)"; }

user_part() {
	local O
	O=$(own)
	note "the scope's cgroup: $O ($(cat "$O/cgroup.controllers"))"
	c_ok "info in the delegated scope" info
	sed 's/^/vm: #   /' "$W/out" | grep -E 'cgroups:|limits:' 
	check "info: --memory, --cpus and --pids-limit work, in the scope's cgroup, delegated" \
		grep -qxF "limits:       --memory --cpus --pids-limit (in $O, delegated to you)" "$W/out"
	check "info: no limit listed as unavailable" sh -c "! grep -q 'cgroup controller' '$W/out'"

	# cairn's own cleanup is seen only in a cgroup that outlives it (systemd
	# removes a scope's whole tree when it ends): this shell leaves the
	# scope's cgroup for a sibling, hands the controllers down, and runs
	# each cairn in a fresh child of its own, as a scope would.
	mkdir "$O/sh" && echo $$ >"$O/sh/cgroup.procs" &&
		echo "+memory +pids +cpu" >"$O/cgroup.subtree_control" ||
		{ fail "set up cgroups below the scope's"; return; }
	n=0
	incg() {   # CMD...: in a new child cgroup $O/cN (its path in $G)
		n=$((n + 1)); G=$O/c$n
		mkdir "$G" && sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' - "$G" "$@"
	}
	left() {   # what cairn left in $G: child cgroups, enabled controllers
		find "$G" -mindepth 1 -type d
		cat "$G/cgroup.subtree_control"
	}

	# ---- --pids-limit: busybox sh exits (2) at the first fork refused
	incg cairn run --rm --pids-limit 7 busybox sh -c 'for i in $(seq 12); do sleep 3 & done; wait' \
		>"$W/out" 2>"$W/err"
	status=$?
	if [ "$status" = 2 ] && grep -q "can't fork: Resource temporarily unavailable" "$W/err"; then
		pass "run --rm --pids-limit 7: a shell starting 12 sleeps is refused a fork (sh: can't fork)"
	else
		fail "run --rm --pids-limit 7: forks are capped (status $status)"; show "$W/err"
	fi
	check "... and cairn leaves nothing in its cgroup (no cairn/, no cairn-<pid>, no controllers)" \
		test -z "$(left)"

	# ---- all three on a detached container, its cgroup's files
	# (An inner shell starts sleeps until a fork is refused; they outlive it.)
	incg cairn run -d --name lim --pids-limit 7 --memory 32m --cpus 0.5 busybox \
		sh -c 'sh -c "for i in \$(seq 12); do sleep 600 & done"; exec sleep 600' >"$W/out" 2>"$W/err"
	status=$?
	check "run -d --pids-limit 7 --memory 32m --cpus 0.5 (status $status)" test "$status" = 0
	R=$G
	for _ in $(seq 100); do
		ctr=$(ls -d "$R"/cairn/ctr-* 2>/dev/null | head -1)
		[ -n "$ctr" ] && grep -q '^max [1-9]' "$ctr/pids.events" 2>/dev/null && break
		sleep 0.2
	done
	note "the container's cgroup: ${ctr:-none}"
	check "its cgroup is below cairn's leaf's parent: $R/cairn/ctr-<id>" test -n "$ctr"
	check "pids.max is 7" test "$(cat "$ctr/pids.max")" = 7
	note "pids.current $(cat "$ctr/pids.current"), pids.events: $(cat "$ctr/pids.events")"
	check "pids.events counts forks refused at the limit, and pids.current is at most 7" \
		sh -c "grep -q '^max [1-9]' '$ctr/pids.events' && test \"\$(cat '$ctr/pids.current')\" -le 7"
	check "memory.max is 32 MiB, memory.swap.max 0" \
		test "$(cat "$ctr/memory.max") $(cat "$ctr/memory.swap.max")" = "33554432 0"
	check "cpu.max is \"50000 100000\" (--cpus 0.5)" test "$(cat "$ctr/cpu.max")" = "50000 100000"
	incg cairn stop -t 1 lim >"$W/out" 2>"$W/err"
	check "stop it" test $? = 0
	incg cairn rm lim >"$W/out" 2>"$W/err"
	check "rm it" test $? = 0
	G=$R
	for _ in $(seq 50); do [ -z "$(left)" ] && break; sleep 0.2; done
	check "... then its supervisor has left nothing in the cgroup" test -z "$(left)"

	# ---- --memory: the OOM killer
	incg cairn run --rm --memory 32m busybox dd if=/dev/zero of=/dev/null bs=8M count=4 >"$W/out" 2>"$W/err"
	check "run --rm --memory 32m: 8 MiB at a time fits" test $? = 0
	incg cairn run --rm --memory 32m busybox dd if=/dev/zero of=/dev/null bs=64M count=1 >"$W/out" 2>"$W/err"
	status=$?
	if [ "$status" = 137 ] && grep -qF "out of memory: the container was killed at its --memory limit" "$W/err"; then
		pass "run --rm --memory 32m: 64 MiB at once is OOM-killed, status 137, and cairn says so"
	else
		fail "run --rm --memory 32m: OOM kill (status $status, want 137)"; show "$W/err"
	fi
	check "... and cairn leaves nothing in its cgroup" test -z "$(left)"

	# ---- build --memory / --cpus / --pids-limit
	incg cairn build -q --memory 32m --cpus 0.5 --pids-limit 20 -t fits "$D/ctx/fits" >"$W/out" 2>"$W/err"
	status=$?
	check "build --memory 32m --cpus 0.5 --pids-limit 20: a RUN step within them (status $status)" \
		test "$status" = 0
	check "... leaves nothing in its cgroup" test -z "$(left)"
	incg cairn build -q --memory 32m --pids-limit 20 -t multi "$D/ctx/multi" >"$W/out" 2>"$W/err"
	status=$?
	check "build --memory --pids-limit of two stages in parallel (workers share cairn's cgroup; status $status)" \
		test "$status" = 0
	check "... leaves nothing in its cgroup" test -z "$(left)"
	incg cairn build -q --memory 32m -t oom "$D/ctx/oom" >"$W/out" 2>"$W/err"
	status=$?
	if [ "$status" != 0 ] && grep -qF "out of memory: a process was killed at the --memory limit" "$W/err"; then
		pass "build --memory 32m: a RUN step taking 64 MiB fails, saying out of memory"
	else
		fail "build --memory 32m: OOM in a RUN step (status $status)"; show "$W/err"
	fi
	check "... leaves nothing in its cgroup" test -z "$(left)"

	# ---- another process in cairn's cgroup: refused, naming it
	mkdir "$O/busy"
	sh -c 'echo $$ >"$1/cgroup.procs" && exec sleep 60' - "$O/busy" &
	sleeper=$!
	for _ in $(seq 50); do [ -s "$O/busy/cgroup.procs" ] && break; sleep 0.1; done
	sh -c 'echo $$ >"$1/cgroup.procs" && exec cairn run --rm --pids-limit 7 busybox true' - "$O/busy" \
		>"$W/out" 2>"$W/err"
	status=$?
	if [ "$status" = 125 ] && grep -qF "yours, $O/busy, holds 1 other process (pid $sleeper)" "$W/err"; then
		pass "a cgroup shared with another process: refused (125), naming the cgroup and the pid"
	else
		fail "a shared cgroup is refused (status $status)"; show "$W/err"
	fi
	kill "$sleeper"; wait "$sleeper" 2>/dev/null
	G=$O/busy
	check "... and nothing is left in it" test -z "$(left)"
}

# ---- as root: cairn run --systemd on cgroup v2, the container's own
# cgroup2 mount (busybox), then the VM's own systemd booted in a container.

# sd_tree DIR: an OS tree of hard links to this system's files: systemd,
# /usr/bin, /usr/sbin, the libraries systemd's programs link, /etc.
sd_tree() {
	local sd=$1 l
	mkdir -p "$sd/usr/lib" "$sd/usr/lib64" "$sd/usr/share" "$sd/var/log" "$sd/var/tmp" "$sd/var/lib" \
		"$sd/root" "$sd/proc" "$sd/sys" "$sd/dev" "$sd/run" "$sd/tmp" || return 1
	for l in bin sbin lib lib64; do ln -s usr/$l "$sd/$l" || return 1; done
	cp -al /usr/bin /usr/sbin "$sd/usr/" &&
		cp -al /usr/lib/systemd /usr/lib/tmpfiles.d /usr/lib/sysusers.d /usr/lib/os-release \
			/usr/lib/dbus-1.0 "$sd/usr/lib/" &&
		cp -al /usr/share/dbus-1 "$sd/usr/share/" &&
		cp -a /etc "$sd/" || return 1
	# The libraries systemd's programs and a shell's link, as hard links
	# in their real directories (/lib is /usr/lib here). ldd runs two at a
	# time: each file is two execs, slow under TCG.
	{ find /usr/lib/systemd /usr/lib/dbus-1.0 -maxdepth 1 -type f -perm -u+x
	  ls /usr/bin/systemctl /usr/bin/journalctl /usr/bin/dbus-daemon /usr/bin/bash /usr/bin/ls \
		/usr/bin/mount /usr/bin/login /usr/sbin/agetty; } | xargs -P2 -n20 ldd 2>/dev/null |
		awk '$2 == "=>" && $3 ~ /^\// { l = $3 } $1 ~ /^\// && $1 !~ /:$/ { l = $1 }
			l { sub(/^\/lib/, "/usr/lib", l); print l; l = "" }' | sort -u >"$sd.libs"
	xargs cp -lL --parents -t "$sd/" <"$sd.libs" || return 1
	rm -f "$sd.libs"
}
# ctr_cg NAME: the host's directory of a detached container's cgroup.
ctr_cg() {
	local id
	id=$(cairn inspect -f '{{.Id}}' "$1" 2>/dev/null) || return 1
	echo "/sys/fs/cgroup/cairn/ctr-${id:0:12}"
}
systemd_part() {
	local probe sd ctx start secs cg pid1 begin
	begin=$(date +%s)
	# What an init system looks at; the console is a pty (\r\n).
	probe='echo "container=$container"; echo "self $(cat /proc/self/cgroup)"
		for m in /run /run/lock /tmp /sys/fs/cgroup; do
			echo "$m $(awk -v m=$m '"'"'$2 == m { print $3 }'"'"' /proc/mounts | tail -1)"
		done
		for d in system.slice user.slice init.scope cairn; do [ -e /sys/fs/cgroup/$d ] && echo "sees $d"; done
		echo "procs $(wc -l </sys/fs/cgroup/cgroup.procs)"
		mkdir /sys/fs/cgroup/unit && echo $$ >/sys/fs/cgroup/unit/cgroup.procs &&
			echo "moved $(cat /proc/self/cgroup)"
		echo $$ >/sys/fs/cgroup/../cgroup.procs 2>/dev/null && echo "escaped"
		echo end'
	c run --rm --network host --systemd=always busybox sh -c "$probe"
	tr -d '\r' <"$W/out" >"$W/probe"
	show "$W/probe"
	check "run --rm --systemd=always on cgroup v2: busybox runs (status $status)" test "$status" = 0
	check "... container=cairn" grep -qx "container=cairn" "$W/probe"
	check "... its /proc/self/cgroup is 0::/ (the namespace's root is its own cgroup)" \
		grep -qx "self 0::/" "$W/probe"
	check "... /sys/fs/cgroup is a cgroup2 mount" grep -qx "/sys/fs/cgroup cgroup2" "$W/probe"
	for m in /run /run/lock /tmp; do
		check "... $m is a tmpfs" grep -qx "$m tmpfs" "$W/probe"
	done
	check "... it sees none of the host's cgroups (no system.slice, user.slice, init.scope, cairn)" \
		sh -c "! grep -q '^sees' '$W/probe'"
	check "... and only its own processes in its cgroup" grep -qx "procs [12]" "$W/probe"
	check "... it makes a child cgroup and moves itself into it (0::/unit)" grep -qx "moved 0::/unit" "$W/probe"
	check "... and /sys/fs/cgroup/.. is no way out (read-only /sys)" sh -c "! grep -qx escaped '$W/probe' && grep -qx end '$W/probe'"
	check "... after it, /sys/fs/cgroup/cairn holds nothing of it (gone)" test ! -e /sys/fs/cgroup/cairn

	# The host's view while it runs: cairn/ctr-<id>, what it made below.
	c run -d --name cgv2 --network host --systemd=always busybox sh -c \
		'mkdir /sys/fs/cgroup/unit && echo $$ >/sys/fs/cgroup/unit/cgroup.procs && exec sleep 600'
	cg=$(ctr_cg cgv2)
	# (cgroup files have no size: grep, not test -s.)
	for _ in $(seq 100); do grep -q . "$cg/unit/cgroup.procs" 2>/dev/null && break; sleep 0.1; done
	check "run -d --systemd=always: the host sees its child cgroup in $cg/unit" grep -q . "$cg/unit/cgroup.procs"
	c stop -t 5 cgv2
	check "... stop: its cgroup and what it made below are removed (status $status)" \
		sh -c "test $status = 0 && test ! -e '$cg'"
	cairn rm cgv2 >/dev/null 2>&1

	# ---- the VM's own systemd as a container's pid 1: an image FROM
	# scratch that COPYs a tree of hard links to the VM's files (sd_tree).
	start=$(date +%s)
	ctx=$W/sdctx
	sd=$ctx/root
	sd_tree "$sd"
	check "a tree of the VM's systemd, /usr/bin, /usr/sbin, the libraries and /etc" test -x "$sd/usr/lib/systemd/systemd"
	# Not this VM's test unit; nothing for hardware or the kernel; the
	# runtime gives the machine id.
	rm -f "$sd/etc/systemd/system/cairn-vmtest.service" "$sd"/etc/systemd/system/*.wants/cairn-vmtest.service
	for u in systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
		systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
		sys-kernel-tracing.mount systemd-remount-fs.service getty.target; do
		ln -sf /dev/null "$sd/etc/systemd/system/$u"
	done
	: >"$sd/etc/machine-id"
	printf 'FROM scratch\nCOPY root/ /\nCMD ["/sbin/init"]\n' >"$ctx/Buildfile"
	note "the image's tree: $(du -sh "$sd" | cut -f1) (hard links), made in $(($(date +%s) - start)) s"
	start=$(date +%s)
	c build -q --network host --compression zstd -t vmsd "$ctx"
	secs=$(($(date +%s) - start))
	check "an image of the VM's systemd (FROM scratch, COPY of its tree) builds in $secs s (status $status)" \
		test "$status" = 0
	[ "$status" = 0 ] || { show "$W/err"; return; }

	start=$(date +%s)
	c run -d --name sd --network host --memory 512m vmsd
	check "run -d vmsd (CMD /sbin/init: --systemd's default), --memory 512m (status $status)" test "$status" = 0
	cg=$(ctr_cg sd)
	# Until its manager listens, systemctl cannot connect: again then.
	while [ $(($(date +%s) - start)) -lt 240 ]; do
		timeout 240 cairn exec sd systemctl is-system-running --wait >"$W/out" 2>"$W/err"
		grep -q . "$W/out" && break
		sleep 2
	done
	secs=$(($(date +%s) - start))
	note "is-system-running: $(cat "$W/out") after $secs s"
	check "cairn exec sd systemctl is-system-running --wait: running or degraded ($secs s under TCG)" \
		grep -qxE 'running|degraded' "$W/out"
	if ! grep -qx running "$W/out"; then
		cairn exec sd systemctl --failed --no-legend --plain >"$W/out" 2>&1
		show "$W/out"
		show "$W/err"
	fi
	pid1=$(cairn inspect -f '{{.State.Pid}}' sd 2>/dev/null)
	note "its cgroup: $cg: $(cd "$cg" 2>/dev/null && find . -mindepth 1 -maxdepth 1 -type d | tr '\n' ' ')"
	check "systemd runs its units in the container's cgroup: init.scope and system.slice below $cg" \
		test -d "$cg/init.scope" -a -d "$cg/system.slice"
	check "... pid 1 is in its init.scope, seen from the host" \
		grep -qx "0::/cairn/${cg##*/}/init.scope" "/proc/$pid1/cgroup"
	check "... the journal runs as a unit of its" test -d "$cg/system.slice/systemd-journald.service"
	# With --memory, systemd passes the controller on to its units: the
	# container's cgroup may then hold no process, and exec goes to pid 1's.
	note "$cg/cgroup.subtree_control: $(cat "$cg/cgroup.subtree_control")"
	c exec sd cat /proc/self/cgroup
	check "cairn exec joins pid 1's init.scope (the container's cgroup is busy with memory enabled below it)" \
		sh -c "grep -qw memory '$cg/cgroup.subtree_control' && test $status = 0 && grep -qx 0::/init.scope '$W/out'"
	show "$W/err"
	c exec sd systemctl show -p ControlGroup --value init.scope
	check "inside, systemd's own cgroup is /init.scope: its root is the container's cgroup" \
		grep -qx /init.scope "$W/out"
	start=$(date +%s)
	c stop -t 120 sd
	secs=$(($(date +%s) - start))
	check "cairn stop sd: systemd halts (status $status, $secs s)" test "$status" = 0
	check "... exit code 0, not killed" test "$(cairn inspect -f '{{.State.ExitCode}}' sd)" = 0
	cairn logs sd 2>&1 | tr -d '\r' | tail -4 >"$W/out"
	show "$W/out"
	c rm sd
	check "... its cgroup, with everything systemd made below it, is removed; /sys/fs/cgroup/cairn too" \
		sh -c "test ! -e '$cg' && test ! -e /sys/fs/cgroup/cairn"
	note "the --systemd checks took $(($(date +%s) - begin)) s"
}

if [ "${1:-}" = user ]; then
	user_part
	exit 0
fi

# ---------------------------------------------------------------- as root
note "up $(cut -d' ' -f1 /proc/uptime) s when the test unit started; $(uname -r); $(systemctl --version | head -1)"
install -m 0755 "$D/cairn" /usr/local/bin/cairn
check "systemd is pid 1" test "$(cat /proc/1/comm)" = systemd
check "/sys/fs/cgroup is cgroup v2 (unified)" test "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs
# t0744 with CAIRN_VM_ONLY=systemd: that part alone, to work on it.
if [ "$(cat "$D/only" 2>/dev/null)" = systemd ]; then
	r cairn build -q --network host -t busybox "$D/ctx/bb"
	r_ok "root: busybox builds"
	systemd_part
	echo "vm: done"
	exit 0
fi
for _ in $(seq 600); do
	[ "$(systemctl is-active user@$UID_.service)" = active ] && [ -S /run/user/$UID_/systemd/private ] && break
	sleep 0.2
done
check "the lingering user's user@$UID_.service is running" systemctl is-active user@$UID_.service
note "user@$UID_.service delegates: $(cat "$UCG/cgroup.controllers" 2>&1)"
check "... and has memory, pids and cpu in its cgroup.controllers" \
	sh -c "for x in memory pids cpu; do grep -qw \$x '$UCG/cgroup.controllers' || exit 1; done"

asuser() {   # CMD...: as the user, with a login session's environment
	runuser -u "$U" -- env -i HOME=/home/$U USER=$U LOGNAME=$U PATH=/usr/local/bin:/usr/bin:/bin \
		XDG_RUNTIME_DIR=/run/user/$UID_ DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/$UID_/bus "$@"
}
cd /
r asuser cairn build -q -t busybox "$D/ctx/bb"
r_ok "busybox builds rootless (FROM scratch, COPY, RUN)"

# Not in a delegated cgroup: this unit's, root's.
CG=$(own)
asuser cairn run --rm --pids-limit 7 busybox true >"$W/out" 2>"$W/err"
status=$?
if [ "$status" = 125 ] && grep -qF "need a cgroup delegated to you, and yours, $CG, is not" "$W/err" &&
	grep -qF "systemd-run --user --scope -p Delegate=yes" "$W/err"; then
	pass "run --pids-limit from a plain runuser (cgroup $CG, root's) is refused (125), naming it and what would work"
else
	fail "refusal outside a delegated cgroup (status $status)"; show "$W/err"
fi
asuser cairn build -q --memory 32m -t fits "$D/ctx/fits" >"$W/out" 2>"$W/err"
status=$?
check "build --memory there is refused too, naming the cgroup" \
	sh -c "test $status = 1 && grep -qF 'yours, $CG, is not' '$W/err'"
asuser cairn info >"$W/out" 2>&1
check "info there: the limits are unavailable, naming the cgroup" grep -qF "yours, $CG, is not" "$W/out"

# The documented way, directly.
asuser systemd-run --user --scope -q -p Delegate=yes -- \
	cairn run --rm --memory 32m busybox dd if=/dev/zero of=/dev/null bs=64M count=1 >"$W/out" 2>"$W/err"
status=$?
if [ "$status" = 137 ] && grep -qF "out of memory" "$W/err"; then
	pass "systemd-run --user --scope -p Delegate=yes cairn run --rm --memory 32m: OOM-killed, 137"
else
	fail "systemd-run --user --scope -p Delegate=yes cairn run --memory 32m (status $status)"; show "$W/err"
fi
r asuser systemd-run --user -q -p Delegate=yes --wait --pipe -- \
	cairn run --rm --memory 32m busybox dd if=/dev/zero of=/dev/null bs=64M count=1
if [ "$status" = 137 ] && grep -qF "out of memory" "$W/err"; then
	pass "from a user service (systemd-run --user -p Delegate=yes --wait --pipe): OOM-killed, 137"
else
	fail "from a user service with Delegate=yes (status $status)"; show "$W/err"
fi
start=$(date +%s)
asuser systemd-run --user --scope -q -p Delegate=yes -- "$D/inside.sh" user
note "the user's checks took $(($(date +%s) - start)) s"
check "nothing of cairn's is left in the user's cgroups" \
	sh -c "test -z \"\$(find '$UCG' -type d \\( -name 'cairn' -o -name 'cairn-*' -o -name 'ctr-*' \\))\""
check "no process of cairn's or its containers' is left" \
	sh -c "command -v pgrep && ! pgrep -l -u $U -x 'cairn|sleep|dd|sh'"

# t0741 as written: on this host its second half, the limits in effect in
# a cgroup it makes below /sys/fs/cgroup and delegates, runs.
CAIRN=/usr/local/bin/cairn bash "$D/repo/tests/integration/t0741-rootless-cgroup.sh" >"$W/t0741" 2>&1
st=$?
sed -n 's/^\(not \)\{0,1\}ok - /vm: &t0741: /p' "$W/t0741"
check "t0741 passes here (status $st)" test "$st" = 0
check "... with no part skipped" sh -c "grep -q '^ok - ' '$W/t0741' && ! grep -q '# SKIP' '$W/t0741'"

# Root on cgroup v2: /sys/fs/cgroup/cairn/<id>.
# Host network: the VM has no bridge or nftables modules.
r cairn build -q --network host -t busybox "$D/ctx/bb"
r_ok "root: busybox builds"
c_fail "root: run --rm --memory 32m on cgroup v2: OOM-killed, 137" 137 \
	"out of memory: the container was killed at its --memory limit" \
	run --rm --network host --memory 32m busybox dd if=/dev/zero of=/dev/null bs=64M count=1
c run --rm --network host --pids-limit 7 --cpus 0.5 busybox sh -c 'for i in $(seq 12); do sleep 3 & done; wait'
check "root: run --rm --pids-limit 7 on cgroup v2: a fork is refused" \
	sh -c "test $status = 2 && grep -q \"can't fork\" '$W/err'"
check "root: /sys/fs/cgroup/cairn is removed after" test ! -e /sys/fs/cgroup/cairn
systemd_part
note "the test unit ends at $(cut -d' ' -f1 /proc/uptime) s of uptime"
echo "vm: done"
