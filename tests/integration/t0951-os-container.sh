#!/bin/bash
# examples/debian-systemd end to end: Debian 12 booting systemd as pid 1
# under 'cairn run -d --systemd=always', nginx a unit of it; is-system-running
# through cairn exec, the page over the container's address, a clean halt on
# cairn stop. Slow (the Debian base and apt-get), so only with
# CAIRN_SLOW_TESTS=1, as three-tier; 'make os-container' runs the same script.
. "$(dirname "$0")/lib.sh"

if [ "${CAIRN_SLOW_TESTS:-}" != 1 ]; then
	skip "debian-systemd example" "slow (Debian base + apt-get, ~1 min): set CAIRN_SLOW_TESTS=1"
	finish
fi
if CAIRN=$CAIRN "$REPO_DIR/examples/debian-systemd/run.sh" >"$T/os.out" 2>&1; then
	pass "debian-systemd: built, booted, served through nginx, halted"
else
	fail "debian-systemd example"
	sed 's/^/#   /' "$T/os.out" | tail -40
fi
check "systemd reached running or degraded" grep -qE "is-system-running: (running|degraded)" "$T/os.out"
check "nginx, a unit, answered on the container's address" grep -q "curl http://.*hello from nginx" "$T/os.out"
check "cairn stop halted systemd cleanly within the timeout" grep -q "systemd halted cleanly" "$T/os.out"
check "no container left" test -z "$("$CAIRN" ps -a -q)"
# Its cgroups (ctr-<short id>, with what systemd made below them) went too.
short=$(sed -n 's/.*booted .* (id \([0-9a-f]*\)).*/\1/p' "$T/os.out")
check "no cgroup of the container left" test -n "$short" -a \
	-z "$(find /sys/fs/cgroup -maxdepth 4 -type d -name "ctr-$short" 2>/dev/null)"
check "no mount left" no_mounts_left
check "no temp dir left" no_tmp_left
check "store consistent" store_is_consistent
finish
