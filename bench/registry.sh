#!/bin/bash
# make bench-registry: cairn push/pull vs skopeo copy of the same image
# (BENCH_MB, default 500 MB of random data in 5 layers) against Debian's
# docker-registry on a loopback port (plain http, no auth: both tools are
# told --tls-verify=false). Each timed push goes to a fresh, empty registry;
# each pull to a fresh destination; medians of BENCH_RUNS (default 3) and the
# cairn/skopeo ratio are printed. cairn pull also unpacks every layer into
# the store (what a build needs); skopeo only writes the blobs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
CAIRN=${CAIRN:-$repo/build/cairn}
RUNS=${BENCH_RUNS:-3}
MB=${BENCH_MB:-500}
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "run as root"
[ -x "$CAIRN" ] || die "CAIRN=$CAIRN is not executable (run 'make' first)"
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
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
# A fresh, empty registry (new storage) for every push, so that no tool
# finds a blob there already (skopeo remembers where it saw blobs and would
# mount them).
n_reg=0
fresh_registry() {
	[ -n "$regpid" ] && kill "$regpid" 2>/dev/null && wait "$regpid" 2>/dev/null || true
	n_reg=$((n_reg + 1))
	cat >"$work/config.yml" <<EOF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry-$n_reg}}
http: {addr: $reg}
EOF
	rm -rf "$work/registry-$((n_reg - 1))"
	env $(env | grep -o "^REGISTRY_[A-Z_]*" | sed "s/^/-u /") docker-registry serve "$work/config.yml" \
		>"$work/registry.log" 2>&1 &
	regpid=$!
	for _ in $(seq 100); do curl -s -o /dev/null "http://$reg/v2/" && return 0; sleep 0.1; done
	die "the registry did not start"
}
echo "==> building a ${MB} MB image (5 layers of random data)"
mkdir -p "$work/ctx"
{ echo "FROM scratch"; for i in 1 2 3 4 5; do
	head -c $((MB * 1000000 / 5)) /dev/urandom >"$work/ctx/part$i"; echo "COPY part$i /part$i"; done; } >"$work/ctx/Buildfile"
store=$work/store
"$CAIRN" --root "$store" build -q -t big:1 "$work/ctx" >/dev/null

# timed NAME CMD...: appends "seconds maxrss_kb" to $work/NAME
timed() {
	local name=$1; shift
	/usr/bin/time -f '%e %M' -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; die "$name failed"; }
	cat "$work/t" >>"$work/$name"
}
median() { cut -d' ' -f"$2" "$work/$1" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

for i in $(seq "$RUNS"); do
	fresh_registry
	timed skopeo-push skopeo copy -q --dest-tls-verify=false "oci:$store:big:1" "docker://$reg/s/big:1"
	fresh_registry
	timed cairn-push "$CAIRN" --root "$store" push -q --tls-verify=false big:1 "$reg/c/big:1"
	rm -rf "$work/pull-store" "$work/pull-oci"
	timed cairn-pull "$CAIRN" --root "$work/pull-store" pull -q --tls-verify=false "$reg/c/big:1"
	timed skopeo-pull skopeo copy -q --src-tls-verify=false "docker://$reg/c/big:1" "oci:$work/pull-oci:big"
done
printf '\n%-6s %10s %10s %7s   %12s %12s\n' op cairn skopeo ratio "cairn RSS" "skopeo RSS"
for op in push pull; do
	c=$(median "cairn-$op" 1) s=$(median "skopeo-$op" 1)
	cr=$(median "cairn-$op" 2) sr=$(median "skopeo-$op" 2)
	printf '%-6s %9ss %9ss %7s   %9s MB %9s MB\n' "$op" "$c" "$s" "$(awk -v a="$c" -v b="$s" 'BEGIN {printf "%.2f", a / b}')" \
		$((cr / 1024)) $((sr / 1024))
done
echo "(${MB} MB image, ${RUNS} runs, medians; loopback http registry; cairn pull includes unpacking)"
