#!/bin/bash
# make bench: issue 16's one table. cairn against the other tool, side by
# side, every case interleaved (the tool that goes first alternates):
#   hello manyfiles parallel  Buildfiles, cold and cached, vs buildah bud --layers
#   layers                    a BENCH_LAYERS-step build (default 500), cold,
#                             cached, and a run of the image
#   context                   COPY of a generated BENCH_FILES-file context
#                             (default 1,000,000), cold and cached, peak RSS
#   commit                    a 1 GiB realistic layer commit, zstd and gzip, vs
#                             tar | zstd -1 -T2 | sha256sum and tar | pigz (commit.sh)
#   bigcommit                 peak RSS of a 10 GiB layer commit (commit.sh)
#   registry                  push and pull vs skopeo copy, local registry (registry.sh)
# Cold build: a fresh store holding only the busybox base image, so nothing
# is cached:
#   cairn:   a copy of a store where examples/busybox was built once;
#   buildah: a fresh private storage root into which that same image is
#            pulled from cairn's store (oci:STORE:busybox:latest) and tagged
#            busybox:latest.
# Cached: the same build again on the store the cold build left.
# Buildah runs with bench-owned config files (CONTAINERS_CONF & co.) and a
# private --root/--runroot, all under a temp dir removed on exit: the user's
# images and /etc/containers are not touched. Every case records its rows
# in one results file (bench/results.sh); the table, with issue 16's goals
# met or not, is printed at the end and written to BENCH_OUT. See
# bench/README.md.
#
# Environment:
#   CAIRN                    cairn binary (default: build/cairn)
#   COMMIT_PROBE             commit/bigcommit's probe (default: build/bench/commit)
#   BENCH_RUNS               timed runs per tool and case (default 5; registry 3)
#   BENCH_RUNS_<case>        the same for one build case (e.g. BENCH_RUNS_context=2)
#   BENCH_WARMUP             untimed warm-up builds per tool and case (default 1)
#   BENCH_CASES              space-separated subset of the cases above (default all)
#   BENCH_LAYERS             steps of the layers case (default 500)
#   BENCH_FILES              files of the context case (default 1000000)
#   BENCH_OUT                where results.tsv and results.txt go (default build/bench)
#   BENCH_TMPDIR             where the temp dir goes (default /var/tmp)
#   BENCH_BUILDAH_ISOLATION  buildah --isolation (default oci; chroot also works)
#   (commit.sh and registry.sh read more: BENCH_COMMIT_MIB, BENCH_BIG_GIB, BENCH_MB)
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
. "$here/buildah-env.sh"
. "$here/timed.sh"
. "$here/results.sh"
repo=$(cd "$here/.." && pwd)
CAIRN=${CAIRN:-$repo/build/cairn}
PROBE=${COMMIT_PROBE:-$repo/build/bench/commit}
RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}
ALL_CASES="hello manyfiles parallel layers context commit bigcommit registry"
CASES=${BENCH_CASES:-$ALL_CASES}
LAYERS=${BENCH_LAYERS:-500}
FILES=${BENCH_FILES:-1000000}
OUT=${BENCH_OUT:-$repo/build/bench}
ISOLATION=${BENCH_BUILDAH_ISOLATION:-oci}

