#!/bin/bash
# make bench-rootless: the hello and manyfiles cases built by root cairn,
# by rootless cairn and by rootless buildah (bud --layers), interleaved,
# cold builds; medians and ratios (issue 10).
#
# Run as root: it makes a throw-away user (useradd, home under the temp
# dir) with a /etc/subuid and /etc/subgid range of its own, which the
# cleanup removes again with the user and the temp dir. The rootless tools
# run as that user through setpriv, with no capabilities and a clean
# environment (HOME, USER, PATH, XDG_RUNTIME_DIR: a 0700 dir of the user's,
# as a login session has).
#   root cairn:      a fresh copy of a root store holding busybox:latest
#   rootless cairn:  a fresh copy of the user's store holding busybox:latest
#                    (built by the user, so its files have the user's ids)
#   rootless buildah: a fresh storage under the user's home (overlay, runc,
#                    cgroupfs, --network host, --isolation oci) into which
#                    the user's busybox:latest is pulled from that store;
#                    its own storage.conf and containers.conf under ~/.config
# If buildah cannot build rootless here, its error is printed and the other
# two are still measured.
#
# Environment: CAIRN, BENCH_RUNS (default 5), BENCH_WARMUP (default 1),
# BENCH_CASES (subset of: hello manyfiles), BENCH_TMPDIR (default /var/tmp).
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
. "$here/buildah-env.sh"
. "$here/timed.sh"
repo=$(cd "$here/.." && pwd)
CAIRN=${CAIRN:-$repo/build/cairn}
RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}
CASES=${BENCH_CASES:-hello manyfiles}

log() { printf '==> %s\n' "$*"; }
die() { printf 'bench-rootless: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "it makes a throw-away user and builds as root too: run 'sudo make bench-rootless'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer (got '$WARMUP')"
[ -x "$CAIRN" ] || die "CAIRN=$CAIRN is not executable (run 'make' first)"
for c in $CASES; do
	case $c in hello | manyfiles) ;; *) die "unknown case '$c' (known: hello manyfiles)" ;; esac
done
need=()
for t in buildah runc newuidmap setpriv useradd jq; do command -v "$t" >/dev/null || need+=("$t"); done
[ -x /usr/bin/time ] || need+=(time)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
	die "missing: ${need[*]} (make deps installs buildah, runc, uidmap, time, busybox-static, jq)"
fi

