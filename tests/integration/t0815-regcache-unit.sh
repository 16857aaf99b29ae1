#!/bin/bash
# The registry cache store (registry/cache.c) against Debian's docker-registry
# over plain http: runs the unit program test_regcache, which needs a
# registry (CAIRN_TEST_REGISTRY) and makes its own temporary stores; and
# picky_registry.py, which refuses the cache's config media type
# (CAIRN_TEST_PICKY_REGISTRY), for put_manifest's one retry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_registry; stop_pid PICKY_PID; cleanup_test_dir' EXIT

prog=${UNIT_DIR:-}/test_regcache
if [ -z "${UNIT_DIR:-}" ] || [ ! -x "$prog" ]; then
	skip "registry cache store" "UNIT_DIR/test_regcache not built"
	finish
fi
REG_TLS=0 start_registry none || { fail "start the registry"; finish; }
# No credentials of this machine apply.
export REGISTRY_AUTH_FILE=$T/auth.json HOME=$T/home
mkdir -p "$HOME"
PICKY=127.0.0.1:$(free_port)
: >"$T/picky.log"
python3 "$TESTS_DIR/integration/picky_registry.py" "${PICKY#*:}" "$T/picky.log" >"$T/picky.out" 2>&1 &
PICKY_PID=$!
wait_up "picky registry" "$T/picky.out" "http://$PICKY/v2/" || { fail "start picky_registry.py"; finish; }
CAIRN_TEST_REGISTRY=$REG CAIRN_TEST_PICKY_REGISTRY=$PICKY "$prog" >"$T/unit.out" 2>&1
rc=$?
cat "$T/unit.out"
if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$T/unit.out"; then
	fail "test_regcache exited with status $rc"
fi
grep -q '^not ok ' "$T/unit.out" && failures=$((failures + 1))
check "the registry logged cross-repository mounts" grep -q 'mount=sha256' "$REG_LOG"
check "the picky registry saw one refused and one accepted PUT per repository" \
	test "$(grep -c '^PUT picky/app 400$' "$T/picky.log")" = 1 -a "$(grep -c '^PUT picky/app 201$' "$T/picky.log")" = 1 \
	-a "$(grep -c '^PUT picky/u415/app 415$' "$T/picky.log")" = 1 -a "$(grep -c '^PUT picky/u415/app 201$' "$T/picky.log")" = 1
check "... and one PUT only of the manifest whose blobs it lacks" test "$(grep -c '^PUT picky/blobless ' "$T/picky.log")" = 1
finish
