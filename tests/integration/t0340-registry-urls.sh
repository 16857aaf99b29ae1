#!/bin/bash
# What the registry client takes from a registry's answers: a Location
# given as a relative reference resolves as RFC 3986 says (against the
# request's path, not the host's root), and a layer media type too long
# for the store is refused clearly before any download, not cut short.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_proxy; stop_registry; cleanup_test_dir' EXIT

build_busybox || finish
REG_TLS=0 start_registry none || { fail "start the registry"; finish; }
want=$(tag_digest busybox:latest)
check "the local image has a digest" test -n "$want"
CREDS=(--creds "$REG_USER:$REG_PASS")
expect_ok "push straight to the registry" push -q busybox:latest "$REG/team/busybox:1"

start_proxy relative || { fail "start the proxy"; finish; }
expect_ok "push through relative Location headers" push -q "${CREDS[@]}" busybox:latest \
	"$PROXY/team/rel:1"
check "the registry's upload URLs came as relative references" \
	test "$(grep -c ' rel$' "$PROXY_LOG")" -ge 2
check "no request went to the host's root" test "$(grep -cv ' /v2/' "$PROXY_LOG")" -eq 0
export CAIRN_ROOT=$T/store2
expect_ok "pull it back" pull -q "${CREDS[@]}" "$PROXY/team/rel:1"
check "... with the pushed digest" test "$(tag_digest "$PROXY/team/rel:1")" = "$want"
stop_proxy

start_proxy longtype || { fail "start the proxy"; finish; }
export CAIRN_ROOT=$T/store3
expect_fail "an over-long layer media type is refused" 1 "media type longer than" \
	pull -q "${CREDS[@]}" "$PROXY/team/busybox:1"
check "... before any layer was downloaded" \
	test "$(grep -c 'GET /v2/team/busybox/blobs/' "$PROXY_LOG")" -le 1
check "nothing was tagged" test ! -e "$CAIRN_ROOT/index.json" -o -z "$(tag_digest "$PROXY/team/busybox:1")"
check "no temp files left" no_tmp_left
finish
