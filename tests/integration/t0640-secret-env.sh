#!/bin/bash
# --secret id=ID,env=VAR (and id=ID alone, as docker): a variable's value as
# a RUN --mount=type=secret file. Like a src= secret it never reaches a
# layer, the history, the config or the cache; cairn's argv (what a process
# list shows) names only the variable; the value's file is private (0400)
# and removed with the step.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
val="env-s3cr3t-$$-value"
mkdir -p "$T/s"
# The step prints the value masked (s3cr3t -> SECRET), so any unmasked
# occurrence in the output came from somewhere else (argv, environ).
cat >"$T/s/Buildfile" <<'EOF'
FROM busybox
WORKDIR /w
RUN --mount=type=secret,id=tok echo "mode=$(stat -c %a /run/secrets/tok)"; sed 's/s3cr3t/SECRET/; s/^/value=/' /run/secrets/tok; echo; echo "pid1=$(tr '\0' ' ' </proc/1/cmdline)"; ps -o args; grep -q s3cr3t /proc/1/environ 2>/dev/null || echo environ-closed
RUN --mount=type=secret,id=tok,target=sub/tok sed 's/s3cr3t/SECRET/; s/^/relative=/' /w/sub/tok; echo
EOF
printf '%s' "$val" >"$T/valfile"

TOKVAR=$val expect_ok "a build with --secret id=tok,env=TOKVAR" build --secret id=tok,env=TOKVAR -t s:1 "$T/s"
check "the step reads the variable's value" grep -qx "value=env-SECRET-$$-value" "$T/out"
check "the secret file is mode 0400" grep -qx "mode=400" "$T/out"
check "a relative target is under the WORKDIR" grep -qx "relative=env-SECRET-$$-value" "$T/out"
check "cairn's argv, as the process list shows it, names only the variable" \
	bash -c "grep -q '^pid1=.*--secret id=tok,env=TOKVAR' '$T/out' && ! grep -qF '$val' '$T/out' '$T/err'"
check "the step cannot read cairn's environment" grep -qx environ-closed "$T/out"
unpack_with_umoci s:1 "$T/u"
check "the image has no /run/secrets and no file with the value" \
	bash -c "test ! -e '$T/u/rootfs/run/secrets' && ! grep -rqF '$val' '$T/u/rootfs'"
check "the value is in no config or history row" \
	bash -c "! '$CAIRN' history --no-trunc s:1 | grep -qF '$val' && ! '$CAIRN' inspect s:1 | grep -qF '$val'"
check "the value is nowhere in the store (blobs, cache keys, snapshots, temp files)" \
	test -z "$(grep -rlF "$val" "$CAIRN_ROOT" 2>/dev/null)"
check "no temp dir is left" no_tmp_left

TOKVAR=other-value expect_ok "the same build with another value" build --secret id=tok,env=TOKVAR -t s:2 "$T/s"
check "a secret's value is not part of the cache key (as docker)" \
	bash -c "grep -q -- '--> CACHED' '$T/out' && ! grep -q '^value=' '$T/out'"

printf 'FROM busybox\nRUN --mount=type=secret,id=TOK2 sed "s/s3cr3t/SECRET/" /run/secrets/TOK2; echo\n' | buildfile "$T/alone"
TOK2=$val expect_ok "--secret id=TOK2 alone takes the variable TOK2" build --no-cache --secret id=TOK2 "$T/alone"
check "... its value" grep -qx "env-SECRET-$$-value" "$T/out"
(cd "$T" && cp valfile TOK2 && env -u TOK2 "$CAIRN" build --no-cache --secret id=TOK2 "$T/alone" >"$T/out" 2>"$T/err")
check "... or, with no such variable, the file TOK2" grep -qx "env-SECRET-$$-value" "$T/out"
TOKVAR=from-env expect_ok "the last --secret for an id wins" build --no-cache \
	--secret id=TOK2,src="$T/valfile" --secret id=TOK2,env=TOKVAR "$T/alone"
check "... (env= over an earlier src=)" grep -qx from-env "$T/out"

printf 'FROM busybox\nRUN --mount=type=secret,id=tok,required=true true\n' | buildfile "$T/req"
expect_fail "a required secret whose variable is unset" 1 "secret 'tok' was not given" \
	build --secret id=tok,env=CAIRN_UNSET_VAR_$$ "$T/req"
printf 'FROM busybox\nRUN --mount=type=secret,id=tok cat /run/secrets/tok 2>/dev/null || echo absent-ok\n' | buildfile "$T/opt"
expect_ok "an optional secret whose variable is unset is no error" build --no-cache \
	--secret id=tok,env=CAIRN_UNSET_VAR_$$ "$T/opt"
check "... and not mounted" grep -qx absent-ok "$T/out"
expect_fail "src= and env= together are refused" 2 "a file or a variable, not both" \
	build --secret id=tok,src="$T/valfile",env=TOKVAR "$T/opt"
expect_fail "an unknown --secret option is refused" 2 "unknown option 'envx=TOKVAR'" \
	build --secret id=tok,envx=TOKVAR "$T/opt"
check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
finish
