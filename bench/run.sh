#!/bin/bash
# make bench: cairn vs buildah (bud --layers), side by side, cold builds.
#
# For each case, BENCH_RUNS timed builds per tool (default 5), alternating
# which tool goes first. Every timed build starts from a fresh store that
# holds only the busybox base image, so nothing is cached:
#   cairn:   a copy of a store where examples/busybox was built once;
#   buildah: a fresh private storage root into which that same image is
#            pulled from cairn's store (oci:STORE:busybox:latest) and tagged
#            busybox:latest.
# Buildah runs with bench-owned config files (CONTAINERS_CONF & co.) and a
# private --root/--runroot, all under a temp dir removed on exit: the user's
# images and /etc/containers are not touched. See bench/README.md.
#
# Environment:
#   CAIRN                    cairn binary (default: build/cairn)
#   BENCH_RUNS               timed runs per tool and case (default 5)
#   BENCH_WARMUP             untimed warm-up builds per tool and case (default 1)
#   BENCH_CASES              space-separated subset of: hello manyfiles parallel
#   BENCH_TMPDIR             where the temp dir goes (default /var/tmp)
#   BENCH_BUILDAH_ISOLATION  buildah --isolation (default oci; chroot also works)
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
. "$here/buildah-env.sh"
. "$here/timed.sh"
repo=$(cd "$here/.." && pwd)
CAIRN=${CAIRN:-$repo/build/cairn}
RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}
CASES=${BENCH_CASES:-hello manyfiles parallel}
ISOLATION=${BENCH_BUILDAH_ISOLATION:-oci}

log() { printf '==> %s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ---- preconditions -------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "cairn and buildah build as root here; run 'sudo make bench'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer (got '$WARMUP')"
[ -x "$CAIRN" ] || die "CAIRN=$CAIRN is not executable (run 'make' first)"
CAIRN=$(cd "$(dirname "$CAIRN")" && pwd)/$(basename "$CAIRN")

case_buildfile() {
	case $1 in
	hello) echo "$repo/examples/hello/Buildfile" ;;
	manyfiles) echo "$here/cases/manyfiles/Buildfile" ;;
	parallel) echo "$here/cases/parallel/Buildfile" ;;
	*) return 1 ;;
	esac
}
for c in $CASES; do
	case_buildfile "$c" >/dev/null || die "unknown case '$c' (known: hello manyfiles parallel)"
done

# ---- packages (Debian) ---------------------------------------------------
# buildah and runc for the comparison, time for peak RSS, busybox-static
# for the base image, jq/zstd/gzip to read and measure layers.
need=()
command -v buildah >/dev/null || need+=(buildah)
command -v runc >/dev/null || need+=(runc)
[ -x /usr/bin/time ] || need+=(time)
command -v jq >/dev/null || need+=(jq)
command -v zstd >/dev/null || need+=(zstd)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
	log "installing: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

# ---- temp dir, cleaned on exit -------------------------------------------
tmp_parent=${BENCH_TMPDIR:-/var/tmp}
work=$(mktemp -d "$tmp_parent/cairn-bench.XXXXXX")
# For root, buildah writes two system paths no config file moves: the blob
# info cache (/var/lib/containers/cache) and netavark's run dir
# (/run/containers/networks, created even with --network host). When they
# did not exist before, remove what buildah put there (rmdir: only if empty,
# so nothing another tool created meanwhile goes).
buildah_note_system
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	buildah_clean_system
	if [ -n "${work:-}" ] && [ -d "$work" ]; then
		unmount_under "$work"
		rm -rf "$work"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- buildah, configured by bench-owned files only -----------------------
buildah_env

broot=   # current private storage (set by fresh_buildah)

# ---- base image ----------------------------------------------------------
# Built once by cairn from examples/busybox (copied, so examples/ is left as
# is) into base-store; each run starts from a copy of it.
base_store=$work/base-store
log "building the busybox base with cairn (examples/busybox)"
cp -a "$repo/examples/busybox" "$work/ctx-busybox"
install -m 0755 /bin/busybox "$work/ctx-busybox/busybox"
"$CAIRN" --root "$base_store" build -q -t busybox:latest "$work/ctx-busybox" >"$work/base.log" 2>&1 ||
	{ cat "$work/base.log" >&2; die "cairn failed to build the busybox base"; }

fresh_cairn() {   # -> $cstore: a store holding only busybox:latest
	cstore=$work/cairn-store
	rm -rf "$cstore"
	cp -a "$base_store" "$cstore"
}

