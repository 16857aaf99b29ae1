#!/bin/bash
# make bench-cache: a build cache shared through a registry, cairn
# (--cache-to/--cache-from type=registry) vs buildah (build --layers
# --cache-to/--cache-from REPO), against Debian's docker-registry on a
# loopback port (plain http, --tls-verify=false).
#
# Per case and tool:
#   runner A: a store holding only the base image(s) builds the case once
#             and exports its cache to the registry (timed once, shown);
#   runner B: BENCH_RUNS times each, a fresh store holding only the base
#             image(s) and a fresh copy of the context (another path, every
#             file touched to a new mtime) builds
#               cold:  without --cache-from,
#               cache: with --cache-from the registry cache A pushed;
#             wall times (medians), the speedup cold/cache, the steps taken
#             from the cache, and the bytes downloaded: as the tool reports
#             them (cairn's "cache import" line) and as the registry served
#             them (sum of the response sizes of blob GETs in its access log
#             during that build).
# Buildah is set up as in bench/run.sh: bench-owned config files and a
# private --root/--runroot per runner, all under a temp dir removed on exit;
# the user's images and /etc/containers are not touched. See bench/README.md.
#
# Environment:
#   CAIRN                    cairn binary (default: build/cairn)
#   BENCH_RUNS               timed runs per tool, case and mode (default 3)
#   BENCH_CASES              subset of: c-hello hello manyfiles parallel
#                            (default all; c-hello is skipped when no debian:12
#                            base is cached, unless named here)
#   BENCH_TOOLS              subset of: cairn buildah (default both)
#   BENCH_TMPDIR             where the temp dir goes (default /var/tmp)
#   BENCH_BUILDAH_ISOLATION  buildah --isolation (default oci)
#   BENCH_KEEP               1: keep the temp dir (build logs) for a look afterwards
#   DEBIAN_CACHE             examples/debian/build.sh's rootfs cache (default build/debian)
set -euo pipefail
shopt -s inherit_errexit

here=$(cd "$(dirname "$0")" && pwd)
. "$here/buildah-env.sh"
. "$here/timed.sh"   # median; its timed() is replaced below (registry marks)
repo=$(cd "$here/.." && pwd)
CAIRN=${CAIRN:-$repo/build/cairn}
RUNS=${BENCH_RUNS:-3}
CASES=${BENCH_CASES:-c-hello hello manyfiles parallel}
TOOLS=${BENCH_TOOLS:-cairn buildah}
ISOLATION=${BENCH_BUILDAH_ISOLATION:-oci}

log() { printf '==> %s\n' "$*"; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }
has() { [[ " $1 " == *" $2 "* ]]; }   # has LIST WORD

# ---- preconditions -------------------------------------------------------
[ "$(id -u)" -eq 0 ] || die "cairn and buildah build as root here; run 'sudo make bench-cache'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
[ -x "$CAIRN" ] || die "CAIRN=$CAIRN is not executable (run 'make' first)"
CAIRN=$(cd "$(dirname "$CAIRN")" && pwd)/$(basename "$CAIRN")

case_ctx() {      # CASE -> its context directory (the Buildfile is in it)
	case $1 in
	c-hello) echo "$repo/examples/c-hello" ;;
	hello) echo "$repo/examples/hello" ;;
	manyfiles) echo "$here/cases/manyfiles" ;;
	parallel) echo "$here/cases/parallel" ;;
	*) return 1 ;;
	esac
}
case_bases() {    # CASE -> the base images its Buildfile names
	case $1 in
	c-hello) echo "busybox:latest debian:12" ;;
	*) echo "busybox:latest" ;;
	esac
}
for c in $CASES; do
	case_ctx "$c" >/dev/null || die "unknown case '$c' (known: c-hello hello manyfiles parallel)"
done
for t in $TOOLS; do
	case $t in cairn | buildah) ;; *) die "unknown tool '$t' in BENCH_TOOLS (known: cairn buildah)" ;; esac
done
[ -n "${TOOLS// /}" ] || die "BENCH_TOOLS is empty"
if has "$TOOLS" cairn && [[ $("$CAIRN" build --help 2>&1 || true) != *--cache-from* ]]; then
	die "$CAIRN has no 'build --cache-to/--cache-from' (build a cairn that has them, or BENCH_TOOLS=buildah)"
fi

