#!/bin/bash
# cairn run --systemd=true|false|always (podman's flag), checked on busybox:
# what an init system gets (tmpfs /run, /run/lock, /tmp; container=cairn;
# /etc/machine-id; its own writable cgroups at /sys/fs/cgroup; a pty as
# /dev/console; SIGRTMIN+3 as stop signal unless the image sets one), and
# when the mode applies. Debian booting systemd: t0951 (slow).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/containers.sh"

build_busybox || finish
# The console is a pty: lines end in \r\n.
out() { tr -d '\r' <"$T/out"; }

# One script prints what an init system would look at.
mkdir -p "$T/img"
cat >"$T/img/probe" <<'PROBE'
#!/bin/sh
echo "pid=$$ container=${container:-unset}"
for m in /run /run/lock /tmp /sys/fs/cgroup /dev/console; do
	echo "$m $(awk -v m=$m '$2 == m { print $3 }' /proc/mounts | tail -1)"
done
echo "machine-id=$(cat /etc/machine-id 2>/dev/null)"
echo "uuid=${container_uuid:-unset}"
PROBE
printf 'FROM busybox\nCOPY --chmod=0755 probe /usr/local/sbin/init\nCOPY --chmod=0755 probe /opt/systemd\nCOPY --chmod=0755 probe /opt/init\nRUN : >/etc/machine-id\n' |
	buildfile "$T/img"
expect_ok "a busybox image with init-named probes" build -q -t probe:1 "$T/img"

run_cairn run --systemd=always probe:1 /opt/init
check "--systemd=always: runs" test "$status" -eq 0
check "...as pid 1, with container=cairn in its environment" grep -qx "pid=1 container=cairn" <(out)
for m in /run /run/lock /tmp; do
	check "...$m is a tmpfs" grep -qx "$m tmpfs" <(out)
done
check "...the console is a pty (devpts)" grep -qx "/dev/console devpts" <(out)
id=$(out | sed -n 's/^machine-id=//p')
check ".../etc/machine-id (empty in the image) holds 32 hex digits" grep -qxE '[0-9a-f]{32}' <<<"$id"
check "...container_uuid is the same id" grep -qx "uuid=$id" <(out)
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
	check "...cgroup v2: the container's own subtree, cgroup2" grep -qx "/sys/fs/cgroup cgroup2" <(out)
	probe='mkdir /sys/fs/cgroup/unit && echo $$ >/sys/fs/cgroup/unit/cgroup.procs && echo moved'
else
	check "...cgroup v1: a tmpfs holding the name=systemd hierarchy" grep -qx "/sys/fs/cgroup tmpfs" <(out)
	probe='mkdir /sys/fs/cgroup/systemd/unit && echo $$ >/sys/fs/cgroup/systemd/unit/cgroup.procs &&
		grep -q "name=systemd:/unit$" /proc/self/cgroup && echo moved'
fi
run_cairn run --systemd=always busybox sh -c "$probe"
check "...its cgroup is writable: a child cgroup made and entered" grep -qx moved <(out)
run_cairn run --systemd=always busybox sh -c 'mkdir /sys/fs/cgroup/x 2>/dev/null || echo refused;
	touch /sys/kernel/x 2>/dev/null || echo ro'
check "...but /sys stays read-only (and v1's cgroup tmpfs)" test "$(out | tr '\n' ' ')" = "refused ro "
run_cairn run --systemd=always busybox sh -c 'cat /etc/machine-id'
check "...a missing /etc/machine-id is made" grep -qxE '[0-9a-f]{32}' <(out)
run_cairn run --systemd=always -e container=other -e container_uuid=0123456789abcdef0123456789abcdef \
	busybox sh -c 'echo $container $(cat /etc/machine-id)'
check "...-e container= and container_uuid= win (the uuid is the machine id)" \
	test "$(out)" = "other 0123456789abcdef0123456789abcdef"
mkdir -p "$T/vol"
run_cairn run --systemd=always -v "$T/vol:/run/x" --tmpfs /tmp:size=1m busybox sh -c \
	'touch /run/x/f; awk '"'"'$2 == "/run" || $2 == "/tmp" { print $2, $3 }'"'"' /proc/mounts'
check "...the caller's mounts at /run/... or /tmp replace its tmpfs there" \
	test "$status" -eq 0 -a -e "$T/vol/f" -a "$(out | tr '\n' ' ')" = "/tmp tmpfs "

# --systemd=true (the default): podman's list of init commands only.
for cmd in /usr/local/sbin/init /opt/systemd; do
	run_cairn run probe:1 "$cmd"
	check "default (true): $cmd is an init system" grep -qx "pid=1 container=cairn" <(out)
done
run_cairn run --systemd=true probe:1 /opt/init
check "--systemd=true: /opt/init is not (not on podman's list)" grep -qx "pid=1 container=unset" <(out)
run_cairn run --systemd=true probe:1 sh -c 'echo container=${container:-unset}; awk '"'"'$2 == "/run"'"'"' /proc/mounts'
check "--systemd=true: sh is not: no container=, no /run tmpfs" test "$(out)" = "container=unset"
printf 'FROM probe:1\nCMD ["/usr/local/sbin/init"]\n' | buildfile "$T/cmd"
expect_ok "an image whose CMD is /usr/local/sbin/init" build -q -t probe:cmd "$T/cmd"
run_cairn run probe:cmd
check "...boots as an init system by default" grep -qx "pid=1 container=cairn" <(out)
run_cairn run --systemd=false probe:cmd
check "--systemd=false: never" grep -qx "pid=1 container=unset" <(out)
check "--systemd=false: no tmpfs on /run" grep -qx "/run " <(tr -d '\r' <"$T/out")