fresh_buildah() { # -> $broot: private storage holding only busybox:latest
	local id
	drop_buildah
	broot=$work/buildah-store
	mkdir -p "$broot"
	# buildah 1.28 names an image pulled from an OCI layout after the
	# layout's path, which must then be a valid (lowercase) repository name:
	# pull by the relative path "base-store", then retag.
	id=$(cd "$work" && bah pull -q --signature-policy "$work/policy.json" oci:base-store:busybox:latest)
	bah tag "$id" busybox:latest
	bah rmi localhost/base-store:latest >/dev/null
}


build_cairn() {   # CASE
	local bf; bf=$(case_buildfile "$1")
	fresh_cairn
	timed "cairn-$1" "$CAIRN" --root "$cstore" build -t "bench-$1:latest" -f "$bf" "$(dirname "$bf")"
}

build_buildah() { # CASE
	local bf; bf=$(case_buildfile "$1")
	fresh_buildah
	timed "buildah-$1" buildah --root "$broot/root" --runroot "$broot/runroot" \
		--storage-driver overlay bud --layers --pull=never --network host \
		--isolation "$ISOLATION" --signature-policy "$work/policy.json" \
		-t "bench-$1:latest" -f "$bf" "$(dirname "$bf")"
}

# The same build again on the store the cold build left: nothing changed,
# so every step should come from the tool's cache.
rebuild_cairn() {   # CASE
	local bf; bf=$(case_buildfile "$1")
	timed "cairn-$1-cached" "$CAIRN" --root "$cstore" build -t "bench-$1:latest" -f "$bf" "$(dirname "$bf")"
}

rebuild_buildah() { # CASE
	local bf; bf=$(case_buildfile "$1")
	timed "buildah-$1-cached" buildah --root "$broot/root" --runroot "$broot/runroot" \
		--storage-driver overlay bud --layers --pull=never --network host \
		--isolation "$ISOLATION" --signature-policy "$work/policy.json" \
		-t "bench-$1:latest" -f "$bf" "$(dirname "$bf")"
}

# ---- layer sizes ---------------------------------------------------------
# layer_sizes OCI-DIR REF -> "COUNT TAR-BYTES BLOB-BYTES COMPRESSION":
# compressed blob sizes from the manifest, tar bytes by decompressing.
layer_sizes() {
	local dir=$1 ref=$2 m n=0 tar=0 blob=0 comp="" mt d s u
	m=$(jq -r --arg r "$ref" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $r) | .digest' \
		"$dir/index.json")
	[ -n "$m" ] || { echo "? ? ? ?"; return; }
	while read -r mt d s; do
		case $mt in
		*zstd) u=$(zstd -dc "$dir/blobs/sha256/${d#sha256:}" | wc -c); comp=zstd ;;
		*gzip) u=$(gzip -dc "$dir/blobs/sha256/${d#sha256:}" | wc -c); comp=gzip ;;
		*tar) u=$s; comp=${comp:-none} ;;
		*) u=0 ;;
		esac
		n=$((n + 1)); tar=$((tar + u)); blob=$((blob + s))
	done < <(jq -r '.layers[] | "\(.mediaType) \(.digest) \(.size)"' "$dir/blobs/sha256/${m#sha256:}")
	echo "$n $tar $blob $comp"
}

sizes_cairn() {   # CASE (after a cairn build)
	layer_sizes "$cstore" "bench-$1:latest"
}

sizes_buildah() { # CASE (after a buildah build): pushed as buildah would ship it
	rm -rf "$work/buildah-push"
	bah push -q --signature-policy "$work/policy.json" "bench-$1:latest" "oci:$work/buildah-push:img" >/dev/null
	layer_sizes "$work/buildah-push" img
}

