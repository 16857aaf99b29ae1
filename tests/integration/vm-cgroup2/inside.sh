#!/bin/bash
# t0744's checks inside the VM (Debian 12, systemd, cgroup v2), run at boot
# as root by cairn-vmtest.service from the test disk mounted at /mnt/t.
# Prints TAP lines prefixed "vm: " on the serial console; t0744 counts them.
#
#   inside.sh            as root: the host facts, the refusal outside a
#                        delegated cgroup, then "inside.sh user" as the user
#                        in `systemd-run --user --scope -p Delegate=yes`,
#                        then root's own limits on cgroup v2
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

if [ "${1:-}" = user ]; then
	user_part
	exit 0
fi

# ---------------------------------------------------------------- as root
note "up $(cut -d' ' -f1 /proc/uptime) s when the test unit started; $(uname -r); $(systemctl --version | head -1)"
install -m 0755 "$D/cairn" /usr/local/bin/cairn
check "systemd is pid 1" test "$(cat /proc/1/comm)" = systemd
check "/sys/fs/cgroup is cgroup v2 (unified)" test "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs
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
note "the test unit ends at $(cut -d' ' -f1 /proc/uptime) s of uptime"
echo "vm: done"
