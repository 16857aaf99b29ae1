#!/bin/bash
# cairn run takes docker's flags: each one is used once and its effect is
# checked inside a busybox container (issue 17's table-driven run test).
. "$(dirname "$0")/lib.sh"

# Whatever a failing check leaves running must not outlive the test.
trap '"$CAIRN" ps -aq | xargs -r "$CAIRN" rm -f >/dev/null 2>&1; cleanup_test_dir' EXIT

build_busybox || finish

# bit MASK N: bit N of the hex capability mask MASK.
bit() { echo $(( (0x$1 >> $2) & 1 )); }
capbnd() { awk '/^CapBnd/ {print $2}' "$T/out"; }

# --entrypoint: replaces the image's, and drops its Cmd; "" clears it.
mkdir -p "$T/ep"
buildfile "$T/ep" <<'EOF'
FROM busybox
ENTRYPOINT ["echo", "from-entrypoint"]
CMD ["from-cmd"]
EOF
expect_ok "an image with ENTRYPOINT and CMD" build -q -t ep:1 "$T/ep"
run_cairn run --entrypoint printf ep:1 '%s-%s' a b
check "--entrypoint X runs X with the arguments (the image's Cmd is dropped)" test "$(cat "$T/out")" = a-b
run_cairn run --entrypoint=echo ep:1
check "--entrypoint X without arguments runs X alone" test "$(cat "$T/out")" = ""
run_cairn run --entrypoint "" ep:1 echo cleared
check "--entrypoint \"\" clears the entrypoint" test "$(cat "$T/out")" = cleared

# Flags cairn does not know, and bad values: 125 (the container never started), naming the flag.
expect_fail "an unknown flag exits 125 naming it" 125 "--bogus-flag" run --bogus-flag busybox true
expect_fail "an unknown short flag exits 125 naming it" 125 "-Z" run -Z busybox true
expect_fail "a flag without its value exits 125" 125 "--entrypoint" run --entrypoint
expect_fail "a bad --ulimit value exits 125 naming the flag" 125 "--ulimit" run --ulimit nofile=abc busybox true
expect_fail "a bad --cap-add exits 125" 125 "NOT_A_CAP" run --cap-add NOT_A_CAP busybox true

# Capabilities: the bounding set as docker's, minus drops, plus adds.
run_cairn run busybox grep CapBnd /proc/self/status
check "by default NET_RAW (13) is in the bounding set" test "$(bit "$(capbnd)" 13)" = 1
run_cairn run --cap-drop NET_RAW busybox grep CapBnd /proc/self/status
check "--cap-drop NET_RAW removes bit 13" test -n "$(capbnd)" -a "$(bit "$(capbnd)" 13)" = 0
check "...and nothing else" test "$(capbnd)" = 00000000a80405fb
run_cairn run --cap-drop cap_net_raw busybox grep CapBnd /proc/self/status
check "...spelled cap_net_raw too" test "$(capbnd)" = 00000000a80405fb
run_cairn run --cap-add SYS_ADMIN --cap-add CAP_SYS_PTRACE busybox grep -E 'Cap(Bnd|Eff)' /proc/self/status
check "--cap-add SYS_ADMIN, CAP_SYS_PTRACE add bits 21 and 19" \
	test "$(bit "$(capbnd)" 21)$(bit "$(capbnd)" 19)" = 11
