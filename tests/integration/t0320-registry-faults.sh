#!/bin/bash
# A registry that misbehaves (tests/integration/proxy.py in front of a real
# one): 503, 429 and cut connections are retried; redirects to another host
# get no credentials; a redirect from https to http is refused. Plain http
# works on loopback without --tls-verify=false.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_proxy; stop_registry; cleanup_test_dir' EXIT

build_busybox || finish
REG_TLS=0 start_registry none || { fail "start the registry"; finish; }
expect_ok "push to a plain-http registry on loopback" push -q busybox:latest "$REG/team/busybox:1"
want=$(tag_digest busybox:latest)
CREDS=(--creds "$REG_USER:$REG_PASS")

start_proxy flaky || { fail "start the proxy"; finish; }
export CAIRN_ROOT=$T/store2
CAIRN_TEST_FAST_RETRY=1 run_cairn pull -q "${CREDS[@]}" "$PROXY/team/busybox:1"
check "a pull through 503, 429 and cut connections succeeds" test "$status" -eq 0
check "... with the right digest" test "$(tag_digest "$PROXY/team/busybox:1")" = "$want"
check "every failure mode was met" test "$(grep -c ' 503$' "$PROXY_LOG")" -ge 1 -a \
	"$(grep -c ' 429$' "$PROXY_LOG")" -ge 1 -a "$(grep -c ' cut$' "$PROXY_LOG")" -ge 1
expect_ok "fsck" fsck
stop_proxy

start_proxy redirect || { fail "start the proxy"; finish; }
export CAIRN_ROOT=$T/store3
expect_ok "a pull through redirects to blob storage" pull -q "${CREDS[@]}" "$PROXY/team/busybox:1"
check "blob storage was used" test "$(grep -c ' storage$' "$PROXY_LOG")" -ge 2
check "... and never got the credentials" test "$(grep ' storage$' "$PROXY_LOG" | grep -c 'auth=yes')" -eq 0
check "same digest" test "$(tag_digest "$PROXY/team/busybox:1")" = "$want"
stop_proxy

start_proxy downgrade tls || { fail "start the proxy"; finish; }
export CAIRN_ROOT=$T/store4
expect_fail "a redirect from https to http is refused" 1 "refusing a redirect from https to http" \
	pull -q --cert-dir "$REG_CERTS" "${CREDS[@]}" "$PROXY/team/busybox:1"
check "nothing was tagged" expect_no_tag "$PROXY/team/busybox:1"
check "no temp files left" no_tmp_left
finish
