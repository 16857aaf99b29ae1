#!/bin/bash
# examples/three-tier end to end (PostgreSQL, two Node.js apps, nginx; each a
# detached container): slow, since it builds Debian images with apt-get
# (2m43s here on a fresh store), so only with CAIRN_SLOW_TESTS=1.
. "$(dirname "$0")/lib.sh"

if [ "${CAIRN_SLOW_TESTS:-}" != 1 ]; then
	skip "three-tier example" "slow (Debian base + apt-get, ~3 min): set CAIRN_SLOW_TESTS=1"
	finish
fi
if CAIRN=$CAIRN "$REPO_DIR/examples/three-tier/run.sh" >"$T/tt.out" 2>&1; then
	pass "three-tier: built, served through nginx, stopped, removed"
else
	fail "three-tier example"
	sed 's/^/#   /' "$T/tt.out" | tail -30
fi
check "the visit count grew with each request" grep -q "count reached 8;" "$T/tt.out"
check "both app instances answered" grep -qE "app1 answered [1-9][0-9]*, app2 [1-9]" "$T/tt.out"
check "no container left" test -z "$("$CAIRN" ps -a -q)"
check "no mount left" no_mounts_left
check "no temp dir left" no_tmp_left
check "store consistent" store_is_consistent
finish
