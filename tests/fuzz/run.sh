#!/bin/bash
# `make fuzz`: run each harness in BUILD_DIR (fuzz_NAME) for SECONDS on a
# scratch copy of its seed corpus (tests/fuzz/corpus/NAME), so that what it
# finds never lands in the tree. A crash, a leak, a timeout or an
# out-of-memory fails the run; its input is kept under the scratch dir and
# named in the output. NAME.dict, when present, is the harness's
# dictionary. Prints the executions per harness and a summary.
#   tests/fuzz/run.sh BUILD_DIR SECONDS [NAME...]
set -uo pipefail
build=${1:?build dir}
secs=${2:?seconds}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in "$here"/fuzz_*.c; do
		n=${f##*/fuzz_}
		names+=("${n%.c}")
	done
fi
scratch=$(mktemp -d "${TMPDIR:-/tmp}/cairn-fuzz-run.XXXXXX")
failed=()
total=0
for n in "${names[@]}"; do
	bin=$build/fuzz_$n
	[ -x "$bin" ] || { echo "fuzz $n: $bin missing (make fuzz builds it)" >&2; failed+=("$n"); continue; }
	mkdir -p "$scratch/$n/corpus" "$scratch/$n/crash"
	[ -d "$here/corpus/$n" ] && cp -r "$here/corpus/$n/." "$scratch/$n/corpus/"
	log=$scratch/$n/log
	# The harnesses' own temp dirs (extract targets, stores) go below this
	# one, removed even when a crash kept them from cleaning up.
	shm=/dev/shm
	[ -w "$shm" ] || shm=$scratch
	FUZZ_TMPDIR=$(mktemp -d "$shm/cairn-fuzz-$n.XXXXXX")
	export FUZZ_TMPDIR
	# -timeout: one input may take 10 s; -rss_limit_mb: 2 GiB; leaks are
	# reported by ASan (detect_leaks is on with -fsanitize=address).
	dict=()
	[ -f "$here/$n.dict" ] && dict=(-dict="$here/$n.dict")
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
		-artifact_prefix="$scratch/$n/crash/" "$scratch/$n/corpus" >"$log" 2>&1
	rc=$?
	rm -rf "$FUZZ_TMPDIR"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	execs=${execs:-0}
	total=$((total + execs))
	if [ $rc -ne 0 ]; then
		failed+=("$n")
		echo "fuzz $n: FAILED after $execs executions (exit $rc)"
		grep -E '^==[0-9]+==ERROR|^SUMMARY|runtime error|ALARM|out-of-memory|Test unit written' "$log" | head -20
		echo "  log: $log"
	else
		echo "fuzz $n: $execs executions in ${secs}s, no crash"
	fi
done
echo "fuzz: ${#names[@]} harnesses, $total executions, ${#failed[@]} failed${failed:+: ${failed[*]}}"
if [ ${#failed[@]} -ne 0 ]; then
	echo "fuzz: inputs and logs kept in $scratch" >&2
	exit 1
fi
rm -rf "$scratch"
