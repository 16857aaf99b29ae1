#!/bin/bash
# The command line: help, usage errors (exit 2), store location.
. "$(dirname "$0")/lib.sh"

run_cairn --help
check "cairn --help exits 0 and lists commands" test "$status" -eq 0 -a -n "$(grep -w build "$T/out")"
for c in build images inspect rmi parse; do
	run_cairn "$c" --help
	check "cairn $c --help exits 0 with usage" test "$status" -eq 0 -a -n "$(grep -i usage "$T/out")"
done
expect_fail "unknown command is a usage error" 2 "unknown command 'frobnicate'" frobnicate
expect_fail "unknown option is a usage error" 2 "see 'cairn build --help'" build --no-such-flag
expect_fail "no command is a usage error" 2 "usage" 
expect_fail "bad --network value" 2 "--network" build --network bogus .
expect_fail "bad --compression value" 2 "--compression" build --compression lz4 .
expect_fail "bad tag" 2 "invalid" build -t 'UPPER:case' .
expect_fail "rmi of a missing image fails" 1 "image 'nope:1' not found" rmi nope:1

# --root and CAIRN_ROOT choose the store; it is an OCI image layout.
run_cairn --root "$T/other" images
check "--root creates an OCI layout there" test -f "$T/other/oci-layout" -a -f "$T/other/index.json" -a -d "$T/other/blobs/sha256"
check "oci-layout content" grep -q '"imageLayoutVersion":"1.0.0"' "$T/other/oci-layout"
CAIRN_ROOT=$T/env-root "$CAIRN" images >/dev/null
check "CAIRN_ROOT selects the store" test -f "$T/env-root/index.json"
check "the store root is private (0700)" test "$(stat -c %a "$T/env-root")" = 700

mkdir -p "$T/empty"
( cd "$T/empty" && "$CAIRN" build >"$T/out" 2>"$T/err" ); status=$?
check "build without a Buildfile names the problem" test "$status" -eq 1 -a -n "$(grep -F 'no Buildfile' "$T/err")"
finish