# ---- stats ---------------------------------------------------------------
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END {
	if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
minv() { tr ' ' '\n' | grep . | sort -g | head -1; }
maxv() { tr ' ' '\n' | grep . | sort -g | tail -1; }

# ---- run -----------------------------------------------------------------
log "cairn:   $CAIRN"
log "buildah: $(buildah --version) (isolation $ISOLATION, network host, overlay, runc, cgroupfs)"
log "runc:    $(runc --version | head -1)"
log "host:    $(uname -r), $(nproc) CPUs, temp dir $work ($(stat -f -c %T "$work"))"
log "runs:    $RUNS timed + $WARMUP warm-up per tool and case; cases: $CASES"
log "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; anything else running skews the times)"

declare -A T C R L W
for c in $CASES; do
	for ((i = 1; i <= WARMUP; i++)); do
		log "$c: warm-up $i/$WARMUP (untimed)"
		build_cairn "$c"
		build_buildah "$c"
	done
	T[cairn.$c]="" T[buildah.$c]="" C[cairn.$c]="" C[buildah.$c]=""
	R[cairn.$c]="" R[buildah.$c]=""
	W[cairn.$c]="" W[buildah.$c]=""
	for ((i = 1; i <= RUNS; i++)); do
		if ((i % 2)); then order="cairn buildah"; else order="buildah cairn"; fi
		for tool in $order; do
			"build_$tool" "$c"
			T[$tool.$c]+="$wall "
			R[$tool.$c]+="$rss "
			C[$tool.$c]+="$cpu "
			printf '    %-9s run %d/%d: %7.3f s wall %7.2f s cpu %8d KiB peak RSS\n' \
				"$tool" "$i" "$RUNS" "$wall" "$cpu" "$rss"
			if [ "$i" -eq 1 ]; then
				L[$tool.$c]=$("sizes_$tool" "$c")
			fi
			"rebuild_$tool" "$c"
			W[$tool.$c]+="$wall "
			printf '    %-9s run %d/%d: %7.3f s wall (cached rebuild)\n' "$tool" "$i" "$RUNS" "$wall"
		done
	done
	drop_buildah
	rm -rf "$work/cairn-store" "$work/buildah-push"
done

# Anything still mounted under the temp dir is a leak of one of the tools.
if awk -v w="$work/" 'index($5, w) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
	echo "bench: warning: mounts left under $work after the builds:" >&2
	awk -v w="$work/" 'index($5, w) == 1 { print "  " $5 }' /proc/self/mountinfo >&2
fi

# ---- report --------------------------------------------------------------
log "load:    $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
echo "Cold builds (fresh store holding only busybox:latest), $RUNS runs each; wall time in seconds."
echo "cpu_s: user + system CPU seconds of the build's process tree (RUN steps included), median."
echo "peak RSS: largest process of the build's process tree (GNU time %M), median over runs."
echo "layers: whole image (base included); tar = uncompressed bytes, blob = compressed as stored"
echo "(cairn: its store) or shipped (buildah: 'buildah push' to an OCI layout)."
echo
fmt='%-10s %-8s %9s %8s %8s %14s %7s %9s %7s %10s  %s\n'
# shellcheck disable=SC2059
printf "$fmt" case tool median_s min_s max_s cairn/buildah cpu_s peak_MiB layers tar_bytes blob_bytes
for c in $CASES; do
	mc=$(median <<<"${T[cairn.$c]}")
	mb=$(median <<<"${T[buildah.$c]}")
	ratio=$(awk -v a="$mc" -v b="$mb" 'BEGIN { printf "%.2f", a / b }')
	for tool in cairn buildah; do
		read -r n tar blob comp <<<"${L[$tool.$c]}"
		rss_mib=$(awk -v k="$(median <<<"${R[$tool.$c]}")" 'BEGIN { printf "%.1f", k / 1024 }')
		# shellcheck disable=SC2059
		printf "$fmt" "$c" "$tool" "$(median <<<"${T[$tool.$c]}")" \
			"$(minv <<<"${T[$tool.$c]}")" "$(maxv <<<"${T[$tool.$c]}")" \
			"$([ "$tool" = cairn ] && echo "$ratio" || echo -)" \
			"$(median <<<"${C[$tool.$c]}")" "$rss_mib" \
			"$n" "$tar" "$blob ($comp)"
	done
done

echo
echo "Cached rebuilds (the same build again, nothing changed), $RUNS runs each; wall time in seconds."
fmt2='%-10s %-8s %9s %8s %8s %14s\n'
# shellcheck disable=SC2059
printf "$fmt2" case tool median_s min_s max_s cairn/buildah
for c in $CASES; do
	mc=$(median <<<"${W[cairn.$c]}")
	mb=$(median <<<"${W[buildah.$c]}")
	ratio=$(awk -v a="$mc" -v b="$mb" 'BEGIN { printf "%.2f", a / b }')
	for tool in cairn buildah; do
		# shellcheck disable=SC2059
		printf "$fmt2" "$c" "$tool" "$(median <<<"${W[$tool.$c]}")" "$(minv <<<"${W[$tool.$c]}")" \
			"$(maxv <<<"${W[$tool.$c]}")" "$([ "$tool" = cairn ] && echo "$ratio" || echo -)"
	done
done
