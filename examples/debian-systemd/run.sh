#!/bin/bash
# examples/debian-systemd/run.sh: an OS container end to end. Builds the
# image (and the Debian base when the store lacks it), boots it with
# 'cairn run -d --systemd=always', waits for 'systemctl is-system-running'
# (inside, through cairn exec) to say running or degraded, fetches the page
# nginx serves on the container's own address (the default bridge), then
# stops it with 'cairn stop' and checks that systemd halted cleanly (exit
# status 0, "Exiting container." in its console log) within the timeout.
#
#   CAIRN=build/cairn examples/debian-systemd/run.sh   (as root; CAIRN_ROOT is honoured)
#   STOP_TIMEOUT=20 ...                                seconds cairn stop allows (default 30)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CAIRN=${CAIRN:-cairn}
stop_timeout=${STOP_TIMEOUT:-30}
name=debian-systemd-$$

say() { echo "debian-systemd: $*"; }
die() {
	say "FAILED: $*" >&2
	"$CAIRN" logs "$name" 2>/dev/null | tail -40 | sed 's/^/  console: /' >&2 || true
	exit 1
}
trap '"$CAIRN" rm -f "$name" >/dev/null 2>&1 || true' EXIT

# in_ctr CMD...: CMD inside the running container (cairn exec; nsenter into
# its pid 1 with a cairn that has no exec yet).
in_ctr() {
	if "$CAIRN" exec --help >/dev/null 2>&1; then
		"$CAIRN" exec "$name" "$@"
	else
		nsenter -t "$("$CAIRN" inspect -f '{{.State.Pid}}' "$name")" -a "$@"
	fi
}

[ "$(id -u)" -eq 0 ] || die "cairn needs root"
command -v curl >/dev/null || die "curl is not installed"
if ! "$CAIRN" inspect debian:12 >/dev/null 2>&1; then
	say "no debian:12 in the store: building it (examples/debian)"
	CAIRN=$CAIRN "$repo/examples/debian/build.sh"
fi
say "building debian-systemd"
"$CAIRN" build -q -t debian-systemd:latest "$here" >/dev/null

start=$(date +%s)
id=$("$CAIRN" run -d --systemd=always --stop-timeout "$stop_timeout" --name "$name" debian-systemd)
say "booted $name (id ${id:0:12})"

# The boot is done when no job is left: running, or degraded when a unit
# failed. (starting while jobs run; a bound of 60 s, not a timing check.)
state=
for ((i = 0; i < 120; i++)); do
	state=$(in_ctr systemctl is-system-running 2>/dev/null) || true
	case $state in running|degraded) break ;; esac
	sleep 0.5
done
case $state in
running|degraded) say "systemctl is-system-running: $state ($(($(date +%s) - start)) s after run)" ;;
*) die "systemctl is-system-running says '$state' after 60 s" ;;
esac
[ "$state" = running ] || in_ctr systemctl --failed --no-pager --plain | sed 's/^/  failed: /'
[ "$(in_ctr systemctl is-active nginx.service)" = active ] || die "nginx.service is not active"
say "nginx.service: active (a unit of the container's systemd)"

addr=$(in_ctr hostname -I | awk '{ print $1 }')
[ -n "$addr" ] || die "the container has no address"
page=$(curl -fsS --max-time 10 "http://$addr/") || die "curl http://$addr/"
case $page in
*"hello from nginx"*) say "curl http://$addr/: $page" ;;
*) die "unexpected page from http://$addr/: $page" ;;
esac

stop_start=$(date +%s)
"$CAIRN" stop -t "$stop_timeout" "$name" >/dev/null
took=$(($(date +%s) - stop_start))
status=$("$CAIRN" inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$name")
[ "$status" = "exited 0" ] || die "after cairn stop: '$status' (want exited 0: a halt, not SIGKILL's 137)"
"$CAIRN" logs "$name" | grep -q "Exiting container" || die "no 'Exiting container.' in the console log"
[ "$took" -lt "$stop_timeout" ] || die "cairn stop took $took s (the timeout is $stop_timeout s)"
say "cairn stop: systemd halted cleanly in $took s (exit status 0, \"Exiting container.\")"
"$CAIRN" rm "$name" >/dev/null
say "done in $(($(date +%s) - start)) s"
