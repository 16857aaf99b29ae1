#!/bin/bash
# export --format initramfs and --format disk: what a VM boots. The
# archives keep owners, modes, device nodes and hardlinks; an image without
# /init gets one that runs its command; the disk is ext4 made by mke2fs -d
# with the free space asked for. Then the real thing: qemu (TCG; this
# machine's /dev/kvm is kvm-pvm, which a stock kernel cannot use) boots
# each with a Debian kernel and the image's command prints a marker on the
# serial console and powers the VM off. The kernel is /boot's when its
# modules are installed, else Debian's linux-image package, downloaded once
# into build/test-kernel/ (tests/integration/kernel.sh).
. "$(dirname "$0")/lib.sh"

build_busybox || finish

# ---- an image with a device node, a setuid file, a hardlink, its own /init
python3 - "$T/arch" <<'PY'
import hashlib, io, json, os, sys, tarfile
d = sys.argv[1]
os.makedirs(d)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    def add(name, typ, mode, data=b"", uid=0, gid=0, link="", major=0, minor=0, xattrs=None):
        i = tarfile.TarInfo(name)
        i.type, i.mode, i.uid, i.gid, i.size, i.mtime = typ, mode, uid, gid, len(data), 1700000000
        i.linkname, i.devmajor, i.devminor = link, major, minor
        i.pax_headers = {"SCHILY.xattr." + k: v for k, v in (xattrs or {}).items()}
        t.addfile(i, io.BytesIO(data) if data else None)
    add("dev", tarfile.DIRTYPE, 0o755)
    add("dev/null", tarfile.CHRTYPE, 0o666, major=1, minor=3)
    add("bin", tarfile.DIRTYPE, 0o755)
    add("bin/tool", tarfile.REGTYPE, 0o4750, b"#!tool\n", uid=1234, gid=5678, xattrs={"user.cairn": "kept"})
    add("bin/tool-link", tarfile.LNKTYPE, 0o4750, link="bin/tool", uid=1234, gid=5678)
    add("init", tarfile.REGTYPE, 0o755, b"#!/own/init\n")
layer = buf.getvalue()
open(os.path.join(d, "layer.tar"), "wb").write(layer)
cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/tool"]},
       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}
open(os.path.join(d, "config.json"), "w").write(json.dumps(cfg))
open(os.path.join(d, "manifest.json"), "w").write(json.dumps(
    [{"Config": "config.json", "RepoTags": ["nodes:1"], "Layers": ["layer.tar"]}]))
PY
tar -C "$T/arch" -cf "$T/arch.tar" manifest.json config.json layer.tar
expect_ok "load an image with a device node, a setuid file owned 1234:5678, a hardlink and /init" \
	load -i "$T/arch.tar"