expect_fail "--systemd=maybe is a usage error" 125 "--systemd: 'maybe' is not true, false or always" \
	run --systemd=maybe busybox true
expect_fail "--init with an init system is a usage error" 125 "--init with --systemd" \
	run --init --systemd=always busybox true
# --userns=auto (and rootless) cannot give the container a cgroup of its
# own: an explicit --systemd says so, the default runs an init plainly.
printf 'root:%d:65536\n' $(((RANDOM % 1000 + 100) * 65536)) >"$T/subid"
CAIRN_SUBUID_FILE=$T/subid CAIRN_SUBGID_FILE=$T/subid expect_fail "--systemd=always --userns=auto is refused" \
	125 "--userns=auto is not supported with it" run --systemd=always --userns=auto busybox true
CAIRN_SUBUID_FILE=$T/subid CAIRN_SUBGID_FILE=$T/subid run_cairn run --userns=auto probe:1 /usr/local/sbin/init
check "--userns=auto with the default: an init command runs plainly" grep -qx "pid=1 container=unset" <(out)
printf 'init = true\n' >"$T/cairn.conf"
CAIRN_CONFIG=$T/cairn.conf run_cairn run --systemd=always busybox sh -c 'echo $$'
check "cairn.conf's init = true gives way: the init system is pid 1" test "$(out)" = 1

# Stop: SIGRTMIN+3 (37, systemd's halt) unless the image names a signal.
# The container nests 40 cgroups in its own (all removed with it). On v1
# cairn runs from a cgroup of this test's with notify_on_release set, as a
# legacy host's may be: the container's must not notify (a host's release
# agent would run for every cgroup it empties).
marker=$((700000 + RANDOM))
deep=$(printf 'd/%.0s' $(seq 40))
tcg=""
if [ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]; then
	incg=/sys/fs/cgroup
else
	incg=/sys/fs/cgroup/systemd
	tcg=/sys/fs/cgroup/systemd/cairn-t0796-$$
	mkdir "$tcg" && echo 1 >"$tcg/notify_on_release" &&
		trap 'kill_containers; rmdir "$tcg/cairn" "$tcg" 2>/dev/null; cleanup_test_dir' EXIT
fi
id=$( (if [ -n "$tcg" ]; then echo "$BASHPID" >"$tcg/cgroup.procs"; fi
	exec "$CAIRN" run -d --systemd=always --name sd busybox sh -c \
	"mkdir -p $incg/$deep; trap 'echo halted by 37; exit 0' 37; echo up; while :; do sleep $marker & wait; done") 2>"$T/err")
check "run -d --systemd=always" test -n "$id"
for _ in $(seq 100); do pgrep -f "^sleep $marker" >/dev/null && break; sleep 0.1; done
check "...records SIGRTMIN+3 (37) as its stop signal" test "$(state sd .stop_signal)" = 37
cgs=$(state sd '.exec.cgroup[]')
own=$(grep -m1 -E '/(systemd/.*)?cairn/ctr-' <<<"$cgs" | grep -v /unified/)
check "...its cgroups are recorded" test -n "$cgs" -a -n "$own"
check "...the container nested 40 cgroups in its own" test -d "$own/$deep"
if [ -n "$tcg" ]; then
	check "...cgroup v1: cairn's own cgroup is its test cgroup (notify_on_release 1)" \
		test "${own#$tcg/}" != "$own" -a "$(cat "$tcg/notify_on_release")" = 1
	check "...its cgroups do not notify on release, nor do the container's own" \
		test "$(cat "$own/notify_on_release" "$own/d/notify_on_release" "$own/$deep/notify_on_release" |
			tr -d '\n')" = 000
fi
run_cairn stop -t 30 sd
check "cairn stop sends it: the process's trap ran and it exited 0" \
	test "$status" -eq 0 -a "$("$CAIRN" inspect -f '{{.State.ExitCode}}' sd)" = 0
check "...as the console log shows" grep -q "halted by 37" <("$CAIRN" logs sd | tr -d '\r')
left=""
for cg in $cgs; do
	[ -e "$cg" ] && left="$left $cg"
done
check "...and its cgroups recorded in its state are gone (the 40 nested ones too):${left:- none}" \
	test -n "$cgs" -a -z "$left"
printf 'FROM busybox\nSTOPSIGNAL SIGUSR1\n' | buildfile "$T/usr1"
expect_ok "an image with STOPSIGNAL SIGUSR1" build -q -t usr1:1 "$T/usr1"
id=$("$CAIRN" run -d --systemd=always usr1:1 sleep 1000)
check "--systemd keeps the image's STOPSIGNAL" \
	test "$(jq -r .stop_signal "$CAIRN_ROOT/containers/$id/config.json")" = 10
"$CAIRN" rm -f "$id" >/dev/null
check "no mount left" no_mounts_left
check "store consistent" store_is_consistent
finish
