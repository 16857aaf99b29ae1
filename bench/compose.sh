#!/bin/bash
# make bench-compose: `cairn compose build` of examples/three-tier (db, the
# app for app1 and app2, lb; built side by side, --jobs = CPUs) against
# `buildah bud --layers` of the same three Buildfiles one after another,
# each tool cold and cached (issue 13).
#
#   cold:   a store holding only debian:12 (cairn: a fresh copy of a base
#           store; buildah: a fresh private storage into which the same
#           debian:12 is pulled from that store), so every step runs,
#           apt-get downloads included;
#   cached: the same build again right after, on that store: every step
#           from the build cache.
# Each timed run gets a fresh copy of the project (nothing is written into
# examples/). Wall time (medians over BENCH_RUNS, with min and max), CPU
# time and peak RSS of the whole process tree (GNU time), the steps run and
# taken from the cache as each tool prints them, and cairn's "waiting"
# lines (a step another service's build was running at the same time). Buildah is set up as in bench/run.sh: bench-owned config
# files and a private --root/--runroot, all under a temp dir removed on
# exit (see bench/README.md). It never fails on timings; it exits non-zero
# when a build or the setup fails.
#
# Environment:
#   CAIRN                    cairn binary (default: build/cairn)
#   BENCH_RUNS               timed runs per tool (default 2; a cold build downloads ~100 MB)
#   BENCH_TOOLS              subset of: cairn buildah (default both)
#   BENCH_TMPDIR             where the temp dir goes (default /var/tmp)
#   BENCH_BUILDAH_ISOLATION  buildah --isolation (default oci)
#   BENCH_KEEP               1: keep the temp dir (build logs) for a look afterwards
#   DEBIAN_CACHE             examples/debian/build.sh's rootfs cache (default build/debian)
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
. "$here/buildah-env.sh"
. "$here/timed.sh"
repo=$(cd "$here/.." && pwd)
CAIRN=${CAIRN:-$repo/build/cairn}
RUNS=${BENCH_RUNS:-2}
TOOLS=${BENCH_TOOLS:-cairn buildah}
ISOLATION=${BENCH_BUILDAH_ISOLATION:-oci}
project=$repo/examples/three-tier
tiers="db app lb"

log() { printf '==> %s\n' "$*"; }
die() { printf 'bench-compose: %s\n' "$*" >&2; exit 1; }
has() { [[ " $1 " == *" $2 "* ]]; }   # has LIST WORD

# ---- preconditions -------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "cairn and buildah build as root here; run 'sudo make bench-compose'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
[ -x "$CAIRN" ] || die "CAIRN=$CAIRN is not executable (run 'make' first)"
CAIRN=$(cd "$(dirname "$CAIRN")" && pwd)/$(basename "$CAIRN")
for t in $TOOLS; do
	case $t in cairn | buildah) ;; *) die "unknown tool '$t' in BENCH_TOOLS (known: cairn buildah)" ;; esac
done
[ -n "${TOOLS// /}" ] || die "BENCH_TOOLS is empty"
if has "$TOOLS" cairn && ! "$CAIRN" compose --help >/dev/null 2>&1; then
	die "$CAIRN has no compose command (or BENCH_TOOLS=buildah)"
fi
debian_tar=${DEBIAN_CACHE:-$repo/build/debian}/bookworm-minbase-$(dpkg --print-architecture)/rootfs.tar

need=()
[ -x /usr/bin/time ] || need+=(time)
[ -s "$debian_tar" ] || command -v debootstrap >/dev/null || need+=(debootstrap)
if has "$TOOLS" buildah; then
	command -v buildah >/dev/null || need+=(buildah)
	command -v runc >/dev/null || need+=(runc)