# c-hello compiles in a debian:12 stage. That base comes from debootstrap
# (examples/debian/build.sh, minutes and the network the first time, then
# cached): by default only a cached one is used.
debian_tar=${DEBIAN_CACHE:-$repo/build/debian}/bookworm-minbase-$(dpkg --print-architecture)/rootfs.tar
need_debootstrap=
if has "$CASES" c-hello && [ ! -s "$debian_tar" ]; then
	if [ -z "${BENCH_CASES:-}" ]; then
		log "c-hello skipped: no debian:12 base cached ($debian_tar);"
		log "  'sudo make debian-base' makes it once, or BENCH_CASES='c-hello ...' makes it now"
		CASES=$(tr ' ' '\n' <<<"$CASES" | grep -vx c-hello | tr '\n' ' ')
	else
		need_debootstrap=1
	fi
fi
[ -n "${CASES// /}" ] || die "no case left to run"

# ---- packages (Debian) ---------------------------------------------------
need=()
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v curl >/dev/null || need+=(curl)
command -v jq >/dev/null || need+=(jq)
command -v python3 >/dev/null || need+=(python3)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
if has "$TOOLS" buildah; then
	command -v buildah >/dev/null || need+=(buildah)
	command -v runc >/dev/null || need+=(runc)
fi
[ -n "$need_debootstrap" ] && ! command -v debootstrap >/dev/null && need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
	log "installing: ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${need[@]}" >/dev/null
fi

# ---- temp dir and registry, cleaned on exit ------------------------------
work=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/cairn-bench-cache.XXXXXX")
regpid=
# System paths buildah writes for root whatever its configuration (see
# run.sh): removed at the end when they did not exist before.
buildah_note_system
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$regpid" ]; then { kill "$regpid"; wait "$regpid"; } 2>/dev/null || true; fi
	buildah_clean_system
	if [ -n "${work:-}" ] && [ -d "$work" ]; then
		unmount_under "$work"
		if [ "${BENCH_KEEP:-}" = 1 ]; then echo "bench: kept $work" >&2; else rm -rf "$work"; fi
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
reglog=$work/registry.log
# Access log on (the default): one combined-format line per request, whose
# 10th field is the response size: what the registry served.
cat >"$work/registry.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: $reg}
EOF
# Its own REGISTRY_* variables would override the config.
unset_reg=()
for v in $(compgen -e | grep '^REGISTRY_' || true); do unset_reg+=(-u "$v"); done
env "${unset_reg[@]}" docker-registry serve "$work/registry.yml" >"$reglog" 2>&1 &
regpid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://$reg/v2/" && break; sleep 0.1; done
curl -s -o /dev/null "http://$reg/v2/" || { tail -20 "$reglog" >&2; die "the registry did not start"; }

# ---- configuration of both tools: bench-owned files only -----------------
# No credentials are read from the user's auth files (the registry has no
# auth); buildah as in run.sh, plus the registry marked insecure (plain http).
echo '{"auths": {}}' >"$work/auth.json"
export REGISTRY_AUTH_FILE=$work/auth.json
buildah_env "$reg"

# ---- base images ---------------------------------------------------------
# busybox:latest (from examples/busybox, as run.sh) and, for c-hello,
# debian:12 (examples/debian/build.sh), built once by cairn into base-store.
base_store=$work/base-store
log "building the busybox base with cairn (examples/busybox)"
cp -a "$repo/examples/busybox" "$work/ctx-busybox"
install -m 0755 /bin/busybox "$work/ctx-busybox/busybox"
"$CAIRN" --root "$base_store" build -q -t busybox:latest "$work/ctx-busybox" >"$work/base.log" 2>&1 ||
	{ tail -30 "$work/base.log" >&2; die "cairn failed to build the busybox base"; }
if has "$CASES" c-hello; then
	log "building the debian:12 base with cairn (examples/debian/build.sh)"
	CAIRN=$CAIRN CAIRN_ROOT=$base_store "$repo/examples/debian/build.sh" -q >"$work/base-debian.log" 2>&1 ||
		{ tail -30 "$work/base-debian.log" >&2; die "the debian:12 base failed"; }
fi

cstore=
fresh_cairn() {   # -> $cstore: a store holding only the base images
	cstore=$work/cairn-store
	rm -rf "$cstore"
	cp -a "$base_store" "$cstore"
}

