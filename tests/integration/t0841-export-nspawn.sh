#!/bin/bash
# systemd-nspawn runs `export --format rootfs` as README's "Run it
# elsewhere" says. This machine has no systemd as pid 1 (no system bus):
# --register=no --keep-unit keep nspawn from asking it for a machine
# registration and a scope unit. nspawn refuses a tree without /usr (the
# busybox image has one). nspawn runs in a cgroup of the test's own
# (nspawn.sh): it leaves the cgroups it makes, removed after.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/integration/nspawn.sh"

build_busybox || finish
if ! command -v systemd-nspawn >/dev/null; then
	skip "systemd-nspawn runs the exported rootfs" "systemd-nspawn (Debian package systemd-container) is not installed"
	finish
fi
expect_ok "export --format rootfs" export --format rootfs busybox "$T/rootfs"
# --pipe: plain stdio (else nspawn gives the command a pty, which ends
# lines with CR LF).
out=$(nspawn_cg_enter $BASHPID && systemd-nspawn -q -D "$T/rootfs" --register=no --keep-unit --pipe \
	/bin/sh -c 'echo hello-nspawn pid=$$; exit 5' </dev/null 2>"$T/nspawn.err"); rc=$?
if [ "$out" = "hello-nspawn pid=1" ] && [ $rc -eq 5 ]; then
	pass "systemd-nspawn -D DIR --register=no --keep-unit CMD runs it as pid 1 (exit status 5 kept)"
else
	fail "systemd-nspawn: got '$out' status $rc"
	sed 's/^/#   /' "$T/nspawn.err" | tail -10
fi
# (--user needs getent in the image, which busybox has not.)
out=$(nspawn_cg_enter $BASHPID && systemd-nspawn -q -D "$T/rootfs" --register=no --keep-unit --pipe --as-pid2 --chdir=/tmp \
	--setenv=GREETING=hi /bin/sh -c 'echo $GREETING $(pwd) pid=$$' </dev/null 2>"$T/nspawn.err")
check "with --as-pid2, --chdir and --setenv (got '$out')" test "$out" = "hi /tmp pid=2"
check "no process left in nspawn's cgroups" test -z "$(nspawn_cg_pids)"
check "nspawn's cgroups (payload, supervisor), empty, removed after" nspawn_cg_remove
check "no mount left" no_mounts_left
finish