# ---- the temp dir and the user, removed on exit ---------------------------
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/cairn-bench-rl.XXXXXX")
chmod 0711 "$work"
U=cnbench$$
made_user=
cleanup() {
	local rc=$? uid
	trap - EXIT INT TERM
	if [ -n "$made_user" ]; then
		uid=$(id -u "$U" 2>/dev/null || true)
		userdel "$U" 2>/dev/null || true
		sed -i "/^$U:/d" /etc/subuid /etc/subgid
		[ -n "$uid" ] && rm -rf "/tmp/cairn-run-$uid"
	fi
	unmount_under "$work"
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A range above every existing one (ranges may overlap, but then the ids
# of two users' containers would be the same on the host).
start=$(awk -F: '{ e = $2 + $3; if (e > m) m = e } END { print (m > 1000000 ? m : 1000000) }' /etc/subuid /etc/subgid)
useradd -m -d "$work/home" -s /bin/sh "$U" >/dev/null
made_user=1
sed -i "/^$U:/d" /etc/subuid /etc/subgid
echo "$U:$start:65536" >>/etc/subuid
echo "$U:$start:65536" >>/etc/subgid
H=$work/home
install -d -m 0700 -o "$U" -g "$U" "$H/run"
# as CMD...: CMD as the user, in its home (an argv, so /usr/bin/time can run it)
AS=(setpriv --reuid="$U" --regid="$U" --init-groups --inh-caps=-all
	env -i -C "$H" HOME="$H" USER="$U" LOGNAME="$U" PATH=/usr/sbin:/usr/bin:/sbin:/bin
	XDG_RUNTIME_DIR="$H/run")
as() { "${AS[@]}" "$@"; }
install -m 0755 "$CAIRN" "$work/cairn"

# Contexts every one can read.
mkdir -p "$work/ctx"
cp -a "$repo/examples/busybox" "$work/ctx/busybox"
install -m 0755 /bin/busybox "$work/ctx/busybox/busybox"
cp -a "$repo/examples/hello" "$work/ctx/hello"
cp -a "$here/cases/manyfiles" "$work/ctx/manyfiles"
chmod -R a+rX "$work/ctx"

# ---- the base image, built once per store ---------------------------------
log "building the busybox base: as root, and rootless as $U (uid $(id -u "$U"), range $start:65536)"
"$work/cairn" --root "$work/root-base" build -q -t busybox:latest "$work/ctx/busybox" >"$work/base.log" 2>&1 ||
	{ cat "$work/base.log" >&2; die "root cairn failed to build the base"; }
as "$work/cairn" --root "$H/rl-base" build -q -t busybox:latest "$work/ctx/busybox" >"$work/rlbase.log" 2>&1 ||
	{ cat "$work/rlbase.log" >&2; die "rootless cairn failed to build the base"; }

# ---- rootless buildah's configuration, the user's own ---------------------
as mkdir -p "$H/.config/containers"
as sh -c "cat >'$H/.config/containers/containers.conf'" <<EOF
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
[network]
network_config_dir = "$H/networks"
EOF
as sh -c "cat >'$H/.config/containers/storage.conf'" <<EOF
[storage]
driver = "overlay"
graphroot = "$H/buildah-unused/root"
runroot = "$H/run/buildah-unused"
EOF
as sh -c "echo 'unqualified-search-registries = []' >'$H/.config/containers/registries.conf'"
as sh -c "echo '{ \"default\": [ { \"type\": \"insecureAcceptAnything\" } ] }' >'$H/.config/containers/policy.json'"
# buildah as the user on its current storage
BAH=("${AS[@]}" buildah --root "$H/bstore/root" --runroot "$H/run/bstore" --storage-driver overlay)
bah() { "${BAH[@]}" "$@"; }
fresh_buildah() {
	rm -rf "$H/bstore" "$H/run/bstore"
	local id
	# (pulled by a relative path: buildah 1.28 names the image after it)
	id=$(bah pull -q oci:rl-base:busybox:latest) && bah tag "$id" busybox:latest &&
		bah rmi localhost/rl-base:latest >/dev/null
}

build_root() {
	rm -rf "$work/root-store"
	cp -a "$work/root-base" "$work/root-store"
	timed "root-$1" "$work/cairn" --root "$work/root-store" build -t "bench-$1:latest" "$work/ctx/$1"
}
build_rootless() {
	rm -rf "$H/rl-store"
	cp -a "$H/rl-base" "$H/rl-store"
	timed "rootless-$1" "${AS[@]}" "$work/cairn" --root "$H/rl-store" build -t "bench-$1:latest" "$work/ctx/$1"
}
build_buildah() {
	fresh_buildah >"$work/bfresh.log" 2>&1 || { cat "$work/bfresh.log" >&2; return 1; }
	timed "buildah-$1" "${BAH[@]}" bud --layers --pull=never --network host --isolation oci \
		-t "bench-$1:latest" -f "$work/ctx/$1/Buildfile" "$work/ctx/$1"
}

# Can buildah build rootless here? One try, its error shown if not.
tools="root rootless buildah"
log "checking that buildah builds rootless: $(buildah --version)"
if ! build_buildah hello 2>"$work/buildah-check.err"; then
	echo "bench-rootless: rootless buildah cannot build here; measuring cairn only. Its error:" >&2
	cat "$work/buildah-check.err" >&2
	tools="root rootless"
fi


log "cairn:   $CAIRN"
log "runc:    $(runc --version | head -1)"
log "host:    $(uname -r), $(nproc) CPUs, temp dir $work ($(stat -f -c %T "$work"))"
log "runs:    $RUNS timed + $WARMUP warm-up per tool and case; cases: $CASES; tools: $tools"
log "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; anything else running skews the times)"

declare -A T C R
for c in $CASES; do
	for ((i = 1; i <= WARMUP; i++)); do
		log "$c: warm-up $i/$WARMUP (untimed)"
		for tool in $tools; do "build_$tool" "$c"; done
	done
	for tool in $tools; do T[$tool.$c]="" C[$tool.$c]="" R[$tool.$c]=""; done
	for ((i = 1; i <= RUNS; i++)); do
		# rotate who goes first
		read -ra order <<<"$tools"
		k=$(((i - 1) % ${#order[@]}))
		order=("${order[@]:k}" "${order[@]:0:k}")
		for tool in "${order[@]}"; do
			"build_$tool" "$c"
			T[$tool.$c]+="$wall " C[$tool.$c]+="$cpu " R[$tool.$c]+="$rss "
			printf '    %-9s %-9s run %d/%d: %7.3f s wall %7.2f s cpu %8d KiB peak RSS\n' \
				"$c" "$tool" "$i" "$RUNS" "$wall" "$cpu" "$rss"
		done
	done
done

log "load:    $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
echo "Cold builds (fresh store holding only busybox:latest), $RUNS runs each; wall time in seconds."
echo "root = root cairn, rootless = cairn as an ordinary user, buildah = rootless buildah bud --layers."
echo "cpu_s: user + system CPU seconds of the build's process tree, median; peak RSS: largest process."
fmt='%-10s %-9s %9s %8s %8s %7s %9s %14s %17s\n'
# shellcheck disable=SC2059
printf "$fmt" case tool median_s min_s max_s cpu_s peak_MiB rootless/root rootless/buildah
for c in $CASES; do
	mr=$(median <<<"${T[root.$c]}")
	ml=$(median <<<"${T[rootless.$c]}")
	mb=$([[ $tools == *buildah* ]] && median <<<"${T[buildah.$c]}" || echo "")
	for tool in $tools; do
		r1=- r2=-
		if [ "$tool" = rootless ]; then
			r1=$(awk -v a="$ml" -v b="$mr" 'BEGIN { printf "%.2f", a / b }')
			[ -n "$mb" ] && r2=$(awk -v a="$ml" -v b="$mb" 'BEGIN { printf "%.2f", a / b }')
		fi
		# shellcheck disable=SC2059
		printf "$fmt" "$c" "$tool" "$(median <<<"${T[$tool.$c]}")" "$(minv <<<"${T[$tool.$c]}")" \
			"$(maxv <<<"${T[$tool.$c]}")" "$(median <<<"${C[$tool.$c]}")" \
			"$(awk -v k="$(median <<<"${R[$tool.$c]}")" 'BEGIN { printf "%.1f", k / 1024 }')" "$r1" "$r2"
	done
done