check "...and root has them effective" grep -q "CapEff:.00000000a82c25fb" "$T/out"
run_cairn run --cap-add SYS_ADMIN busybox sh -c 'mkdir -p /m && mount -t tmpfs none /m && grep " /m tmpfs" /proc/mounts'
check "--cap-add SYS_ADMIN: the seccomp filter lets mount through as docker's does" test "$status" -eq 0
run_cairn run --cap-drop ALL --cap-add CHOWN busybox grep CapBnd /proc/self/status
check "--cap-drop ALL --cap-add CHOWN leaves only CHOWN" test "$(capbnd)" = 0000000000000001
host_bnd=$(awk '/^CapBnd/ {print $2}' /proc/self/status)
run_cairn run --privileged busybox grep CapBnd /proc/self/status
check "--privileged: every capability cairn has" test "$(capbnd)" = "$host_bnd"
run_cairn run --privileged busybox sh -c 'grep Seccomp: /proc/self/status; echo "proc-submounts $(grep -c " /proc/" /proc/mounts)"; grep -c " /sys sysfs rw" /proc/mounts; test -b "/dev/$(ls /sys/block | head -1)" && echo block-dev; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null; echo ok'
check "--privileged: no seccomp filter" grep -q "Seccomp:.0" "$T/out"
check "...no masked or read-only paths in /proc" grep -qx "proc-submounts 0" "$T/out"
check "...sysfs read-write" grep -qx 1 "$T/out"
if ls /sys/block/* >/dev/null 2>&1 && [ -b "/dev/$(ls /sys/block | head -1)" ]; then
	check "...the host's devices" grep -q block-dev "$T/out"
fi
if [ "$(bit "$host_bnd" 24)" = 0 ]; then
	expect_fail "--cap-add of a capability cairn lacks says so" 125 "CAP_SYS_RESOURCE" run --cap-add SYS_RESOURCE busybox true
fi

# --security-opt
run_cairn run --security-opt seccomp=unconfined busybox grep Seccomp: /proc/self/status
check "--security-opt seccomp=unconfined: no filter" grep -q "Seccomp:.0" "$T/out"
run_cairn run busybox grep Seccomp: /proc/self/status
check "...by default the filter is there" grep -q "Seccomp:.2" "$T/out"
echo '{"defaultAction": "SCMP_ACT_ALLOW"}' >"$T/profile.json"
expect_fail "--security-opt seccomp=FILE is refused clearly" 125 "seccomp profile" \
	run --security-opt "seccomp=$T/profile.json" busybox true
run_cairn run --security-opt no-new-privileges=false busybox grep NoNewPrivs /proc/self/status
check "--security-opt no-new-privileges=false lifts no_new_privs" grep -q "NoNewPrivs:.0" "$T/out"
run_cairn run --security-opt no-new-privileges busybox grep NoNewPrivs /proc/self/status
check "--security-opt no-new-privileges sets it" grep -q "NoNewPrivs:.1" "$T/out"
expect_fail "an unknown --security-opt is refused" 125 "--security-opt" run --security-opt foo=bar busybox true

# --add-host, --dns
run_cairn run --add-host db.local:10.1.2.3 --add-host=v6:::1 busybox cat /etc/hosts
check "--add-host HOST:IP is in /etc/hosts" grep -qP '^10\.1\.2\.3\tdb\.local$' "$T/out"
check "...an IPv6 address too" grep -qP '^::1\tv6$' "$T/out"
if [ "$(id -u)" = 0 ]; then
	run_cairn run --add-host gw:host-gateway busybox sh -c 'awk "\$2 == \"gw\" {print \$1}" /etc/hosts; ip route | awk "/default/ {print \$3}"'
	check "host-gateway is the bridge's gateway" test -n "$(sed -n 2p "$T/out")" -a "$(sed -n 1p "$T/out" | cut -f1)" = "$(sed -n 2p "$T/out")"
fi
expect_fail "--add-host without an IP" 125 "--add-host" run --add-host nohost busybox true
run_cairn run --dns 192.0.2.53 --dns 192.0.2.54 busybox cat /etc/resolv.conf
check "--dns: the nameservers given, and only those" \
	test "$(grep ^nameserver "$T/out" | tr '\n' ' ')" = "nameserver 192.0.2.53 nameserver 192.0.2.54 "

# --ulimit
run_cairn run --ulimit nofile=512:1024 --ulimit core=0 busybox sh -c 'ulimit -n; ulimit -Hn; ulimit -c'
check "--ulimit nofile=SOFT:HARD, core=N" test "$(cat "$T/out" | tr '\n' ' ')" = "512 1024 0 "
hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$(bit "$host_bnd" 24)" = 0 ]; then
	expect_fail "--ulimit above cairn's hard limit: CAP_SYS_RESOURCE is missing, said so" 125 "CAP_SYS_RESOURCE" \
		run --ulimit "nofile=$((hard + 1))" busybox true
fi

# --tmpfs, --mount, volumes, --shm-size
run_cairn run --tmpfs /scratch:size=1m,mode=0700 busybox sh -c 'grep " /scratch " /proc/mounts; stat -c %a /scratch'
check "--tmpfs /path:opts is a tmpfs of that size" grep -q " /scratch tmpfs .*size=1024k" "$T/out"
check "...with that mode" grep -qx 700 "$T/out"
run_cairn run --mount type=tmpfs,destination=/t2,tmpfs-size=2097152 busybox grep " /t2 " /proc/mounts
check "--mount type=tmpfs" grep -q " /t2 tmpfs .*size=2048k" "$T/out"
mkdir -p "$T/host"
echo from-host >"$T/host/f"
run_cairn run --mount "type=bind,source=$T/host,target=/b,readonly" busybox sh -c 'cat /b/f; touch /b/g'
check "--mount type=bind,readonly" test "$(cat "$T/out")" = from-host -a ! -e "$T/host/g"
run_cairn run -v vol1:/data busybox sh -c 'echo persisted > /data/x'
check "-v NAME:/path creates a named volume" test "$status" -eq 0
run_cairn run --mount type=volume,source=vol1,target=/d busybox cat /d/x
check "...that persists across runs (--mount type=volume)" test "$(cat "$T/out")" = persisted
check "...kept in the store" test -f "$CAIRN_ROOT/volumes/vol1/_data/x"
mkdir -p "$T/seed"
buildfile "$T/seed" <<'EOF'
FROM busybox
RUN mkdir -p /data/sub && echo seeded > /data/sub/f && ln -s sub/f /data/link && chown -R 33:33 /data && chmod 0750 /data
EOF
expect_ok "an image with content at a volume's path" build -q -t seed:1 "$T/seed"
run_cairn run -v fresh:/data seed:1 sh -c 'cat /data/link; stat -c "%u %a" /data /data/sub/f'
check "a new volume is filled with the image's content at its path (docker's copy-up)" \
	test "$(cat "$T/out" | tr '\n' ' ')" = "seeded 33 750 33 644 "
run_cairn run -v fresh:/data busybox sh -c 'echo changed > /data/sub/f'
run_cairn run -v fresh:/data seed:1 cat /data/sub/f
check "...once: a volume with content keeps it" test "$(cat "$T/out")" = changed
run_cairn run --mount type=volume,src=nocopy,dst=/data,volume-nocopy seed:1 ls -A /data
check "volume-nocopy leaves the new volume empty" test "$status" -eq 0 -a ! -s "$T/out"
expect_fail "a bad volume name" 125 "volume name" run -v 'a/b:/x' busybox true
expect_fail "--mount without a target" 125 "--mount" run --mount type=tmpfs busybox true
run_cairn run --shm-size 32m busybox df -k /dev/shm
check "--shm-size sizes /dev/shm" grep -qE ' 32768 .* /dev/shm$' "$T/out"

# -a: only the streams named reach the user.
run_cairn run -a stdout busybox sh -c 'echo o; echo e >&2'
check "-a stdout: stdout only" test "$(cat "$T/out")" = o -a ! -s "$T/err"
run_cairn run -a stderr busybox sh -c 'echo o; echo e >&2'
check "-a stderr: stderr only" test ! -s "$T/out" -a "$(cat "$T/err")" = e
echo in | "$CAIRN" run -a stdin -a stdout busybox cat >"$T/out" 2>"$T/err"
check "-a stdin passes stdin" test "$(cat "$T/out")" = in
expect_fail "-a with -d conflicts" 125 "-a" run -d -a stdout busybox true

# --platform must match the image.
arch=$(image_config busybox:latest | jq -r .architecture)
expect_ok "--platform of the image's own platform" run --platform "linux/$arch" busybox true
expect_fail "--platform of another platform is refused" 125 "platform" run --platform linux/s390x busybox true

# --restart with -d: the supervisor restarts the container.
mkdir -p "$T/cnt"
run_cairn run -d --name again --restart on-failure:2 -v "$T/cnt:/cnt" busybox sh -c 'echo x >> /cnt/n; exit 3'
check "run -d --restart on-failure:2 starts" test "$status" -eq 0
for _ in $(seq 200); do
	"$CAIRN" ps -a | grep -qE ' Exited \(3\) .* again$' && break
	sleep 0.1
done
check "on-failure:2 runs the container three times" test "$(wc -l <"$T/cnt/n")" = 3
check "...and it ends exited with the status" sh -c "'$CAIRN' ps -a | grep -qE ' Exited \\(3\\) .* again\$'"
run_cairn run -d --name forever --restart always -v "$T/cnt:/cnt" busybox sh -c 'echo y >> /cnt/a; sleep 0.2'
for _ in $(seq 200); do
	[ "$(wc -l <"$T/cnt/a" 2>/dev/null || echo 0)" -ge 3 ] && break
	sleep 0.1
done
check "--restart always restarts a container that exits 0" test "$(wc -l <"$T/cnt/a")" -ge 3
run_cairn stop forever
check "...until cairn stop" test "$status" -eq 0
check "...which leaves it exited" sh -c "'$CAIRN' ps -a | grep -qE ' Exited .* forever\$'"
n=$(wc -l <"$T/cnt/a")
sleep 1
check "...and it does not start again" test "$(wc -l <"$T/cnt/a")" = "$n"
expect_fail "--restart without -d is refused" 125 "--restart" run --restart always busybox true
expect_fail "--restart with a bad policy" 125 "--restart" run -d --restart sometimes busybox true

check "no mount left" no_mounts_left
check "no temp dir left" no_tmp_left
finish
