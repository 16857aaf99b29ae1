#!/bin/bash
# examples/three-tier/check.sh: the compose project end to end (make
# three-tier). Builds the images (and the Debian base when the store lacks
# it) with `cairn compose build`, starts the project with `cairn compose up
# -d` (db, then the two apps once db is healthy, then nginx publishing port
# 80 on the host's LB_PORT, default 8080), sends requests through nginx and
# checks that the visit count grows by one each time and that both app
# replicas answer, stops the project and checks that every service ended
# cleanly, then `cairn compose down` and checks that nothing is left:
# containers, the project's network and bridge, listeners, nftables rules.
#
#   CAIRN=build/cairn examples/three-tier/check.sh   (as root; CAIRN_ROOT is honoured)
#   REQUESTS=10 ...      requests through nginx (default 8)
#   LB_PORT=18080 ...    the host port nginx is published on (default 8080)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CAIRN=${CAIRN:-cairn}
requests=${REQUESTS:-8}
export LB_PORT=${LB_PORT:-8080}
project=three-tier
up=

say() { echo "three-tier: $*"; }
die() { say "FAILED: $*" >&2; exit 1; }

compose() { (cd "$here" && "$CAIRN" compose "$@"); }

# Whatever happens after `up`, the project goes (containers and network).
cleanup() {
	if [ -n "$up" ]; then
		compose down --remove-orphans >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

# until DESC SECONDS CMD...: retry CMD once a second.
until_ok() {
	local desc=$1 secs=$2 i; shift 2
	for ((i = 0; i < secs; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 1
	done
	die "$desc (gave up after $secs s)"
}

# The project's containers as cairn ps shows them (the labels compose sets).
project_ps() { "$CAIRN" ps -a --filter "label=com.docker.compose.project=$project" "$@"; }

[ "$(id -u)" -eq 0 ] || die "cairn needs root (containers on a private network)"
"$CAIRN" compose --help >/dev/null 2>&1 || die "$CAIRN has no compose command"
! ss -Hltn "sport = :$LB_PORT" | grep -q . || die "port $LB_PORT is in use: set LB_PORT to a free port"
start=$(date +%s)
if ! "$CAIRN" inspect debian:12 >/dev/null 2>&1; then
	say "no debian:12 in the store: building it (examples/debian)"
	CAIRN=$CAIRN "$repo/examples/debian/build.sh" -q >/dev/null
fi
based=$(date +%s)

# A previous run's leftovers (an interrupted one) go first.
compose down --remove-orphans >/dev/null 2>&1 || true

say "compose build"
compose build
built=$(date +%s)

up=1
say "compose up -d"
compose up -d
# The project's bridge: nothing may mention it after down.
net=$("$CAIRN" network inspect "${project}_default") || die "no network ${project}_default after up"
bridge=$(jq -r '.[0].Options["com.docker.network.bridge.name"]' <<<"$net")
[ -n "$bridge" ] && [ "$bridge" != null ] || die "no bridge name in network inspect"
say "network ${project}_default: bridge $bridge, subnet $(jq -r '.[0].IPAM.Config[0].Subnet' <<<"$net")"
until_ok "nginx answers on 127.0.0.1:$LB_PORT" 60 curl -fsS "http://127.0.0.1:$LB_PORT/health"
compose ps

# Requests through nginx: the count grows by one each time, both answer.
last=0 seen1=0 seen2=0
for ((i = 0; i < requests; i++)); do
	reply=$(curl -fsS "http://127.0.0.1:$LB_PORT/") || die "request $i through nginx"
	say "request $i: $reply"
	read -r who count <<<"$reply"
	[ "$count" -eq $((last + 1)) ] || die "count $count after $last"
	last=$count
	case $who in
	app1) seen1=$((seen1 + 1)) ;;
	app2) seen2=$((seen2 + 1)) ;;
	*) die "unexpected answer '$reply'" ;;
	esac
done
[ "$seen1" -gt 0 ] && [ "$seen2" -gt 0 ] || die "not both instances answered (app1 $seen1, app2 $seen2)"
table=$(compose exec -T db psql -U postgres -qAt -c 'SELECT count FROM visits') || die "psql in db"
[ "$table" -eq "$last" ] || die "the table holds $table, not $last"
say "count reached $last; app1 answered $seen1, app2 $seen2"
served=$(date +%s)

# Stop: nginx (SIGQUIT), the apps (SIGTERM), postgres (SIGINT), in
# reverse dependency order; each must end with status 0.
compose stop
for s in lb app1 app2 db; do
	project_ps | grep -qE " Exited \(0\) .* $project-$s-1\$" || {
		project_ps; compose logs "$s" | tail -5; die "$s did not exit with status 0"
	}
done
compose logs db | grep -q "database system is shut down" || die "postgres did not shut down cleanly"
compose logs app1 | grep -q "app1 stopping" || die "app1 did not see its stop signal"

compose down
up=
# Nothing left: containers, the network, listeners, and (other tests may
# change the host's network meanwhile: only what is the project's) the
# bridge, links attached to it, nftables rules or chains naming the bridge
# or the published port.
[ -z "$(project_ps -q)" ] || { project_ps; die "containers left"; }
! "$CAIRN" network inspect "${project}_default" >/dev/null 2>&1 || die "network ${project}_default left"
! ss -Hltn "sport = :$LB_PORT" | grep -q . || die "port $LB_PORT still has a listener"
! ip -o link show | grep -qE "(: ${bridge}[:@]| master ${bridge} )" || die "bridge $bridge or a link on it left"
left=$(nft -s list ruleset 2>/dev/null | grep -E "$bridge|dport $LB_PORT\b" || true)
[ -z "$left" ] || die "nftables rules left: $left"
end=$(date +%s)
say "OK: served, stopped and removed; base $((based - start)) s, compose build $((built - based)) s," \
	"up and checks $((served - built)) s, stop and down $((end - served)) s"
