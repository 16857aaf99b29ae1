#!/bin/bash
# Runs every unit test binary and every integration script, counts the
# TAP-style lines they print, and ends with one summary line:
#   N passed, N failed[, N skipped]
# Usage: CAIRN=path/to/cairn UNIT_DIR=build/tests tests/run.sh [FILTER]
set -u
here=$(cd "$(dirname "$0")" && pwd)
filter=${1:-}
: "${CAIRN:?CAIRN must point at the cairn binary}"
export CAIRN
export CAIRN_TESTS=$here
export CONFORMANCE=${CONFORMANCE:-$(cd "$here/../.." && pwd)/shared/conformance}

passed=0 failed=0 skipped=0
failures=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() {   # name of the test program; its output is in $log
	local p f s
	p=$(grep -cE '^ok ' "$log" | tr -d ' ')
	s=$(grep -cE '^ok .*# SKIP' "$log" | tr -d ' ')
	f=$(grep -cE '^not ok ' "$log" | tr -d ' ')
	passed=$((passed + p - s)); skipped=$((skipped + s)); failed=$((failed + f))
	if [ "$f" -gt 0 ]; then failures+=("$1"); fi
}

run_one() {   # name, command...
	local name=$1; shift
	echo "# $name"
	"$@" >"$log" 2>&1
	local rc=$?
	cat "$log"
	if [ $rc -ne 0 ] && ! grep -qE '^not ok ' "$log"; then
		echo "not ok - $name exited with status $rc" | tee -a "$log"
	fi
	count "$name"
}

for t in "${UNIT_DIR:-/nonexistent}"/test_*; do
	[ -x "$t" ] || continue
	case "$(basename "$t")" in *"$filter"*) ;; *) continue ;; esac
	run_one "$(basename "$t")" "$t"
done
for t in "$here"/integration/t[0-9]*.sh; do
	case "$(basename "$t")" in *"$filter"*) ;; *) continue ;; esac
	run_one "$(basename "$t")" bash "$t"
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "# failing: ${failures[*]}"
fi
summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ]