# A newc cpio as the kernel reads it: name mode uid gid nlink rdev size.
cpio_list() {
	python3 - "$1" <<'PY'
import gzip, sys
d, o = gzip.open(sys.argv[1]).read(), 0
while True:
    h = d[o:o + 110]
    assert h[:6] == b"070701", "not newc at %d" % o
    ino, mode, uid, gid, nlink, mtime, size, dmaj, dmin, rmaj, rmin, nsize, chk = \
        [int(h[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
    name = d[o + 110:o + 110 + nsize - 1].decode()
    o = (o + 110 + nsize + 3) & ~3
    data = d[o:o + size]
    o = (o + size + 3) & ~3
    if name == "TRAILER!!!":
        break
    print(name, "%o" % mode, uid, gid, nlink, "%d:%d" % (rmaj, rmin), size, data[:20])
PY
}

expect_ok "export --format initramfs" export --format initramfs nodes:1 "$T/nodes.cpio.gz"
cpio_list "$T/nodes.cpio.gz" >"$T/nodes.list" 2>&1
check "it is a gzip newc cpio" test -s "$T/nodes.list"
check "the device node is kept (char 1:3, 0666)" grep -q '^dev/null 20666 0 0 1 1:3 0 ' "$T/nodes.list"
check "owner and setuid mode are kept" grep -q '^bin/tool 104750 1234 5678 2 ' "$T/nodes.list"
check "the hardlink's two names share the data once (newc: on the last name)" \
	test "$(grep -cE '^bin/tool(-link)? 104750 1234 5678 2 0:0 7 ' "$T/nodes.list")" = 1
check "the image's own /init is kept" grep -q "^init 100755 0 0 1 0:0 12 b'#!/own/init" "$T/nodes.list"
check "/dev/console is added for the first process's stdio" grep -q '^dev/console 20600 0 0 1 5:1 0 ' "$T/nodes.list"

expect_ok "export --format lxc of the same image" export --format lxc nodes:1 "$T/nodes-lxc"
tar --numeric-owner -tvJf "$T/nodes-lxc/rootfs.tar.xz" >"$T/nodes-tar.list" 2>&1
check "rootfs.tar.xz keeps the device node" grep -qE '^crw-rw-rw- 0/0 +1,3 .* \./dev/null$' "$T/nodes-tar.list"
check "... and the hardlink" grep -qE '^hrwsr-x--- 1234/5678 .* \./bin/tool(-link)? link to \./bin/tool(-link)?$' "$T/nodes-tar.list"

# ---- rootfs-tar, compressed (LXC and OpenVZ take xz rootfs tarballs)
tar_members() {   # FILE: name mode uid gid type rdev link user.cairn-xattr, one member a line
	python3 - "$1" <<'PY'
import subprocess, sys, tarfile, io
f = sys.argv[1]
data = open(f, "rb").read()
if data[:4] == b"\x28\xb5\x2f\xfd":
    data = subprocess.run(["zstd", "-dc"], input=data, capture_output=True, check=True).stdout
with tarfile.open(fileobj=io.BytesIO(data)) as t:
    for m in t.getmembers():
        print(m.name.lstrip("./") or ".", "%o" % m.mode, m.uid, m.gid, m.type.decode(), "%d:%d" % (m.devmajor, m.devminor),
              m.linkname.lstrip("./") or "-", m.pax_headers.get("SCHILY.xattr.user.cairn", "-"))
PY
}
for c in xz zstd gzip none; do
	expect_ok "export --format rootfs-tar --compression-format $c" \
		export --format rootfs-tar --compression-format $c nodes:1 "$T/nodes-$c.tar"
	tar_members "$T/nodes-$c.tar" >"$T/nodes-$c.list" 2>&1
	check "... keeps the device node" grep -q '^dev/null 666 0 0 3 1:3 - -$' "$T/nodes-$c.list"
	check "... keeps owner, setuid mode and the user xattr" grep -qE '^bin/tool(-link)? 4750 1234 5678 0 0:0 - kept$' "$T/nodes-$c.list"
	check "... and the hardlink" grep -qE '^bin/tool(-link)? 4750 1234 5678 1 0:0 bin/tool(-link)? ' "$T/nodes-$c.list"
done
check "xz is xz" test "$(head -c 6 "$T/nodes-xz.tar" | od -An -tx1 | tr -d ' ')" = fd377a585a00
expect_fail "rootfs-tar takes no other compression" 2 "is not gzip, zstd, xz or none" \
	export --format rootfs-tar --compression-format bzip2 nodes:1 "$T/nodes-bz.tar"
expect_fail "xz is for rootfs-tar only" 2 "is not gzip, zstd or none" \
	export --format oci-archive --compression-format xz nodes:1 "$T/nodes-oci.tar"

# ---- the busybox image the VMs boot: its command prints a marker
buildfile "$T/vm" <<'EOF'
FROM busybox:latest
ENV MARKER=cairn-vm-marker
WORKDIR /tmp
CMD ["/bin/sh", "-c", "echo $MARKER in $(pwd) as pid $$ on $(cat /proc/sys/kernel/ostype); poweroff -f"]
EOF
expect_ok "build a busybox image whose command prints a marker and powers off" build -q -t vmtest:1 "$T/vm"
expect_ok "export it as an initramfs" export --format initramfs vmtest:1 "$T/vm.cpio.gz"
cpio_list "$T/vm.cpio.gz" >"$T/vm.list" 2>&1
check "an /init is added (the image has none)" grep -q '^init 100755 0 0 1 ' "$T/vm.list"
mkdir -p "$T/vm-root" && (cd "$T/vm-root" && zcat "$T/vm.cpio.gz" | busybox cpio -i -d init 2>/dev/null)
check "... which runs the image's command with its env and workdir" \
	sh -c "grep -qx \"export 'MARKER=cairn-vm-marker'\" '$T/vm-root/init' && grep -qx \"cd '/tmp' || exit 1\" '$T/vm-root/init'"
mkdir -p "$T/noinit"
printf 'data\n' >"$T/noinit/file"
buildfile "$T/noinit" <<'EOF'
FROM scratch
COPY file /file
EOF
expect_ok "build an image with one file" build -q -t noinit:1 "$T/noinit"
expect_fail "an image with neither /init nor /bin/sh is refused, saying why" 1 "no /init, and no /bin/sh" \
	export --format initramfs noinit:1 "$T/x.cpio.gz"

# The image's absolute symlinks resolve inside its tree, never on the host
# (which has /usr/bin/sh): bin -> /usr/bin with no shell in usr/bin;
# sbin -> /usr/sbin, where a disk export adds init.
symlinked_image() {   # DIR TAG WITH-SH
	python3 - "$@" <<'PY'
import hashlib, io, json, os, sys, tarfile
d, tag, with_sh = sys.argv[1], sys.argv[2], sys.argv[3] == "yes"
os.makedirs(d)
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    def add(name, typ, mode, data=b"", link=""):
        i = tarfile.TarInfo(name)
        i.type, i.mode, i.size, i.linkname = typ, mode, len(data), link
        t.addfile(i, io.BytesIO(data) if data else None)
    add("usr", tarfile.DIRTYPE, 0o755)
    add("usr/bin", tarfile.DIRTYPE, 0o755)
    add("bin", tarfile.SYMTYPE, 0o777, link="/usr/bin")
    add("usr/sbin", tarfile.DIRTYPE, 0o755)
    add("sbin", tarfile.SYMTYPE, 0o777, link="/usr/sbin")
    if with_sh:
        add("usr/bin/sh", tarfile.REGTYPE, 0o755, b"#!image-sh\n")
layer = buf.getvalue()
open(os.path.join(d, "layer.tar"), "wb").write(layer)
cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}
open(os.path.join(d, "config.json"), "w").write(json.dumps(cfg))
open(os.path.join(d, "manifest.json"), "w").write(json.dumps(
    [{"Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"]}]))
PY
	tar -C "$1" -cf "$1.tar" manifest.json config.json layer.tar
}
symlinked_image "$T/binlink" binlink:1 no
expect_ok "load an image whose bin is a symlink to /usr/bin, with no shell there" load -i "$T/binlink.tar"
expect_fail "... it is refused for having no /bin/sh (the host's /usr/bin/sh is not the image's)" 1 \
	"no /init, and no /bin/sh" export --format initramfs binlink:1 "$T/binlink.cpio.gz"
symlinked_image "$T/binlink-sh" binlink:2 yes
expect_ok "load the same with usr/bin/sh" load -i "$T/binlink-sh.tar"
expect_ok "... its /bin/sh is found through its own absolute symlink" \
	export --format initramfs binlink:2 "$T/binlink-sh.cpio.gz"
cpio_list "$T/binlink-sh.cpio.gz" >"$T/binlink-sh.list" 2>&1
check "... and it gets the /init launcher" grep -q '^init 100755 0 0 1 ' "$T/binlink-sh.list"

# ---- disk
if ! command -v mke2fs >/dev/null && [ ! -x /usr/sbin/mke2fs ] && [ ! -x /sbin/mke2fs ]; then
	skip "export --format disk" "mke2fs (Debian package e2fsprogs) is not installed"
	finish
fi
expect_ok "export --format disk --size 16m" export --format disk --size 16m vmtest:1 "$T/vm.img"
check "the disk is a clean ext4 file system (e2fsck -fn)" e2fsck -fn "$T/vm.img"
free=$(dumpe2fs -h "$T/vm.img" 2>/dev/null | awk -F: '/^Free blocks/ {f=$2} /^Block size/ {b=$2} END {print f*b}')
check "it has at least the 16 MiB of free space asked for (has $free bytes)" test "$free" -ge $((16 << 20))
debugfs -R 'stat /sbin/init' "$T/vm.img" >"$T/dbg" 2>&1
check "the disk's /sbin/init links to the added /init (a kernel mounting it without an initrd runs /sbin/init)" \
	sh -c "grep -q 'Type: symlink' '$T/dbg' && grep -q 'Fast link dest: \"/init\"' '$T/dbg'"
check "... and not much more (under 64 MiB)" test "$free" -lt $((64 << 20))
expect_ok "export the image with the device node as a disk" export --format disk nodes:1 "$T/nodes.img"
debugfs -R 'stat /dev/null' "$T/nodes.img" >"$T/dbg" 2>&1
check "the disk keeps the device node" grep -q 'Type: character special' "$T/dbg"
debugfs -R 'stat /bin/tool' "$T/nodes.img" >"$T/dbg" 2>&1
check "the disk keeps owner, mode and links" \
	sh -c "grep -q 'User:  1234   Group:  5678' '$T/dbg' && grep -q 'Mode:  04750' '$T/dbg' && grep -q 'Links: 2' '$T/dbg'"
debugfs -R 'stat /sbin/init' "$T/nodes.img" >"$T/dbg" 2>&1
check "... an image with its own /init and no /sbin/init gets /sbin/init -> /init too" \
	sh -c "grep -q 'Type: symlink' '$T/dbg' && grep -q 'Fast link dest: \"/init\"' '$T/dbg'"
host_sbin_init=$(ls -ld /usr/sbin/init 2>&1)
expect_ok "export the image whose sbin is a symlink to /usr/sbin as a disk" export --format disk binlink:2 "$T/binlink.img"
debugfs -R 'stat /usr/sbin/init' "$T/binlink.img" >"$T/dbg" 2>&1
check "... /sbin/init is made in the image's own usr/sbin" \
	sh -c "grep -q 'Type: symlink' '$T/dbg' && grep -q 'Fast link dest: \"/init\"' '$T/dbg'"
check "... and the host's /usr/sbin/init is untouched" test "$(ls -ld /usr/sbin/init 2>&1)" = "$host_sbin_init"
expect_fail "--kernel must be a vmlinuz-VERSION" 1 "not named vmlinuz-VERSION" \
	export --format disk --kernel "$T/vm.img" vmtest:1 "$T/vm2.img"
check "nothing is left of a failed disk export" sh -c "! ls -A '$T' | grep -q 'vm2'"
check "no temp dirs left in the store" no_tmp_left

# ---- boots
. "$TESTS_DIR/integration/kernel.sh"
if [ "$(uname -m)" != x86_64 ] || ! command -v qemu-system-x86_64 >/dev/null; then
	skip "qemu boots the initramfs and the disk" "qemu-system-x86_64 (Debian package qemu-system-x86) is not installed"
	finish
fi
if ! KERNEL=$(find_test_kernel 2>"$T/kernel.err"); then
	skip "qemu boots the initramfs and the disk" "no kernel: $(tail -1 "$T/kernel.err")"
	finish
fi
echo "# kernel: $KERNEL"
# Bounded by timeout: a VM that does not power off is killed and fails.
boot() {   # LOG QEMU-ARGS...
	local log=$1; shift
	timeout 60 qemu-system-x86_64 -nographic -no-reboot -m 512 -smp 1 -accel tcg -kernel "$@" \
		</dev/null >"$log" 2>&1
}
boot "$T/boot-initramfs.log" "$KERNEL" -initrd "$T/vm.cpio.gz" -append 'console=ttyS0 panic=-1 quiet'
if grep -aq 'cairn-vm-marker in /tmp as pid 1 on Linux' "$T/boot-initramfs.log"; then
	pass "qemu boots the initramfs: the image's command runs as pid 1 and prints its marker"
else
	fail "qemu boot of the initramfs: no marker"
	tr -d '\r' <"$T/boot-initramfs.log" | tail -15 | sed 's/^/#   /'
fi
expect_ok "export --format disk --kernel" export --format disk --kernel "$KERNEL" vmtest:1 "$T/boot.img"
check "the kernel and its initramfs are next to the disk" test -s "$T/boot.vmlinuz" -a -s "$T/boot.initrd"
check "cairn says how to boot it" grep -q "qemu-system-x86_64 .* -kernel $T/boot.vmlinuz -initrd $T/boot.initrd" "$T/out"
boot "$T/boot-disk.log" "$T/boot.vmlinuz" -initrd "$T/boot.initrd" -drive "file=$T/boot.img,format=raw,if=virtio" \
	-append 'console=ttyS0 panic=-1 quiet'
if grep -aq 'cairn-vm-marker in /tmp as pid 1 on Linux' "$T/boot-disk.log"; then
	pass "qemu boots the disk (virtio, ext4 modules loaded by the initramfs) and the command prints its marker"
else
	fail "qemu boot of the disk: no marker"
	tr -d '\r' <"$T/boot-disk.log" | tail -15 | sed 's/^/#   /'
fi
finish
