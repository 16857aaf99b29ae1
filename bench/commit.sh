#!/bin/bash
# make bench-commit: one layer commit of a ~1 GiB tree of real files
# (bench/tree.py: /usr/share and /usr/lib/x86_64-linux-gnu), cairn's writer
# (bench/tools/commit.c calling layer_write_dir: walk, tar, compress, both
# sha256, write the blob) against the shell pipelines that do the same
# work: `tar -C DIR -c . | zstd -T2 | sha256sum` and `... | pigz | sha256sum`.
# Runs interleaved, BENCH_RUNS rounds (default 5) after one warm-up that
# also fills the page cache; records median, min and max seconds, peak RSS,
# MB/s of tar bytes and the blob size, and the ratio of times (cairn /
# reference) in the results table (bench/results.sh).
# Case "big": the peak RSS of committing one BENCH_BIG_GIB (default 10) GiB
# sparse file (zeros: the writer's memory bound, not its speed), zstd and
# gzip, BENCH_BIG_RUNS times (default 1).
#
# Environment:
#   COMMIT_PROBE          the probe (default: build/bench/commit)
#   COMMIT_BEFORE         another probe to compare (e.g. built from main)
#   BENCH_RUNS            rounds (default 5)
#   BENCH_COMMIT_TREE     the tree (default: made under BENCH_TMPDIR, kept)
#   BENCH_COMMIT_MIB      its size when made (default 1024)
#   BENCH_TMPDIR          default /var/tmp
#   BENCH_COMMIT_CASES    subset of: zstd gzip big (default zstd gzip)
#   BENCH_RESULTS         append the rows there (set by run.sh)
set -euo pipefail
shopt -s inherit_errexit
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/timed.sh"
. "$here/results.sh"
PROBE=${COMMIT_PROBE:-$repo/build/bench/commit}
RUNS=${BENCH_RUNS:-5}
CASES=${BENCH_COMMIT_CASES:-zstd gzip}
tmp=${BENCH_TMPDIR:-/var/tmp}
MIB=${BENCH_COMMIT_MIB:-1024}
tree=${BENCH_COMMIT_TREE:-$tmp/cairn-bench-commit-tree}
[ "$MIB" = 1024 ] || tree=${BENCH_COMMIT_TREE:-$tmp/cairn-bench-commit-tree-$MIB}
BIG_GIB=${BENCH_BIG_GIB:-10}
BIG_RUNS=${BENCH_BIG_RUNS:-1}
die() { printf 'bench-commit: %s\n' "$*" >&2; exit 1; }

[ -x "$PROBE" ] || die "no probe at $PROBE (make bench-commit builds it)"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
[[ $MIB =~ ^[1-9][0-9]*$ ]] || die "BENCH_COMMIT_MIB must be a positive integer (got '$MIB')"
[[ $BIG_GIB =~ ^[1-9][0-9]*$ ]] || die "BENCH_BIG_GIB must be a positive integer (got '$BIG_GIB')"
[[ $BIG_RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_BIG_RUNS must be a positive integer (got '$BIG_RUNS')"
need=()
command -v zstd >/dev/null || need+=(zstd)
command -v pigz >/dev/null || need+=(pigz)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing: ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
work=$(mktemp -d "$tmp/cairn-bench-commit.XXXXXX")
trap 'rm -rf "$work"' EXIT
own=0
results_init "$work" && own=1

# name -> command (reads $tree, writes under $work)
declare -A cmd vs mode
order=()
add() { order+=("$1"); cmd[$1]=$2; mode[$1]=$3; vs[$1]=$4; }
for c in $CASES; do
	case $c in
	zstd)
		add "cairn-zstd3" "CAIRN_ZSTD_WORKERS=2 $PROBE $tree $work/blob zstd" zstd ref-zstd1-T2
		add "cairn-zstd1" "CAIRN_ZSTD_WORKERS=2 $PROBE $tree $work/blob zstd 1" zstd ref-zstd1-T2
		[ -n "${COMMIT_BEFORE:-}" ] && add "before-zstd3" "$COMMIT_BEFORE $tree $work/blob zstd" zstd ref-zstd1-T2
		add "ref-zstd1-T2" "tar -C $tree -c . | zstd -q -1 -T2 | tee $work/ref | sha256sum" zstd -
		add "ref-zstd3-T2" "tar -C $tree -c . | zstd -q -3 -T2 | tee $work/ref | sha256sum" zstd ref-zstd1-T2
		;;
	gzip)
		add "cairn-gzip" "$PROBE $tree $work/blob gzip" gzip ref-pigz
		[ -n "${COMMIT_BEFORE:-}" ] && add "before-gzip" "$COMMIT_BEFORE $tree $work/blob gzip" gzip ref-pigz
		add "ref-pigz" "tar -C $tree -c . | pigz -n -T | tee $work/ref | sha256sum" gzip -
		;;
	big) ;;
	*) die "unknown case $c (known: zstd gzip big)" ;;
	esac