log() { printf '==> %s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ---- preconditions -------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "cairn and buildah build as root here; run 'sudo make bench'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer (got '$WARMUP')"
[[ $LAYERS =~ ^[1-9][0-9]*$ ]] || die "BENCH_LAYERS must be a positive integer (got '$LAYERS')"
[[ $FILES =~ ^[1-9][0-9]*$ ]] || die "BENCH_FILES must be a positive integer (got '$FILES')"
[ -x "$CAIRN" ] || die "CAIRN=$CAIRN is not executable (run 'make' first)"
CAIRN=$(cd "$(dirname "$CAIRN")" && pwd)/$(basename "$CAIRN")

# The build cases; case_buildfile and case_context name their Buildfile and
# context (layers and context: generated under the temp dir, see below).
case_buildfile() {
	case $1 in
	hello) echo "$repo/examples/hello/Buildfile" ;;
	manyfiles) echo "$here/cases/manyfiles/Buildfile" ;;
	parallel) echo "$here/cases/parallel/Buildfile" ;;
	layers) echo "$work/cases/layers/Buildfile" ;;
	context) echo "$work/cases/context.Buildfile" ;;
	*) return 1 ;;
	esac
}
case_context() {
	case $1 in
	context) echo "$ctx_tree" ;;
	*) dirname "$(case_buildfile "$1")" ;;
	esac
}
build_cases="" commit_cases=""
for c in $CASES; do
	case $c in
	hello | manyfiles | parallel | layers | context) build_cases+="$c " ;;
	commit) commit_cases+="zstd gzip " ;;
	bigcommit) commit_cases+="big " ;;
	registry) ;;
	*) die "unknown case '$c' (known: $ALL_CASES)" ;;
	esac
