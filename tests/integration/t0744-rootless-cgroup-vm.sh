#!/bin/bash
# Rootless --memory, --cpus and --pids-limit for real on a cgroup v2 host
# with systemd's delegation (issue 10), which this hybrid cgroup-v1 host is
# not: cairn builds a Debian 12 image with systemd (vm-cgroup2/Buildfile:
# a lingering user with a subuid range, a unit that runs the checks at
# boot), exports it with `export --format disk --kernel`, and qemu (TCG)
# boots it. The cairn under test and vm-cgroup2/inside.sh come on a second
# disk; inside the VM the user builds busybox, runs containers with limits
# from `systemd-run --user --scope -p Delegate=yes`, and the checks print
# "vm: ok - ..." lines on the serial console, counted here. As root it
# then checks `cairn run --systemd` on cgroup v2: busybox's view of its
# cgroup2 mount, and the VM's own systemd booted as a container's pid 1
# (an image FROM scratch of hard links to the VM's files), ~45 s more.
# CAIRN_VM_ONLY=systemd runs that part alone.
#
# Slow (Debian base + apt-get the first time, then a boot under TCG), so
# only with CAIRN_SLOW_TESTS=1. Cached under build/vm-cgroup2/: a store
# holding debian:12 and the VM image (cairn's own build cache decides what
# to rebuild), and the exported disk of the current image id and kernel.
. "$(dirname "$0")/lib.sh"

if [ "${CAIRN_SLOW_TESTS:-}" != 1 ]; then
	skip "rootless cgroup limits in a cgroup v2 VM" \
		"slow (a Debian VM image, built once, and a qemu boot without KVM: ~1 min, ~2 min the first time): set CAIRN_SLOW_TESTS=1"
	finish
fi
. "$TESTS_DIR/integration/kernel.sh"
if [ "$(uname -m)" != x86_64 ] || ! command -v qemu-system-x86_64 >/dev/null; then
	skip "rootless cgroup limits in a cgroup v2 VM" "qemu-system-x86_64 (Debian package qemu-system-x86) is not installed"
	finish
fi
for tool in mke2fs dpkg ldd; do
	command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] ||
		{ skip "rootless cgroup limits in a cgroup v2 VM" "$tool is missing"; finish; }
done
VM=$REPO_DIR/build/vm-cgroup2
tar=${DEBIAN_CACHE:-$REPO_DIR/build/debian}/bookworm-minbase-$(dpkg --print-architecture)/rootfs.tar
if [ ! -s "$tar" ] && ! command -v debootstrap >/dev/null; then
	skip "rootless cgroup limits in a cgroup v2 VM" "no cached Debian rootfs.tar and debootstrap is not installed"
	finish
fi
if ! KERNEL=$(find_test_kernel 2>"$T/kernel.err"); then
	skip "rootless cgroup limits in a cgroup v2 VM" "no kernel: $(tail -1 "$T/kernel.err")"
	finish