done

if [ ${#order[@]} -gt 0 ]; then
	if [ ! -d "$tree" ]; then
		echo "==> making $tree (once, $MIB MiB)"
		python3 "$here/tree.py" "$tree.part" $((MIB / 2 << 20)) && mv "$tree.part" "$tree"
	fi
	tar_bytes=$(tar -C "$tree" -c . | wc -c)
	echo "==> commit: $tree, $((tar_bytes / 1048576)) MiB of tar, $(find "$tree" -type f | wc -l) files;" \
		"$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
fi

declare -A T R C S
run() {
	local name=$1
	rm -f "$work/blob" "$work/ref"
	timed "$name" bash -c "${cmd[$name]}"
	T[$name]+="$wall " R[$name]+="$rss " C[$name]+="$cpu "
	S[$name]=$(stat -c %s "$work/blob" 2>/dev/null || stat -c %s "$work/ref")
}
for name in "${order[@]}"; do run "$name"; T[$name]="" R[$name]="" C[$name]=""; done   # warm-up
for ((i = 0; i < RUNS && ${#order[@]} > 0; i++)); do
	# Rotate who goes first, so drift in the machine's load spreads out.
	n=${#order[@]}
	for ((j = 0; j < n; j++)); do run "${order[$(((i + j) % n))]}"; done
done
for name in "${order[@]}"; do
	echo "    $name: ${T[$name]}s"
	m=$(median <<<"${T[$name]}")
	result commit "${mode[$name]}" "$name" "${vs[$name]}" "${T[$name]}" "${R[$name]}" "${C[$name]}" \
		"$(awk -v b="$tar_bytes" -v m="$m" -v s="${S[$name]}" \
			'BEGIN { printf "%.0f MB/s of tar, blob %.1f MiB", b / m / 1e6, s / 1048576 }')"
done

# The 10 GiB layer: a sparse file reads as zeros without using the disk.
for c in $CASES; do
	[ "$c" = big ] || continue
	mkdir -p "$work/big"
	truncate -s "${BIG_GIB}G" "$work/big/zeros"
	echo "==> big: one ${BIG_GIB} GiB file (sparse, zeros), $BIG_RUNS run(s) per compression"
	for comp in zstd gzip; do
		T[big]="" R[big]="" C[big]=""
		for ((i = 0; i < BIG_RUNS; i++)); do
			rm -f "$work/blob"
			timed "big-$comp" "$PROBE" "$work/big" "$work/blob" "$comp"
			T[big]+="$wall " R[big]+="$rss " C[big]+="$cpu "
		done
		tool=cairn-$comp; [ "$comp" = zstd ] && tool=cairn-zstd3
		result bigcommit "$comp" "$tool" - "${T[big]}" "${R[big]}" "${C[big]}" \
			"${BIG_GIB} GiB layer, blob $(stat -c %s "$work/blob") bytes"
	done
done
echo "==> load after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$own" = 1 ]; then
	echo
	results_table "$BENCH_RESULTS"
fi
