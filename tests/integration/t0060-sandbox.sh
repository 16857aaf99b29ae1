#!/bin/bash
# What a RUN step sees: its own pid/uts/ipc/mount namespaces, /proc, a
# minimal /dev, read-only resolv.conf and hosts, docker's capabilities,
# the image's users; and what it leaves: no stubs, no processes.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
mkdir -p "$T/sb"
buildfile "$T/sb" <<'EOF2'
FROM busybox
RUN test "$(hostname)" = cairn
RUN test "$(ls -d /proc/[0-9]* | wc -l)" -le 5
RUN test "$(cat /proc/1/status | grep -c '^PPid:.0$')" = 1
RUN for n in null zero full random urandom tty; do test -c /dev/$n || exit 1; done; test -d /dev/pts && test -L /dev/ptmx
RUN test "$(df -k /dev/shm | awk 'NR==2 {print $2}')" = 65536
RUN echo x > /dev/shm/x && test -f /dev/shm/x
RUN test -e /etc/resolv.conf && ! sh -c 'echo x >> /etc/resolv.conf' 2>/dev/null
RUN grep -q '^CapBnd:.00000000a80425fb$' /proc/self/status && grep -q '^CapEff:.00000000a80425fb$' /proc/self/status
RUN grep -q '^CapInh:.0000000000000000$' /proc/self/status && grep -q '^CapAmb:.0000000000000000$' /proc/self/status
RUN test "$(ls /proc/self/fd | tr '\n' ' ')" = "0 1 2 3 "
RUN test "$(head -c 3 /dev/zero | wc -c)" = 3 && ! test -t 0
RUN test -p /proc/self/fd/1 && test -p /proc/self/fd/2
RUN grep -q '^NoNewPrivs:.1$' /proc/self/status
RUN grep -q '^Seccomp:.2$' /proc/self/status && grep -q '^Seccomp:.2$' /proc/1/status
RUN ! mount -t tmpfs none /mnt 2>/dev/null && ! umount /proc 2>/dev/null && ! unshare -U true 2>/dev/null && ! unshare -n true 2>/dev/null
RUN ! sh -c 'echo x > /sys/kernel/uevent_helper' 2>/dev/null && ! touch /sys/x 2>/dev/null
RUN ! sh -c 'echo x > /proc/sys/kernel/hostname' 2>/dev/null && test "$(hostname)" = cairn
RUN grep -q '^0::/$' /proc/self/cgroup && ! grep -qv ':/$' /proc/self/cgroup
RUN test "$(awk '$2 == "/dev/shm" {print $3}' /proc/mounts)" = tmpfs && test "$(awk '$2 == "/dev/pts" {print $3}' /proc/mounts)" = devpts && test -c /dev/pts/ptmx
RUN ! sh -c 'echo cairn-test > /proc/sys/kernel/core_pattern' 2>/dev/null
RUN ! sh -c 'echo h > /proc/sysrq-trigger' 2>/dev/null
RUN test "$(cat /proc/kcore /proc/keys /proc/timer_list 2>/dev/null | wc -c)" = 0
RUN test -z "$(ls /sys/firmware)"
RUN mknod /dev/mem2 c 1 1 && ! head -c 1 /dev/mem2 >/dev/null 2>&1
RUN mknod /tmp/zero2 c 1 5 && ! head -c 1 /tmp/zero2 >/dev/null 2>&1 && rm /tmp/zero2
RUN grep -q '127.0.0.1.*localhost cairn' /etc/hosts
RUN echo 'grp:x:2000:' >> /etc/group && echo 'bob:x:1500:2000::/home/bob:/bin/sh' >> /etc/passwd && sed -i 's/^users:x:100:$/users:x:100:daemon,bob/' /etc/group
USER bob
RUN test "$(id -u):$(id -g)" = 1500:2000 && id -G | grep -qw 100 && test "$HOME" = /home/bob
USER 1501:2001
RUN test "$(id -u):$(id -g)" = 1501:2001
USER root
RUN true
WORKDIR /made/by/workdir
RUN test "$(pwd)" = /made/by/workdir
EOF2
core_before=$(cat /proc/sys/kernel/core_pattern)
host_before=$(hostname)
mounts_before=$(wc -l </proc/self/mountinfo)
expect_ok "RUN steps see the sandbox they should" build -t sb:1 "$T/sb"
check "the host's core_pattern is unchanged" test "$(cat /proc/sys/kernel/core_pattern)" = "$core_before"
check "the host's hostname is unchanged" test "$(hostname)" = "$host_before"
check "no mount left in the host's namespace" test "$(wc -l </proc/self/mountinfo)" = "$mounts_before"
check "no mount under the test dir" no_mounts_left

# An image whose /dev or /proc is a symlink is refused (CVE-2019-19921 class).
for d in dev proc; do
	mkdir -p "$T/link-$d/root"
	ln -s /tmp "$T/link-$d/root/$d"
	printf 'FROM busybox\nCOPY root/ /\nRUN true\n' | buildfile "$T/link-$d"
	expect_fail "RUN on an image whose /$d is a symlink is refused" 1 "/$d in the image is not a directory; refusing to mount on it" build "$T/link-$d"
done
check "nothing was mounted on the host's /tmp" no_mounts_left

