#!/bin/bash
# examples/debian-systemd booted by systemd-nspawn -b from 'cairn export
# --format rootfs': the lines of its README's nspawn block run as written,
# in one shell. systemd inside reaches running (or degraded), nginx (one of
# its units) answers in the container's network namespace, 'systemctl
# poweroff' ends nspawn with status 0; SIGTERM to nspawn halts it too.
# Neither leaves a process, a mount or a cgroup: nspawn runs in a cgroup of
# the test's own (nspawn.sh), removed after.
# Slow (the Debian base and apt-get), so only with CAIRN_SLOW_TESTS=1.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/integration/nspawn.sh"

if [ "${CAIRN_SLOW_TESTS:-}" != 1 ]; then
	skip "debian-systemd under systemd-nspawn -b" "slow (Debian base + apt-get, ~1 min): set CAIRN_SLOW_TESTS=1"
	finish
fi
for tool in systemd-nspawn nsenter pgrep curl; do
	if ! command -v $tool >/dev/null; then
		skip "debian-systemd under systemd-nspawn -b" "$tool is not installed (systemd-container, util-linux, procps, curl)"
		finish
	fi
done


if ! "$CAIRN" inspect debian:12 >/dev/null 2>&1; then
	if ! CAIRN=$CAIRN "$REPO_DIR/examples/debian/build.sh" >"$T/base.out" 2>&1; then
		fail "the debian:12 base (examples/debian/build.sh)"
		tail -20 "$T/base.out" | sed 's/^/#   /'
		finish
	fi
fi
expect_ok "build examples/debian-systemd" build -q -t debian-systemd:latest "$REPO_DIR/examples/debian-systemd"

sed -n '/<!-- nspawn-boot: begin -->/,/<!-- nspawn-boot: end -->/p' \
	"$REPO_DIR/examples/debian-systemd/README.md" | sed -n 's/^    //p' >"$T/lines"
check "the example's README has the block (5 lines)" test "$(wc -l <"$T/lines")" -eq 5
nspawn_line=$(grep '^systemd-nspawn -b ' "$T/lines")
check "README.md's 'Run it elsewhere' shows the same systemd-nspawn -b line" \
	grep -qF -- "    $nspawn_line" "$REPO_DIR/README.md"

# One shell, as a reader would type the lines, started in the test's
# cgroups so that nspawn's are made below them.
{
	nspawn_cg_script
	echo "cairn() { \"$CAIRN\" \"\$@\"; }"
	cat "$T/lines"
} >"$T/boot.sh"
mkdir "$T/nspawn"
# Bounded: a boot that never ends its jobs or a poweroff that hangs fails.
(cd "$T/nspawn" && timeout 180 bash "$T/boot.sh") >"$T/boot.out" 2>&1 </dev/null
rc=$?
if [ $rc -eq 0 ]; then
	pass "the README's lines: export, nspawn -b, is-system-running, curl, poweroff (status 0)"
else
	fail "the README's lines ended with status $rc (124: still running after 180 s)"
	sed 's/^/#   /' "$T/boot.out" | tail -10
	tr -d '\r' <"$T/nspawn/os-root.log" 2>/dev/null | tail -30 | sed 's/^/#   console: /'
fi
check "systemd inside reached running or degraded" grep -qxE "running|degraded" "$T/boot.out"
check "nginx, a unit, answered in the container's network" grep -q "hello from nginx" "$T/boot.out"
check "systemd filled the empty machine-id" grep -q "Initializing machine ID" "$T/nspawn/os-root.log"
check "systemctl poweroff powered the container off" grep -q "Powering off" "$T/nspawn/os-root.log"
check "and nspawn said so" grep -q "Container os-root has been shut down" "$T/nspawn/os-root.log"
check "no process left in nspawn's cgroups" test -z "$(nspawn_cg_pids)"
check "no mount left" no_mounts_left
nspawn_cg_kill   # (after a failure, before the second boot)

# SIGTERM to nspawn: it sends SIGRTMIN+3 to the container's pid 1, a halt.
(
	nspawn_cg_enter $BASHPID || exit 99
	cd "$T/nspawn" || exit 99
	systemd-nspawn -b -D os-root --register=no --keep-unit --private-network --console=read-only \
		>term.log 2>&1 </dev/null &
	n=$!
	for ((i = 0; i < 120; i++)); do
		leader=$(pgrep -P $n) && [ -n "$(nsenter -t "$leader" -a systemctl is-system-running 2>/dev/null |
			grep -xE 'running|degraded')" ] && break
		sleep 0.5
	done
	kill -TERM $n
	# Bounded as above: SIGKILL after 60 s (a failure, status 137).
	for ((i = 0; i < 120; i++)); do
		kill -0 $n 2>/dev/null || break
		sleep 0.5
	done
	kill -KILL $n 2>/dev/null
	wait $n
) >"$T/term.out" 2>&1
rc=$?
check "SIGTERM to nspawn halted it (status $rc, want 0)" test $rc -eq 0
check "systemd halted" grep -q "Halting system" "$T/nspawn/term.log"
check "no process left after the halt" test -z "$(nspawn_cg_pids)"
check "nspawn's cgroups (payload, supervisor), empty, removed after" nspawn_cg_remove
check "no mount left" no_mounts_left
check "no temp dir left" no_tmp_left
check "store consistent" store_is_consistent
finish
