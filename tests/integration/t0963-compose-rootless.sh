#!/bin/bash
# cairn compose as a user (issue 13): every service gets the host's network
# (one warning says so, once), depends_on still orders the start, the
# services reach each other on localhost, and down removes what up made.
# compose build as the user too. (Health checks of rootless containers are
# the supervisor's: t0797.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/containers.sh"
. "$(dirname "$0")/rootless.sh"

rootless_need setpriv newuidmap
U=cncmp$$
rootless_extra_cleanup() {
	if id -u "$U" >/dev/null 2>&1 && [ -f "$T/proj/compose.yaml" ]; then
		as "$U" "$T/cairn" compose -f "$T/proj/compose.yaml" down -t 1 >/dev/null 2>&1
	fi
}
trap rootless_cleanup EXIT
base=$(awk -F: '{ e = $2 + $3; if (e > m) m = e } END { print m + 0 }' /etc/subuid)
[ "$base" -ge 200000 ] || base=200000
rootless_user "$U" "$((base + 65536))"
rootless_probe "$U"
rootless_contexts
rl_ok "build busybox as the user" "$U" build -q -t busybox "$T/ctx/bb"

port=$((20000 + RANDOM % 20000))
mkdir -p "$T/proj/web"
printf 'FROM busybox\nRUN mkdir -p /www && echo rootless-page >/www/index.html\n' >"$T/proj/web/Buildfile"
cat >"$T/proj/compose.yaml" <<EOF
name: rlproj
services:
  web:
    build: ./web
    command: ["httpd", "-f", "-p", "$port", "-h", "/www"]
  client:
    image: busybox
    command: ["sleep", "300"]
    depends_on: [web]
EOF
chmod -R a+rX "$T/proj"
rl_ok "compose build as the user" "$U" compose -f "$T/proj/compose.yaml" build
rl_ok "compose up -d as the user" "$U" compose -f "$T/proj/compose.yaml" up -d
check "one warning says the services use the host's network" \
	test "$(grep -c 'rootless: every service uses the host' "$T/err")" -eq 1
web=$(grep -n 'rlproj-web-1  Started' "$T/err" | cut -d: -f1)
client=$(grep -n 'rlproj-client-1  Started' "$T/err" | cut -d: -f1)
check "client started after web" test "${web:-999}" -lt "${client:-0}"
page() { as "$U" "$T/cairn" compose -f "$T/proj/compose.yaml" exec -T client wget -q -O- "http://127.0.0.1:$port/" | grep -qx rootless-page; }
wait_for "a service reaches another on localhost" page
rl_ok "compose ps" "$U" compose -f "$T/proj/compose.yaml" ps
check "...lists both" test "$(grep -c '^rlproj-' "$T/out")" -eq 2
rl_ok "compose down" "$U" compose -f "$T/proj/compose.yaml" down -t 1
rl "$U" ps -a
check "...no container is left" test "$(grep -c rlproj "$T/out")" -eq 0
finish
