#!/bin/bash
# Small hardening: a Buildfile that is not a regular file is refused without
# blocking; --mount options are checked when the Buildfile is parsed.
. "$(dirname "$0")/lib.sh"

# A FIFO Buildfile, found in the context or given with -f, is refused at
# once (reading one would wait for a writer forever).
mkdir -p "$T/fifo"
mkfifo "$T/fifo/Buildfile"
run_cairn_timeout() {
	timeout 20 "$CAIRN" "$@" >"$T/out" 2>"$T/err"
	status=$?
}
for how in found -f; do
	if [ "$how" = -f ]; then
		run_cairn_timeout build -f "$T/fifo/Buildfile" "$T/fifo"
	else
		run_cairn_timeout build "$T/fifo"
	fi
	if [ "$status" -eq 1 ] && grep -qF "Buildfile' is not a regular file" "$T/err"; then
		pass "FIFO Buildfile ($how) refused"
	else
		fail "FIFO Buildfile ($how) refused (status $status)"
		sed 's/^/#   /' "$T/err" | tail -5
	fi
done
mkdir -p "$T/dir/sub"
expect_fail "directory Buildfile (-f) refused" 1 "'$T/dir/sub' is not a regular file" build -f "$T/dir/sub" "$T/dir"
expect_fail "device Buildfile (-f) refused" 1 "'/dev/null' is not a regular file" build -f /dev/null "$T/dir"

finish