broot=
fresh_buildah() { # CASE -> $broot: private storage holding only the case's base images
	local id img
	drop_buildah
	broot=$work/buildah-store
	mkdir -p "$broot"
	# Pulled by the relative, lowercase path "base-store", then retagged
	# (buildah 1.28 names the image after the layout's path; see run.sh).
	for img in $(case_bases "$1"); do
		id=$(cd "$work" && bah pull -q --signature-policy "$work/policy.json" "oci:base-store:$img")
		bah tag "$id" "$img"
		bah rmi localhost/base-store:latest >/dev/null
	done
}

# fresh_ctx CASE NAME -> $ctx: a new copy of the case's context at a new
# path, every file touched to a new mtime: a shared cache must depend neither
# on where the context is nor on its timestamps.
nctx=0
fresh_ctx() {
	nctx=$((nctx + 1))
	ctx=$work/ctx/$2-$nctx
	rm -rf "$work/ctx"
	mkdir -p "$work/ctx"
	cp -a "$(case_ctx "$1")" "$ctx"
	find "$ctx" -exec touch -h -d "@$(($(date +%s) + nctx))" {} +
}

# ---- one timed build -----------------------------------------------------
# timed NAME CMD...: output to $work/NAME.log; sets wall (seconds) and
# regmark (registry log lines before the build, for reg_bytes). On failure
# shows the end of the output and returns 1.
timed() {
	local name=$1 t0 t1; shift
	sync
	regmark=$(wc -l <"$reglog")
	t0=$(date +%s%N)
	if ! "$@" >"$work/$name.log" 2>&1; then
		echo "--- $name failed: $*" >&2
		tail -30 "$work/$name.log" >&2
		return 1
	fi
	t1=$(date +%s%N)
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
}

# reg_bytes -> "BYTES BLOBS MANIFESTS": what the registry served since
# regmark, manifests and blobs (access log lines
# "GET /v2/NAME/blobs/sha256:... HTTP/1.1" STATUS SIZE ...).
reg_bytes() {
	sleep 0.2   # the access line is written as the response ends
	tail -n +"$((regmark + 1))" "$reglog" | awk '$6 == "\"GET" && ($9 == 200 || $9 == 206) {
		if ($7 ~ /\/blobs\/sha256:/) { b += $10; nb++ } else if ($7 ~ /\/manifests\//) { b += $10; nm++ } }
		END { printf "%d %d %d\n", b, nb, nm }'
}

cairn_build() {   # CASE NAME CTX [build flags...]
	local c=$1 name=$2 ctx=$3; shift 3
	timed "$name" "$CAIRN" --root "$cstore" build "$@" -t "bench-$c:1" -f "$ctx/Buildfile" "$ctx"
}
buildah_build() { # CASE NAME CTX [build flags...]
	local c=$1 name=$2 ctx=$3; shift 3
	timed "$name" buildah --root "$broot/root" --runroot "$broot/runroot" --storage-driver overlay \
		build --layers --pull=never --network host --isolation "$ISOLATION" \
		--signature-policy "$work/policy.json" --tls-verify=false "$@" \
		-t "bench-$c:1" -f "$ctx/Buildfile" "$ctx"
}

# image_id LOGNAME -> the image ID both tools print last, without "sha256:".
image_id() {
	tail -1 "$work/$1.log" | sed 's/^sha256://' | grep -xE '[0-9a-f]{64}' || echo '?'
}

cache_ref() {     # TOOL CASE -> what --cache-to/--cache-from name
	case $1 in
	cairn) echo "$reg/bench/$2:cache" ;;
	buildah) echo "$reg/bench/buildah-$2" ;;   # a repository: buildah tags it per step
	esac
}

# A buildah failure is recorded in FAIL[TOOL.CASE] (with the last line of
# its output), and the case is then reported without buildah; a cairn
# failure ends the bench. (The runners are not called in a condition, where
# bash would ignore set -e inside them.)
buildah_failed() { # TOOL CASE LOGNAME WHAT
	FAIL[$1.$2]="$4: $(grep -v '^ *$' "$work/$3.log" | tail -1)"
	echo "bench: $1: ${FAIL[$1.$2]}; $2 is reported without $1" >&2
}

