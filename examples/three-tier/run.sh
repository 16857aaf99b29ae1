#!/bin/bash
# examples/three-tier/run.sh: PostgreSQL, two Node.js app instances and an
# nginx load balancer, each a detached cairn container on the host network
# (loopback only, free ports). Builds the images (and the Debian base when
# the store lacks it), starts the tiers, sends requests through nginx,
# checks that the visit count grows and both instances answer, then stops
# and removes everything and checks that nothing is left.
#
#   CAIRN=build/cairn examples/three-tier/run.sh     (as root; CAIRN_ROOT is honoured)
#   REQUESTS=10 ...                                  requests through nginx (default 8)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
CAIRN=${CAIRN:-cairn}
requests=${REQUESTS:-8}
tag=$$
names=()
start=$(date +%s)

say() { echo "three-tier: $*"; }
die() { say "FAILED: $*" >&2; exit 1; }

# Whatever happens, the containers go.
cleanup() {
	local n
	for n in "${names[@]}"; do
		"$CAIRN" rm -f "$n" >/dev/null 2>&1 || true
	done
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# until DESC SECONDS CMD...: retry CMD once a second.
until_ok() {
	local desc=$1 secs=$2 i; shift 2
	for ((i = 0; i < secs; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 1
	done
	die "$desc (gave up after $secs s)"
}

start_ctr() {   # NAME IMAGE [run options...]
	local name=$1 image=$2; shift 2
	names+=("$name")
	"$CAIRN" run -d --name "$name" --network host "$@" "$image" >/dev/null
	say "started $name"
}

[ "$(id -u)" -eq 0 ] || die "cairn needs root"
if ! "$CAIRN" inspect debian:12 >/dev/null 2>&1; then
	say "no debian:12 in the store: building it (examples/debian)"
	CAIRN=$CAIRN "$repo/examples/debian/build.sh"
fi
for tier in db app lb; do
	say "building three-tier-$tier"
	"$CAIRN" build -q -t "three-tier-$tier:latest" "$here/$tier" >/dev/null
done
built=$(date +%s)

pg=$(free_port) app1=$(free_port) app2=$(free_port) lb=$(free_port)
db=tt-db-$tag a1=tt-app1-$tag a2=tt-app2-$tag ng=tt-lb-$tag

start_ctr "$db" three-tier-db -e PGPORT="$pg"
psql_do() {
	"$CAIRN" run --rm --network host -u postgres three-tier-db \
		psql -h 127.0.0.1 -p "$pg" -U postgres -v ON_ERROR_STOP=1 -qAt -c "$1"
}
until_ok "postgres accepts connections" 60 psql_do 'SELECT 1'
psql_do 'CREATE TABLE visits (id int PRIMARY KEY, count int NOT NULL); INSERT INTO visits VALUES (1, 0);'
say "postgres on 127.0.0.1:$pg, table visits created"

start_ctr "$a1" three-tier-app -e PORT="$app1" -e INSTANCE=app1 -e PGPORT="$pg"
start_ctr "$a2" three-tier-app -e PORT="$app2" -e INSTANCE=app2 -e PGPORT="$pg"
until_ok "app1 answers" 30 curl -fsS "http://127.0.0.1:$app1/health"
until_ok "app2 answers" 30 curl -fsS "http://127.0.0.1:$app2/health"
start_ctr "$ng" three-tier-lb -e LISTEN="$lb" -e BACKENDS="127.0.0.1:$app1 127.0.0.1:$app2"
until_ok "nginx answers" 30 curl -fsS "http://127.0.0.1:$lb/health"
"$CAIRN" ps

# Requests through nginx: the count grows by one each time, both answer.
last=0 seen1=0 seen2=0
for ((i = 0; i < requests; i++)); do
	reply=$(curl -fsS "http://127.0.0.1:$lb/") || die "request $i through nginx"
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
[ "$(psql_do 'SELECT count FROM visits')" -eq "$last" ] || die "the table does not hold $last"
say "count reached $last; app1 answered $seen1, app2 $seen2"

# Stop from the front: nginx (SIGQUIT), the apps (SIGTERM), postgres (SIGINT).
"$CAIRN" stop "$ng" "$a1" "$a2" "$db" >/dev/null
for n in "$ng" "$a1" "$a2" "$db"; do
	"$CAIRN" ps -a | grep -qE " Exited \(0\) .* $n\$" || {
		"$CAIRN" ps -a; "$CAIRN" logs "$n" | tail -5; die "$n did not exit with status 0"
	}
done
"$CAIRN" logs "$db" | grep -q "database system is shut down" || die "postgres did not shut down cleanly"
"$CAIRN" logs "$a1" | grep -q "app1 stopping" || die "app1 did not see its stop signal"
"$CAIRN" rm "$ng" "$a1" "$a2" "$db" >/dev/null
names=()

# Nothing left: containers, processes, listeners.
for n in "$db" "$a1" "$a2" "$ng"; do
	! "$CAIRN" ps -a | grep -q " $n\$" || die "container $n still listed"
done
for p in "$pg" "$app1" "$app2" "$lb"; do
	! ss -Hltn "sport = :$p" | grep -q . || die "port $p still has a listener"
done
! pgrep -f "postgres -D /var/lib/postgresql/data -c listen_addresses=127.0.0.1 -c port=$pg" >/dev/null ||
	die "a postgres process is left"
end=$(date +%s)
say "OK: all tiers stopped and removed; build $((built - start)) s, run and checks $((end - built)) s"
