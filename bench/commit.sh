#!/bin/bash
# make bench-commit: one layer commit of a ~1 GiB tree of real files
# (bench/tree.py: /usr/share and /usr/lib/x86_64-linux-gnu), cairn's writer
# (bench/tools/commit.c calling layer_write_dir: walk, tar, compress, both
# sha256, write the blob) against the shell pipelines that do the same
# work: `tar -C DIR -c . | zstd -T2 | sha256sum` and `... | pigz | sha256sum`.
# Runs interleaved, BENCH_RUNS rounds (default 5) after one warm-up that
# also fills the page cache; prints median and min seconds, MB/s of tar
# bytes and the blob size, and the ratio of throughputs (cairn / reference).
#
# Environment:
#   COMMIT_PROBE          the probe (default: build/bench/commit)
#   COMMIT_BEFORE         another probe to compare (e.g. built from main)
#   BENCH_RUNS            rounds (default 5)
#   BENCH_COMMIT_TREE     the tree (default: made under BENCH_TMPDIR, kept)
#   BENCH_TMPDIR          default /var/tmp
#   BENCH_COMMIT_CASES    subset of: zstd gzip (default both)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
PROBE=${COMMIT_PROBE:-$repo/build/bench/commit}
RUNS=${BENCH_RUNS:-5}
CASES=${BENCH_COMMIT_CASES:-zstd gzip}
tmp=${BENCH_TMPDIR:-/var/tmp}
tree=${BENCH_COMMIT_TREE:-$tmp/cairn-bench-commit-tree}
die() { printf 'bench-commit: %s\n' "$*" >&2; exit 1; }

[ -x "$PROBE" ] || die "no probe at $PROBE (make bench-commit builds it)"
need=()
command -v zstd >/dev/null || need+=(zstd)
command -v pigz >/dev/null || need+=(pigz)
if [ ${#need[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "missing: ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -d "$tree" ]; then
	echo "==> making $tree (once)"
	python3 "$here/tree.py" "$tree.part" && mv "$tree.part" "$tree"
fi
work=$(mktemp -d "$tmp/cairn-bench-commit.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar_bytes=$(tar -C "$tree" -c . | wc -c)
echo "==> tree: $tree, $((tar_bytes / 1048576)) MiB of tar, $(find "$tree" -type f | wc -l) files;" \
	"$(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# name -> command (reads $tree, writes under $work); output: seconds size
declare -A cmd
order=()
add() { order+=("$1"); cmd[$1]=$2; }
for c in $CASES; do
	case $c in
	zstd)
		add "cairn-zstd3" "CAIRN_ZSTD_WORKERS=2 $PROBE $tree $work/blob zstd"
		add "cairn-zstd1" "CAIRN_ZSTD_WORKERS=2 $PROBE $tree $work/blob zstd 1"
		[ -n "${COMMIT_BEFORE:-}" ] && add "before-zstd3" "$COMMIT_BEFORE $tree $work/blob zstd"
		add "ref-zstd1-T2" "tar -C $tree -c . | zstd -q -1 -T2 | tee $work/ref | sha256sum"
		add "ref-zstd3-T2" "tar -C $tree -c . | zstd -q -3 -T2 | tee $work/ref | sha256sum"
		;;
	gzip)
		add "cairn-gzip" "$PROBE $tree $work/blob gzip"
		[ -n "${COMMIT_BEFORE:-}" ] && add "before-gzip" "$COMMIT_BEFORE $tree $work/blob gzip"
		add "ref-pigz" "tar -C $tree -c . | pigz -n -T | tee $work/ref | sha256sum"
		;;
	*) die "unknown case $c" ;;
	esac
done

run() {
	local name=$1 t0 t1 size
	rm -f "$work/blob" "$work/ref"
	sync
	t0=$(date +%s%N)
	bash -c "${cmd[$name]}" >/dev/null
	t1=$(date +%s%N)
	size=$(stat -c %s "$work/blob" 2>/dev/null || stat -c %s "$work/ref")
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $size" >>"$work/$name.times"
}
for name in "${order[@]}"; do run "$name"; rm -f "$work/$name.times"; done   # warm-up
for ((i = 0; i < RUNS; i++)); do
	# Rotate who goes first, so drift in the machine's load spreads out.
	n=${#order[@]}
	for ((j = 0; j < n; j++)); do run "${order[$(((i + j) % n))]}"; done
done
echo "==> load after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-14s %9s %7s %8s %12s %7s\n' case median_s min_s MB/s blob_MiB vs_ref
med() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
declare -A median
for name in "${order[@]}"; do median[$name]=$(cut -d' ' -f1 "$work/$name.times" | med); done
for name in "${order[@]}"; do
	m=${median[$name]}
	mn=$(cut -d' ' -f1 "$work/$name.times" | sort -n | head -1)
	sz=$(cut -d' ' -f2 "$work/$name.times" | head -1)
	case $name in *zstd*) ref=${median[ref-zstd1-T2]} ;; *) ref=${median[ref-pigz]} ;; esac
	awk -v n="$name" -v m="$m" -v mn="$mn" -v b="$tar_bytes" -v s="$sz" -v r="$ref" \
		'BEGIN { printf "%-14s %9.3f %7.3f %8.0f %12.1f %7.2f\n", n, m, mn, b / m / 1e6, s / 1048576, r / m }'
done
for name in "${order[@]}"; do echo "# $name: $(cut -d' ' -f1 "$work/$name.times" | tr '\n' ' ')"; done
