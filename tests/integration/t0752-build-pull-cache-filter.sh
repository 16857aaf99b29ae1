#!/bin/bash
# build --pull[=always|missing|never] (a registry on loopback), --no-cache-filter,
# and unknown flags named in the error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/registry.sh"
trap 'stop_registry; cleanup_test_dir' EXIT

build_busybox || finish
start_registry none || { fail "start the registry"; finish; }
TLS=(--cert-dir "$REG_CERTS")
expect_ok "push busybox" push "${TLS[@]}" busybox:latest "$REG/lib/base:1"

ctx=$T/p
printf 'FROM %s/lib/base:1\nRUN echo built >/built\n' "$REG" | buildfile "$ctx"
manifest_gets() { reg_requests GET "/lib/base/manifests/"; }

expect_fail "--pull=never: a missing FROM image fails, naming it" 1 "image '$REG/lib/base:1' is not in the store" \
	build --pull=never "${TLS[@]}" "$ctx"
check "... and nothing was pulled" test "$(manifest_gets)" -eq 0
expect_ok "the default (missing) pulls a missing FROM image" build -q "${TLS[@]}" -t p:1 "$ctx"
n=$(manifest_gets)
check "... once" test "$n" -ge 1
expect_ok "--pull=missing: present, not pulled again" build -q --pull=missing "${TLS[@]}" -t p:2 "$ctx"
check "... no manifest request" test "$(manifest_gets)" -eq "$n"
expect_ok "--pull=never: present, builds" build -q --pull=never "${TLS[@]}" -t p:3 "$ctx"

# A new image under the same remote tag: --pull (always) takes it.
printf 'FROM busybox\nRUN echo v2 >/v2\n' | buildfile "$T/v2"
expect_ok "a second base" build -q -t base-v2:1 "$T/v2"
expect_ok "push it under the same tag" push "${TLS[@]}" base-v2:1 "$REG/lib/base:1"
expect_ok "--pull pulls a present FROM image again" build -q --pull "${TLS[@]}" -t p:4 "$ctx"
check "... the registry was asked" test "$(manifest_gets)" -gt "$n"
check "... the build is on the new base" test "$(image_config p:4 | jq -c '.rootfs.diff_ids[0:-1]')" = "$(image_config base-v2:1 | jq -c .rootfs.diff_ids)"
expect_ok "--pull=always" build -q --pull=always "${TLS[@]}" -t p:5 "$ctx"
check "... the same image" test "$(image_id p:5)" = "$(image_id p:4)"
expect_fail "--pull=sometimes is a usage error" 2 "--pull: 'sometimes'" build --pull=sometimes "$ctx"

# --no-cache-filter: the named stages run again, the others come from the cache.
buildfile "$T/ms" <<'EOF2'
FROM busybox AS a
RUN echo ran-a
FROM busybox AS b
RUN echo ran-b
FROM busybox
COPY --from=a /bin/busybox /a
COPY --from=b /bin/busybox /b
RUN echo ran-last
EOF2
expect_ok "a multi-stage build" build -j 1 -t ms:1 "$T/ms"
expect_ok "--no-cache-filter a" build -j 1 --no-cache-filter a -t ms:2 "$T/ms"
check "stage a ran again" grep -qx ran-a "$T/out"
check "stage b did not" sh -c "! grep -qx ran-b '$T/out'"
expect_ok "--no-cache-filter b,2 (a name and an index)" build -j 1 --no-cache-filter b,2 -t ms:3 "$T/ms"
check "stage b and the last stage ran again" test "$(grep -cxE 'ran-b|ran-last' "$T/out")" -eq 2
check "stage a did not" sh -c "! grep -qx ran-a '$T/out'"

# Unknown flags name themselves; exit 2.
expect_fail "an unknown long flag names itself" 2 "unknown flag: --squash" build --squash "$ctx"
expect_fail "an unknown short flag names itself" 2 "unknown flag: -Z" build -Z "$ctx"
expect_fail "a missing value names the flag" 2 "flag needs an argument: --iidfile" build "$ctx" --iidfile
check "store consistent" store_is_consistent
finish