fi
KVER=${KERNEL##*/vmlinuz-}
MODS=$(dirname "$KERNEL")/../lib/modules/$KVER
[ -d "$MODS" ] || MODS=/lib/modules/$KVER
echo "# kernel: $KERNEL"

# ---- the VM image, in the cached store
mkdir -p "$VM"
export CAIRN_ROOT=$VM/store
t0=$(date +%s)
if CAIRN=$CAIRN "$REPO_DIR/examples/debian/build.sh" -q >"$T/debian.out" 2>&1; then
	pass "debian:12 (examples/debian/build.sh) in build/vm-cgroup2/store"
else
	fail "debian:12 (examples/debian/build.sh)"
	sed 's/^/#   /' "$T/debian.out" | tail -20
	finish
fi
# The Debian packages of the libraries cairn links, as the VM installs them,
# and of the three it loads when first used (src/util/lazylib.h).
libs=$({ ldd "$CAIRN" | awk '$2 == "=>" && $3 ~ /^\// {print $3}'
	for so in libcurl.so.4 libnftables.so.1 libarchive.so.13; do
		ldconfig -p | awk -v s="$so" '$1 == s && $NF ~ /^\// {print $NF; f = 1; exit}
			END {if (!f) print "not-found-" s}'
	done; } | while read -r l; do
	dpkg -S "$l" 2>/dev/null || dpkg -S "$(realpath "$l")" 2>/dev/null || echo "unknown:$l"
done | cut -d: -f1 | sort -u | tr '\n' ' ')
check "every library cairn links is from a Debian package ($libs)" sh -c "! echo '$libs' | grep -q unknown"
ctx=$T/base
mkdir -p "$ctx/modules/kernel/fs"
cp "$TESTS_DIR/integration/vm-cgroup2/Buildfile" "$TESTS_DIR/integration/vm-cgroup2/cairn-vmtest.service" "$ctx/"
cp "$MODS"/modules.order "$MODS"/modules.builtin "$MODS"/modules.builtin.modinfo "$ctx/modules/"
cp -r "$MODS/kernel/fs/overlayfs" "$ctx/modules/kernel/fs/"
expect_ok "build the VM image: Debian 12 with systemd, a lingering user, the test unit" \
	build -q --build-arg "LIBS=$libs" --build-arg "KVER=$KVER" -t cairn-vm:base "$ctx"
id=$(tr -d '\n' <"$T/out")
id=${id#sha256:}
disk=$VM/disk-${id:0:12}-$KVER
if [ ! -s "$disk.img" ]; then
	rm -f "$VM"/disk-*
	expect_ok "export it: --format disk --kernel (cached as build/vm-cgroup2/${disk##*/}.img)" \
		export --format disk --size 512m --kernel "$KERNEL" cairn-vm:base "$disk.img"
fi
check "the disk, its kernel and initrd are there" test -s "$disk.img" -a -s "$disk.vmlinuz" -a -s "$disk.initrd"
echo "# VM image ready in $(($(date +%s) - t0)) s"

# ---- the test disk: the cairn under test, the script, the contexts
td=$T/tdisk
mkdir -p "$td/ctx/fits" "$td/ctx/oom"
install -m 0755 "$CAIRN" "$td/cairn"
install -m 0755 "$TESTS_DIR/integration/vm-cgroup2/inside.sh" "$td/inside.sh"
cp -r "$REPO_DIR/examples/busybox" "$td/ctx/bb"
install -m 0755 /bin/busybox "$td/ctx/bb/busybox"
printf 'FROM busybox\nRUN dd if=/dev/zero of=/dev/null bs=8M count=2 && for i in 1 2 3; do sleep 0 & done; wait\n' \
	>"$td/ctx/fits/Buildfile"
printf 'FROM busybox\nRUN dd if=/dev/zero of=/dev/null bs=64M count=1\n' >"$td/ctx/oom/Buildfile"
mkdir -p "$td/ctx/multi"
cat >"$td/ctx/multi/Buildfile" <<'EOF'
FROM busybox AS a
RUN dd if=/dev/zero of=/dev/null bs=8M count=2 && echo a >/a
FROM busybox AS b
RUN dd if=/dev/zero of=/dev/null bs=8M count=2 && echo b >/b
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
RUN cat /a /b
EOF
# t0741, to run as written on a cgroup v2 host.
mkdir -p "$td/repo/tests/integration" "$td/repo/examples"
cp "$TESTS_DIR"/integration/{lib.sh,rootless.sh,t0741-rootless-cgroup.sh} "$td/repo/tests/integration/"
cp -r "$REPO_DIR/examples/busybox" "$td/repo/examples/"
rm -f "$td/repo/examples/busybox/busybox"
# CAIRN_VM_ONLY=systemd: only inside.sh's --systemd part, to work on it.
[ -z "${CAIRN_VM_ONLY:-}" ] || echo "$CAIRN_VM_ONLY" >"$td/only"
chmod -R a+rX "$td"
check "make the test disk (mke2fs -d)" "$(command -v mke2fs || echo /usr/sbin/mke2fs)" -q -F -t ext4 -d "$td" "$T/test.img" 64M

# ---- boot: -snapshot keeps the cached disk as exported. ~2.5 min here
# (systemd reaches the test unit ~15 s after the kernel starts, the user's
# checks ~25 s, the --systemd part ~45 s); 480 s is the bound for a loaded
# machine, past it the VM is killed and fails.
t0=$(date +%s)
timeout 480 qemu-system-x86_64 -nographic -no-reboot -m 1024 -smp 2 -accel tcg -snapshot \
	-kernel "$disk.vmlinuz" -initrd "$disk.initrd" \
	-drive "file=$disk.img,format=raw,if=virtio" -drive "file=$T/test.img,format=raw,if=virtio" \
	-append 'console=ttyS0 panic=-1 quiet loglevel=3 systemd.show_status=error' \
	</dev/null >"$T/vm.log" 2>&1
qs=$?
secs=$(($(date +%s) - t0))
tr -d '\r' <"$T/vm.log" | grep -a '^vm: ' | sed 's/^vm: //' >"$T/vm.tap"
echo "# qemu ran $secs s (status $qs)"
while IFS= read -r line; do
	case $line in
	"not ok - "*) fail "VM: ${line#not ok - }" ;;
	"ok - "*) pass "VM: ${line#ok - }" ;;
	done) ;;
	*) echo "$line" ;;
	esac
done <"$T/vm.tap"
if grep -qx "done" "$T/vm.tap" && [ "$qs" = 0 ]; then
	pass "the VM booted systemd, ran every check and powered off ($secs s under TCG)"
else
	fail "the VM ran the checks to the end and powered off (qemu status $qs after $secs s)"
	tr -d '\r' <"$T/vm.log" | grep -av '^vm: ' | tail -30 | sed 's/^/#   /'
fi
finish