fi
if [ ${#need[@]} -gt 0 ]; then
	log "installing: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

# ---- temp dir, cleaned on exit -------------------------------------------
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/cairn-bench-compose.XXXXXX")
buildah_note_system
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	buildah_clean_system
	if [ -n "${work:-}" ] && [ -d "$work" ]; then
		unmount_under "$work"
		if [ "${BENCH_KEEP:-}" = 1 ]; then echo "bench-compose: kept $work" >&2; else rm -rf "$work"; fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
buildah_env

# ---- the base: debian:12, built once by cairn into base-store -------------
base_store=$work/base-store
log "building the debian:12 base with cairn (examples/debian/build.sh; debootstrap the first time)"
CAIRN=$CAIRN CAIRN_ROOT=$base_store "$repo/examples/debian/build.sh" -q >"$work/base.log" 2>&1 ||
	{ tail -30 "$work/base.log" >&2; die "the debian:12 base failed"; }

cstore=
fresh_cairn() {   # -> $cstore: a store holding only debian:12
	cstore=$work/cairn-store
	rm -rf "$cstore"
	cp -a "$base_store" "$cstore"
}
broot=
fresh_buildah() { # -> $broot: private storage holding only debian:12
	local id
	drop_buildah
	broot=$work/buildah-store
	mkdir -p "$broot"
	# Pulled by the relative, lowercase path "base-store", then retagged
	# (buildah 1.28 names the image after the layout's path; see run.sh).
	id=$(cd "$work" && bah pull -q --signature-policy "$work/policy.json" "oci:base-store:debian:12")
	bah tag "$id" debian:12
	bah rmi localhost/base-store:latest >/dev/null
}
ctx=
fresh_project() { # -> $ctx: a new copy of examples/three-tier
	rm -rf "$work/project"
	mkdir -p "$work/project"
	cp -a "$project" "$work/project/three-tier"
	ctx=$work/project/three-tier
}

# The three Buildfiles one after another, as a script for timed().
cat >"$work/buildah-three.sh" <<EOF
#!/bin/bash
set -e
for t in $tiers; do
	buildah --root "\$1/root" --runroot "\$1/runroot" --storage-driver overlay \\
		build --layers --pull=never --network host --isolation $ISOLATION \\
		--signature-policy "$work/policy.json" \\
		-t "three-tier-\$t" -f "\$2/\$t/Buildfile" "\$2/\$t"
done
EOF
chmod +x "$work/buildah-three.sh"
cairn_compose() { # NAME: compose build of the project copy on $cstore
	# shellcheck disable=SC2016
	timed "$1" sh -c 'cd "$1" && exec "$2" --root "$3" compose build' sh "$ctx" "$CAIRN" "$cstore"
}

# ---- run -----------------------------------------------------------------
log "cairn:    $CAIRN"
has "$TOOLS" buildah && log "buildah:  $(buildah --version) (isolation $ISOLATION, network host, overlay, runc)"
log "host:     $(uname -r), $(nproc) CPUs, temp dir $work"
log "runs:     $RUNS per tool and mode; tools: $TOOLS"
log "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; anything else running skews the times)"

declare -A W C R RUN CACHED WAITS
record() {        # TOOL MODE LOGNAME
	W[$1.$2]+="$wall " C[$1.$2]+="$cpu " R[$1.$2]+="$rss "
	case $1 in
	cairn)
		CACHED[$1.$2]=$(grep -c -- '--> CACHED' "$work/$3.log" || true)
		RUN[$1.$2]=$(grep -cE -- '--> (layer [0-9a-f]{12} .*|[0-9a-f]{12}), DONE' "$work/$3.log" || true)
		WAITS[$1.$2]=$(grep -c -- '--> waiting' "$work/$3.log" || true)
		;;
	buildah)
		# "--> ID" ends every step, "--> Using cache ID" comes before it on a hit.
		CACHED[$1.$2]=$(grep -c 'Using cache' "$work/$3.log" || true)
		RUN[$1.$2]=$(($(grep -cE '^--> [0-9a-f]{11,12}$' "$work/$3.log" || true) - CACHED[$1.$2]))
		WAITS[$1.$2]=-
		;;
	esac
	printf '    %-8s run %d/%d %-6s %8.3f s  (%s steps run, %s from the cache)\n' "$1" "$i" "$RUNS" "$2" "$wall" \
		"${RUN[$1.$2]}" "${CACHED[$1.$2]}"
}

for ((i = 1; i <= RUNS; i++)); do
	# Which tool goes first alternates, so neither always meets warm caches.
	order=$TOOLS
	((i % 2)) || order=$(tr ' ' '\n' <<<"$TOOLS" | tac | tr '\n' ' ')
	for t in $order; do
		fresh_project
		case $t in
		cairn)
			fresh_cairn
			cairn_compose "cairn-cold-$i" || die "cairn compose build failed (cold)"
			record cairn cold "cairn-cold-$i"
			cairn_compose "cairn-cached-$i" || die "cairn compose build failed (cached)"
			record cairn cached "cairn-cached-$i"
			;;
		buildah)
			fresh_buildah
			timed "buildah-cold-$i" "$work/buildah-three.sh" "$broot" "$ctx" || die "buildah bud failed (cold)"
			record buildah cold "buildah-cold-$i"
			timed "buildah-cached-$i" "$work/buildah-three.sh" "$broot" "$ctx" || die "buildah bud failed (cached)"
			record buildah cached "buildah-cached-$i"
			;;
		esac
	done
done
drop_buildah
rm -rf "$work/cairn-store" "$work/project"

# ---- report --------------------------------------------------------------
minmax() { tr ' ' '\n' | grep . | sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s %s\n", lo, hi }'; }
log "load:     $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
echo "examples/three-tier: cairn compose build (4 services: db, app1, app2 -- one image --, lb; side by"
echo "side) vs buildah bud --layers of db, app, lb one after another. cold: a store holding only"
echo "debian:12; cached: the same build again. $RUNS run(s) each; wall seconds (median, min, max),"
echo "cpu_s and peak_MiB (median), steps run and from the cache (last run), waits: cairn's steps that"
echo "waited for the same step in another service's build."
echo
fmt='%-8s %-7s %9s %9s %9s %8s %9s %6s %7s %6s\n'
# shellcheck disable=SC2059
printf "$fmt" tool mode median_s min_s max_s cpu_s peak_MiB run cached waits
for t in $TOOLS; do
	for m in cold cached; do
		read -r lo hi < <(minmax <<<"${W[$t.$m]}")
		# shellcheck disable=SC2059
		printf "$fmt" "$t" "$m" "$(median <<<"${W[$t.$m]}")" "$lo" "$hi" "$(median <<<"${C[$t.$m]}")" \
			"$(median <<<"${R[$t.$m]}" | awk '{ printf "%.0f", $1 / 1024 }')" \
			"${RUN[$t.$m]}" "${CACHED[$t.$m]}" "${WAITS[$t.$m]}"
	done
done
if has "$TOOLS" cairn && has "$TOOLS" buildah; then
	echo
	for m in cold cached; do
		a=$(median <<<"${W[cairn.$m]}") b=$(median <<<"${W[buildah.$m]}")
		printf 'cairn/buildah %-6s %s (%s s / %s s)\n' "$m" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')" "$a" "$b"
	done
fi