cfg=$(image_config sb:1)
check "steps that change nothing make no layer (stubs are not kept)" \
	test "$(jq '[.history[] | select(.created_by | test("^RUN (true|test|grep|for)")) | .empty_layer] | all' <<<"$cfg")" = true
check "the WORKDIR is created, as BuildKit does" unpack_with_umoci sb:1 "$T/sbroot"
check "workdir exists in the image" test -d "$T/sbroot/rootfs/made/by/workdir"
check "no /proc, /dev, /sys or /etc/resolv.conf stubs in the image" \
	test ! -e "$T/sbroot/rootfs/proc" -a ! -e "$T/sbroot/rootfs/dev" -a ! -e "$T/sbroot/rootfs/sys" -a ! -e "$T/sbroot/rootfs/etc/resolv.conf"
check "users added by RUN are in the image" grep -q '^bob:x:1500:2000' "$T/sbroot/rootfs/etc/passwd"

# Network: a private one on the cairn0 bridge by default (t0700 has the
# rest), host or none (loopback only) on request.
mkdir -p "$T/net"
printf 'FROM busybox\nRUN ls /sys/class/net | tr "\\n" " " > /ifaces\n' | buildfile "$T/net"
expect_ok "--network none" build -t net:none --network none "$T/net"
unpack_with_umoci net:none "$T/netroot"
check "--network none sees only loopback" test "$(cat "$T/netroot/rootfs/ifaces")" = "lo "
expect_ok "default network" build -t net:default "$T/net"
unpack_with_umoci net:default "$T/netroot2"
check "the default network has its veth and loopback" test "$(cat "$T/netroot2/rootfs/ifaces")" = "eth0 lo "
expect_ok "--network host" build -t net:host --network host "$T/net"
unpack_with_umoci net:host "$T/netroot4"
check "host network sees the host's interfaces" test "$(cat "$T/netroot4/rootfs/ifaces")" = "$(ls /sys/class/net | tr '\n' ' ')"
mkdir -p "$T/net2"
printf 'FROM busybox\nRUN --network=none ls /sys/class/net | tr "\\n" " " > /ifaces\n' | buildfile "$T/net2"
expect_ok "RUN --network=none" build -t net:flag "$T/net2"
unpack_with_umoci net:flag "$T/netroot3"
check "RUN --network=none sees only loopback" test "$(cat "$T/netroot3/rootfs/ifaces")" = "lo "

# Its own cgroup namespace, not the host's.
mkdir -p "$T/cgns"
printf 'FROM busybox\nRUN readlink /proc/self/ns/cgroup > /cgns\n' | buildfile "$T/cgns"
expect_ok "a step records its cgroup namespace" build -t cgns:1 "$T/cgns"
unpack_with_umoci cgns:1 "$T/cgnsroot"
check "a RUN step has a cgroup namespace of its own" \
	test -s "$T/cgnsroot/rootfs/cgns" -a "$(cat "$T/cgnsroot/rootfs/cgns")" != "$(readlink /proc/self/ns/cgroup)"

mkdir -p "$T/net3"
printf 'FROM busybox\nRUN --network=host true\n' | buildfile "$T/net3"
expect_fail "RUN --network=host under --network none is refused" 1 "needs 'cairn build --network host'" build --network none "$T/net3"

# The caller's umask does not shape the image (docker uses 022).
mkdir -p "$T/umask"
printf 'FROM busybox\nWORKDIR /wd\nRUN mkdir /made && echo x > /made/file\n' | buildfile "$T/umask"
(umask 077; "$CAIRN" build -q -t umask:1 "$T/umask" >/dev/null 2>&1)
unpack_with_umoci umask:1 "$T/umaskroot"
check "umask 077 caller: RUN-made dir is 755" test "$(stat -c %a "$T/umaskroot/rootfs/made")" = 755
check "umask 077 caller: RUN-made file is 644" test "$(stat -c %a "$T/umaskroot/rootfs/made/file")" = 644
check "umask 077 caller: WORKDIR is 755" test "$(stat -c %a "$T/umaskroot/rootfs/wd")" = 755

# A step's leftover processes die with it.
marker=cairn-bg-$$-$RANDOM
mkdir -p "$T/bg"
printf 'FROM busybox\nRUN (sleep 1000 && echo %s) >/dev/null 2>&1 &\n' "$marker" | buildfile "$T/bg"
expect_ok "a step that leaves a background process" build "$T/bg"
check "the background process was killed when the step ended" test -z "$(pgrep -f "$marker")"

# Ctrl-C stops the step and cleans up.
marker=cairn-int-$$-$RANDOM
mkdir -p "$T/int"
printf 'FROM busybox\nRUN sleep 1000 && echo %s\n' "$marker" | buildfile "$T/int"
"$CAIRN" build -t int:1 "$T/int" >"$T/int.out" 2>"$T/int.err" &
pid=$!
for _ in $(seq 100); do pgrep -f "$marker" >/dev/null && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
st=$?
check "Ctrl-C: cairn exits 130" test "$st" -eq 130
check "Ctrl-C: says it was interrupted" grep -q "interrupted" "$T/int.err"
check "Ctrl-C: no process left" test -z "$(pgrep -f "$marker")"
check "Ctrl-C: no mount left" no_mounts_left
check "Ctrl-C: no temp dir left" no_tmp_left
check "Ctrl-C: no tag" expect_no_tag int:1
check "store consistent" store_is_consistent
finish