# runner_a TOOL CASE: build once and export the cache.
runner_a() {
	local t=$1 c=$2 ref; ref=$(cache_ref "$t" "$c")
	fresh_ctx "$c" "$t-A"
	case $t in
	cairn)
		fresh_cairn
		cairn_build "$c" "$t-$c-A" "$ctx" --cache-to "type=registry,ref=$ref,mode=max" --tls-verify=false ||
			die "cairn (runner A) failed to build $c with --cache-to"
		A[$t.$c]=$(grep -o 'cache export .*' "$work/$t-$c-A.log" | sed 's/^cache export [^ ]*: //' | tail -1)
		[ -n "${A[$t.$c]}" ] || A[$t.$c]="(no 'cache export' line)"
		;;
	buildah)
		fresh_buildah "$c"
		buildah_build "$c" "$t-$c-A" "$ctx" --cache-to "$ref" ||
			{ buildah_failed "$t" "$c" "$t-$c-A" "--cache-to"; return 0; }
		A[$t.$c]="$(curl -s "http://$reg/v2/bench/buildah-$c/tags/list" | jq -r '.tags | length') cache tags"
		;;
	esac
	TA[$t.$c]=$wall
	IDA[$t.$c]=$(image_id "$t-$c-A")
	SAME[$t.$c]=yes
}

# runner_b TOOL CASE MODE: a fresh store and context; MODE cold or cache.
runner_b() {
	local t=$1 c=$2 mode=$3 ref flags=() name=$1-$2-$3; ref=$(cache_ref "$t" "$c")
	fresh_ctx "$c" "$t-B"
	if [ "$mode" = cache ]; then
		case $t in
		cairn) flags=(--cache-from "type=registry,ref=$ref" --tls-verify=false) ;;
		buildah) flags=(--cache-from "$ref") ;;
		esac
	fi
	case $t in
	cairn) fresh_cairn; cairn_build "$c" "$name" "$ctx" "${flags[@]}" || die "cairn failed to build $c ($mode)" ;;
	buildah)
		fresh_buildah "$c"
		buildah_build "$c" "$name" "$ctx" "${flags[@]}" ||
			{ buildah_failed "$t" "$c" "$name" "build ($mode)"; return 0; }
		;;
	esac
	T[$t.$c.$mode]+="$wall "
	# A cold build must find nothing to reuse: fresh store, new context.
	if [ "$mode" = cold ] && grep -qE -- '--> CACHED|Using cache' "$work/$name.log"; then
		echo "bench: warning: $t's cold build of $c reused cached steps:" >&2
		{ grep -E -- "--> CACHED|Using cache" "$work/$name.log" | head -5 >&2; } || true
	fi
	printf '    %-8s run %d/%d %-5s %7.3f s\n' "$t" "$i" "$RUNS" "$mode" "$wall"
	[ "$mode" = cache ] || return 0
	# Taken from the cache, the image should be runner A's, bit for bit.
	if [ "$(image_id "$name")" != "${IDA[$t.$c]}" ] || [ "${IDA[$t.$c]}" = '?' ]; then SAME[$t.$c]=no; fi
	read -r bytes nblobs nmanifests < <(reg_bytes)
	B[$t.$c]+="$bytes "
	N[$t.$c]="$nblobs blob$( ((nblobs == 1)) || echo s), $nmanifests manifest$( ((nmanifests == 1)) || echo s)"
	case $t in
	cairn)
		# "cache import REF: N hits, N layers downloaded, SIZE received"
		S[$t.$c]=$(grep -o 'cache import .*' "$work/$name.log" | sed 's/^cache import [^ ]*: //' | tail -1)
		H[$t.$c]=$(grep -oE '^[0-9]+ hits?' <<<"${S[$t.$c]}" | grep -oE '^[0-9]+' || echo '?')
		S[$t.$c]=$(sed -E 's/^[0-9]+ hits?, *//; s/ downloaded,/,/' <<<"${S[$t.$c]:-?}")
		;;
	buildah)
		H[$t.$c]=$(grep -c 'Using cache' "$work/$name.log" || true)
		S[$t.$c]=-
		;;
	esac
}

# ---- stats ---------------------------------------------------------------
human() { awk -v b="$1" 'BEGIN { split("B kB MB GB", u); i = 1
	while (b >= 1000 && i < 4) { b /= 1000; i++ }
	printf (i == 1 ? "%d %s" : "%.1f %s"), b, u[i] }'; }

