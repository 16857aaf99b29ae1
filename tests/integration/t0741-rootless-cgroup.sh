#!/bin/bash
# Rootless --memory, --cpus and --pids-limit (issue 10): they work in a
# cgroup v2 delegated to the user, and are refused before anything starts,
# saying why and what would make them work, where they cannot. A throw-away
# user runs cairn in a cgroup this test makes below the cgroup2 mount (on a
# hybrid host like this one /sys/fs/cgroup/unified, where cgroup v1 holds
# every controller): first owned by root, then delegated as systemd's
# Delegate=yes does (the directory, cgroup.procs and cgroup.subtree_control
# chowned to the user). Where that cgroup has the pids controller (a
# cgroup v2 host) the limit is checked in effect. Everything made there is
# removed; nothing else below the mount is touched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rootless.sh"

for tool in useradd userdel setpriv unshare pkill; do
	command -v "$tool" >/dev/null || { skip "rootless cgroups" "$tool is missing"; finish; }
done
# The first cgroup2 mount (field 5 of the line whose type, after "-", is cgroup2).
MNT=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
	/proc/self/mountinfo | head -1)
[ -n "$MNT" ] || { skip "rootless cgroups" "no cgroup2 mount"; finish; }

U=cncg$$
CG=$MNT/cairn-t0741-$$
cg_cleanup() {
	if id -u "$U" >/dev/null 2>&1; then
		pkill -KILL -u "$U" 2>/dev/null
		for _ in $(seq 50); do pgrep -u "$U" >/dev/null || break; sleep 0.1; done
	fi
	# Deepest first: whatever cairn failed to remove, then the test's own.
	[ -d "$CG" ] && find "$CG" -depth -type d -exec rmdir {} \; 2>/dev/null
	if id -u "$U" >/dev/null 2>&1; then
		rm -rf "/tmp/cairn-run-$(id -u "$U")"
		userdel "$U" 2>/dev/null
	fi
	cleanup_test_dir
}
trap cg_cleanup EXIT
chmod 0711 "$T"
useradd -m -d "$T/home" -s /bin/sh "$U" || { fail "useradd $U"; finish; }
if ! probe=$(setpriv --reuid="$U" --regid="$U" --init-groups --inh-caps=-all unshare -r true 2>&1); then
	skip "rootless cgroups" "no unprivileged user namespaces here: $probe"
	finish
fi
mkdir "$CG" || { skip "rootless cgroups" "cannot create a cgroup below $MNT"; finish; }
install -m 0755 "$CAIRN" "$T/cairn"
mkdir -p "$T/ctx"
printf 'FROM scratch\nCOPY Buildfile /b\n' >"$T/ctx/Buildfile"
chmod -R a+rX "$T/ctx"
made() { find "$CG" -mindepth 1 -type d; }
# Whether a cgroup v1 hierarchy holds pids: then no v2 cgroup can have it.
v1_pids=false
grep -qE ' - cgroup [^ ]+ ([^ ]*,)?pids(,|$)' /proc/self/mountinfo && v1_pids=true

# ---- a cgroup root owns: not delegated ----
if $v1_pids; then want="its cgroups are v1"; else want="need a cgroup delegated to you, and yours, $CG, is not"; fi
AS_CGROUP=$CG rl_fail "run --pids-limit in a cgroup root owns is refused, saying why" 125 "$want" \
	"$U" run --rm --pids-limit 10 busybox true
check "... before anything started (no image needed, nothing made in the cgroup)" test -z "$(made)"
AS_CGROUP=$CG rl_fail "build --memory there is refused too" 1 "$want" "$U" build -q --memory 64m "$T/ctx"

# ---- delegated, as Delegate=yes does ----
chown "$U" "$CG" "$CG/cgroup.procs" "$CG/cgroup.subtree_control" "$CG/cgroup.threads"
if ! grep -qw pids "$CG/cgroup.controllers"; then
	AS_CGROUP=$CG rl_fail "delegated, without the pids controller: --pids-limit names it and the file" 125 \
		"--pids-limit needs the pids cgroup controller, which $CG/cgroup.controllers does not list" \
		"$U" run --rm --pids-limit 10 busybox true
	if $v1_pids; then
		check "... and says cgroup v1 holds it here" grep -q "binds it to a cgroup v1 hierarchy" "$T/err"
	fi
	AS_CGROUP=$CG rl_fail "delegated, without the memory controller: build --memory names it" 1 \
		"--memory needs the memory cgroup controller, which $CG/cgroup.controllers does not list" \
		"$U" build -q --memory 64m "$T/ctx"
	check "... nothing made in the cgroup, no process left in it" \
		sh -c "test -z \"\$(find '$CG' -mindepth 1 -type d)\" && ! test -s '$CG/cgroup.procs'"
	AS_CGROUP=$CG rl_ok "info in the delegated cgroup" "$U" info
	check "info: says for each limit which controller is missing, and where" \
		test "$(grep -c "cgroup controller, which $CG/cgroup.controllers does not list" "$T/out")" = 3
	skip "rootless limits in effect in a delegated cgroup" \
		"$CG/cgroup.controllers has no pids (cgroup v1 holds it); t0744 checks them in a cgroup v2 VM"
else
	cp -r "$REPO_DIR/examples/busybox" "$T/bb"
	install -m 0755 /bin/busybox "$T/bb/busybox"
	chmod -R a+rX "$T/bb"
	rl_ok "busybox builds rootless" "$U" build -q -t busybox "$T/bb"
	AS_CGROUP=$CG rl_ok "run --rm --pids-limit in the delegated cgroup" "$U" run --rm --pids-limit 7 busybox true
	check "... leaves nothing in it" test -z "$(made)"
	AS_CGROUP=$CG rl_ok "run -d --pids-limit in the delegated cgroup" "$U" run -d --name lim --pids-limit 7 \
		busybox sleep 60
	for _ in $(seq 100); do [ -n "$(ls "$CG"/cairn/*/pids.max 2>/dev/null)" ] && break; sleep 0.1; done
	check "... the container's cgroup is below it, cairn/<id>, with pids.max 7" \
		test "$(cat "$CG"/cairn/*/pids.max 2>/dev/null)" = 7
	# Not in $CG: it holds no process while the controllers are enabled.
	rl_ok "stop it" "$U" stop -t 1 lim
	rl_ok "rm it" "$U" rm lim
	for _ in $(seq 100); do [ -z "$(made)" ] && break; sleep 0.1; done
	check "... then nothing is left in the cgroup" test -z "$(made)"
	AS_CGROUP=$CG as "$U" sleep 300 &
	for _ in $(seq 50); do grep -q . "$CG/cgroup.procs" && break; sleep 0.1; done
	AS_CGROUP=$CG rl_fail "with another process in the cgroup: refused, naming it" 125 "holds 1 other process" \
		"$U" run --rm --pids-limit 7 busybox true
	# The sleep this test put there.
	kill $(cat "$CG/cgroup.procs")
	wait
	check "... and nothing is left in the cgroup" test -z "$(made)"
fi

check "no process of the user is left" sh -c "! pgrep -u '$U' >/dev/null"
finish
