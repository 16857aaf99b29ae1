#!/bin/bash
# Bearer token auth (the registry with `auth: token`, a token issuer started
# by the test): anonymous pulls, authenticated pushes, clear refusals, and
# credentials sent only to a token realm on https.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_registry; stop_token_server; cleanup_test_dir' EXIT

build_busybox || finish
start_token_server https || { fail "start the token server"; finish; }
start_registry token || { fail "start the registry"; finish; }
TLS=(--cert-dir "$REG_CERTS")
export REGISTRY_AUTH_FILE=$T/auth.json

expect_fail "an anonymous push is denied" 1 "access denied" push "${TLS[@]}" busybox:latest "$REG/team/app:1"
expect_fail "a wrong password is refused by the token server" 1 "refused the credentials" \
	push "${TLS[@]}" --creds "$REG_USER:nope" busybox:latest "$REG/team/app:1"
expect_ok "an authenticated push works" push "${TLS[@]}" --creds "$REG_USER:$REG_PASS" busybox:latest "$REG/team/app:1"
check "the token asked for covers pull and push" grep -q "auth=basic-ok scope=repository:team/app:pull,push" "$TOKEN_LOG"
export CAIRN_ROOT=$T/store2
expect_ok "an anonymous pull works" pull -q "${TLS[@]}" "$REG/team/app:1"
check "... with a pull-only token" grep -q "auth=none scope=repository:team/app:pull$" "$TOKEN_LOG"
check "same digest" test "$(tag_digest "$REG/team/app:1")" = "$(CAIRN_ROOT=$T/store tag_digest busybox:latest)"
echo "$REG_PASS" | "$CAIRN" login "${TLS[@]}" -u "$REG_USER" --password-stdin "$REG" >"$T/out" 2>&1
check "login through the token server" grep -q "Login Succeeded" "$T/out"
export CAIRN_ROOT=$T/store
expect_ok "push with the login's credentials" push -q "${TLS[@]}" busybox:latest "$REG/team/app:2"
stop_registry
stop_token_server

# A realm on plain http: the password must not be sent there.
rm -f "$REGISTRY_AUTH_FILE"
start_token_server http || { fail "start the http token server"; finish; }
start_registry token || { fail "start the registry"; finish; }
: >"$TOKEN_LOG"
run_cairn push "${TLS[@]}" --creds "$REG_USER:$REG_PASS" busybox:latest "$REG/team/app:1"
check "with an http realm the push is denied" test "$status" -ne 0
check "... and the credentials never went to the realm" test -z "$(grep -v 'auth=none' "$TOKEN_LOG")" -a -s "$TOKEN_LOG"
finish