done
for c in $build_cases; do
	v=BENCH_RUNS_$c
	[[ ${!v:-$RUNS} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
if [ -n "$commit_cases" ] && [ ! -x "$PROBE" ]; then
	die "no commit probe at $PROBE ('make bench' builds it, or 'make build/bench/commit')"
fi

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
if [ ${#need[@]} -gt 0 ] && [ -n "$build_cases" ]; then
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

# ---- results ---------------------------------------------------------------
# One raw file for every case (the scripts called below append to it too),
# in BENCH_OUT: what was measured stays there if the bench stops half-way.
unset BENCH_RESULTS
mkdir -p "$OUT"
rm -f "$OUT/results.txt" "$OUT/results.tsv"
results_init "$OUT" || true
failed=""   # the cases that could not be measured (the exit status says so)

# ---- build cases: setup ----------------------------------------------------
broot=   # current private storage (set by fresh_buildah)
if [ -n "$build_cases" ]; then
	buildah_env
	# Base image: built once by cairn from examples/busybox (copied, so
	# examples/ is left as is) into base-store; each run starts from a copy.
	base_store=$work/base-store
	log "building the busybox base with cairn (examples/busybox)"
	cp -a "$repo/examples/busybox" "$work/ctx-busybox"
	install -m 0755 /bin/busybox "$work/ctx-busybox/busybox"
	"$CAIRN" --root "$base_store" build -q -t busybox:latest "$work/ctx-busybox" >"$work/base.log" 2>&1 ||
		{ cat "$work/base.log" >&2; die "cairn failed to build the busybox base"; }
fi
# layers: one RUN per layer, each writing a file of its own.
if [[ " $build_cases " == *" layers "* ]]; then
	mkdir -p "$work/cases/layers"
	{ echo "FROM busybox:latest"; for ((i = 1; i <= LAYERS; i++)); do echo "RUN echo $i >/l$i"; done; } \
		>"$work/cases/layers/Buildfile"
fi
# context: COPY of a generated tree, made once per size and kept (like
# commit.sh's tree): making a million files takes minutes.
ctx_tree=$tmp_parent/cairn-bench-context-$FILES
if [[ " $build_cases " == *" context "* ]]; then
	mkdir -p "$work/cases"
	printf 'FROM busybox:latest\nCOPY . /ctx\n' >"$work/cases/context.Buildfile"
	if [ ! -d "$ctx_tree" ]; then
		log "making $ctx_tree ($FILES files, once)"
		rm -rf "$ctx_tree.part"
		python3 "$here/ctxgen.py" "$ctx_tree.part" "$FILES" && mv "$ctx_tree.part" "$ctx_tree"
	fi
fi

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

# build_TOOL CASE [cached]: a cold build on a fresh store; "cached": the
# same build again on the store the cold build left (nothing changed, so
# every step should come from the tool's cache).
build_cairn() {
	local bf; bf=$(case_buildfile "$1")
	[ -n "${2:-}" ] || fresh_cairn
	timed "cairn-$1${2:+-$2}" "$CAIRN" --root "$cstore" build -t "bench-$1:latest" -f "$bf" "$(case_context "$1")"
}

build_buildah() {
	local bf; bf=$(case_buildfile "$1")
	[ -n "${2:-}" ] || fresh_buildah
	timed "buildah-$1${2:+-$2}" buildah --root "$broot/root" --runroot "$broot/runroot" \
		--storage-driver overlay bud --layers --pull=never --network host \
		--isolation "$ISOLATION" --signature-policy "$work/policy.json" \
		-t "bench-$1:latest" -f "$bf" "$(case_context "$1")"
}

# ---- layer sizes -----------------------------------------------------------
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

# sizes_note "COUNT TAR BLOB COMP" -> the table's note for a cold build
sizes_note() {
	local n tar blob comp
	read -r n tar blob comp <<<"$1"
	awk -v n="$n" -v t="$tar" -v b="$blob" -v c="$comp" 'BEGIN {
		if (t == "?") { print "image not found"; exit }
		printf "%d layers, %.1f MB tar, %.1f MB blobs (%s)", n, t / 1e6, b / 1e6, c }'
}

# A buildah failure (buildah stops at 128 layers) is recorded, not fatal:
# why_failed NAME -> its last STEP and error line.
why_failed() {
	local step err
	step=$(grep -o 'STEP [0-9]*/[0-9]*' "$work/$1.log" | tail -1 || true)
	err=$(grep -i 'error' "$work/$1.log" | tail -1 || true)
	[ "${#err}" -le 90 ] || err="...${err: -87}"   # the cause is at the end
	echo "failed${step:+ at $step}: ${err:-see the log above}"
}

# ---- one build case ----------------------------------------------------------
declare -A T C R W WR WC L F
bench_build_case() {
	local c=$1 i tool order runs_var=BENCH_RUNS_$1 runs
	runs=${!runs_var:-$RUNS}   # checked above
	for tool in cairn buildah run; do
		T[$tool]="" C[$tool]="" R[$tool]="" W[$tool]="" WR[$tool]="" WC[$tool]="" L[$tool]="" F[$tool]=""
	done
	for ((i = 1; i <= WARMUP; i++)); do
		log "$c: warm-up $i/$WARMUP (untimed)"
		build_cairn "$c" || die "cairn failed to build $c"
		if [ -z "${F[buildah]}" ] && ! build_buildah "$c"; then
			F[buildah]=$(why_failed "buildah-$c")
			log "$c: buildah $(tr -d '\n' <<<"${F[buildah]}"); measuring cairn only"
		fi
	done
	for ((i = 1; i <= runs; i++)); do
		if ((i % 2)); then order="cairn buildah"; else order="buildah cairn"; fi
		for tool in $order; do
			[ -z "${F[$tool]}" ] || continue
			if ! "build_$tool" "$c"; then
				[ "$tool" = buildah ] || die "cairn failed to build $c"
				F[buildah]=$(why_failed "buildah-$c")
				log "$c: buildah $(tr -d '\n' <<<"${F[buildah]}"); measuring cairn only"
				continue
			fi
			T[$tool]+="$wall " R[$tool]+="$rss " C[$tool]+="$cpu "
			printf '    %-9s run %d/%d: %7.3f s wall %7.2f s cpu %8d KiB peak RSS\n' \
				"$tool" "$i" "$runs" "$wall" "$cpu" "$rss"
			if [ "$i" -eq 1 ]; then
				L[$tool]=$(sizes_note "$("sizes_$tool" "$c")")
			fi
			"build_$tool" "$c" cached || die "$tool failed to rebuild $c"
			W[$tool]+="$wall " WR[$tool]+="$rss " WC[$tool]+="$cpu "
			printf '    %-9s run %d/%d: %7.3f s wall %7.2f s cpu %8d KiB peak RSS (cached rebuild)\n' \
				"$tool" "$i" "$runs" "$wall" "$cpu" "$rss"
			if [ "$c" = layers ] && [ "$tool" = cairn ]; then
				# ...and the image runs: its last layer's file is there.
				timed "cairn-layers-run" "$CAIRN" --root "$cstore" run --rm --network none "bench-layers:latest" cat "/l$LAYERS" ||
					die "cairn could not run the $LAYERS-layer image"
				[ "$(tail -1 "$work/cairn-layers-run.log")" = "$LAYERS" ] ||
					die "the $LAYERS-layer image's /l$LAYERS is not '$LAYERS'"
				T[run]+="$wall " R[run]+="$rss " C[run]+="$cpu "
			fi
		done
	done
	local what
	case $c in
	layers) what="$LAYERS RUN steps" ;;
	context) what="$FILES files" ;;
	*) what="" ;;
	esac
	result "$c" cold cairn buildah "${T[cairn]}" "${R[cairn]}" "${C[cairn]}" "${what:+$what, }${L[cairn]}"
	result "$c" cold buildah - "${T[buildah]}" "${R[buildah]}" "${C[buildah]}" "${F[buildah]:-${L[buildah]}}"
	result "$c" cached cairn buildah "${W[cairn]}" "${WR[cairn]}" "${WC[cairn]}" "$what"
	result "$c" cached buildah - "${W[buildah]}" "${WR[buildah]}" "${WC[buildah]}" "${F[buildah]:-}"
	if [ "$c" = layers ]; then
		result layers run cairn - "${T[run]}" "${R[run]}" "${C[run]}" "cairn run --rm --network none IMAGE cat /l$LAYERS"
	fi
	drop_buildah
	rm -rf "$work/cairn-store" "$work/buildah-push"
}

