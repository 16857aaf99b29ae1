#!/bin/bash
# make bench-registry: cairn push/pull vs skopeo copy of the same image
# (BENCH_MB, default 500 MB of random data in 5 layers) against Debian's
# docker-registry on a loopback port (plain http, no auth: both tools are
# told --tls-verify=false). Each timed push goes to a fresh, empty registry;
# each pull to a fresh destination; BENCH_RUNS rounds (default 3), the tool
# that goes first alternating. Medians, min, max, peak RSS and the
# cairn/skopeo ratio go to the results table (bench/results.sh). cairn pull
# also unpacks every layer into the store (what a build needs); skopeo only
# writes the blobs.
set -euo pipefail
shopt -s inherit_errexit
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/timed.sh"
. "$here/results.sh"
CAIRN=${CAIRN:-$repo/build/cairn}
RUNS=${BENCH_RUNS:-3}
MB=${BENCH_MB:-500}
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root"
[ -x "$CAIRN" ] || die "CAIRN=$CAIRN is not executable (run 'make' first)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
[[ $MB =~ ^[1-9][0-9]*$ ]] || die "BENCH_MB must be a positive integer (got '$MB')"
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/cairn-bench-reg.XXXXXX")
regpid=
cleanup() { [ -n "$regpid" ] && kill "$regpid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
own=0
results_init "$work" && own=1
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
# A fresh, empty registry (new storage) for every push, so that no tool
# finds a blob there already (skopeo remembers where it saw blobs and would
# mount them).
n_reg=0
fresh_registry() {
	[ -n "$regpid" ] && kill "$regpid" 2>/dev/null && wait "$regpid" 2>/dev/null || true
	n_reg=$((n_reg + 1))
	cat >"$work/config.yml" <<EOC
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry-$n_reg}}
http: {addr: $reg}
EOC
	rm -rf "$work/registry-$((n_reg - 1))"
	env $(env | grep -o "^REGISTRY_[A-Z_]*" | sed "s/^/-u /") docker-registry serve "$work/config.yml" \
		>"$work/registry.log" 2>&1 &
	regpid=$!
	for _ in $(seq 100); do curl -s -o /dev/null "http://$reg/v2/" && return 0; sleep 0.1; done
	die "the registry did not start"
}
echo "==> registry: building a ${MB} MB image (5 layers of random data); load $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$work/ctx"
{ echo "FROM scratch"; for i in 1 2 3 4 5; do
	head -c $((MB * 1000000 / 5)) /dev/urandom >"$work/ctx/part$i"; echo "COPY part$i /part$i"; done; } >"$work/ctx/Buildfile"
store=$work/store
"$CAIRN" --root "$store" build -q -t big:1 "$work/ctx" >/dev/null

declare -A T R C
add() { T[$1]+="$wall " R[$1]+="$rss " C[$1]+="$cpu "; }
push_skopeo() {
	fresh_registry
	timed skopeo-push skopeo copy -q --dest-tls-verify=false "oci:$store:big:1" "docker://$reg/s/big:1"
	add skopeo-push
}
push_cairn() {
	fresh_registry
	timed cairn-push "$CAIRN" --root "$store" push -q --tls-verify=false big:1 "$reg/c/big:1"
	add cairn-push
}
# Both pull the image cairn pushed. Every push starts a fresh registry, so
# in a round where skopeo pushes last cairn pushes again first (untimed).
pull_cairn() {
	rm -rf "$work/pull-store"
	timed cairn-pull "$CAIRN" --root "$work/pull-store" pull -q --tls-verify=false "$reg/c/big:1"
	add cairn-pull
}
pull_skopeo() {
	rm -rf "$work/pull-oci"
	timed skopeo-pull skopeo copy -q --src-tls-verify=false "docker://$reg/c/big:1" "oci:$work/pull-oci:big"
	add skopeo-pull
}
for ((i = 1; i <= RUNS; i++)); do
	if ((i % 2)); then
		push_skopeo; push_cairn; pull_cairn; pull_skopeo
	else
		push_cairn; push_skopeo
		"$CAIRN" --root "$store" push -q --tls-verify=false big:1 "$reg/c/big:1" >/dev/null
		pull_skopeo; pull_cairn
	fi
	echo "    round $i/$RUNS done"
done
for op in push pull; do
	result registry "$op" cairn skopeo "${T[cairn-$op]}" "${R[cairn-$op]}" "${C[cairn-$op]}" \
		"${MB} MB, 5 layers$([ "$op" = pull ] && echo ', cairn unpacks')"
	result registry "$op" skopeo - "${T[skopeo-$op]}" "${R[skopeo-$op]}" "${C[skopeo-$op]}" \
		"skopeo copy$([ "$op" = pull ] && echo ' to an OCI layout')"
done
echo "==> registry: load after $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$own" = 1 ]; then
	echo
	results_table "$BENCH_RESULTS"
fi