# ---- run -----------------------------------------------------------------
log "cairn:    $CAIRN"
has "$TOOLS" buildah && log "buildah:  $(buildah --version) (isolation $ISOLATION, network host, overlay, runc)"
log "registry: $reg ($(docker-registry --version 2>/dev/null | awk '{ print $NF }' || echo '?'); plain http)"
log "host:     $(uname -r), $(nproc) CPUs, temp dir $work"
log "runs:     $RUNS per tool, case and mode; cases: $CASES; tools: $TOOLS"
log "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; anything else running skews the times)"

declare -A T A TA IDA SAME B N H S FAIL
for c in $CASES; do
	tools=
	for t in $TOOLS; do
		log "$c: $t runner A (build, --cache-to $(cache_ref "$t" "$c"))"
		runner_a "$t" "$c"
		[ -z "${FAIL[$t.$c]:-}" ] || continue
		tools+="$t "
		printf '    %-8s %7.3f s  %s\n' "$t" "${TA[$t.$c]}" "${A[$t.$c]}"
	done
	for ((i = 1; i <= RUNS; i++)); do
		# Which tool goes first alternates, so neither always meets warm caches.
		order=$tools
		((i % 2)) || order=$(tr ' ' '\n' <<<"$tools" | tac | tr '\n' ' ')
		for t in $order; do
			[ -z "${FAIL[$t.$c]:-}" ] || continue
			for mode in cold cache; do
				if [ -z "${FAIL[$t.$c]:-}" ]; then runner_b "$t" "$c" "$mode"; fi
			done
		done
	done
	drop_buildah
	rm -rf "$work/cairn-store" "$work/ctx"
done

# ---- report --------------------------------------------------------------
log "load:     $(cut -d' ' -f1-3 /proc/loadavg) at the end"
echo
echo "Runner A: one build from a store holding only the base image(s), exporting its cache (seconds)."
fmtA='%-10s %-8s %9s  %s\n'
# shellcheck disable=SC2059
printf "$fmtA" case tool export_s "exported"
for c in $CASES; do
	for t in $TOOLS; do
		if [ -n "${TA[$t.$c]:-}" ]; then
			# shellcheck disable=SC2059
			printf "$fmtA" "$c" "$t" "${TA[$t.$c]}" "${A[$t.$c]}"
		fi
	done
done
echo
echo "Runner B: fresh store (base image only) and fresh context copy; $RUNS runs each, median wall seconds."
echo "cold: no --cache-from; cache: --cache-from runner A's cache. hits: steps taken from it (cairn: its"
echo "'cache import' line; buildah: 'Using cache' lines). downloaded: as the tool reports it; registry:"
echo "bytes of the GETs (manifests and blobs) the registry served during the build (median), and how many."
echo "same: every build with --cache-from made runner A's image (same image ID)."
echo
fmt='%-10s %-8s %8s %8s %8s %5s %6s  %-20s %s\n'
# shellcheck disable=SC2059
printf "$fmt" case tool cold_s cache_s speedup hits same downloaded registry
for c in $CASES; do
	for t in $TOOLS; do
		if [ -n "${FAIL[$t.$c]:-}" ]; then
			printf '%-10s %-8s not measured: %s\n' "$c" "$t" "${FAIL[$t.$c]}"
			continue
		fi
		mc=$(median <<<"${T[$t.$c.cold]}")
		mw=$(median <<<"${T[$t.$c.cache]}")
		mb=$(median <<<"${B[$t.$c]}" | awk '{ printf "%.0f", $1 }')
		# shellcheck disable=SC2059
		printf "$fmt" "$c" "$t" "$mc" "$mw" "$(awk -v a="$mc" -v b="$mw" 'BEGIN { printf "%.2fx", a / b }')" \
			"${H[$t.$c]}" "${SAME[$t.$c]}" "${S[$t.$c]}" "$mb ($(human "$mb"); ${N[$t.$c]})"
	done
	if [ -z "${FAIL[cairn.$c]:-}${FAIL[buildah.$c]:-}" ] && has "$TOOLS" cairn && has "$TOOLS" buildah; then
		mc=$(median <<<"${T[cairn.$c.cache]}")
		mb=$(median <<<"${T[buildah.$c.cache]}")
		printf '%-10s cairn/buildah with --cache-from: %s (%s s / %s s)\n' "$c" \
			"$(awk -v a="$mc" -v b="$mb" 'BEGIN { printf "%.2f", a / b }')" "$mc" "$mb"
	fi
done
