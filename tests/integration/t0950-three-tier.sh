#!/bin/bash
# examples/three-tier end to end as a compose project (PostgreSQL, two
# Node.js replicas, nginx on the project's network, nginx published on a
# host port): slow, since it builds Debian images with apt-get (about
# 3 minutes on a fresh store), so only with CAIRN_SLOW_TESTS=1. The script
# (examples/three-tier/check.sh, also `make three-tier`) does compose build,
# up -d, 8 requests through nginx, stop, down, and checks what is left.
. "$(dirname "$0")/lib.sh"

if [ "${CAIRN_SLOW_TESTS:-}" != 1 ]; then
	skip "three-tier compose project" "slow (Debian base + apt-get, ~3 min): set CAIRN_SLOW_TESTS=1"
	finish
fi
if ! "$CAIRN" compose --help >/dev/null 2>&1; then
	skip "three-tier compose project" "this cairn has no compose command"
	finish
fi
expect_no_network() { ! "$CAIRN" network inspect "$1" >/dev/null 2>&1; }
# A free host port for nginx (8080 may be taken on a test machine).
LB_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export LB_PORT
if CAIRN=$CAIRN "$REPO_DIR/examples/three-tier/check.sh" >"$T/tt.out" 2>&1; then
	pass "three-tier: compose build, up -d, served through nginx, stop, down"
else
	fail "three-tier compose project"
	sed 's/^/#   /' "$T/tt.out" | tail -40
fi
check "the visit count grew with each request" grep -q "count reached 8;" "$T/tt.out"
check "both app replicas answered" grep -qE "app1 answered [1-9][0-9]*, app2 [1-9]" "$T/tt.out"
check "every service stopped with status 0, postgres cleanly" grep -q "OK: served, stopped and removed" "$T/tt.out"
check "the images were built by compose" "$CAIRN" inspect three-tier-db three-tier-app three-tier-lb
check "no container left" test -z "$("$CAIRN" ps -a -q)"
check "no network left" expect_no_network three-tier_default
check "no mount left" no_mounts_left
check "no temp dir left" no_tmp_left
check "store consistent" store_is_consistent
finish
