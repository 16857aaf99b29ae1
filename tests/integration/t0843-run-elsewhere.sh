#!/bin/bash
# README's "Run it elsewhere": every line of its block is run as written, in
# order, in one scratch directory, on examples/hello built as hello:1. So
# that the test leaves nothing outside its own directory, four commands
# are shell functions that add one option or step: podman gets a private
# storage (--root/--runroot), lxc-create and lxc-execute a container path
# (-P), systemd-nspawn runs in the test's cgroup (nspawn.sh; the cgroups it
# makes are removed after).
# docker runs only where a daemon answers and has no hello:1 of its own (its
# copy is removed after). qemu gets $KERNEL (kernel.sh) when /boot has no
# kernel with modules. A line whose runtime is absent is skipped, saying so.
. "$(dirname "$0")/lib.sh"
. "$TESTS_DIR/integration/kernel.sh"
. "$TESTS_DIR/integration/nspawn.sh"

build_busybox || finish
expect_ok "build examples/hello as hello:1" build -q -t hello:1 "$REPO_DIR/examples/hello"
sed -n '/<!-- run-elsewhere: begin -->/,/<!-- run-elsewhere: end -->/p' "$REPO_DIR/README.md" |
	sed -n 's/^    //p' >"$T/lines"
check "README has the block (at least 12 lines)" test "$(wc -l <"$T/lines")" -ge 12

if command -v qemu-system-x86_64 >/dev/null && [ "$(uname -m)" = x86_64 ] && KERNEL=$(find_test_kernel 2>"$T/kernel.err"); then
	export KERNEL
	echo "# kernel: $KERNEL"
else
	KERNEL=
fi
docker_ok=false
if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1 &&
	! docker image inspect hello:1 >/dev/null 2>&1; then
	docker_ok=true
fi
lxc_ok() { command -v lxc-create >/dev/null && [ -x "/usr/share/lxc/templates/lxc-$1" ]; }

cat >"$T/prelude.sh" <<PRE
cairn() { "$CAIRN" "\$@"; }
podman() { command podman --root "$T/podman/root" --runroot "$T/podman/run" --storage-driver vfs "\$@"; }
lxc-create() { command lxc-create -P "$T/lxc" "\$@"; }
lxc-execute() { command lxc-execute -P "$T/lxc" "\$@" </dev/null; }
systemd-nspawn() { ( $(nspawn_cg_script '$BASHPID'); exec systemd-nspawn "\$@" ) }
PRE
mkdir -p "$T/elsewhere"
n=0
while IFS= read -r line; do
	n=$((n + 1))
	why=
	want=
	case $line in
	*"runc run"*) command -v runc >/dev/null || why="runc is not installed"; want="hello from cairn" ;;
	*"podman load"*) command -v podman >/dev/null || why="podman is not installed"; want="Loaded image" ;;
	*"docker load"*) $docker_ok || why="no docker daemon here (or it has a hello:1)"; want="Loaded image" ;;
	lxc-create*"-t local"*) lxc_ok local || why="lxc or lxc-templates is not installed" ;;
	lxc-create*"-t oci"*) lxc_ok oci && command -v skopeo >/dev/null && command -v umoci >/dev/null ||
		why="lxc-templates, skopeo or umoci is not installed" ;;
	"lxc-execute -n hello") lxc_ok local || why="lxc is not installed"; want="hello from cairn" ;;
	"lxc-execute -n hello-oci") lxc_ok oci || why="lxc is not installed"; want="hello from cairn" ;;
	systemd-nspawn*) command -v systemd-nspawn >/dev/null || why="systemd-nspawn is not installed"
		want="built by root in /app" ;;
	*"format disk"*) command -v mke2fs >/dev/null || [ -x /usr/sbin/mke2fs ] || why="mke2fs is not installed"
		[ -n "$KERNEL" ] || why="no qemu or no kernel" ;;
	qemu-system-x86_64*) [ -n "$KERNEL" ] || why="no qemu or no kernel"; want="hello from cairn" ;;
	esac
	if [ -n "$why" ]; then
		skip "README line $n: $line" "$why"
		continue
	fi
	# Bounded: a VM or container that does not end is killed and fails.
	(cd "$T/elsewhere" && timeout 120 bash -c ". '$T/prelude.sh'; $line") >"$T/line$n.out" 2>&1 </dev/null
	rc=$?
	if [ $rc -eq 0 ] && { [ -z "$want" ] || grep -aq "$want" "$T/line$n.out"; }; then
		pass "README line $n: $line"
	else
		fail "README line $n: $line (status $rc${want:+, want '$want'})"
		tr -d '\r' <"$T/line$n.out" | tail -10 | sed 's/^/#   /'
	fi
done <"$T/lines"
if $docker_ok; then
	docker rmi hello:1 >/dev/null 2>&1
fi
check "no process left in systemd-nspawn's cgroups" test -z "$(nspawn_cg_pids)"
check "its cgroups (payload, supervisor), empty, removed after" nspawn_cg_remove
finish
