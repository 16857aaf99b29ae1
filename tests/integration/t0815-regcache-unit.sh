#!/bin/bash
# The registry cache store (registry/cache.c) against Debian's docker-registry
# over plain http: runs the unit program test_regcache, which needs a
# registry (CAIRN_TEST_REGISTRY) and makes its own temporary stores.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_registry; cleanup_test_dir' EXIT

prog=${UNIT_DIR:-}/test_regcache
if [ -z "${UNIT_DIR:-}" ] || [ ! -x "$prog" ]; then
	skip "registry cache store" "UNIT_DIR/test_regcache not built"
	finish
fi
REG_TLS=0 start_registry none || { fail "start the registry"; finish; }
# No credentials of this machine apply.
export REGISTRY_AUTH_FILE=$T/auth.json HOME=$T/home
mkdir -p "$HOME"
CAIRN_TEST_REGISTRY=$REG "$prog" >"$T/unit.out" 2>&1
rc=$?
cat "$T/unit.out"
if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$T/unit.out"; then
	fail "test_regcache exited with status $rc"
fi
grep -q '^not ok ' "$T/unit.out" && failures=$((failures + 1))
check "the registry logged cross-repository mounts" grep -q 'mount=sha256' "$REG_LOG"
finish
