#!/bin/bash
# cairn run --userns=auto: root inside is a subordinate uid outside, the
# image's files keep their owners inside (idmapped layers), host files owned
# by real root are nobody's and read-only, and nothing is left afterwards.
. "$(dirname "$0")/lib.sh"

build_busybox || finish

# A range of our own: /etc/subuid and /etc/subgid stay untouched.
base=$(((RANDOM % 1000 + 100) * 65536))
printf 'someone:65536:65536\nroot:%d:65536\n' "$base" >"$T/subuid"
printf 'root:%d:65536\n' "$base" >"$T/subgid"
export CAIRN_SUBUID_FILE=$T/subuid CAIRN_SUBGID_FILE=$T/subgid

run_cairn run --userns=auto busybox sh -c 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map'
check "--userns=auto: root inside is uid and gid 0" test "$status" -eq 0 -a "$(sed -n 1,2p "$T/out" | tr '\n' ' ')" = "0 0 "
check "...and uid_map, gid_map map 0 to root's range" \
	test "$(sed -n 3,4p "$T/out" | tr -s ' ' | sed 's/^ //' | tr '\n' ';')" = "0 $base 65536;0 $base 65536;"
run_cairn run busybox cat /proc/self/uid_map
check "without --userns: the host's map" test "$(tr -s ' ' <"$T/out" | sed 's/^ //')" = "0 0 4294967295"

run_cairn run --userns=auto busybox stat -c '%u:%g %n' /bin/busybox /etc/passwd /
check "the image's files are owned by 0 inside" \
	test "$(cat "$T/out")" = "$(printf '0:0 /bin/busybox\n0:0 /etc/passwd\n0:0 /')"
run_cairn run --userns=auto busybox sh -c 'echo hi > /new && mkdir /d && touch /d/f && chown 10:10 /d/f && stat -c %u:%g /new /d/f && echo more >> /etc/passwd'
check "root inside writes to / and chowns in the range" \
	test "$status" -eq 0 -a "$(cat "$T/out")" = "$(printf '0:0\n10:10')"
run_cairn run --userns=auto busybox test -e /new
check "...into the discarded upper dir" test "$status" -eq 1

# Seen from the host, the container's processes run as the mapped uid: the
# process itself as pid 1, or cairn's reaper as pid 1 (--init) and the process.
marker=$((700000 + RANDOM))
for mode in "" --init; do
	"$CAIRN" run $mode --userns=auto busybox sleep "$marker" >"$T/bg.out" 2>&1 &
	bg=$!
	pid=
	for _ in $(seq 100); do
		pid=$(pgrep -x -f "sleep $marker" | head -1)
		[ -n "$pid" ] && break
		sleep 0.1
	done
	check "${mode:-pid 1}: the container's process runs as uid and gid $base on the host" \
		sh -c "grep -qE '^Uid:\s+$base\s+$base\s+$base\s+$base$' /proc/$pid/status &&
		       grep -qE '^Gid:\s+$base\s+$base\s+$base\s+$base$' /proc/$pid/status"
	if [ -z "$mode" ]; then
		check "...and it is the container's pid 1" sh -c "grep -qE '^NSpid:\s+$pid\s+1$' /proc/$pid/status"
	else
		check "...and its pid 1 too" sh -c "grep -qE '^Uid:\s+$base\s' /proc/\$(awk '/^PPid:/ {print \$2}' /proc/$pid/status)/status"
	fi
	[ -n "$pid" ] && kill -KILL "$pid"
	wait "$bg"
done

# A host directory owned by real root: nobody's inside, not writable.
mkdir -p "$T/vol"
echo hostdata >"$T/vol/in"
chmod 755 "$T/vol"
run_cairn run --userns=auto -v "$T/vol:/data" busybox sh -c 'stat -c %u:%g /data /data/in; cat /data/in; echo x > /data/out'
check "-v: host root's files are 65534 (nobody) inside and readable" \
	test "$(sed -n 1,3p "$T/out" | tr '\n' ' ')" = "65534:65534 65534:65534 hostdata "
check "...and root inside cannot write there" test "$status" -ne 0 -a ! -e "$T/vol/out"
run_cairn run --userns=auto busybox grep CapEff /proc/self/status
check "capabilities stay docker's 14" grep -q '00000000a80425fb' "$T/out"
run_cairn run --userns=auto --network=none busybox ping -c1 -W5 127.0.0.1
check "--network=none: a network of its own where root's NET_RAW works (ping)" test "$status" -eq 0
run_cairn run -d --userns=auto busybox sh -c 'id -u; stat -c %u /bin/busybox'
id=$(cat "$T/out")
for _ in $(seq 100); do
	"$CAIRN" logs "$id" 2>/dev/null | grep -q . && [ "$("$CAIRN" logs "$id" | wc -l)" -ge 2 ] && break
	sleep 0.1
done
check "run -d --userns=auto" test "$("$CAIRN" logs "$id" | tr '\n' ' ')" = "0 0 "
"$CAIRN" rm -f "$id" >/dev/null 2>&1

# A missing range: a clear error naming the file and the line to add.
printf 'someone:300000:65536\n' >"$T/subuid2"
CAIRN_SUBUID_FILE=$T/subuid2 expect_fail "no range for root: says what to add" 125 \
	"'$T/subuid2' has no range for root: add a line such as 'root:100000:65536'" \
	run --userns=auto busybox true
expect_fail "--userns with an unknown mode" 125 "--userns: 'x' is not host or auto" run --userns=x busybox true

check "no mounts left" no_mounts_left
check "no temp dirs left" no_tmp_left
check "no process left in the range" sh -c "! ps -e -o uid= | grep -qx \" *$base\""
finish