# ---- run -------------------------------------------------------------------
log "cairn:   $CAIRN"
if [ -n "$build_cases" ]; then
	log "buildah: $(buildah --version) (isolation $ISOLATION, network host, overlay, runc, cgroupfs)"
	log "runc:    $(runc --version | head -1)"
fi
log "host:    $(uname -r), $(nproc) CPUs, temp dir $work ($(stat -f -c %T "$work"))"
log "runs:    $RUNS timed + $WARMUP warm-up per tool and case; cases: $CASES"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "load:    $load_start (1/5/15 min; anything else running skews the times)"

commit_done=0
for c in $CASES; do
	case $c in
	commit | bigcommit)
		[ "$commit_done" = 0 ] || continue
		commit_done=1
		log "commit: bench/commit.sh ($commit_cases)"
		COMMIT_PROBE=$PROBE BENCH_COMMIT_CASES="$commit_cases" "$here/commit.sh" ||
			{ echo "bench: commit.sh failed" >&2; failed+="commit "; }
		;;
	registry)
		log "registry: bench/registry.sh"
		CAIRN=$CAIRN "$here/registry.sh" || { echo "bench: registry.sh failed" >&2; failed+="registry "; }
		;;
	*)
		log "$c: cold and cached builds"
		bench_build_case "$c"
		;;
	esac
done

# Anything still mounted under the temp dir is a leak of one of the tools.
if awk -v w="$work/" 'index($5, w) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
	echo "bench: warning: mounts left under $work after the builds:" >&2
	awk -v w="$work/" 'index($5, w) == 1 { print "  " $5 }' /proc/self/mountinfo >&2
fi

# ---- report ------------------------------------------------------------------
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
log "load:    $load_end at the end"
{
	echo
	echo "$("$CAIRN" --version 2>/dev/null | head -1 || true) ($CAIRN; bench scripts at $(git -C "$repo" describe --always --dirty 2>/dev/null || echo '?')), $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
		"load $load_start at the start, $load_end at the end"
	echo "median/min/max_s: wall seconds over the runs; cpu_s, peak_MiB: medians (GNU time: user+sys of the"
	echo "process tree; largest single process). ratio: median / the vs tool's median (lower: cairn faster)."
	echo "goal: issue 16's, 'met' yes/NO (n/a: the other tool failed). Reading it: bench/README.md."
	echo
	results_table "$BENCH_RESULTS" "$OUT/results.tsv"
} | tee "$OUT/results.txt"
echo
echo "bench: the table is in $OUT/results.txt, tab-separated in $OUT/results.tsv"
if [ -n "$failed" ]; then
	die "not measured: $failed"
fi
