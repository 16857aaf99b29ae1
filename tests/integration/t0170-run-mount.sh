#!/bin/bash
# RUN --mount: cache (kept across builds, never in a layer), tmpfs, secret
# (--secret; never in a layer, the history, the config or the cache key's
# text), and clear errors for what is not supported yet.
. "$(dirname "$0")/lib.sh"

build_busybox || finish
echo "s3cr3t-$$-value" >"$T/token"
mkdir -p "$T/m"
cat >"$T/m/Buildfile" <<'OUTER'
FROM busybox
RUN --mount=type=cache,target=/var/cache/app,id=app n=$(cat /var/cache/app/count 2>/dev/null || echo 0); echo $((n+1)) > /var/cache/app/count; echo "count=$((n+1))"
RUN --mount=type=tmpfs,target=/scratch,size=1048576 echo hi > /scratch/x && df -k /scratch | awk 'NR==2 {print "tmpfs-kb=" $2}'
RUN --mount=type=secret,id=token cat /run/secrets/token > /dev/null && echo secret-readable && ! sh -c 'echo x > /run/secrets/token' 2>/dev/null
RUN --mount=type=secret,id=absent echo optional-absent-ok
RUN --mount=type=cache,target=/c,id=../../../../../tmp/cairn-cache-escape,sharing=locked touch /c/made
OUTER
expect_ok "a build with cache, tmpfs and secret mounts" build --no-cache --secret id=token,src="$T/token" -t m:1 "$T/m"
check "the cache mount starts empty" grep -q '^count=1$' "$T/out"
check "tmpfs with its size" grep -q '^tmpfs-kb=1024$' "$T/out"
check "the secret is readable, read-only" grep -q '^secret-readable$' "$T/out"
check "an absent optional secret is no error" grep -q '^optional-absent-ok$' "$T/out"
expect_ok "the same build again (no cache)" build --no-cache --secret id=token,src="$T/token" -t m:2 "$T/m"
check "the cache mount kept its content" grep -q '^count=2$' "$T/out"
check "a cache id cannot name a host path" test ! -e /tmp/cairn-cache-escape -a ! -e /tmp/cairn-cache-escape/made
check "cache mount directories live in the store" test -n "$(ls "$CAIRN_ROOT/mounts")"

unpack_with_umoci m:2 "$T/u"
check "no mount target or its content is in the image" test ! -e "$T/u/rootfs/var/cache/app" -a ! -e "$T/u/rootfs/scratch" -a ! -e "$T/u/rootfs/run/secrets" -a ! -e "$T/u/rootfs/c"
check "the steps with only mounts made no layer" test "$(image_config m:2 | jq '.rootfs.diff_ids | length')" -eq "$(image_config busybox:latest | jq '.rootfs.diff_ids | length')"
check "the secret's content is in no blob of the store" test -z "$(grep -rl "s3cr3t-$$-value" "$CAIRN_ROOT/blobs" "$CAIRN_ROOT/cache" "$CAIRN_ROOT/tags" 2>/dev/null)"

printf 'FROM busybox\nRUN --mount=type=secret,id=needed,required=true true\n' | buildfile "$T/req"
expect_fail "a required secret that was not given" 1 "Buildfile:2: RUN: secret 'needed' was not given" build "$T/req"
printf 'FROM busybox\nRUN --mount=type=cache,target=/x,bind-propagation=rshared true\n' | buildfile "$T/opt"
expect_fail "unknown mount options are refused, never passed on" 1 "option 'bind-propagation' is not supported yet" build "$T/opt"
check "store consistent" store_is_consistent
check "no mounts left" no_mounts_left
finish
